"""`pose3d synthesize`: render the synthetic Human3.6M-layout dataset (and optionally a preview)."""

from __future__ import annotations

import argparse
import os


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "synthesize", help="render the synthetic dataset in the Human3.6M layout (images, depth, annotations)"
    )
    parser.add_argument("--config", default="config/config.yaml", help="workflow config (dataset + synthetic)")
    parser.add_argument("--root", default=None, help="output folder (default: dataset.root of the config)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="rendering processes")
    parser.add_argument("--preview", default=None, help="also write a contact sheet PNG here")
    parser.add_argument("--overwrite", action="store_true",
                        help="write into a folder that holds files synthesize did not make")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pose3d.config import ConfigError, load_config
    from pose3d.datasets.synthetic import generate_dataset, write_preview
    from pose3d.validation import OutputConflictError

    try:
        config = load_config(args.config)
        root = args.root or config.dataset.root
        summary = generate_dataset(config, root, workers=max(1, args.workers), overwrite=args.overwrite)
    except (ConfigError, OutputConflictError) as error:
        print(f"pose3d synthesize: {error}")
        return 2
    print(f"{summary['frames']} frames in {summary['sequences']} sequences, "
          f"{summary['bytes'] / 1e6:.1f} MB, {summary['seconds']:.1f} s -> {root}")
    if args.preview:
        write_preview(root, args.preview)
        print(f"preview: {args.preview}")
    return 0
