"""Training stops with a resume checkpoint before its SLURM job's time limit, read from the job itself.

The end time from `squeue` inside a real job is covered by tests/test_slurm.py (a real cluster);
here: the environment variable newer SLURM sets, what counts as no limit, and the trainer's stop.
"""

from __future__ import annotations

import logging
import time

import pytest
import torch

from pose3d.config import config_from_dict
from pose3d.testing.config import tiny_config_dict
from pose3d.testing.shards import write_shards
from pose3d.training.checkpoint import load_checkpoint
from pose3d.training.distributed import DistContext
from pose3d.training.pipeline import build_trainer
from pose3d.training.time_limit import Deadline, slurm_job_end_time, training_deadline
from pose3d.training.trainer import TrainingInterrupted


def test_end_time_from_the_jobs_environment():
    end = time.time() + 3600
    env = {"SLURM_JOB_ID": "42", "SLURM_JOB_END_TIME": f"{end:.0f}"}
    assert slurm_job_end_time(env) == pytest.approx(end, abs=1)
    deadline = training_deadline(10, env)
    assert deadline.stop_at == pytest.approx(end - 600, abs=1) and not deadline.reached()
    assert deadline.reached(now=end - 599)


@pytest.mark.parametrize("env", [
    {},  # not a SLURM job
    {"SLURM_JOB_ID": "42", "SLURM_JOB_END_TIME": "Unlimited"},
    {"SLURM_JOB_ID": "42", "SLURM_JOB_END_TIME": "N/A"},
])
def test_no_job_or_no_limit_means_no_deadline(env):
    assert training_deadline(10, env) is None


def test_a_margin_of_zero_switches_it_off():
    assert training_deadline(0, {"SLURM_JOB_ID": "42", "SLURM_JOB_END_TIME": f"{time.time() + 60:.0f}"}) is None


def test_an_unreadable_end_time_or_no_squeue_is_logged_not_fatal(caplog, tmp_path):
    with caplog.at_level(logging.WARNING, logger="pose3d.training.time_limit"):
        assert slurm_job_end_time({"SLURM_JOB_ID": "42", "SLURM_JOB_END_TIME": "tomorrow"}) is None
        assert slurm_job_end_time({"SLURM_JOB_ID": "42", "PATH": str(tmp_path)}) is None  # no squeue there
    assert "'tomorrow'" in caplog.text and "no squeue on PATH" in caplog.text


def test_a_limit_closer_than_the_margin_is_warned_about(caplog):
    env = {"SLURM_JOB_ID": "42", "SLURM_JOB_END_TIME": f"{time.time() + 120:.0f}"}
    with caplog.at_level(logging.WARNING, logger="pose3d.training.time_limit"):
        deadline = training_deadline(10, env)
    assert deadline.reached() and "stops after its first optimizer step" in caplog.text


# ---------------------------------------------------------------------------------- the trainer


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    folder = tmp_path_factory.mktemp("time_limit_shards")
    return write_shards(folder / "train", 2, 16, subject=1), write_shards(folder / "val", 1, 8, 9, seed=50)


def _trainer(tmp_path, shards, out_dir):
    settings = {"epochs": 2, "batch_size": 4, "preview_samples": 0, "shuffle_buffer": 8}
    config = config_from_dict(tiny_config_dict(tmp_path / "unused", train=settings))
    return build_trainer(config, "transformer", shards[0], shards[1], out_dir, DistContext())


PAST = Deadline(stop_at=0.0, job_end=600.0, margin_s=600.0)  # a deadline long gone


def _deadline_passes_at_step(trainer, step: int) -> None:
    """The trainer's deadline passes while optimizer step `step` (1-based) runs."""
    original = trainer.optimizer_step

    def optimizer_step(micro_batches):
        stats = original(micro_batches)
        if trainer.step == step:
            trainer.deadline = PAST
        return stats

    trainer.optimizer_step = optimizer_step


def test_past_the_deadline_it_checkpoints_stops_and_resumes_exactly(tmp_path, shards):
    straight = _trainer(tmp_path, shards, tmp_path / "straight")
    straight.fit()
    assert straight.steps_per_epoch == 8

    stopped = _trainer(tmp_path, shards, tmp_path / "run")
    _deadline_passes_at_step(stopped, 5)
    with pytest.raises(TrainingInterrupted, match="stopped at step 5, 10 min before the SLURM job's time limit"):
        stopped.fit()
    saved = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert (saved["step"], saved["epoch_step"]) == (5, 5)

    resumed = _trainer(tmp_path, shards, tmp_path / "run")
    assert resumed.resume_if_possible() and resumed.step == 5
    resumed.fit()
    assert resumed.step == straight.step == 16
    for (name, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=f"parameter {name} differs after resume")


def test_a_deadline_already_past_still_makes_one_step_of_progress(tmp_path, shards):
    """A retry that starts past its deadline (a margin longer than the job) advances, it does not loop in place."""
    trainer = _trainer(tmp_path, shards, tmp_path / "run")
    trainer.deadline = PAST
    with pytest.raises(TrainingInterrupted):
        trainer.fit()
    assert load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["step"] == 1


def test_the_last_epoch_finishes_even_past_the_deadline(tmp_path, shards):
    """The deadline passing during the last validation: the work is done, so training ends normally."""
    trainer = _trainer(tmp_path, shards, tmp_path / "run")
    original = trainer.validate

    def validate(epoch):
        if epoch == 1:
            trainer.deadline = PAST
        return original(epoch)

    trainer.validate = validate
    history = trainer.fit()
    assert len(history) == 2 and (tmp_path / "run" / "best.pt").is_file()


def test_every_attempts_log_is_kept_though_the_rule_log_is_cleared(tmp_path):
    """Snakemake deletes a rule's log before a retry; keep_attempt_log appends each attempt's to one history."""
    from pose3d.logs import keep_attempt_log

    rule_log, history = tmp_path / "logs" / "train.log", tmp_path / "checkpoints" / "train_attempts.log"
    rule_log.parent.mkdir()
    for text in ("resumed from step 0\nstopped at step 40", "resumed from step 40\ndone\n"):
        rule_log.write_text(text)  # what the attempt wrote (Snakemake cleared the previous one)
        keep_attempt_log(rule_log, history)
    lines = history.read_text().splitlines()
    assert [line for line in lines if not line.startswith("=")] == [
        "resumed from step 0", "stopped at step 40", "resumed from step 40", "done"]
    assert sum(line.startswith("==========") and "attempt that ended" in line for line in lines) == 2


def test_a_margin_shorter_than_validation_is_warned_about(tmp_path, shards, caplog):
    trainer = _trainer(tmp_path, shards, tmp_path / "run")
    trainer.deadline = Deadline(stop_at=time.time() + 3600, job_end=time.time() + 3600.001, margin_s=0.001)
    with caplog.at_level(logging.WARNING, logger="pose3d.training.trainer"):
        trainer.fit()
    assert caplog.text.count("longer than train.stop_before_time_limit_minutes") == 1  # once, not every epoch
