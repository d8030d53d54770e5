"""`pose3d train`: train one model on shards (rule `train`); torchrun (DDP) when train.gpus > 1."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("train", help="train a model (cnn | transformer | lifter) on train/test shards")
    parser.add_argument("--config", default="config/config.yaml", help="workflow config file")
    parser.add_argument("--model", required=True, help="model name: cnn | transformer | lifter")
    parser.add_argument("--train-shards", nargs="*", type=Path, default=None,
                        help="training shards (default results/shuffled/train/shard_*.h5)")
    parser.add_argument("--test-shards", nargs="*", type=Path, default=None,
                        help="validation shards (default results/split/test/shard_*.h5)")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default results/models/MODEL)")
    parser.add_argument("--gpus", type=int, default=None, help="processes (GPUs) per node (default train.gpus)")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/last.pt when it exists")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pose3d.config import ConfigError, config_with_flags, read_config_file
    from pose3d.shards.reader import ShardError
    from pose3d.training.launch import run_training
    from pose3d.validation import check_config_resources

    train = args.train_shards or sorted(Path("results/shuffled/train").glob("shard_*.h5"))
    test = args.test_shards or sorted(Path("results/split/test").glob("shard_*.h5"))
    if not train or not test:
        print("pose3d train: no train or test shards found (run the workflow up to `shuffle` first)")
        return 2
    try:
        config = config_with_flags(read_config_file(args.config), {"--gpus": ("train.gpus", args.gpus)})
        check_config_resources(config, ["train", "storage"])
        run_training(config, args.model, train, test, args.out or Path("results/models") / args.model,
                     gpus=args.gpus, resume=args.resume)
    except (ConfigError, ShardError, ValueError, FloatingPointError) as error:
        print(f"pose3d train: {error}")
        return 2
    return 0
