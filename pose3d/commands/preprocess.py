"""`pose3d preprocess`: 2D keypoints, person box and depth crop for one sequence (rule `preprocess`)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "preprocess", help="run the perception backends on one sequence folder -> HDF5 + report JSON"
    )
    parser.add_argument("--config", default="config/config.yaml", help="workflow config file")
    parser.add_argument("--sequence", required=True, help="sequence folder, e.g. s_01_act_02_subact_01_ca_01")
    parser.add_argument("--output", type=Path, help="HDF5 file (default results/preprocessed/<sequence>.h5)")
    parser.add_argument("--report", type=Path, help="report JSON (default next to the output, .report.json)")
    parser.add_argument("--index", type=Path, help="the subject's annotation index (pose3d index); default: parse "
                        "the annotation JSONs")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pose3d.config import ConfigError, load_config
    from pose3d.perception import PerceptionError
    from pose3d.preprocess import preprocess_sequence
    from pose3d.validation import check_config_resources

    output = args.output or Path("results/preprocessed") / f"{args.sequence}.h5"
    report = args.report or output.with_name(output.name.removesuffix(".h5") + ".report.json")
    try:
        config = load_config(args.config)
        check_config_resources(config, ["preprocess"])
        result = preprocess_sequence(config, args.sequence, output, report, index_path=args.index)
    except (ConfigError, PerceptionError, ValueError) as error:
        print(f"pose3d preprocess: {error}")
        return 2
    print(f"{args.sequence}: kept {result['frames_kept']} of {result['frames_seen']} frames -> {output}")
    return 0
