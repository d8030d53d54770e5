"""`pose3d shuffle`: a seeded global shuffle of the train shards, memory about one shard (rule `shuffle`)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("shuffle", help="globally shuffle shards (seed from config shuffle.seed)")
    parser.add_argument("--config", default="config/config.yaml", help="workflow config file")
    parser.add_argument("--output", type=Path, default=Path("results/shuffled/train"), help="output folder")
    parser.add_argument("inputs", nargs="*", type=Path, help="input shards (default results/split/train/shard_*.h5)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pose3d.config import ConfigError, load_config
    from pose3d.shards.ops import shuffle_shards
    from pose3d.shards.reader import ShardError

    inputs = args.inputs or sorted(Path("results/split/train").glob("shard_*.h5"))
    try:
        config = load_config(args.config)
        outputs = [args.output / f"shard_{i:05d}.h5" for i in range(config.split.train_shards)]
        sizes = shuffle_shards(inputs, outputs, config.shuffle.seed)
    except (ConfigError, ShardError) as error:
        print(f"pose3d shuffle: {error}")
        return 2
    print(f"shuffled {sum(sizes)} samples (seed {config.shuffle.seed}) into {len(outputs)} shards in {args.output}")
    return 0
