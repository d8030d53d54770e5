"""The trivial baseline: predict the training set's mean root-relative pose for every sample.

A model that does not beat it has learned nothing about the person in the image.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from pose3d.metrics import root_relative
from pose3d.shards import schema
from pose3d.shards.reader import ShardReader

READ_BLOCK = 4096  # samples per read: bounded memory on shards of any size


def mean_root_relative_pose(train_shards: Sequence[str | Path]) -> np.ndarray:
    """Mean (17, 3) root-relative Human3.6M pose in mm over every sample of `train_shards`."""
    total = np.zeros((17, 3), dtype=np.float64)
    count = 0
    for path in train_shards:
        with ShardReader(path) as reader:
            for start in range(0, len(reader), READ_BLOCK):
                joints = reader.read(start, start + READ_BLOCK, datasets=(schema.JOINTS_3D,))[schema.JOINTS_3D]
                total += root_relative(joints.astype(np.float64)).sum(axis=0)
                count += len(joints)
    if count == 0:
        raise ValueError(f"mean-pose baseline: the train shards hold no samples: {[str(p) for p in train_shards]}")
    return total / count


def baseline_predictions(mean_pose_mm: np.ndarray, joints_true_mm: np.ndarray) -> np.ndarray:
    """The mean pose placed at each true root (N, 17, 3): root-aligned metrics then see only the pose."""
    return mean_pose_mm[None] + joints_true_mm[:, :1]
