"""The shipped Human3.6M preset (`config/h36m.yaml`) plans its whole DAG on a release-shaped tree.

The licensed data is absent, so `pose3d.datasets.release_scale` writes its annotation layout with
recordings shrunk to a few frames and one placeholder image per folder. A dry run of the real
`snakemake` with the cluster profile then shows what a researcher's first run would submit.
"""

from __future__ import annotations

import subprocess
import sys

import yaml

from pose3d.datasets.release_scale import write_release
from pose3d.testing.config import REPO_ROOT
from pose3d.testing.dry_run import dry_run_jobs, wildcard


def test_the_human36m_preset_trains_every_model_beside_the_baseline(tmp_path):
    root = tmp_path / "human36m"
    write_release(root, frame_scale=0.003, images="placeholder")
    weights = tmp_path / "yolo11x-pose.pt"
    weights.write_bytes(b"")  # the workflow checks that the weights exist before planning
    (tmp_path / "photos").mkdir()
    config = yaml.safe_load((REPO_ROOT / "config" / "h36m.yaml").read_text())
    config["dataset"]["root"] = str(root)
    config["perception"]["keypoints"]["weights"] = str(weights)
    config["infer"]["images"] = str(tmp_path / "photos")
    configfile = tmp_path / "h36m.yaml"
    configfile.write_text(yaml.safe_dump(config))
    command = [sys.executable, "-m", "snakemake", "--profile", str(REPO_ROOT / "profiles" / "slurm-gpu"),
               "--snakefile", str(REPO_ROOT / "Snakefile"), "--directory", str(tmp_path / "work"),
               f"--configfile={configfile}", "--dry-run", "--nocolor"]
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=300, check=False)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]

    jobs = {wildcard(job, "model"): job for job in dry_run_jobs(result.stdout) if job["rule"] == "train"}
    resources = {model: job["resources"] for model, job in jobs.items()}
    # The image models, and the keypoint lifter: the field's baseline, read on the same YOLO detections.
    assert sorted(resources) == ["cnn", "lifter", "transformer"]
    gpus = config["train"]["gpus"]
    assert f"gpu={gpus}," in resources["cnn"] and f"gpu={gpus}," in resources["transformer"], resources
    assert "gpu=1," in resources["lifter"], resources  # model.lifter.train.gpus: one GPU, not the image models' 4
    assert all("slurm_partition=gpu" in line for line in resources.values()), resources
    # The image models correct the trained lifter (base_model: lifter): their train jobs wait for it.
    for model in ("cnn", "transformer"):
        assert "results/models/lifter/best.pt" in jobs[model]["input"], model
