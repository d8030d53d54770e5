"""HEIC photos for tests and benchmarks, made from real JPEGs with libheif's own encoder (pillow-heif)."""

from __future__ import annotations

from pathlib import Path

from pose3d.heif import register_heif_opener


def heic_from_jpeg(jpeg: str | Path, path: str | Path, exif_tags: dict[int, object] | None = None) -> Path:
    """`jpeg` re-encoded as HEIC at `path` (quality 90, as a phone saves), with EXIF sub-IFD `exif_tags`."""
    from PIL import Image

    register_heif_opener()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with Image.open(jpeg) as image:
        exif = Image.Exif()
        exif.get_ifd(0x8769).update(exif_tags or {})
        image.save(path, format="HEIF", quality=90, exif=exif.tobytes())
    return path
