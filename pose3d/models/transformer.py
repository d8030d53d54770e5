"""A transformer pose model: RGB + depth patch tokens, one token per joint, a root token."""

from __future__ import annotations

import torch
from torch import nn

from pose3d.config import TransformerConfig
from pose3d.models import common, lifting
from pose3d.models.base_lifter import FrozenLifter
from pose3d.models.inputs import blank_keypoints, check_inputs

JOINT_READOUT_DIM = 16  # per-joint features each encoded joint token hands to the lifting network
LIFTING_BLOCKS = 2  # residual blocks of the lifting network after the encoder (as the lifter's)


class TransformerPoseModel(nn.Module):
    """Tokens: (S/p)^2 patches of RGB + relative depth, 17 Human3.6M joint tokens, 1 root token.

    A joint token embeds the joint's place in the camera-normalised 2D pose (`lifting.KeypointFrame`)
    and the scale-free depth cue read at it; keypoints in COCO-17 are first converted to
    Human3.6M-17, so joint token j describes joint j. The root token starts from where the person
    is and how large (centroid, log radius) and the person's depth cue. After the encoder, the root
    token and a short read-out of every joint token go, beside the keypoint encoding and the depth
    cues, into the same lifting network as the CNN's, which regresses the root-relative pose
    directly (`lifting.decode`).
    `config.inputs` switches modalities off: rgb or depth channels leave the patches (no patch
    tokens without either), and without keypoints every joint token sees an undetected joint.
    With a `base` (a frozen trained lifter) the lifting network also reads the lifter's raw output
    and corrects it (`pose3d.models.base_lifter`). The output's last value scales the root-relative
    pose (`lifting.decode_scaled`): the size a 2D pose cannot tell, from the depth cues.
    """

    def __init__(self, config: TransformerConfig, image_size: int, keypoints_layout: str,
                 base: FrozenLifter | None = None) -> None:
        super().__init__()
        self.base = base  # the frozen lifter this model corrects (model.<name>.base_model), or None
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
        self.joint_embed = nn.Sequential(nn.Linear(5, width), nn.GELU(), nn.Linear(width, width))
        self.joint_identity = nn.Parameter(torch.randn(1, common.NUM_JOINTS, width) * 0.02)
        self.root_embed = nn.Linear(5, width)
        self.root_token = nn.Parameter(torch.randn(1, 1, width) * 0.02)
        layer = nn.TransformerEncoderLayer(
            d_model=width, nhead=config.num_heads, dim_feedforward=int(width * config.mlp_ratio),
            dropout=config.dropout, activation="gelu", batch_first=True, norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, num_layers=config.depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)
        self.joint_readout = nn.Linear(width, JOINT_READOUT_DIM)
        features = width + common.NUM_JOINTS * JOINT_READOUT_DIM + lifting.ENCODING_DIM + lifting.DEPTH_CUES_DIM
        self.lifting = lifting.ImageLiftingNetwork(features, 2 * width, LIFTING_BLOCKS, config.dropout,
                                                   corrects_base=base is not None)

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        size, joints = self.image_size, common.NUM_JOINTS
        keypoints = blank_keypoints(common.clean_keypoints(batch["keypoints_2d"].float()), self.inputs)
        keypoints = common.keypoints_to_h36m(keypoints, self.keypoints_layout)
        frame = lifting.keypoint_frame(keypoints, batch["intrinsics"].float(), batch["crop"].float(), size)
        encoding = frame.encoding()
        channels = []
        if "rgb" in self.inputs:
            channels.append(common.normalise_image(batch["image"].float()))
        if "depth" in self.inputs:
            depth_m = batch["depth"].float()
            person_m = lifting.person_depth(depth_m, keypoints, size)
            depth = lifting.relative_depth_map(depth_m, person_m[0])
            channels.append(nn.functional.interpolate(depth, size=(size, size), mode="bilinear", align_corners=False))
            depth_cues = lifting.relative_depth_cues(depth_m, keypoints, frame, size, person_m)
        else:
            depth_cues = encoding.new_zeros(encoding.shape[0], lifting.DEPTH_CUES_DIM)  # "no depth known"
        per_joint = torch.cat([encoding[:, : joints * 3].reshape(-1, joints, 3),
                               depth_cues[:, : joints * 2].reshape(-1, joints, 2)], dim=-1)
        person = torch.cat([encoding[:, joints * 3 :], depth_cues[:, joints * 2 :]], dim=-1)
        root = self.root_token + self.root_embed(person)[:, None]
        sequence = [root, self.joint_embed(per_joint) + self.joint_identity]
        if self.patch_embed is not None:
            patches = self.patch_embed(torch.cat(channels, dim=1))
            sequence.append(patches.flatten(2).transpose(1, 2) + self.patch_position)
        tokens = self.norm(self.encoder(torch.cat(sequence, dim=1)))
        readout = self.joint_readout(tokens[:, 1 : 1 + joints]).flatten(1)
        parts = [tokens[:, 0], readout, encoding, depth_cues]
        return self.lifting.predict(parts, frame, None if self.base is None else self.base(batch))
