"""A CNN pose model: a timm backbone over RGB + depth + keypoint heatmaps as input channels."""

from __future__ import annotations

import logging
from pathlib import Path

import timm
import torch
from torch import nn

from pose3d.config import CnnConfig
from pose3d.models import common
from pose3d.models.inputs import blank_keypoints, check_inputs

log = logging.getLogger(__name__)


def create_backbone(config: CnnConfig, in_chans: int) -> nn.Module:
    """A timm feature extractor (global-pooled, no classifier) with `in_chans` input channels.

    `config.pretrained` is false (random init) or a local checkpoint file; its RGB first-layer
    weights are adapted to `in_chans` by timm. Nothing is ever downloaded.
    """
    pretrained = config.pretrained
    if pretrained is False or pretrained in ("", None):
        return timm.create_model(config.backbone, pretrained=False, in_chans=in_chans, num_classes=0)
    if pretrained is True:
        raise ValueError(
            "config key 'model.cnn.pretrained': true would download weights; give a local checkpoint path instead"
        )
    path = Path(str(pretrained))
    if not path.is_file():
        raise FileNotFoundError(f"config key 'model.cnn.pretrained': checkpoint file {path} does not exist")
    log.info("loading %s backbone weights from %s", config.backbone, path)
    return timm.create_model(
        config.backbone, pretrained=True, pretrained_cfg_overlay={"file": str(path)},
        in_chans=in_chans, num_classes=0,
    )


class CnnPoseModel(nn.Module):
    """RGB (3) + normalised depth (1) + keypoint heatmaps (17) -> timm backbone -> MLP -> pose.

    The head also sees the normalised keypoints and the depth cues at them
    (`common.keypoint_depth_features`), so the 2D pose reaches it without having to be re-read
    from the heatmaps. Output: per-joint 2.5D offsets and the root offset (`common.assemble_output`).
    `config.inputs` switches modalities off: their channels and head features are dropped, and
    without keypoints every joint is treated as undetected (the 2.5D base is the crop centre).
    """

    def __init__(self, config: CnnConfig, image_size: int, keypoints_layout: str) -> None:
        super().__init__()
        self.config = config
        self.image_size = image_size
        self.keypoints_layout = keypoints_layout
        self.inputs = check_inputs(config.inputs, "model.cnn.inputs")
        num_keypoints = common.NUM_JOINTS
        uses = {name: name in self.inputs for name in ("rgb", "depth", "keypoints")}
        in_chans = 3 * uses["rgb"] + 1 * uses["depth"] + num_keypoints * uses["keypoints"]
        self.backbone = create_backbone(config, in_chans=in_chans)
        features = (
            self.backbone.num_features
            + num_keypoints * 3 * uses["keypoints"]
            + common.NUM_JOINTS * 3 * (uses["keypoints"] and uses["depth"])
        )
        self.head = common.RegressionHead(features, config.hidden_dim, common.NUM_JOINTS * 3 + 3, config.dropout)

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        size = self.image_size
        keypoints = blank_keypoints(common.clean_keypoints(batch["keypoints_2d"].float()), self.inputs)
        intrinsics = common.crop_intrinsics_of(batch)
        reference_mm = common.reference_depth_mm(intrinsics, size)
        resize = {"size": (size, size), "mode": "bilinear", "align_corners": False}
        channels = []
        if "rgb" in self.inputs:
            channels.append(common.normalise_image(batch["image"].float()))
        if "depth" in self.inputs:
            depth_m = batch["depth"].float()
            channels.append(nn.functional.interpolate(common.normalise_depth(depth_m, reference_mm), **resize))
        if "keypoints" in self.inputs:
            heatmaps = common.keypoint_heatmaps(keypoints, size, self.config.heatmap_size, self.config.heatmap_sigma)
            channels.append(nn.functional.interpolate(heatmaps, **resize))
        head_parts = [self.backbone(torch.cat(channels, dim=1))]
        keypoints_h36m = common.keypoints_to_h36m(keypoints, self.keypoints_layout)
        if "keypoints" in self.inputs:
            head_parts.append(common.normalise_keypoints(keypoints, size).flatten(1))
            if "depth" in self.inputs:
                head_parts.append(common.keypoint_depth_features(depth_m, keypoints_h36m, reference_mm, size).flatten(1))
        head_input = torch.cat(head_parts, dim=1)
        raw = common.run_in_float32(self.head, head_input)
        joint_offsets = raw[:, : common.NUM_JOINTS * 3].reshape(-1, common.NUM_JOINTS, 3)
        return common.assemble_output(joint_offsets, raw[:, -3:], keypoints_h36m, intrinsics, size)
