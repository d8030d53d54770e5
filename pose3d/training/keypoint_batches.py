"""Batches for keypoint-only models: the shards' small arrays held in memory, mirrored a batch at a time.

A keypoint-only model (the lifter) needs per sample 17 x 3 keypoints, 17 x 3 joints, the intrinsics
and the crop: a few hundred bytes. Streaming them through `ShardDataset`, the per-sample augmentor
and a DataLoader costs far more than the model's step, so this loader reads the arrays once and
yields collated torch batches directly (the batch contract of `pose3d.training.dataset`, without
image and depth).

Augmentation: the horizontal flip, applied to a whole batch by `augment_geometry.mirror` (the crop is
mirrored in the mirrored full image, left/right joints swap in 2D and 3D, the world mirrors about
the camera's x = 0 plane). Rotation and crop jitter are not
applied: a crop jitter does not move camera-normalised keypoints at all.

Order: a permutation per (seed, epoch); under DDP each rank takes an equal contiguous share of it
(the last N mod world_size samples of that epoch's order are left out). Batch b of an epoch, its
samples and its mirroring, is a function of (seed, epoch, b) alone, so `set_epoch` and
`skip_batches` make a resume exact, at an epoch end or inside an epoch, as with `ShardDataset`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pose3d.shards import schema
from pose3d.shards.reader import ShardCache, ShardError, open_shard
from pose3d.training.augment_geometry import mirror
from pose3d.training.dataset import distributed_rank_and_size, keypoints_layout_of

ARRAYS = (schema.KEYPOINTS_2D, schema.JOINTS_3D, schema.INTRINSICS, schema.CROP, *schema.PROVENANCE)


def flip_batch(batch: dict[str, np.ndarray], image_size: int, keypoints_layout: str) -> dict[str, np.ndarray]:
    """Mirror every sample of a batch (numpy, as stored) horizontally: the augmentation's flip (`mirror`)."""
    keypoints, joints, crop = mirror(batch["keypoints_2d"], batch["joints_3d"], batch["crop"], batch["intrinsics"],
                                     image_size, keypoints_layout)
    return {**batch, "keypoints_2d": keypoints, "joints_3d": joints, "crop": crop}


class KeypointBatches:
    """An iterable of collated batches over shards held in memory; `dataset` is itself (for `set_epoch`)."""

    def __init__(
        self,
        paths: Sequence[str | Path],
        batch_size: int,
        *,
        seed: int = 0,
        flip_prob: float = 0.0,
        evaluation: bool = False,
        cache: ShardCache | None = None,
        rank: int | None = None,
        world_size: int | None = None,
    ) -> None:
        if not paths:
            raise ShardError("KeypointBatches needs at least one shard")
        parts: dict[str, list[np.ndarray]] = {name: [] for name in ARRAYS}
        infos = []
        for path in paths:
            with open_shard(path, cache) as reader:
                infos.append(reader.info)
                batch = reader.read(datasets=ARRAYS)
                for name in ARRAYS:
                    parts[name].append(np.asarray(batch[name]))
        self.infos = infos
        self.keypoints_layout = keypoints_layout_of(infos)
        self.image_size = int(infos[0].image_size)
        self.arrays = {name: np.concatenate(values) for name, values in parts.items()}
        self.batch_size = int(batch_size)
        self.seed, self.flip_prob, self.evaluation = int(seed), float(flip_prob), evaluation
        self._rank, self._world_size = rank, world_size
        self.epoch = 0
        self.start_batch = 0
        self.dataset = self  # the Trainer calls loader.dataset.set_epoch / skip_batches

    @property
    def total_samples(self) -> int:
        return len(self.arrays[schema.JOINTS_3D])

    @property
    def samples_on_rank(self) -> int:
        """Samples this rank draws from per epoch (training: its share of the epoch's order)."""
        return len(self._indices())

    @property
    def batches_per_epoch(self) -> int:
        """Batches per epoch: training drops the last partial batch (as the DataLoader does), evaluation keeps it."""
        count = self.samples_on_rank
        return -(-count // self.batch_size) if self.evaluation else count // self.batch_size

    def set_epoch(self, epoch: int) -> None:
        """Reseed the order for `epoch` and start at its first batch."""
        self.epoch = int(epoch)
        self.start_batch = 0

    def skip_batches(self, count: int) -> None:
        """Start the current epoch at batch `count` (training mode): what a resume inside an epoch needs."""
        if self.evaluation:
            raise ValueError("skip_batches is for training mode; evaluation batches have no training order")
        if not 0 <= count <= self.batches_per_epoch:
            raise ValueError(f"cannot skip {count} batches: an epoch of this rank has {self.batches_per_epoch}")
        self.start_batch = int(count)

    def _indices(self) -> np.ndarray:
        total = self.total_samples
        if self.evaluation:
            return np.arange(total)
        rank, world = distributed_rank_and_size()
        rank = rank if self._rank is None else self._rank
        world = world if self._world_size is None else self._world_size
        order = np.random.default_rng([self.seed, self.epoch]).permutation(total)
        share = total // world
        return order[rank * share : (rank + 1) * share]

    def __len__(self) -> int:
        """Batches per epoch (`batches_per_epoch`), counting from the epoch's first batch."""
        return self.batches_per_epoch

    def __iter__(self) -> Iterator[dict[str, Any]]:
        indices = self._indices()
        for index in range(self.start_batch, self.batches_per_epoch):
            chosen = indices[index * self.batch_size : (index + 1) * self.batch_size]
            batch = {name: values[chosen] for name, values in self.arrays.items()}
            if self.flip_prob > 0 and not self.evaluation:  # evaluation never augments
                # One stream per batch: a resume that skips batches mirrors the rest as an uninterrupted run.
                rng = np.random.default_rng([self.seed, self.epoch, 1, index])
                mirrored = rng.random(len(chosen)) < self.flip_prob
                if mirrored.any():  # the batch's arrays are fresh copies (fancy indexing): mirrored in place
                    rows = np.flatnonzero(mirrored)
                    names = ("keypoints_2d", "joints_3d", "crop", "intrinsics")
                    flipped = flip_batch({name: batch[name][rows] for name in names}, self.image_size,
                                         self.keypoints_layout)
                    for name in ("keypoints_2d", "joints_3d", "crop"):
                        batch[name][rows] = flipped[name]
            yield {name: torch.from_numpy(np.ascontiguousarray(values)) for name, values in _typed(batch).items()}


def _typed(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The dtypes of the sample contract: float32 geometry, int64 provenance."""
    return {
        name: values.astype(np.int64 if name in schema.PROVENANCE else np.float32, copy=False)
        for name, values in batch.items()
    }
