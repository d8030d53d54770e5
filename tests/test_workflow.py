"""The whole DAG end to end through the real `snakemake` CLI on a tiny synthetic config.

synthesize -> preprocess -> chunk -> split -> shuffle -> train -> evaluate -> infer, then: the HTML
report holds every model's MPJPE, a second run has nothing to do, and a dry run with edited split subjects reruns split and what
follows it, never synthesize, preprocess or chunk. The shipped default config plans in a dry run.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from pathlib import Path

import h5py
import pytest
import torch
import yaml

from pose3d.shards import schema
from pose3d.testing.config import REPO_ROOT, tiny_config_dict
from pose3d.testing.dry_run import dry_run_jobs

pytestmark = pytest.mark.slow


def _snakemake(workdir: Path, configfile: Path, targets: list[str], *extra: str) -> str:
    command = [
        sys.executable, "-m", "snakemake", "-s", str(REPO_ROOT / "Snakefile"), "--directory", str(workdir),
        "--configfile", str(configfile), "--cores", "2", "--nocolor", *extra, *targets,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"snakemake failed ({result.returncode}):\n{output[-6000:]}"
    return output


def _keys(paths: list[Path]) -> list[tuple[int, ...]]:
    keys = []
    for path in paths:
        with h5py.File(path, "r") as handle:
            assert handle.attrs[schema.ATTR_SCHEMA_VERSION] == schema.SCHEMA_VERSION
            keys += list(zip(*(handle[name][()].tolist() for name in schema.PROVENANCE), strict=True))
    return keys


def _missed_keys(paths: list[Path]) -> list[tuple[int, ...]]:
    """Provenance of the samples whose subject the (simulated) detector missed."""
    keys = []
    for path in paths:
        with h5py.File(path, "r") as handle:
            missed = ~schema.person_detected(handle[schema.KEYPOINTS_2D][()])
            keys += [key for key, miss in zip(_keys([path]), missed, strict=True) if miss]
    return keys


def _jobs_of(dry_run_output: str) -> set[str]:
    """Rule names listed in a dry run's job table (`rule  count` lines between header and total)."""
    rules, in_table = set(), False
    for line in dry_run_output.splitlines():
        words = line.split()
        if words[:2] == ["job", "count"]:
            in_table = True
        elif in_table and len(words) == 2 and words[1].isdigit():
            if words[0] == "total":
                break
            rules.add(words[0])
    return rules


REPORT_RULES = {"training_curves", "models_table", "contact_sheet"}


def _job_inputs(dry_run_output: str, rule: str) -> list[list[str]]:
    """The `input:` file list of every job of `rule` in a dry run's job descriptions."""
    return [[name.strip() for name in job["input"].split(",")]
            for job in dry_run_jobs(dry_run_output) if job["rule"] == rule and "input" in job]


def test_default_config_dry_run(tmp_path):
    configfile = REPO_ROOT / "config" / "config.yaml"
    output = _snakemake(tmp_path, configfile, [], "-n")
    jobs = _jobs_of(output)
    assert jobs == {"all", "synthesize", "dataset_report", "index", "preprocess", "chunk", "split", "shuffle", "train",
                    "evaluate", "infer", *REPORT_RULES}
    # Model selection never sees the test split: the train jobs' inputs are the shuffled train and the val shards.
    train_inputs = _job_inputs(output, "train")
    # cnn, transformer, lifter (the keypoint-only baseline), depth_lifter (the image models' base)
    assert len(train_inputs) == len(yaml.safe_load(configfile.read_text())["models"]) == 4
    for inputs in train_inputs:
        shard_inputs = [name for name in inputs if name != "results/models/depth_lifter/best.pt"]
        assert shard_inputs and all(name.startswith(("results/shuffled/train/", "results/split/val/"))
                                    for name in shard_inputs), inputs
        assert "results/split/val/shard_00000.h5" in inputs
    # The image models (base_model: depth_lifter) learn a correction on that trained lifter: they wait for it.
    assert sum("results/models/depth_lifter/best.pt" in inputs for inputs in train_inputs) == 2
    assert not any("results/models/lifter/best.pt" in inputs for inputs in train_inputs)
    assert all(any("results/split/test/" in name for name in inputs) for inputs in _job_inputs(output, "evaluate"))


def test_wrong_config_value_fails_before_anything_runs(tmp_path):
    config = tiny_config_dict(tmp_path / "synthetic", shards={"image_codec": "png"})
    configfile = tmp_path / "bad.yaml"
    configfile.write_text(yaml.safe_dump(config))
    command = [sys.executable, "-m", "snakemake", "-s", str(REPO_ROOT / "Snakefile"), "--directory", str(tmp_path),
               "--configfile", str(configfile), "--cores", "1", "-n"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode != 0
    assert "config key 'shards.image_codec': 'png' is not allowed; allowed values: ['jpeg', 'raw']" in result.stdout + result.stderr
    assert not (tmp_path / "synthetic").exists()


def test_whole_dag_end_to_end(tmp_path):
    workdir = tmp_path / "work"
    workdir.mkdir()
    # One action and camera, two subactions: 4 sequences keep the job count (and Python start-ups) small,
    # and subject 1 has two takes, one of which is held out for validation. The test subject takes a
    # sparser frame step; the validation take, from a training subject, keeps the training step.
    config = tiny_config_dict(
        workdir / "resources" / "synthetic",
        dataset={"actions": [2], "cameras": [1], "subactions": [1, 2], "frame_step": 2, "test_frame_step": 4},
        train={"batch_size": 2},
        # The detector misses some subjects: never trained on, evaluated with the rest.
        perception={"keypoints": {"miss_prob": 0.2}},
        # The transformer as the default trains it, on the depth-reading lifter; the cnn from scratch.
        model={"lifter": {"train": {"batch_size": 2}}, "depth_lifter": {"train": {"batch_size": 2}},
               "transformer": {"base_model": "depth_lifter"}},
    )
    configfile = tmp_path / "tiny.yaml"
    configfile.write_text(yaml.safe_dump(config))
    train_shards = [f"results/shuffled/train/shard_{i:05d}.h5" for i in range(config["split"]["train_shards"])]
    val_shards = [f"results/split/val/shard_{i:05d}.h5" for i in range(config["split"]["val_shards"])]
    test_shards = [f"results/split/test/shard_{i:05d}.h5" for i in range(config["split"]["test_shards"])]
    targets: list[str] = []  # rule all: every model trained and evaluated, then inference and the report figures

    _snakemake(workdir, configfile, targets)
    chunks = sorted((workdir / "results" / "chunks").glob("S*.h5"))
    assert [path.name for path in chunks] == ["S1.h5", "S9.h5"]
    all_keys = _keys(chunks)
    frames = config["synthetic"]["frames_per_sequence"] // config["dataset"]["frame_step"]
    test_frames = config["synthetic"]["frames_per_sequence"] // config["dataset"]["test_frame_step"]
    # 2 subjects x 1 action x 2 subactions x 1 camera
    assert len(all_keys) == len(set(all_keys)) == 2 * frames + 2 * test_frames
    train_keys = _keys([workdir / path for path in train_shards])
    val_keys = _keys([workdir / path for path in val_shards])
    test_keys = _keys([workdir / path for path in test_shards])
    missed = _missed_keys(chunks)
    # This seed misses one frame of S1's training take, two of its validation take and one of S9's.
    assert len({k[:3] for k in missed if k[0] == 1}) == 2 and any(k[0] == 9 for k in missed), missed
    assert not set(missed) & set(train_keys) and set(missed) & set(val_keys)
    assert sorted(train_keys + val_keys) == sorted(k for k in all_keys if k[0] == 1 and (k not in missed or k in val_keys))
    assert len({k[:3] for k in val_keys}) == 1 and len(val_keys) == frames  # one whole take of S1
    assert not {k[:3] for k in val_keys} & {k[:3] for k in train_keys}
    assert sorted(test_keys) == sorted(k for k in all_keys if k[0] == 9)
    assert (workdir / "results" / "logs" / "chunk" / "S1.log").is_file()
    mpjpe = {}
    for model in config["models"]:
        metrics = json.loads((workdir / "results" / "eval" / model / "metrics.json").read_text())
        assert metrics["split"] == "test" and metrics["inputs"]["kind"] == "simulated perception", model
        assert metrics["num_samples"] == len(test_keys), model  # every test frame, missed subjects included
        assert metrics["protocol"] == {"frames": 2 * test_frames, "evaluated": 2 * test_frames, "coverage": 1.0,
                                       "note": "every frame of the protocol"}, model
        assert metrics["people_missed"]["samples"] == sum(k[0] == 9 for k in missed), model
        mpjpe[model] = metrics["model"]["average"]["mpjpe"]
        assert (workdir / "results" / "models" / model / "checkpoints" / "last.pt").is_file()
        history = json.loads((workdir / "results" / "models" / model / "history.json").read_text())
        assert all(record["val_split"] == "val" and record["val_samples"] == frames for record in history), model
    lifter = torch.load(workdir / "results" / "models" / "depth_lifter" / "best.pt", weights_only=True)["model"]
    on_lifter = torch.load(workdir / "results" / "models" / "transformer" / "best.pt", weights_only=True)["model"]
    assert all(torch.equal(on_lifter[f"base.lifter.{key}"], value) for key, value in lifter.items())
    summary = json.loads((workdir / "results" / "infer" / config["infer"]["model"] / "summary.json").read_text())
    assert summary["images_processed"] >= 1, summary

    # The Snakemake HTML report of that run holds every model's test MPJPE (in the models table).
    _snakemake(workdir, configfile, [], "--report", "results/report.html")
    report = (workdir / "results" / "report.html").read_text()
    embedded = "\n".join(
        base64.b64decode(payload).decode("utf-8", errors="replace")
        for payload in re.findall(r"base64,([A-Za-z0-9+/=]+)", report)
    )
    for model, value in mpjpe.items():
        assert re.search(rf"<td>{model}</td><td>test</td><td>\d+</td><td>{value:.1f}</td>", embedded), model
    for category in ("1. Metrics", "2. Per-joint error", "3. Worst and median samples", "4. Training curves",
                     "0. Data", "5. Inference"):
        assert category in report, category

    assert "Nothing to be done" in _snakemake(workdir, configfile, targets)
    # A second look the groundtruth backend never takes is no reason to redo finished preprocess outputs.
    unlooked = yaml.safe_load(configfile.read_text())
    unlooked["perception"]["keypoints"]["second_look"] = not unlooked["perception"]["keypoints"].get("second_look", True)
    unlooked_file = tmp_path / "unlooked.yaml"
    unlooked_file.write_text(yaml.safe_dump(unlooked))
    assert "preprocess" not in _jobs_of(_snakemake(workdir, unlooked_file, targets, "-n"))

    edited = yaml.safe_load(configfile.read_text())
    edited["split"]["train_subjects"], edited["split"]["test_subjects"] = [9], [1]
    edited_file = tmp_path / "edited.yaml"
    edited_file.write_text(yaml.safe_dump(edited))
    # A subject that changes role changes frame step, so its preprocess reruns ...
    jobs = _jobs_of(_snakemake(workdir, edited_file, targets, "-n"))
    assert {"preprocess", "chunk"} <= jobs, jobs
    # ... and with the steps swapped too, every subject keeps its frames: only split and later stages rerun.
    edited["dataset"]["frame_step"], edited["dataset"]["test_frame_step"] = 4, 2
    edited_file.write_text(yaml.safe_dump(edited))
    jobs = _jobs_of(_snakemake(workdir, edited_file, targets, "-n"))
    assert jobs == {"all", "split", "shuffle", "train", "evaluate", "infer", *REPORT_RULES}, jobs


def test_snakemake_lint_is_clean(tmp_path):
    """`snakemake --lint`: rules files hold rules only, no hard-coded path params, logs everywhere."""
    command = [
        sys.executable, "-m", "snakemake", "-s", str(REPO_ROOT / "Snakefile"), "--directory", str(tmp_path),
        "--configfile", str(REPO_ROOT / "config" / "config.yaml"), "--lint", "--nocolor",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0 and "Lints for" not in output, output[-6000:]
