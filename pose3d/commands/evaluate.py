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
        results = evaluate_checkpoint(checkpoint, test, train, out, load_config(args.config), overwrite=args.overwrite)
    except (ConfigError, ShardError, FileNotFoundError, ValueError, OutputConflictError) as error:
        print(f"pose3d evaluate: {error}")
        return 2
    model, baseline = results["model"]["average"], results["baseline"]["average"]
    print(f"{results['model_name']}: MPJPE {model['mpjpe']:.1f} mm, PA-MPJPE {model['pa_mpjpe']:.1f} mm "
          f"(mean-pose baseline {baseline['mpjpe']:.1f} / {baseline['pa_mpjpe']:.1f} mm); reports in {out}")
    return 0
