"""Shard depth maps are LZ4-compressed (fast to read) and read back exactly; shards written with
h5py's LZF, as before, read the same."""

from __future__ import annotations

import h5py
import hdf5plugin
import numpy as np
import pytest

from pose3d.shards import schema, writer
from pose3d.shards.reader import open_shard
from pose3d.testing.samples import make_samples
from pose3d.testing.shards import write_shard

LZF_ID = 32000  # h5py's built-in filter


def depth_filters(path) -> list[int]:
    with h5py.File(path, "r") as file:
        plist = file[schema.DEPTH].id.get_create_plist()
        return [plist.get_filter(i)[0] for i in range(plist.get_nfilters())]


@pytest.mark.parametrize(("compression", "filter_id"), [(writer.DEPTH_COMPRESSION, hdf5plugin.LZ4_ID),
                                                        ({"compression": "lzf"}, LZF_ID)], ids=["lz4", "lzf"])
def test_depth_reads_back_exactly_whatever_the_filter(tmp_path, monkeypatch, compression, filter_id):
    monkeypatch.setattr(writer, "DEPTH_COMPRESSION", compression)
    samples = make_samples(40, 2, subject=1, image_size=32, depth_size=16)
    written = samples[schema.DEPTH].astype(np.float16)
    assert np.count_nonzero(written) > 0
    path = write_shard(tmp_path / "shard.h5", samples, image_size=32, depth_size=16, image_codec="jpeg",
                       keypoints_layout="h36m17", source="test")
    assert depth_filters(path) == [filter_id]
    with open_shard(path) as reader:
        depth = reader.read(0, 40)[schema.DEPTH]
    assert depth.dtype == np.float16 and np.array_equal(depth, written)
