"""`pose3d split`: subject chunks -> train and test shards, subjects and counts from config (rule `split`)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("split", help="split subject chunks into train/test shards by subject")
    parser.add_argument("--config", default="config/config.yaml", help="workflow config file")
    parser.add_argument("--chunks", type=Path, default=Path("results/chunks"), help="folder of S<subject>.h5 chunks")
    parser.add_argument("--output", type=Path, default=Path("results/split"), help="writes <output>/{train,test}/shard_*.h5")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pose3d.config import ConfigError, load_config
    from pose3d.shards.ops import split_by_subject
    from pose3d.shards.reader import ShardError

    try:
        config = load_config(args.config)
        subjects = sorted(config.split.train_subjects + config.split.test_subjects)
        chunks = [args.chunks / f"S{subject}.h5" for subject in subjects]
        for name, chosen, count in (
            ("train", config.split.train_subjects, config.split.train_shards),
            ("test", config.split.test_subjects, config.split.test_shards),
        ):
            outputs = [args.output / name / f"shard_{i:05d}.h5" for i in range(count)]
            sizes = split_by_subject(chunks, chosen, outputs)
            print(f"{name}: subjects {sorted(chosen)} -> {sum(sizes)} samples in {count} shards")
    except (ConfigError, ShardError) as error:
        print(f"pose3d split: {error}")
        return 2
    return 0
