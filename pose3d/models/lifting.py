"""Lifting in camera-normalised coordinates: the keypoint encoding and the root-relative decoding.

Shared by every model so they all answer the same question the same way: the 2D pose is read in
camera-normalised coordinates ((u - cx) / fx, (v - cy) / fy) of the original image, centred on
its 2D centroid and divided by its RMS radius (so neither the image size, the crop nor the focal
length matter); the output is the root-relative pose in metres, regressed directly (a person's
size is a prior the network learns), and the root as its normalised 2D position at a depth
log(z / z_ref) with the weak-perspective guess z_ref = REFERENCE_RADIUS_MM / radius.

Regressing root-relative joints directly, rather than back-projecting 2D keypoints at a predicted
depth, keeps an error of the absolute depth (a monocular depth map's per-image scale is off by
~13 %) from scaling the whole skeleton. Depth therefore enters only scale-free
(`relative_depth_cues`): the depth at each keypoint divided by the depth of the person.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from pose3d import skeleton
from pose3d.models import common

# RMS distance (mm) of the 17 joints from their centroid for an adult; with the 2D RMS radius r of
# the normalised keypoints it gives a reference root depth REFERENCE_RADIUS_MM / r.
REFERENCE_RADIUS_MM = 500.0
MIN_RADIUS = 1e-4  # normalised units; keeps a degenerate (single-joint) 2D pose finite
# Without any detected joint the crop stands in for the pose: its centre, and this fraction of
# its side as the radius (a person spans ~1 / crop_padding of the crop; RMS radius ~ 0.28 height).
CROP_RADIUS_FRACTION = 0.22
RELATIVE_DEPTH_GAIN = 10.0  # log(d / d_person) x this: a joint 10 % nearer than the person -> -1
ENCODING_DIM = common.NUM_JOINTS * 3 + 3
DEPTH_CUES_DIM = common.NUM_JOINTS * 2 + 2
OUTPUT_DIM = common.NUM_JOINTS * 3 + 3
SCALED_OUTPUT_DIM = OUTPUT_DIM + 1  # image models: also the log scale of the root-relative pose (`decode_scaled`)


def camera_normalised(keypoints: torch.Tensor, intrinsics: torch.Tensor, crop: torch.Tensor) -> torch.Tensor:
    """Keypoints (B, J, 3) in crop pixels -> (B, J, 3) with x, y = ((u - cx) / fx, (v - cy) / fy).

    u, v are original-image pixels (u = x * scale + x0 with crop = (x0, y0, scale)); intrinsics
    (B, 4) = fx, fy, cx, cy of the original image. The score column is kept.
    """
    original = keypoints[..., :2] * crop[:, None, 2:3] + crop[:, None, 0:2]
    normalised = (original - intrinsics[:, None, 2:4]) / intrinsics[:, None, 0:2]
    return torch.cat([normalised, keypoints[..., 2:3]], dim=-1)


@dataclass
class KeypointFrame:
    """A 2D pose in camera-normalised coordinates, with its centroid and RMS radius."""

    normalised: torch.Tensor  # (B, 17, 3) x, y, score; Human3.6M-17 order
    present: torch.Tensor  # (B, 17) bool
    centre: torch.Tensor  # (B, 2)
    radius: torch.Tensor  # (B,)

    def encoding(self) -> torch.Tensor:
        """(B, ENCODING_DIM): per joint (x, y) - centre over radius and score; centre and log radius."""
        local = (self.normalised[..., :2] - self.centre[:, None]) / self.radius[:, None, None]
        local = torch.where(self.present[..., None], local, torch.zeros_like(local))
        score = self.normalised[..., 2:3].clamp(0.0, 1.0)
        return torch.cat([torch.cat([local, score], -1).flatten(1), self.centre, self.radius.log()[:, None]], dim=1)

    def reference_depth_mm(self) -> torch.Tensor:
        """The weak-perspective root depth guess (B,): an adult's RMS radius over the 2D one."""
        return REFERENCE_RADIUS_MM / self.radius


def keypoint_frame(keypoints_h36m: torch.Tensor, intrinsics: torch.Tensor, crop: torch.Tensor, size: int) -> KeypointFrame:
    """The camera-normalised frame of cleaned Human3.6M-17 keypoints (B, 17, 3) in crop pixels.

    A sample without any detected joint falls back to the crop: its centre and a radius of
    CROP_RADIUS_FRACTION of its side, so image-only models still get a sensible reference depth.
    """
    normalised = camera_normalised(keypoints_h36m, intrinsics, crop)
    present = normalised[..., 2] > 0
    weight = present.to(normalised.dtype)[..., None]
    count = weight.sum(1).clamp_min(1.0)
    centre = (normalised[..., :2] * weight).sum(1) / count
    spread = (((normalised[..., :2] - centre[:, None]) ** 2).sum(-1, keepdim=True) * weight).sum(1) / count
    radius = spread[:, 0].sqrt().clamp_min(MIN_RADIUS)

    middle = keypoints_h36m.new_full((keypoints_h36m.shape[0], 1, 3), (size - 1) / 2.0)
    crop_centre = camera_normalised(middle, intrinsics, crop)[:, 0, :2]
    crop_radius = CROP_RADIUS_FRACTION * size * crop[:, 2] / intrinsics[:, 0:2].mean(-1)
    none = ~present.any(1)
    centre = torch.where(none[:, None], crop_centre, centre)
    radius = torch.where(none, crop_radius, radius)
    return KeypointFrame(normalised, present, centre, radius)


def person_depth(depth_m: torch.Tensor, keypoints_h36m: torch.Tensor, size: int,
                 under: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The person's depth (B,) in metres and whether it is known (B,), from depth crops (B, 1, H, W).

    The median depth under the detected keypoints: limbs are a few depth pixels wide, so most of
    the crop, even its centre, is background. Without a keypoint on a surface, the median of the
    valid depth in the crop's central half stands in. `under`: `depth_at_keypoints`, when already read.
    """
    batch, _, height, width = depth_m.shape
    under = depth_at_keypoints(depth_m, keypoints_h36m, size) if under is None else under
    under = torch.where((under > 0) & (keypoints_h36m[..., 2] > 0), under, torch.full_like(under, float("nan")))
    centre = depth_m[:, 0, height // 4 : height - height // 4, width // 4 : width - width // 4].reshape(batch, -1)
    centre = torch.where(centre > 0, centre, torch.full_like(centre, float("nan")))
    from_keypoints = torch.nanmedian(under, dim=1).values
    person = torch.where(torch.isfinite(from_keypoints), from_keypoints, torch.nanmedian(centre, dim=1).values)
    known = torch.isfinite(person)
    return torch.where(known, person, torch.ones_like(person)), known


def relative_depth_map(depth_m: torch.Tensor, person_m: torch.Tensor) -> torch.Tensor:
    """Depth crops (B, 1, H, W) -> RELATIVE_DEPTH_GAIN x log(d / d_person), clamped; 0 where no surface."""
    safe = torch.where(depth_m > 0, depth_m, person_m.reshape(-1, 1, 1, 1))
    relative = (RELATIVE_DEPTH_GAIN * torch.log(safe / person_m.reshape(-1, 1, 1, 1))).clamp(-3.0, 3.0)
    return torch.where(depth_m > 0, relative, torch.zeros_like(relative))


def depth_at_keypoints(depth_m: torch.Tensor, keypoints: torch.Tensor, size: int) -> torch.Tensor:
    """Depth (B, J) in metres under each keypoint (B, J, >=2; crop pixels of a crop of side `size`).

    Nearest sampling of the depth crop (B, 1, H, W) aligned with the RGB crop, so a silhouette
    edge is never blended with "no surface" (0); outside the crop the border is read.
    """
    grid = common.normalise_pixels(keypoints[..., :2], size).unsqueeze(2)
    at_joint = nn.functional.grid_sample(depth_m, grid, mode="nearest", padding_mode="border", align_corners=False)
    return at_joint[:, 0, :, 0]


def relative_depth_cues(depth_m: torch.Tensor, keypoints_h36m: torch.Tensor, frame: KeypointFrame, size: int,
                        person: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
    """Scale-free depth cues (B, DEPTH_CUES_DIM) from depth crops (B, 1, H, W, metres, 0 = no surface).

    Per joint: valid, and `relative_depth_map` under the keypoint (`depth_at_keypoints`). Globally:
    whether the person's depth d_p is known, and log(d_p / z_ref) with the keypoints'
    weak-perspective z_ref, the root depth cue. A global scale error of the depth map cancels in
    every per-joint cue. `person`: `person_depth`'s result, when the caller already has it.
    """
    at_joint = depth_at_keypoints(depth_m, keypoints_h36m, size)
    person, known = person_depth(depth_m, keypoints_h36m, size, under=at_joint) if person is None else person
    valid = (at_joint > 0) & (keypoints_h36m[..., 2] > 0) & known[:, None]
    relative = relative_depth_map(at_joint[:, None, :, None], person)[:, 0, :, 0]
    relative = torch.where(valid, relative, torch.zeros_like(relative))
    root_cue = torch.where(known, torch.log(person * 1000.0 / frame.reference_depth_mm()), torch.zeros_like(person))
    joint_cues = torch.stack([valid.to(depth_m.dtype), relative], dim=-1).flatten(1)
    return torch.cat([joint_cues, known.to(depth_m.dtype)[:, None], root_cue[:, None]], dim=1)


class ResidualBlock(nn.Module):
    """Two (Linear, BatchNorm, ReLU, Dropout) layers with a skip connection, as in Martinez et al."""

    def __init__(self, width: int, dropout: float) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(width, width), nn.BatchNorm1d(width), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(width, width), nn.BatchNorm1d(width), nn.ReLU(), nn.Dropout(dropout),
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features + self.layers(features)


class LiftingNetwork(nn.Module):
    """Features (B, in_dim) -> residual MLP (Martinez et al. 2017) -> raw lifting output (B, OUTPUT_DIM).

    The last layer starts near zero: an untrained network predicts a root-relative pose of zeros
    and the weak-perspective root.
    """

    def __init__(self, in_dim: int, width: int, blocks: int, dropout: float, out_dim: int = OUTPUT_DIM) -> None:
        super().__init__()
        out = nn.Linear(width, out_dim)
        nn.init.normal_(out.weight, std=1e-3)
        nn.init.zeros_(out.bias)
        self.layers = nn.Sequential(
            nn.Linear(in_dim, width), nn.BatchNorm1d(width), nn.ReLU(), nn.Dropout(dropout),
            *[ResidualBlock(width, dropout) for _ in range(blocks)],
            out,
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return common.run_in_float32(self.layers, features)

    def output_zero(self) -> None:
        """Zero the last layer: as a correction to a base model's output, the network starts at exactly none."""
        nn.init.zeros_(self.layers[-1].weight)
        nn.init.zeros_(self.layers[-1].bias)


class ImageLiftingNetwork(LiftingNetwork):
    """An image model's lifting network: its features (plus a base lifter's raw output) -> pose + log scale.

    With a base it reads the base's raw output beside the image features and starts with a zero
    output layer, so an untrained image model predicts exactly the base lifter's pose.
    """

    def __init__(self, in_dim: int, width: int, blocks: int, dropout: float, corrects_base: bool) -> None:
        super().__init__(in_dim + OUTPUT_DIM * corrects_base, width, blocks, dropout, SCALED_OUTPUT_DIM)
        if corrects_base:
            self.output_zero()

    def predict(self, parts: list[torch.Tensor], frame: KeypointFrame,
                base_raw: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """The feature parts (and the base's raw output, when there is a base) -> the common model output dict."""
        features = torch.cat(parts if base_raw is None else [*parts, base_raw], dim=1)
        return decode_scaled(self(features), frame, base_raw)


def decode_scaled(output: torch.Tensor, frame: KeypointFrame,
                  base_raw: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """An image model's lifting output (B, SCALED_OUTPUT_DIM) -> the common model output dict.

    The first OUTPUT_DIM values are `decode`'s raw output, added to a base lifter's raw output
    (`base_raw`) when there is one; the last is the log of a factor on the root-relative pose. The
    2D pose fixes a pose's shape but not its size (subjects differ by tens of percent in height),
    which metric depth can tell (the person's depth times the 2D radius); as one multiplicative
    factor, a size learnt from the depth cues resizes the whole pose, which an additive correction
    of 51 coordinates would have to learn joint by joint.
    """
    raw, log_scale = output[:, :OUTPUT_DIM], output[:, OUTPUT_DIM]
    return decode(raw if base_raw is None else raw + base_raw, frame, log_scale)


def decode(raw: torch.Tensor, frame: KeypointFrame, log_scale: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Raw output (B, OUTPUT_DIM) -> the common model output dict (camera mm).

    raw = 17 x 3 root-relative joints (metres; joint 0 is re-centred to 0), the root's 2D offset
    from the pelvis keypoint (or the centroid) in radii, and log(z / z_ref). `log_scale` (B,):
    the root-relative joints are multiplied by its exponential.
    """
    joints, root = common.NUM_JOINTS, skeleton.ROOT_JOINT
    relative_mm = 1000.0 * raw[:, : joints * 3].reshape(-1, joints, 3)
    if log_scale is not None:
        relative_mm = relative_mm * torch.exp(log_scale)[:, None, None]
    relative_mm = relative_mm - relative_mm[:, root : root + 1]
    pelvis = torch.where(frame.present[:, root, None], frame.normalised[:, root, :2], frame.centre)
    root_xy = pelvis + raw[:, joints * 3 : joints * 3 + 2] * frame.radius[:, None]
    root_depth_mm = frame.reference_depth_mm() * torch.exp(raw[:, -1])
    root_mm = torch.cat([root_xy * root_depth_mm[:, None], root_depth_mm[:, None]], dim=1)
    return {
        "joints_rel_mm": relative_mm,
        "root_mm": root_mm,
        "joints_mm": relative_mm + root_mm[:, None],
        "root_depth_mm": root_depth_mm,
    }
