"""Pose models: output contract, both keypoint layouts, overfitting, checkpoints, local weights."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import timm
import torch

from pose3d import skeleton
from pose3d.config import config_from_dict
from pose3d.models import (
    CHECKPOINT_KEYS,
    MODEL_NAMES,
    build_model,
    common,
    lifting,
    load_model_from_checkpoint,
)
from pose3d.models.cnn import create_backbone
from pose3d.testing.config import tiny_config_dict
from pose3d.testing.samples import make_batch
from pose3d.training.loss import PoseLoss


@pytest.fixture(autouse=True)
def one_thread():
    """The test machine is small and shared: one intra-op thread is faster than oversubscription."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_config(tmp_path, **model_overrides):
    return config_from_dict(tiny_config_dict(tmp_path / "data", model=model_overrides))


@pytest.mark.parametrize("layout", ["h36m17", "coco17"])
@pytest.mark.parametrize("name", MODEL_NAMES)
def test_forward_backward_contract(name, layout, tmp_path):
    torch.manual_seed(0)
    config = tiny_config(tmp_path)
    model = build_model(name, config, layout)
    batch = make_batch(0, 4, image_size=config.shards.image_size, depth_size=config.shards.depth_size, layout=layout)
    batch["keypoints_2d"][1, 3] = torch.tensor([float("nan"), float("nan"), 0.0])  # missing joints, as
    batch["keypoints_2d"][2, 0, 2] = 0.0  # a detector reports them, must not poison the output
    out = model(batch)
    assert all(torch.isfinite(value).all() for value in out.values())
    assert out["joints_rel_mm"].shape == (4, 17, 3)
    assert out["joints_mm"].shape == (4, 17, 3)
    assert out["root_mm"].shape == (4, 3)
    assert torch.equal(out["joints_rel_mm"][:, 0], torch.zeros(4, 3))
    torch.testing.assert_close(out["joints_mm"], out["joints_rel_mm"] + out["root_mm"][:, None])
    # Untrained, the root already lies near the truth: the 2D pelvis at the reference depth.
    root_error = (out["root_mm"] - batch["joints_3d"][:, 0]).norm(dim=-1)
    assert (root_error < 0.5 * batch["joints_3d"][:, 0, 2]).all()
    loss, _ = PoseLoss(config.train.loss)(out, batch)
    loss.backward()
    for parameter_name, parameter in model.named_parameters():
        assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), parameter_name
    model.eval()
    with torch.no_grad():
        single = model({key: value[:1] for key, value in batch.items()})
    assert single["joints_mm"].shape == (1, 17, 3)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_outputs_stay_float32_under_bf16_autocast(name, tmp_path):
    """The trainer autocasts to bf16 on CUDA; the output layers and root recovery must stay float32."""
    torch.manual_seed(0)
    config = tiny_config(tmp_path)
    model = build_model(name, config, "h36m17").eval()
    batch = make_batch(5, 2)
    with torch.no_grad():
        reference = model(batch)
        with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
            mixed = model(batch)
    for key in ("joints_rel_mm", "root_mm", "joints_mm"):
        assert mixed[key].dtype == torch.float32, key
    torch.testing.assert_close(mixed["root_mm"], reference["root_mm"], rtol=0.02, atol=20.0)


@pytest.mark.parametrize(("name", "layout"), [("cnn", "coco17"), ("transformer", "h36m17")])
def test_overfits_a_batch_of_eight(name, layout, tmp_path):
    torch.manual_seed(0)
    config = tiny_config(tmp_path, cnn={"dropout": 0.0}, transformer={"dropout": 0.0})
    model = build_model(name, config, layout)
    batch = make_batch(1, 8, image_size=config.shards.image_size, depth_size=config.shards.depth_size, layout=layout)
    loss_fn = PoseLoss(config.train.loss)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.0)
    losses = []
    for _ in range(300):
        loss, _ = loss_fn(model(batch), batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if losses[-1] < losses[0] / 10:
            break
    assert losses[-1] < losses[0] / 10, f"{name}: loss {losses[0]:.4f} -> {losses[-1]:.4f} in {len(losses)} steps"


def test_unknown_names_are_clear_errors(tmp_path):
    config = tiny_config(tmp_path)
    with pytest.raises(ValueError, match="unknown model 'mlp'"):
        build_model("mlp", config, "h36m17")
    with pytest.raises(ValueError, match="unknown joint layout"):
        build_model("cnn", config, "openpose25")


def test_checkpoint_round_trip(tmp_path):
    torch.manual_seed(0)
    config = tiny_config(tmp_path)
    model = build_model("transformer", config, "coco17").eval()
    batch = make_batch(2, 2, layout="coco17")
    path = tmp_path / "best.pt"
    # Saved as a DDP-wrapped state dict ("module." prefixes) to check that those load too.
    state = {f"module.{key}": value for key, value in model.state_dict().items()}
    torch.save({"model": state, "model_name": "transformer", "config": config.to_dict(),
                "keypoints_layout": "coco17", "epoch": 3}, path)
    loaded, checkpoint = load_model_from_checkpoint(path)
    assert not loaded.training and checkpoint["epoch"] == 3 and set(CHECKPOINT_KEYS) <= set(checkpoint)
    with torch.no_grad():
        torch.testing.assert_close(loaded(batch)["joints_mm"], model(batch)["joints_mm"])
    torch.save({"model": model.state_dict()}, path)
    with pytest.raises(ValueError, match="lacks the keys"):
        load_model_from_checkpoint(path)
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        load_model_from_checkpoint(tmp_path / "missing.pt")


def test_backbone_loads_local_weights_never_downloads(tmp_path):
    config = tiny_config(tmp_path).model.cnn
    reference = timm.create_model("resnet18", pretrained=False)
    weights = tmp_path / "resnet18.pth"
    torch.save(reference.state_dict(), weights)
    backbone = create_backbone(dataclasses.replace(config, pretrained=str(weights)), in_chans=21)
    assert backbone.conv1.weight.shape[1] == 21
    torch.testing.assert_close(backbone.layer3[0].conv1.weight, reference.layer3[0].conv1.weight)
    with pytest.raises(FileNotFoundError, match="nowhere.pth"):
        create_backbone(dataclasses.replace(config, pretrained=str(tmp_path / "nowhere.pth")), in_chans=21)
    with pytest.raises(ValueError, match="download"):
        create_backbone(dataclasses.replace(config, pretrained=True), in_chans=21)


def test_heatmaps_peak_at_keypoints_weighted_by_score():
    keypoints = torch.tensor([[[10.0, 20.0, 1.0], [31.0, 0.0, 0.5], [5.0, 5.0, 0.0]]])
    maps = common.keypoint_heatmaps(keypoints, size=32, heatmap_size=32, sigma=1.5)
    assert maps.shape == (1, 3, 32, 32)
    assert np.unravel_index(maps[0, 0].argmax().item(), (32, 32)) == (20, 10)
    assert maps[0, 0].max().item() == pytest.approx(1.0)
    assert maps[0, 1].max().item() == pytest.approx(0.5)
    assert maps[0, 2].abs().max().item() == 0.0
    half = common.keypoint_heatmaps(keypoints, size=32, heatmap_size=16, sigma=1.0)
    # Crop pixel 10 is at heatmap coordinate (10 + 0.5) / 2 - 0.5 = 4.75: pixels 4 and 5 share the peak.
    assert half[0, 0, 10].argmax().item() in (4, 5)


def test_coco_keypoints_convert_like_the_skeleton_module():
    coco = np.random.default_rng(0).uniform(0, 32, size=(3, 17, 3)).astype(np.float32)
    coco[..., 2] = np.random.default_rng(1).uniform(0, 1, size=(3, 17))
    converted = common.keypoints_to_h36m(torch.as_tensor(coco), "coco17")
    np.testing.assert_allclose(converted.numpy(), skeleton.coco_to_h36m(coco), rtol=1e-5, atol=1e-4)


def _raw_output_of(batch, frame):
    """The raw lifting output that `lifting.decode` turns into the batch's true pose."""
    joints = batch["joints_3d"].double()
    root = joints[:, 0]
    relative_m = (joints - root[:, None]) / 1000.0
    pelvis = frame.normalised[:, 0, :2]
    offset = (root[:, :2] / root[:, 2:3] - pelvis) / frame.radius[:, None]
    log_ratio = torch.log(root[:, 2] / frame.reference_depth_mm())
    return torch.cat([relative_m.flatten(1), offset, log_ratio[:, None]], dim=1)


def test_decoding_inverts_the_projection():
    """Root-relative joints, the root's normalised 2D offset and log(z / z_ref) give back the camera pose."""
    batch = {k: v.double() for k, v in make_batch(4, 5).items()}
    frame = lifting.keypoint_frame(batch["keypoints_2d"], batch["intrinsics"], batch["crop"], 32)
    out = lifting.decode(_raw_output_of(batch, frame), frame)
    torch.testing.assert_close(out["joints_mm"], batch["joints_3d"], rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(out["root_mm"], batch["joints_3d"][:, 0], rtol=1e-6, atol=1e-6)
    assert out["joints_rel_mm"][:, 0].abs().max() == 0


def test_untrained_model_puts_the_root_on_the_pelvis_ray(tmp_path):
    """A zero last layer: the root on the pelvis keypoint's ray at the weak-perspective depth."""
    batch = make_batch(6, 3)
    for name in MODEL_NAMES:
        model = build_model(name, tiny_config(tmp_path), "h36m17").eval()
        last = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
        with torch.no_grad():
            last.weight.zero_()
            last.bias.zero_()
        out = model(batch)
        frame = lifting.keypoint_frame(batch["keypoints_2d"], batch["intrinsics"], batch["crop"], 32)
        torch.testing.assert_close(out["root_mm"][:, :2] / out["root_mm"][:, 2:], frame.normalised[:, 0, :2])
        torch.testing.assert_close(out["root_mm"][:, 2], frame.reference_depth_mm())
        assert out["joints_rel_mm"].abs().max() == 0


def test_no_keypoints_fall_back_to_the_crop():
    """Without any detected joint the crop's centre and size stand in for the 2D pose (finite, sensible)."""
    batch = make_batch(1, 2)
    keypoints = torch.zeros_like(batch["keypoints_2d"])
    frame = lifting.keypoint_frame(keypoints, batch["intrinsics"], batch["crop"], 32)
    detected = lifting.keypoint_frame(batch["keypoints_2d"], batch["intrinsics"], batch["crop"], 32)
    assert torch.isfinite(frame.encoding()).all()
    # The person fills the crop: the crop's radius is within a factor 2 of the keypoints' one.
    ratio = frame.radius / detected.radius
    assert ((ratio > 0.5) & (ratio < 2.0)).all(), ratio
    assert (frame.centre - detected.centre).norm(dim=1).max() < detected.radius.max()


def test_depth_cues_read_the_map_at_the_keypoints_and_ignore_its_scale():
    depth = torch.full((1, 1, 8, 8), 4.0)  # the person at 4 m in the crop's central half
    depth[0, 0, 1, 2] = 4.4  # depth pixel (x=2, y=1) = crop pixels 4..5 x 2..3 of a crop of side 16
    depth[0, 0, 6, 6] = 3.6
    depth[0, 0, 7, 0] = 0.0  # no surface
    keypoints = torch.zeros(1, 17, 3)
    keypoints[0, :, :2] = 7.5  # the centre, at 4 m
    keypoints[0, :, 2] = 1.0
    keypoints[0, 1] = torch.tensor([4.5, 2.5, 1.0])  # on the 4.4 m pixel
    keypoints[0, 2] = torch.tensor([12.6, 13.0, 1.0])  # on the 3.6 m pixel
    keypoints[0, 3] = torch.tensor([12.6, 13.0, 0.0])  # same place, but not detected
    keypoints[0, 4] = torch.tensor([0.0, 15.0, 1.0])  # no surface there
    frame = lifting.keypoint_frame(keypoints, torch.tensor([[100.0, 100.0, 8.0, 8.0]]), torch.tensor([[0.0, 0.0, 1.0]]), 16)
    cues = lifting.relative_depth_cues(depth, keypoints, frame, size=16)
    assert cues.shape == (1, lifting.DEPTH_CUES_DIM)
    per_joint = cues[0, :34].reshape(17, 2)
    gain = lifting.RELATIVE_DEPTH_GAIN
    torch.testing.assert_close(per_joint[0], torch.tensor([1.0, 0.0]))
    torch.testing.assert_close(per_joint[1], torch.tensor([1.0, gain * float(np.log(1.1))]))
    torch.testing.assert_close(per_joint[2], torch.tensor([1.0, gain * float(np.log(0.9))]))
    assert per_joint[3].abs().sum() == 0 and per_joint[4].abs().sum() == 0
    assert cues[0, 34] == 1.0
    torch.testing.assert_close(cues[0, 35], torch.log(4000.0 / frame.reference_depth_mm())[0])
    # A monocular estimator's per-image scale error moves only the root cue, by its log.
    scaled = lifting.relative_depth_cues(depth * 1.13, keypoints, frame, size=16)
    torch.testing.assert_close(scaled[0, :35], cues[0, :35])
    torch.testing.assert_close(scaled[0, 35], cues[0, 35] + float(np.log(1.13)))


