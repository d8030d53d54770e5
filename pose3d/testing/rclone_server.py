"""Real rclone servers (`rclone serve webdav|sftp`) on 127.0.0.1 for the storage plugin tests."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

USER = "pose3d"
PASSWORD = "s3cr3t-Pa55word"


@dataclass
class RcloneServer:
    """A running `rclone serve` process serving `root`; `query(path)` names a file on it."""

    protocol: str
    root: Path
    port: int
    process: subprocess.Popen
    obscured_password: str

    @property
    def remote(self) -> str:
        """An on-the-fly remote spec with credentials (rclone obscured password)."""
        if self.protocol == "webdav":
            return f":webdav,url='http://127.0.0.1:{self.port}',user={USER},pass={self.obscured_password}"
        return f":sftp,host=127.0.0.1,port={self.port},user={USER},pass={self.obscured_password}"

    def query(self, path: str) -> str:
        return f"{self.remote}:{path}"

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def rclone_binary() -> str | None:
    return shutil.which("rclone")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def obscure(password: str) -> str:
    done = subprocess.run([rclone_binary(), "obscure", password], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def start_server(protocol: str, root: Path, log_path: Path, timeout_s: float = 20.0) -> RcloneServer:
    """Start `rclone serve <protocol>` on a free port and wait until it accepts connections."""
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    args = [
        rclone_binary(),
        "serve",
        protocol,
        str(root),
        "--addr",
        f"127.0.0.1:{port}",
        "--user",
        USER,
        "--pass",
        PASSWORD,
    ]
    # Tests also write into `root` directly: never serve a stale directory listing.
    args += ["--dir-cache-time", "0s"]
    if protocol == "sftp":
        # rclone generates its host keys in the cache dir: keep them in the test's temp dir.
        args += ["--cache-dir", str(root.parent / f"{root.name}-cache")]
    log = open(log_path, "w")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    log.close()
    server = RcloneServer(protocol, root, port, process, obscure(PASSWORD))
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"rclone serve {protocol} exited with {process.returncode}: {log_path.read_text()}"
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return server
        except OSError:
            time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"rclone serve {protocol} did not answer on port {port} within {timeout_s} s")
