"""The shard format: writer/reader round trips, validation errors, chunk, and the remote cache."""

from __future__ import annotations

import shutil

import h5py
import numpy as np
import pytest

from pose3d import geometry
from pose3d.chunk import ChunkError, chunk_subject
from pose3d.config import config_from_dict
from pose3d.datasets.layout import SequenceId
from pose3d.shards import schema
from pose3d.shards.reader import ShardCache, ShardError, ShardReader, is_remote, local_stat, open_shard
from pose3d.shards.writer import ShardWriter
from pose3d.testing.config import tiny_config_dict
from pose3d.testing.samples import make_samples
from pose3d.testing.shards import write_preprocessed, write_test_shard


@pytest.mark.parametrize("codec", ["jpeg", "raw"])
def test_round_trip(tmp_path, codec):
    batch = make_samples(10, subject=1, image_size=16, depth_size=8)
    # Smooth images so that JPEG stays close to the original.
    batch[schema.IMAGE] = np.repeat(np.linspace(0, 255, 16, dtype=np.uint8)[None, None, :, None], 16, axis=1)
    batch[schema.IMAGE] = np.repeat(np.repeat(batch[schema.IMAGE], 10, axis=0), 3, axis=3)
    originals = batch[schema.IMAGE].copy()
    if codec == "jpeg":
        from pose3d.shards.writer import encode_image

        batch[schema.IMAGE] = [encode_image(image, "jpeg", 95) for image in originals]
    path = tmp_path / "shard.h5"
    with ShardWriter(path, image_size=16, depth_size=8, image_codec=codec, keypoints_layout="coco17", flush_every=3) as w:
        w.append({name: values[:4] for name, values in batch.items()})
        w.append({name: values[4:] for name, values in batch.items()})
    with ShardReader(path) as reader:
        assert len(reader) == 10
        assert reader.info.image_codec == codec and reader.info.keypoints_layout == "coco17"
        data = reader.read(2, 7)
        images = np.stack([reader.decode(payload) for payload in data[schema.IMAGE]])
        picked = reader.read_indices(np.array([9, 0, 5]))
    if codec == "raw":
        np.testing.assert_array_equal(images, originals[2:7])
    else:
        assert np.abs(images.astype(int) - originals[2:7]).mean() < 3
    np.testing.assert_array_equal(data[schema.JOINTS_3D], batch[schema.JOINTS_3D][2:7])
    np.testing.assert_array_equal(data[schema.DEPTH], batch[schema.DEPTH][2:7].astype(np.float16))
    np.testing.assert_array_equal(picked[schema.FRAME], [9, 0, 5])


def test_failed_writer_leaves_nothing(tmp_path):
    path = tmp_path / "shard.h5"
    with pytest.raises(RuntimeError), ShardWriter(path, image_size=16, depth_size=8, image_codec="raw", keypoints_layout="h36m17") as w:
        w.append(make_samples(3, image_size=16, depth_size=8))
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def test_truncated_shard_names_the_file(tmp_path):
    path = write_test_shard(tmp_path / "shard_00000.h5", subject=1, count=200)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ShardError, match="shard_00000.h5"), ShardReader(path) as reader:
        reader.read()


def test_wrong_schema_version_names_the_file(tmp_path):
    path = write_test_shard(tmp_path / "old.h5", subject=1, count=3)
    with h5py.File(path, "a") as handle:
        handle.attrs[schema.ATTR_SCHEMA_VERSION] = schema.SCHEMA_VERSION + 1
    with pytest.raises(ShardError, match=r"old\.h5.*schema_version"):
        ShardReader(path)


def test_unfinished_or_incomplete_shards_are_rejected(tmp_path):
    path = write_test_shard(tmp_path / "a.h5", subject=1, count=3)
    with h5py.File(path, "a") as handle:
        del handle.attrs[schema.ATTR_NUM_SAMPLES]
    with pytest.raises(ShardError, match=r"a\.h5.*never finished"):
        ShardReader(path)
    path = write_test_shard(tmp_path / "b.h5", subject=1, count=3)
    with h5py.File(path, "a") as handle:
        del handle[schema.JOINTS_3D]
    with pytest.raises(ShardError, match=r"b\.h5.*joints_3d"):
        ShardReader(path)
    (tmp_path / "c.h5").write_text("not hdf5")
    with pytest.raises(ShardError, match=r"c\.h5"):
        ShardReader(tmp_path / "c.h5")


@pytest.mark.skipif(shutil.which("rclone") is None, reason="needs the rclone binary")
def test_cache_fetches_with_rclone(tmp_path):
    source = write_test_shard(tmp_path / "shard.h5", subject=1, count=3)
    cache = ShardCache(tmp_path / "cache")  # default fetch: rclone copyto
    remote = f":local:{source}"
    assert is_remote(remote)
    local = cache.local_path(remote)
    assert local.parent == tmp_path / "cache" and local.read_bytes() == source.read_bytes()
    with pytest.raises(ShardError, match="rclone lsjson failed"):
        cache.local_path(f":local:{tmp_path / 'missing.h5'}")


def test_cache_copies_remote_shards_once(tmp_path):
    source = write_test_shard(tmp_path / "shard.h5", subject=1, count=3)
    copies = []

    def fetch(remote: str, destination):
        copies.append(remote)
        destination.write_bytes(source.read_bytes())

    cache = ShardCache(tmp_path / "cache", fetch=fetch, stat=lambda remote: local_stat(source))
    assert is_remote("onedrive:h36m/results/shard.h5") and is_remote("rclone:onedrive:x/shard.h5")
    assert not is_remote(source) and not is_remote("C:/data/shard.h5")
    for _ in range(2):
        with open_shard("onedrive:h36m/results/shard.h5", cache) as reader:
            assert len(reader) == 3
    assert copies == ["onedrive:h36m/results/shard.h5"]
    assert cache.local_path(source) == source
    with pytest.raises(ShardError, match="remote"):
        open_shard("onedrive:h36m/results/shard.h5")


@pytest.mark.parametrize("codec", ["jpeg", "raw"])
def test_chunk_subject(tmp_path, codec):
    root = tmp_path / "data"
    config = config_from_dict(tiny_config_dict(root, shards={"image_codec": codec, "image_size": 32, "depth_size": 16}))
    sequences = [SequenceId(1, 2, 1, 1), SequenceId(1, 14, 1, 2)]
    files = [
        write_preprocessed(root, tmp_path / "pre", sequences[0], [0, 2, 4, 6], bad_status=(2,)),
        write_preprocessed(root, tmp_path / "pre", sequences[1], [0, 2, 4], missing_images=(4,)),
    ]
    out = tmp_path / "chunks" / "S1.h5"
    report = chunk_subject(config, 1, files, out)
    assert (report.samples, report.frames_seen) == (5, 7)
    assert report.skipped == {"preprocess_no_person": 1, "unreadable_image": 1}
    assert report.skipped_files[0].endswith("s_01_act_14_subact_01_ca_02_000005.jpg")
    with h5py.File(files[0]) as handle:
        pre_keypoints, pre_crop = handle["keypoints_2d"][0], handle["crop"][0]
    with ShardReader(out) as reader:
        assert reader.info.image_size == 32 and reader.info.image_codec == codec
        data = reader.read()
        first = reader.decode(data[schema.IMAGE][0])
    assert sorted(zip(data[schema.ACTION].tolist(), data[schema.FRAME].tolist(), strict=True)) == [
        (2, 0), (2, 4), (2, 6), (14, 0), (14, 2)
    ]
    crop = data[schema.CROP][0]
    np.testing.assert_allclose(crop, [pre_crop[0], pre_crop[1], pre_crop[2] / 32], rtol=1e-6)
    # Keypoints in crop pixels map back to the preprocessed original pixels.
    back = geometry.crop_to_image(data[schema.KEYPOINTS_2D][0][:, :2], crop)
    np.testing.assert_allclose(back, pre_keypoints[:, :2], atol=1e-3)
    # The crop shows the right part of the gradient image: red = 2 * y, blue = 2 * x (original pixels).
    centre = geometry.crop_to_image(np.array([[16.0, 16.0]]), crop)[0]
    assert abs(int(first[16, 16, 0]) - 2 * centre[1]) < 6 and abs(int(first[16, 16, 2]) - 2 * centre[0]) < 6
    assert data[schema.DEPTH].shape == (5, 16, 16)


def test_chunk_rejects_foreign_files(tmp_path):
    root = tmp_path / "data"
    config = config_from_dict(tiny_config_dict(root))
    path = write_preprocessed(root, tmp_path / "pre", SequenceId(9, 2, 1, 1), [0])
    with pytest.raises(ChunkError, match="subject 9"):
        chunk_subject(config, 1, [path], tmp_path / "S1.h5")
    with h5py.File(path, "a") as handle:
        handle.attrs["schema_version"] = 7
    with pytest.raises(ChunkError, match=r"s_09_act_02_subact_01_ca_01\.h5.*version"):
        chunk_subject(config, 9, [path], tmp_path / "S9.h5")
    assert not (tmp_path / "S1.h5").exists() and not (tmp_path / "S9.h5").exists()


def test_chunk_of_real_preprocess_output_is_consistent(tiny_synthetic, tmp_path):
    """Synthetic data -> preprocess (groundtruth 2D, no noise) -> chunk: the shard's 2D keypoints are the
    projection of its 3D joints with the crop's intrinsics, and the depth crop sees the person."""
    from pose3d.preprocess import preprocess_sequence

    root, _ = tiny_synthetic
    oracle = {"keypoints": {"noise_px": 0.0, "dropout": 0.0, "error_model": "oracle"}, "depth": {"error_model": "oracle"}}
    config = config_from_dict(tiny_config_dict(root, perception=oracle))
    sequence = SequenceId(1, 2, 1, 1).name
    pre = tmp_path / f"{sequence}.h5"
    preprocess_sequence(config, sequence, pre, tmp_path / "report.json")
    report = chunk_subject(config, 1, [pre], tmp_path / "S1.h5")
    assert report.samples == report.frames_seen > 0
    with ShardReader(tmp_path / "S1.h5") as reader:
        data = reader.read()
        assert reader.info.keypoints_layout == "h36m17"
    intrinsics = geometry.crop_intrinsics(data[schema.INTRINSICS].astype(np.float64), data[schema.CROP].astype(np.float64))
    projected = geometry.camera_to_pixel(
        data[schema.JOINTS_3D].astype(np.float64), intrinsics[:, 0:2], intrinsics[:, 2:4]
    )
    np.testing.assert_allclose(data[schema.KEYPOINTS_2D][..., :2], projected, atol=0.05)
    assert (data[schema.KEYPOINTS_2D][..., :2] > 0).all() and (data[schema.KEYPOINTS_2D][..., :2] < 32).all()
    # Depth under the torso keypoints (pelvis, spine, thorax), read where the models read it
    # (depth pixel centres at (c + 0.5) * 32 / 16 - 0.5), is about the root's distance in metres.
    torso = np.floor((data[schema.KEYPOINTS_2D][:, [0, 7, 8], :2] + 0.5) * 16 / 32).astype(int).clip(0, 15)
    rows = np.arange(len(torso))[:, None]
    centre = np.median(data[schema.DEPTH][rows, torso[..., 1], torso[..., 0]].astype(np.float32), axis=1)
    root_z_m = data[schema.JOINTS_3D][:, 0, 2] / 1000
    assert np.all(np.abs(centre - root_z_m) < 0.5)
