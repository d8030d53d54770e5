"""The one way to write a file (a temporary name in the same folder, renamed when complete) and to read an image.

Every output of the workflow goes through `atomic_path`: an interrupted job leaves at most a
hidden `.{name}.tmp-{pid}` beside the target, never a file that looks finished. The helpers
below cover the formats pose3d writes (bytes, text, JSON, .npy, PNG, torch objects); HDF5
writers open `atomic_path`'s temporary name with h5py themselves.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from pose3d.heif import decode_heif, is_heif

log = logging.getLogger(__name__)


def temporary_path(path: str | Path, keep_suffix: bool = False) -> Path:
    """The hidden name `path` is written under before the rename (same folder: the rename is atomic).

    `keep_suffix`: the temporary name ends in `path`'s suffix, for writers that choose the
    format by it (OpenCV's VideoWriter).
    """
    path = Path(path)
    if keep_suffix:
        return path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


@contextmanager
def atomic_path(path: str | Path, keep_suffix: bool = False) -> Iterator[Path]:
    """Yield a temporary path to write; on success rename it to `path`, on error delete it.

    Parent folders are created. Nothing appears under `path` unless the block completes.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_path(path, keep_suffix)
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_bytes(path: str | Path, data: bytes) -> int:
    """Write `data` atomically; returns the number of bytes written."""
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)
    return len(data)


def write_text(path: str | Path, text: str) -> int:
    """Write UTF-8 text atomically; returns the number of bytes written."""
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: str | Path, data: Any, *, indent: int | None = 2, sort_keys: bool = False) -> int:
    """Write JSON atomically (a trailing newline when indented; compact separators when `indent` is None)."""
    if indent is None:
        text = json.dumps(data, sort_keys=sort_keys, separators=(",", ":"))
    else:
        text = json.dumps(data, indent=indent, sort_keys=sort_keys) + "\n"
    return write_text(path, text)


def write_npy(path: str | Path, array: np.ndarray) -> None:
    """Write one array as .npy atomically."""
    with atomic_path(path) as temporary, open(temporary, "wb") as handle:
        np.save(handle, np.asarray(array))


def encode_image(image: np.ndarray, suffix: str = ".png") -> bytes:
    """Encode an (H, W, 3) uint8 BGR image (or (H, W) grey / 16-bit) with OpenCV; `suffix` picks the codec."""
    ok, encoded = cv2.imencode(suffix, np.asarray(image))
    if not ok:
        raise OSError(f"could not encode an image of shape {np.shape(image)} as {suffix}")
    return encoded.tobytes()


def write_png(path: str | Path, image_rgb: np.ndarray) -> None:
    """Write an (H, W, 3) uint8 RGB image as PNG atomically."""
    bgr = cv2.cvtColor(np.asarray(image_rgb, dtype=np.uint8), cv2.COLOR_RGB2BGR)
    write_bytes(path, encode_image(bgr, ".png"))


def write_torch(path: str | Path, payload: Any) -> None:
    """`torch.save` atomically: a checkpoint is either complete or absent."""
    import torch

    with atomic_path(path) as temporary:
        torch.save(payload, temporary)


def read_image(path: str | Path) -> np.ndarray | None:
    """Decode an image to (H, W, 3) uint8 BGR; None when it is missing, corrupt or truncated.

    OpenCV decodes a damaged JPEG with only a warning on stderr (grey rows, or shifted blocks
    after a corrupt entropy-coded segment), so any decoder warning makes the image unreadable,
    as does a JPEG without its end-of-image marker (trailing zero padding allowed). The reason
    is logged; `decode_image_file` returns it.
    """
    image, problem = decode_image_file(path)
    if problem:
        log.warning("unreadable image %s: %s", path, problem)
    return image


def decode_image_file(path: str | Path) -> tuple[np.ndarray | None, str]:
    """(image BGR or None, "" or why the file is not a clean image); HEIC/HEIF too (`pose3d.heif`)."""
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as error:
        return None, f"cannot read the file: {error.strerror or error}"
    if data.size == 0:
        return None, "empty file"
    raw = data.tobytes()
    if is_heif(raw[:12]):  # an iPhone's photos: OpenCV has no HEIF decoder
        return decode_heif(raw)
    if raw[:2] == b"\xff\xd8" and not raw.rstrip(b"\x00").endswith(b"\xff\xd9"):
        return None, "truncated JPEG (no end-of-image marker)"
    image, warnings = _decode_watching_stderr(data)
    if image is None:
        return None, "not a decodable image" + (f" ({warnings})" if warnings else "")
    if warnings:
        return None, f"the decoder reported damage: {warnings}"
    return image, ""


_STDERR_LOCK = threading.Lock()
# What the codecs print about damage (libjpeg's warnings: "Corrupt JPEG data: ...", "Premature end of JPEG
# file", "Invalid SOS parameters ...", "Inconsistent progression sequence ..."; libpng's "libpng ...";
# OpenCV's own decoder lines). File descriptor 2 is the whole process's: other libraries' threads write
# there too while a frame decodes (TensorFlow Lite under MediaPipe: "INFO: Created TensorFlow Lite
# XNNPACK delegate for CPU."), and a clean photo must not be skipped as damaged for it.
_CODEC_MESSAGE = re.compile(r"JPEG|Corrupt|Premature end|Huffman|marker|scanlines|SOS parameters|progression|"
                            r"libpng|libtiff|libwebp|grfmt|loadsave|imdecode", re.IGNORECASE)


def _decode_watching_stderr(data: np.ndarray) -> tuple[np.ndarray | None, str]:
    """cv2.imdecode, with what the codec libraries print on file descriptor 2 captured.

    libjpeg and libpng report recoverable damage ("Corrupt JPEG data: ...", "Premature end of
    JPEG file") only as text on stderr while OpenCV still returns an image. Damage that the
    decoder cannot notice (same length, Huffman codes resynchronised) leaves no trace: JPEG has
    no checksum.
    """
    with _STDERR_LOCK, tempfile.TemporaryFile() as capture:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(capture.fileno(), 2)
        try:
            image = cv2.imdecode(data, cv2.IMREAD_COLOR)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        capture.seek(0)
        text = capture.read().decode(errors="replace")
    codec_lines = [line.strip() for line in text.splitlines() if _CODEC_MESSAGE.search(line)]
    return image, " | ".join(codec_lines)
