"""Subject bodies: bone lengths, limb thickness and colours, drawn from a seed.

A body is described in its own rest frame (x forward, y left, z up, millimetres, pelvis
at the origin). Proportions follow adult anthropometry scaled to a standing height of
1.55-1.95 m, with a few per-person deviations, so each subject has its own skeleton.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Segment lengths as fractions of standing height (about 1.70 m for the reference body).
_PROPORTIONS = {
    "hip_half_width": 0.075,
    "thigh": 0.255,
    "shin": 0.250,
    "ankle_height": 0.045,
    "spine": 0.135,  # pelvis -> spine (mid back)
    "chest": 0.150,  # spine -> thorax (base of the neck)
    "neck": 0.068,  # thorax -> nose
    "head": 0.068,  # nose -> head top
    "shoulder_half_width": 0.092,
    "upper_arm": 0.165,
    "forearm": 0.150,
    "foot": 0.120,
}


@dataclass(frozen=True)
class Body:
    """One subject's mannequin: lengths and radii in mm, colours as RGB floats in [0, 1]."""

    subject: int
    height_mm: float
    lengths: dict[str, float]
    radii: dict[str, float]
    skin_rgb: np.ndarray
    shirt_rgb: np.ndarray
    trousers_rgb: np.ndarray
    shoes_rgb: np.ndarray
    hair_rgb: np.ndarray
    short_sleeves: bool

    @property
    def pelvis_standing_height_mm(self) -> float:
        """Pelvis height above the floor when standing straight."""
        return self.lengths["thigh"] + self.lengths["shin"] + self.lengths["ankle_height"]

    @property
    def max_radius_mm(self) -> float:
        """The thickest body part's radius: the bound on how far a surface is from a joint."""
        return max(self.radii.values())


_SKIN_TONES = np.array([
    [0.96, 0.80, 0.69], [0.90, 0.72, 0.58], [0.78, 0.58, 0.44], [0.62, 0.44, 0.32], [0.45, 0.31, 0.22],
])


def make_body(subject: int, seed: int) -> Body:
    """The body of `subject` for a dataset `seed` (same inputs, same body)."""
    rng = np.random.default_rng([seed, subject, 101])
    height = float(rng.uniform(1550.0, 1950.0))
    lengths = {}
    for name, fraction in _PROPORTIONS.items():
        lengths[name] = float(height * fraction * rng.uniform(0.94, 1.06))
    build = float(rng.uniform(0.85, 1.25))  # slim .. broad
    scale = height / 1700.0
    radii = {
        "thigh": 72.0 * scale * build,
        "shin": 52.0 * scale * build,
        "upper_arm": 45.0 * scale * build,
        "forearm": 36.0 * scale * build,
        "hand": 40.0 * scale,
        "foot": 38.0 * scale,
        "torso": 135.0 * scale * build,  # half-width of the chest ellipsoid
        "head": 98.0 * scale,
        "neck": 48.0 * scale,
    }
    skin = _SKIN_TONES[rng.integers(len(_SKIN_TONES))] * rng.uniform(0.92, 1.05)
    shirt = _colour(rng)
    trousers = _colour(rng, dark=True)
    return Body(
        subject=subject,
        height_mm=height,
        lengths=lengths,
        radii=radii,
        skin_rgb=np.clip(skin, 0, 1),
        shirt_rgb=shirt,
        trousers_rgb=trousers,
        shoes_rgb=np.full(3, rng.uniform(0.05, 0.35)),
        hair_rgb=np.clip(np.array([0.25, 0.17, 0.10]) * rng.uniform(0.3, 2.2), 0, 1),
        short_sleeves=bool(rng.random() < 0.5),
    )


def _colour(rng: np.random.Generator, dark: bool = False) -> np.ndarray:
    """A saturated-enough clothing colour (HSV drawn, returned as RGB)."""
    hue = rng.random()
    saturation = rng.uniform(0.25, 0.85)
    value = rng.uniform(0.2, 0.5) if dark else rng.uniform(0.45, 0.95)
    h6 = hue * 6
    c = value * saturation
    x = c * (1 - abs(h6 % 2 - 1))
    m = value - c
    sector = int(h6) % 6
    rgb = [(c, x, 0), (x, c, 0), (0, c, x), (0, x, c), (x, 0, c), (c, 0, x)][sector]
    return np.array(rgb) + m


def rest_offsets(body: Body) -> dict[str, np.ndarray]:
    """Bone vectors of the rest pose in the parent's frame (x forward, y left, z up), mm."""
    length = body.lengths
    return {
        "r_hip": np.array([0.0, -length["hip_half_width"], 0.0]),
        "l_hip": np.array([0.0, length["hip_half_width"], 0.0]),
        "thigh": np.array([0.0, 0.0, -length["thigh"]]),
        "shin": np.array([0.0, 0.0, -length["shin"]]),
        "spine": np.array([0.0, 0.0, length["spine"]]),
        "chest": np.array([0.0, 0.0, length["chest"]]),
        "neck": np.array([0.35 * length["neck"], 0.0, 0.94 * length["neck"]]),
        "head": np.array([-0.25 * length["head"], 0.0, 0.97 * length["head"]]),
        "r_shoulder": np.array([-0.1 * length["shoulder_half_width"], -length["shoulder_half_width"],
                                -0.15 * length["shoulder_half_width"]]),
        "l_shoulder": np.array([-0.1 * length["shoulder_half_width"], length["shoulder_half_width"],
                                -0.15 * length["shoulder_half_width"]]),
        "upper_arm": np.array([0.0, 0.0, -length["upper_arm"]]),
        "forearm": np.array([0.0, 0.0, -length["forearm"]]),
        "foot": np.array([length["foot"], 0.0, -0.6 * length["ankle_height"]]),
    }
