"""Checkpoint files: reading them (`pose3d.io.write_torch` writes them) and the exact-resume RNG state.

A checkpoint is a plain dict (see `Trainer.checkpoint`); every value is a tensor, a number, a
string, a list or a dict, so `torch.load(..., weights_only=True)` can read it.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pose3d.validation import read_checkpoint_file


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint; a clear error names the file when it is missing, empty or unreadable."""
    return read_checkpoint_file(path, map_location)


RESUME_FILES = ("last.pt", "best.pt")  # a training's resume state in its checkpoints/ folder
SUPERSEDED = "superseded"


def set_aside(checkpoint_dir: str | Path, reason: str) -> Path | None:
    """Move the resume state in `checkpoint_dir` that a fresh start would overwrite into
    `superseded/<UTC time>/` (with `why.txt`); returns that folder, or None when there was nothing.

    A checkpoint that does not fit the run (an edited config, other shards, `--no-resume`) may hold
    days of training: the new run must not overwrite it at its first checkpoint. A rename, no copy.
    """
    checkpoint_dir = Path(checkpoint_dir)
    present = [checkpoint_dir / name for name in RESUME_FILES if (checkpoint_dir / name).is_file()]
    if not present:
        return None
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    folder, number = checkpoint_dir / SUPERSEDED / stamp, 1
    while folder.exists():  # two fresh starts within a second
        number += 1
        folder = checkpoint_dir / SUPERSEDED / f"{stamp}-{number}"
    folder.mkdir(parents=True)
    (folder / "why.txt").write_text(reason + "\n")
    for path in present:
        os.replace(path, folder / path.name)
    return folder


def capture_rng_state() -> dict[str, Any]:
    """The python, numpy, torch (and CUDA) generator states, in weights_only-loadable form."""
    kind, keys, position, has_gauss, cached_gauss = np.random.get_state()
    python_version, python_internal, python_gauss = random.getstate()
    state: dict[str, Any] = {
        "python": [python_version, list(python_internal), python_gauss],
        "numpy": [kind, torch.from_numpy(np.asarray(keys, dtype=np.int64)), position, has_gauss, cached_gauss],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Put back what `capture_rng_state` captured."""
    python_version, python_internal, python_gauss = state["python"]
    random.setstate((python_version, tuple(python_internal), python_gauss))
    kind, keys, position, has_gauss, cached_gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), position, has_gauss, cached_gauss))
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (all devices) from one integer."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
