"""Batch mode of ShardDataset: whole batches from the workers, the same samples and order as the per-sample
mode, augmented once per batch, normalised on the device; device-side JPEG decode against the CPU decode."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch.utils.data import DataLoader

from pose3d.shards.reader import ShardError
from pose3d.testing.shards import write_test_shard
from pose3d.training.augment import BatchAugmentor
from pose3d.training.batches import batch_to_device
from pose3d.training.dataset import ShardDataset
from pose3d.training.pipeline import augmentation_enabled
from tests.test_augment import OFF, ONLY, reprojection_error_px

SIZES = (13, 7, 10, 30)
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("batch_shards")
    return [
        write_test_shard(tmp / f"shard_{i:05d}.h5", subject=1, count=n, first_frame=100 * i, seed=i)
        for i, n in enumerate(SIZES)
    ]


def per_sample_batches(shards, epoch=0, skip=0, transform=None, **kwargs):
    dataset = ShardDataset(shards, shuffle_buffer=8, seed=3, batch_size=4, transform=transform, **kwargs)
    dataset.set_epoch(epoch)
    dataset.skip_batches(skip)
    return [batch_to_device(b, CPU) for b in DataLoader(dataset, batch_size=4, drop_last=True)]


def whole_batches(dataset, loader, epoch=0, skip=0):
    dataset.set_epoch(epoch)
    dataset.skip_batches(skip)
    return [batch_to_device(b, CPU) for b in loader]


def assert_same_batches(got, want, image_atol=0.0):
    assert len(got) == len(want)
    for a, b in zip(got, want, strict=True):
        assert a.keys() == b.keys()
        for key in a:
            assert a[key].dtype == b[key].dtype and a[key].shape == b[key].shape, key
            atol = image_atol if key == "image" else 0.0
            torch.testing.assert_close(a[key], b[key], atol=atol, rtol=0, msg=key)


@pytest.mark.parametrize("workers", [0, 1, 2])
def test_batches_equal_the_per_sample_path_and_persist_across_epochs(shards, workers):
    dataset = ShardDataset(shards, shuffle_buffer=8, seed=3, batch_size=4, batches=True)
    loader = DataLoader(dataset, batch_size=None, num_workers=workers, persistent_workers=workers > 0)
    for epoch, skip in ((0, 0), (1, 0), (1, 5), (2, 0)):  # the same persistent workers throughout
        got = whole_batches(dataset, loader, epoch, skip)
        assert_same_batches(got, per_sample_batches(shards, epoch, skip))
        if skip == 0:
            frames = [f for batch in got for f in batch["frame"].tolist()]
            assert len(frames) == len(set(frames)) == 15 * 4  # 60 samples, whole batches of 4, none twice
    raw = next(iter(loader))
    assert raw["image"].dtype == torch.uint8 and raw["image"].shape == (4, 16, 16, 3)
    assert raw["depth"].dtype == torch.float16 and raw["depth"].shape == (4, 1, 8, 8)
    moved = batch_to_device(raw, CPU)
    assert moved["image"].dtype == torch.float32 and moved["image"].shape == (4, 3, 16, 16)
    assert moved["image"].is_contiguous() and moved["image"].min() >= 0.0 and moved["image"].max() <= 1.0
    assert moved["depth"].dtype == torch.float32


def test_each_sample_once_across_ranks_and_workers(shards):
    seen = []
    for rank in range(3):
        dataset = ShardDataset(shards, shuffle_buffer=8, seed=1, rank=rank, world_size=3, even_ranks=True,
                               batch_size=5, batches=True)
        frames = [f for b in DataLoader(dataset, batch_size=None, num_workers=2) for f in b["frame"].tolist()]
        assert len(frames) == dataset.batches_per_epoch * 5 == 20
        seen += frames
    assert len(seen) == len(set(seen)) == 60


def test_augmented_batches_are_consistent_and_a_function_of_seed_epoch_and_batch(shards):
    """One augmentation call per batch: exact geometry, the plain order, and the same augmentation whatever the
    number of (persistent) workers and for an epoch resumed inside it."""
    def augmented_dataset():
        return ShardDataset(shards, shuffle_buffer=8, seed=3, batch_size=4, batches=True,
                            transform=BatchAugmentor(ONLY["combined"], "h36m17", seed=7))

    dataset = augmented_dataset()
    loader = DataLoader(dataset, batch_size=None, num_workers=2, persistent_workers=True)
    reference = augmented_dataset()  # in this process
    first_epoch = None
    for epoch in (0, 1):
        got = whole_batches(dataset, loader, epoch)
        assert_same_batches(got, whole_batches(reference, reference, epoch))
        plain = per_sample_batches(shards, epoch)
        for batch, unaugmented in zip(got, plain, strict=True):
            assert torch.equal(batch["frame"], unaugmented["frame"])
            for k in range(len(batch["frame"])):
                sample = {key: batch[key][k].numpy() for key in ("keypoints_2d", "joints_3d", "intrinsics", "crop")}
                assert reprojection_error_px(sample, "h36m17") < 1e-3
        changed = [not torch.equal(a["crop"], b["crop"]) for a, b in zip(got, plain, strict=True)]
        assert sum(changed) >= len(changed) // 2
        assert_same_batches(whole_batches(dataset, loader, epoch, skip=5), got[5:])
        if first_epoch is None:
            first_epoch = {int(f): c for b in got for f, c in zip(b["frame"], b["crop"], strict=True)}
        else:  # another epoch, other draws for the same samples
            crops = {int(f): c for b in got for f, c in zip(b["frame"], b["crop"], strict=True)}
            assert sum(not torch.equal(crops[f], first_epoch[f]) for f in crops) > len(crops) // 2


def test_device_decode_matches_the_cpu_decode(shards):
    """torchvision's decode_jpeg (libjpeg-turbo, CUDA: nvJPEG) and OpenCV's may round chroma upsampling and
    the colour transform differently: a few levels on some pixels, never a different picture."""
    cpu = ShardDataset(shards, seed=3, batch_size=6, batches=True)
    device = ShardDataset(shards, seed=3, batch_size=6, batches=True, decode_on="device")
    target = torch.device("cuda") if torch.cuda.is_available() else CPU
    for a, b in zip(DataLoader(cpu, batch_size=None), DataLoader(device, batch_size=None), strict=True):
        assert "image" not in b and len(b["image_jpeg_offsets"]) == 7
        assert b["image_jpeg"].dtype == torch.uint8 and b["image_jpeg"].dim() == 1
        want, got = batch_to_device(a, CPU), batch_to_device(b, target)
        assert got["image"].shape == want["image"].shape and got["image"].dtype == torch.float32
        difference = (got["image"].cpu() - want["image"]).abs() * 255
        assert difference.max() <= 8 and difference.mean() <= 1.0
        for key in ("depth", "joints_3d", "frame"):
            assert torch.equal(got[key].cpu(), want[key])


def test_bad_batch_settings_are_clear_errors(shards, tmp_path):
    with pytest.raises(ValueError, match="decode_on must be one of"):
        ShardDataset(shards, batches=True, decode_on="gpu")
    with pytest.raises(ValueError, match="batches=True is for training mode"):
        ShardDataset(shards, batches=True, evaluation=True)
    with pytest.raises(ValueError, match="cannot run a CPU transform"):
        next(iter(ShardDataset(shards, batches=True, decode_on="device", transform=BatchAugmentor(OFF, "h36m17", 0))))
    raw = write_test_shard(tmp_path / "raw.h5", subject=5, count=5, codec="raw")
    with pytest.raises(ShardError, match="raw.h5.*needs JPEG shards"):
        next(iter(ShardDataset([raw], batches=True, decode_on="device")))
    big = write_test_shard(tmp_path / "big.h5", subject=5, count=5, image_size=32)
    with pytest.raises(ShardError, match="mix crop sizes"):
        ShardDataset([shards[0], big], batches=True)
    assert not augmentation_enabled(OFF) and augmentation_enabled(dataclasses.replace(OFF, color_prob=0.1))
