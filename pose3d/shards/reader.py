"""Open, validate and read HDF5 shards; decode their images (`pose3d.shards.jpeg`).

Every problem with a shard (not HDF5, truncated, wrong schema name or version, missing
datasets, unfinished) raises `ShardError` with the file's path in the message.

Shards that live on a remote (an rclone path such as `onedrive:h36m/results/...` or
`rclone:onedrive:h36m/...`) are first copied into a local cache folder by a `ShardCache`,
whose `fetch` callable does the copy; the default calls the `rclone` binary.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import h5py
import numpy as np

from pose3d import io as files
from pose3d.shards import schema
from pose3d.shards.errors import ShardError
from pose3d.shards.jpeg import decode_rgb
from pose3d.validation import first_non_finite, redact_secrets

__all__ = ["ShardCache", "ShardError", "ShardReader", "open_shard", "redact_secrets", "shard_source"]

if TYPE_CHECKING:
    from pose3d.config import StorageConfig

log = logging.getLogger(__name__)

# `name:path` with a name of two characters or more (one letter would be a Windows drive), or an
# on-the-fly backend such as `:local:/path` or `:sftp,host=x:path`.
_REMOTE_PATTERN = re.compile(r"^(rclone:)?(:[A-Za-z0-9_\-]+[,:]|[A-Za-z0-9_.\-]{2,}:)")
_FINITE_RANGES: dict[tuple, set[tuple[str, int, int]]] = {}  # file version -> ranges found finite (`ShardReader.read`)


@dataclass(frozen=True)
class ShardInfo:
    """What a shard's attributes say about it."""

    path: str
    num_samples: int
    image_codec: str
    image_size: int
    depth_size: int
    keypoints_layout: str
    attrs: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


def _attr(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    return value


def validate_shard(handle: h5py.File, path: str | Path) -> ShardInfo:
    """Check an open shard against the schema; return its attributes as a ShardInfo."""
    attrs = {key: _attr(value) for key, value in handle.attrs.items()}
    name = attrs.get(schema.ATTR_SCHEMA_NAME)
    if name != schema.SCHEMA_NAME:
        raise ShardError(f"{path}: not a pose3d shard (attribute {schema.ATTR_SCHEMA_NAME!r} = {name!r}, expected {schema.SCHEMA_NAME!r})")
    version = attrs.get(schema.ATTR_SCHEMA_VERSION)
    if version != schema.SCHEMA_VERSION:
        raise ShardError(
            f"{path}: shard schema_version {version!r} but this pose3d reads version {schema.SCHEMA_VERSION}; "
            "rebuild the shard with this version (rerun chunk/split/shuffle)"
        )
    if schema.ATTR_NUM_SAMPLES not in attrs:
        raise ShardError(f"{path}: attribute {schema.ATTR_NUM_SAMPLES!r} missing: the shard was never finished")
    missing = [dataset for dataset in schema.ALL_DATASETS if dataset not in handle]
    if missing:
        raise ShardError(f"{path}: datasets missing: {missing}")
    count = int(attrs[schema.ATTR_NUM_SAMPLES])
    wrong = {d: handle[d].shape[0] for d in schema.ALL_DATASETS if handle[d].shape[0] != count}
    if wrong:
        raise ShardError(f"{path}: num_samples = {count} but datasets have lengths {wrong}")
    codec = attrs.get(schema.ATTR_IMAGE_CODEC)
    if codec not in ("jpeg", "raw"):
        raise ShardError(f"{path}: unknown image codec {codec!r}")
    return ShardInfo(
        path=str(path),
        num_samples=count,
        image_codec=codec,
        image_size=int(attrs.get(schema.ATTR_IMAGE_SIZE, 0)),
        depth_size=int(attrs.get(schema.ATTR_DEPTH_SIZE, 0)),
        keypoints_layout=str(attrs.get(schema.ATTR_KEYPOINTS_LAYOUT, "")),
        attrs=attrs,
    )


def decode_image(payload: np.ndarray, codec: str, path: str | Path = "<shard>") -> np.ndarray:
    """Stored image -> (S, S, 3) uint8 RGB (JPEG bytes decoded by `pose3d.shards.jpeg`)."""
    if codec == "raw":
        return payload
    return decode_rgb(payload, path)


class ShardReader:
    """One open, validated shard. Reads ranges or index lists into dicts of numpy arrays."""

    def __init__(self, path: str | Path, rdcc_nbytes: int = 8 * 1024 * 1024) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise ShardError(f"{self.path}: shard file not found")
        try:
            self._file = h5py.File(self.path, "r", rdcc_nbytes=rdcc_nbytes)
        except OSError as error:
            raise ShardError(f"{self.path}: not a readable HDF5 file (truncated or corrupt?): {error}") from None
        try:
            self.info = validate_shard(self._file, self.path)
        except ShardError:
            self._file.close()
            raise
        except (OSError, KeyError, RuntimeError) as error:
            self._file.close()
            raise ShardError(f"{self.path}: corrupt shard: {error}") from None
        # Looked up once: h5py's name lookup costs about 30 us per dataset, several times the read of a 64-row slice.
        self._datasets = {name: self._file[name] for name in schema.ALL_DATASETS}
        # (dataset, start, stop) ranges already found finite in this version of the file, by any reader of
        # this process: training reads the same blocks every epoch, and reopens its shards after each fork.
        stat = self.path.stat()
        version = (str(self.path.resolve()), stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)
        self._finite_ranges = _FINITE_RANGES.setdefault(version, set())

    def __len__(self) -> int:
        return self.info.num_samples

    def read(self, start: int = 0, stop: int | None = None, datasets: Sequence[str] = schema.ALL_DATASETS) -> dict[str, Any]:
        """Samples [start, stop) as arrays; images stay encoded (JPEG: an object array of byte arrays)."""
        stop = len(self) if stop is None else min(stop, len(self))
        arrays = self._read(lambda name: self._datasets[name][start:stop], datasets)
        unchecked = {name: arrays[name] for name in schema.FLOAT_DATASETS
                     if name in arrays and (name, start, stop) not in self._finite_ranges}
        self._check_finite(unchecked, np.arange(start, stop))
        self._finite_ranges.update((name, start, stop) for name in unchecked)
        return arrays

    def read_indices(self, indices: np.ndarray, datasets: Sequence[str] = schema.ALL_DATASETS) -> dict[str, Any]:
        """Samples at `indices` (any order) as arrays, in the order given."""
        indices = np.asarray(indices, dtype=np.int64)
        order = np.argsort(indices, kind="stable")
        # h5py fancy indexing needs increasing indices; read sorted, then undo the sort.
        sorted_indices = indices[order]
        inverse = np.empty_like(order)
        inverse[order] = np.arange(len(order))
        arrays = self._read(lambda name: self._datasets[name][sorted_indices][inverse], datasets)
        self._check_finite(arrays, indices)
        return arrays

    def _check_finite(self, arrays: dict[str, Any], indices: np.ndarray) -> None:
        """A NaN or infinity in a measurement names the file, the dataset and the sample index."""
        for name in schema.FLOAT_DATASETS:
            if name in arrays:
                bad = first_non_finite(arrays[name])
                if bad is not None:
                    raise ShardError(
                        f"{self.path}: '{name}' of sample {int(indices[bad])} is not finite (NaN or infinity); "
                        "rebuild the shard from clean inputs"
                    )

    def _read(self, fetch: Callable[[str], np.ndarray], datasets: Sequence[str]) -> dict[str, Any]:
        try:
            return {name: fetch(name) for name in datasets}
        except (OSError, RuntimeError, ValueError) as error:
            raise ShardError(f"{self.path}: cannot read the shard (truncated or corrupt?): {error}") from None

    def decode(self, payload: np.ndarray) -> np.ndarray:
        """One stored image -> (S, S, 3) uint8 RGB."""
        return decode_image(payload, self.info.image_codec, self.path)

    def close(self) -> None:
        if self._file is not None:
            self._datasets = {}
            self._file.close()
            self._file = None

    def __enter__(self) -> ShardReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def shard_info(path: str | Path) -> ShardInfo:
    """Validate a shard and return its attributes without keeping it open."""
    with ShardReader(path) as reader:
        return reader.info


# -- remote shards and the local cache ---------------------------------------------------------


def is_remote(path: str | Path) -> bool:
    """True for rclone-style paths (`remote:folder/file.h5`, `rclone:remote:...`)."""
    return bool(_REMOTE_PATTERN.match(str(path))) and not Path(str(path)).exists()


Fetch = Callable[[str, Path], None]
"""Copy a remote shard (`source`, as given) to a local file (`destination`)."""


def rclone_fetch(source: str, destination: Path, rclone_config: str = "", retries: int = 3) -> None:
    """Copy one remote file with the rclone binary (`rclone copyto`)."""
    if shutil.which("rclone") is None:
        raise ShardError(f"{redact_secrets(source)}: the shard is on a remote but the `rclone` binary is not on PATH")
    remote = source.removeprefix("rclone:")
    command = ["rclone", "copyto", remote, str(destination), "--retries", str(retries)]
    if rclone_config:
        command += ["--config", rclone_config]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        message = redact_secrets(result.stderr.strip()[-500:])
        raise ShardError(f"{redact_secrets(source)}: rclone copyto failed ({result.returncode}): {message}")


Stat = Callable[[str], dict[str, Any]]
"""What identifies a remote file's current version: {"size": bytes, "modtime": text}."""


def rclone_stat(source: str, rclone_config: str = "", retries: int = 3) -> dict[str, Any]:
    """Size and modification time of one remote file (`rclone lsjson --stat`)."""
    if shutil.which("rclone") is None:
        raise ShardError(f"{redact_secrets(source)}: the shard is on a remote but the `rclone` binary is not on PATH")
    command = ["rclone", "lsjson", "--stat", "--no-mimetype", source.removeprefix("rclone:"),
               "--retries", str(retries)]
    if rclone_config:
        command += ["--config", rclone_config]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        message = redact_secrets(result.stderr.strip()[-500:])
        raise ShardError(f"{redact_secrets(source)}: rclone lsjson failed ({result.returncode}): {message}")
    entry = json.loads(result.stdout)
    return {"size": int(entry["Size"]), "modtime": str(entry["ModTime"])}


def local_stat(source: str | Path) -> dict[str, Any]:
    """Size and modification time of a local file, in the form `rclone_stat` returns."""
    stat = Path(source).stat()
    return {"size": stat.st_size, "modtime": str(stat.st_mtime_ns)}


class ShardCache:
    """Resolve shard paths to local files, copying remote ones into `cache_dir`.

    Local paths are returned unchanged unless `cache_local` is set (useful when the
    "local" path is a slow network mount). A cached copy is reused only while the source
    still has the size and modification time it had when it was copied (`stat`: rclone
    lsjson for remotes, os.stat for local files, recorded beside the copy); a rewritten
    source (an edited split, a new shuffle) is copied again.
    """

    def __init__(
        self, cache_dir: str | Path, fetch: Fetch | None = None, cache_local: bool = False, stat: Stat | None = None
    ) -> None:
        self.cache_dir = Path(cache_dir)
        self.fetch = fetch or rclone_fetch
        self.stat = stat or rclone_stat
        self.cache_local = cache_local

    @classmethod
    def from_storage(cls, storage: StorageConfig) -> ShardCache:
        """The cache of `storage.cache_dir`, using rclone (`storage.rclone_config`, `storage.retries`)."""
        options = {"rclone_config": storage.rclone_config, "retries": storage.retries}
        return cls(storage.cache_dir, fetch=functools.partial(rclone_fetch, **options),
                   stat=functools.partial(rclone_stat, **options))

    def local_path(self, path: str | Path) -> Path:
        text = str(path)
        remote = is_remote(text)
        if not remote and not self.cache_local:
            return Path(text)
        digest = hashlib.sha1(text.encode()).hexdigest()[:12]
        target = self.cache_dir / f"{digest}-{Path(text.split(':')[-1]).name}"
        record = target.with_name(f".{target.name}.source.json")  # the source's stat when it was copied
        current = self.stat(text) if remote else local_stat(text)
        if target.is_file() and target.stat().st_size == current["size"] and _read_record(record) == current:
            return target
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        log.info("caching shard %s -> %s", redact_secrets(text), target)
        with files.atomic_path(target) as partial:
            if remote:
                self.fetch(text, partial)
            else:
                shutil.copyfile(text, partial)
        files.write_json(record, current)
        return target


def _read_record(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def open_shard(path: str | Path, cache: ShardCache | None = None) -> ShardReader:
    """Open and validate a shard, through the cache when one is given or the path is remote."""
    if cache is None and is_remote(path):
        raise ShardError(f"{path}: the shard is on a remote; pass a ShardCache (storage.cache_dir) to read it")
    return ShardReader(cache.local_path(path) if cache is not None else path)


def shard_source(storage: StorageConfig, path: str | Path) -> str:
    """What to open for a data-stage file: `storage.remote`/path (an rclone query) or the local path.

    Workflow rules pass only the relative path (credentials must not become Snakemake params,
    which are stored in .snakemake/metadata); jobs rebuild the query here from the config.
    """
    return f"{storage.remote.rstrip('/')}/{path}" if storage.remote else str(path)


def localize_shards(paths: Sequence[str | Path], storage: StorageConfig) -> list[Path]:
    """Local files for a list of shards: remote ones are copied once into `storage.cache_dir`.

    Training streams every shard each epoch, so remote shards are read from that cache,
    never over the network; local paths come back unchanged.
    """
    cache = ShardCache.from_storage(storage)
    return [cache.local_path(path) for path in paths]
