"""A reference for the accuracy benchmark: VideoPose3D's single-frame model, trained its way.

Pavllo et al. 2019 (facebookresearch/VideoPose3D), `TemporalModel` with filter_widths=[1]
(receptive field 1), re-implemented from its description, not copied:
  model     Conv1d(2 x 17 -> 1024, kernel 1, no bias), BatchNorm, ReLU, Dropout(0.25),
            Conv1d(1024 -> 17 x 3, kernel 1). With one filter width there is no residual block.
  input     2D keypoints (x, y; scores unused) in screen coordinates of the original image,
            x / w * 2 - 1 and y / w * 2 - h / w (`normalize_screen_coordinates`). The image size
            is not in our shards; w = 2 cx, h = 2 cy (a centred principal point).
  target    camera-space 3D joints relative to the root, in metres, the root set to 0.
  recipe    loss MPJPE (mean Euclidean joint error, the root included, no re-centring);
            Adam(lr 1e-3, amsgrad); lr x 0.95 after every epoch; BatchNorm momentum decayed
            from 0.1 to 0.001 exponentially over the epochs; batch 1024; 60 epochs; every sample
            seen both as is and mirrored each epoch (`augment`); at test time the prediction is
            the mean of the input's and the mirrored input's (mirrored back); the model after the
            last epoch is the one evaluated (no selection).
Mirroring: x -> -x in screen coordinates and 3D, left/right joints swapped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from pose3d import skeleton


@dataclass(frozen=True)
class Recipe:
    channels: int = 1024
    dropout: float = 0.25
    lr: float = 1e-3
    lr_decay: float = 0.95
    batch_size: int = 1024
    epochs: int = 60
    initial_momentum: float = 0.1
    final_momentum: float = 0.001
    seed: int = 1234


class SingleFrameModel(nn.Module):
    """TemporalModel(17, 2, 17, filter_widths=[1]) on single frames: (B, 17, 2) -> (B, 17, 3)."""

    def __init__(self, joints_in: int, joints_out: int, channels: int, dropout: float) -> None:
        super().__init__()
        self.joints_out = joints_out
        self.expand = nn.Conv1d(joints_in * 2, channels, 1, bias=False)
        self.norm = nn.BatchNorm1d(channels, momentum=0.1)
        self.drop = nn.Dropout(dropout)
        self.shrink = nn.Conv1d(channels, joints_out * 3, 1)

    def set_bn_momentum(self, momentum: float) -> None:
        self.norm.momentum = momentum

    def forward(self, keypoints: torch.Tensor) -> torch.Tensor:
        frames = keypoints.flatten(1)[:, :, None]  # one frame: a sequence of length 1
        hidden = self.drop(torch.relu(self.norm(self.expand(frames))))
        return self.shrink(hidden)[:, :, 0].reshape(-1, self.joints_out, 3)


def screen_coordinates(keypoints: np.ndarray, intrinsics: np.ndarray, crop: np.ndarray) -> np.ndarray:
    """Keypoints (N, 17, 3) in crop pixels -> (N, 17, 2) VideoPose3D screen coordinates (see module doc)."""
    original = keypoints[..., :2] * crop[:, None, 2:3] + crop[:, None, 0:2]
    width, height = 2.0 * intrinsics[:, None, 2:3], 2.0 * intrinsics[:, None, 3:4]
    scale = np.concatenate([width, width], axis=-1)
    offset = np.concatenate([np.ones_like(width), height / width], axis=-1)
    return (original / scale * 2.0 - offset).astype(np.float32)


def _mirror_2d(screen: torch.Tensor, permutation: list[int]) -> torch.Tensor:
    mirrored = screen[:, permutation].clone()
    mirrored[..., 0] *= -1
    return mirrored


def _mirror_3d(joints: torch.Tensor) -> torch.Tensor:
    mirrored = joints[:, list(skeleton.H36M17.flip_permutation)].clone()
    mirrored[..., 0] *= -1
    return mirrored


def _mpjpe(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return (predicted - target).norm(dim=-1).mean()


def train(
    screen: np.ndarray, joints_mm: np.ndarray, keypoints_layout: str, recipe: Recipe = Recipe()
) -> SingleFrameModel:
    """Train on 2D screen coordinates (N, 17, 2) and absolute camera joints (N, 17, 3) mm; returns the model."""
    torch.manual_seed(recipe.seed)
    rng = np.random.RandomState(recipe.seed)
    permutation_2d = list(skeleton.get_layout(keypoints_layout).flip_permutation)
    inputs = torch.from_numpy(screen)
    root = skeleton.ROOT_JOINT
    targets = torch.from_numpy(((joints_mm - joints_mm[:, root : root + 1]) / 1000.0).astype(np.float32))
    model = SingleFrameModel(inputs.shape[1], targets.shape[1], recipe.channels, recipe.dropout)
    optimizer = torch.optim.Adam(model.parameters(), lr=recipe.lr, amsgrad=True)
    # Every sample twice per epoch: as is and mirrored (VideoPose3D's ChunkedGenerator with augment).
    pairs = np.concatenate([np.stack([np.arange(len(inputs)), np.zeros(len(inputs), int)], 1),
                            np.stack([np.arange(len(inputs)), np.ones(len(inputs), int)], 1)])
    for epoch in range(recipe.epochs):
        model.train()
        order = pairs[rng.permutation(len(pairs))]
        for start in range(0, len(order), recipe.batch_size):
            chunk = order[start : start + recipe.batch_size]
            index, flip = torch.from_numpy(chunk[:, 0]), torch.from_numpy(chunk[:, 1].astype(bool))
            batch_2d, batch_3d = inputs[index].clone(), targets[index].clone()
            if flip.any():
                batch_2d[flip] = _mirror_2d(batch_2d[flip], permutation_2d)
                batch_3d[flip] = _mirror_3d(batch_3d[flip])
            batch_3d[:, root] = 0.0
            loss = _mpjpe(model(batch_2d), batch_3d)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        for group in optimizer.param_groups:
            group["lr"] *= recipe.lr_decay
        momentum = recipe.initial_momentum * np.exp(
            -(epoch + 1) / recipe.epochs * np.log(recipe.initial_momentum / recipe.final_momentum)
        )
        model.set_bn_momentum(float(momentum))
    return model.eval()


@torch.no_grad()
def predict_mm(model: SingleFrameModel, screen: np.ndarray, keypoints_layout: str, batch_size: int = 4096) -> np.ndarray:
    """Root-relative joints (N, 17, 3) mm, averaged with the mirrored input's prediction (test-time flip)."""
    permutation_2d = list(skeleton.get_layout(keypoints_layout).flip_permutation)
    model.eval()
    out = []
    for start in range(0, len(screen), batch_size):
        batch = torch.from_numpy(screen[start : start + batch_size])
        plain = model(batch)
        mirrored = _mirror_3d(model(_mirror_2d(batch, permutation_2d)))
        out.append(((plain + mirrored) / 2.0).numpy() * 1000.0)
    return np.concatenate(out).astype(np.float64)
