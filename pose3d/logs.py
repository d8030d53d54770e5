"""Route a workflow job's logging, warnings and progress bars into its log file."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TextIO

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def log_to_file(path: str | Path) -> TextIO:
    """Open `path` and make it the job's stderr and logging target (tqdm writes to stderr).

    Snakemake keeps a failed job's log, so everything a user needs to debug it lands there.
    Returns the open file, e.g. for a subprocess's output.
    """
    log_file = open(path, "w", buffering=1)  # noqa: SIM115 - lives as long as the job
    sys.stderr = log_file
    logging.basicConfig(stream=log_file, level=logging.INFO, format=LOG_FORMAT, force=True)
    return log_file
