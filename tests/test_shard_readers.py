"""Datasets keep their shards open across epochs (bounded, least recently used closed), in loader
workers and in the main process; a fork inherits no open HDF5 file (they close before it, reopen after)."""

from __future__ import annotations

from pathlib import Path

import h5py
import pytest
from torch.utils.data import DataLoader, IterableDataset

from pose3d.shards.reader import ShardCache
from pose3d.testing.shards import write_test_shard
from pose3d.training.dataset import ShardDataset, ShardReaders


class CountingCache(ShardCache):
    """Every shard opening goes through `local_path`: one line per opening in a file (workers too)."""

    def local_path(self, path):
        with open(self.cache_dir / "openings.txt", "a") as log:
            log.write(f"{Path(str(path)).name}\n")
        return super().local_path(path)


@pytest.fixture()
def shards(tmp_path):
    return [write_test_shard(tmp_path / f"shard_{i}.h5", subject=1, count=12, first_frame=100 * i, seed=i)
            for i in range(3)]


def open_files() -> set[str]:
    """Paths of the HDF5 files open in this process (other tests' files may be among them)."""
    return {str(Path(file_id.name.decode()).resolve())
            for file_id in h5py.h5f.get_obj_ids(h5py.h5f.OBJ_ALL, h5py.h5f.OBJ_FILE)}


def openings(cache: CountingCache) -> list[str]:
    path = cache.cache_dir / "openings.txt"
    return path.read_text().split() if path.exists() else []


@pytest.mark.parametrize("batches", [True, False])
def test_a_persistent_worker_opens_each_shard_once_over_epochs(shards, tmp_path, batches):
    cache = CountingCache(tmp_path)
    dataset = ShardDataset(shards, shuffle_buffer=4, batch_size=4, batches=batches, cache=cache)
    opened_before_fork = len(openings(cache))  # the constructor validates each shard once
    loader = DataLoader(dataset, batch_size=None if batches else 4, num_workers=1, persistent_workers=True)
    for epoch in range(3):
        dataset.set_epoch(epoch)
        assert sum(len(b["frame"]) for b in loader) == 36
    assert sorted(openings(cache)[opened_before_fork:]) == sorted(Path(s).name for s in shards)


class OpenFilesInWorker(IterableDataset):
    """Yields, from inside a freshly forked DataLoader worker, the HDF5 files the worker inherited open."""

    def __iter__(self):
        yield sorted(open_files())


def test_the_main_process_keeps_its_shards_open_but_no_fork_inherits_them(shards, tmp_path):
    cache = CountingCache(tmp_path)
    dataset = ShardDataset(shards, shuffle_buffer=4, batch_size=4, batches=True, cache=cache)
    ours = {str(Path(s).resolve()) for s in shards}
    opened_before = len(openings(cache))
    for epoch in range(2):
        dataset.set_epoch(epoch)
        assert sum(len(b["frame"]) for b in DataLoader(dataset, batch_size=None)) == 36
        assert ours <= open_files()
    assert len(openings(cache)) - opened_before == len(shards)  # opened once for both epochs
    inherited = next(iter(DataLoader(OpenFilesInWorker(), batch_size=None, num_workers=1)))
    assert not ours & set(inherited)  # closed before the fork ...
    assert not ours & open_files()
    dataset.set_epoch(2)
    assert sum(len(b["frame"]) for b in DataLoader(dataset, batch_size=None)) == 36  # ... and reopened
    assert len(openings(cache)) - opened_before == 2 * len(shards)


def test_kept_readers_close_the_least_recently_used_beyond_capacity(shards):
    readers = ShardReaders([str(s) for s in shards], cache=None, capacity=2)
    first, second = readers[0], readers[1]
    assert readers[0] is first  # kept, and now the most recently used
    readers[2]
    assert second._file is None and first._file is not None
    assert readers[1] is not second  # reopened
    readers.close()
    assert not open_files() & {str(Path(s).resolve()) for s in shards}
