"""`pose3d train`: train one model on shards (rule `train`); torchrun (DDP) when train.gpus > 1."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train", help="train a model (cnn | transformer | lifter | depth_lifter) on train shards, selecting it on validation shards"
    )
    parser.add_argument("--config", default="config/config.yaml", help="workflow config file")
    parser.add_argument("--model", required=True, help="model name: cnn | transformer | lifter | depth_lifter")
    parser.add_argument("--train-shards", nargs="*", type=Path, default=None,
                        help="training shards (default results/shuffled/train/shard_*.h5)")
    parser.add_argument("--val-shards", nargs="*", type=Path, default=None,
                        help="validation shards (default results/split/val/shard_*.h5; never the test shards)")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default results/models/MODEL)")
    parser.add_argument("--gpus", type=int, default=None, help="processes (GPUs) per node (default train.gpus)")
    from pose3d.training.launch import add_base_argument, add_resume_arguments

    add_resume_arguments(parser)
    add_base_argument(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pose3d.config import ConfigError, config_with_flags, read_config_file
    from pose3d.shards.reader import ShardError
    from pose3d.training.launch import run_training
    from pose3d.training.trainer import TrainingInterrupted
    from pose3d.validation import check_config_resources

    train = args.train_shards or sorted(Path("results/shuffled/train").glob("shard_*.h5"))
    val = args.val_shards or sorted(Path("results/split/val").glob("shard_*.h5"))
    if not train or not val:
        print("pose3d train: no train or validation shards found (run the workflow up to `shuffle` first)")
        return 2
    try:
        config = config_with_flags(read_config_file(args.config), {"--gpus": ("train.gpus", args.gpus)})
        check_config_resources(config, ["train", "storage"])
        run_training(config, args.model, train, val, args.out or Path("results/models") / args.model,
                     gpus=args.gpus, resume=args.resume, base_checkpoint=args.base_checkpoint)
    except (ConfigError, ShardError, ValueError, FloatingPointError) as error:
        print(f"pose3d train: {error}")
        return 2
    except TrainingInterrupted as stopped:
        print(f"pose3d train: {stopped}")
        return 75  # rerun the same command to continue
    return 0
