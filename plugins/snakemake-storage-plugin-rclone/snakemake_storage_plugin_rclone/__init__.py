"""Snakemake storage plugin for any rclone remote (OneDrive, Google Drive, S3, SFTP, WebDAV, ...).

Queries are rclone paths: `remote:path/to/file` for a remote configured with `rclone config`, or
an on-the-fly remote `:backend,param=value:path`. Every operation is one call of the rclone
binary (lsjson, copyto/copy, deletefile/purge) whose JSON output is parsed; credentials that
appear in queries or RCLONE_* environment variables are redacted from everything printed.
"""

from __future__ import annotations

import shlex
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from snakemake_interface_common.exceptions import WorkflowError
from snakemake_interface_storage_plugins.common import Operation
from snakemake_interface_storage_plugins.io import IOCacheStorageInterface, Mtime, get_constant_prefix
from snakemake_interface_storage_plugins.settings import StorageProviderSettingsBase
from snakemake_interface_storage_plugins.storage_object import (
    StorageObjectGlob,
    StorageObjectRead,
    StorageObjectWrite,
)
from snakemake_interface_storage_plugins.storage_provider import (
    ExampleQuery,
    QueryType,
    StorageProviderBase,
    StorageQueryValidationResult,
)

from snakemake_storage_plugin_rclone.query import QueryError, RcloneQuery, parse_query, redact
from snakemake_storage_plugin_rclone.runner import RcloneNotFound, RcloneRunner, parse_modtime

__all__ = ["StorageObject", "StorageProvider", "StorageProviderSettings"]


@dataclass
class StorageProviderSettings(StorageProviderSettingsBase):
    rclone: str | None = field(
        default="rclone",
        metadata={"help": "rclone binary (name on PATH or full path).", "env_var": False, "required": False},
    )
    config: str | None = field(
        default=None,
        metadata={
            "help": "rclone config file (rclone --config). Default: rclone's own (~/.config/rclone/rclone.conf).",
            "env_var": False,
            "required": False,
        },
    )
    config_pass: str | None = field(
        default=None,
        metadata={
            "help": "Password of an encrypted rclone config file (passed to rclone as RCLONE_CONFIG_PASS).",
            "env_var": True,
            "required": False,
        },
    )
    flags: str | None = field(
        default=None,
        metadata={
            "help": "Extra rclone flags appended to every call, as one shell-quoted string "
            "(e.g. '--tpslimit 10 --onedrive-chunk-size 10M').",
            "env_var": False,
            "required": False,
        },
    )
    retries: int = field(
        default=3,
        metadata={
            "help": "Attempts of each rclone command before giving up (rclone's own --retries is set to 1).",
            "env_var": False,
            "required": False,
            "type": int,
        },
    )
    low_level_retries: int = field(
        default=10,
        metadata={"help": "rclone --low-level-retries.", "env_var": False, "required": False, "type": int},
    )
    retries_sleep: float = field(
        default=2.0,
        metadata={"help": "Seconds between attempts.", "env_var": False, "required": False, "type": float},
    )
    transfers: int = field(
        default=4,
        metadata={
            "help": "rclone --transfers (parallel file transfers for directory outputs).",
            "env_var": False,
            "required": False,
            "type": int,
        },
    )


class StorageProvider(StorageProviderBase):
    """One rclone binary + config shared by all objects of a workflow."""

    def __post_init__(self):
        settings = self.settings or StorageProviderSettings()
        binary = shutil.which(settings.rclone or "rclone")
        if binary is None:
            raise WorkflowError(
                f"rclone storage: the rclone binary {settings.rclone!r} was not found on PATH "
                "(install it, e.g. `apt-get install rclone`, or set --storage-rclone-rclone)."
            )
        extra_env = {"RCLONE_CONFIG_PASS": settings.config_pass} if settings.config_pass else {}
        self.runner = RcloneRunner(
            binary=binary,
            config=settings.config or None,
            extra_flags=shlex.split(settings.flags or ""),
            attempts=settings.retries,
            low_level_retries=settings.low_level_retries,
            retries_sleep=settings.retries_sleep,
            transfers=settings.transfers,
            extra_env=extra_env,
            logger=self.logger,
        )

    @classmethod
    def example_queries(cls) -> list[ExampleQuery]:
        return [
            ExampleQuery(
                query="onedrive:h36m/shuffled/train/shard_00000.h5",
                type=QueryType.ANY,
                description="A file on a remote configured with `rclone config` (here named onedrive).",
            ),
            ExampleQuery(
                query=":webdav,url='http://127.0.0.1:8080':data/results.h5",
                type=QueryType.ANY,
                description="A file on an on-the-fly WebDAV remote (no rclone.conf entry needed).",
            ),
            ExampleQuery(
                query=":sftp,host=example.org,user=me,key_file=~/.ssh/id_ed25519:data/shard.h5",
                type=QueryType.ANY,
                description="A file on an on-the-fly SFTP remote authenticated by a key file.",
            ),
        ]

    def rate_limiter_key(self, query: str, operation: Operation) -> Any:
        return parse_query(query).remote

    def default_max_requests_per_second(self) -> float:
        return 10.0

    def use_rate_limiter(self) -> bool:
        # rclone paces its own API calls (--tpslimit can go in `flags`).
        return False

    @classmethod
    def is_valid_query(cls, query: str) -> StorageQueryValidationResult:
        try:
            parse_query(query)
        except QueryError as error:
            return StorageQueryValidationResult(query=_safe(query), valid=False, reason=str(error))
        return StorageQueryValidationResult(query=_safe(query), valid=True)

    def postprocess_query(self, query: str) -> str:
        """Normalise to the form rclone parses (values holding ':' or ',' quoted)."""
        return str(parse_query(query))

    def safe_print(self, query: str) -> str:
        return _safe(query)

    def list_objects(self, query: Any) -> Iterable[str]:
        """All files below the folder `query` (recursive), as queries."""
        parsed = parse_query(query)
        folder = parsed.path.rstrip("/")
        try:
            entries = self.runner.list(parsed, recursive=True, files_only=True)
        except RcloneNotFound:
            return []
        return [str(parsed.with_path(_join(folder, entry["Path"]))) for entry in entries]


class StorageObject(StorageObjectRead, StorageObjectWrite, StorageObjectGlob):
    """One file or folder on an rclone remote."""

    def __post_init__(self):
        self.parsed: RcloneQuery = parse_query(self.query)
        self.runner: RcloneRunner = self.provider.runner

    # --- inventory: one listing of the parent folder answers exists/mtime/size for all siblings

    async def inventory(self, cache: IOCacheStorageInterface):
        key = self.cache_key()
        if key in cache.exists_in_storage:
            return
        parent = self._parent_query()
        try:
            entries = self.runner.list(parent)
        except RcloneNotFound:
            entries = []
        except WorkflowError as error:
            raise WorkflowError(f"rclone storage: cannot list the folder of {self.print_query}", error) from None
        for entry in entries:
            sibling = self._local_suffix_of(_join(parent.path, entry["Path"]))
            sibling_key = self.cache_key(sibling)
            cache.exists_in_storage[sibling_key] = True
            cache.mtime[sibling_key] = Mtime(storage=parse_modtime(entry["ModTime"]))
            cache.size[sibling_key] = 0 if entry.get("IsDir") else int(entry["Size"])
        if key not in cache.exists_in_storage:
            cache.exists_in_storage[key] = False
        has_inventory = getattr(cache.exists_in_storage, "has_inventory", None)
        if has_inventory is not None:
            has_inventory.add(self.get_inventory_parent())

    def get_inventory_parent(self) -> str | None:
        # A set key for "this folder was listed": unique per remote spec, free of credentials.
        return str(self.provider.local_prefix / self._local_suffix_of(self._parent_query().path))

    def local_suffix(self) -> str:
        return self._local_suffix_of(self.parsed.path)

    def cleanup(self):
        pass  # nothing is held open between rclone calls

    # --- read

    def exists(self) -> bool:
        try:
            self.runner.stat(self.parsed)
        except RcloneNotFound:
            return False
        return True

    def mtime(self) -> float:
        return parse_modtime(self._stat()["ModTime"])

    def size(self) -> int:
        entry = self._stat()
        return 0 if entry.get("IsDir") else int(entry["Size"])

    def retrieve_object(self):
        self.local_path().parent.mkdir(parents=True, exist_ok=True)
        try:
            self.runner.transfer(str(self.parsed), str(self.local_path()), self.parsed)
        except RcloneNotFound:
            self._stat()  # raises the clear "does not exist on remote" error
            raise

    # --- write

    def store_object(self):
        local = self.local_path()
        if not local.exists():
            raise WorkflowError(
                f"rclone storage: local file {local} to store as {self.print_query} does not exist"
            )
        self.runner.transfer(str(local), str(self.parsed), self.parsed)

    def remove(self):
        try:
            directory = bool(self.runner.stat(self.parsed).get("IsDir"))
            self.runner.delete(self.parsed, directory)
        except RcloneNotFound:
            pass  # already gone

    # --- glob

    def list_candidate_matches(self) -> Iterable[str]:
        prefix = get_constant_prefix(self.parsed.path, strip_incomplete_parts=True)
        folder = prefix.rstrip("/")
        try:
            entries = self.runner.list(self.parsed.with_path(folder), recursive=True, files_only=True)
        except RcloneNotFound:
            return []
        return [str(self.parsed.with_path(_join(folder, entry["Path"]))) for entry in entries]

    # --- helpers

    def _stat(self) -> dict:
        try:
            return self.runner.stat(self.parsed)
        except RcloneNotFound:
            raise WorkflowError(
                f"rclone storage: file {self.parsed.path!r} does not exist on remote {self.parsed.redacted_remote()}:"
            ) from None

    def _parent_query(self) -> RcloneQuery:
        path = self.parsed.path.rstrip("/")
        parent = path.rsplit("/", 1)[0] if "/" in path else ""
        if path.startswith("/") and not parent:
            parent = "/"
        return self.parsed.with_path(parent)

    def _local_suffix_of(self, path: str) -> str:
        return f"{self.parsed.local_dir()}/{path.lstrip('/')}"


def _join(folder: str, name: str) -> str:
    if not folder:
        return name
    return f"{folder.rstrip('/')}/{name}"


def _safe(query: str) -> str:
    """A printable form of any query, parsable or not, without credentials."""
    try:
        return parse_query(query).redacted()
    except QueryError:
        return redact(str(query))
