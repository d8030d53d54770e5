"""A transformer pose model: RGB + depth patch tokens, one token per joint, a root token."""

from __future__ import annotations

import torch
from torch import nn

from pose3d.config import TransformerConfig
from pose3d.models import common
from pose3d.models.inputs import blank_keypoints, check_inputs


class TransformerPoseModel(nn.Module):
    """Tokens: (S/p)^2 patches of RGB + depth, 17 Human3.6M joint tokens, 1 root token.

    A joint token embeds the joint's normalised 2D position and score and the depth cues read at
    it (`common.keypoint_depth_features`); keypoints in COCO-17 are first converted to
    Human3.6M-17, so joint token j predicts joint j. Each joint token is read out as that joint's
    2.5D offsets (pixel residual, depth relative to the root); the root token gives the pelvis
    2D offset and log(z / z_ref) (see `common.assemble_output`).
    `config.inputs` switches modalities off: rgb or depth channels leave the patches (no patch
    tokens without either), and without keypoints every joint token sees an undetected joint.
    """

    def __init__(self, config: TransformerConfig, image_size: int, keypoints_layout: str) -> None:
        super().__init__()
        if image_size % config.patch_size:
            raise ValueError(f"patch size {config.patch_size} must divide the image size {image_size}")
        self.config = config
        self.image_size = image_size
        self.keypoints_layout = keypoints_layout
        width = config.embed_dim
        self.inputs = check_inputs(config.inputs, "model.transformer.inputs")
        patch_channels = 3 * ("rgb" in self.inputs) + 1 * ("depth" in self.inputs)
        num_patches = (image_size // config.patch_size) ** 2
        self.patch_embed = None
        if patch_channels:
            self.patch_embed = nn.Conv2d(patch_channels, width, kernel_size=config.patch_size, stride=config.patch_size)
            self.patch_position = nn.Parameter(torch.randn(1, num_patches, width) * 0.02)
        self.joint_embed = nn.Sequential(nn.Linear(6, width), nn.GELU(), nn.Linear(width, width))
        self.joint_identity = nn.Parameter(torch.randn(1, common.NUM_JOINTS, width) * 0.02)
        self.root_token = nn.Parameter(torch.randn(1, 1, width) * 0.02)
        layer = nn.TransformerEncoderLayer(
            d_model=width, nhead=config.num_heads, dim_feedforward=int(width * config.mlp_ratio),
            dropout=config.dropout, activation="gelu", batch_first=True, norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, num_layers=config.depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)
        self.joint_head = nn.Linear(width, 3)
        self.root_head = nn.Linear(width, 3)
        for head in (self.joint_head, self.root_head):
            nn.init.normal_(head.weight, std=1e-3)
            nn.init.zeros_(head.bias)

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        size = self.image_size
        keypoints = blank_keypoints(common.clean_keypoints(batch["keypoints_2d"].float()), self.inputs)
        keypoints = common.keypoints_to_h36m(keypoints, self.keypoints_layout)
        intrinsics = common.crop_intrinsics_of(batch)
        reference_mm = common.reference_depth_mm(intrinsics, size)
        channels = []
        if "rgb" in self.inputs:
            channels.append(common.normalise_image(batch["image"].float()))
        if "depth" in self.inputs:
            depth_m = batch["depth"].float()
            depth = common.normalise_depth(depth_m, reference_mm)
            channels.append(nn.functional.interpolate(depth, size=(size, size), mode="bilinear", align_corners=False))
            depth_cues = common.keypoint_depth_features(depth_m, keypoints, reference_mm, size)
        else:
            depth_cues = torch.zeros_like(keypoints)  # "no depth known" at every joint
        joint_features = torch.cat([common.normalise_keypoints(keypoints, size), depth_cues], dim=-1)
        joints = self.joint_embed(joint_features) + self.joint_identity
        root = self.root_token.expand(keypoints.shape[0], -1, -1)
        sequence = [root, joints]
        if self.patch_embed is not None:
            patches = self.patch_embed(torch.cat(channels, dim=1))
            sequence.append(patches.flatten(2).transpose(1, 2) + self.patch_position)
        tokens = self.norm(self.encoder(torch.cat(sequence, dim=1)))
        root_offset = common.run_in_float32(self.root_head, tokens[:, 0])
        joint_offsets = common.run_in_float32(self.joint_head, tokens[:, 1 : 1 + common.NUM_JOINTS])
        return common.assemble_output(joint_offsets, root_offset, keypoints, intrinsics, size)
