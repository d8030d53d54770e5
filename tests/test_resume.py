"""Resume inside an epoch: a run stopped by a signal at any step and resumed ends with the weights
of a run that was never stopped; data order does not depend on DataLoader workers; a checkpoint
made with other weight settings or shards is not resumed."""

from __future__ import annotations

import json
import logging
import os
import signal

import pytest
import torch
from torch.utils.data import DataLoader

from pose3d.config import config_from_dict
from pose3d.testing.config import tiny_config_dict
from pose3d.testing.shards import write_shards
from pose3d.training.checkpoint import load_checkpoint
from pose3d.training.dataset import ShardDataset
from pose3d.training.distributed import DistContext
from pose3d.training.identity import weight_settings
from pose3d.training.pipeline import build_trainer, train_model
from pose3d.training.trainer import TrainingInterrupted


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    folder = tmp_path_factory.mktemp("resume_shards")
    return write_shards(folder / "train", 2, 17, subject=1), write_shards(folder / "test", 1, 8, 9, seed=50)


def _config(tmp_path, **train):
    settings = {"epochs": 2, "batch_size": 4, "preview_samples": 0, "shuffle_buffer": 8, **train}
    return config_from_dict(tiny_config_dict(tmp_path / "unused", train=settings))


def _trainer(config, shards, out_dir):
    return build_trainer(config, "transformer", shards[0], shards[1], out_dir, DistContext())


def _signal_at_step(trainer, step: int, signum: int = signal.SIGTERM) -> None:
    """Send `signum` to this process while optimizer step `step` (1-based) runs, as a scheduler would."""
    original = trainer.optimizer_step

    def optimizer_step(micro_batches):
        stats = original(micro_batches)
        if trainer.step == step:
            os.kill(os.getpid(), signum)
        return stats

    trainer.optimizer_step = optimizer_step


def _assert_same_weights(a, b):
    for (name, x), y in zip(a.model.state_dict().items(), b.model.state_dict().values(), strict=True):
        torch.testing.assert_close(x, y, rtol=1e-5, atol=1e-6, msg=f"parameter {name} differs after resume")


@pytest.mark.parametrize(("workers", "kill_step"), [(0, 3), (2, 11)])
def test_signal_mid_epoch_then_resume_equals_straight_run(tmp_path, shards, workers, kill_step, caplog):
    config = _config(tmp_path, num_workers=workers)
    straight = _trainer(config, shards, tmp_path / "straight")
    straight.fit()
    assert straight.steps_per_epoch == 8  # 34 samples, batches of 4: steps 3 and 11 fall inside epochs 1 and 2

    interrupted = _trainer(config, shards, tmp_path / "run")
    _signal_at_step(interrupted, kill_step)
    with pytest.raises(TrainingInterrupted, match="SIGTERM"):
        interrupted.fit()
    saved = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert (saved["step"], saved["epoch_step"]) == (kill_step, kill_step % 8)

    torch.manual_seed(999)  # whatever the RNGs did in between, the checkpoint restores them
    resumed = _trainer(config, shards, tmp_path / "run")
    with caplog.at_level(logging.INFO, logger="pose3d.training.trainer"):
        assert resumed.resume_if_possible()
    assert f"resumed from step {kill_step}, epoch {kill_step // 8}" in caplog.text
    resumed.fit()
    assert resumed.step == straight.step == 16
    _assert_same_weights(straight, resumed)
    ours = json.loads((tmp_path / "run" / "history.json").read_text())
    theirs = json.loads((tmp_path / "straight" / "history.json").read_text())
    for key in ("train_loss", "val_mpjpe", "steps_in_epoch"):
        assert [h[key] for h in ours] == pytest.approx([h[key] for h in theirs]), key


def test_sigusr1_checkpoints_at_an_epoch_end_too(tmp_path, shards):
    config = _config(tmp_path, epochs=3)
    straight = _trainer(config, shards, tmp_path / "straight")
    straight.fit()
    interrupted = _trainer(config, shards, tmp_path / "run")
    _signal_at_step(interrupted, 8, signal.SIGUSR1)  # the last step of epoch 1
    with pytest.raises(TrainingInterrupted, match="SIGUSR1"):
        interrupted.fit()
    resumed = _trainer(config, shards, tmp_path / "run")
    assert resumed.resume_if_possible() and resumed.step == 8
    resumed.fit()
    _assert_same_weights(straight, resumed)


def test_step_checkpoints_every_n_steps(tmp_path, shards):
    trainer = _trainer(_config(tmp_path, checkpoint_every_steps=3, epochs=1), shards, tmp_path / "run")
    saved_steps = []
    original = trainer.save_checkpoint

    def save_checkpoint(path):
        original(path)
        saved_steps.append((trainer.step, trainer.epoch_step))

    trainer.save_checkpoint = save_checkpoint
    trainer.fit()
    assert saved_steps == [(3, 3), (6, 6), (8, 0)]  # every 3 steps, then the epoch end


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_batches_do_not_depend_on_workers(shards, workers):
    def frames(num_workers, skip=0):
        dataset = ShardDataset(shards[0], shuffle_buffer=8, seed=3, rank=0, world_size=1, batch_size=4)
        dataset.set_epoch(1)
        dataset.skip_batches(skip)
        loader = DataLoader(dataset, batch_size=4, num_workers=num_workers, drop_last=True)
        return [batch["frame"].tolist() for batch in loader]

    alone = frames(0)
    assert len(alone) == 8 and len({f for batch in alone for f in batch}) == 32  # 34 samples, no repeats
    assert frames(workers) == alone
    assert frames(workers, skip=5) == alone[5:]


def test_incompatible_checkpoint_starts_fresh_says_why_and_is_kept(tmp_path, shards, caplog):
    _trainer(_config(tmp_path, epochs=1), shards, tmp_path / "run").fit()
    checkpoints = tmp_path / "run" / "checkpoints"
    # Settings that cannot change the weights do not block a resume.
    harmless = _trainer(_config(tmp_path, epochs=1, log_every=7, num_workers=2), shards, tmp_path / "run")
    assert harmless.resume_if_possible() and harmless.epoch == 1
    before = {name: (checkpoints / name).read_bytes() for name in ("last.pt", "best.pt")}

    changed = _trainer(_config(tmp_path, epochs=1, lr=0.002), shards, tmp_path / "run")
    with caplog.at_level(logging.INFO, logger="pose3d.training.trainer"):
        assert not changed.resume_if_possible()
    assert "starting fresh: model or training settings differ" in caplog.text
    # The checkpoints it does not continue (maybe days of training) are set aside, not overwritten.
    (kept,) = (checkpoints / "superseded").iterdir()
    assert {name: (kept / name).read_bytes() for name in before} == before
    assert "model or training settings differ" in (kept / "why.txt").read_text()
    assert f"kept in {kept}" in caplog.text and not (checkpoints / "last.pt").exists()
    changed.fit()
    assert load_checkpoint(checkpoints / "last.pt")["identity"] == changed.identity

    # A start with resume 'never' (--no-resume) keeps them too.
    train_model(_config(tmp_path, epochs=1, lr=0.002), "transformer", shards[0], shards[1], tmp_path / "run",
                resume="never")
    assert len(list((checkpoints / "superseded").iterdir())) == 2 and (checkpoints / "last.pt").is_file()


def test_weight_settings_leave_out_what_cannot_change_weights(tmp_path):
    base = weight_settings(_config(tmp_path), "cnn")
    for key, value in (("log_every", 99), ("num_workers", 3), ("preview_samples", 1), ("device", "cpu"),
                       ("checkpoint_every_steps", 5), ("checkpoint_every_minutes", 1)):
        assert weight_settings(_config(tmp_path, **{key: value}), "cnn") == base, key
    assert weight_settings(_config(tmp_path, seed=5), "cnn") != base
    assert weight_settings(_config(tmp_path), "transformer") != base


def test_unreadable_checkpoint_is_an_error_and_left_alone(tmp_path, shards):
    from pose3d.validation import CheckpointError

    _trainer(_config(tmp_path, epochs=1), shards, tmp_path / "run").fit()
    last = tmp_path / "run" / "checkpoints" / "last.pt"
    last.write_bytes(last.read_bytes()[:500])
    damaged = last.read_bytes()
    with pytest.raises(CheckpointError, match="last.pt"):
        _trainer(_config(tmp_path, epochs=1), shards, tmp_path / "run").resume_if_possible()
    assert last.read_bytes() == damaged


def test_resume_always_refuses_a_checkpoint_of_other_settings(tmp_path, shards):
    from pose3d.validation import CheckpointError

    _trainer(_config(tmp_path, epochs=1), shards, tmp_path / "run").fit()
    changed = _trainer(_config(tmp_path, epochs=1, lr=0.002), shards, tmp_path / "run")
    with pytest.raises(CheckpointError, match="does not fit this run: model or training settings differ"):
        changed.resume_if_possible("always")


# -- the keypoint lifter: in-memory KeypointBatches resume as exactly as ShardDataset


def _lifter_config(tmp_path, **lifter_train):
    settings = {"epochs": 2, "batch_size": 4, "preview_samples": 0, "flip_prob": 0.5, **lifter_train}
    augment = {"flip_prob": settings.pop("flip_prob")}
    raw = tiny_config_dict(tmp_path / "unused", train={"augment": augment},
                           model={"lifter": {"train": settings}})
    return config_from_dict(raw)


def test_lifter_signal_mid_epoch_then_resume_equals_straight_run(tmp_path, shards):
    config = _lifter_config(tmp_path)

    def trainer(out):
        return build_trainer(config, "lifter", shards[0], shards[1], out, DistContext())

    straight = trainer(tmp_path / "straight")
    straight.fit()
    assert straight.steps_per_epoch == 8  # 34 samples, batches of 4
    interrupted = trainer(tmp_path / "run")
    _signal_at_step(interrupted, 11)
    with pytest.raises(TrainingInterrupted, match="SIGTERM"):
        interrupted.fit()
    saved = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert (saved["step"], saved["epoch_step"]) == (11, 3)
    torch.manual_seed(999)
    resumed = trainer(tmp_path / "run")
    assert resumed.resume_if_possible()
    resumed.fit()
    assert resumed.step == straight.step == 16
    _assert_same_weights(straight, resumed)


def test_keypoint_batches_skip_to_the_same_batches(shards):
    from pose3d.training.keypoint_batches import KeypointBatches

    def batches(skip=0, epoch=1):
        loader = KeypointBatches(shards[0], 4, seed=3, flip_prob=0.5, rank=0, world_size=1)
        loader.set_epoch(epoch)
        loader.skip_batches(skip)
        return [(batch["frame"].tolist(), batch["keypoints_2d"].tolist()) for batch in loader]

    alone = batches()
    assert len(alone) == 8 and len({f for frames, _ in alone for f in frames}) == 32  # 34 samples, no repeats
    assert batches() == alone and batches(epoch=2) != alone
    assert batches(skip=5) == alone[5:]  # the same samples, mirrored the same way
    assert batches(skip=8) == []
    loader = KeypointBatches(shards[0], 4, seed=3)
    assert loader.batches_per_epoch == 8
    with pytest.raises(ValueError, match="cannot skip 9 batches"):
        loader.skip_batches(9)
    loader.skip_batches(2)
    loader.set_epoch(1)
    assert loader.start_batch == 0  # a new epoch starts at its first batch
    with pytest.raises(ValueError, match="training mode"):
        KeypointBatches(shards[1], 4, evaluation=True).skip_batches(1)


def test_weight_settings_hold_the_lifters_own_train_settings(tmp_path):
    base = weight_settings(_lifter_config(tmp_path), "lifter")
    assert base["train"]["batch_size"] == 4 and "train" not in base["model_config"]
    assert weight_settings(_lifter_config(tmp_path, epochs=3), "lifter") != base
    assert weight_settings(_lifter_config(tmp_path, preview_samples=2), "lifter") == base
    assert weight_settings(_lifter_config(tmp_path, num_workers=1), "lifter") == base
    logged = config_from_dict(tiny_config_dict(tmp_path / "unused", train={"augment": {"flip_prob": 0.5}, "log_every": 9},
                                               model={"lifter": {"train": {"epochs": 2, "batch_size": 4,
                                                                           "preview_samples": 0}}}))
    assert weight_settings(logged, "lifter") == base
