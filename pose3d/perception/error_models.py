"""Simulated perception errors: what a real 2D detector and a monocular depth estimator get wrong.

The synthetic dataset knows the exact 2D joints and depth; feeding those to the models measures
reading an oracle, not estimating a pose. These error models turn the oracle into inputs with the
errors published for real perception models, so the synthetic figures mean something.

Detector (`DetectorErrors`, for the `groundtruth` keypoint backend, Human3.6M-17):
- Gaussian position error whose mean 2D size is `relative_error` x the person's height in pixels,
  larger at the extremities (wrists, ankles) than at the torso (`JOINT_ERROR_WEIGHTS`);
- left/right confusion: with probability `swap_prob` per limb pair and frame, the left and right
  elbow+wrist (or knee+ankle) trade places, as heatmap detectors do on symmetric limbs;
- self-occlusion from the 3D pose: a joint hidden behind a limb or the torso (closer to the camera
  and within a limb's thickness in the image) gets a low score, a larger error, and is dropped
  (score 0) with probability `occluded_drop_prob`;
- the score of a visible joint falls with its error, as a heatmap peak does;
- with probability `miss_prob` per frame the subject is not found at all (no detection).

Depth estimator (`DepthEstimatorErrors`, for the `dataset` depth backend), per image:
- a global scale error exp(N(0, scale_log_std)): metric depth from one image is mostly wrong by a factor;
- a smooth low-frequency multiplicative distortion of amplitude `distortion` (a few cosines
  of wavelength longer than half the image);
- multiplicative per-pixel noise of std `noise`;
- blurred edges: a Gaussian blur of `edge_blur` x the image's shorter side, which leaves flat areas
  alone and smears depth discontinuities (the person's silhouette) as estimators do.

Both draw from a generator the backend seeds per sequence, so a rerun writes the same inputs.
`perception_inputs` names what a run used (oracle ground truth / simulated perception / real models),
for every report that prints a figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from pose3d.skeleton import H36M17

# Relative 2D error per Human3.6M-17 joint (mean 1): detectors localise the torso better than the
# extremities; wrists and ankles are the hardest (as per-joint PCK tables of 2D detectors show).
_WEIGHTS_BY_NAME = {
    "pelvis": 0.8, "r_hip": 0.9, "r_knee": 1.0, "r_ankle": 1.25, "l_hip": 0.9, "l_knee": 1.0, "l_ankle": 1.25,
    "spine": 0.8, "thorax": 0.8, "nose": 0.75, "head": 0.85,
    "l_shoulder": 0.85, "l_elbow": 1.15, "l_wrist": 1.45, "r_shoulder": 0.85, "r_elbow": 1.15, "r_wrist": 1.45,
}
JOINT_ERROR_WEIGHTS = np.array([_WEIGHTS_BY_NAME[name] for name in H36M17.joint_names])
JOINT_ERROR_WEIGHTS = JOINT_ERROR_WEIGHTS / JOINT_ERROR_WEIGHTS.mean()

# Left/right limb parts that a detector confuses together: (left joints, right joints).
_SWAPPABLE_LIMBS = (
    ((H36M17.index("l_elbow"), H36M17.index("l_wrist")), (H36M17.index("r_elbow"), H36M17.index("r_wrist"))),
    ((H36M17.index("l_knee"), H36M17.index("l_ankle")), (H36M17.index("r_knee"), H36M17.index("r_ankle"))),
)
LIMB_RADIUS = 0.05  # half a limb's thickness in the image, fraction of person height
OCCLUSION_MARGIN_MM = 60.0  # an occluder must be this much closer to the camera than the joint
OCCLUDED_ERROR_FACTOR = 2.5  # position error of an occluded joint, x the visible one's
MEAN_OVER_STD = float(np.sqrt(np.pi / 2))  # mean 2D error / per-axis std of an isotropic Gaussian


@dataclass(frozen=True)
class DetectorErrors:
    """Detector-like errors for projected ground-truth joints (Human3.6M-17)."""

    relative_error: float
    swap_prob: float
    occluded_drop_prob: float
    miss_prob: float = 0.0  # the backend finds nobody in the frame (see `GroundTruthKeypoints`)

    def __call__(
        self, pixels: np.ndarray, joints_cam_mm: np.ndarray, person_height_px: float, rng: np.random.Generator
    ) -> np.ndarray:
        """(17, 2) exact pixels, (17, 3) camera-space joints -> (17, 3) detector keypoints (x, y, score)."""
        pixels = np.asarray(pixels, np.float64)
        occluded = self_occluded(pixels, np.asarray(joints_cam_mm, np.float64), person_height_px)
        std = self.relative_error * person_height_px / MEAN_OVER_STD * JOINT_ERROR_WEIGHTS
        std = np.where(occluded, OCCLUDED_ERROR_FACTOR * std, std)
        offset = rng.normal(0.0, 1.0, size=pixels.shape) * std[:, None]
        noisy = pixels + offset
        # Score of a visible joint: ~1 for a precise peak, lower as the error grows.
        error = np.linalg.norm(offset, axis=-1) / max(self.relative_error * person_height_px, 1e-9)
        scores = np.clip(1.0 - 0.15 * error + rng.normal(0.0, 0.03, len(error)), 0.5, 1.0)
        scores = np.where(occluded, rng.uniform(0.05, 0.45, len(error)), scores)
        scores = np.where(occluded & (rng.random(len(error)) < self.occluded_drop_prob), 0.0, scores)
        for left, right in _SWAPPABLE_LIMBS:
            if rng.random() < self.swap_prob:
                left, right = list(left), list(right)
                noisy[left + right] = noisy[right + left]
                scores[left + right] = 0.8 * scores[right + left]
        return np.concatenate([noisy, scores[:, None]], axis=-1)


def self_occluded(pixels: np.ndarray, joints_cam_mm: np.ndarray, person_height_px: float) -> np.ndarray:
    """(17,) bool: joints hidden behind a bone of the same body.

    A joint is hidden when a bone it is not part of passes within LIMB_RADIUS x person height of it
    in the image, at a depth OCCLUSION_MARGIN_MM or more in front of it.
    """
    radius = LIMB_RADIUS * person_height_px
    hidden = np.zeros(len(pixels), dtype=bool)
    for parent, child in H36M17.bones:
        start, end = pixels[parent], pixels[child]
        segment = end - start
        length2 = max(float(segment @ segment), 1e-9)
        along = np.clip(((pixels - start) @ segment) / length2, 0.0, 1.0)  # closest point on the bone, per joint
        closest = start + along[:, None] * segment
        distance = np.linalg.norm(pixels - closest, axis=-1)
        bone_depth = joints_cam_mm[parent, 2] + along * (joints_cam_mm[child, 2] - joints_cam_mm[parent, 2])
        covers = (distance < radius) & (bone_depth < joints_cam_mm[:, 2] - OCCLUSION_MARGIN_MM)
        covers[[parent, child]] = False
        hidden |= covers
    return hidden


@dataclass(frozen=True)
class DepthEstimatorErrors:
    """Monocular-estimator-like errors for an exact depth map (metres, 0 = no surface)."""

    scale_log_std: float
    distortion: float
    noise: float
    edge_blur: float

    def __call__(self, depth_m: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        depth_m = np.asarray(depth_m, np.float32)
        valid = depth_m > 0
        height, width = depth_m.shape
        result = depth_m.astype(np.float64)
        sigma = self.edge_blur * min(height, width)
        if sigma > 0:
            weight = cv2.GaussianBlur(valid.astype(np.float64), (0, 0), sigma)
            blurred = cv2.GaussianBlur(np.where(valid, result, 0.0), (0, 0), sigma)
            result = np.where(valid, blurred / np.maximum(weight, 1e-6), 0.0)
        factor = np.exp(rng.normal(0.0, self.scale_log_std)) if self.scale_log_std > 0 else 1.0
        field = smooth_field(height, width, rng) * self.distortion
        noise = rng.normal(0.0, self.noise, size=result.shape) if self.noise > 0 else 0.0
        result = result * factor * np.clip(1.0 + field + noise, 0.5, 1.5)
        return np.where(valid, result, 0.0).astype(np.float32)


def smooth_field(height: int, width: int, rng: np.random.Generator, waves: int = 4) -> np.ndarray:
    """(H, W) a random smooth field of unit std: `waves` cosines of wavelength 0.5-2 image sizes."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    size = float(max(height, width))
    field = np.zeros((height, width))
    for _ in range(waves):
        angle = rng.uniform(0.0, np.pi)
        wavelength = rng.uniform(0.5, 2.0) * size
        phase = rng.uniform(0.0, 2 * np.pi)
        field += np.cos(2 * np.pi * (xx * np.cos(angle) + yy * np.sin(angle)) / wavelength + phase)
    return field / np.sqrt(waves / 2.0)


def delta1_and_absrel(estimated_m: np.ndarray, true_m: np.ndarray) -> tuple[float, float]:
    """The depth literature's two headline figures over valid pixels: delta1 (share of pixels with
    max(d/d*, d*/d) < 1.25) and AbsRel (mean |d - d*| / d*)."""
    valid = (true_m > 0) & (estimated_m > 0)
    ratio = estimated_m[valid] / true_m[valid]
    return float(np.mean(np.maximum(ratio, 1.0 / ratio) < 1.25)), float(np.mean(np.abs(ratio - 1.0)))


def perception_inputs(perception: Any) -> dict[str, str]:
    """What the 2D keypoints and depth of a run were, for every report that prints a figure.

    `perception` is the config's `perception` section. `kind` is one of "oracle ground truth",
    "simulated perception", "real perception models" or "mixed (...)".
    """
    keypoints, depth = perception.keypoints, perception.depth
    if keypoints.backend == "yolo":
        keypoints_label, keypoints_kind = "real detector (YOLO pose)", "real"
    elif keypoints.backend == "mediapipe":
        keypoints_label, keypoints_kind = "real detector (MediaPipe BlazePose)", "real"
    elif keypoints.error_model == "realistic":
        keypoints_label = (f"simulated detector (projected ground truth + detector error model: mean error "
                           f"{keypoints.relative_error:g} x person height on clear joints, more on self-occluded "
                           f"ones, left/right swaps)")
        keypoints_kind = "simulated"
    else:
        extra = f", +{keypoints.noise_px:g} px noise" if keypoints.noise_px > 0 else ""
        keypoints_label, keypoints_kind = f"oracle (projected ground truth{extra})", "oracle"
    if depth.backend == "depthpro":
        depth_label, depth_kind = "real estimator (DepthPro)", "real"
    elif depth.error_model == "realistic":
        depth_label = (f"simulated estimator (dataset depth + monocular error model: scale log-std "
                       f"{depth.scale_log_std:g}, distortion {depth.distortion:g}, noise {depth.noise:g}, blurred edges)")
        depth_kind = "simulated"
    else:
        depth_label, depth_kind = "oracle (the dataset's exact depth maps)", "oracle"
    kinds = {"oracle": "oracle ground truth", "simulated": "simulated perception", "real": "real perception models"}
    kind = kinds[keypoints_kind] if keypoints_kind == depth_kind else f"mixed (2D {keypoints_kind}, depth {depth_kind})"
    return {"kind": kind, "keypoints": keypoints_label, "depth": depth_label}
