"""One module per `pose3d` subcommand; each defines `register(subparsers)`.

A subcommand's parser sets `run=<callable(args) -> int>` with `set_defaults`. Keep the
imports of heavy libraries (torch, ultralytics) inside `run`, so `pose3d --help` is fast.
"""
