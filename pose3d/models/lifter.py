"""A 2D-to-3D lifter: camera-normalised 2D keypoints -> Human3.6M-17 joints (Martinez et al. 2017).

The field's single-frame baseline: no image and no depth, only where the 2D joints are. Keypoints
are read in camera-normalised coordinates ((u - cx) / fx, (v - cy) / fy) of the original image, so
the model does not depend on the image size, the crop or the focal length.
"""

from __future__ import annotations

import torch
from torch import nn

from pose3d.config import LifterConfig
from pose3d.models import common, lifting
from pose3d.models.inputs import check_inputs


class LifterPoseModel(nn.Module):
    """2D keypoints -> residual MLP -> root-relative joints and the absolute root.

    The input is `lifting.KeypointFrame.encoding` (per joint the centred, radius-scaled normalised
    keypoint and its score; the centroid and log radius), the output `lifting.decode`'s. A missing
    joint (score 0) enters as zeros. `config.inputs: [keypoints, depth]` appends the scale-free
    depth cues at the keypoints (`lifting.relative_depth_cues`). The baseline (`model.lifter`)
    stays keypoints-only; `model.depth_lifter` reads the cues and is the image models' base.
    """

    def __init__(self, config: LifterConfig, image_size: int, keypoints_layout: str) -> None:
        super().__init__()
        self.config = config
        self.image_size = image_size  # the crop side: depth cues and the no-keypoint fallback read it
        self.keypoints_layout = keypoints_layout
        self.inputs = check_inputs(config.inputs, "model.lifter.inputs")
        if "rgb" in self.inputs or "keypoints" not in self.inputs:
            raise ValueError(f"config key 'model.lifter.inputs': {list(config.inputs)}; allowed: [keypoints] "
                             "or [keypoints, depth]")
        features = lifting.ENCODING_DIM + lifting.DEPTH_CUES_DIM * ("depth" in self.inputs)
        self.network = lifting.LiftingNetwork(features, config.hidden_dim, config.blocks, config.dropout)

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return lifting.decode(*self.raw(batch))

    def raw(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, lifting.KeypointFrame]:
        """The raw lifting output (B, lifting.OUTPUT_DIM) and the keypoint frame it is decoded in."""
        keypoints = common.clean_keypoints(batch["keypoints_2d"].float())
        keypoints = common.keypoints_to_h36m(keypoints, self.keypoints_layout)
        frame = lifting.keypoint_frame(keypoints, batch["intrinsics"].float(), batch["crop"].float(), self.image_size)
        features = [frame.encoding()]
        if "depth" in self.inputs:
            features.append(lifting.relative_depth_cues(batch["depth"].float(), keypoints, frame, self.image_size))
        return self.network(torch.cat(features, dim=1)), frame
