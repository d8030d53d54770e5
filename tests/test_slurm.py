"""The SLURM profile against a real scheduler: a single-node cluster started by the test itself.

Runs the workflow through `--profile profiles/slurm-ci` (snakemake-executor-plugin-slurm) and checks
that jobs really went through SLURM (their job ids known to slurmctld), that outputs appear, and
that a failing rule fails the run. Those tests (marked `slurm`) need root and Debian's slurm-wlm +
munge (tools/install-system-packages.sh) and skip with the reason otherwise. The site profile
profiles/slurm-gpu is checked by a dry run, which needs no cluster.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pose3d.testing.config import REPO_ROOT, tiny_config_dict
from pose3d.testing.dry_run import dry_run_jobs, wildcard
from pose3d.testing.slurm_cluster import SLURM_DATASET, SUBMITTED, SlurmCluster, unavailable_reason

PROFILE = REPO_ROOT / "profiles" / "slurm-ci"
RUN_TIMEOUT_S = 600  # a hung scheduler fails the test instead of hanging CI



def preprocess_targets(config: dict) -> list[str]:
    """preprocess outputs of every configured sequence: building them runs synthesize first."""
    from pose3d.config import config_from_dict
    from pose3d.datasets.layout import sequence_ids

    dataset = config_from_dict(config).dataset
    names = [
        seq.name
        for seq in sequence_ids(dataset.subjects, dataset.actions, dataset.subactions, dataset.cameras)
    ]
    return [f"results/preprocessed/{name}.{ext}" for name in names for ext in ("h5", "report.json")]


@pytest.fixture(scope="module")
def cluster():
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    with SlurmCluster() as running:
        yield running


def run_snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    """Snakemake in `workdir` through the CI SLURM profile; its log is saved next to the outputs."""
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "--profile",
        str(PROFILE),
        "--directory",
        str(workdir),
        *args,
    ]
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}")
    result = subprocess.run(
        command, capture_output=True, text=True, env=env, cwd=workdir, timeout=RUN_TIMEOUT_S
    )
    (workdir / "snakemake.log").write_text(result.stdout + result.stderr)
    return result


def submitted_job_ids(result: subprocess.CompletedProcess) -> list[str]:
    return SUBMITTED.findall(result.stdout + result.stderr)


def describe(result: subprocess.CompletedProcess, cluster: SlurmCluster) -> str:
    return f"snakemake exit {result.returncode}\n{(result.stdout + result.stderr)[-6000:]}\n{cluster.log_tails()}"


@pytest.mark.slurm
@pytest.mark.slow
def test_data_stages_run_as_slurm_jobs(cluster, tmp_path):
    """synthesize -> index -> preprocess of a tiny dataset, every job submitted with sbatch and run by slurmd."""
    config = tiny_config_dict(tmp_path / "resources" / "synthetic", dataset=SLURM_DATASET)
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(config))
    targets = preprocess_targets(config)

    result = run_snakemake(
        tmp_path, "--snakefile", str(REPO_ROOT / "Snakefile"), f"--configfile={config_path}", *targets
    )

    assert result.returncode == 0, describe(result, cluster)
    for target in targets:
        assert (tmp_path / target).stat().st_size > 0, target
    job_ids = submitted_job_ids(result)
    assert len(job_ids) == 5, describe(result, cluster)  # synthesize, 2 x index (S1, S9), 2 x preprocess
    records = {job_id: cluster.show_job(job_id) for job_id in job_ids}
    for job_id, record in records.items():
        assert "JobState=COMPLETED" in record, f"job {job_id}:\n{record}"
        assert f"WorkDir={tmp_path}" in record
        assert "Partition=debug" in record
    # The CI profile's set-resources reached sbatch: preprocess jobs asked for 1000 MB, not the rule's own.
    preprocess_jobs = [record for record in records.values() if "Comment=rule_preprocess" in record]
    assert len(preprocess_jobs) == 2, records
    assert all("MinMemoryNode=1000M" in record for record in preprocess_jobs), preprocess_jobs


# One job: each SLURM job costs seconds of snakemake start-up plus the plugin's status polling.
FAILING_SNAKEFILE = """
rule broken:
    output: "broken.txt"
    shell: "echo 'broken on purpose' >&2; exit 3"
"""


@pytest.mark.slurm
@pytest.mark.slow
def test_failing_rule_fails_the_run(cluster, tmp_path):
    """A job that exits non-zero on the cluster makes snakemake fail, naming the SLURM job."""
    snakefile = tmp_path / "Snakefile"
    snakefile.write_text(FAILING_SNAKEFILE)

    result = run_snakemake(tmp_path, "--snakefile", str(snakefile))

    assert result.returncode != 0, describe(result, cluster)
    assert not (tmp_path / "broken.txt").exists()
    job_ids = submitted_job_ids(result)
    assert len(job_ids) == 1, describe(result, cluster)
    failed = cluster.show_job(job_ids[0])
    assert "JobState=FAILED" in failed, failed
    slurm_log = tmp_path / ".snakemake" / "slurm_logs" / "rule_broken" / f"{job_ids[0]}.log"
    # The rule ran on the cluster, and its stderr came back in the SLURM log.
    assert "broken on purpose" in slurm_log.read_text()
    assert "Error in rule broken" in result.stdout + result.stderr, describe(result, cluster)


def test_site_profile_sends_gpu_rules_to_gpus(tmp_path):
    """profiles/slurm-gpu (no cluster needed: a dry run): GPU partition and GPU counts from the config."""
    weights = tmp_path / "yolo-pose.pt"
    weights.write_bytes(b"")  # the workflow checks that the weights file exists before planning
    config = tiny_config_dict(
        tmp_path / "resources" / "synthetic",
        dataset=SLURM_DATASET,
        perception={"keypoints": {"backend": "yolo", "weights": str(weights)}, "device": "auto"},
        train={"gpus": 2, "device": "auto"},
        model={"lifter": {"train": {"gpus": 1}}},  # a keypoint MLP: one GPU whatever train.gpus says
    )
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(config))
    command = [
        sys.executable, "-m", "snakemake", "--profile", str(REPO_ROOT / "profiles" / "slurm-gpu"),
        "--snakefile", str(REPO_ROOT / "Snakefile"), "--directory", str(tmp_path),
        f"--configfile={config_path}", "--dry-run",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr

    resources = {}  # rule (train: train/<model>) -> the resources of its last job
    for job in dry_run_jobs(result.stdout):
        model = wildcard(job, "model") if job["rule"] in ("train", "evaluate") else None
        resources[job["rule"] + (f"/{model}" if model else "")] = job.get("resources", "")
    assert "slurm_partition=gpu" in resources["preprocess"] and "gpu=1" in resources["preprocess"]
    for model in ("cnn", "transformer", "depth_lifter"):
        assert "slurm_partition=gpu" in resources[f"train/{model}"] and "gpu=2," in resources[f"train/{model}"], model
    assert "gpu=1," in resources["train/lifter"]  # model.lifter.train.gpus
    assert "slurm_partition=cpu" in resources["chunk"] and "gpu=" not in resources["chunk"]
    assert "cpus_per_task=16" in resources["train/cnn"]


@pytest.mark.slurm
@pytest.mark.slow
def test_train_stopped_at_its_time_limit_is_retried_and_resumes(cluster, tmp_path):
    """`train` with a one-minute limit: it reads its job's end time (squeue), stops with a checkpoint
    `train.stop_before_time_limit_minutes` before it, Snakemake's retries resubmit it, each attempt
    resumes from checkpoints/last.pt, and the last one completes."""
    import torch

    config = tiny_config_dict(
        tmp_path / "resources" / "synthetic",
        # Two subactions: one take of S1 trains (40 samples), the other is held out for validation.
        dataset={"actions": [2], "cameras": [1], "subactions": [1, 2], "frame_step": 1},
        synthetic={"frames_per_sequence": 40},
        models=["transformer"],
        infer={"enabled": False},
        # The epoch count is sized below from a measured epoch, so training outlasts one attempt on any runner.
        train={"epochs": 3, "batch_size": 2, "preview_samples": 0, "checkpoint_every_minutes": 0, "device": "cpu",
               "stop_before_time_limit_minutes": STOP_BEFORE_LIMIT_S / 60},
    )
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(config))
    best = "results/models/transformer/best.pt"
    # The data stages run locally: they are not what this test is about, and each SLURM job costs seconds.
    shards = [f"results/shuffled/train/shard_{i:05d}.h5" for i in range(config["split"]["train_shards"])]
    local = subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(REPO_ROOT / "Snakefile"), "--directory", str(tmp_path),
         f"--configfile={config_path}", "--cores", "1", *shards, "results/split/test/shard_00000.h5"],
        capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False,
    )
    assert local.returncode == 0, (local.stdout + local.stderr)[-4000:]
    config["train"]["epochs"] = epochs_for_seconds(tmp_path, config_path, TRAINING_SECONDS)
    config_path.write_text(yaml.safe_dump(config))

    result = run_snakemake(
        tmp_path, best, "--snakefile", str(REPO_ROOT / "Snakefile"), f"--configfile={config_path}",
        # A command-line --set-resources replaces the profile's for the rule: repeat what it sets for train,
        # except the profile's --signal=TERM@30: SLURM may send it up to 60 s early, anywhere in a
        # one-minute job, and this test is about the stop the job's own end time schedules.
        "--retries", "8", "--set-resources", "train:runtime=1", "train:mem_mb=2000", "train:gpu=0",
        "train:slurm_extra=''",
    )

    assert result.returncode == 0, describe(result, cluster)
    job_ids = submitted_job_ids(result)
    assert len(job_ids) >= 2, f"train finished within its first minute; nothing was resumed\n{describe(result, cluster)}"
    first = cluster.show_job(job_ids[0])
    # FAILED: training stopped itself (exit 75) before the limit; TIMEOUT would mean SLURM killed it.
    assert "JobState=FAILED" in first and "TimeLimit=00:01:00" in first, first
    # Snakemake clears the rule log before a retry; every attempt's log is kept beside the checkpoints.
    attempts_log = (tmp_path / "results" / "models" / "transformer" / "checkpoints" / "train_attempts.log").read_text()
    context = f"{attempts_log[-3000:]}\n{describe(result, cluster)}"
    assert attempts_log.count("attempt that ended") == len(job_ids), context
    stops = re.findall(rf"stopped at step \d+, {STOP_BEFORE_LIMIT_S / 60:g} min before the SLURM job's time limit",
                       attempts_log)
    assert len(stops) == attempts_log.count("resumed from step") == len(job_ids) - 1, context
    final = torch.load(tmp_path / "results" / "models" / "transformer" / "checkpoints" / "last.pt", weights_only=True)
    assert final["epoch"] == config["train"]["epochs"] and (tmp_path / best).is_file()


# An attempt: 4-25 s of start-up (snakemake in the job, then the training script; measured on 2-core
# runners), training until STOP_BEFORE_LIMIT_S before the one-minute limit, so 20-41 s of training.
# TRAINING_SECONDS is more than one attempt trains and at most three: two to four attempts (the test
# allows nine).
STOP_BEFORE_LIMIT_S = 15.0
TRAINING_SECONDS = 60.0


def epochs_for_seconds(work_dir: Path, config_path: Path, seconds: float) -> int:
    """Epochs of the configured training that take about `seconds` on this machine, from a measured run."""
    probe = work_dir / "epoch_probe"
    # One torch thread, as the SLURM job has (cpus_per_task 1): a probe with the default thread count
    # ran faster on an idle runner (too many epochs: the attempts ran out) and slower on a busy one
    # (too few: the second attempt finished from scratch, nothing resumed).
    run = subprocess.run(
        [sys.executable, "-m", "pose3d.cli", "train", "--config", str(config_path), "--model", "transformer",
         "--out", str(probe), "--no-resume"],
        cwd=work_dir, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    history = json.loads((probe / "history.json").read_text())
    # The whole epoch: training and validation (on an idle runner the fixed per-epoch work of a tiny
    # model outweighs its training steps, and counting the steps alone made the attempts run out).
    per_epoch = max(min(record["epoch_seconds"] + record["val_seconds"] for record in history), 0.01)
    shutil.rmtree(probe)
    return max(10, math.ceil(seconds / per_epoch))
