"""A trained lifter as the frozen base of an image model, which learns a correction on top.

With `model.<cnn|transformer>.base_model: lifter` (or `depth_lifter`, the lifter that also reads
the depth cues at the keypoints) the image model starts from that trained lifter's pose (its
`best.pt`, chosen on the validation subjects) and its own lifting network
adds a correction to the lifter's raw output (`lifting.decode` then reads the sum). The lifting
network's last layer starts near zero, so an untrained image model predicts the lifter's pose,
and the image and depth only have to learn what the 2D pose gets wrong. Trained from scratch, an
image model first has to relearn the 2D-to-3D mapping the lifter already has; on a short budget
it never catches up. The base stays frozen (no gradient, batch-norm statistics kept, eval mode
even while the image model trains) and is saved inside the image model's checkpoints, so such
a checkpoint is self-contained.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import nn

from pose3d.models.lifter import LifterPoseModel

log = logging.getLogger(__name__)


class FrozenLifter(nn.Module):
    """A lifter whose weights never change and that always runs in eval mode.

    `model_name` is the trained model it must come from (lifter | depth_lifter); it is no weight,
    so checkpoints of either base hold the same keys (`base.lifter.*`).
    """

    def __init__(self, lifter: LifterPoseModel, model_name: str = "lifter") -> None:
        super().__init__()
        self.lifter = lifter
        self.model_name = model_name
        for parameter in self.lifter.parameters():
            parameter.requires_grad_(False)
        self.train(False)

    def train(self, mode: bool = True) -> FrozenLifter:
        """Always eval: dropout off and the base's own batch-norm statistics, while the model above trains."""
        return super().train(False)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The lifter's raw lifting output (B, lifting.OUTPUT_DIM), without gradient."""
        with torch.no_grad():
            return self.lifter.raw(batch)[0]


def load_base_lifter(model: nn.Module, path: str | Path) -> None:
    """Fill `model.base` with the lifter weights of the training checkpoint (or best.pt) at `path`."""
    from pose3d.validation import load_state_checked, read_checkpoint_file

    base = getattr(model, "base", None)
    if not isinstance(base, FrozenLifter):
        raise ValueError(f"{type(model).__name__} has no base lifter (model.<name>.base_model is none)")
    path = Path(path)
    checkpoint = read_checkpoint_file(path, "cpu")
    name = checkpoint.get("model_name") if isinstance(checkpoint, dict) else None
    if name != base.model_name:
        raise ValueError(f"base checkpoint {path} holds model {name!r}, not the configured base {base.model_name!r}")
    if checkpoint.get("keypoints_layout") != base.lifter.keypoints_layout:
        raise ValueError(f"base lifter {path} reads {checkpoint.get('keypoints_layout')} keypoints, "
                         f"this model {base.lifter.keypoints_layout}")
    state = {key.removeprefix("module."): value for key, value in checkpoint["model"].items()}
    load_state_checked(base.lifter, state, path, what=f"base lifter (model.{base.model_name} settings)")
    log.info("base %s loaded from %s (frozen; this model learns a correction on top)", base.model_name, path)
