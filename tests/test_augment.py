"""Augmentation, per sample (PoseAugmentor) and per batch (BatchAugmentor): after any augmentation the 3D
joints project exactly onto the 2D keypoints; the batched path does per sample what the per-sample path does."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from pose3d import geometry, skeleton
from pose3d.config import AugmentConfig
from pose3d.testing.samples import make_sample
from pose3d.training import augment
from pose3d.training.augment import BatchAugmentor, PoseAugmentor
from pose3d.training.augment_params import AugmentParams, draw_params

OFF = AugmentConfig(
    flip_prob=0.0, rotation_prob=0.0, rotation_deg=30.0, scale_prob=0.0, scale_range=0.25,
    translate_prob=0.0, translate_range=0.1, color_prob=0.0, color_strength=0.4,
)
ONLY = {
    "flip": dataclasses.replace(OFF, flip_prob=1.0),
    "rotation": dataclasses.replace(OFF, rotation_prob=1.0),
    "scale": dataclasses.replace(OFF, scale_prob=1.0),
    "translate": dataclasses.replace(OFF, translate_prob=1.0),
    "color": dataclasses.replace(OFF, color_prob=1.0),
    "combined": dataclasses.replace(
        OFF, flip_prob=0.5, rotation_prob=0.7, scale_prob=0.7, translate_prob=0.7, color_prob=0.5
    ),
}


def reprojection_error_px(sample: dict, layout: str) -> float:
    """Max distance between the projected 3D joints and the 2D keypoints they correspond to."""
    intrinsics = geometry.crop_intrinsics(sample["intrinsics"].astype(np.float64), sample["crop"].astype(np.float64))
    projected = geometry.camera_to_pixel(sample["joints_3d"].astype(np.float64), intrinsics[:2], intrinsics[2:])
    keypoints = sample["keypoints_2d"][:, :2].astype(np.float64)
    if layout == "coco17":
        pairs = np.array(list(skeleton.H36M_FROM_COCO.items()))
        return float(np.abs(projected[pairs[:, 0]] - keypoints[pairs[:, 1]]).max())
    return float(np.abs(projected - keypoints).max())


@pytest.mark.parametrize("layout", ["h36m17", "coco17"])
@pytest.mark.parametrize("kind", list(ONLY))
def test_projection_stays_exact(kind, layout):
    augmentor = PoseAugmentor(ONLY[kind], layout, seed=3)
    rng = np.random.default_rng(11)
    for draw in range(60):
        sample = make_sample(rng, 32, 16, layout, channels_first=draw % 2 == 1)
        assert reprojection_error_px(sample, layout) < 1e-3
        augmented = augmentor(sample)
        assert reprojection_error_px(augmented, layout) < 1e-3, (kind, draw)
        np.testing.assert_array_equal(augmented["intrinsics"], sample["intrinsics"])
        assert augmented["image"].shape == sample["image"].shape and augmented["image"].dtype == sample["image"].dtype
        assert augmented["depth"].shape == sample["depth"].shape
        assert augmented["joints_3d"].dtype == np.float32 and augmented["keypoints_2d"].dtype == np.float32
        # Rigid motions (and a mirror) of the camera frame: the same skeleton, still in front of the camera.
        np.testing.assert_allclose(np.sort(skeleton.bone_lengths(augmented["joints_3d"])),
                                   np.sort(skeleton.bone_lengths(sample["joints_3d"])), rtol=1e-4)
        assert (augmented["joints_3d"][:, 2] > 0).all()
        assert augmented["subject"] == sample["subject"]


def test_each_step_changes_what_it_should():
    rng = np.random.default_rng(0)
    sample = make_sample(rng)
    for kind, changed in [("flip", {"joints_3d", "crop", "keypoints_2d", "image", "depth"}),
                          ("rotation", {"joints_3d", "crop", "keypoints_2d", "image", "depth"}),
                          ("scale", {"crop", "keypoints_2d", "image", "depth"}),
                          ("translate", {"crop", "keypoints_2d", "image", "depth"}),
                          ("color", {"image"})]:
        augmented = PoseAugmentor(ONLY[kind], "h36m17", seed=1)(sample)
        differs = {key for key in sample if not np.array_equal(np.asarray(sample[key]), np.asarray(augmented[key]))}
        assert differs == changed, kind


def test_flip_twice_is_identity():
    rng = np.random.default_rng(5)
    for layout in ("h36m17", "coco17"):
        sample = make_sample(rng, layout=layout)
        size = sample["image"].shape[0]
        geo, first = augment.flip_geometry(sample, size, layout)
        once = augment.apply_geometry(sample, geo, first)
        geo, second = augment.flip_geometry(once, size, layout)
        twice = augment.apply_geometry(once, geo, second)
        np.testing.assert_array_equal(once["image"], sample["image"][:, ::-1])
        np.testing.assert_array_equal(once["depth"], sample["depth"][..., ::-1])
        np.testing.assert_allclose(first @ second, np.eye(3))
        for key in ("image", "depth"):
            np.testing.assert_array_equal(twice[key], sample[key])
        for key in ("keypoints_2d", "joints_3d"):
            np.testing.assert_allclose(twice[key], sample[key], atol=1e-3)
        np.testing.assert_allclose(twice["crop"], sample["crop"], rtol=1e-5, atol=1e-3)


def test_flip_swaps_left_and_right():
    sample = make_sample(np.random.default_rng(2))
    flipped = PoseAugmentor(ONLY["flip"], "h36m17", seed=0)(sample)
    left, right = skeleton.H36M17.index("l_wrist"), skeleton.H36M17.index("r_wrist")
    np.testing.assert_allclose(flipped["joints_3d"][left], sample["joints_3d"][right] * [-1, 1, 1], rtol=1e-6)
    size = sample["image"].shape[0]
    np.testing.assert_allclose(flipped["keypoints_2d"][left, 0], size - 1 - sample["keypoints_2d"][right, 0], atol=1e-4)


def test_colour_jitter_leaves_geometry_untouched():
    rng = np.random.default_rng(4)
    augmentor = PoseAugmentor(ONLY["color"], "h36m17", seed=0)
    for channels_first in (False, True):
        sample = make_sample(rng, channels_first=channels_first)
        augmented = augmentor(sample)
        for key in ("keypoints_2d", "joints_3d", "crop", "intrinsics", "depth"):
            np.testing.assert_array_equal(augmented[key], sample[key])
        assert not np.array_equal(augmented["image"], sample["image"])
        assert augmented["image"].min() >= 0 and augmented["image"].max() <= (1.0 if channels_first else 255)


@pytest.mark.parametrize("kind", ["flip", "rotation", "scale", "translate", "combined"])
def test_image_and_depth_follow_the_keypoints(kind):
    """A bright dot (and a depth spot) drawn at a keypoint moves with that keypoint."""
    augmentor = PoseAugmentor(dataclasses.replace(ONLY[kind], color_prob=0.0), "h36m17", seed=7)
    rng = np.random.default_rng(8)
    checked = 0
    for _ in range(30):
        sample = make_sample(rng, 64, 32)
        joint = int(rng.choice([0, 7, 8, 9, 10]))  # centre-line joints keep their index under a flip
        x, y = np.round(sample["keypoints_2d"][joint, :2]).astype(int)
        if not (4 <= x < 60 and 4 <= y < 60):
            continue
        sample["keypoints_2d"][joint, :2] = (x, y)
        image = np.zeros((64, 64, 3), np.uint8)
        image[y, x] = 255
        depth = np.zeros((1, 32, 32), np.float32)
        depth[0, y // 2, x // 2] = 4.0
        sample.update(image=image, depth=depth)
        # The depth pixel's centre in crop pixels, (i + 0.5) * 2 - 0.5.
        depth_centre = (np.array([x // 2, y // 2]) + 0.5) * 2 - 0.5
        augmented = augmentor(sample)
        new_x, new_y = augmented["keypoints_2d"][joint, :2]
        if not (1 <= new_x < 62 and 1 <= new_y < 62):
            continue
        bright = np.unravel_index(np.argmax(augmented["image"].sum(-1)), (64, 64))
        assert abs(bright[1] - new_x) <= 1.0 and abs(bright[0] - new_y) <= 1.0, kind
        offset = depth_centre - sample["keypoints_2d"][joint, :2]
        spots = np.argwhere(augmented["depth"][0] > 0)
        if len(spots):  # nearest resampling keeps the value; a depth pixel (2 crop px) lands near the moved spot
            centres = (spots[:, ::-1] + 0.5) * 2 - 0.5
            assert np.linalg.norm(centres - (augmented["keypoints_2d"][joint, :2]), axis=1).min() <= (
                np.linalg.norm(offset) * 1.3 + 1.5)
            assert set(np.unique(augmented["depth"])) <= {0.0, 4.0}
        checked += 1
    assert checked >= 5


def test_same_seed_same_augmentation():
    sample = make_sample(np.random.default_rng(0))
    first = PoseAugmentor(ONLY["combined"], "h36m17", seed=9)
    second = PoseAugmentor(ONLY["combined"], "h36m17", seed=9)
    for _ in range(5):
        a, b = first(sample), second(sample)
        for key in sample:
            np.testing.assert_array_equal(a[key], b[key])


class _RepeatedSample(torch.utils.data.Dataset):
    def __init__(self, sample: dict, augmentor: PoseAugmentor) -> None:
        self.sample, self.augmentor = sample, augmentor

    def __len__(self) -> int:
        return 4

    def __getitem__(self, index: int) -> np.ndarray:
        return self.augmentor(self.sample)["crop"]


def test_dataloader_workers_draw_different_augmentations():
    sample = make_sample(np.random.default_rng(0))
    augmentor = PoseAugmentor(dataclasses.replace(OFF, scale_prob=1.0), "h36m17", seed=9)
    loader = torch.utils.data.DataLoader(_RepeatedSample(sample, augmentor), batch_size=1, num_workers=2)
    crops = torch.cat(list(loader))
    # Batches 0 and 1 come from different workers; each worker's stream is seeded differently.
    assert not torch.equal(crops[0], crops[1])


# ----------------------------------------------------------------------------------- the batched path

GEOMETRY = ("keypoints_2d", "joints_3d", "crop", "intrinsics")


def make_batch(rng: np.random.Generator, count: int, size: int = 32, depth_size: int = 16, layout: str = "h36m17",
               first_frame: int = 0) -> dict:
    """`count` samples stacked as the loader's batch contract (numpy): image uint8 (B, S, S, 3), depth float16."""
    samples = [make_sample(rng, size, depth_size, layout) for _ in range(count)]
    batch = {key: np.stack([s[key] for s in samples]) for key in ("image", *GEOMETRY)}
    batch["depth"] = np.stack([s["depth"] for s in samples]).astype(np.float16)
    for name in ("subject", "action", "subaction", "camera"):
        batch[name] = np.ones(count, dtype=np.int64)
    batch["frame"] = np.arange(first_frame, first_frame + count, dtype=np.int64)
    return batch


def sample_of(batch: dict, k: int) -> dict:
    return {key: value[k] for key, value in batch.items()}


@pytest.mark.parametrize("layout", ["h36m17", "coco17"])
@pytest.mark.parametrize("kind", list(ONLY))
def test_batched_projection_stays_exact(kind, layout):
    augmentor = BatchAugmentor(ONLY[kind], layout, seed=3)
    batch = make_batch(np.random.default_rng(11), 48, layout=layout)
    augmented = augmentor(batch)
    assert augmented["image"].shape == batch["image"].shape and augmented["image"].dtype == np.uint8
    assert augmented["depth"].shape == batch["depth"].shape and augmented["depth"].dtype == np.float16
    for key in ("keypoints_2d", "joints_3d", "crop"):
        assert augmented[key].dtype == np.float32 and augmented[key].shape == batch[key].shape
    np.testing.assert_array_equal(augmented["intrinsics"], batch["intrinsics"])
    np.testing.assert_array_equal(augmented["frame"], batch["frame"])
    for k in range(48):
        before, after = sample_of(batch, k), sample_of(augmented, k)
        assert reprojection_error_px(after, layout) < 1e-3, (kind, k)
        np.testing.assert_allclose(np.sort(skeleton.bone_lengths(after["joints_3d"])),
                                   np.sort(skeleton.bone_lengths(before["joints_3d"])), rtol=1e-4)
        assert (after["joints_3d"][:, 2] > 0).all()


def forced_params(count: int) -> dict[str, AugmentParams]:
    """Fixed parameter sets: one step for every sample, all steps, and a different mix per sample."""
    base = AugmentParams.identity(count)
    mixed = draw_params(ONLY["combined"], count, np.random.default_rng(0))
    return {
        "flip": base.replace(flip=True),
        "rotation": base.replace(rotate=True, angle_rad=np.deg2rad(12.0)),
        "crop jitter": base.replace(jitter_crop=True, zoom=1.15, shift=[0.06, -0.04]),
        "colour": base.replace(jitter_colour=True, colour=[1.2, 0.8, 1.3]),
        "all": base.replace(flip=True, rotate=True, angle_rad=np.deg2rad(-8.0), jitter_crop=True, zoom=0.9,
                            shift=[-0.05, 0.03], jitter_colour=True, colour=[0.9, 1.1, 0.8]),
        "mixed": mixed,
    }


@pytest.mark.parametrize("name", list(forced_params(1)))
def test_batched_path_does_what_the_per_sample_path_does(name):
    """For fixed parameters, one call on a batch gives each sample what the per-sample augmentor gives it,
    exactly on uint8 pixels and within rounding on float (3, S, S) pixels, which are resampled in float."""
    count = 16
    batch = make_batch(np.random.default_rng(4), count)
    params = forced_params(count)[name]
    batched = BatchAugmentor(OFF, "h36m17", seed=0).apply(batch, params)
    single = PoseAugmentor(OFF, "h36m17", seed=0)
    for k in range(count):
        sample = sample_of(batch, k)
        alone = single.apply(sample, params.select(k))
        for key in ("image", "depth", "keypoints_2d", "joints_3d", "crop"):
            np.testing.assert_array_equal(batched[key][k], alone[key], err_msg=f"{name} {key} {k}")
        floats = single.apply(dict(sample, image=np.moveaxis(sample["image"], -1, 0) / np.float32(255.0)),
                              params.select(k))
        np.testing.assert_allclose(np.moveaxis(floats["image"], 0, -1) * 255.0, batched["image"][k], atol=2.0)
        for key in ("keypoints_2d", "joints_3d", "crop"):
            np.testing.assert_array_equal(floats[key], alone[key])
    if name == "flip":  # an exact mirror, left/right swapped
        np.testing.assert_array_equal(batched["image"], batch["image"][:, :, ::-1])
        np.testing.assert_array_equal(batched["depth"], batch["depth"][..., ::-1])
        left, right = skeleton.H36M17.index("l_wrist"), skeleton.H36M17.index("r_wrist")
        np.testing.assert_allclose(batched["joints_3d"][:, left], batch["joints_3d"][:, right] * [-1, 1, 1])
    if name == "colour":
        for key in ("depth", *GEOMETRY):
            np.testing.assert_array_equal(batched[key], batch[key])


def test_both_paths_draw_from_one_distribution():
    """Per sample or per batch, each step happens with its configured probability and range."""
    config = ONLY["combined"]
    count = 4000
    rng = np.random.default_rng(1)
    batched = draw_params(config, count, rng)
    singles = [draw_params(config, 1, rng) for _ in range(count)]
    for params in (batched, AugmentParams(**{name: np.concatenate([getattr(p, name) for p in singles])
                                            for name in vars(batched)})):
        for mask, probability in ((params.flip, config.flip_prob), (params.rotate, config.rotation_prob),
                                  (params.jitter_colour, config.color_prob)):
            assert abs(mask.mean() - probability) < 4 * np.sqrt(probability * (1 - probability) / count)
        angles = np.rad2deg(params.angle_rad[params.rotate])
        assert np.abs(angles).max() <= config.rotation_deg
        assert abs(angles.std() - config.rotation_deg / np.sqrt(3)) < 0.05 * config.rotation_deg
        assert (params.angle_rad[~params.rotate] == 0).all() and (params.colour[~params.jitter_colour] == 1).all()
        assert np.abs(params.shift).max() <= config.translate_range
        assert np.abs(params.zoom - 1).max() <= config.scale_range


def test_batched_augmentation_is_a_function_of_seed_epoch_and_samples():
    batch = make_batch(np.random.default_rng(0), 12)
    first, second = BatchAugmentor(ONLY["combined"], "h36m17", seed=9), BatchAugmentor(ONLY["combined"], "h36m17", seed=9)
    a, b = first(batch), second(batch)
    for key in batch:
        np.testing.assert_array_equal(a[key], b[key])
    second.set_epoch(1)
    assert not np.array_equal(second(batch)["crop"], a["crop"])
    other = dict(batch, frame=batch["frame"] + 100)  # other samples, same pixels: other draws
    assert not np.array_equal(first(other)["crop"], a["crop"])


@pytest.mark.parametrize("kind", ["flip", "rotation", "scale", "translate", "combined"])
def test_batched_image_and_depth_follow_the_keypoints(kind):
    """A bright dot (and a depth spot) drawn at a keypoint moves with that keypoint, each sample of a batch
    with its own parameters."""
    rng = np.random.default_rng(8)
    batch = make_batch(rng, 40, 64, 32)
    batch["image"][:] = 0
    batch["depth"][:] = 0
    joints = rng.choice([0, 7, 8, 9, 10], size=40)  # centre-line joints keep their index under a flip
    for k, joint in enumerate(joints):
        x, y = np.clip(np.round(batch["keypoints_2d"][k, joint, :2]).astype(int), 4, 59)
        batch["keypoints_2d"][k, joint, :2] = (x, y)
        batch["image"][k, y, x] = 255
        batch["depth"][k, 0, y // 2, x // 2] = 4.0
    augmented = BatchAugmentor(dataclasses.replace(ONLY[kind], color_prob=0.0), "h36m17", seed=7)(batch)
    checked = 0
    for k, joint in enumerate(joints):
        new_x, new_y = augmented["keypoints_2d"][k, joint, :2]
        if not (1 <= new_x < 62 and 1 <= new_y < 62):
            continue
        bright = np.unravel_index(np.argmax(augmented["image"][k].sum(-1)), (64, 64))
        assert abs(bright[1] - new_x) <= 1.0 and abs(bright[0] - new_y) <= 1.0, (kind, k)
        old_x, old_y = batch["keypoints_2d"][k, joint, :2]
        offset = (np.array([old_x // 2, old_y // 2]) + 0.5) * 2 - 0.5 - (old_x, old_y)
        spots = np.argwhere(augmented["depth"][k, 0] > 0)
        if len(spots):  # nearest resampling keeps the value; a depth pixel (2 crop px) lands near the moved spot
            centres = (spots[:, ::-1] + 0.5) * 2 - 0.5
            assert np.linalg.norm(centres - (new_x, new_y), axis=1).min() <= np.linalg.norm(offset) * 1.3 + 1.5
            assert set(np.unique(augmented["depth"][k])) <= {0.0, 4.0}
        checked += 1
    assert checked >= 20
