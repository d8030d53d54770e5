"""`pose3d validate-config`: check a config file against the schema and print it with defaults."""

from __future__ import annotations

import argparse

import yaml


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("validate-config", help="validate a config file and print it with defaults")
    parser.add_argument("config", nargs="?", default="config/config.yaml")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pose3d.config import ConfigError, load_config

    try:
        config = load_config(args.config)
    except ConfigError as error:
        print(error)
        return 2
    print(yaml.safe_dump(config.redacted_dict(), sort_keys=False))
    return 0
