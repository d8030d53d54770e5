"""A real single-node SLURM cluster for tests: munged, slurmctld and slurmd on this machine.

Debian's `slurm-wlm` and `munge` packages (installed by tools/install-system-packages.sh) start
without systemd: a munge key and a munged with its own socket, pid and log files, a one-node
slurm.conf, then `slurmctld -i` and `slurmd`. Everything the cluster writes lives in a temporary
folder except slurm.conf itself: it must be at the default path /etc/slurm/slurm.conf, because
the snakemake SLURM job step strips SLURM_CONF from the environment before its inner `srun`.
An existing /etc/slurm/slurm.conf is backed up and restored.

Use it as a context manager; every daemon it started is stopped by pid on exit, also when the
body raised:

    with SlurmCluster(tmp_path) as cluster:
        subprocess.run(["sbatch", "--wrap", "true"])

Only one cluster runs on a machine at a time (a lock file serializes concurrent test sessions).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psutil

log = logging.getLogger(__name__)

SLURM_CONF = Path("/etc/slurm/slurm.conf")
# What snakemake's SLURM executor logs per submitted job: the job ids of a run.
SUBMITTED = re.compile(r"submitted with SLURM jobid (\d+)")
# Two sequences (S1 and S9): synthesize, then 2 x preprocess side by side on the 2-CPU node. Every job
# costs seconds of snakemake start-up inside it plus the plugin's status polling, so the test DAG is
# short; benchmarks/bench_slurm.py runs the longer one down to split.
SLURM_DATASET = {"subjects": [1, 9], "actions": [2], "subactions": [1], "cameras": [1]}
LOCK_FILE = Path(tempfile.gettempdir()) / "pose3d-slurm-cluster.lock"
REQUIRED_BINARIES = (
    "munged",
    "mungekey",
    "slurmctld",
    "slurmd",
    "sinfo",
    "sbatch",
    "squeue",
    "scontrol",
    "scancel",
)
PARTITION = "debug"
LOCK_TIMEOUT_S = 900
# Finished jobs stay visible to squeue/scontrol this long: without accounting (no slurmdbd) the
# snakemake plugin learns a job's end from squeue, and must see it as COMPLETED/FAILED before it goes.
MIN_JOB_AGE_S = 600


def unavailable_reason() -> str | None:
    """Why a cluster cannot be started here (a skip reason), or None when it can."""
    if os.geteuid() != 0:
        return "the SLURM test cluster needs root (daemons, /etc/slurm/slurm.conf)"
    missing = [name for name in REQUIRED_BINARIES if shutil.which(name) is None]
    if missing:
        return (
            f"SLURM/munge binaries missing: {', '.join(missing)} "
            "(run tools/install-system-packages.sh as root: slurm-wlm, munge)"
        )
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _node_line() -> str:
    """This machine's node description from `slurmd -C`, addressed on the loopback."""
    output = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, check=True).stdout
    line = next(line for line in output.splitlines() if line.startswith("NodeName="))
    fields = [field for field in line.split() if not field.startswith("UpTime")]
    return " ".join(fields) + " NodeAddr=127.0.0.1 State=UNKNOWN"


class SlurmCluster:
    """Munged + slurmctld + slurmd for one partition `debug` with this machine as its only node."""

    def __init__(self, base_dir: str | Path | None = None, start_timeout_s: float = 60.0):
        self.base_dir = Path(base_dir) if base_dir is not None else None
        self.start_timeout_s = start_timeout_s
        self.root: Path | None = None
        self.node_name = ""
        self._daemons: dict[str, subprocess.Popen] = {}
        self._lock_handle = None
        self._conf_backup: Path | None = None
        self._conf_written = False
        self._pids_before: set[int] = set()

    # -- life cycle -------------------------------------------------------------------------------

    def __enter__(self) -> SlurmCluster:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def start(self) -> None:
        reason = unavailable_reason()
        if reason:
            raise RuntimeError(reason)
        self._acquire_lock()
        self._pids_before = set(psutil.pids())
        try:
            self.root = Path(tempfile.mkdtemp(prefix="pose3d-slurm-", dir=self.base_dir))
            # munged wants its socket folder (and those above) searchable by all, writable by root only
            self.root.chmod(0o755)
            for name in ("munge", "state", "spool", "log", "run"):
                (self.root / name).mkdir()
                (self.root / name).chmod(0o755)
            self._start_munged()
            self._write_slurm_conf()
            self._start("slurmctld", ["slurmctld", "-D", "-i", "-f", str(SLURM_CONF)])
            self._start("slurmd", ["slurmd", "-D", "-N", self.node_name, "-f", str(SLURM_CONF)])
            self._wait_until_idle()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Cancel this cluster's jobs, stop its daemons by pid, restore slurm.conf, remove the temp dir."""
        if "slurmctld" in self._daemons and self._daemons["slurmctld"].poll() is None:
            self._cancel_all_jobs()
        for name in ("slurmd", "slurmctld", "munged"):  # reverse start order
            process = self._daemons.pop(name, None)
            if process is not None:
                _terminate(process, name)
        self._kill_leftover_job_steps()
        self._restore_slurm_conf()
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None
        if self._lock_handle is not None:
            fcntl.flock(self._lock_handle, fcntl.LOCK_UN)
            self._lock_handle.close()
            self._lock_handle = None

    # -- queries ----------------------------------------------------------------------------------

    def show_job(self, job_id: str | int) -> str:
        """`scontrol show job` for one job ("" when the controller does not know it)."""
        result = subprocess.run(["scontrol", "show", "job", str(job_id)], capture_output=True, text=True)
        return result.stdout if result.returncode == 0 else ""

    def known_job_ids(self) -> list[str]:
        """Ids of every job the controller still holds, finished ones included (MinJobAge)."""
        result = subprocess.run(
            ["squeue", "-h", "-a", "-t", "all", "-o", "%i"], capture_output=True, text=True
        )
        return result.stdout.split()

    def log_tails(self, lines: int = 30) -> str:
        """The end of every daemon log: attach it to a failure message."""
        if self.root is None:
            return ""
        parts = []
        for path in sorted((self.root / "log").glob("*.log")):
            tail = path.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {path.name}\n" + "\n".join(tail))
        return "\n".join(parts)

    # -- internals --------------------------------------------------------------------------------

    def _acquire_lock(self) -> None:
        """Wait (bounded) for any other test cluster on this machine to stop: they share slurm.conf."""
        self._lock_handle = open(LOCK_FILE, "w")  # noqa: SIM115 - held until stop()
        deadline = time.monotonic() + LOCK_TIMEOUT_S
        while True:
            try:
                fcntl.flock(self._lock_handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    self._lock_handle.close()
                    self._lock_handle = None
                    raise RuntimeError(
                        f"another SLURM test cluster held {LOCK_FILE} for {LOCK_TIMEOUT_S} s"
                    ) from None
                time.sleep(1)

    def _start(self, name: str, command: list[str]) -> subprocess.Popen:
        log_path = self.root / "log" / f"{name}.stdout.log"
        with open(log_path, "w") as output:
            process = subprocess.Popen(
                command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
            )
        self._daemons[name] = process
        log.info("started %s (pid %d)", name, process.pid)
        return process

    def _start_munged(self) -> None:
        munge_dir = self.root / "munge"
        self.munge_socket = munge_dir / "munge.socket"
        key = munge_dir / "munge.key"
        subprocess.run(["mungekey", "--create", "--keyfile", str(key)], check=True, capture_output=True)
        key.chmod(0o400)
        self._start(
            "munged",
            [
                "munged",
                "--foreground",
                f"--socket={self.munge_socket}",
                f"--key-file={key}",
                f"--pid-file={munge_dir / 'munged.pid'}",
                f"--log-file={self.root / 'log' / 'munged.log'}",
                f"--seed-file={munge_dir / 'munged.seed'}",
            ],
        )
        deadline = time.monotonic() + self.start_timeout_s
        while not self.munge_socket.exists():
            if self._daemons["munged"].poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"munged did not start:\n{self.log_tails()}")
            time.sleep(0.1)

    def _write_slurm_conf(self) -> None:
        node_line = _node_line()
        self.node_name = node_line.split()[0].split("=", 1)[1]
        root = self.root
        text = f"""# Written by tests/slurm_cluster.py for a throw-away test cluster; removed when it stops.
ClusterName=pose3dtest
SlurmctldHost={self.node_name}(127.0.0.1)
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={self.munge_socket}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
MinJobAge={MIN_JOB_AGE_S}
# A job that asks for no memory would otherwise hold the whole node's memory and run alone.
DefMemPerCPU=512
SchedulerParameters=sched_interval=2
StateSaveLocation={root / "state"}
SlurmdSpoolDir={root / "spool"}
SlurmctldPidFile={root / "run" / "slurmctld.pid"}
SlurmdPidFile={root / "run" / "slurmd.pid"}
SlurmctldLogFile={root / "log" / "slurmctld.log"}
SlurmdLogFile={root / "log" / "slurmd.log"}
SlurmctldDebug=info
SlurmdDebug=info
{node_line}
PartitionName={PARTITION} Nodes={self.node_name} Default=YES MaxTime=INFINITE State=UP
"""
        SLURM_CONF.parent.mkdir(parents=True, exist_ok=True)
        if SLURM_CONF.exists() or SLURM_CONF.is_symlink():
            self._conf_backup = SLURM_CONF.with_name(f"slurm.conf.pose3d-backup-{os.getpid()}")
            os.replace(SLURM_CONF, self._conf_backup)
        self._conf_written = True
        SLURM_CONF.write_text(text)

    def _restore_slurm_conf(self) -> None:
        if self._conf_written:
            SLURM_CONF.unlink(missing_ok=True)
            self._conf_written = False
        if self._conf_backup is not None:
            os.replace(self._conf_backup, SLURM_CONF)
            self._conf_backup = None

    def _wait_until_idle(self) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        state = ""
        while time.monotonic() < deadline:
            for name, process in self._daemons.items():
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited with {process.returncode}:\n{self.log_tails()}")
            result = subprocess.run(["sinfo", "-h", "-N", "-o", "%T"], capture_output=True, text=True)
            state = result.stdout.strip()
            if state == "idle":
                return
            time.sleep(0.5)
        raise RuntimeError(
            f"SLURM node not idle after {self.start_timeout_s} s (state {state!r}):\n{self.log_tails()}"
        )

    def _cancel_all_jobs(self) -> None:
        jobs = subprocess.run(["squeue", "-h", "-o", "%i"], capture_output=True, text=True).stdout.split()
        if not jobs:
            return
        subprocess.run(["scancel", *jobs], capture_output=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            running = subprocess.run(
                ["squeue", "-h", "-o", "%i"], capture_output=True, text=True
            ).stdout.split()
            if not running:
                return
            time.sleep(0.5)

    def _kill_leftover_job_steps(self) -> None:
        """Stop slurmstepd processes our slurmd forked (they detach from it): new pids only, by pid."""
        for pid in set(psutil.pids()) - self._pids_before:
            with contextlib.suppress(psutil.Error):
                process = psutil.Process(pid)
                if process.name().startswith("slurmstepd") and process.status() != psutil.STATUS_ZOMBIE:
                    log.warning("killing leftover job step %d", pid)
                    process.kill()


def _terminate(process: subprocess.Popen, name: str) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            log.warning("%s (pid %d) ignored SIGTERM; killing it", name, process.pid)
            process.kill()
            process.wait(timeout=10)
    log.info("stopped %s (pid %d, exit %s)", name, process.pid, process.returncode)
