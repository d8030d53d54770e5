"""`model.<name>.inputs`: a switched-off modality cannot reach the prediction; datasets skip what no input needs."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from pose3d.config import MODEL_INPUTS, ConfigError, config_from_dict
from pose3d.models import build_model
from pose3d.models.inputs import model_inputs, sample_fields
from pose3d.testing.config import tiny_config_dict
from pose3d.testing.samples import make_batch
from pose3d.testing.shards import write_shards
from pose3d.training.dataset import ShardDataset

SUBSETS = [list(c) for r in (1, 2, 3) for c in itertools.combinations(MODEL_INPUTS, r)]


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _changed(batch, modality):
    """The batch with one modality replaced by something else entirely."""
    other = dict(batch)
    generator = torch.Generator().manual_seed(7)
    if modality == "rgb":
        other["image"] = torch.rand(batch["image"].shape, generator=generator)
    elif modality == "depth":
        other["depth"] = batch["depth"] * 1.5 + 0.3
    else:
        keypoints = batch["keypoints_2d"].clone()
        keypoints[..., :2] = torch.rand(keypoints[..., :2].shape, generator=generator) * 32
        other["keypoints_2d"] = keypoints
    return other


@pytest.mark.parametrize("name", ["cnn", "transformer"])
@pytest.mark.parametrize("inputs", SUBSETS, ids=["+".join(s) for s in SUBSETS])
def test_switched_off_inputs_do_not_reach_the_output(name, inputs, tmp_path):
    torch.manual_seed(0)
    config = config_from_dict(tiny_config_dict(tmp_path, model={name: {"inputs": inputs}}))
    model = build_model(name, config, "coco17").eval()
    batch = make_batch(0, 3, layout="coco17")
    with torch.no_grad():
        reference = model(batch)["joints_mm"]
        assert torch.isfinite(reference).all()
        for modality in MODEL_INPUTS:
            changed = model(_changed(batch, modality))["joints_mm"]
            if modality in inputs:
                assert not torch.allclose(changed, reference), f"{modality} is an input but changes nothing"
            else:
                torch.testing.assert_close(changed, reference, msg=f"{modality} is switched off but changes the output")
        # What a switched-off modality needs not even be in the batch.
        needed = {"image": "rgb", "depth": "depth"}
        slim = {key: value for key, value in batch.items() if needed.get(key, "keypoints") in inputs or key not in needed}
        torch.testing.assert_close(model(slim)["joints_mm"], reference)


@pytest.mark.parametrize("bad", [[], ["rgb", "thermal"], ["rgb", "rgb"]])
def test_inputs_are_validated(bad, tmp_path):
    with pytest.raises(ConfigError, match="model.cnn.inputs"):
        config_from_dict(tiny_config_dict(tmp_path, model={"cnn": {"inputs": bad}}))


def test_depth_backend_none_needs_a_model_without_depth(tmp_path):
    with pytest.raises(ConfigError, match="infer.depth_backend"):
        config_from_dict(tiny_config_dict(tmp_path, infer={"model": "cnn", "depth_backend": "none"}))
    config_from_dict(tiny_config_dict(tmp_path, infer={"model": "lifter", "depth_backend": "none"}))
    config_from_dict(tiny_config_dict(
        tmp_path, infer={"model": "cnn", "depth_backend": "none"}, model={"cnn": {"inputs": ["rgb", "keypoints"]}}
    ))


def test_model_inputs_and_the_fields_they_need(tmp_path):
    config = config_from_dict(tiny_config_dict(tmp_path, model={"transformer": {"inputs": ["keypoints", "depth"]}}))
    assert model_inputs("lifter", config) == ("keypoints",)
    assert model_inputs("cnn", config) == ("rgb", "depth", "keypoints")
    assert model_inputs("transformer", config) == ("depth", "keypoints")
    assert "image" not in sample_fields(("depth", "keypoints")) and "depth" in sample_fields(("depth", "keypoints"))
    assert not {"image", "depth"} & set(sample_fields(("keypoints",)))


def test_dataset_skips_unneeded_fields_and_keeps_the_rest(tmp_path):
    paths = write_shards(tmp_path, 1, 12, subject=1, image_codec="jpeg")
    full = list(ShardDataset(paths, evaluation=True))
    slim = list(ShardDataset(paths, evaluation=True, fields=sample_fields(("keypoints",))))
    assert len(full) == len(slim) == 12
    for whole, part in zip(full, slim, strict=True):
        assert set(whole) - set(part) == {"image", "depth"}
        for key, value in part.items():
            np.testing.assert_array_equal(value, whole[key])


@pytest.mark.parametrize("inputs", [("depth", "keypoints"), ("rgb", "keypoints")])
def test_training_batches_skip_unneeded_fields_and_keep_the_rest(tmp_path, inputs):
    """Batch mode (what training reads): the same batches, augmentation included, without the unread field."""
    from pose3d.training.augment import BatchAugmentor

    paths = write_shards(tmp_path, 1, 12, subject=1, image_codec="jpeg")
    config = config_from_dict(tiny_config_dict(tmp_path))  # the default augmentation: flips, rotation, jitter

    def batches(fields):
        dataset = ShardDataset(paths, seed=1, batch_size=4, batches=True, rank=0, world_size=1, fields=fields)
        dataset.transform = BatchAugmentor(config.train.augment, dataset.keypoints_layout, 1, dataset.infos[0].image_size)
        dataset.set_epoch(2)
        return list(dataset)

    full, slim = batches(None), batches(sample_fields(inputs))
    missing = {"image", "depth"} - set(sample_fields(inputs))
    assert len(full) == len(slim) == 3
    for whole, part in zip(full, slim, strict=True):
        assert set(whole) - set(part) == missing
        for key, value in part.items():
            torch.testing.assert_close(value, whole[key])
