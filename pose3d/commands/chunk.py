"""`pose3d chunk`: one subject's preprocessed sequences + images + 3D joints -> one shard (rule `chunk`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("chunk", help="join one subject's preprocessed sequences into a training shard")
    parser.add_argument("--config", default="config/config.yaml", help="workflow config file")
    parser.add_argument("--subject", type=int, required=True, help="subject number, e.g. 1")
    parser.add_argument("--output", type=Path, help="shard file (default results/chunks/S<subject>.h5)")
    parser.add_argument(
        "preprocessed", nargs="*", type=Path,
        help="preprocessed .h5 files (default results/preprocessed/s_<subject>_*.h5)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pose3d.chunk import ChunkError, chunk_subject
    from pose3d.config import ConfigError, load_config
    from pose3d.shards.reader import ShardError

    output = args.output or Path("results/chunks") / f"S{args.subject}.h5"
    inputs = args.preprocessed or sorted(Path("results/preprocessed").glob(f"s_{args.subject:02d}_*.h5"))
    if not inputs:
        print(f"pose3d chunk: no preprocessed files for subject {args.subject}")
        return 2
    try:
        report = chunk_subject(load_config(args.config), args.subject, inputs, output)
    except (ConfigError, ChunkError, ShardError) as error:
        print(f"pose3d chunk: {error}")
        return 2
    print(json.dumps(report.as_dict(), indent=1))
    return 0
