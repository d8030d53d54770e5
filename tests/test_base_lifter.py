"""Image models on a base lifter: they start at the trained lifter's pose and learn a correction on top."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pose3d.config import ConfigError, config_from_dict
from pose3d.models import build_model
from pose3d.models.registry import load_model_from_checkpoint
from pose3d.testing.config import tiny_config_dict
from pose3d.testing.samples import make_batch
from pose3d.testing.shards import write_shards
from pose3d.training.distributed import DistContext
from pose3d.training.identity import identity_mismatch
from pose3d.training.pipeline import build_trainer

IMAGE_MODELS = ("cnn", "transformer")


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def on_lifter_config(tmp_path, base="lifter", **model):
    sections = {name: {"base_model": base} for name in IMAGE_MODELS}
    for name, values in model.items():
        sections[name] = {**sections.get(name, {}), **values}
    return config_from_dict(tiny_config_dict(tmp_path / "data", model=sections, train={"epochs": 2}))


@pytest.fixture
def shards(tmp_path):
    train = write_shards(tmp_path / "train", 2, 24, subject=1, image_codec="jpeg")
    val = write_shards(tmp_path / "val", 1, 16, subject=8, seed=5)
    return train, val


@pytest.fixture
def trained_lifter(tmp_path, shards):
    """A lifter trained for two epochs by the workflow's trainer: its best.pt."""
    config = on_lifter_config(tmp_path)
    build_trainer(config, "lifter", *shards, tmp_path / "lifter", DistContext()).fit()
    return tmp_path / "lifter" / "best.pt"


@pytest.mark.parametrize("name", IMAGE_MODELS)
def test_an_untrained_image_model_on_the_lifter_predicts_the_lifters_pose(tmp_path, name):
    torch.manual_seed(0)
    config = on_lifter_config(tmp_path)
    lifter = build_model("lifter", config, "coco17").eval()
    with torch.no_grad():  # a trained lifter's output is far from the untrained near-zero one
        lifter.network.layers[-1].weight.normal_(std=0.1)
    model = build_model(name, config, "coco17")
    model.base.lifter.load_state_dict(lifter.state_dict())
    batch = make_batch(0, 6, layout="coco17")
    model.eval()
    with torch.no_grad():
        ours, theirs = model(batch), lifter(batch)
    for key in ("joints_rel_mm", "root_mm", "joints_mm"):
        torch.testing.assert_close(ours[key], theirs[key])


@pytest.mark.parametrize("name", IMAGE_MODELS)
def test_training_on_the_lifter_changes_the_correction_and_never_the_lifter(tmp_path, shards, trained_lifter, name):
    config = on_lifter_config(tmp_path)
    trainer = build_trainer(config, name, *shards, tmp_path / name, DistContext(), base_checkpoint=trained_lifter)
    lifter_state = torch.load(trained_lifter, weights_only=True)["model"]
    base = trainer.model.base.lifter.state_dict()
    assert all(torch.equal(base[key], value) for key, value in lifter_state.items())
    head_before = trainer.model.lifting.layers[-1].weight.detach().clone()
    trainer.fit()
    assert not trainer.model.base.training  # eval even while the model above it trains (batch-norm statistics kept)
    trained, _ = load_model_from_checkpoint(tmp_path / name / "best.pt")
    after = trained.base.lifter.state_dict()
    assert all(torch.equal(after[key], value) for key, value in lifter_state.items()), "the base lifter moved"
    assert not torch.equal(trained.lifting.layers[-1].weight, head_before), "the correction never trained"
    # The checkpoint holds the base: rebuilt from it alone, the model predicts what the trained one does.
    batch = make_batch(1, 4, layout=trainer.keypoints_layout)
    trainer.model.eval()
    with torch.no_grad():
        torch.testing.assert_close(trained(batch)["joints_mm"], trainer.model(batch)["joints_mm"])


def test_a_retrained_lifter_is_not_resumed_under(tmp_path, shards, trained_lifter):
    config = on_lifter_config(tmp_path)
    first = build_trainer(config, "transformer", *shards, tmp_path / "t", DistContext(), base_checkpoint=trained_lifter)
    retrained = tmp_path / "other_lifter.pt"
    retrained.write_bytes(trained_lifter.read_bytes())
    second = build_trainer(config, "transformer", *shards, tmp_path / "t", DistContext(), base_checkpoint=retrained)
    assert identity_mismatch(first.identity, first.identity) == ""
    assert "base lifter" in identity_mismatch(first.identity, second.identity)


def test_without_the_lifters_checkpoint_training_refuses_to_start(tmp_path, shards):
    with pytest.raises(ValueError, match="base_model.*lifter.*best.pt"):
        build_trainer(on_lifter_config(tmp_path), "cnn", *shards, tmp_path / "cnn", DistContext())


def test_a_base_that_is_no_lifter_or_another_lifter_is_refused(tmp_path, shards, trained_lifter):
    config = on_lifter_config(tmp_path)
    build_trainer(config, "transformer", *shards, tmp_path / "t", DistContext(), base_checkpoint=trained_lifter).fit()
    with pytest.raises(ValueError, match="holds model 'transformer', not the configured base 'lifter'"):
        build_trainer(config, "cnn", *shards, tmp_path / "c", DistContext(), base_checkpoint=tmp_path / "t" / "best.pt")
    wider = on_lifter_config(tmp_path, lifter={"hidden_dim": 96})
    with pytest.raises(ValueError, match="base lifter.*differ in size"):
        build_trainer(wider, "cnn", *shards, tmp_path / "c", DistContext(), base_checkpoint=trained_lifter)


def test_an_image_model_on_the_depth_lifter_starts_at_its_depth_read_pose(tmp_path, shards, trained_lifter):
    """The default's base: the lifter that also reads the depth cues. The image model on it predicts that
    lifter's pose, which moves with the depth map; a keypoint-only lifter's checkpoint is refused as it."""
    config = on_lifter_config(tmp_path, base="depth_lifter")
    build_trainer(config, "depth_lifter", *shards, tmp_path / "depth_lifter", DistContext()).fit()
    base_checkpoint = tmp_path / "depth_lifter" / "best.pt"
    trainer = build_trainer(config, "transformer", *shards, tmp_path / "t", DistContext(), base_checkpoint=base_checkpoint)
    depth_lifter, _ = load_model_from_checkpoint(base_checkpoint)
    model = trainer.model.eval()
    batch = make_batch(3, 4, layout=trainer.keypoints_layout)
    farther = {**batch, "depth": batch["depth"] * torch.linspace(0.8, 1.4, batch["depth"].shape[-1])}
    with torch.no_grad():
        torch.testing.assert_close(model(batch)["joints_mm"], depth_lifter(batch)["joints_mm"])
        assert not torch.allclose(model(batch)["joints_rel_mm"], model(farther)["joints_rel_mm"])
    with pytest.raises(ValueError, match="holds model 'lifter', not the configured base 'depth_lifter'"):
        build_trainer(config, "cnn", *shards, tmp_path / "c", DistContext(), base_checkpoint=trained_lifter)


def test_config_refuses_a_base_lifter_that_cannot_be_had(tmp_path):
    with pytest.raises(ConfigError, match="'model.cnn.base_model'.*add lifter to 'models'"):
        config_from_dict(tiny_config_dict(tmp_path, models=["cnn"], model={"cnn": {"base_model": "lifter"}}))
    with pytest.raises(ConfigError, match="'model.transformer.base_model'.*lacks"):
        config_from_dict(tiny_config_dict(tmp_path, model={
            "transformer": {"base_model": "lifter", "inputs": ["rgb", "keypoints"]},
            "lifter": {"inputs": ["keypoints", "depth"]},
        }))
    with pytest.raises(ConfigError, match="'model.cnn.base_model'.*add depth_lifter to 'models'"):
        config_from_dict(tiny_config_dict(tmp_path, models=["cnn", "lifter"], model={"cnn": {"base_model": "depth_lifter"}}))
    with pytest.raises(ConfigError, match="'model.transformer.base_model': 'depth_lifter' reads.*lacks"):
        config_from_dict(tiny_config_dict(tmp_path, model={
            "transformer": {"base_model": "depth_lifter", "inputs": ["rgb", "keypoints"]}}))
    with pytest.raises(ConfigError, match="'model.cnn.base_model'.*'vp3d' is not allowed"):
        config_from_dict(tiny_config_dict(tmp_path, model={"cnn": {"base_model": "vp3d"}}))
    # Keypoint-free image models cannot correct a lifter: the lifter reads the keypoints.
    with pytest.raises(ConfigError, match="lacks"):
        config_from_dict(tiny_config_dict(tmp_path, model={"cnn": {"base_model": "lifter", "inputs": ["rgb"]}}))


def test_the_scale_output_resizes_the_pose_about_its_root():
    """`decode_scaled`'s last value: log of a factor on the root-relative pose; the root stays where it is."""
    from pose3d.models import lifting

    batch = make_batch(2, 5, layout="h36m17")
    frame = lifting.keypoint_frame(batch["keypoints_2d"], batch["intrinsics"], batch["crop"], 32)
    raw = torch.randn(5, lifting.OUTPUT_DIM) * 0.2
    unscaled = lifting.decode_scaled(torch.cat([raw, torch.zeros(5, 1)], dim=1), frame)
    doubled = lifting.decode_scaled(torch.cat([raw, torch.full((5, 1), float(np.log(2.0)))], dim=1), frame)
    torch.testing.assert_close(doubled["joints_rel_mm"], 2.0 * unscaled["joints_rel_mm"])
    torch.testing.assert_close(doubled["root_mm"], unscaled["root_mm"])
    # With a base, the correction adds to the base's raw output before the scale applies.
    on_base = lifting.decode_scaled(torch.zeros(5, lifting.SCALED_OUTPUT_DIM), frame, base_raw=raw)
    torch.testing.assert_close(on_base["joints_mm"], lifting.decode(raw, frame)["joints_mm"])


def test_an_image_model_trains_with_its_own_training_overrides(tmp_path):
    """`model.<name>.train` overrides `train:` for that model alone (the default: a lower lr on the lifter)."""
    from pose3d.config import model_training_config

    config = config_from_dict(tiny_config_dict(tmp_path, model={"cnn": {"train": {"lr": 3e-4, "epochs": 3}}}))
    assert model_training_config(config, "cnn").train.lr == pytest.approx(3e-4)
    assert model_training_config(config, "cnn").train.epochs == 3
    assert model_training_config(config, "transformer") is config
    with pytest.raises(ConfigError, match="model.transformer.train"):
        config_from_dict(tiny_config_dict(tmp_path, model={"transformer": {"train": {"learning_rate": 1e-4}}}))
