"""`pose3d evaluate`: a trained checkpoint on the test shards, beside the mean-pose baseline (rule `evaluate`)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("evaluate", help="evaluate a checkpoint: MPJPE / PA-MPJPE / N-MPJPE tables, plots")
    parser.add_argument("--config", default="config/config.yaml", help="workflow config file")
    parser.add_argument("--model", default="cnn", help="model name, for the default paths")
    parser.add_argument("--checkpoint", type=Path, default=None, help="default results/models/MODEL/best.pt")
    parser.add_argument("--test-shards", nargs="*", type=Path, default=None,
                        help="test shards (default results/split/test/shard_*.h5)")
    parser.add_argument("--train-shards", nargs="*", type=Path, default=None,
                        help="train shards for the mean-pose baseline (default results/shuffled/train/shard_*.h5)")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default results/eval/MODEL)")
    parser.add_argument("--overwrite", action="store_true", help="write into a folder that evaluate did not make")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pose3d.config import ConfigError, load_config
    from pose3d.evaluate.run import evaluate_checkpoint
    from pose3d.shards.reader import ShardError
    from pose3d.validation import OutputConflictError

    test = args.test_shards or sorted(Path("results/split/test").glob("shard_*.h5"))
    train = args.train_shards or sorted(Path("results/shuffled/train").glob("shard_*.h5"))
    if not train or not test:
        print("pose3d evaluate: no train or test shards found (run the workflow up to `shuffle` first)")
        return 2
    checkpoint = args.checkpoint or Path("results/models") / args.model / "best.pt"
    out = args.out or Path("results/eval") / args.model
    try:
        config = load_config(args.config)
        # The workflow's own test shards are compared with the protocol's size; shards given by hand are not.
        protocol = None if args.test_shards else _protocol_frames(config)
        results = evaluate_checkpoint(checkpoint, test, train, out, config, overwrite=args.overwrite,
                                      protocol_frames=protocol)
    except (ConfigError, ShardError, FileNotFoundError, ValueError, OutputConflictError) as error:
        print(f"pose3d evaluate: {error}")
        return 2
    model, baseline = results["model"]["average"], results["baseline"]["average"]
    print(f"{results['model_name']}: MPJPE {model['mpjpe']:.1f} mm, PA-MPJPE {model['pa_mpjpe']:.1f} mm "
          f"(mean-pose baseline {baseline['mpjpe']:.1f} / {baseline['pa_mpjpe']:.1f} mm); reports in {out}")
    return 0


def _protocol_frames(config) -> int | None:
    """The test frames the config's dataset lists (its annotation catalog cached in results/index/),
    or None where the dataset is not here (evaluating copied shards)."""
    from pose3d.datasets.catalog import plan_for_config
    from pose3d.datasets.protocol import protocol_frames

    try:
        return protocol_frames(config, plan_for_config(config, cache_dir="results/index"))
    except (OSError, ValueError):
        return None
