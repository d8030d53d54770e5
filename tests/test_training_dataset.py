"""ShardDataset: every sample exactly once per epoch across workers and ranks, and the sample contract."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from pose3d.shards.reader import ShardError
from pose3d.testing.shards import write_test_shard
from pose3d.training.dataset import ShardDataset, keypoints_layout

SIZES = (13, 7, 10)  # uneven on purpose: nothing divides evenly


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("train_shards")
    return [
        write_test_shard(tmp / f"shard_{i:05d}.h5", subject=1, count=n, first_frame=100 * i, seed=i)
        for i, n in enumerate(SIZES)
    ]


def _frames(dataset, workers: int, batch_size: int = 4) -> list[int]:
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=workers)
    return [int(f) for batch in loader for f in batch["frame"]]


def _expected() -> list[int]:
    return [100 * i + j for i, n in enumerate(SIZES) for j in range(n)]


@pytest.mark.parametrize("workers", [0, 1, 2])
def test_each_sample_once_per_epoch(shards, workers):
    dataset = ShardDataset(shards, shuffle_buffer=8, seed=1, rank=0, world_size=1)
    assert len(dataset) == sum(SIZES)
    for epoch in (0, 1):
        dataset.set_epoch(epoch)
        frames = _frames(dataset, workers)
        assert sorted(frames) == _expected()
        assert frames != sorted(frames)


def test_each_sample_once_across_two_ranks(shards):
    seen = []
    for rank in (0, 1):
        dataset = ShardDataset(shards, shuffle_buffer=4, seed=1, rank=rank, world_size=2)
        frames = _frames(dataset, workers=2, batch_size=3)
        assert len(frames) == len(dataset) == 15
        seen += frames
    assert sorted(seen) == _expected()


def test_even_ranks_drop_the_remainder(shards):
    counts = Counter()
    for rank in range(4):
        dataset = ShardDataset(shards, seed=2, rank=rank, world_size=4, even_ranks=True)
        frames = _frames(dataset, workers=0)
        assert len(frames) == len(dataset) == sum(SIZES) // 4
        counts.update(frames)
    assert max(counts.values()) == 1 and sum(counts.values()) == 28


def test_rank_from_environment(shards, monkeypatch):
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "3")
    assert len(ShardDataset(shards)) == 10  # samples [10, 20) of 30


def test_evaluation_order_is_deterministic(shards):
    dataset = ShardDataset(shards, shuffle_buffer=64, evaluation=True)
    assert _frames(dataset, workers=0) == _expected()
    dataset.set_epoch(5)
    assert _frames(dataset, workers=0) == _expected()


def test_sample_contract_and_transform(shards):
    def transform(sample):
        sample["image"] = sample["image"][:, ::-1].copy()
        sample["seen"] = np.int64(1)
        return sample

    dataset = ShardDataset(shards[:1], transform=transform, evaluation=True)
    sample = next(iter(dataset))
    assert sample["image"].dtype == np.float32 and sample["image"].shape == (3, 16, 16)
    assert sample["image"].min() >= 0.0 and sample["image"].max() <= 1.0
    assert sample["depth"].dtype == np.float32 and sample["depth"].shape == (1, 8, 8)
    assert sample["keypoints_2d"].shape == (17, 3) and sample["joints_3d"].shape == (17, 3)
    assert sample["intrinsics"].shape == (4,) and sample["crop"].shape == (3,)
    assert sample["seen"] == 1
    batch = next(iter(DataLoader(dataset, batch_size=2)))
    assert batch["image"].shape == (2, 3, 16, 16) and batch["subject"].dtype == torch.int64
    assert keypoints_layout(shards) == "h36m17"


def test_raw_codec_and_bad_shard(tmp_path):
    raw = write_test_shard(tmp_path / "raw.h5", subject=5, count=5, codec="raw")
    frames = [int(s["frame"]) for s in ShardDataset([raw], shuffle_buffer=3)]
    assert sorted(frames) == list(range(5))
    (tmp_path / "broken.h5").write_bytes(raw.read_bytes()[:1000])
    with pytest.raises(ShardError, match="broken.h5"):
        ShardDataset([raw, tmp_path / "broken.h5"])
