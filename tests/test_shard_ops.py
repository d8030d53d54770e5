"""Split, re-chunk and shuffle: samples are conserved, balanced, mixed, and deterministic."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from pose3d.chunk import chunk_subject
from pose3d.config import config_from_dict
from pose3d.datasets.layout import SequenceId
from pose3d.shards import schema
from pose3d.shards.ops import balanced_sizes, rechunk, shuffle_shards, split_by_subject
from pose3d.shards.reader import ShardError, ShardReader
from pose3d.testing.config import tiny_config_dict
from pose3d.testing.shards import sample_keys, write_preprocessed, write_test_shard


def test_balanced_sizes():
    assert balanced_sizes(10, 3) == [4, 3, 3]
    assert balanced_sizes(2, 4) == [1, 1, 0, 0]
    assert sum(balanced_sizes(1001, 7)) == 1001


@pytest.fixture(scope="module")
def chunks(tmp_path_factory):
    """Real chunks of subjects 1, 5 and 9 made by chunk_subject from preprocess-format files."""
    tmp = tmp_path_factory.mktemp("chunks")
    root = tmp / "data"
    config = config_from_dict(tiny_config_dict(root, shards={"image_size": 16, "depth_size": 8}))
    paths = {}
    for subject in (1, 5, 9):
        files = [
            write_preprocessed(root, tmp / "pre", SequenceId(subject, action, 1, camera), list(range(0, 24, 2)), depth_size=8)
            for action in (2, 14) for camera in (1, 2)
        ]
        paths[subject] = tmp / f"S{subject}.h5"
        chunk_subject(config, subject, files, paths[subject])
    return paths


def test_chunk_split_shuffle_conserves_samples(chunks, tmp_path):
    all_keys = sample_keys(list(chunks.values()))
    assert len(all_keys) == len(set(all_keys)) == 3 * 4 * 12
    train = [tmp_path / "split" / "train" / f"shard_{i:05d}.h5" for i in range(3)]
    test = [tmp_path / "split" / "test" / f"shard_{i:05d}.h5" for i in range(2)]
    inputs = [chunks[9], chunks[1], chunks[5]]
    assert split_by_subject(inputs, [1, 5], train) == [32, 32, 32]
    assert split_by_subject(inputs, [9], test) == [24, 24]
    train_keys, test_keys = sample_keys(train), sample_keys(test)
    assert sorted(train_keys) == sorted(k for k in all_keys if k[0] in (1, 5))
    assert sorted(test_keys) == sorted(k for k in all_keys if k[0] == 9)

    shuffled = [tmp_path / "shuffled" / f"shard_{i:05d}.h5" for i in range(3)]
    assert shuffle_shards(train, shuffled, seed=3) == [32, 32, 32]
    assert sorted(train_keys) == sorted(sample_keys(shuffled))
    assert not list((tmp_path / "shuffled").glob(".*")), "temporary files left behind"
    # Mixed: no output shard keeps an input shard's order, and samples cross shards.
    position = {key: i for i, key in enumerate(train_keys)}
    for path in shuffled:
        indices = [position[key] for key in sample_keys([path])]
        assert indices != sorted(indices)
        assert len({index // 32 for index in indices}) > 1
    # The payload travels with its provenance.
    with ShardReader(train[0]) as reader:
        before = reader.read()
    with ShardReader(shuffled[0]) as reader:
        after = reader.read()
        assert reader.info.attrs["shuffle_seed"] == 3
    lookup = {tuple(int(before[n][i]) for n in schema.PROVENANCE): i for i in range(len(before[schema.FRAME]))}
    for j in range(len(after[schema.FRAME])):
        key = tuple(int(after[n][j]) for n in schema.PROVENANCE)
        if key in lookup:
            i = lookup[key]
            np.testing.assert_array_equal(after[schema.JOINTS_3D][j], before[schema.JOINTS_3D][i])
            np.testing.assert_array_equal(after[schema.IMAGE][j], before[schema.IMAGE][i])


def test_shuffle_is_deterministic_from_seed(tmp_path):
    inputs = [write_test_shard(tmp_path / f"in{i}.h5", subject=1, count=40, first_frame=40 * i, seed=i) for i in range(2)]

    def run(seed, name):
        outputs = [tmp_path / name / f"shard_{i:05d}.h5" for i in range(3)]
        shuffle_shards(inputs, outputs, seed=seed)
        return [sample_keys([path]) for path in outputs]

    first, again, other = run(7, "a"), run(7, "b"), run(8, "c")
    assert first == again
    assert first != other
    assert [len(keys) for keys in first] == [27, 27, 26]


def test_split_errors(chunks, tmp_path):
    with pytest.raises(ShardError, match=r"subjects \[7\]"):
        split_by_subject([chunks[1]], [1, 7], [tmp_path / "x.h5"])
    other = write_test_shard(tmp_path / "raw.h5", subject=5, count=4, codec="raw")
    with pytest.raises(ShardError, match=r"raw\.h5.*image_codec"):
        split_by_subject([chunks[1], other], [1, 5], [tmp_path / "y.h5"])
    assert not (tmp_path / "x.h5").exists() and not (tmp_path / "y.h5").exists()


def test_rechunk_keeps_order_and_balances(tmp_path):
    inputs = [write_test_shard(tmp_path / f"in{i}.h5", subject=1, count=n, first_frame=100 * i) for i, n in enumerate((5, 9))]
    outputs = [tmp_path / "out" / f"shard_{i:05d}.h5" for i in range(4)]
    assert rechunk(inputs, outputs) == [4, 4, 3, 3]
    assert sample_keys(outputs) == sample_keys(inputs)
    with h5py.File(outputs[0]) as handle:
        assert handle.attrs[schema.ATTR_NUM_SAMPLES] == 4


def test_split_with_more_shards_than_samples(tmp_path):
    source = write_test_shard(tmp_path / "in.h5", subject=1, count=2)
    outputs = [tmp_path / f"shard_{i:05d}.h5" for i in range(3)]
    assert split_by_subject([source], [1], outputs) == [1, 1, 0]
    assert all(path.exists() for path in outputs)
    with ShardReader(outputs[2]) as reader:
        assert len(reader) == 0
