"""Helpers for the bad-input battery (tests/test_bad_inputs_*.py).

Every case asserts three things: the exit status, a message that names the key or the file at
fault, and that nothing already finished was lost or altered (`snapshot` before and after).
Test names say the outcome: `test_error_*` (a clear error), `test_skip_*` (a counted skip),
`test_handled_*` (the input is handled correctly).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import yaml

from pose3d.testing.config import tiny_config_dict


def snapshot(*folders: Path) -> dict[str, str]:
    """sha256 of every file below `folders` (a missing folder is empty)."""
    digests = {}
    for folder in folders:
        folder = Path(folder)
        if folder.is_file():
            digests[str(folder)] = hashlib.sha256(folder.read_bytes()).hexdigest()
            continue
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            digests[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def run_cli(capsys, *argv: str) -> tuple[int, str]:
    """`pose3d ARGV` in this process -> (exit status, everything it printed)."""
    from pose3d.cli import main

    capsys.readouterr()
    code = main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def write_config(path: Path, root: Path, **sections) -> Path:
    """A tiny config file with the dataset under `root` and `sections` merged in."""
    path.write_text(yaml.safe_dump(tiny_config_dict(root, **sections)))
    return path


def corrupt_middle(jpeg: bytes, length: int = 40, seed: int = 0) -> bytes:
    """The JPEG with `length` bytes in the middle of its entropy-coded data replaced by twice as many
    random bytes (a botched transfer); the end marker stays intact.

    libjpeg notices this damage (it warns about extraneous bytes or a corrupt segment). Damage that
    keeps the length and happens to resynchronise the Huffman decoder leaves no trace that any
    decoder could see: JPEG has no checksum.
    """
    middle = len(jpeg) // 2
    noise = np.random.default_rng(seed).integers(0, 255, 2 * length, dtype=np.uint8).tobytes()
    data = jpeg[:middle] + noise + jpeg[middle + length:]
    assert data.endswith(b"\xff\xd9")
    return data


def real_dataset_layout(root: Path) -> None:
    """What a real Human3.6M copy looks like to a writer: annotations and an image folder."""
    (root / "annotations").mkdir(parents=True)
    (root / "annotations" / "Human36M_subject1_data.json").write_text('{"images": [], "annotations": []}')
    (root / "images" / "s_01_act_02_subact_01_ca_01").mkdir(parents=True)
    (root / "images" / "s_01_act_02_subact_01_ca_01" / "s_01_act_02_subact_01_ca_01_000001.jpg").write_bytes(b"real")
