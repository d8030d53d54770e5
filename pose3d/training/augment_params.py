"""The random parameters of one augmentation draw, for a whole batch at once.

Drawn with a handful of vectorised numpy calls per batch instead of a dozen scalar draws per
sample: the per-sample Python cost was most of the augmentation's time. A sample alone is a
batch of one, so the per-sample and the batched augmentors draw from one distribution.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from pose3d.config import AugmentConfig


@dataclass(frozen=True)
class AugmentParams:
    """What happens to each of B samples; every field has the batch axis first.

    flip: bool (B,) mirror horizontally. rotate: bool (B,), angle_rad: float64 (B,) in-plane
    rotation (0 where `rotate` is off). jitter_crop: bool (B,), zoom: float64 (B,) (> 1 covers
    more of the image), shift: float64 (B, 2) crop-centre move as a fraction of the side.
    jitter_colour: bool (B,), colour: float64 (B, 3) brightness, contrast, saturation factors.
    """

    flip: np.ndarray
    rotate: np.ndarray
    angle_rad: np.ndarray
    jitter_crop: np.ndarray
    zoom: np.ndarray
    shift: np.ndarray
    jitter_colour: np.ndarray
    colour: np.ndarray

    def __len__(self) -> int:
        return len(self.flip)

    @classmethod
    def identity(cls, count: int) -> AugmentParams:
        """No change to any of `count` samples (a base to set single steps on, as tests do)."""
        off = np.zeros(count, dtype=bool)
        return cls(flip=off, rotate=off, angle_rad=np.zeros(count), jitter_crop=off, zoom=np.ones(count),
                   shift=np.zeros((count, 2)), jitter_colour=off, colour=np.ones((count, 3)))

    def replace(self, **changes: object) -> AugmentParams:
        """These parameters with some fields replaced; scalars broadcast to the batch."""
        shaped = {name: np.broadcast_to(np.asarray(value, dtype=getattr(self, name).dtype),
                                        getattr(self, name).shape).copy() for name, value in changes.items()}
        return dataclasses.replace(self, **shaped)

    def select(self, index: np.ndarray | slice | int) -> AugmentParams:
        """The parameters of some samples (an int keeps a batch axis of one)."""
        index = [index] if isinstance(index, int | np.integer) else index
        return AugmentParams(**{field.name: getattr(self, field.name)[index] for field in dataclasses.fields(self)})


def _signed(uniform: np.ndarray) -> np.ndarray:
    """[0, 1) -> [-1, 1)."""
    return 2.0 * np.asarray(uniform) - 1.0


def draw_params(config: AugmentConfig, count: int, rng: np.random.Generator) -> AugmentParams:
    """Draw `count` samples' augmentation: probabilities and ranges from `config.train.augment`."""
    # One uniform draw per sample and column, the columns in the order of the steps.
    flip, rotate, angle, scale, zoom, translate, shift_x, shift_y, colour, *factors = rng.random((12, count))
    rotate = rotate < config.rotation_prob
    scale = scale < config.scale_prob
    translate = translate < config.translate_prob
    jitter_colour = colour < config.color_prob
    return AugmentParams(
        flip=flip < config.flip_prob,
        rotate=rotate,
        angle_rad=np.where(rotate, np.deg2rad(config.rotation_deg) * _signed(angle), 0.0),
        jitter_crop=scale | translate,
        zoom=np.where(scale, 1.0 + config.scale_range * _signed(zoom), 1.0),
        shift=np.where(translate[:, None], config.translate_range * _signed(np.stack([shift_x, shift_y], 1)), 0.0),
        jitter_colour=jitter_colour,
        colour=np.where(jitter_colour[:, None], 1.0 + config.color_strength * _signed(np.stack(factors, 1)), 1.0),
    )
