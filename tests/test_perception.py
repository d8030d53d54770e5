"""Perception backends on tiny real models: YOLO pose, DepthPro, projected ground truth, dataset depth."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from pose3d.config import config_from_dict
from pose3d.geometry import camera_to_pixel
from pose3d.perception import (
    DatasetDepth,
    DepthProDepth,
    Detections,
    Frame,
    GroundTruthKeypoints,
    PerceptionError,
    YoloKeypoints,
    depth_backend_from_config,
    keypoint_backend_from_config,
    select_person,
)
from pose3d.testing.tiny_models import save_tiny_depthpro, save_tiny_yolo_pose

FOCAL = np.array([150.0, 152.0])
CENTER = np.array([64.0, 60.0])


@pytest.fixture(scope="module")
def tiny_yolo(tmp_path_factory):
    return save_tiny_yolo_pose(tmp_path_factory.mktemp("yolo") / "tiny-pose.pt")


@pytest.fixture(scope="module")
def tiny_depthpro(tmp_path_factory):
    return save_tiny_depthpro(tmp_path_factory.mktemp("depthpro") / "tiny-depthpro")


def _frames(count: int, height: int = 96, width: int = 128) -> list[Frame]:
    rng = np.random.default_rng(1)
    frames = []
    for _ in range(count):
        image = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
        joints = rng.normal(0, 300, (17, 3)) + np.array([0, 0, 4000.0])
        frames.append(Frame(image=image, joints_cam_mm=joints, focal=FOCAL, center=CENTER))
    return frames


def _check_detections(found: Detections) -> None:
    people = len(found)
    assert found.boxes_xyxy.shape == (people, 4) and found.boxes_xyxy.dtype == np.float32
    assert found.scores.shape == (people,)
    assert found.keypoints.shape == (people, 17, 3) and found.keypoints.dtype == np.float32


def test_yolo_backend_returns_every_person_per_frame(tiny_yolo):
    backend = YoloKeypoints(tiny_yolo, batch_size=2, confidence=0.0, device="cpu", image_size=128)
    results = backend(_frames(3))
    assert len(results) == 3  # two batches (2 + 1) give one entry per frame, in order
    for found in results:
        _check_detections(found)
    assert backend.layout == "coco17"


def test_yolo_backend_built_from_config_loads_the_weights_by_path(tmp_path, tiny_yolo):
    raw = {"perception": {"device": "cpu", "keypoints": {"backend": "yolo", "weights": str(tiny_yolo)}}}
    from pose3d.testing.config import tiny_config_dict

    backend = keypoint_backend_from_config(config_from_dict(tiny_config_dict(tmp_path, **raw)))
    assert isinstance(backend, YoloKeypoints) and backend.model.task == "pose"


def test_missing_yolo_weights_fail_at_once_naming_the_file(tmp_path):
    missing = tmp_path / "weights" / "yolo11x-pose.pt"
    started = time.monotonic()
    with pytest.raises(PerceptionError) as error:
        YoloKeypoints(missing)
    assert str(missing) in str(error.value) and "place the file" in str(error.value)
    assert not missing.exists()  # nothing was downloaded in its place
    assert time.monotonic() - started < 60  # generous: the point is "no hang on a download"


def test_depthpro_backend_gives_metric_depth_and_a_focal_per_frame(tiny_depthpro):
    backend = DepthProDepth(tiny_depthpro, batch_size=2, device="cpu")
    frames = _frames(2) + _frames(1, height=80, width=100)  # sizes may differ inside a run
    results = backend(frames)
    assert len(results) == 3
    for frame, result in zip(frames, results, strict=True):
        assert result.depth_m.shape == frame.image.shape[:2] and result.depth_m.dtype == np.float32
        assert np.all(np.isfinite(result.depth_m)) and np.all(result.depth_m > 0)
        assert isinstance(result.focal_px, float)  # NaN only when the random FOV head says < 0


def test_depthpro_backend_built_from_config(tmp_path, tiny_depthpro):
    from pose3d.testing.config import tiny_config_dict

    raw = {"perception": {"device": "cpu", "depth": {"backend": "depthpro", "model": str(tiny_depthpro)}}}
    backend = depth_backend_from_config(config_from_dict(tiny_config_dict(tmp_path, **raw)))
    assert isinstance(backend, DepthProDepth) and backend.model.config.use_fov_model


@pytest.mark.parametrize("source", ["local", "hub"])
def test_missing_depthpro_model_fails_naming_where_to_put_it(tmp_path, source):
    model = str(tmp_path / "models" / "depthpro") if source == "local" else "nobody/not-cached-DepthPro"
    with pytest.raises(PerceptionError) as error:
        DepthProDepth(model, device="cpu")
    message = str(error.value)
    assert model in message and "place config.json" in message
    if source == "hub":
        assert "Hugging Face cache" in message


def test_groundtruth_without_noise_is_the_exact_projection():
    frames = _frames(3)
    results = GroundTruthKeypoints(noise_px=0.0, dropout=0.0)(frames)
    for frame, found in zip(frames, results, strict=True):
        _check_detections(found)
        expected = camera_to_pixel(frame.joints_cam_mm, FOCAL, CENTER).astype(np.float32)
        np.testing.assert_array_equal(found.keypoints[0, :, :2], expected)
        np.testing.assert_array_equal(found.keypoints[0, :, 2], 1.0)
        np.testing.assert_array_equal(found.boxes_xyxy[0, :2], expected.min(axis=0))  # no annotated box
        np.testing.assert_array_equal(found.boxes_xyxy[0, 2:], expected.max(axis=0))


def test_groundtruth_noise_and_dropout_are_seeded():
    frames = _frames(4)
    first = GroundTruthKeypoints(noise_px=3.0, dropout=0.3, seed=7)(frames)
    again = GroundTruthKeypoints(noise_px=3.0, dropout=0.3, seed=7)(frames)
    other = GroundTruthKeypoints(noise_px=3.0, dropout=0.3, seed=8)(frames)
    stack = np.stack([found.keypoints[0] for found in first])
    np.testing.assert_array_equal(stack, np.stack([found.keypoints[0] for found in again]))
    assert not np.array_equal(stack, np.stack([found.keypoints[0] for found in other]))
    exact = np.stack([camera_to_pixel(f.joints_cam_mm, FOCAL, CENTER) for f in frames])
    offset = stack[..., :2] - exact
    assert 1.0 < offset.std() < 6.0
    assert 0 < np.sum(stack[..., 2] == 0) < stack[..., 2].size  # some joints dropped, not all


def test_groundtruth_uses_the_annotated_box_and_skips_missing_joints():
    frame = _frames(1)[0]
    frame.bbox_xyxy = np.array([10.0, 12.0, 90.0, 95.0])
    missing = Frame(image=frame.image, joints_cam_mm=np.full((17, 3), np.nan), focal=FOCAL, center=CENTER)
    with_box, nobody = GroundTruthKeypoints()([frame, missing])
    np.testing.assert_array_equal(with_box.boxes_xyxy[0], frame.bbox_xyxy.astype(np.float32))
    assert len(nobody) == 0


def test_select_person_prefers_the_annotated_box_then_area_times_confidence():
    found = Detections(
        boxes_xyxy=np.array([[0, 0, 10, 10], [50, 50, 100, 100], [0, 0, 60, 60]], np.float32),
        scores=np.array([0.9, 0.5, 0.4], np.float32),
        keypoints=np.zeros((3, 17, 3), np.float32),
    )
    assert select_person(found) == 2  # 3600 * 0.4 beats 2500 * 0.5 and 100 * 0.9
    assert select_person(found, np.array([48.0, 52, 98, 101])) == 1  # the annotated person
    assert select_person(found, np.array([200.0, 200, 210, 210])) is None  # the subject was missed: nobody else
    assert select_person(Detections.empty()) is None


def test_dataset_depth_reads_millimetre_pngs_as_metres(tmp_path):
    depth_mm = np.array([[0, 1500], [4000, 65535]], np.uint16)
    good, wrong = tmp_path / "good.png", tmp_path / "wrong.png"
    cv2.imwrite(str(good), depth_mm)
    cv2.imwrite(str(wrong), depth_mm.astype(np.uint8))
    image = np.zeros((2, 2, 3), np.uint8)
    read, missing = DatasetDepth()(
        [Frame(image=image, depth_path=good, focal=FOCAL), Frame(image=image, depth_path=tmp_path / "none.png")]
    )
    np.testing.assert_allclose(read.depth_m, depth_mm / 1000.0, rtol=1e-6)
    assert read.depth_m.dtype == np.float32 and read.focal_px == pytest.approx(FOCAL.mean())
    assert missing is None
    with pytest.raises(PerceptionError, match="wrong.png"):
        DatasetDepth()([Frame(image=image, depth_path=wrong)])
