"""`pose3d index`: parse one subject's annotation JSONs into its HDF5 annotation index (rule `index`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("index", help="one subject's annotation JSONs -> a compact HDF5 index")
    parser.add_argument("--config", default="config/config.yaml", help="workflow config file (dataset.root, camera_t)")
    parser.add_argument("--subject", type=int, required=True, help="subject number, e.g. 1")
    parser.add_argument("--output", type=Path, help="index file (default results/index/S<subject>.h5)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pose3d.config import ConfigError, load_config
    from pose3d.datasets.index import build_index

    output = args.output or Path("results/index") / f"S{args.subject}.h5"
    try:
        config = load_config(args.config)
        summary = build_index(config.dataset.root, args.subject, output, camera_t=config.dataset.camera_t)
    except (ConfigError, ValueError) as error:
        print(f"pose3d index: {error}")
        return 2
    print(json.dumps(summary))
    return 0
