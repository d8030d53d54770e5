"""PackedBatch: a batch crosses from a loader worker to the main process as one reused buffer, unchanged."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from pose3d.testing.shards import write_shards
from pose3d.training import packed_batch
from pose3d.training.batches import batch_to_device
from pose3d.training.dataset import ShardDataset
from pose3d.training.packed_batch import FREE, IN_FLIGHT, BufferPool, PackedBatch, received, received_again


def _batch(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "image": torch.from_numpy(rng.integers(0, 255, (4, 8, 8, 3), dtype=np.uint8)),
        "depth": torch.from_numpy(rng.random((4, 1, 4, 4)).astype(np.float16)),
        "joints_3d": torch.from_numpy(rng.random((4, 3, 17)).astype(np.float32)).transpose(1, 2),  # not contiguous
        "frame": torch.arange(4, dtype=torch.int64) + seed,
        "image_jpeg": ["not an array"],
    }


def _assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for name in a:
        if torch.is_tensor(a[name]):
            assert a[name].dtype == b[name].dtype and torch.equal(a[name], b[name]), name
        else:
            assert a[name] == b[name], name


def test_packed_batch_is_the_same_dict_in_one_shared_buffer():
    original = _batch()
    packed = PackedBatch.pack(original)
    _assert_same(packed, original)
    storages = {packed[name].untyped_storage().data_ptr() for name in ("image", "depth", "joints_3d", "frame")}
    assert len(storages) == 1 and packed["image"].is_shared()
    # What the worker queue sends: one tensor (the buffer), whatever the number of fields.
    rebuild, arguments = packed.__reduce__()
    assert [torch.is_tensor(a) for a in arguments] == [True, False, False, False]
    assert arguments[2] == {"image_jpeg": ["not an array"]}
    _assert_same(rebuild(*arguments), original)
    _assert_same(pickle.loads(pickle.dumps(packed)), original)
    clone = copy.copy(packed)  # as DataLoader's default_convert and pin_memory copy it: still one buffer
    _assert_same(clone, original)
    assert clone.__reduce__()[1][0] is packed.__reduce__()[1][0]


def test_a_changed_packed_batch_pickles_as_what_it_now_holds():
    packed = PackedBatch.pack(_batch())
    packed["frame"] = torch.full((4,), 7)
    del packed["depth"]
    restored = pickle.loads(pickle.dumps(packed))
    assert type(restored) is dict and restored["frame"].tolist() == [7] * 4 and "depth" not in restored


def test_a_pooled_buffer_is_reused_only_after_the_main_process_copied_its_batch_out():
    pool = BufferPool(capacity=2)
    first = PackedBatch.pack(_batch(0), pool)
    second = PackedBatch.pack(_batch(1), pool)
    third = PackedBatch.pack(_batch(2), pool)  # both pooled buffers in flight: a new, unpooled one
    assert pool.allocated == 3 and [int(b[0]) for b in pool.buffers] == [IN_FLIGHT, IN_FLIGHT]
    rebuild, arguments = third.__reduce__()
    assert rebuild is received and arguments[3] is None  # sent as its buffer, which is the batch
    arrived = received(*first.__reduce__()[1])  # what unpickling does in the main process
    assert int(pool.buffers[0][0]) == FREE
    fourth = PackedBatch.pack(_batch(3), pool)  # reuses the first buffer ...
    assert pool.allocated == 3
    rebuild, arguments = fourth.__reduce__()  # ... which the main process has mapped: only its handle travels
    assert rebuild is received_again and not any(torch.is_tensor(a) for a in arguments) and arguments[0][2] == 0
    _assert_same(arrived, _batch(0))  # the batch that arrived from it is untouched
    _assert_same(received_again(*arguments), _batch(3))
    _assert_same(received(*second.__reduce__()[1]), _batch(1))


def test_a_handle_this_process_never_mapped_is_a_clear_error():
    pool = BufferPool(capacity=1)
    PackedBatch.pack(_batch(0), pool)
    pool.buffers[0][0] = FREE  # as if another process had received it
    reused = PackedBatch.pack(_batch(1), pool)
    with pytest.raises(RuntimeError, match="never received"):
        received_again(*reused.__reduce__()[1])


def test_mappings_of_exited_workers_are_dropped(tmp_path):
    shards = write_shards(tmp_path, 1, 64, subject=1)

    def tokens_after_one_epoch() -> set[bytes]:
        before = set(packed_batch._MAPPED)
        dataset = ShardDataset(shards, batch_size=4, batches=True)
        assert sum(len(b["frame"]) for b in DataLoader(dataset, batch_size=None, num_workers=2)) == 64
        return set(packed_batch._MAPPED) - before  # the loader's workers have exited now

    first = tokens_after_one_epoch()
    assert len(first) == 2
    second = tokens_after_one_epoch()
    assert len(second) == 2 and not first & set(packed_batch._MAPPED)


def test_workers_hand_over_packed_batches_equal_to_in_process_ones(tmp_path):
    shards = write_shards(tmp_path, 2, 80, subject=1)

    def batches(workers: int, epochs: int = 2) -> list[dict]:
        dataset = ShardDataset(shards, shuffle_buffer=8, batch_size=4, batches=True, seed=3)
        loader = DataLoader(dataset, batch_size=None, num_workers=workers, persistent_workers=workers > 0)
        raw = []
        for epoch in range(epochs):
            dataset.set_epoch(epoch)
            raw += list(loader)  # every batch kept while later ones arrive through the same buffers
        assert {type(batch) for batch in raw} == ({PackedBatch} if workers else {dict})
        return [batch_to_device(batch, torch.device("cpu")) for batch in raw]

    alone, two = batches(0), batches(2)
    assert len(alone) == len(two) == 80
    for a, b in zip(alone, two, strict=True):
        _assert_same(a, b)


def test_evaluation_workers_collate_into_packed_batches_in_file_order(tmp_path):
    from pose3d.training.packed_batch import packed_collate

    shards = write_shards(tmp_path, 2, 30, subject=1)

    def batches(workers: int) -> list[dict]:
        dataset = ShardDataset(shards, evaluation=True, rank=0, world_size=1)
        return list(DataLoader(dataset, batch_size=8, num_workers=workers, collate_fn=packed_collate))

    alone, two = batches(0), batches(2)
    assert {type(b) for b in alone} == {dict} and {type(b) for b in two} == {PackedBatch}

    def by_frame(loaded: list[dict]) -> dict:  # workers read contiguous pieces: batches differ, samples do not
        return {int(frame): {name: values[i] for name, values in batch.items()}
                for batch in loaded for i, frame in enumerate(batch["frame"])}

    expected, got = by_frame(alone), by_frame(two)
    assert got.keys() == expected.keys() and len(got) == 60
    for frame, sample in got.items():
        _assert_same(sample, expected[frame])
