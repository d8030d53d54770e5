"""Training-time augmentation that keeps image, depth, 2D keypoints, 3D joints and camera exactly consistent.

Random flip, in-plane rotation, crop jitter (zoom, shift) and colour jitter, probabilities and ranges
from `config.train.augment`. The geometry is `augment_geometry`, the pixels `augment_pixels`, the
draw `augment_params`; this module applies them:

- `BatchAugmentor` augments a whole batch of the batch contract (`pose3d.training.batches`) in one
  call: what training runs, in the loader workers, once per batch.
- `PoseAugmentor` augments one sample dict of the sample contract as a batch of one, for callers
  that hold single samples (the per-sample `ShardDataset` mode, tests, the model benchmark).

Fields that change: image, depth, keypoints_2d, joints_3d, crop. `intrinsics` (of the original
image) and provenance never change. Image and depth are resampled once, with the composed warp.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pose3d import skeleton
from pose3d.config import AugmentConfig
from pose3d.shards import schema
from pose3d.training.augment_geometry import augment_geometry
from pose3d.training.augment_params import AugmentParams, draw_params
from pose3d.training.augment_pixels import jitter_colours, warp_depths, warp_images

Sample = dict[str, Any]
_CHANGED = ("keypoints_2d", "joints_3d", "crop")


def augment_arrays(batch: Sample, params: AugmentParams, keypoints_layout: str, image_size: int) -> Sample:
    """A batch with `params` applied: keypoints_2d (B, K, 3), joints_3d (B, 17, 3), crop (B, 3), intrinsics
    (B, 4) and, when present, image (B, S, S, 3) uint8 or float32 and depth (B, 1, Sd, Sd); other keys kept."""
    geo = augment_geometry(batch["keypoints_2d"], batch["joints_3d"], batch["crop"], batch["intrinsics"],
                           image_size, keypoints_layout, params)
    out = dict(batch, keypoints_2d=geo.keypoints_2d, joints_3d=geo.joints_3d, crop=geo.crop)
    if "image" in batch:
        out["image"] = warp_images(batch["image"], geo.affine)  # a new array: the colour jitter may change it
        jitter_colours(out["image"], params.colour, params.jitter_colour)
    if "depth" in batch:
        out["depth"] = warp_depths(batch["depth"], geo.affine, image_size)
    return out


def _crop_side(images: Any, fallback: int | None) -> int:
    if images is not None:
        return int(np.asarray(images).shape[-2])  # (.., S, S, 3)
    if fallback is None:
        raise ValueError("augmenting samples without an image needs image_size=... (the crop side)")
    return fallback


class BatchAugmentor:
    """Augments a batch of the batch contract (numpy: image (B, S, S, 3) uint8, depth (B, 1, Sd, Sd) float16).

    Each batch draws from its own stream seeded by (seed, epoch, the provenance of its first sample, which
    is in no other batch of the epoch): a batch's augmentation is a function of the epoch and its samples
    alone, the same whatever the number of DataLoader workers, and the same for a run resumed inside an
    epoch (which never augments the batches it skips). `image_size` is the crop side, needed only for
    batches read without their image.
    """

    def __init__(self, config: AugmentConfig, keypoints_layout: str, seed: int, image_size: int | None = None) -> None:
        skeleton.get_layout(keypoints_layout)
        self.config, self.keypoints_layout, self.seed, self.image_size = config, keypoints_layout, int(seed), image_size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def generator(self, batch: Sample) -> np.random.Generator:
        """The batch's random stream (see the class doc)."""
        first = [int(np.asarray(batch[name])[0]) for name in schema.PROVENANCE]
        return np.random.default_rng([self.seed, self.epoch, *first])

    def __call__(self, batch: Sample) -> Sample:
        params = draw_params(self.config, len(batch["crop"]), self.generator(batch))
        return self.apply(batch, params)

    def apply(self, batch: Sample, params: AugmentParams) -> Sample:
        """The batch with the given parameters applied (no draw)."""
        size = _crop_side(batch.get("image"), self.image_size)
        return augment_arrays(batch, params, self.keypoints_layout, size)


class PoseAugmentor:
    """Augments one numpy sample of the sample contract (image (S, S, 3) uint8 or (3, S, S) float) as a batch of one.

    Used as a per-sample dataset's `transform`; each DataLoader worker draws from its own stream (seeded
    from `seed` and the worker's torch seed), so workers do not repeat each other's augmentations.
    """

    def __init__(self, config: AugmentConfig, keypoints_layout: str, seed: int, image_size: int | None = None) -> None:
        skeleton.get_layout(keypoints_layout)
        self.image_size = image_size  # the crop side of samples that carry no image (keypoint-only)
        self.config = config
        self.keypoints_layout = keypoints_layout
        self.seed = seed
        self._rng = np.random.default_rng(seed)
        self._rng_owner: tuple[int, int] | None = None

    def _generator(self) -> np.random.Generator:
        import torch.utils.data

        info = torch.utils.data.get_worker_info()
        owner = None if info is None else (info.id, info.seed)
        if owner != self._rng_owner:
            self._rng = np.random.default_rng([self.seed, int(info.seed) % 2**63])
            self._rng_owner = owner
        return self._rng

    def __call__(self, sample: Sample, rng: np.random.Generator | None = None) -> Sample:
        """Augment one sample; draws from `rng` when given, else from this worker's own stream."""
        rng = self._generator() if rng is None else rng
        return self.apply(sample, draw_params(self.config, 1, rng))

    def apply(self, sample: Sample, params: AugmentParams) -> Sample:
        """The sample with the given parameters (a batch of one) applied (no draw)."""
        batch = {key: np.asarray(sample[key])[None] for key in (*_CHANGED, "intrinsics")}
        channels_first = False
        if "image" in sample:
            image = np.asarray(sample["image"])
            channels_first = image.ndim == 3 and image.shape[0] == 3 and image.shape[-1] != 3
            batch["image"] = np.ascontiguousarray(np.moveaxis(image, 0, -1) if channels_first else image)[None]
        if "depth" in sample:
            batch["depth"] = np.asarray(sample["depth"])[None]
        augmented = augment_arrays(batch, params, self.keypoints_layout, _crop_side(batch.get("image"), self.image_size))
        out = dict(sample)
        for key in (*_CHANGED, "depth"):
            if key in batch:
                out[key] = augmented[key][0]
        if "image" in sample:
            image = augmented["image"][0]
            out["image"] = np.ascontiguousarray(np.moveaxis(image, -1, 0)) if channels_first else image
        return out


def flip_geometry(geo: Sample, size: int, keypoints_layout: str) -> tuple[Sample, np.ndarray]:
    """One sample's mirrored geometry (keypoints_2d, joints_3d, crop, intrinsics) and its 3x3 crop-pixel affine."""
    params = AugmentParams.identity(1).replace(flip=True)
    flipped = augment_geometry(*(np.asarray(geo[key])[None] for key in (*_CHANGED, "intrinsics")),
                               size, keypoints_layout, params)
    out = dict(geo, keypoints_2d=flipped.keypoints_2d[0], joints_3d=flipped.joints_3d[0], crop=flipped.crop[0])
    return out, flipped.affine[0]


def apply_geometry(sample: Sample, geo: Sample, affine: np.ndarray, image_size: int | None = None) -> Sample:
    """The sample with `geo`'s keypoints, joints and crop, and its image (S, S, 3) and depth warped by `affine`.

    `image_size` is the crop side, needed only for a sample with depth but no image.
    """
    out = dict(sample, **{key: geo[key] for key in _CHANGED})
    affines = np.asarray(affine, dtype=np.float64)[None]
    if "image" in sample:
        out["image"] = warp_images(np.asarray(sample["image"])[None], affines)[0]
    if "depth" in sample:
        size = _crop_side(sample.get("image"), image_size)
        out["depth"] = warp_depths(np.asarray(sample["depth"])[None], affines, size)[0]
    return out
