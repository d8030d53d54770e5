"""What a training run's weights depend on, and whether a checkpoint was made by the same run.

Used by the `train` rule's params (an edit that cannot change the weights does not retrain) and by
the resume check (a checkpoint of other settings, shards or process count is not continued).
Imports no torch, so the Snakefile can use it cheaply.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pose3d.config import Config, model_training_config

# train.* keys that never change the trained weights: logging, loader parallelism, where it runs,
# how often it checkpoints. (num_workers is among them because the data order does not depend on
# it: see pose3d.training.dataset.)
NOT_WEIGHT_KEYS = frozenset(
    {"log_every", "num_workers", "preview_samples", "device", "checkpoint_every_steps", "checkpoint_every_minutes",
     "stop_before_time_limit_minutes"}
)


def weight_settings(config: Config, model_name: str) -> dict[str, Any]:
    """The configuration that decides `model_name`'s trained weights (plain data).

    The `train` rule's params and a resume's compatibility check both use it, so an edit that
    cannot change the weights neither retrains nor refuses a checkpoint.
    """
    full = config.to_dict()
    model_config = {key: value for key, value in full["model"][model_name].items() if key != "train"}
    # The model's own training settings (model.<name>.train) override train: as that model trains.
    trained = model_training_config(config, model_name).to_dict()["train"]
    return {
        "model": model_name,
        "model_config": model_config,
        "train": {key: value for key, value in trained.items() if key not in NOT_WEIGHT_KEYS},
    }


def shard_fingerprint(paths: Sequence[str | Path]) -> list[list[Any]]:
    """(name, size, modification time in ns) of each local shard file, in the given order.

    A rewritten shard (new split, new shuffle) has a new modification time, so a checkpoint made
    on the old shards is not resumed. Remote shards are fingerprinted through their cached copy,
    whose modification time is the remote's (rclone keeps it).
    """
    stats = []
    for path in paths:
        stat = Path(path).stat()
        stats.append([Path(path).name, stat.st_size, stat.st_mtime_ns])
    return stats


def resume_identity(config: Config, model_name: str, train_shards: Sequence[str | Path], world_size: int,
                    base_checkpoint: str | Path | None = None) -> dict:
    """What a checkpoint must have been made with to be resumed: weight settings, shards, world size,
    and the base lifter's checkpoint (a retrained lifter starts its image models afresh)."""
    identity = {
        "weights": weight_settings(config, model_name),
        "train_shards": shard_fingerprint(train_shards),
        "world_size": world_size,
    }
    if base_checkpoint is not None:
        identity["base"] = shard_fingerprint([base_checkpoint])
    return identity


def identity_mismatch(saved: dict[str, Any] | None, wanted: dict[str, Any]) -> str:
    """'' when a checkpoint's identity equals `wanted`, else which part differs (for the log)."""
    if saved is None:
        return "the checkpoint records no identity (written by an older version)"
    # Through JSON: tuples and lists, ints and floats compare as the config file would write them.
    saved, wanted = json.loads(json.dumps(saved)), json.loads(json.dumps(wanted))
    for part, label in (("weights", "model or training settings"), ("train_shards", "training shards"),
                        ("world_size", "number of training processes"), ("base", "base lifter checkpoint")):
        if saved.get(part) != wanted.get(part):
            return f"{label} differ from the checkpoint's"
    return ""
