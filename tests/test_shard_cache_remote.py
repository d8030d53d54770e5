"""No stale shards: on a real `rclone serve webdav` remote, shards rewritten after an edited split
are fetched again, and training reads the new ones (the cache compares `rclone lsjson` size and
modification time with what it recorded when it copied)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pose3d.config import config_from_dict
from pose3d.shards.reader import ShardCache
from pose3d.testing.config import tiny_config_dict
from pose3d.testing.rclone_server import rclone_binary, start_server
from pose3d.testing.shards import write_shards
from pose3d.training.pipeline import train_model

pytestmark = [pytest.mark.rclone, pytest.mark.skipif(rclone_binary() is None, reason="the rclone binary is not installed")]


@pytest.fixture
def server(tmp_path):
    running = start_server("webdav", tmp_path / "served", tmp_path / "server.log")
    yield running
    running.stop()


def _write_split(served: Path, train_subject: int, per_shard: int) -> None:
    """What the split + shuffle rules write to the remote: two train shards and a test shard."""
    paths = write_shards(served / "results" / "shuffled" / "train", 2, per_shard, subject=train_subject,
                              seed=train_subject)
    paths += write_shards(served / "results" / "split" / "test", 1, 8, subject=9, seed=50)
    for path in paths:  # the remote's clock moved on (WebDAV dates have one-second resolution)
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5 * 10**9 * train_subject))


def _subjects_trained(sample_log: Path) -> set[int]:
    lines = (sample_log / "rank0.txt").read_text().split("\n")
    return {int(line.split()[1]) for line in lines if line}


def test_cache_refetches_a_rewritten_remote_shard(server, tmp_path):
    served = tmp_path / "served"
    _write_split(served, train_subject=1, per_shard=10)
    cache = ShardCache(tmp_path / "cache")
    query = server.query("results/shuffled/train/shard_00000.h5")
    first = cache.local_path(query)
    assert first.read_bytes() == (served / "results/shuffled/train/shard_00000.h5").read_bytes()
    copied_at = first.stat().st_mtime_ns
    assert cache.local_path(query) == first and first.stat().st_mtime_ns == copied_at  # unchanged: reused

    _write_split(served, train_subject=5, per_shard=12)
    again = cache.local_path(query)
    assert again.read_bytes() == (served / "results/shuffled/train/shard_00000.h5").read_bytes()


def test_training_reads_the_new_shards_after_the_split_changes(server, tmp_path):
    served = tmp_path / "served"
    config = config_from_dict(tiny_config_dict(
        tmp_path / "unused",
        train={"epochs": 1, "batch_size": 4, "preview_samples": 0},
        storage={"remote": server.remote, "cache_dir": str(tmp_path / "cache"), "retries": 1},
    ))
    train = [server.query(f"results/shuffled/train/shard_{i:05d}.h5") for i in range(2)]
    test = [server.query("results/split/test/shard_00000.h5")]
    out = tmp_path / "model"

    _write_split(served, train_subject=1, per_shard=10)
    train_model(config, "transformer", train, test, out, sample_log_dir=tmp_path / "first")
    assert _subjects_trained(tmp_path / "first") == {1}

    _write_split(served, train_subject=5, per_shard=12)  # the edited split rewrote the shards
    train_model(config, "transformer", train, test, out, sample_log_dir=tmp_path / "second")
    assert _subjects_trained(tmp_path / "second") == {5}
