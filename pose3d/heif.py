"""HEIC / HEIF photos (an iPhone's default format), which OpenCV cannot decode, through pillow-heif.

Recognised by content (the ISO-BMFF `ftyp` box and an HEVC or HEIF brand), not only by suffix:
phone exports sometimes keep a `.jpg` name on a HEIC file. libheif applies the file's own rotation
and mirroring (its `irot` / `imir` boxes), so the image comes out upright as the phone shows it.
"""

from __future__ import annotations

import functools
import io

import numpy as np

HEIF_SUFFIXES = (".heic", ".heif")
# Major brands of HEVC-coded HEIF images and of generic HEIF (ISO/IEC 23008-12).
_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1"}


def is_heif(head: bytes) -> bool:
    """Whether a file starting with `head` (its first 12 bytes or more) is a HEIF image."""
    return len(head) >= 12 and head[4:8] == b"ftyp" and head[8:12] in _BRANDS


@functools.cache
def register_heif_opener() -> None:
    """Let PIL open HEIF files (for their pixels and their EXIF); once per process."""
    from pillow_heif import register_heif_opener as register

    register()


def decode_heif(data: bytes) -> tuple[np.ndarray | None, str]:
    """A HEIF file's bytes -> (image (H, W, 3) uint8 BGR, as OpenCV decodes other formats, or None;
    "" or why it is not a clean image)."""
    from PIL import Image

    register_heif_opener()
    try:
        with Image.open(io.BytesIO(data)) as image:
            rgb = np.asarray(image.convert("RGB"))
    except (OSError, ValueError, RuntimeError) as error:  # truncated, damaged container, unsupported coding
        return None, f"not a decodable HEIF image ({error})"
    return np.ascontiguousarray(rgb[:, :, ::-1]), ""
