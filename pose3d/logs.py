"""Route a workflow job's logging, warnings and progress bars into its log file."""

from __future__ import annotations

import logging
import sys
import time
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


def keep_attempt_log(log_path: str | Path, history_path: str | Path) -> None:
    """Append this attempt's log to `history_path`, a log of every attempt of a job.

    Snakemake deletes a rule's log before it retries the job, so for a training resumed over many
    time-limited attempts the rule log shows only the last one; the history (kept next to the
    resume checkpoints) says when each attempt started, where it resumed and why it stopped.
    """
    sys.stderr.flush()
    text = Path(log_path).read_text(errors="replace")
    history_path = Path(history_path)
    history_path.parent.mkdir(parents=True, exist_ok=True)
    with open(history_path, "a") as history:
        history.write(f"========== below: the log of an attempt that ended {time.strftime('%Y-%m-%d %H:%M:%S')} ({log_path})\n")
        history.write(text if text.endswith("\n") or not text else text + "\n")
