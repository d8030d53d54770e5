"""Video inference: decoding in order, tracking, smoothing, the (T, P, 17, 3) output and the panel video.

The clip is written by the test from a synthetic sequence (an animated person rendered in the
Human3.6M layout); with the dataset keypoint backend frame t carries the annotation of the
sequence's t-th image, so the video path can be compared with the per-image path exactly.
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from pose3d.datasets.layout import SequenceId
from pose3d.inference import InferenceOptions, run_inference
from pose3d.inference.outputs import VIDEO_RESULT_SCHEMA, validate_result
from pose3d.inference.smoothing import OneEuroFilter, mean_acceleration, smooth_sequence
from pose3d.inference.tracking import IoUTracker
from pose3d.inference.video import decode_frames, decode_timed_frames, write_video
from pose3d.metrics import mpjpe

SEQUENCE = SequenceId(9, 14, 1, 1).name  # subject 9 walking, camera 1
FPS = 25.0
FRAMES = 30


@pytest.fixture(scope="module")
def walking_clip(tmp_path_factory):
    """(dataset root, video path): a 30-frame synthetic walking sequence and an mp4 of its frames."""
    from pose3d.config import config_from_dict
    from pose3d.datasets.synthetic import generate_dataset
    from pose3d.testing.config import tiny_config_dict

    root = tmp_path_factory.mktemp("walking") / "synthetic"
    config = config_from_dict(tiny_config_dict(
        root, dataset={"subjects": [1, 9], "actions": [14], "cameras": [1], "frame_step": 1},
        synthetic={"frames_per_sequence": FRAMES, "image_width": 160, "image_height": 120},
    ))
    generate_dataset(config, root)
    images = sorted((root / "images" / SEQUENCE).glob("*.jpg"))
    assert len(images) == FRAMES
    video = root.parent / f"{SEQUENCE}.mp4"
    write_video(video, (cv2.imread(str(p))[..., ::-1] for p in images), FPS)
    return root, video


@pytest.fixture(scope="module")
def lifter_checkpoint(tmp_path_factory):
    from pose3d.testing.lifter import train_tiny_lifter

    return train_tiny_lifter(tmp_path_factory.mktemp("lifter"), steps=300)


def _options(root, **changes):
    settings = {"keypoints_backend": "dataset", "depth_backend": "none", "dataset_root": root, "device": "cpu",
                "progress": False, "visualize": False, "batch_size": 7}
    return InferenceOptions(**{**settings, **changes})


def test_frames_decode_in_order(walking_clip):
    root, video = walking_clip
    frames = list(decode_frames(video))
    assert len(frames) == FRAMES and frames[0].shape == (120, 160, 3)
    images = sorted((root / "images" / SEQUENCE).glob("*.jpg"))
    # Each decoded frame is closest to its own source image (mp4v is lossy, the order must hold).
    for index in (0, 7, FRAMES - 1):
        errors = [np.abs(frames[index].astype(int) - cv2.imread(str(p)).astype(int)).mean() for p in images]
        assert int(np.argmin(errors)) == index


def test_video_without_smoothing_equals_the_per_frame_path(walking_clip, lifter_checkpoint, tmp_path):
    root, video = walking_clip
    summary = run_inference(lifter_checkpoint, video, tmp_path / "video", _options(root, visualize=True))
    assert summary["images_processed"] == FRAMES and summary["people_found"] == 1
    joints = np.load(tmp_path / "video" / f"{SEQUENCE}.mp4.npy")
    assert joints.shape == (FRAMES, 1, 17, 3) and np.all(np.isfinite(joints))
    result = json.loads((tmp_path / "video" / f"{SEQUENCE}.mp4.json").read_text())
    validate_result(result, VIDEO_RESULT_SCHEMA)
    assert result["smoothing"] == {"filter": "none"} and result["intrinsics"]["source"] == "dataset"
    assert result["tracks"] == [{"id": 0, "first_frame": 0, "last_frame": FRAMES - 1, "frames_seen": FRAMES}]
    # Each frame's time comes from the container (a constant-rate clip here: index / fps).
    np.testing.assert_allclose([frame["time_s"] for frame in result["frames"]], np.arange(FRAMES) / FPS, atol=1e-3)
    panels = list(decode_frames(tmp_path / "video" / "panels" / f"{SEQUENCE}.mp4.mp4"))
    assert len(panels) == FRAMES and panels[0].shape[0] == 480

    run_inference(lifter_checkpoint, root / "images" / SEQUENCE, tmp_path / "frames", _options(root))
    images = sorted((root / "images" / SEQUENCE).glob("*.jpg"))
    per_frame = np.stack([np.load(tmp_path / "frames" / f"{p.name}.npy")[0] for p in images])
    np.testing.assert_allclose(joints[:, 0], per_frame, atol=1e-2)


def test_smoothing_lowers_jitter_and_keeps_accuracy(walking_clip, lifter_checkpoint, tmp_path):
    """One Euro on the lifter's per-frame 3D: less acceleration, MPJPE against the truth up by at most a few mm."""
    root, video = walking_clip
    run_inference(lifter_checkpoint, video, tmp_path / "raw", _options(root))
    run_inference(lifter_checkpoint, video, tmp_path / "smooth", _options(root, smoothing="one_euro"))
    raw = np.load(tmp_path / "raw" / f"{SEQUENCE}.mp4.npy")[:, 0]
    smooth = np.load(tmp_path / "smooth" / f"{SEQUENCE}.mp4.npy")[:, 0]
    images = sorted((root / "images" / SEQUENCE).glob("*.jpg"))
    truth = np.stack([_truth(root, p) for p in images])
    assert mean_acceleration(smooth) < mean_acceleration(raw)
    assert mpjpe(smooth, truth).mean() <= mpjpe(raw, truth).mean() + 5.0
    assert json.loads((tmp_path / "smooth" / f"{SEQUENCE}.mp4.json").read_text())["smoothing"]["filter"] == "one_euro"


def _truth(root, image_path):
    from pose3d.inference.inputs import DatasetLookup

    return DatasetLookup(root).frame_for(image_path, np.zeros((1, 1, 3), np.uint8)).joints_cam_mm


def test_one_euro_on_a_noisy_walk(walking_clip):
    """Per-frame noise of 20 mm on the true walk: jitter drops by a quarter or more, MPJPE rises by at most a few mm."""
    root, _ = walking_clip
    images = sorted((root / "images" / SEQUENCE).glob("*.jpg"))
    truth = np.stack([_truth(root, p) for p in images])
    noisy = truth + np.random.default_rng(0).normal(0, 20.0, truth.shape)
    smooth = smooth_sequence(noisy, FPS)
    assert mean_acceleration(smooth) < 0.75 * mean_acceleration(noisy)
    assert mpjpe(smooth, truth).mean() <= mpjpe(noisy, truth).mean() + 5.0
    assert np.allclose(smooth_sequence(truth[:1], FPS), truth[:1])  # the first sample passes through
    with pytest.raises(ValueError, match="fps"):
        OneEuroFilter(0.0)


def test_frame_times_are_the_containers_and_the_filter_uses_them(walking_clip):
    _, video = walking_clip
    times = [seconds for _frame, seconds in decode_timed_frames(video)]
    np.testing.assert_allclose(times, np.arange(FRAMES) / FPS, atol=1e-3)
    # The One Euro filter with each step's own dt: the same as with fps when the steps are equal, and a
    # step twice as long (a variable-rate phone clip) follows the new sample more closely, as it should.
    samples = np.cumsum(np.random.default_rng(1).normal(0, 20.0, (5, 17, 3)), axis=0)
    by_fps, by_dt, slow = OneEuroFilter(FPS), OneEuroFilter(FPS), OneEuroFilter(FPS)
    for sample in samples[:4]:
        np.testing.assert_allclose(by_fps(sample), by_dt(sample, 1.0 / FPS))
        slow(sample, 1.0 / FPS)
    step, long_step = by_fps(samples[4]), slow(samples[4], 2.0 / FPS)
    assert np.abs(long_step - samples[4]).mean() < np.abs(step - samples[4]).mean()


def test_panel_video_keeps_the_sources_timing_across_gaps(tmp_path):
    """Frames at 1/25 s, then a 4-frame gap, then faster than 25 fps: the gap is filled by repeating
    the frame after it, nothing is dropped, and the file's frame count matches the source's duration."""
    from pose3d.inference.video import Mp4Writer

    times = [0.0, 0.04, 0.08, 0.28, 0.30, 0.32, 0.40]  # 0.28: four slots after 0.08 (0.12-0.24 missing)
    writer = Mp4Writer(tmp_path / "panel.mp4", FPS)
    shades = np.arange(len(times)) * 30
    for shade, seconds in zip(shades, times, strict=True):
        writer.append(np.full((32, 48, 3), shade, np.uint8), seconds)
    # Slots 0-2; the frame at 0.28 s fills slots 3-7 (the gap); 0.30 and 0.32 s come faster than the rate
    # and are written once each (slots 8, 9); 0.40 s lands in slot 10.
    assert writer.close() == 11
    written = [int(frame.mean()) for frame in decode_frames(tmp_path / "panel.mp4")]
    assert len(written) == 11
    expected = [0, 30, 60, 90, 90, 90, 90, 90, 120, 150, 180]
    np.testing.assert_allclose(written, expected, atol=6)  # mp4v is lossy


def test_one_euro_restarts_after_a_gap():
    sequence = np.zeros((6, 17, 3))
    sequence[3] = np.nan
    sequence[4:] = 1000.0
    smooth = smooth_sequence(sequence, FPS)
    assert np.isnan(smooth[3]).all() and np.allclose(smooth[4], 1000.0)  # no lag carried over the gap


def test_tracker_keeps_ids_when_detections_come_in_any_order():
    tracker = IoUTracker(min_iou=0.3, max_missed=2)
    left, right = np.array([0, 0, 100, 200.0]), np.array([300, 0, 400, 200.0])
    assert tracker.update(np.stack([left, right])) == [0, 1]
    assert tracker.update(np.stack([right + 5, left + 5])) == [1, 0]  # order swapped, ids follow the boxes
    assert tracker.update(np.stack([left + 10])) == [0]  # one person missing for a frame
    assert tracker.update(np.stack([right + 8, left + 12])) == [1, 0]
    assert tracker.update(np.zeros((0, 4))) == []
    for _ in range(3):
        tracker.update(np.zeros((0, 4)))
    assert tracker.update(np.stack([left])) == [2]  # gone longer than max_missed: a new track
    assert [t.frames_seen for t in tracker.tracks] == [4, 3, 1]


def test_a_broken_video_is_a_clear_error(tmp_path, lifter_checkpoint):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all")
    with pytest.raises(ValueError, match="broken.mp4"):
        run_inference(lifter_checkpoint, broken, tmp_path / "out", InferenceOptions(device="cpu", depth_backend="none",
                                                                                    keypoints_backend="mediapipe"))
    assert not (tmp_path / "out" / "broken.mp4.npy").exists()


def test_fast_panel_shows_the_frame_and_the_skeletons():
    from pose3d.inference.fast_panels import PanelRenderer
    from pose3d.testing.samples import TEMPLATE_MM

    renderer = PanelRenderer(240)
    frame = np.zeros((480, 640, 3), np.uint8)
    keypoints = np.concatenate([np.full((1, 17, 2), 100.0), np.ones((1, 17, 1))], axis=-1)
    joints = (TEMPLATE_MM + [0, 0, 4000])[None]
    panel = renderer.render(frame, keypoints, "coco17", joints)
    assert panel.shape == (240, 320 + 240, 3) and panel.dtype == np.uint8
    empty = renderer.render(frame, keypoints[:0], "coco17", np.full((1, 17, 3), np.nan))
    three_d, empty_3d = panel[:, 320:].astype(int), empty[:, 320:].astype(int)
    assert np.abs(three_d - empty_3d).sum() > 0  # the skeleton is drawn; an absent person (NaN) is not
    assert np.array_equal(empty_3d, renderer.skeletons_3d(np.zeros((0, 17, 3))).astype(int))
