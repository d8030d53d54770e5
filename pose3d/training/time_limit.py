"""When the SLURM job running this training ends, so training can stop in time to save its checkpoint.

SLURM's own warning, `sbatch --signal=TERM@600`, is the usual way to learn of a coming time limit,
but it needs every user's profile to ask for it, and SLURM sends it "up to 60 seconds earlier than
specified" (its event loop checks limits about every 30 s). Reading the job's end time needs
neither: training stops `train.stop_before_time_limit_minutes` before it, at the first optimizer
step past that moment, writes its resume checkpoint and exits like a signalled run, so a retry
continues it. The end time comes from SLURM_JOB_END_TIME where SLURM sets it (23.02 and later),
otherwise from one `squeue` query; anything else (no SLURM job, no squeue, an unlimited job) means
no deadline, and training relies on signals alone.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass

log = logging.getLogger(__name__)

SQUEUE_TIMEOUT_S = 20.0  # a controller that does not answer in time: no deadline, not a stuck start
_NO_END = {"", "n/a", "unknown", "none", "unlimited", "infinite", "0"}


def slurm_job_end_time(env: Mapping[str, str] | None = None) -> float | None:
    """The Unix time at which this process's SLURM job reaches its time limit; None outside a job or unknown."""
    env = os.environ if env is None else env
    job_id = env.get("SLURM_JOB_ID")
    if not job_id:
        return None
    if env.get("SLURM_JOB_END_TIME"):
        return _parse_end_time(env["SLURM_JOB_END_TIME"], "SLURM_JOB_END_TIME")
    squeue = shutil.which("squeue", path=env.get("PATH"))
    if squeue is None:
        log.warning("SLURM job %s: no squeue on PATH, so its time limit is unknown; training stops at a signal "
                    "only (sbatch --signal)", job_id)
        return None
    try:
        # SLURM_TIME_FORMAT=%s: the end time as seconds since the epoch, free of time zones and locales.
        result = subprocess.run([squeue, "--noheader", "--jobs", job_id, "--format", "%e"], capture_output=True,
                                text=True, timeout=SQUEUE_TIMEOUT_S, env={**env, "SLURM_TIME_FORMAT": "%s"})
    except (OSError, subprocess.TimeoutExpired) as error:
        log.warning("SLURM job %s: squeue failed (%s); training stops at a signal only", job_id, error)
        return None
    if result.returncode != 0:
        log.warning("SLURM job %s: squeue exited %d (%s); training stops at a signal only",
                    job_id, result.returncode, result.stderr.strip()[-300:])
        return None
    lines = result.stdout.split()
    return _parse_end_time(lines[0] if lines else "", f"squeue for job {job_id}")


def _parse_end_time(text: str, source: str) -> float | None:
    if text.strip().lower() in _NO_END:
        return None
    try:
        return float(text)
    except ValueError:
        log.warning("%s gave the end time %r, not seconds since the epoch; training stops at a signal only",
                    source, text)
        return None


@dataclass(frozen=True)
class Deadline:
    """The moment training should stop so its checkpoint is written before the job's end."""

    stop_at: float  # Unix time
    job_end: float  # Unix time: the job's time limit
    margin_s: float

    def reached(self, now: float | None = None) -> bool:
        return (time.time() if now is None else now) >= self.stop_at

    def describe(self) -> str:
        return (f"{self.margin_s / 60:g} min before the SLURM job's time limit "
                f"({time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(self.job_end))})")


def training_deadline(margin_minutes: float, env: Mapping[str, str] | None = None,
                      announce: bool = True) -> Deadline | None:
    """The stop moment for `train.stop_before_time_limit_minutes` (0: off), logged when `announce`;
    None without a known limit."""
    if margin_minutes <= 0:
        return None
    job_end = slurm_job_end_time(env)
    if job_end is None:
        return None
    margin_s = margin_minutes * 60.0
    deadline = Deadline(stop_at=job_end - margin_s, job_end=job_end, margin_s=margin_s)
    if announce:
        _announce(deadline, margin_minutes)
    return deadline


def _announce(deadline: Deadline, margin_minutes: float) -> None:
    remaining = deadline.job_end - time.time()
    if remaining <= deadline.margin_s:
        log.warning("the SLURM job ends in %.1f min, within train.stop_before_time_limit_minutes (%g): training "
                    "stops after its first optimizer step; give the job a longer time limit or lower that margin",
                    remaining / 60, margin_minutes)
    else:
        log.info("training stops with a resume checkpoint %s (in %.1f min) unless it finishes first",
                 deadline.describe(), (remaining - deadline.margin_s) / 60)
