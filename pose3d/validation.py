"""Checks that run before work starts: who owns an output folder, what the config points at, finite numbers.

Each check raises with a one-line message that names the folder, file or config key at fault,
so that a bad input stops a run before it writes anything and never passes silently.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from pose3d.config import Config

# The ownership marker a writer leaves in an output folder: `.pose3d-<writer>`.
MARKER_PREFIX = ".pose3d-"


class OutputConflictError(RuntimeError):
    """An output folder holds files that the writer did not make."""


class NonFiniteError(ValueError):
    """An array meant to hold measurements has a NaN or an infinity."""


# -- secrets ----------------------------------------------------------------------------------

# Credentials inside on-the-fly rclone remotes (`:webdav,url=...,user=u,pass=x:path`) and messages.
_SECRET_PATTERN = re.compile(
    r"([\w-]*(?:pass|token|secret|key|credential|cookie|sas_url)[\w-]*\s*[=:]\s*)('[^']*'|\"[^\"]*\"|[^,:\s]+)",
    re.IGNORECASE,
)


def redact_secrets(text: str) -> str:
    """Replace the values of password/token-like settings with `***` before anything shows or stores them."""
    return _SECRET_PATTERN.sub(r"\1***", text)


# -- output folders ---------------------------------------------------------------------------


def folder_marker(folder: str | Path, writer: str) -> Path:
    return Path(folder) / f"{MARKER_PREFIX}{writer}"


def check_output_folder(folder: str | Path, writer: str, overwrite: bool = False, hint: str = "") -> None:
    """Raise OutputConflictError when `folder` holds files that `writer` did not make.

    A folder is `writer`'s when it is missing, empty, or holds the marker `.pose3d-<writer>`;
    `overwrite` accepts a foreign folder anyway. Nothing is written.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputConflictError(f"output folder {folder} is a file, not a folder")
    if overwrite or not folder.is_dir() or folder_marker(folder, writer).exists():
        return
    present = sorted(entry.name for entry in folder.iterdir())
    if present:
        shown = ", ".join(present[:6]) + (f", ... ({len(present)} entries)" if len(present) > 6 else "")
        raise OutputConflictError(
            f"output folder {folder} already holds files that `{writer}` did not write ({shown}); "
            f"refusing to write over them: choose another folder{hint} or pass --overwrite"
        )


def claim_output_folder(folder: str | Path, writer: str, overwrite: bool = False, hint: str = "") -> Path:
    """Make `folder` the output of `writer` (see `check_output_folder`) and return its marker.

    The marker is written before any data, so that an interrupted run can be resumed.
    """
    check_output_folder(folder, writer, overwrite, hint)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder_marker(folder, writer)
    marker.touch()
    return marker


# -- numbers ----------------------------------------------------------------------------------


def first_non_finite(array: np.ndarray) -> int | None:
    """Index (along axis 0) of the first sample of `array` that holds a NaN or an infinity, or None."""
    values = np.asarray(array)
    if values.dtype.kind not in "fc" or values.size == 0:
        return None
    if values.dtype == np.float16 and values.ndim > 0:
        # numpy has no vectorised float16 isfinite (11 us per 128 px depth map); a float16 is NaN or
        # infinite exactly when its five exponent bits are all set, which integer operations test in 3 us.
        magnitude = np.ascontiguousarray(values).view(np.uint16) & 0x7FFF
        if magnitude.max() < 0x7C00:
            return None
        bad = (magnitude.reshape(len(values), -1) >= 0x7C00).any(axis=1)
    elif values.ndim > 0:
        bad = ~np.isfinite(values.reshape(len(values), -1)).all(axis=1)
    else:
        bad = ~np.isfinite(values)
    hits = np.flatnonzero(bad)
    return int(hits[0]) if hits.size else None


def require_finite(arrays: dict[str, np.ndarray], where: str, offset: int = 0, names: Iterable[str] | None = None) -> None:
    """Raise NonFiniteError naming `where`, the dataset and the sample index of the first non-finite value."""
    for name in names if names is not None else arrays:
        if name not in arrays:
            continue
        index = first_non_finite(arrays[name])
        if index is not None:
            raise NonFiniteError(f"{where}: '{name}' of sample {offset + index} is not finite (NaN or infinity)")


# -- config values that point at the world ----------------------------------------------------


def check_timm_model(name: str, key: str) -> None:
    import timm

    if not timm.is_model(name):
        close = [m for m in timm.list_models(f"{name.rstrip('0123456789')}*")][:8]
        hint = f"; similar names: {close}" if close else ""
        raise _config_error(f"{_label(key)}: {name!r} is not a timm model name{hint}")


def check_file_exists(path: str, key: str, what: str = "file") -> None:
    if not Path(path).expanduser().exists():
        raise _config_error(f"{_label(key)}: {what} {path} does not exist")


def check_device(setting: str, key: str) -> None:
    """A `cuda` / `cuda:N` setting needs that CUDA device on this machine (`auto` and `cpu` always work)."""
    if not setting.startswith("cuda"):
        return
    import torch

    if not torch.cuda.is_available():
        raise _config_error(f"{_label(key)}: {setting!r} but no CUDA device is visible on this machine")
    index = int(setting.partition(":")[2] or 0)
    if index >= torch.cuda.device_count():
        raise _config_error(
            f"{_label(key)}: {setting!r} but this machine has {torch.cuda.device_count()} CUDA device(s)"
        )


def check_config_resources(config: Config, stages: Iterable[str], devices: bool = True) -> None:
    """Check what `stages` of a run will need (model names, files, devices) before any of them starts.

    Stages: preprocess, train, infer, storage. Raises ConfigError naming the key. `devices=False`
    skips the CUDA checks, for a machine that only plans the jobs (a cluster's login node).
    """
    stages = set(stages)
    device_check = check_device if devices else _no_check
    if "preprocess" in stages:
        device_check(config.perception.device, "perception.device")
        if config.perception.keypoints.backend == "yolo":
            check_file_exists(config.perception.keypoints.weights, "perception.keypoints.weights", "YOLO weights")
        if config.dataset.source == "h36m":
            check_file_exists(config.dataset.root, "dataset.root", "dataset folder")
    if "train" in stages:
        device_check(config.train.device, "train.device")
        if "cnn" in config.models:
            check_timm_model(config.model.cnn.backbone, "model.cnn.backbone")
            if config.model.cnn.pretrained:
                check_file_exists(str(config.model.cnn.pretrained), "model.cnn.pretrained", "pretrained checkpoint")
    if "infer" in stages and config.infer.enabled:
        if config.infer.images:
            check_file_exists(config.infer.images, "infer.images", "image file or folder")
        if config.infer.keypoints_backend == "yolo":
            check_file_exists(config.perception.keypoints.weights, "perception.keypoints.weights", "YOLO weights")
    if "storage" in stages and config.storage.remote and config.storage.rclone_config:
        check_file_exists(config.storage.rclone_config, "storage.rclone_config", "rclone config file")


def _label(key: str) -> str:
    """A config key as messages name it; a command-line flag (`--checkpoint`) as it is."""
    return key if key.startswith("-") or key.startswith("config key") else f"config key '{key}'"


def _no_check(*args: object) -> None:
    return None


def _config_error(message: str) -> Exception:
    from pose3d.config import ConfigError

    return ConfigError(message)


# -- checkpoint files -------------------------------------------------------------------------


class CheckpointError(ValueError):
    """A checkpoint file is empty, truncated, not a checkpoint, or from another model."""


def read_checkpoint_file(path: str | Path, map_location: Any = "cpu") -> dict[str, Any]:
    """`torch.load(path, weights_only=True)` with one-line errors naming the file and the cause.

    Missing: FileNotFoundError. Empty, truncated, not a PyTorch file, or not a dict: CheckpointError.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    size = path.stat().st_size
    if size == 0:
        raise CheckpointError(f"checkpoint {path} is empty (0 bytes): an interrupted copy or a full disk?")
    try:  # plain data only: a checkpoint must not be able to run code when loaded
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # torch raises many kinds for a damaged file
        raise CheckpointError(
            f"checkpoint {path} ({size} bytes) is truncated or not a PyTorch checkpoint of plain data: "
            f"{_first_line(error)}"
        ) from None
    if not isinstance(state, dict):
        raise CheckpointError(f"checkpoint {path} holds a {type(state).__name__}, not a pose3d checkpoint dict")
    return state


def load_state_checked(module: Any, state: dict[str, Any], path: str | Path, what: str = "model") -> None:
    """`module.load_state_dict(state)`; a mismatch names the file and the first differing tensor."""
    try:
        module.load_state_dict(state)
    except (RuntimeError, ValueError, KeyError) as error:
        text = str(error)
        mismatches = re.findall(r"size mismatch for ([\w.]+): copying a param with shape (\S+) from checkpoint, "
                                r"the shape in current model is (\S+?)\.?$", text, re.MULTILINE)
        if mismatches:
            name, saved, current = mismatches[0]
            cause = (f"{len(mismatches)} tensor(s) differ in size, e.g. {name}: {saved} in the file, "
                     f"{current} in this {what}")
        else:
            cause = _first_line(error)
        raise CheckpointError(
            f"checkpoint {path} does not fit the configured {what} ({cause}): it was saved with another model "
            "size or config; use the config it was trained with, or train into another folder"
        ) from None


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[0] if lines else ''}"[:300]
