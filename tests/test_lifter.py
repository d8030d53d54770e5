"""The keypoint lifter: camera-normalised input, invariance to crop and focal length, learning, training I/O."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pose3d import geometry
from pose3d.config import config_from_dict, model_training_config
from pose3d.models import build_model
from pose3d.models.lifting import camera_normalised
from pose3d.testing.config import tiny_config_dict
from pose3d.testing.samples import make_batch
from pose3d.testing.shards import write_shards
from pose3d.training.distributed import DistContext
from pose3d.training.loss import PoseLoss
from pose3d.training.pipeline import build_trainer


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def lifter_config(tmp_path, **lifter):
    return config_from_dict(tiny_config_dict(tmp_path / "data", model={"lifter": lifter}))


def test_camera_normalised_keypoints_are_x_over_z():
    batch = make_batch(0, 3, layout="h36m17")
    normalised = camera_normalised(batch["keypoints_2d"].double(), batch["intrinsics"].double(), batch["crop"].double())
    joints = batch["joints_3d"].double()
    torch.testing.assert_close(normalised[..., :2], joints[..., :2] / joints[..., 2:3], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(normalised[..., 2], batch["keypoints_2d"][..., 2].double())


def _reframed(batch, focal_factor: float, crop_shift: tuple[float, float], crop_scale: float):
    """The same 3D scene seen with another focal length / principal point and cut into another crop."""
    intrinsics = batch["intrinsics"].double().clone()
    intrinsics[:, :2] *= focal_factor
    intrinsics[:, 2:] = intrinsics[:, 2:] * 0.5 + 40.0  # another image size
    pixels = geometry.camera_to_pixel(batch["joints_3d"].double(), intrinsics[:, :2], intrinsics[:, 2:])
    crop = batch["crop"].double().clone()
    crop[:, 2] *= crop_scale * focal_factor
    crop[:, :2] = pixels.mean(1) - crop[:, 2:3] * 16.0 + torch.tensor(crop_shift, dtype=torch.float64)
    keypoints = batch["keypoints_2d"].double().clone()
    keypoints[..., :2] = (pixels - crop[:, None, :2]) / crop[:, None, 2:3]
    return {**batch, "keypoints_2d": keypoints.float(), "intrinsics": intrinsics.float(), "crop": crop.float()}


def test_lifter_depends_only_on_where_the_joints_are_seen(tmp_path):
    """Same rays in, same pose out: image size, focal length and crop do not matter."""
    torch.manual_seed(0)
    model = build_model("lifter", lifter_config(tmp_path), "h36m17").eval()
    batch = make_batch(2, 4, layout="h36m17")
    other = _reframed(batch, focal_factor=1.7, crop_shift=(5.0, -3.0), crop_scale=1.3)
    with torch.no_grad():
        first, second = model(batch), model(other)
    for key in ("joints_rel_mm", "root_mm", "joints_mm"):
        torch.testing.assert_close(first[key], second[key], atol=0.05, rtol=1e-4)


def test_lifter_ignores_image_and_depth(tmp_path):
    torch.manual_seed(0)
    model = build_model("lifter", lifter_config(tmp_path), "coco17").eval()
    batch = make_batch(3, 4, layout="coco17")
    keypoints_only = {key: batch[key] for key in ("keypoints_2d", "intrinsics", "crop")}
    with torch.no_grad():
        torch.testing.assert_close(model(batch)["joints_mm"], model(keypoints_only)["joints_mm"])


def test_lifter_fits_a_batch_and_recovers_the_root(tmp_path):
    torch.manual_seed(0)
    config = lifter_config(tmp_path, dropout=0.0, hidden_dim=128)
    model = build_model("lifter", config, "h36m17")
    batch = make_batch(1, 64, layout="h36m17")  # BatchNorm's eval statistics need more than a handful
    loss_fn = PoseLoss(config.train.loss)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(300):
        loss, _ = loss_fn(model(batch), batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        out = model(batch)
    true = batch["joints_3d"]
    relative_mm = (out["joints_rel_mm"] - (true - true[:, :1])).norm(dim=-1).mean()
    root_mm = (out["root_mm"] - true[:, 0]).norm(dim=-1).mean()
    assert relative_mm < 60.0 and root_mm < 80.0, f"after fitting: {relative_mm:.1f} mm relative, root {root_mm:.1f} mm"


def test_lifter_training_reads_no_image(tmp_path):
    """The lifter trains from the small arrays only: its batches never hold image or depth crops."""
    config = config_from_dict(tiny_config_dict(
        tmp_path / "data", model={"lifter": {"hidden_dim": 32, "blocks": 1, "train": {"epochs": 2, "batch_size": 8}}},
        train={"epochs": 7, "batch_size": 4, "preview_samples": 1},
    ))
    assert model_training_config(config, "lifter").train.epochs == 2  # model.lifter.train overrides train:
    assert model_training_config(config, "lifter").train.batch_size == 8
    assert model_training_config(config, "cnn") is config
    train = write_shards(tmp_path / "train", 2, 24, subject=1, image_codec="jpeg")
    val = write_shards(tmp_path / "val", 1, 16, subject=8, seed=5)
    trainer = build_trainer(config, "lifter", train, val, tmp_path / "out", DistContext())
    for loader in (trainer.train_loader, trainer.val_loader):
        batch = next(iter(loader))
        assert "image" not in batch and "depth" not in batch
        assert {"keypoints_2d", "joints_3d", "intrinsics", "crop"} <= set(batch)
    history = trainer.fit()
    assert len(history) == 2 and np.isfinite(history[-1]["val_mpjpe"])
    assert (tmp_path / "out" / "best.pt").is_file()


def test_lifter_with_depth_reads_the_depth(tmp_path):
    """`inputs: [keypoints, depth]`: the depth under the keypoints changes the pose (the cues' scale
    invariance is tested with `lifting.relative_depth_cues` in test_models.py)."""
    torch.manual_seed(0)
    model = build_model("lifter", lifter_config(tmp_path, inputs=["keypoints", "depth"]), "h36m17").eval()
    assert model.inputs == ("depth", "keypoints")
    with torch.no_grad():  # a trained network reads its inputs; an untrained one's last layer is near zero
        model.network.layers[-1].weight.normal_(std=0.1)
    batch = make_batch(4, 6, layout="h36m17")
    flat = {**batch, "depth": torch.full_like(batch["depth"], 4.0)}
    with torch.no_grad():
        out, out_flat = model(batch), model(flat)
    assert (out["joints_rel_mm"] - out_flat["joints_rel_mm"]).abs().max() > 1.0


def test_lifter_with_depth_trains_from_depth_crops_and_no_image(tmp_path):
    config = config_from_dict(tiny_config_dict(
        tmp_path / "data", model={"lifter": {"hidden_dim": 32, "blocks": 1, "inputs": ["keypoints", "depth"],
                                             "train": {"epochs": 2, "batch_size": 8}}},
    ))
    train = write_shards(tmp_path / "train", 2, 24, subject=1, image_codec="jpeg")
    val = write_shards(tmp_path / "val", 1, 16, subject=8, seed=5)
    trainer = build_trainer(config, "lifter", train, val, tmp_path / "out", DistContext())
    batch = next(iter(trainer.train_loader))
    assert "depth" in batch and "image" not in batch
    history = trainer.fit()
    assert len(history) == 2 and np.isfinite(history[-1]["val_mpjpe"])


def test_lifter_inputs_must_include_keypoints(tmp_path):
    with pytest.raises(Exception, match="model.lifter.inputs"):
        lifter_config(tmp_path, inputs=["depth"])
