"""Bad data on disk: folders that hold someone else's files, damaged images, clashing image names.

See tests/bad_inputs.py for what every case asserts. `test_error_*`: a clear error;
`test_skip_*`: the input is counted as skipped in a report; `test_handled_*`: handled correctly.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from pose3d.config import config_from_dict
from pose3d.io import decode_image_file
from pose3d.preprocess import preprocess_sequence
from pose3d.testing.config import tiny_config_dict
from tests.bad_inputs import corrupt_middle, real_dataset_layout, run_cli, snapshot, write_config

# -- writers refuse folders they did not make


def test_error_synthesize_over_a_real_dataset(tmp_path, capsys):
    root = tmp_path / "h36m"
    real_dataset_layout(root)
    before = snapshot(root)
    config = write_config(tmp_path / "c.yaml", root)
    code, text = run_cli(capsys, "synthesize", "--config", config, "--workers", "1")
    assert code == 2 and str(root) in text and "annotations" in text and "--overwrite" in text
    assert snapshot(root) == before, "the real dataset must be untouched"


def test_error_synthesize_root_given_by_flag(tmp_path, capsys):
    root = tmp_path / "mine"
    root.mkdir()
    (root / "thesis.txt").write_text("years of work")
    before = snapshot(root)
    code, text = run_cli(capsys, "synthesize", "--config", write_config(tmp_path / "c.yaml", tmp_path / "x"),
                         "--root", root, "--workers", "1")
    assert code == 2 and "thesis.txt" in text and str(root) in text and snapshot(root) == before


def test_error_synthesize_root_is_a_file(tmp_path, capsys):
    root = tmp_path / "file"
    root.write_text("keep")
    code, text = run_cli(capsys, "synthesize", "--config", write_config(tmp_path / "c.yaml", root), "--workers", "1")
    assert code == 2 and "is a file" in text and root.read_text() == "keep"


def test_handled_synthesize_reruns_into_its_own_folder_and_overwrite_is_explicit(tmp_path, capsys):
    root = tmp_path / "synthetic"
    config = write_config(tmp_path / "c.yaml", root, dataset={"subjects": [1, 9], "actions": [2], "cameras": [1]},
                          synthetic={"frames_per_sequence": 2, "image_width": 64, "image_height": 64})
    assert run_cli(capsys, "synthesize", "--config", config, "--workers", "1")[0] == 0
    first = snapshot(root)
    assert (root / ".pose3d-synthesize").is_file() and (root / ".complete").is_file()
    assert run_cli(capsys, "synthesize", "--config", config, "--workers", "1")[0] == 0  # its own folder
    assert snapshot(root).keys() == first.keys()
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    code, _ = run_cli(capsys, "synthesize", "--config", config, "--root", foreign, "--workers", "1", "--overwrite")
    assert code == 0 and (foreign / ".complete").is_file() and (foreign / "notes.txt").read_text() == "mine"


def test_error_infer_into_a_folder_it_did_not_make(tmp_path, capsys, inference_models):
    out = tmp_path / "results"
    out.mkdir()
    (out / "paper_figure.png").write_bytes(b"figure")
    images = tmp_path / "images"
    images.mkdir()
    cv2.imwrite(str(images / "a.jpg"), np.zeros((64, 64, 3), np.uint8))
    before = snapshot(out)
    code, text = run_cli(capsys, *inference_models.args(images, out))
    assert code == 2 and str(out) in text and "paper_figure.png" in text and snapshot(out) == before


def test_error_evaluate_into_a_folder_it_did_not_make(tmp_path, capsys):
    out = tmp_path / "eval"
    out.mkdir()
    (out / "metrics.json").write_text('{"mpjpe": 41.0}')
    before = snapshot(out)
    config = write_config(tmp_path / "c.yaml", tmp_path / "data")
    code, text = run_cli(capsys, "evaluate", "--config", config, "--checkpoint", tmp_path / "none.pt",
                         "--test-shards", tmp_path / "t.h5", "--train-shards", tmp_path / "s.h5", "--out", out)
    assert code == 2 and str(out) in text and "metrics.json" in text and snapshot(out) == before


# -- damaged images are unreadable, counted, never a sample


@pytest.fixture(scope="module")
def clean_jpeg():
    rng = np.random.default_rng(0)
    image = cv2.GaussianBlur(rng.integers(0, 255, (128, 128, 3), dtype=np.uint8), (9, 9), 3)
    return cv2.imencode(".jpg", image)[1].tobytes()


def test_skip_jpeg_with_corrupt_middle_is_unreadable(tmp_path, clean_jpeg):
    path = tmp_path / "bad.jpg"
    path.write_bytes(corrupt_middle(clean_jpeg))
    assert cv2.imdecode(np.frombuffer(path.read_bytes(), np.uint8), cv2.IMREAD_COLOR) is not None  # OpenCV keeps it
    image, problem = decode_image_file(path)
    assert image is None and "Corrupt JPEG data" in problem


def test_handled_clean_jpeg_and_png_decode(tmp_path, clean_jpeg):
    (tmp_path / "ok.jpg").write_bytes(clean_jpeg)
    cv2.imwrite(str(tmp_path / "ok.png"), np.zeros((8, 8, 3), np.uint8))
    for name in ("ok.jpg", "ok.png"):
        image, problem = decode_image_file(tmp_path / name)
        assert image is not None and problem == "", name


def test_handled_another_threads_stderr_output_is_not_damage(tmp_path, clean_jpeg):
    """MediaPipe's TensorFlow Lite logs to file descriptor 2 from its own threads while frames decode."""
    import os
    import threading

    (tmp_path / "ok.jpg").write_bytes(clean_jpeg)
    (tmp_path / "bad.jpg").write_bytes(corrupt_middle(clean_jpeg))
    stop = threading.Event()

    def chatter():
        while not stop.is_set():
            os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")

    thread = threading.Thread(target=chatter, daemon=True)
    thread.start()
    try:
        results = [decode_image_file(tmp_path / "ok.jpg") for _ in range(50)]
        damaged = decode_image_file(tmp_path / "bad.jpg")
    finally:
        stop.set()
        thread.join()
    assert all(image is not None and problem == "" for image, problem in results)
    assert damaged[0] is None and "Corrupt JPEG data" in damaged[1] and "TensorFlow" not in damaged[1]


@pytest.mark.parametrize("damage", ["corrupt_middle", "truncated", "empty", "text", "png_truncated"])
def test_skip_damaged_frames_are_counted_by_preprocess(tiny_synthetic, tmp_path, damage):
    source_root, config = tiny_synthetic
    root = tmp_path / "data"
    shutil.copytree(source_root, root)
    config = config_from_dict(tiny_config_dict(root))
    sequence = "s_01_act_02_subact_01_ca_01"
    frames = sorted((root / "images" / sequence).glob("*.jpg"))
    victim = frames[0]
    data = victim.read_bytes()
    damaged = {
        "corrupt_middle": lambda: corrupt_middle(data),
        "truncated": lambda: data[: len(data) // 2],
        "empty": lambda: b"",
        "text": lambda: b"this is not an image",
        "png_truncated": lambda: cv2.imencode(".png", np.zeros((128, 128, 3), np.uint8))[1].tobytes()[:60],
    }[damage]()
    victim.write_bytes(damaged)
    report = preprocess_sequence(config, sequence, tmp_path / "p.h5", tmp_path / "p.report.json")
    unreadable = report["skipped"]["unreadable_image"]
    assert unreadable["count"] == 1 and unreadable["paths"] == [str(victim)]
    assert report["frames_kept"] == report["frames_seen"] - 1
    assert json.loads((tmp_path / "p.report.json").read_text())["skipped"]["unreadable_image"]["count"] == 1


def test_skip_damaged_image_in_inference_is_reported(tmp_path, capsys, clean_jpeg, inference_models):
    images = tmp_path / "images"
    images.mkdir()
    (images / "broken.jpg").write_bytes(corrupt_middle(clean_jpeg))
    (images / "fine.jpg").write_bytes(clean_jpeg)
    code, _ = run_cli(capsys, *inference_models.args(images, tmp_path / "out"))
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert code == 0 and summary["images_processed"] == 1 and summary["outputs"] == ["fine.jpg"]
    (skipped,) = summary["images_skipped"]
    assert skipped["path"].endswith("broken.jpg") and "unreadable" in skipped["reason"]


# -- inference outputs are named uniquely


@pytest.fixture(scope="module")
def inference_models(tmp_path_factory, tiny_synthetic):
    """A tiny checkpoint, YOLO pose and DepthPro, and the `pose3d infer` arguments that use them."""
    from pose3d.testing.tiny_models import save_tiny_depthpro, save_tiny_yolo_pose
    from tests.test_inference import save_checkpoint

    folder = tmp_path_factory.mktemp("models")
    checkpoint = save_checkpoint(folder / "best.pt", tiny_synthetic[1])
    yolo = save_tiny_yolo_pose(folder / "yolo-pose.pt")
    depthpro = save_tiny_depthpro(folder / "depthpro")

    class Models:
        @staticmethod
        def args(images: Path, out: Path) -> list:
            return ["infer", "--checkpoint", checkpoint, "--input", images, "--output", out, "--yolo-weights", yolo,
                    "--depth-model", depthpro, "--device", "cpu", "--max-images", "0",
                    "--intrinsics", "100", "100", "48", "32"]

    return Models


def test_handled_same_stem_different_extension_never_collide(tmp_path, capsys, inference_models):
    images = tmp_path / "images"
    (images / "sub").mkdir(parents=True)
    rng = np.random.default_rng(1)
    for name in ("img.jpg", "img.png", "sub/img.jpg"):
        cv2.imwrite(str(images / name), rng.integers(0, 255, (64, 96, 3), dtype=np.uint8))
    code, _ = run_cli(capsys, *inference_models.args(images, tmp_path / "out"), "--visualize")
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert code == 0 and sorted(summary["outputs"]) == ["img.jpg", "img.png", "sub/img.jpg"]
    for name in summary["outputs"]:
        result = json.loads((tmp_path / "out" / f"{name}.json").read_text())
        assert result["image"]["path"].endswith(name) and (tmp_path / "out" / "panels" / f"{name}.png").is_file()


def test_handled_output_names_are_unique_by_construction():
    from pose3d.inference.inputs import output_names

    paths = [Path("/d/img.jpg"), Path("/d/img.png"), Path("/d/a/x.jpg"), Path("/d/a__x.jpg"), Path("/d/summary.jpg")]
    names = output_names(paths)
    assert len(set(names)) == len(paths) and names == ["img.jpg", "img.png", "a/x.jpg", "a__x.jpg", "summary.jpg"]
