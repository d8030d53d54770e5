"""The trainer: schedule, gradient accumulation, exact resume, checkpoint and log contents."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader

from pose3d.config import config_from_dict
from pose3d.testing.config import REPO_ROOT, tiny_config_dict
from pose3d.testing.samples import make_samples
from pose3d.testing.shards import write_shards
from pose3d.training.distributed import DistContext
from pose3d.training.loss import PoseLoss
from pose3d.training.pipeline import build_trainer
from pose3d.training.schedule import warmup_cosine_factor
from pose3d.training.trainer import Trainer


class KeypointLifter(nn.Module):
    """A BatchNorm-free model (2D keypoints -> 3D joints), so batch composition cannot change gradients."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(51, 32), nn.Tanh(), nn.Linear(32, 54))

    def forward(self, batch):
        out = self.net(batch["keypoints_2d"].flatten(1) / 32.0).view(-1, 18, 3) * 1000.0
        root = out[:, 17] + torch.tensor([0.0, 0.0, 4000.0])
        rel = out[:, :17] - out[:, :1]
        return {"joints_rel_mm": rel, "root_mm": root, "joints_mm": rel + root[:, None]}


def _tensor_batch(samples, start, stop):
    return {key: torch.as_tensor(values[start:stop]) for key, values in samples.items() if key != "image"}


def test_schedule_warms_up_then_decays_to_the_floor():
    factors = [warmup_cosine_factor(step, 4, 20, 0.1) for step in range(25)]
    assert factors[0] == pytest.approx(0.25) and factors[3] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(factors[3:], factors[4:], strict=False))
    assert factors[20] == pytest.approx(0.1) and factors[24] == pytest.approx(0.1)
    assert factors[12] == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5)))


@pytest.mark.parametrize("accum", [2, 4])
def test_gradient_accumulation_equals_one_large_batch(tmp_path, accum):
    samples = make_samples(8, seed=3, subject=1)
    gradients = []
    for steps, micro_batches in ((accum, [_tensor_batch(samples, i * 8 // accum, (i + 1) * 8 // accum)
                                          for i in range(accum)]),
                                 (1, [_tensor_batch(samples, 0, 8)])):
        config = config_from_dict(tiny_config_dict(tmp_path, train={"grad_accum_steps": steps}))
        torch.manual_seed(0)
        trainer = Trainer(config, KeypointLifter(), PoseLoss(config.train.loss), [], None, None,
                          model_name="lifter", keypoints_layout="h36m17", steps_per_epoch=1)
        trainer.optimizer.zero_grad()
        stats = trainer.accumulate_gradients(micro_batches)
        gradients.append(([p.grad.clone() for p in trainer.model.parameters()], stats["loss"]))
    (accumulated, loss_accumulated), (single, loss_single) = gradients
    assert loss_accumulated == pytest.approx(loss_single, rel=1e-5)
    for a, b in zip(accumulated, single, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    folder = tmp_path_factory.mktemp("trainer_shards")
    return write_shards(folder / "train", 2, 16, subject=1), write_shards(folder / "test", 1, 8, 9, seed=50)


def _trainer(tmp_path, shards, out_dir, **train):
    config = config_from_dict(tiny_config_dict(tmp_path / "unused", train={"epochs": 2, **train}))
    return build_trainer(config, "transformer", shards[0], shards[1], out_dir, DistContext())


def test_resume_from_last_equals_training_straight(tmp_path, shards):
    straight = _trainer(tmp_path, shards, tmp_path / "straight", preview_samples=0)
    straight.fit()

    first = _trainer(tmp_path, shards, tmp_path / "resumed", preview_samples=0)
    first.fit(until_epoch=1)
    assert first.epoch == 1 and (tmp_path / "resumed" / "checkpoints/last.pt").is_file()
    torch.manual_seed(1234)  # whatever happened to the RNGs in between, the checkpoint restores them
    resumed = _trainer(tmp_path, shards, tmp_path / "resumed", preview_samples=0)
    resumed.load_checkpoint(tmp_path / "resumed" / "checkpoints/last.pt")
    resumed.fit()

    assert resumed.step == straight.step == 2 * straight.steps_per_epoch
    for (name, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=f"parameter {name} differs after resume")
    straight_history = json.loads((tmp_path / "straight" / "history.json").read_text())
    resumed_history = json.loads((tmp_path / "resumed" / "history.json").read_text())
    assert [h["val_mpjpe"] for h in resumed_history] == pytest.approx([h["val_mpjpe"] for h in straight_history])
    assert resumed.optimizer.param_groups[0]["lr"] == pytest.approx(straight.optimizer.param_groups[0]["lr"])


def test_outputs_checkpoint_history_and_tensorboard(tmp_path, shards):
    out = tmp_path / "run"
    trainer = _trainer(tmp_path, shards, out, epochs=1, grad_accum_steps=2, batch_size=4, preview_samples=2)
    history = trainer.fit()
    assert {p.name for p in out.iterdir()} >= {"best.pt", "checkpoints", "history.json", "tensorboard"}
    assert {p.name for p in (out / "checkpoints").iterdir()} == {"best.pt", "last.pt"}
    record = json.loads((out / "history.json").read_text())[0]
    for key in ("train_loss", "train_mse", "train_l1", "train_distance", "train_root", "train_lr",
                "val_mpjpe", "val_pa_mpjpe", "samples_per_s", "epoch_seconds", "data_wait_fraction"):
        assert key in record and math.isfinite(record[key]), key
    assert record == history[0]
    # history.json names its split and averages as metrics.json does: the mean over actions.
    assert record["val_split"] == "val" and record["val_averaging"] == "mean over actions"
    assert record["val_samples"] == 8 and math.isfinite(record["val_mpjpe_all_samples"])
    assert record["steps_in_epoch"] == trainer.steps_per_epoch == 32 // (4 * 2)

    checkpoint = torch.load(out / "best.pt", weights_only=True)
    assert {"model", "optimizer", "scheduler", "step", "epoch", "best_metric", "config", "model_name",
            "keypoints_layout", "rng"} <= set(checkpoint)
    assert checkpoint["best_metric"] == pytest.approx(record["val_mpjpe"])
    assert checkpoint["config"]["train"]["grad_accum_steps"] == 2

    from pose3d.models.registry import load_model_from_checkpoint

    model, _ = load_model_from_checkpoint(out / "best.pt")
    for a, b in zip(model.state_dict().values(), trainer.model.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b)

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(out / "tensorboard"), size_guidance={"images": 0}).Reload()
    tags = set(events.Tags()["scalars"])
    assert {"train/loss", "train/mse", "train/l1", "train/distance", "train/root", "train/lr",
            "train/samples_per_s", "val/mpjpe", "val/pa_mpjpe"} <= tags
    assert "val/previews" in events.Tags()["images"]


def test_too_few_samples_for_one_step_is_a_clear_error(tmp_path, shards):
    with pytest.raises(ValueError, match="fewer than one optimizer step"):
        _trainer(tmp_path, shards, tmp_path / "out", batch_size=64)


def test_persistent_workers_keep_the_epoch_order(tmp_path, shards):
    """Two persistent workers yield each epoch's samples in the order fresh workers yield them, and are gone
    when fit returns."""
    trainer = _trainer(tmp_path, shards, tmp_path / "run", num_workers=2, preview_samples=0)
    trainer.sample_log_dir = tmp_path / "samples"
    loader = trainer.train_loader
    assert loader.persistent_workers and loader.num_workers == 2
    trainer.fit()
    assert loader._iterator is None  # shut down, not left to the interpreter's exit
    trained = [tuple(int(v) for v in line.split()) for line in (tmp_path / "samples/rank0.txt").read_text().splitlines()]
    fresh = DataLoader(loader.dataset, batch_size=None, num_workers=2, persistent_workers=False)
    expected = []
    for epoch in range(2):
        loader.dataset.set_epoch(epoch)
        for batch in fresh:
            columns = [batch[key].tolist() for key in ("subject", "action", "subaction", "camera", "frame")]
            expected += [(epoch, *key) for key in zip(*columns, strict=True)]
    assert trained == expected and len(expected) == 2 * trainer.steps_per_epoch * trainer.train_cfg.batch_size


TRAIN_IN_A_PROCESS = """
import json, os, signal, sys, threading
from pose3d.config import config_from_dict
from pose3d.testing.config import tiny_config_dict
from pose3d.training.distributed import DistContext
from pose3d.training.pipeline import build_trainer
from pose3d.training.trainer import TrainingInterrupted

train, val, out, epochs, signal_after_s = json.loads(sys.argv[1])
config = config_from_dict(tiny_config_dict(out, train={"epochs": epochs, "num_workers": 2, "preview_samples": 0}))
trainer = build_trainer(config, "transformer", train, val, out, DistContext())  # still referenced at exit
if signal_after_s:
    threading.Timer(signal_after_s, os.kill, (os.getpid(), signal.SIGTERM)).start()
try:
    trainer.fit()
except TrainingInterrupted:
    print("interrupted at step", trainer.step)
    sys.exit(3)
print("finished at step", trainer.step)
"""


@pytest.mark.parametrize("signalled", [False, True])
def test_training_with_persistent_workers_exits_cleanly(tmp_path, shards, signalled):
    """Persistent workers ignore SIGTERM; a run that ends, or stops on SIGTERM, must still exit, not hang."""
    arguments = [[str(p) for p in shards[0]], [str(p) for p in shards[1]], str(tmp_path / "run"),
                 1000 if signalled else 2, 3.0 if signalled else 0]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-c", TRAIN_IN_A_PROCESS, json.dumps(arguments)], env=env,
                          capture_output=True, text=True, timeout=240)
    if signalled:
        assert done.returncode == 3 and "interrupted at step" in done.stdout, done.stderr[-3000:]
        assert (tmp_path / "run/checkpoints/last.pt").is_file()
    else:
        assert done.returncode == 0 and "finished at step" in done.stdout, done.stderr[-3000:]


CRASH_WITH_WORKERS_ALIVE = """
import sys
import torch
from torch.utils.data import IterableDataset
from pose3d.config import config_from_dict
from pose3d.testing.config import tiny_config_dict
from pose3d.training.pipeline import make_loader

class Endless(IterableDataset):
    def __iter__(self):
        while True:
            yield torch.zeros(2)

config = config_from_dict(tiny_config_dict(sys.argv[1], train={"num_workers": 2}))
batches = iter(make_loader(Endless(), config, torch.device("cpu"), 4, train=False))
next(batches)
raise RuntimeError("crash inside an epoch")  # the workers (they ignore SIGTERM) are still referenced
"""


def test_a_crash_with_workers_alive_exits_instead_of_hanging(tmp_path):
    """A job that crashes mid-epoch must fail now, not hang in the exit handler until its time limit."""
    done = subprocess.run([sys.executable, "-c", CRASH_WITH_WORKERS_ALIVE, str(tmp_path)], capture_output=True,
                          text=True, timeout=120, cwd=REPO_ROOT)
    assert done.returncode == 1
    assert "crash inside an epoch" in done.stderr


def test_best_pt_is_the_lowest_validation_value_of_select_on(tmp_path, shards):
    """train.select_on: n_mpjpe keeps the epoch of lowest validation N-MPJPE; history.json marks it and why."""
    import numpy as np

    from pose3d.evaluate.run import model_selection
    from pose3d.report import best_epoch_index
    from pose3d.validation import CheckpointError

    out = tmp_path / "run"
    history = _trainer(tmp_path, shards, out, epochs=4, select_on="n_mpjpe", preview_samples=0).fit()
    n_mpjpe = [record["val_n_mpjpe"] for record in history]
    assert all(r["val_n_mpjpe"] <= r["val_mpjpe"] + 1e-6 for r in history)  # the best scale includes 1
    best = int(np.argmin(n_mpjpe))
    assert [r["is_best"] for r in history] == [n == min(n_mpjpe[: i + 1]) for i, n in enumerate(n_mpjpe)]
    assert {r["selected_on"] for r in history} == {"val_n_mpjpe"} and best_epoch_index(history) == best
    state = torch.load(out / "best.pt", weights_only=True)
    assert state["epoch"] == history[best]["epoch"] and state["best_metric_name"] == "n_mpjpe"
    assert model_selection(state) == {"split": "val", "metric": "n_mpjpe", "value": pytest.approx(n_mpjpe[best]),
                                      "mpjpe": pytest.approx(history[best]["val_mpjpe"]),
                                      "averaging": "mean over actions"}
    # A checkpoint chosen on one metric is not continued under another: its best.pt would be compared wrongly.
    other = _trainer(tmp_path, shards, out, epochs=4, select_on="pa_mpjpe")
    with pytest.raises(CheckpointError, match="selected best.pt on validation n_mpjpe, this run on pa_mpjpe"):
        other.load_checkpoint(out / "checkpoints" / "last.pt")
    assert not other.resume_if_possible()  # and `auto` starts fresh: select_on is part of the run's identity
