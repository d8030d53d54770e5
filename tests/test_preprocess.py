"""The preprocess stage on a tiny synthetic dataset, with every backend and with broken input."""

from __future__ import annotations

import json
import shutil

import h5py
import numpy as np
import pytest

from pose3d.cli import main as cli_main
from pose3d.config import config_from_dict
from pose3d.datasets.h36m import H36MReader
from pose3d.datasets.layout import SequenceId
from pose3d.geometry import camera_to_pixel
from pose3d.preprocess import SCHEMA_VERSION, STATUS_OK, STATUS_UNREADABLE_IMAGE, preprocess_sequence
from pose3d.testing.config import tiny_config_dict
from pose3d.testing.tiny_models import save_tiny_depthpro, save_tiny_yolo_pose

SEQUENCE = SequenceId(1, 2, 1, 1).name
ARRAYS = {  # name -> (shape after N, dtype); depth_size is 16 in the tiny config
    "frame": ((), np.int32),
    "status": ((), np.uint8),
    "keypoints_2d": ((17, 3), np.float32),
    "box": ((4,), np.float32),
    "person_score": ((), np.float32),
    "crop": ((3,), np.float32),
    "depth": ((16, 16), np.float16),
    "focal_estimate": ((), np.float32),
    "joints_cam_mm": ((17, 3), np.float32),
    "intrinsics": ((4,), np.float32),
}
ATTRS = (
    "schema", "schema_version", "sequence", "subject", "action", "subaction", "camera", "keypoints_layout",
    "keypoints_backend", "depth_backend", "image_size", "depth_size", "crop_padding", "image_width", "image_height",
)


def _config(root, **overrides):
    return config_from_dict(tiny_config_dict(root, **overrides))


def _read(path):
    with h5py.File(path, "r") as handle:
        attrs = dict(handle.attrs)
        arrays = {name: handle[name][()] for name in handle}
    arrays["image_file"] = [name.decode() if isinstance(name, bytes) else name for name in arrays["image_file"]]
    return attrs, arrays


def _check_format(attrs, arrays, frames_seen):
    assert set(ATTRS) <= set(attrs)
    assert attrs["schema"] == "pose3d.preprocessed" and attrs["schema_version"] == SCHEMA_VERSION
    for name, (shape, dtype) in ARRAYS.items():
        assert arrays[name].shape == (frames_seen, *shape), name
        assert arrays[name].dtype == dtype, name
    assert len(arrays["image_file"]) == frames_seen


def test_groundtruth_and_dataset_depth(tiny_synthetic, tmp_path):
    root, _ = tiny_synthetic
    oracle = {"keypoints": {"backend": "groundtruth", "noise_px": 0.0, "error_model": "oracle"},
              "depth": {"error_model": "oracle"}}
    config = _config(root, perception=oracle)
    report = preprocess_sequence(config, SEQUENCE, tmp_path / "out.h5", tmp_path / "out.report.json")
    attrs, arrays = _read(tmp_path / "out.h5")
    assert (attrs["keypoints_error_model"], attrs["depth_error_model"]) == ("oracle", "oracle")
    frames_seen = 4  # 8 synthetic frames, every 2nd
    _check_format(attrs, arrays, frames_seen)
    assert attrs["sequence"] == SEQUENCE and attrs["keypoints_layout"] == "h36m17"
    assert (attrs["subject"], attrs["action"], attrs["subaction"], attrs["camera"]) == (1, 2, 1, 1)
    np.testing.assert_array_equal(arrays["frame"], [0, 2, 4, 6])
    assert arrays["image_file"][1] == SequenceId.parse(SEQUENCE).image_name(2)
    assert np.all(arrays["status"] == STATUS_OK)
    # GT 2D without noise: exactly the annotated joints projected with the annotated camera.
    record = H36MReader(root).load_sequence(SequenceId.parse(SEQUENCE), frame_step=2)
    np.testing.assert_array_equal(arrays["joints_cam_mm"], record.joints_cam_mm)
    np.testing.assert_array_equal(arrays["intrinsics"], np.tile(record.camera.intrinsics, (frames_seen, 1)))
    camera = record.camera
    expected = camera_to_pixel(record.joints_cam_mm.astype(np.float64), camera.focal, camera.center)
    np.testing.assert_array_equal(arrays["keypoints_2d"][..., :2], expected.astype(np.float32))
    intrinsics = arrays["intrinsics"].astype(np.float64)
    # The crop is square around the person, the depth crop sees the body at a few metres.
    assert np.all(arrays["crop"][:, 2] > 0)
    body_depth = arrays["depth"].astype(np.float32)
    assert np.all(np.isfinite(body_depth)) and np.all(body_depth.max(axis=(1, 2)) > 0.5)
    np.testing.assert_allclose(arrays["focal_estimate"], intrinsics[:, :2].mean(axis=1), rtol=1e-6)
    saved = json.loads((tmp_path / "out.report.json").read_text())
    assert saved == report
    assert report["frames_seen"] == frames_seen and report["frames_kept"] == frames_seen
    assert report["second_look"] is None  # the annotation projected: no detector to look again
    assert all(entry["count"] == 0 for entry in report["skipped"].values())
    assert not list(tmp_path.glob(".*tmp*"))  # temporary files renamed away


def test_simulated_perception_is_seeded_per_sequence_and_labelled(tiny_synthetic, tmp_path):
    root, _ = tiny_synthetic
    oracle = {"keypoints": {"error_model": "oracle"}, "depth": {"error_model": "oracle"}}
    runs = {}
    for name, perception in (("oracle", oracle), ("realistic", {}), ("again", {})):
        preprocess_sequence(_config(root, perception=perception), SEQUENCE, tmp_path / f"{name}.h5", tmp_path / f"{name}.json")
        runs[name] = _read(tmp_path / f"{name}.h5")
    attrs, realistic = runs["realistic"]
    assert (attrs["keypoints_error_model"], attrs["depth_error_model"]) == ("realistic", "realistic")
    exact = runs["oracle"][1]
    assert not np.allclose(realistic["keypoints_2d"][..., :2], exact["keypoints_2d"][..., :2])
    assert not np.allclose(realistic["depth"].astype(np.float32), exact["depth"].astype(np.float32))
    for name in ("keypoints_2d", "depth"):  # a rerun writes the same simulated inputs
        np.testing.assert_array_equal(realistic[name], runs["again"][1][name])


def test_corrupt_and_truncated_jpegs_are_skipped_and_listed(tiny_synthetic, tmp_path):
    source, _ = tiny_synthetic
    root = tmp_path / "data"
    shutil.copytree(source, root)
    sequence = SequenceId.parse(SEQUENCE)
    corrupt = root / "images" / sequence.image_name(2)
    truncated = root / "images" / sequence.image_name(4)
    corrupt.write_bytes(b"this is not a jpeg at all")
    truncated.write_bytes(truncated.read_bytes()[: truncated.stat().st_size // 2])
    report = preprocess_sequence(_config(root), SEQUENCE, tmp_path / "out.h5", tmp_path / "out.report.json")
    _, arrays = _read(tmp_path / "out.h5")
    np.testing.assert_array_equal(arrays["status"], [STATUS_OK, STATUS_UNREADABLE_IMAGE, STATUS_UNREADABLE_IMAGE, STATUS_OK])
    assert np.all(np.isnan(arrays["keypoints_2d"][1:3]))
    unreadable = report["skipped"]["unreadable_image"]
    assert unreadable["count"] == 2 and report["frames_kept"] == 2 and report["frames_seen"] == 4
    assert sorted(unreadable["paths"]) == sorted([str(corrupt), str(truncated)])


def test_tiny_yolo_and_tiny_depthpro(tiny_synthetic, tmp_path):
    root, _ = tiny_synthetic
    weights = save_tiny_yolo_pose(tmp_path / "models" / "pose.pt")
    depthpro = save_tiny_depthpro(tmp_path / "models" / "depthpro")
    config = _config(root, perception={
        "device": "cpu",
        "keypoints": {"backend": "yolo", "weights": str(weights), "confidence": 0.0, "batch_size": 3},
        "depth": {"backend": "depthpro", "model": str(depthpro), "batch_size": 2},
    })
    report = preprocess_sequence(config, SEQUENCE, tmp_path / "out.h5", tmp_path / "out.report.json")
    attrs, arrays = _read(tmp_path / "out.h5")
    _check_format(attrs, arrays, 4)
    assert attrs["keypoints_layout"] == "coco17" and attrs["keypoints_backend"] == "yolo"
    assert attrs["depth_backend"] == "depthpro"
    ok = arrays["status"] == STATUS_OK
    assert report["frames_kept"] == int(ok.sum()) and report["frames_seen"] == 4
    assert set(arrays["status"].tolist()) <= {0, 1}  # random weights may find nobody, nothing else fails
    assert np.all(np.isfinite(arrays["keypoints_2d"][ok])) and np.all(np.isfinite(arrays["depth"][ok]))
    assert np.all(np.isnan(arrays["keypoints_2d"][~ok]))
    # YOLO looks at whole frames: each frame whose subject it missed got a second look at the annotated box.
    looked_again = report["second_look"]
    assert report["frames_kept"] == report["frames_seen"] - looked_again["frames"] + looked_again["found"], report
    # A detector that finds nobody (no score reaches a confidence of 1): every frame is looked at again,
    # nobody is found there either, and each frame stays a counted no_person frame.
    for second_look, expected in ((True, {"frames": 4, "found": 0}), (False, None)):
        blind = _config(root, perception={"device": "cpu", "keypoints": {
            "backend": "yolo", "weights": str(weights), "confidence": 1.0, "second_look": second_look}})
        report = preprocess_sequence(blind, SEQUENCE, tmp_path / "blind.h5", tmp_path / "blind.report.json")
        assert report["second_look"] == expected and report["frames_kept"] == 0, report
        assert report["skipped"]["no_person"]["count"] == 4
        if second_look:  # the run summary says how many subjects the second look found
            from pose3d.run_summary import summarize

            (tmp_path / "results" / "preprocessed").mkdir(parents=True)
            (tmp_path / "blind.report.json").rename(tmp_path / "results" / "preprocessed" / "blind.report.json")
            line = next(line for line in summarize(tmp_path / "results") if line.startswith("preprocess:"))
            assert "0 of 4 subjects missed in the whole frame found on a second look at the annotated box" in line


def test_missing_depth_maps_are_counted(tiny_synthetic, tmp_path):
    source, _ = tiny_synthetic
    root = tmp_path / "data"
    shutil.copytree(source, root)
    depth_file = root / "depth" / SequenceId.parse(SEQUENCE).depth_name(6)
    depth_file.unlink()
    report = preprocess_sequence(_config(root), SEQUENCE, tmp_path / "out.h5", tmp_path / "out.report.json")
    assert report["skipped"]["missing_depth"]["count"] == 1 and report["frames_kept"] == 3


def test_cli_writes_the_same_files(tiny_synthetic, tmp_path):
    import yaml

    root, _ = tiny_synthetic
    config_file = tmp_path / "config.yaml"
    config_file.write_text(yaml.safe_dump(tiny_config_dict(root)))
    output = tmp_path / "cli" / f"{SEQUENCE}.h5"
    assert cli_main(["preprocess", "--config", str(config_file), "--sequence", SEQUENCE, "--output", str(output)]) == 0
    assert output.is_file() and (tmp_path / "cli" / f"{SEQUENCE}.report.json").is_file()
    assert cli_main(["preprocess", "--config", str(config_file), "--sequence", "not_a_sequence"]) == 2


@pytest.mark.parametrize("backend", ["yolo", "depthpro"])
def test_missing_weights_stop_before_any_output(tiny_synthetic, tmp_path, backend):
    from pose3d.perception import PerceptionError

    root, _ = tiny_synthetic
    missing = str(tmp_path / "nowhere" / ("pose.pt" if backend == "yolo" else "depthpro"))
    section = {"keypoints": {"backend": "yolo", "weights": missing}} if backend == "yolo" else {
        "depth": {"backend": "depthpro", "model": missing}
    }
    with pytest.raises(PerceptionError, match="nowhere"):
        preprocess_sequence(_config(root, perception=section), SEQUENCE, tmp_path / "o.h5", tmp_path / "o.json")
    assert not (tmp_path / "o.h5").exists()
