"""Decode stored JPEG crops with libjpeg-turbo through simplejpeg: the loader's hot loop.

cv2.imdecode spends most of a small crop's time outside the codec (decoder lookup, a new Mat,
then a BGR->RGB pass): at 64 px simplejpeg decodes the same bytes to the same pixels in half the
time, and at 256 px in three quarters, straight into the batch array and in RGB. The pixels are
bit-identical to OpenCV's on our shards (both are libjpeg-turbo with the islow DCT;
tests/test_jpeg_decode.py checks it). A damaged payload raises, never decodes half an image.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import simplejpeg

from pose3d.shards.errors import ShardError


def decode_rgb(payload: np.ndarray | bytes, path: str | Path = "<shard>") -> np.ndarray:
    """JPEG bytes -> (H, W, 3) uint8 RGB."""
    try:
        return simplejpeg.decode_jpeg(_as_bytes(payload), colorspace="RGB")
    except ValueError as error:
        raise ShardError(f"{path}: an image in the shard is not a decodable JPEG ({error})") from None


def decode_rgb_into(payload: np.ndarray | bytes, out: np.ndarray, path: str | Path = "<shard>") -> None:
    """Decode JPEG bytes into `out`, a C-contiguous (S, S, 3) uint8 view (say of a batch array): no copy."""
    try:
        image = simplejpeg.decode_jpeg(_as_bytes(payload), colorspace="RGB", buffer=out)
    except ValueError as error:  # also a crop larger than `out`
        raise ShardError(f"{path}: an image in the shard is not a decodable {out.shape[1]} px JPEG ({error})") from None
    if image.shape != out.shape:
        raise ShardError(f"{path}: a stored crop is {image.shape[1]}x{image.shape[0]} px, the shard says {out.shape[1]}")


def _as_bytes(payload: np.ndarray | bytes) -> np.ndarray | bytes:
    """A 1-D uint8 view of what HDF5 hands back (a vlen uint8 element); bytes pass as they are."""
    if isinstance(payload, bytes | bytearray | memoryview):
        return payload
    return np.ascontiguousarray(payload, dtype=np.uint8).reshape(-1)
