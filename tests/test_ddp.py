"""DDP on CPU: torchrun with two gloo processes trains on tiny shards, each rank on its own samples."""

from __future__ import annotations

import json

import torch

from pose3d.config import config_from_dict
from pose3d.testing.config import tiny_config_dict
from pose3d.testing.shards import write_shards
from pose3d.training.launch import run_training, torchrun_command


def test_torchrun_command_reruns_this_module():
    command = torchrun_command(4, ["--model", "cnn"])
    assert command[1:4] == ["-m", "torch.distributed.run", "--standalone"]
    assert "--nproc_per_node=4" in command
    assert command[-4:] == ["-m", "pose3d.training.launch", "--model", "cnn"]


def test_two_cpu_ranks_train_on_disjoint_samples(tmp_path):
    train = write_shards(tmp_path / "train", 2, 17, subject=1)  # 34 samples: uneven on purpose
    test = write_shards(tmp_path / "test", 1, 8, subject=9, seed=40)
    config = config_from_dict(tiny_config_dict(
        tmp_path / "unused", train={"epochs": 2, "device": "cpu", "gpus": 2, "batch_size": 4, "preview_samples": 0},
    ))
    out, samples = tmp_path / "out", tmp_path / "samples"
    with open(tmp_path / "torchrun.log", "w") as log:
        run_training(config, "transformer", train, test, out, sample_log=samples, output_stream=log)

    seen = {}
    for rank in (0, 1):
        lines = (samples / f"rank{rank}.txt").read_text().split("\n")
        seen[rank] = [tuple(map(int, line.split())) for line in lines if line]
    for epoch in (0, 1):
        per_rank = [{s[1:] for s in seen[rank] if s[0] == epoch} for rank in (0, 1)]
        # Each rank takes 17 samples; 4 full batches of 4 each -> 16 trained samples per rank.
        assert len(per_rank[0]) == len(per_rank[1]) == 16
        assert not per_rank[0] & per_rank[1], "ranks trained on the same samples"
        assert {s[0] for s in per_rank[0] | per_rank[1]} == {1}  # the train subject only

    history = json.loads((out / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2]
    assert history[-1]["steps_in_epoch"] == 4 and history[-1]["val_samples"] == 8
    checkpoint = torch.load(out / "checkpoints/last.pt", weights_only=True)
    assert checkpoint["step"] == 8 and not any(key.startswith("module.") for key in checkpoint["model"])

    # Other weight settings: both ranks start fresh, and rank 0 alone sets the old checkpoints aside, once.
    changed = config_from_dict(tiny_config_dict(
        tmp_path / "unused", train={"epochs": 1, "device": "cpu", "gpus": 2, "batch_size": 4, "preview_samples": 0,
                                    "lr": 0.002},
    ))
    with open(tmp_path / "torchrun_changed.log", "w") as log:
        run_training(changed, "transformer", train, test, out, output_stream=log)
    (kept,) = (out / "checkpoints" / "superseded").iterdir()
    assert torch.load(kept / "last.pt", weights_only=True)["step"] == 8
    assert torch.load(out / "checkpoints/last.pt", weights_only=True)["step"] == 4


def test_two_ranks_stopped_by_sigterm_resume_to_the_straight_weights(tmp_path):
    """SIGTERM while torchrun trains 2 gloo ranks: they checkpoint together (each rank's RNG state),
    and the rerun ends with the weights of a run that was never stopped."""
    import os
    import signal
    import threading
    import time

    import pytest

    from pose3d.training.trainer import TrainingInterrupted

    train = write_shards(tmp_path / "train", 2, 16, subject=1)
    test = write_shards(tmp_path / "test", 1, 8, subject=9, seed=40)
    config = config_from_dict(tiny_config_dict(tmp_path / "unused", train={
        "epochs": 4, "device": "cpu", "gpus": 2, "batch_size": 2, "preview_samples": 0, "checkpoint_every_steps": 1,
    }))  # 8 steps per epoch and rank, a checkpoint after each

    with open(tmp_path / "straight.log", "w") as log:
        run_training(config, "transformer", train, test, tmp_path / "straight", output_stream=log)

    out = tmp_path / "run"
    checkpoint = out / "checkpoints" / "last.pt"

    def terminate_after_first_checkpoint():
        deadline = time.monotonic() + 300
        while not checkpoint.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGTERM)  # what a scheduler sends; run_training passes it to torchrun

    killer = threading.Thread(target=terminate_after_first_checkpoint, daemon=True)
    killer.start()
    with open(tmp_path / "interrupted.log", "w") as log, pytest.raises(TrainingInterrupted, match="SIGTERM"):
        run_training(config, "transformer", train, test, out, output_stream=log)
    killer.join()
    stopped = torch.load(checkpoint, weights_only=True)
    assert 0 < stopped["step"] < 32, "the run should stop inside training"
    assert len(stopped["rng_per_rank"]) == 2
    assert not torch.equal(stopped["rng_per_rank"][0]["torch"], stopped["rng_per_rank"][1]["torch"])

    with open(tmp_path / "resumed.log", "w") as log:
        run_training(config, "transformer", train, test, out, output_stream=log)
    assert f"resumed from step {stopped['step']}, epoch {stopped['epoch']}" in (tmp_path / "resumed.log").read_text()
    straight = torch.load(tmp_path / "straight" / "checkpoints" / "last.pt", weights_only=True)
    resumed = torch.load(checkpoint, weights_only=True)
    assert resumed["step"] == straight["step"] == 32
    for name, weights in straight["model"].items():
        torch.testing.assert_close(resumed["model"][name], weights, rtol=1e-5, atol=1e-6, msg=name)


def test_two_ranks_past_the_slurm_deadline_stop_together_with_a_checkpoint(tmp_path, monkeypatch):
    """Inside a SLURM job whose limit is nearer than train.stop_before_time_limit_minutes, both ranks
    stop after the same step with one checkpoint, and the launcher says why torchrun failed."""
    import time

    import pytest

    from pose3d.training.trainer import TrainingInterrupted

    train = write_shards(tmp_path / "train", 2, 16, subject=1)
    val = write_shards(tmp_path / "val", 1, 8, subject=9, seed=40)
    config = config_from_dict(tiny_config_dict(tmp_path / "unused", train={
        "epochs": 2, "device": "cpu", "gpus": 2, "batch_size": 2, "preview_samples": 0,
        "stop_before_time_limit_minutes": 10,
    }))
    monkeypatch.setenv("SLURM_JOB_ID", "7")  # the workers inherit it, as srun's tasks do
    monkeypatch.setenv("SLURM_JOB_END_TIME", f"{time.time() + 60:.0f}")  # a minute left, 10 wanted
    out = tmp_path / "run"
    with open(tmp_path / "run.log", "w") as log, pytest.raises(TrainingInterrupted, match="past the deadline"):
        run_training(config, "transformer", train, val, out, output_stream=log)
    text = (tmp_path / "run.log").read_text()
    assert text.count("stopped at step 1, 10 min before the SLURM job's time limit") == 2, text[-3000:]
    stopped = torch.load(out / "checkpoints" / "last.pt", weights_only=True)
    assert stopped["step"] == 1 and len(stopped["rng_per_rank"]) == 2


def test_a_models_own_gpus_setting_decides_the_processes(tmp_path):
    """`model.lifter.train.gpus: 1` under `train.gpus: 2`: the lifter trains in this one process, no torchrun."""
    train = write_shards(tmp_path / "train", 1, 12, subject=1)
    test = write_shards(tmp_path / "test", 1, 6, subject=9, seed=41)
    config = config_from_dict(tiny_config_dict(
        tmp_path / "unused", train={"device": "cpu", "gpus": 2, "preview_samples": 0},
        model={"lifter": {"train": {"gpus": 1, "epochs": 1}}},
    ))
    run_training(config, "lifter", train, test, tmp_path / "out")
    assert not (tmp_path / "out" / "train_config.yaml").exists()  # written only for torchrun workers
    assert torch.load(tmp_path / "out" / "checkpoints" / "last.pt", weights_only=True)["identity"]["world_size"] == 1
