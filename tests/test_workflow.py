"""The whole DAG end to end through the real `snakemake` CLI on a tiny synthetic config.

synthesize -> preprocess -> chunk -> split -> shuffle -> train -> evaluate -> infer, then: a
second run has nothing to do, and a dry run with edited split subjects reruns split and what
follows it, never synthesize, preprocess or chunk. The shipped default config plans in a dry run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import h5py
import pytest
import yaml

from pose3d.shards import schema
from pose3d.testing.config import REPO_ROOT, tiny_config_dict

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


def test_default_config_dry_run(tmp_path):
    configfile = REPO_ROOT / "config" / "config.yaml"
    jobs = _jobs_of(_snakemake(tmp_path, configfile, [], "-n"))
    assert jobs == {"all", "synthesize", "dataset_report", "index", "preprocess", "chunk", "split", "shuffle", "train",
                    "evaluate", "infer"}


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
    # One action and camera: 2 sequences keep the job count (and Python start-ups) small.
    config = tiny_config_dict(
        workdir / "resources" / "synthetic", dataset={"actions": [2], "cameras": [1]}, train={"batch_size": 2}
    )
    configfile = tmp_path / "tiny.yaml"
    configfile.write_text(yaml.safe_dump(config))
    train_shards = [f"results/shuffled/train/shard_{i:05d}.h5" for i in range(config["split"]["train_shards"])]
    test_shards = [f"results/split/test/shard_{i:05d}.h5" for i in range(config["split"]["test_shards"])]
    targets: list[str] = []  # rule all: every model trained and evaluated, then inference

    _snakemake(workdir, configfile, targets)
    chunks = sorted((workdir / "results" / "chunks").glob("S*.h5"))
    assert [path.name for path in chunks] == ["S1.h5", "S9.h5"]
    all_keys = _keys(chunks)
    frames = config["synthetic"]["frames_per_sequence"] // config["dataset"]["frame_step"]
    assert len(all_keys) == len(set(all_keys)) == 2 * frames  # 2 subjects x 1 action x 1 camera
    train_keys = _keys([workdir / path for path in train_shards])
    test_keys = _keys([workdir / path for path in test_shards])
    assert sorted(train_keys) == sorted(k for k in all_keys if k[0] == 1)
    assert sorted(test_keys) == sorted(k for k in all_keys if k[0] == 9)
    assert (workdir / "results" / "logs" / "chunk" / "S1.log").is_file()
    for model in config["models"]:
        metrics = json.loads((workdir / "results" / "eval" / model / "metrics.json").read_text())
        assert metrics, model
        assert (workdir / "results" / "models" / model / "checkpoints" / "last.pt").is_file()
    summary = json.loads((workdir / "results" / "infer" / config["infer"]["model"] / "summary.json").read_text())
    assert summary["images_processed"] >= 1, summary

    assert "Nothing to be done" in _snakemake(workdir, configfile, targets)

    edited = yaml.safe_load(configfile.read_text())
    edited["split"]["train_subjects"], edited["split"]["test_subjects"] = [9], [1]
    edited_file = tmp_path / "edited.yaml"
    edited_file.write_text(yaml.safe_dump(edited))
    jobs = _jobs_of(_snakemake(workdir, edited_file, targets, "-n"))
    assert jobs == {"all", "split", "shuffle", "train", "evaluate", "infer"}, jobs


def test_snakemake_lint_is_clean(tmp_path):
    """`snakemake --lint`: rules files hold rules only, no hard-coded path params, logs everywhere."""
    command = [
        sys.executable, "-m", "snakemake", "-s", str(REPO_ROOT / "Snakefile"), "--directory", str(tmp_path),
        "--configfile", str(REPO_ROOT / "config" / "config.yaml"), "--lint", "--nocolor",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0 and "Lints for" not in output, output[-6000:]
