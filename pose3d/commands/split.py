"""`pose3d split`: subject chunks -> train, validation and test shards, all settings from config (rule `split`)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "split", help="split subject chunks into train/val/test shards (test by subject, val by whole takes)"
    )
    parser.add_argument("--config", default="config/config.yaml", help="workflow config file")
    parser.add_argument("--chunks", type=Path, default=Path("results/chunks"), help="folder of S<subject>.h5 chunks")
    parser.add_argument("--output", type=Path, default=Path("results/split"),
                        help="writes <output>/{train,val,test}/shard_*.h5")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pose3d.config import ConfigError, load_config
    from pose3d.shards.holdout import split_train_val_test
    from pose3d.shards.reader import ShardError

    try:
        config = load_config(args.config)
        split = config.split
        chunks = [args.chunks / f"S{subject}.h5" for subject in sorted(split.train_subjects + split.test_subjects)]
        counts = {"train": split.train_shards, "val": split.val_shards, "test": split.test_shards}
        outputs = {name: [args.output / name / f"shard_{i:05d}.h5" for i in range(count)] for name, count in counts.items()}
        sizes = split_train_val_test(chunks, split.train_subjects, split.test_subjects, split.val_fraction, outputs)
        for name, shard_sizes in sizes.items():
            print(f"{name}: {sum(shard_sizes)} samples in {len(shard_sizes)} shards")
    except (ConfigError, ShardError) as error:
        print(f"pose3d split: {error}")
        return 2
    return 0
