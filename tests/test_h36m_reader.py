"""The Human3.6M-layout reader on generated files: geometry, filtering, skips and bad files."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from pose3d.datasets.h36m import DatasetError, H36MReader
from pose3d.datasets.layout import SequenceId, annotation_path


def _copy_annotations(root, tmp_path):
    """A writable copy of the annotations (images are not needed by these tests)."""
    target = tmp_path / "copy"
    shutil.copytree(root / "annotations", target / "annotations")
    return target


def test_reader_reproduces_camera_space_joints_and_boxes(tiny_synthetic):
    root, config = tiny_synthetic
    reader = H36MReader(root)
    assert reader.subjects() == sorted(config.dataset.subjects)
    seq = SequenceId(1, 14, 1, 2)
    record = reader.load_sequence(seq)
    assert len(record) == config.synthetic.frames_per_sequence
    assert record.joints_world_mm.shape == record.joints_cam_mm.shape == (len(record), 17, 3)
    assert record.joints_cam_mm.dtype == np.float32

    # Independent of the reader: X_cam = R @ X_world + t straight from the JSON files.
    camera = json.loads(annotation_path(root, 1, "camera").read_text())["2"]
    joints = json.loads(annotation_path(root, 1, "joint_3d").read_text())["14"]["1"]
    world = np.array([joints[str(f)] for f in record.frame_indices])
    expected = world @ np.array(camera["R"]).T + np.array(camera["t"])
    np.testing.assert_allclose(record.joints_cam_mm, expected, atol=0.05)
    np.testing.assert_allclose(record.camera.intrinsics, camera["f"] + camera["c"], rtol=1e-6)

    pixels = record.camera.focal * record.joints_cam_mm[..., :2] / record.joints_cam_mm[..., 2:] + record.camera.center
    x, y, w, h = (record.bboxes_xywh[:, None, i] for i in range(4))
    assert np.all((pixels[..., 0] >= x - 1) & (pixels[..., 0] <= x + w + 1))
    assert np.all((pixels[..., 1] >= y - 1) & (pixels[..., 1] <= y + h + 1))
    assert all(path.is_file() for path in record.image_paths + record.depth_paths)
    assert record.image_paths[0].name == f"{seq.name}_000001.jpg" and record.skipped == {}


def test_frame_step_and_filters(tiny_synthetic):
    root, config = tiny_synthetic
    reader = H36MReader(root)
    records = list(reader.iter_sequences([9], actions=[2], cameras=[1], frame_step=3))
    assert [r.sequence for r in records] == [SequenceId(9, 2, 1, 1)]
    assert list(records[0].frame_indices) == list(range(0, config.synthetic.frames_per_sequence, 3))
    everything = list(reader.iter_sequences(config.dataset.subjects))
    assert len(everything) == len(config.dataset.subjects) * len(config.dataset.actions) * len(config.dataset.cameras)


def test_missing_3d_frame_is_skipped_and_counted(tiny_synthetic, tmp_path):
    root, _ = tiny_synthetic
    copy = _copy_annotations(root, tmp_path)
    path = annotation_path(copy, 1, "joint_3d")
    joints = json.loads(path.read_text())
    del joints["2"]["1"]["3"]
    path.write_text(json.dumps(joints))
    record = H36MReader(copy).load_sequence(SequenceId(1, 2, 1, 1))
    assert record.skipped == {"no_joint_3d": 1}
    assert 3 not in record.frame_indices
    assert record.depth_paths is None  # no depth/ folder in the copy


@pytest.mark.parametrize(
    ("kind", "corrupt", "message"),
    [
        ("data", lambda text: text[: len(text) // 2], "not valid JSON"),
        ("data", lambda text: json.dumps({"images": []}), "'images' and 'annotations'"),
        ("joint_3d", lambda text: json.dumps({"2": {"1": {"0": [[0.0, 0.0, 0.0]] * 16}}}), "shape"),
        ("camera", lambda text: json.dumps({"1": {"R": np.eye(3).tolist(), "t": [0, 0, 0], "f": [1, 1]}}), "lacks"),
    ],
)
def test_malformed_annotation_gives_a_clear_error(tiny_synthetic, tmp_path, kind, corrupt, message):
    root, _ = tiny_synthetic
    copy = _copy_annotations(root, tmp_path)
    path = annotation_path(copy, 1, kind)
    path.write_text(corrupt(path.read_text()))
    with pytest.raises(DatasetError, match=message) as error:
        H36MReader(copy).load_sequence(SequenceId(1, 2, 1, 1))
    assert path.name in str(error.value)


def test_missing_files_and_sequences(tiny_synthetic, tmp_path):
    root, _ = tiny_synthetic
    with pytest.raises(DatasetError, match="no annotations/"):
        H36MReader(tmp_path)
    copy = _copy_annotations(root, tmp_path)
    annotation_path(copy, 9, "camera").unlink()
    reader = H36MReader(copy)
    with pytest.raises(DatasetError, match="Human36M_subject9_camera.json: annotation file is missing"):
        reader.load_sequence(SequenceId(9, 2, 1, 1))
    with pytest.raises(DatasetError, match="no images of sequence s_01_act_03"):
        reader.load_sequence(SequenceId(1, 3, 1, 1))
