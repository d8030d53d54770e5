"""The training loss: root-relative joint errors, inter-joint distances and the absolute root, in metres."""

from __future__ import annotations

import torch

from pose3d import skeleton
from pose3d.config import LossWeights
from pose3d.metrics import root_relative

MM_PER_M = 1000.0


def pairwise_distances(joints: torch.Tensor) -> torch.Tensor:
    """Distances (B, P) between every pair of joints i < j (bones included); joints (B, J, 3)."""
    rows, cols = torch.triu_indices(joints.shape[1], joints.shape[1], offset=1, device=joints.device)
    return (joints[:, rows] - joints[:, cols]).norm(dim=-1)


class PoseLoss:
    """Weighted sum of four terms, all in metres (weights from `config.train.loss`):

    - mse: mean squared error of root-relative joints (m^2)
    - l1: mean absolute error of root-relative joints (m)
    - distance: mean absolute error of all pairwise inter-joint distances (m)
    - root: mean absolute error of the absolute root position (m)

    `__call__(prediction, batch)` takes the model output (joints_rel_mm, root_mm) and the batch
    (joints_3d, absolute camera mm) and returns (total, components); the components are detached
    scalar tensors (call `.item()` when logging) plus `mpjpe_mm` for monitoring.
    """

    def __init__(self, weights: LossWeights) -> None:
        self.weights = weights

    def __call__(
        self, prediction: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        target_mm = batch["joints_3d"].to(prediction["joints_rel_mm"].dtype)
        target_rel = root_relative(target_mm) / MM_PER_M
        predicted_rel = root_relative(prediction["joints_rel_mm"]) / MM_PER_M
        error = predicted_rel - target_rel
        terms = {
            "mse": error.square().mean(),
            "l1": error.abs().mean(),
            "distance": (pairwise_distances(predicted_rel) - pairwise_distances(target_rel)).abs().mean(),
            "root": (prediction["root_mm"] - target_mm[:, skeleton.ROOT_JOINT]).abs().mean() / MM_PER_M,
        }
        total = sum(getattr(self.weights, name) * value for name, value in terms.items())
        components = {name: value.detach() for name, value in terms.items()}
        components["total"] = total.detach()
        components["mpjpe_mm"] = (error.detach().norm(dim=-1).mean() * MM_PER_M)
        return total, components
