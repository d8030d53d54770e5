"""A CNN pose model: a timm backbone over RGB + depth + keypoint heatmaps, lifted with the keypoints."""

from __future__ import annotations

import logging
from pathlib import Path

import timm
import torch
from torch import nn

from pose3d.config import CnnConfig
from pose3d.models import common, lifting
from pose3d.models.base_lifter import FrozenLifter
from pose3d.models.inputs import blank_keypoints, check_inputs

log = logging.getLogger(__name__)
LIFTING_BLOCKS = 2  # residual blocks of the lifting network after the backbone (as the lifter's)


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
    """RGB (3) + relative depth (1) + keypoint heatmaps (17) -> timm backbone -> lifting network -> pose.

    The lifting network (`lifting.LiftingNetwork`, as the lifter's) reads the backbone's features
    beside the camera-normalised keypoint encoding and the scale-free depth cues at the keypoints,
    and regresses the root-relative pose directly (`lifting.decode`): the image adds what the 2D
    pose cannot tell, and an error of the depth map's absolute scale cannot scale the skeleton.
    `config.inputs` switches modalities off: their channels and features are dropped, and without
    keypoints every joint is treated as undetected (the crop stands in for the 2D pose).
    With a `base` (a frozen trained lifter) the lifting network also reads the lifter's raw output
    and corrects it (`pose3d.models.base_lifter`). The output's last value scales the root-relative
    pose (`lifting.decode_scaled`): the size a 2D pose cannot tell, from the depth cues.
    """

    def __init__(self, config: CnnConfig, image_size: int, keypoints_layout: str,
                 base: FrozenLifter | None = None) -> None:
        super().__init__()
        self.base = base  # the frozen lifter this model corrects (model.<name>.base_model), or None
        self.config = config
        self.image_size = image_size
        self.keypoints_layout = keypoints_layout
        self.inputs = check_inputs(config.inputs, "model.cnn.inputs")
        num_keypoints = common.NUM_JOINTS
        uses = {name: name in self.inputs for name in ("rgb", "depth", "keypoints")}
        in_chans = 3 * uses["rgb"] + 1 * uses["depth"] + num_keypoints * uses["keypoints"]
        self.backbone = create_backbone(config, in_chans=in_chans)
        backbone_dim = getattr(self.backbone, "head_hidden_size", None) or self.backbone.num_features  # after any head conv
        features = backbone_dim + lifting.ENCODING_DIM + lifting.DEPTH_CUES_DIM * uses["depth"]
        self.lifting = lifting.ImageLiftingNetwork(features, config.hidden_dim, LIFTING_BLOCKS, config.dropout,
                                                   corrects_base=base is not None)

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        size = self.image_size
        keypoints = blank_keypoints(common.clean_keypoints(batch["keypoints_2d"].float()), self.inputs)
        keypoints_h36m = common.keypoints_to_h36m(keypoints, self.keypoints_layout)
        frame = lifting.keypoint_frame(keypoints_h36m, batch["intrinsics"].float(), batch["crop"].float(), size)
        resize = {"size": (size, size), "mode": "bilinear", "align_corners": False}
        channels = []
        if "rgb" in self.inputs:
            channels.append(common.normalise_image(batch["image"].float()))
        if "depth" in self.inputs:
            depth_m = batch["depth"].float()
            person = lifting.person_depth(depth_m, keypoints_h36m, size)
            channels.append(nn.functional.interpolate(lifting.relative_depth_map(depth_m, person[0]), **resize))
        if "keypoints" in self.inputs:
            heatmaps = common.keypoint_heatmaps(keypoints, size, self.config.heatmap_size, self.config.heatmap_sigma)
            channels.append(nn.functional.interpolate(heatmaps, **resize))
        parts = [self.backbone(torch.cat(channels, dim=1)), frame.encoding()]
        if "depth" in self.inputs:
            parts.append(lifting.relative_depth_cues(depth_m, keypoints_h36m, frame, size, person))
        return self.lifting.predict(parts, frame, None if self.base is None else self.base(batch))
