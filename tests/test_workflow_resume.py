"""Training through the real `snakemake` CLI survives a kill, and retrains only when weights would change.

The DAG runs on tiny synthetic data up to the shuffled shards; one copy of the work folder then
trains straight through, another gets SIGTERM (to the whole process group, as a scheduler or
Ctrl-C would) in the middle of `train` and is rerun with the same command: it resumes from the
step checkpoint and ends with the same weights. Editing `train.log_every` and `train.num_workers`
leaves Snakemake nothing to do for `train`; editing `train.lr` retrains.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from pose3d.testing.config import REPO_ROOT, tiny_config_dict
from tests.test_workflow import _jobs_of

pytestmark = pytest.mark.slow

MODEL = "transformer"
BEST = f"results/models/{MODEL}/best.pt"
CHECKPOINT = f"results/models/{MODEL}/checkpoints/last.pt"


def _command(workdir: Path, configfile: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "snakemake", "-s", str(REPO_ROOT / "Snakefile"), "--directory", str(workdir),
            "--configfile", str(configfile), "--cores", "1", "--nocolor", *extra]


def _run(workdir: Path, configfile: Path, *extra: str) -> str:
    result = subprocess.run(_command(workdir, configfile, *extra), capture_output=True, text=True, timeout=900,
                            check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"snakemake failed ({result.returncode}):\n{output[-6000:]}"
    return output


def test_sigterm_during_train_then_rerun_resumes_to_the_straight_weights(tmp_path):
    killed = tmp_path / "killed"
    killed.mkdir()
    config = tiny_config_dict(
        killed / "resources" / "synthetic",
        # Two subactions: one take of S1 trains (40 samples), the other is held out for validation.
        dataset={"actions": [2], "cameras": [1], "subactions": [1, 2], "frame_step": 1},
        synthetic={"frames_per_sequence": 40},  # 40 train samples: 20 steps per epoch
        models=[MODEL],
        infer={"enabled": False},
        train={"epochs": 4, "batch_size": 2, "checkpoint_every_steps": 1, "preview_samples": 0},
    )
    configfile = tmp_path / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    shards = [f"results/shuffled/train/shard_{i:05d}.h5" for i in range(config["split"]["train_shards"])]
    _run(killed, configfile, *shards, f"results/split/test/shard_{0:05d}.h5")
    straight = tmp_path / "straight"
    shutil.copytree(killed, straight, symlinks=True)  # same shards, same modification times

    _run(straight, configfile, BEST)

    process = subprocess.Popen(_command(killed, configfile, BEST), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, start_new_session=True)
    deadline = time.monotonic() + 600
    while not (killed / CHECKPOINT).exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGTERM)  # snakemake and its job, as `scancel` or Ctrl-C would reach them
    output, _ = process.communicate(timeout=300)
    assert process.returncode != 0, f"the run finished before the signal:\n{output[-3000:]}"
    log = (killed / "results" / "logs" / "train" / f"{MODEL}.log").read_text()
    assert "on SIGTERM" in log, log[-3000:]
    stopped = torch.load(killed / CHECKPOINT, weights_only=True)
    assert 0 < stopped["step"] < 80
    assert not (killed / BEST).exists() or stopped["epoch"] > 0  # snakemake removed the failed job's outputs

    _run(killed, configfile, BEST)
    log = (killed / "results" / "logs" / "train" / f"{MODEL}.log").read_text()
    assert f"resumed from step {stopped['step']}, epoch {stopped['epoch']}" in log
    for name in ("checkpoints/last.pt", "best.pt"):
        ours = torch.load(killed / "results" / "models" / MODEL / name, weights_only=True)
        theirs = torch.load(straight / "results" / "models" / MODEL / name, weights_only=True)
        assert ours["step"] == theirs["step"]
        for key, weights in theirs["model"].items():
            torch.testing.assert_close(ours["model"][key], weights, rtol=1e-5, atol=1e-6, msg=f"{name}: {key}")

    # Settings that cannot change the weights do not retrain; one that can does.
    harmless = yaml.safe_load(configfile.read_text())
    harmless["train"].update(log_every=7, num_workers=2, preview_samples=1, checkpoint_every_steps=0)
    harmless_file = tmp_path / "harmless.yaml"
    harmless_file.write_text(yaml.safe_dump(harmless))
    assert "Nothing to be done" in _run(killed, harmless_file, BEST, "-n")
    harmless["train"]["lr"] = 0.002
    harmless_file.write_text(yaml.safe_dump(harmless))
    assert "train" in _jobs_of(_run(killed, harmless_file, BEST, "-n"))
