"""Inference on images end to end: tiny checkpoints, tiny YOLO and DepthPro, real files and schemas."""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import yaml

from pose3d.config import config_from_dict
from pose3d.inference import (
    InferenceOptions,
    default_inference_images,
    options_from_config,
    outputs,
    panels,
    run_inference,
)
from pose3d.models import common
from pose3d.models.lifting import REFERENCE_RADIUS_MM
from pose3d.models.registry import build_model
from pose3d.perception.base import PerceptionError
from pose3d.testing.config import tiny_config_dict
from pose3d.testing.tiny_models import save_tiny_depthpro, save_tiny_yolo_pose

FOV_DEG = 60.0


def save_checkpoint(path: Path, config, layout: str = "h36m17", zero_root_head: bool = False) -> Path:
    """A tiny transformer checkpoint in the trainer's format (model, model_name, config, keypoints_layout).

    `zero_root_head`: the last layer outputs 0, so the root sits on the pelvis keypoint's ray at the
    weak-perspective depth z_ref = REFERENCE_RADIUS_MM / (RMS radius of the normalised 2D pose):
    a root we can compute by hand.
    """
    torch.manual_seed(0)
    model = build_model("transformer", config, layout)
    if zero_root_head:
        with torch.no_grad():
            model.lifting.layers[-1].weight.zero_()
            model.lifting.layers[-1].bias.zero_()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {"model": model.state_dict(), "model_name": "transformer", "config": config.to_dict(), "keypoints_layout": layout},
        path,
    )
    return path


@pytest.fixture(scope="module")
def synthetic(tiny_synthetic):
    root, config = tiny_synthetic
    return root, config


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, synthetic):
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "best.pt", synthetic[1])


@pytest.fixture(scope="module")
def eager_yolo(tmp_path_factory):
    """A tiny random YOLO pose whose class bias is so high that it 'finds' people everywhere."""
    from ultralytics import YOLO

    path = save_tiny_yolo_pose(tmp_path_factory.mktemp("yolo") / "eager-pose.pt")
    model = YOLO(str(path))
    with torch.no_grad():
        for branch in model.model.model[-1].cv3:
            branch[-1].bias.fill_(8.0)
    model.save(str(path))
    return path


@pytest.fixture(scope="module")
def shy_yolo(tmp_path_factory):
    """A tiny random YOLO pose: it finds nobody."""
    return save_tiny_yolo_pose(tmp_path_factory.mktemp("yolo") / "shy-pose.pt")


@pytest.fixture(scope="module")
def depthpro_fov60(tmp_path_factory):
    """A tiny DepthPro whose field-of-view head always says FOV_DEG degrees."""
    from transformers import DepthProForDepthEstimation

    directory = save_tiny_depthpro(tmp_path_factory.mktemp("depthpro") / "model")
    model = DepthProForDepthEstimation.from_pretrained(directory)
    with torch.no_grad():
        final = model.fov_model.head.layers[-1]
        final.weight.zero_()
        final.bias.fill_(FOV_DEG)
    model.save_pretrained(directory)
    return directory


def plain_images(folder: Path, count: int, height: int = 96, width: int = 128) -> list[Path]:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        path = folder / f"photo_{index}.jpg"
        cv2.imwrite(str(path), rng.integers(0, 255, (height, width, 3), dtype=np.uint8))
        paths.append(path)
    return paths


def load_result(output: Path, name: str) -> tuple[np.ndarray, dict]:
    joints = np.load(output / f"{name}.npy")
    result = json.loads((output / f"{name}.json").read_text())
    outputs.validate_result(result)
    return joints, result


def test_end_to_end_on_held_out_synthetic_images(synthetic, checkpoint, tmp_path):
    root, config = synthetic
    images = default_inference_images(config)
    assert len(images) == config.infer.max_images == 2
    assert all(f"s_{config.split.test_subjects[0]:02d}_" in path.name for path in images)
    output = tmp_path / "infer"
    summary = run_inference(checkpoint, images, output, replace(options_from_config(config), progress=False))

    outputs.validate_result(json.loads((output / "summary.json").read_text()), outputs.SUMMARY_SCHEMA)
    assert summary["images_processed"] == 2 and summary["people_found"] == 2 and summary["images_skipped"] == []
    assert {"keypoints", "depth", "model", "draw"} <= set(summary["stage_seconds"])
    # Images of two sequence folders: named by their path below the common folder, extension kept.
    names = [f"{path.parent.name}/{path.name}" for path in images]
    assert summary["outputs"] == names
    for name in names:
        joints, result = load_result(output, name)
        assert joints.shape == (1, 17, 3) and joints.dtype == np.float32 and np.isfinite(joints).all()
        person = result["people"][0]
        assert result["intrinsics"]["source"] == "dataset"
        assert person["keypoints_2d"]["layout"] == "h36m17"
        assert np.allclose(person["joints_3d_mm"], joints[0], atol=1e-2)
        assert np.allclose(person["root_mm"], joints[0, 0], atol=1e-2)
        assert np.array(person["joints_3d_gt_mm"]).shape == (17, 3)
        assert result["model"]["checkpoint_id"] == outputs.checkpoint_id(checkpoint)
        panel = cv2.imread(str(output / "panels" / f"{name}.png"))
        assert panel is not None and panel.shape[:2] == panels.PANEL_SIZE_PX
    assert cv2.imread(str(output / "contact_sheet.png")) is not None


def test_non_images_are_skipped_and_unreadable_images_reported(synthetic, checkpoint, tmp_path, caplog):
    root, config = synthetic
    source = default_inference_images(config)[0]
    folder = tmp_path / "inputs" / source.parent.name  # a sequence folder: the dataset knows the image
    folder.mkdir(parents=True)
    shutil.copy(source, folder / source.name)
    (folder / "notes.txt").write_text("not an image")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 this is no JPEG")
    plain_images(tmp_path / "inputs", 1)  # readable, but the dataset backend knows nothing of it
    output = tmp_path / "out"
    config_file = tmp_path / "config.yaml"
    config_file.write_text(yaml.safe_dump(config.to_dict()))
    from pose3d.cli import main

    with caplog.at_level(logging.WARNING):
        code = main([
            "infer", "--checkpoint", str(checkpoint), "--input", str(tmp_path / "inputs"), "--output", str(output),
            "--config", str(config_file), "--device", "cpu", "--no-visualize", "--max-images", "0",
        ])
    assert code == 0
    summary = json.loads((output / "summary.json").read_text())
    reasons = {Path(entry["path"]).name: entry["reason"] for entry in summary["images_skipped"]}
    assert set(reasons) == {"notes.txt", "broken.jpg", "photo_0.jpg"}
    assert "not an image" in reasons["notes.txt"] and "unreadable" in reasons["broken.jpg"]
    assert "not an annotated image" in reasons["photo_0.jpg"]
    assert "notes.txt" in caplog.text and "broken.jpg" in caplog.text
    assert summary["images_processed"] == 1
    joints, _ = load_result(output, f"{source.parent.name}/{source.name}")
    assert joints.shape == (1, 17, 3)
    assert not (output / "panels").exists()


def test_tiny_yolo_and_depthpro_image_with_nobody(checkpoint, shy_yolo, depthpro_fov60, tmp_path):
    images = plain_images(tmp_path / "photos", 2)
    options = InferenceOptions(
        keypoints_backend="yolo", depth_backend="depthpro", yolo_weights=shy_yolo, depth_model=depthpro_fov60,
        device="cpu", progress=False,
    )
    summary = run_inference(checkpoint, tmp_path / "photos", tmp_path / "out", options)
    assert summary["images_processed"] == 2 and summary["people_found"] == 0
    for path in images:
        joints, result = load_result(tmp_path / "out", path.name)
        assert joints.shape == (0, 17, 3) and result["people"] == []
        assert result["intrinsics"]["source"] == "depthpro_fov"
        panel = cv2.imread(str(tmp_path / "out" / "panels" / f"{path.name}.png"))
        assert panel.shape[:2] == panels.PANEL_SIZE_PX


def test_every_person_found_up_to_max_people_in_one_batch(synthetic, eager_yolo, depthpro_fov60, tmp_path):
    coco_checkpoint = save_checkpoint(tmp_path / "coco.pt", synthetic[1], layout="coco17")
    plain_images(tmp_path / "photos", 3)
    options = InferenceOptions(
        keypoints_backend="yolo", depth_backend="depthpro", yolo_weights=eager_yolo, depth_model=depthpro_fov60,
        device="cpu", max_people=4, batch_size=5, visualize=False, progress=False,
    )
    summary = run_inference(coco_checkpoint, tmp_path / "photos", tmp_path / "out", options)
    assert summary["people_found"] == 12
    joints, result = load_result(tmp_path / "out", "photo_0.jpg")
    assert joints.shape == (4, 17, 3) and np.isfinite(joints).all()
    scores = [person["score"] for person in result["people"]]
    assert scores == sorted(scores, reverse=True)
    assert result["people"][0]["keypoints_2d"]["layout"] == "coco17"


def test_known_intrinsics_vs_fov_estimate_move_the_root(synthetic, eager_yolo, depthpro_fov60, tmp_path):
    """With the last layer at zero, root z = z_ref = REFERENCE_RADIUS_MM / 2D radius: doubling f doubles z."""
    config = synthetic[1]
    constructed = save_checkpoint(tmp_path / "root.pt", config, zero_root_head=True)
    plain_images(tmp_path / "photos", 1, height=96, width=128)
    options = InferenceOptions(
        keypoints_backend="yolo", depth_backend="depthpro", yolo_weights=eager_yolo, depth_model=depthpro_fov60,
        device="cpu", max_people=1, visualize=False, progress=False,
    )
    run_inference(constructed, tmp_path / "photos", tmp_path / "fov", options)
    _, fov = load_result(tmp_path / "fov", "photo_0.jpg")
    focal_fov = 0.5 * 128 / np.tan(np.radians(FOV_DEG / 2))
    assert fov["intrinsics"]["source"] == "depthpro_fov"
    assert np.allclose([fov["intrinsics"][k] for k in ("fx", "fy", "cx", "cy")], [focal_fov, focal_fov, 64, 48], rtol=1e-4)

    user = [2 * focal_fov, 2 * focal_fov, 64.0, 48.0]
    run_inference(constructed, tmp_path / "photos", tmp_path / "user", replace(options, intrinsics=user))
    _, known = load_result(tmp_path / "user", "photo_0.jpg")
    assert known["intrinsics"]["source"] == "user"

    root_fov, root_user = np.array(fov["people"][0]["root_mm"]), np.array(known["people"][0]["root_mm"])
    points = np.array(fov["people"][0]["keypoints_2d"]["points"], dtype=np.float64)  # COCO-17, image pixels
    points = common.keypoints_to_h36m(common.clean_keypoints(torch.tensor(points)[None]), "coco17")[0].numpy()
    normalised = (points[points[:, 2] > 0, :2] - [64.0, 48.0]) / focal_fov
    radius = np.sqrt(((normalised - normalised.mean(0)) ** 2).sum(1).mean())
    assert root_fov[2] == pytest.approx(REFERENCE_RADIUS_MM / radius, rel=1e-3)
    assert root_user[2] == pytest.approx(2 * root_fov[2], rel=1e-4)
    # The same pixel back-projected with twice the focal at twice the depth: same x and y.
    assert np.allclose(root_user[:2], root_fov[:2], atol=1e-2 * max(1.0, np.abs(root_fov[:2]).max()))


def test_missing_weights_name_the_file(checkpoint, tmp_path):
    plain_images(tmp_path / "photos", 1)
    missing_yolo = InferenceOptions(keypoints_backend="yolo", depth_backend="depthpro", yolo_weights=tmp_path / "nope.pt")
    with pytest.raises(PerceptionError, match="nope.pt"):
        run_inference(checkpoint, tmp_path / "photos", tmp_path / "out", missing_yolo)
    missing_depth = InferenceOptions(keypoints_backend="dataset", depth_backend="depthpro", dataset_root=tmp_path,
                                     depth_model=tmp_path / "no-depthpro")
    with pytest.raises(PerceptionError, match="no-depthpro"):
        run_inference(checkpoint, tmp_path / "photos", tmp_path / "out", missing_depth)


def test_config_intrinsics_flow_into_the_options(tmp_path):
    config = config_from_dict(tiny_config_dict(tmp_path, infer={"intrinsics": [500.0, 500.0, 64.0, 64.0]}))
    assert options_from_config(config).intrinsics == [500.0, 500.0, 64.0, 64.0]
    assert options_from_config(config_from_dict(tiny_config_dict(tmp_path))).intrinsics is None


@pytest.mark.slow
def test_rule_infer_runs_the_script_on_held_out_images(synthetic, tmp_path):
    """The real rule through a Snakemake subprocess: checkpoint in place, dataset present, only `infer` runs."""
    import subprocess
    import sys

    from pose3d.testing.config import REPO_ROOT

    root, _ = synthetic
    raw = tiny_config_dict(root, models=["transformer"], infer={"model": "transformer", "max_images": 1})
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(raw))
    save_checkpoint(tmp_path / "results/models/transformer/best.pt", config_from_dict(raw))
    completed = subprocess.run(
        [
            str(Path(sys.executable).with_name("snakemake")), "-s", str(REPO_ROOT / "Snakefile"), "-d", str(tmp_path),
            "--configfile", str(tmp_path / "config.yaml"), "--cores", "1", "--allowed-rules", "infer",
            "--rerun-triggers", "mtime", "--", "results/infer/transformer/summary.json",
        ],
        capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    output = tmp_path / "results/infer/transformer"
    summary = json.loads((output / "summary.json").read_text())
    assert summary["images_processed"] == 1 and summary["people_found"] == 1
    (name,) = summary["outputs"]
    assert np.load(output / f"{name}.npy").shape == (1, 17, 3)
    assert (output / "panels" / f"{name}.png").is_file() and (output / "contact_sheet.png").is_file()
    assert "inference done" in (tmp_path / "results/logs/infer/transformer.log").read_text()


def test_inference_cuts_a_dataset_image_exactly_as_chunk_stored_it(synthetic, tmp_path):
    """Parity: on a dataset frame, inference's crop, 2D keypoints, RGB and depth crops equal chunk's sample."""
    from pose3d.chunk import chunk_subject
    from pose3d.datasets.layout import SequenceId
    from pose3d.inference.inputs import DatasetLookup
    from pose3d.inference.run import crop_people, perception_backends
    from pose3d.io import read_image
    from pose3d.preprocess import preprocess_sequence
    from pose3d.shards import schema
    from pose3d.shards.reader import ShardReader

    root, _ = synthetic
    config = config_from_dict(tiny_config_dict(
        root, shards={"image_codec": "raw"},  # oracle perception: inference's dataset backends are exact
        perception={"keypoints": {"noise_px": 0.0, "dropout": 0.0, "error_model": "oracle"}, "depth": {"error_model": "oracle"}},
    ))
    sequence = SequenceId(1, 2, 1, 1)
    preprocess_sequence(config, sequence.name, tmp_path / "pre.h5", tmp_path / "pre.json")
    chunk_subject(config, 1, [tmp_path / "pre.h5"], tmp_path / "S1.h5")
    with ShardReader(tmp_path / "S1.h5") as reader:
        stored = reader.read()
        stored_images = [reader.decode(payload) for payload in stored[schema.IMAGE]]
    assert len(stored_images) >= 2

    options = replace(options_from_config(config), device="cpu")
    keypoint_backend, depth_backend = perception_backends(options)
    lookup = DatasetLookup(root)
    for row, frame_index in enumerate(stored[schema.FRAME]):
        path = root / "images" / sequence.image_name(int(frame_index))
        frame = lookup.frame_for(path, read_image(path))
        (detections,), (depth,) = keypoint_backend([frame]), depth_backend([frame])
        (person,) = crop_people(
            cv2.cvtColor(frame.image, cv2.COLOR_BGR2RGB), depth.depth_m, detections, keypoint_backend.layout,
            "h36m17", config.to_dict()["shards"],
        )
        np.testing.assert_allclose(person.crop, stored[schema.CROP][row], rtol=1e-6, atol=1e-4)
        np.testing.assert_allclose(person.keypoints_2d, stored[schema.KEYPOINTS_2D][row], atol=1e-3)
        np.testing.assert_array_equal(person.image, stored_images[row])
        np.testing.assert_array_equal(person.depth.astype(np.float16), stored[schema.DEPTH][row])
