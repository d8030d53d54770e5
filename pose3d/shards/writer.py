"""Write one HDF5 shard in the format of `pose3d.shards.schema`, atomically.

Samples arrive in batches (dicts of arrays keyed by the schema's dataset names) and are
buffered, then appended to resizable, chunked datasets. The file is written under a
temporary name in the output folder and renamed when `close()` succeeds; `num_samples` is
the last attribute written, so a file without it was never finished.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import h5py
import hdf5plugin
import numpy as np

from pose3d import io as files
from pose3d.shards import schema
from pose3d.validation import require_finite

log = logging.getLogger(__name__)

IMAGE_CODECS = ("jpeg", "raw")
# Target bytes per HDF5 chunk: large enough for fast sequential reads, small enough that a
# random-access read of one sample does not pull in megabytes.
_CHUNK_BYTES = 64 * 1024
# Small per-file chunk cache: shuffle keeps many writers open at once.
_RDCC_BYTES = 2 * 1024 * 1024
# Depth maps compress well (background zeros; a dense estimator map about 2x). LZ4, not h5py's
# built-in LZF: the same size, and about 5x faster to read (a 128 px float16 map: 14-21 us against
# 74 us for LZF, which cost the 256 px training loader a third of its JPEG decode time).
DEPTH_COMPRESSION: dict[str, Any] = dict(hdf5plugin.LZ4())


def encode_image(rgb: np.ndarray, codec: str, jpeg_quality: int = 90) -> np.ndarray:
    """An (S, S, 3) uint8 RGB crop -> its stored form: JPEG bytes (1-D uint8) or the array itself."""
    if codec == "raw":
        return np.ascontiguousarray(rgb, dtype=np.uint8)
    if codec != "jpeg":
        raise ValueError(f"unknown image codec {codec!r}; allowed: {IMAGE_CODECS}")
    ok, payload = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)])
    if not ok:
        raise ValueError("OpenCV could not JPEG-encode a crop")
    return payload.reshape(-1)


def _array_specs(image_size: int, depth_size: int, codec: str) -> dict[str, tuple[tuple[int, ...], Any]]:
    """Per-sample shape and dtype of every dataset."""
    specs: dict[str, tuple[tuple[int, ...], Any]] = {
        schema.DEPTH: ((depth_size, depth_size), np.float16),
        schema.KEYPOINTS_2D: ((17, 3), np.float32),
        schema.JOINTS_3D: ((17, 3), np.float32),
        schema.INTRINSICS: ((4,), np.float32),
        schema.CROP: ((3,), np.float32),
        **{name: ((), np.int32) for name in schema.PROVENANCE},
    }
    if codec == "raw":
        specs[schema.IMAGE] = ((image_size, image_size, 3), np.uint8)
    else:
        specs[schema.IMAGE] = ((), h5py.vlen_dtype(np.uint8))
    return specs


class ShardWriter:
    """Append samples to a new shard; `close()` (or leaving the `with` block) publishes it.

    An exception inside the `with` block removes the temporary file and leaves no output.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        image_size: int,
        depth_size: int,
        image_codec: str,
        keypoints_layout: str,
        source: str = "",
        attrs: Mapping[str, Any] | None = None,
        flush_every: int = 256,
    ) -> None:
        if image_codec not in IMAGE_CODECS:
            raise ValueError(f"unknown image codec {image_codec!r}; allowed: {IMAGE_CODECS}")
        if keypoints_layout not in ("coco17", "h36m17"):
            raise ValueError(f"unknown keypoints layout {keypoints_layout!r}; allowed: coco17, h36m17")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp_path = files.temporary_path(self.path)
        self.image_codec = image_codec
        self.image_size = int(image_size)
        self.depth_size = int(depth_size)
        self.flush_every = max(1, int(flush_every))
        self._specs = _array_specs(self.image_size, self.depth_size, image_codec)
        self._buffer: dict[str, list[Any]] = {name: [] for name in self._specs}
        self._buffered = 0
        self.num_samples = 0
        self._file = h5py.File(self._tmp_path, "w", rdcc_nbytes=_RDCC_BYTES)
        self._file.attrs.update(
            {
                schema.ATTR_SCHEMA_NAME: schema.SCHEMA_NAME,
                schema.ATTR_SCHEMA_VERSION: schema.SCHEMA_VERSION,
                schema.ATTR_KEYPOINTS_LAYOUT: keypoints_layout,
                schema.ATTR_JOINTS_LAYOUT: "h36m17",
                schema.ATTR_IMAGE_SIZE: self.image_size,
                schema.ATTR_DEPTH_SIZE: self.depth_size,
                schema.ATTR_IMAGE_CODEC: image_codec,
                schema.ATTR_SOURCE: source,
            }
        )
        for key, value in (attrs or {}).items():
            self._file.attrs[key] = value
        for name, (shape, dtype) in self._specs.items():
            vlen = h5py.check_vlen_dtype(np.dtype(dtype)) is not None  # JPEG bytes: about 4 KB a crop
            sample_bytes = 4096 if vlen else int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
            rows = int(np.clip(_CHUNK_BYTES // sample_bytes, 1, 1024))
            # JPEG bytes do not compress; raw images stay uncompressed because the raw codec exists to be fast to read.
            compression = DEPTH_COMPRESSION if name == schema.DEPTH else {}
            self._file.create_dataset(
                name, shape=(0, *shape), maxshape=(None, *shape), dtype=dtype, chunks=(rows, *shape), **compression
            )

    # -- appending -------------------------------------------------------------------------

    def append(self, batch: Mapping[str, Any]) -> None:
        """Append B samples: every schema dataset name -> B items (arrays, or JPEG byte arrays)."""
        missing = [name for name in self._specs if name not in batch]
        if missing:
            raise KeyError(f"{self.path}: batch lacks datasets {missing}")
        count = len(batch[schema.IMAGE])
        for name, (shape, _dtype) in self._specs.items():
            values = batch[name]
            if len(values) != count:
                raise ValueError(f"{self.path}: dataset {name!r} has {len(values)} items, image has {count}")
            if name == schema.IMAGE and self.image_codec == "jpeg":
                self._buffer[name].extend(np.asarray(v, dtype=np.uint8).reshape(-1) for v in values)
                continue
            array = np.asarray(values)
            if array.shape[1:] != shape:
                raise ValueError(f"{self.path}: dataset {name!r} expects per-sample shape {shape}, got {array.shape[1:]}")
            if name in schema.FLOAT_DATASETS:  # a NaN would train to loss=nan far from its cause
                require_finite({name: array}, f"{self.path}: refusing to write", offset=len(self))
            self._buffer[name].append(array)
        self._buffered += count
        if self._buffered >= self.flush_every:
            self.flush()

    def __len__(self) -> int:
        """Samples appended so far (written or still buffered)."""
        return self.num_samples + self._buffered

    def append_sample(self, sample: Mapping[str, Any]) -> None:
        """Append one sample (dataset name -> one item)."""
        self.append({name: [value] for name, value in sample.items()})

    def flush(self) -> None:
        """Write the buffered samples to the file."""
        if not self._buffered:
            return
        start, stop = self.num_samples, self.num_samples + self._buffered
        for name, (_shape, dtype) in self._specs.items():
            dataset = self._file[name]
            dataset.resize(stop, axis=0)
            if name == schema.IMAGE and self.image_codec == "jpeg":
                items = self._buffer[name]
                if len({len(item) for item in items}) == 1:
                    # h5py would turn equal-length byte arrays into one 2-D array; write them one by one.
                    for i, item in enumerate(items):
                        dataset[start + i] = item
                else:
                    payload = np.empty(len(items), dtype=object)
                    for i, item in enumerate(items):
                        payload[i] = item
                    dataset[start:stop] = payload
            else:
                dataset[start:stop] = np.concatenate(self._buffer[name]).astype(dtype, copy=False)
            self._buffer[name] = []
        self.num_samples = stop
        self._buffered = 0

    # -- finishing -------------------------------------------------------------------------

    def close(self) -> Path:
        """Flush, write `num_samples` last, and rename the temporary file to its final name."""
        if self._file is None:
            return self.path
        self.flush()
        self._file.attrs[schema.ATTR_NUM_SAMPLES] = self.num_samples
        self._file.close()
        self._file = None
        os.replace(self._tmp_path, self.path)
        log.debug("wrote %s (%d samples)", self.path, self.num_samples)
        return self.path

    def abort(self) -> None:
        """Drop the temporary file; nothing appears under the final name."""
        if self._file is not None:
            self._file.close()
            self._file = None
        self._tmp_path.unlink(missing_ok=True)

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_shard(path: str | Path, samples: Mapping[str, Sequence[Any]], **writer_args: Any) -> Path:
    """Write a whole shard from one batch (tests and small tools)."""
    with ShardWriter(path, **writer_args) as writer:
        writer.append(samples)
    return Path(path)
