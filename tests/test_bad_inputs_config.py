"""Bad config values and command-line flags: each stops the command before any work, naming the key.

See tests/bad_inputs.py for what every case asserts; `test_error_*` cases end in a clear error.
"""

from __future__ import annotations

import pytest
import torch
import yaml

from pose3d.testing.config import tiny_config_dict
from tests.bad_inputs import run_cli, snapshot, write_config


@pytest.fixture
def work(tmp_path, monkeypatch):
    """A working folder with a finished-looking results/ tree that no bad command may touch."""
    monkeypatch.chdir(tmp_path)
    finished = tmp_path / "results" / "models" / "cnn"
    finished.mkdir(parents=True)
    (finished / "best.pt").write_bytes(b"finished weights")
    return tmp_path


def train_args(config, out):
    return ["train", "--config", config, "--model", "cnn", "--train-shards", "a.h5", "--val-shards", "b.h5",
            "--out", out]


# -- the config file itself


def test_error_config_file_missing(work, capsys):
    code, text = run_cli(capsys, "validate-config", work / "nowhere.yaml")
    assert code == 2 and "config file not found" in text and "nowhere.yaml" in text


def test_error_config_not_yaml(work, capsys):
    path = work / "broken.yaml"
    path.write_text("dataset: [unclosed\n")
    before = snapshot(work)
    code, text = run_cli(capsys, "validate-config", path)
    assert code == 2 and "not valid YAML" in text and "broken.yaml" in text
    assert snapshot(work) == before


def test_error_config_not_a_mapping(work, capsys):
    path = work / "list.yaml"
    path.write_text("- dataset\n- train\n")
    code, text = run_cli(capsys, "validate-config", path)
    assert code == 2 and "mapping" in text and "list.yaml" in text


def test_error_unknown_key_named_with_known_keys(work, capsys):
    path = work / "c.yaml"
    path.write_text(yaml.safe_dump({"train": {"epoch": 3}}))
    code, text = run_cli(capsys, "validate-config", path)
    assert code == 2 and "'train'" in text and "epoch" in text and "known keys" in text


def test_error_enum_value_names_key_and_allowed_values(work, capsys):
    path = work / "c.yaml"
    path.write_text(yaml.safe_dump({"perception": {"keypoints": {"backend": "yolox"}}}))
    code, text = run_cli(capsys, "validate-config", path)
    assert code == 2 and "perception.keypoints.backend" in text and "groundtruth" in text


def test_error_subject_in_both_splits(work, capsys):
    config = write_config(work / "c.yaml", work / "data", split={"train_subjects": [1, 9], "test_subjects": [9]})
    code, text = run_cli(capsys, "validate-config", config)
    assert code == 2 and "split.train_subjects" in text and "[9]" in text


# -- values checked against the world before work starts


def test_error_unknown_timm_backbone(work, capsys):
    config = write_config(work / "c.yaml", work / "data", model={"cnn": {"backbone": "resnet19"}})
    before = snapshot(work)
    code, text = run_cli(capsys, *train_args(config, work / "out"))
    assert code == 2 and "model.cnn.backbone" in text and "resnet19" in text and "resnet18" in text
    assert not (work / "out").exists() and snapshot(work) == before


def test_error_missing_pretrained_file(work, capsys):
    config = write_config(work / "c.yaml", work / "data", model={"cnn": {"pretrained": "weights/none.pth"}})
    code, text = run_cli(capsys, *train_args(config, work / "out"))
    assert code == 2 and "model.cnn.pretrained" in text and "weights/none.pth" in text
    assert not (work / "out").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA device")
def test_error_cuda_device_absent(work, capsys):
    config = write_config(work / "c.yaml", work / "data", train={"device": "cuda"})
    code, text = run_cli(capsys, *train_args(config, work / "out"))
    assert code == 2 and "train.device" in text and "no CUDA device" in text
    assert not (work / "out").exists()


def test_error_missing_rclone_config_file(work, capsys):
    config = write_config(work / "c.yaml", work / "data",
                          storage={"remote": "onedrive:h36m", "rclone_config": str(work / "rclone.conf")})
    code, text = run_cli(capsys, *train_args(config, work / "out"))
    assert code == 2 and "storage.rclone_config" in text and "rclone.conf" in text and "does not exist" in text


def test_error_train_flag_through_the_schema(work, capsys):
    config = write_config(work / "c.yaml", work / "data")
    code, text = run_cli(capsys, *train_args(config, work / "out"), "--gpus", "0")
    assert code == 2 and "--gpus" in text and "train.gpus" in text
    assert not (work / "out").exists()


# -- inference flags go through the same schema as the config's infer: section


@pytest.fixture
def infer_base(work):
    checkpoint = work / "ckpt.pt"
    checkpoint.write_bytes(b"not needed: the flags fail first")
    images = work / "images"
    images.mkdir()
    return ["infer", "--checkpoint", str(checkpoint), "--input", str(images), "--output", str(work / "out")]


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--intrinsics", "-500", "0", "64", "64"], "--intrinsics (config key 'infer.intrinsics.0')"),
        (["--confidence", "1.5"], "--confidence (config key 'infer.confidence')"),
        (["--max-images", "-1"], "--max-images (config key 'infer.max_images')"),
        (["--max-people", "0"], "--max-people (config key 'infer.max_people')"),
        (["--device", "tpu"], "--device (config key 'perception.device')"),
        (["--batch-size", "0"], "--batch-size (config key 'perception.keypoints.batch_size')"),
    ],
    ids=["intrinsics", "confidence", "max-images", "max-people", "device", "batch-size"],
)
def test_error_infer_flag_outside_the_schema(work, infer_base, capsys, flags, named):
    code, text = run_cli(capsys, *infer_base, *flags)
    assert code == 2 and named in text
    assert not (work / "out").exists(), "nothing may be written before the flags are valid"


def test_error_infer_flag_against_a_config_file(work, infer_base, capsys):
    config = write_config(work / "c.yaml", work / "data")
    code, text = run_cli(capsys, *infer_base, "--config", config, "--intrinsics", "500", "500", "64", "-1")
    assert code == 2 and "--intrinsics" in text and not (work / "out").exists()


def test_error_infer_missing_yolo_weights(work, infer_base, capsys):
    code, text = run_cli(capsys, *infer_base, "--yolo-weights", work / "yolo-none.pt", "--device", "cpu")
    assert code == 2 and "--yolo-weights" in text and "yolo-none.pt" in text and "does not exist" in text


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA device")
def test_error_infer_cuda_device_absent(work, infer_base, capsys):
    code, text = run_cli(capsys, *infer_base, "--device", "cuda:3")
    assert code == 2 and "--device" in text and "no CUDA device" in text


def test_error_infer_missing_checkpoint(work, capsys):
    code, text = run_cli(capsys, "infer", "--checkpoint", work / "none.pt", "--input", work,
                         "--output", work / "out", "--device", "cpu", "--keypoints-backend", "dataset",
                         "--depth-backend", "dataset", "--dataset-root", work)
    assert code == 2 and "--checkpoint" in text and "none.pt" in text and not (work / "out").exists()


def test_error_workflow_names_a_bad_backbone_before_planning(tmp_path):
    """The workflow checks the same values as the CLI before it builds the DAG (a dry run here)."""
    import subprocess
    import sys

    from pose3d.testing.config import REPO_ROOT

    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(tiny_config_dict(tmp_path / "resources" / "synthetic",
                                                      model={"cnn": {"backbone": "resnet19"}})))
    done = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO_ROOT / "Snakefile"), "-d", str(tmp_path),
                           "--configfile", str(config), "-n", "--nocolor"], capture_output=True, text=True, timeout=300)
    output = done.stdout + done.stderr
    assert done.returncode == 1 and "model.cnn.backbone" in output and "resnet19" in output
    assert "Traceback" not in output and not (tmp_path / "resources").exists()


def test_error_preprocess_missing_yolo_weights(work, capsys):
    config = write_config(work / "c.yaml", work / "data",
                          perception={"keypoints": {"backend": "yolo", "weights": "models/yolo-none.pt"}})
    code, text = run_cli(capsys, "preprocess", "--config", config, "--sequence", "s_01_act_02_subact_01_ca_01",
                         "--output", work / "p.h5")
    assert code == 2 and "perception.keypoints.weights" in text and "yolo-none.pt" in text
    assert not (work / "p.h5").exists()
