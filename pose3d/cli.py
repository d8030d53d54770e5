"""The `pose3d` command: subcommands mirror the workflow rules, usable without Snakemake.

Each subcommand lives in `pose3d.commands.<name>` and exposes `register(subparsers)`;
this module only collects them, so adding a stage never edits a shared file.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys

import pose3d
import pose3d.commands


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pose3d",
        description="Monocular 3D human pose estimation on Human3.6M-style data.",
    )
    parser.add_argument("--version", action="version", version=f"pose3d {pose3d.__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_info in sorted(pkgutil.iter_modules(pose3d.commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"pose3d.commands.{module_info.name}")
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "run", None):
        parser.print_help()
        return 0
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print(f"pose3d {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # one line for the user; the traceback with --verbose
        if args.verbose:
            raise
        print(f"pose3d {args.command}: {one_line(error)} (--verbose shows the traceback)", file=sys.stderr)
        return 1


def one_line(error: BaseException) -> str:
    """An exception as one short line (its message's first lines joined), its type when that says more."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    text = " ".join(lines[:4])[:500]
    if isinstance(error, (FileNotFoundError, PermissionError, IsADirectoryError)) and error.filename:
        text = f"{error.strerror}: {error.filename}"
    kind = type(error).__name__
    return text if kind in ("ValueError", "RuntimeError") and text else f"{kind}: {text}"


if __name__ == "__main__":
    sys.exit(main())
