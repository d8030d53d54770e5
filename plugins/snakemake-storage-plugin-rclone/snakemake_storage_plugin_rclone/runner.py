"""Run the rclone binary: argument lists, attempts with retries, JSON parsing, redacted errors."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from snakemake_interface_common.exceptions import WorkflowError

from snakemake_storage_plugin_rclone.query import RcloneQuery, environment_secrets, redact

# rclone exit codes (https://rclone.org/docs/#exit-code): 3 directory not found, 4 file not found.
NOT_FOUND_CODES = (3, 4)
# Exit codes that no retry can fix: 2 syntax/usage error, 7 fatal error, 8 transfer limit, 9 no files.
FATAL_CODES = (2, 7)
# rclone's exit code 1 covers both transient and permanent failures; these messages mean that no
# retry can help (an unknown remote, an unreadable config, bad credentials, a bad backend option).
FATAL_MESSAGES = re.compile(
    r"didn't find section in config file|couldn't decrypt password|failed to load config|"
    r"unknown backend|couldn't find backend|401 Unauthorized|403 Forbidden|permission denied|"
    r"unable to authenticate|authentication failed|invalid credentials",
    re.IGNORECASE,
)
# The timestamp and level rclone puts in front of each log line, and its "file system for X:" prefix.
_LOG_PREFIX = re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d\s+(?:(?:ERROR|NOTICE|CRITICAL)\s*:\s*)?")
_FS_PREFIX = re.compile(r'(?:Failed to )?create file system for "[^"]*": ')


class RcloneNotFound(Exception):
    """The object does not exist on the remote (rclone exit code 3 or 4)."""


@dataclass
class RcloneRunner:
    """Everything needed to call rclone the same way for every operation.

    `attempts` is the number of tries of each command (the plugin's `retries` setting);
    rclone's own `--retries` is set to 1 so the two never multiply.
    """

    binary: str
    config: str | None = None
    extra_flags: list[str] = field(default_factory=list)
    attempts: int = 3
    low_level_retries: int = 10
    retries_sleep: float = 1.0
    transfers: int = 4
    extra_env: dict[str, str] = field(default_factory=dict)
    logger: Any = None

    def base_args(self) -> list[str]:
        args = [self.binary, "--log-level", "ERROR", "--retries", "1"]
        args += ["--low-level-retries", str(self.low_level_retries)]
        if self.config:
            args += ["--config", self.config]
        return args

    def run(self, command: list[str], query: RcloneQuery, operation: str) -> str:
        """Run `rclone <command>` with up to `attempts` tries; return stdout.

        Raises RcloneNotFound when rclone reports the path missing, and a WorkflowError that
        names the remote and the file (credentials redacted) when every attempt failed.
        """
        args = self.base_args() + command + self.extra_flags
        env = {**os.environ, **self.extra_env}
        secrets = query.secrets() + environment_secrets() + list(self.extra_env.values())
        attempts = max(1, self.attempts)
        message = ""
        for attempt in range(1, attempts + 1):
            try:
                done = subprocess.run(args, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL)
            except OSError as error:  # binary missing or not executable
                raise WorkflowError(f"rclone: cannot run {self.binary!r}: {error}") from None
            if done.returncode == 0:
                return done.stdout
            if done.returncode in NOT_FOUND_CODES:
                raise RcloneNotFound(query.redacted())
            message = redact(_error_lines(done.stderr), secrets)
            if done.returncode in FATAL_CODES or FATAL_MESSAGES.search(done.stderr) or attempt == attempts:
                break
            if self.logger is not None:
                self.logger.warning(
                    f"rclone {operation} of {query.redacted()} failed (attempt {attempt}/{attempts}, "
                    f"exit code {done.returncode}); retrying in {self.retries_sleep:g} s: {message}"
                )
            time.sleep(self.retries_sleep)
        raise WorkflowError(
            f"rclone {operation} of file {query.path!r} on remote {query.redacted_remote()}: failed after "
            f"{attempt} attempt(s) (exit code {done.returncode}): {message}"
        )

    def stat(self, query: RcloneQuery) -> dict:
        """The lsjson entry of one file or folder; RcloneNotFound if absent."""
        out = self.run(["lsjson", "--stat", "--no-mimetype", str(query)], query, "stat")
        return _parse_json(out, query)

    def list(self, query: RcloneQuery, recursive: bool = False, files_only: bool = False) -> list[dict]:
        """lsjson entries under a folder (paths relative to it); RcloneNotFound if the folder is absent."""
        command = ["lsjson", "--no-mimetype", str(query)]
        if recursive:
            command.insert(1, "-R")
        if files_only:
            command.insert(1, "--files-only")
        entries = _parse_json(self.run(command, query, "list"), query)
        if not isinstance(entries, list):
            raise WorkflowError(f"rclone lsjson of {query.redacted()} did not return a list")
        return entries

    def transfer(self, source: str, destination: str, query: RcloneQuery) -> None:
        """Copy a file or a folder to exactly `destination` (copyto), always transferring (--ignore-times).

        --no-traverse: do not list the destination folder first (it may hold thousands of shards).
        """
        command = ["copyto", "--ignore-times", "--no-traverse", "--transfers", str(self.transfers)]
        self.run(command + [source, destination], query, "copyto")

    def delete(self, query: RcloneQuery, directory: bool) -> None:
        self.run(["purge" if directory else "deletefile", str(query)], query, "delete")


def _parse_json(text: str, query: RcloneQuery) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise WorkflowError(f"rclone lsjson of {query.redacted()} returned invalid JSON: {error}") from None


def _error_lines(stderr: str) -> str:
    """The lines of rclone's log that explain a failure (the last few if none is marked), without
    timestamps, and without the query that the caller's message names already."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    marked = [line for line in lines if "ERROR" in line or "Failed" in line or "error" in line]
    chosen = [_FS_PREFIX.sub("", _LOG_PREFIX.sub("", line)) for line in (marked or lines)[-3:]]
    return " | ".join(dict.fromkeys(chosen)) or "no error output"


def check_remote(runner: RcloneRunner, query: RcloneQuery) -> None:
    """Fail early, with rclone's reason, when the remote folder of `query` cannot be listed.

    A folder that does not exist yet is fine (the workflow creates it); an unknown remote, a
    server that does not answer or refused credentials raise a one-line WorkflowError.
    """
    try:
        runner.run(["lsjson", "--max-depth", "1", "--no-mimetype", str(query)], query, "listing")
    except RcloneNotFound:
        return


def parse_modtime(text: str) -> float:
    """Seconds since the epoch from rclone's RFC 3339 ModTime (nanoseconds, Z or an offset)."""
    head, sep, rest = text.partition(".")
    if sep:
        digits = "".join(ch for ch in rest if ch.isdigit())
        zone = rest[len(digits) :]
        text = f"{head}.{digits[:6]}{zone}"
    stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.timestamp()
