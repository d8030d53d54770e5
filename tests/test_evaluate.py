"""Evaluation: every report file, sane metrics, and the mean-pose baseline measured in the same run."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from pose3d.cli import main as cli_main
from pose3d.config import config_from_dict
from pose3d.evaluate.baseline import mean_root_relative_pose
from pose3d.evaluate.plots import worst_and_median
from pose3d.evaluate.run import evaluate_checkpoint
from pose3d.testing.config import tiny_config_dict
from pose3d.testing.samples import make_samples
from pose3d.testing.shards import write_shards
from pose3d.testing.tiny_models import untrained_checkpoint

REPORTS = ("metrics.json", "per_action.csv", "metrics.md", "per_joint.png", "worst_median.png")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Tiny shards and an (untrained, random-weight) transformer checkpoint written by the trainer."""
    root = tmp_path_factory.mktemp("evaluate")
    train = write_shards(root / "train", 2, 8, subject=1)
    test = write_shards(root / "test", 2, 6, subject=9, seed=70)
    config = config_from_dict(tiny_config_dict(root / "unused"))
    untrained_checkpoint(config, "transformer", train, test, root / "model")
    return root, config, train, test


def test_evaluation_writes_every_report_with_the_baseline(trained):
    root, config, train, test = trained
    results = evaluate_checkpoint(root / "model" / "best.pt", test, train, root / "eval", config)
    for name in REPORTS:
        assert (root / "eval" / name).stat().st_size > 0, name

    saved = json.loads((root / "eval" / "metrics.json").read_text())
    assert saved == results and saved["num_samples"] == 12 and saved["model_name"] == "transformer"
    for side in ("model", "baseline"):
        assert set(saved[side]["per_action"]) == {"Directions", "Walking"}
        average = saved[side]["average"]
        assert all(0 < average[m] < 5000 for m in ("mpjpe", "pa_mpjpe", "n_mpjpe"))
        assert average["pa_mpjpe"] <= average["mpjpe"] + 1e-6
        assert average["mpjpe"] == pytest.approx(np.mean([v["mpjpe"] for v in saved[side]["per_action"].values()]))
        assert len(saved[side]["per_joint_mpjpe"]) == 17 and saved[side]["per_joint_mpjpe"]["pelvis"] == 0
    assert saved["mpjpe_ratio_to_baseline"] == pytest.approx(
        saved["model"]["average"]["mpjpe"] / saved["baseline"]["average"]["mpjpe"]
    )

    rows = list(csv.DictReader((root / "eval" / "per_action.csv").open()))
    assert [row["action"] for row in rows] == ["Directions", "Walking", "average"]
    assert float(rows[-1]["baseline_mpjpe"]) == pytest.approx(saved["baseline"]["average"]["mpjpe"], abs=0.01)
    table = (root / "eval" / "metrics.md").read_text()
    assert "| **average** |" in table and "baseline MPJPE" in table
    # Every figure names its split, its averaging and its inputs (the tiny config: simulated perception).
    assert saved["split"] == "test" and saved["subjects"] == [9] and saved["averaging"].startswith("mean over actions")
    assert saved["inputs"]["kind"] == "simulated perception" and saved["model_selection"]["split"] == "val"
    assert "on 12 test samples" in table and "Split: **test** (subjects S9)" in table
    assert "Inputs: **simulated perception**" in table and "detector error model" in table
    # The samples' keypoints are the exact projections: measured back through crop and intrinsics, ~0 px.
    measured = saved["input_keypoint_error"]
    assert measured["samples"] == 12 and measured["joints"] == 17 and measured["mean_error_px"] < 0.01
    assert "2D inputs measured: 0.0 px mean joint error" in table

    from pose3d.run_summary import summarize

    (root / "results" / "eval" / "transformer").mkdir(parents=True)
    (root / "results" / "eval" / "transformer" / "metrics.json").write_text(json.dumps(saved))
    lines = summarize(root / "results")
    assert lines[0].startswith("eval transformer: test MPJPE ") and "inputs: simulated perception" in lines[0]
    inputs_line = next(line for line in lines if line.startswith("eval inputs: 2D keypoints = simulated detector"))
    assert "measured on the test samples 0.0 px (0.000 of the person's height)" in inputs_line
    assert not any(line.startswith("eval against the lifter") for line in lines)  # no lifter evaluated

    # Beside the keypoint lifter, each model's MPJPE as a multiple of its; an evaluation of other
    # samples (a leftover of another config) is not compared.
    for name, scale, samples in (("lifter", 1.25, 12), ("stale", 0.5, 99)):
        other = {**saved, "model_name": name, "num_samples": samples,
                 "model": {**saved["model"], "average": {**saved["model"]["average"],
                                                         "mpjpe": saved["model"]["average"]["mpjpe"] * scale}}}
        (root / "results" / "eval" / name).mkdir()
        (root / "results" / "eval" / name / "metrics.json").write_text(json.dumps(other))
    (against,) = [line for line in summarize(root / "results") if line.startswith("eval against the lifter")]
    assert "transformer 0.80x" in against and "stale" not in against and "test MPJPE on the same samples" in against


def test_baseline_is_the_train_mean_root_relative_pose(trained):
    _root, _config, train, test = trained
    joints = np.concatenate([make_samples(8, seed, subject=1)["joints_3d"] for seed in (0, 1)]).astype(np.float64)
    expected = (joints - joints[:, :1]).mean(axis=0)
    np.testing.assert_allclose(mean_root_relative_pose(train), expected, atol=1e-3)


def test_worst_and_median_pick_the_right_samples():
    errors = np.array([5.0, 1.0, 9.0, 3.0, 7.0])
    worst, median = worst_and_median(errors, 2)
    assert worst.tolist() == [2, 4]
    assert sorted(errors[median].tolist()) == [3.0, 5.0]


def test_cli_evaluate(trained, capsys):
    root, _config, train, test = trained
    config_path = root / "config.yaml"
    import yaml

    config_path.write_text(yaml.safe_dump(tiny_config_dict(root / "unused")))
    code = cli_main(["evaluate", "--config", str(config_path), "--checkpoint", str(root / "model" / "best.pt"),
                     "--test-shards", *map(str, test), "--train-shards", *map(str, train), "--out", str(root / "cli")])
    assert code == 0 and "mean-pose baseline" in capsys.readouterr().out
    assert all((root / "cli" / name).is_file() for name in REPORTS)
    missing = cli_main(["evaluate", "--config", str(config_path), "--checkpoint", str(root / "nope.pt"),
                        "--test-shards", *map(str, test), "--train-shards", *map(str, train), "--out", str(root / "x")])
    assert missing == 2 and "nope.pt" in capsys.readouterr().out


def test_sheet_crops_are_found_by_provenance_not_position(trained):
    root, _config, _train, test = trained
    from pose3d.evaluate.run import sample_crops
    from pose3d.shards.reader import ShardReader
    from pose3d.training.previews import crop_with_keypoints

    with ShardReader(test[1]) as reader:
        row = reader.read(3, 4)
    provenance = tuple(int(row[name][0]) for name in ("subject", "action", "subaction", "camera", "frame"))
    crops = sample_crops(test, {7: provenance}, "h36m17")
    expected = crop_with_keypoints(row["image"][0], row["keypoints_2d"][0], "h36m17")
    assert list(crops) == [7]
    np.testing.assert_array_equal(crops[7], expected)
