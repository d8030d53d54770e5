"""The training loop: one small object whose phases read top to bottom (after nanoGPT's train.py).

    fit()                 for each epoch: train_epoch(), validate(), save best/last, write history.json
    train_epoch()         draw `grad_accum_steps` micro-batches, optimizer_step(), log, step checkpoints
    optimizer_step()      zero grads, accumulate_gradients(), clip, AdamW step, scheduler step
    accumulate_gradients()  forward + loss + backward per micro-batch (DDP syncs on the last one only)
    validate()            MPJPE, N-MPJPE and PA-MPJPE (mean over actions) on the validation shards, TensorBoard previews

Checkpoints hold everything a resume needs (model, optimizer, scheduler, step, epoch, the position
inside the epoch, best metric, history, every rank's RNG states), so resuming from
`checkpoints/last.pt` continues exactly, at an epoch end or inside an epoch. The resume checkpoint
is written at epoch ends, every `train.checkpoint_every_steps` steps, every
`train.checkpoint_every_minutes`, and when SIGTERM or SIGUSR1 arrives or the SLURM job's time limit
is `train.stop_before_time_limit_minutes` away (then training stops with `TrainingInterrupted`).
Under DDP (torchrun) every rank trains; only rank 0 validates and writes.
"""

from __future__ import annotations

import contextlib
import logging
import math
import shutil
import signal
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from pose3d import io as files
from pose3d import metrics
from pose3d.config import Config
from pose3d.training.batches import batch_to_device
from pose3d.training.checkpoint import (
    capture_rng_state,
    load_checkpoint,
    restore_rng_state,
    set_aside,
)
from pose3d.training.distributed import DistContext, all_ranks_true, any_rank_true, barrier, gather_objects
from pose3d.training.identity import identity_mismatch
from pose3d.training.schedule import warmup_cosine_scheduler
from pose3d.training.time_limit import Deadline
from pose3d.validation import CheckpointError, load_state_checked

log = logging.getLogger(__name__)

Batch = dict[str, Any]
LossFn = Callable[[dict[str, torch.Tensor], Batch], tuple[torch.Tensor, dict[str, torch.Tensor]]]
PROVENANCE_KEYS = ("subject", "action", "subaction", "camera", "frame")
STOP_SIGNALS = (signal.SIGTERM, signal.SIGUSR1)  # SLURM sends one of them before a time limit (--signal)


class TrainingInterrupted(RuntimeError):
    """Training stopped (a signal, the job's time limit near) after writing its resume checkpoint; rerunning continues it."""


def autocast_context(amp: str, device: torch.device) -> Callable[[], contextlib.AbstractContextManager]:
    """bf16 autocast on CUDA for `auto` (off on CPU); `bf16` forces it; `off` never."""
    enabled = amp == "bf16" or (amp == "auto" and device.type == "cuda")
    if not enabled:
        return contextlib.nullcontext
    return lambda: torch.autocast(device_type=device.type, dtype=torch.bfloat16)


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; the message names the batch's samples."""


def batch_provenance(batch: Batch, limit: int = 8) -> str:
    """The (subject, action, subaction, camera, frame) of a batch's first samples, as text."""
    keys = [key for key in ("subject", "action", "subaction", "camera", "frame") if key in batch]
    if not keys:
        return f"{len(next(iter(batch.values())))} samples (no provenance in the batch)"
    columns = [torch.as_tensor(batch[key]).detach().cpu().reshape(-1).tolist() for key in keys]
    rows = list(zip(*columns, strict=True))
    shown = "; ".join(" ".join(f"{key}={value}" for key, value in zip(keys, row, strict=True)) for row in rows[:limit])
    more = f"; and {len(rows) - limit} more" if len(rows) > limit else ""
    return f"{len(rows)} samples ({shown}{more})"


def move_to_device(batch: Batch, device: torch.device) -> Batch:
    """Tensors to `device`, normalised there (uint8 images, float16 depth: see pose3d.training.batches)."""
    return batch_to_device(batch, device)


def shut_down_workers(loader: Any) -> None:
    """Stop a DataLoader's persistent workers now (anything else: nothing to do).

    They ignore SIGTERM (the main process checkpoints on it), so left alive until the interpreter exits
    they would hang multiprocessing's exit handler, which terminates them and then waits for them.
    """
    iterator = getattr(loader, "_iterator", None)
    if iterator is not None and hasattr(iterator, "_shutdown_workers"):
        iterator._shutdown_workers()
        loader._iterator = None


def decay_parameter_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Weight decay on matrices and kernels only; biases, norms and embeddings-as-vectors are exempt."""
    params = [p for p in model.parameters() if p.requires_grad]
    return [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]


class Trainer:
    """Trains one model on a train loader and selects it on a validation loader (never the test split).

    `train_loader` / `val_loader` yield batch dicts (see pose3d.training.dataset); when the train
    loader's dataset (or its `transform`) has `set_epoch`, it is called before each epoch so the
    data order (and augmentation) is a function of (seed, epoch). `steps_per_epoch` sizes the cosine schedule and the progress bar.
    """

    def __init__(
        self,
        config: Config,
        model: nn.Module,
        loss_fn: LossFn,
        train_loader: Iterable[Batch],
        val_loader: Iterable[Batch] | None,
        out_dir: str | Path | None,
        *,
        model_name: str,
        keypoints_layout: str,
        steps_per_epoch: int,
        context: DistContext | None = None,
        sample_log_dir: str | Path | None = None,
        identity: dict[str, Any] | None = None,
        val_split: str = "val",
        deadline: Deadline | None = None,
    ) -> None:
        self.config = config
        self.val_split = val_split  # the split `val_loader` reads, named in history.json
        self.train_cfg = config.train
        self.context = context or DistContext(device=next(model.parameters()).device)
        self.device = self.context.device
        self.model = model.to(self.device)
        self.ddp_model: nn.Module = self.model
        if self.context.enabled:
            device_ids = [self.device.index] if self.device.type == "cuda" else None
            self.ddp_model = DistributedDataParallel(self.model, device_ids=device_ids)
        self.loss_fn = loss_fn
        self.train_loader = train_loader
        self.val_loader = val_loader
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.model_name = model_name
        self.keypoints_layout = keypoints_layout
        self.steps_per_epoch = max(1, steps_per_epoch)
        self.total_steps = self.steps_per_epoch * self.train_cfg.epochs
        self.optimizer = torch.optim.AdamW(
            decay_parameter_groups(self.model, self.train_cfg.weight_decay), lr=self.train_cfg.lr
        )
        self.scheduler = warmup_cosine_scheduler(
            self.optimizer, self.train_cfg.warmup_steps, self.total_steps, self.train_cfg.min_lr_ratio
        )
        self.autocast = autocast_context(self.train_cfg.amp, self.device)
        self.step = 0  # optimizer steps taken
        self.epoch = 0  # epochs completed
        self.epoch_step = 0  # optimizer steps taken inside the current (unfinished) epoch
        self._epoch_sums: dict[str, float] = {}  # loss sums of those steps, for the epoch's history record
        self.identity = identity  # what a resume must match (see checkpoint.resume_identity)
        self.checkpoint_dir = self.out_dir / "checkpoints" if self.out_dir is not None else None
        self._stop_signal: int | None = None
        self.deadline = deadline  # stop with a checkpoint once past it (the SLURM job's time limit near)
        self._past_deadline = False
        self._warned_margin = False
        self._last_checkpoint_time = time.monotonic()
        self.select_on = self.train_cfg.select_on  # best.pt: the lowest validation value of this metric
        self.best_metric = math.inf  # lowest validation `select_on` so far, mm
        self.history: list[dict[str, Any]] = []
        self.sample_log_dir = Path(sample_log_dir) if sample_log_dir is not None else None
        self._seen_samples: list[tuple[int, ...]] = []
        self.writer = None
        if self.context.is_main and self.out_dir is not None:
            from torch.utils.tensorboard import SummaryWriter

            self.out_dir.mkdir(parents=True, exist_ok=True)
            self._tensorboard = SummaryWriter
        else:
            self._tensorboard = None

    # ----------------------------------------------------------------------------- the loop

    def fit(self, until_epoch: int | None = None) -> list[dict[str, Any]]:
        """Train from the current epoch to `train.epochs` (or to `until_epoch`); return the history.

        `until_epoch` stops early without changing the schedule, as an interrupted run would.
        """
        if self._tensorboard is not None and self.writer is None:
            # purge_step drops events a crashed run wrote after the checkpoint we resumed from.
            self.writer = self._tensorboard(str(self.out_dir / "tensorboard"), purge_step=self.step or None)
        stop = self.train_cfg.epochs if until_epoch is None else min(until_epoch, self.train_cfg.epochs)
        with self._stop_on_signals():
            try:
                for epoch in range(self.epoch, stop):
                    train_stats = self.train_epoch(epoch)
                    validation_started = time.perf_counter()
                    val_stats = self.validate(epoch)
                    val_stats["val_seconds"] = time.perf_counter() - validation_started
                    self._check_margin_covers(val_stats["val_seconds"])
                    self.epoch, self.epoch_step, self._epoch_sums = epoch + 1, 0, {}
                    record = {"epoch": self.epoch, "step": self.step, **train_stats, **val_stats}
                    self.history.append(record)
                    self._end_of_epoch(record)
                    if self.epoch < stop:  # after the last epoch the work is done: finish, do not stop
                        self._stop_if_signalled()
            finally:
                for loader in (self.train_loader, self.val_loader):
                    shut_down_workers(loader)  # at the end, on an error and on a stop signal alike
                if self.writer is not None:
                    self.writer.close()
                    self.writer = None
        return self.history

    def train_epoch(self, epoch: int) -> dict[str, Any]:
        """One pass over the train loader; returns mean loss components, lr, samples/s, times."""
        dataset = getattr(self.train_loader, "dataset", None)
        # Data order and augmentation are functions of the epoch: that is what makes resume exact.
        for seeded in (dataset, getattr(dataset, "transform", None)):
            if hasattr(seeded, "set_epoch"):
                seeded.set_epoch(epoch)
        accum = self.train_cfg.grad_accum_steps
        resumed_steps = self.epoch_step  # > 0 when a checkpoint from inside this epoch was loaded
        if resumed_steps and hasattr(dataset, "skip_batches"):
            dataset.skip_batches(resumed_steps * accum)  # reads nothing it skips
        self.ddp_model.train()
        sums: dict[str, float] = defaultdict(float, self._epoch_sums)
        steps, samples = resumed_steps, 0
        data_seconds = 0.0
        started = time.perf_counter()
        bar = tqdm(
            total=self.steps_per_epoch,
            initial=resumed_steps,
            desc=f"{self.model_name} epoch {epoch + 1}/{self.train_cfg.epochs}",
            disable=not self.context.is_main,
            dynamic_ncols=True,
            mininterval=0.5 if sys.stderr.isatty() else 30.0,  # a log file gets a line every 30 s, not a flood
        )
        batches: Iterator[Batch] = iter(self.train_loader)
        if resumed_steps and not hasattr(dataset, "skip_batches"):
            batches = islice(batches, resumed_steps * accum, None)  # a plain iterable: draw and drop
        while True:
            waited = time.perf_counter()
            micro_batches = list(islice(batches, accum))
            data_seconds += time.perf_counter() - waited
            # Ranks may hold unequal shares of the data: all stop when the first runs out.
            if not all_ranks_true(len(micro_batches) == accum, self.context):
                break
            stats = self.optimizer_step(micro_batches)
            steps += 1
            self.epoch_step = steps
            samples += sum(len(b["joints_3d"]) for b in micro_batches) * self.context.world_size
            for key, value in stats.items():
                sums[key] += value
            self._epoch_sums = dict(sums)
            rate = samples / max(time.perf_counter() - started, 1e-9)
            bar.update(1)
            bar.set_postfix(loss=f"{stats['loss']:.4f}", samples_s=f"{rate:.0f}", refresh=False)
            if self.writer is not None and self.step % self.train_cfg.log_every == 0:
                for key, value in stats.items():
                    self.writer.add_scalar(f"train/{key}", value, self.step)
                self.writer.add_scalar("train/samples_per_s", rate, self.step)
            self._step_checkpoint()
        bar.close()
        del batches  # non-persistent DataLoader workers stop now, not at garbage collection
        seconds = time.perf_counter() - started
        steps_this_run = steps - resumed_steps
        if steps == 0:
            log.warning("epoch %d: no complete optimizer step (too few samples for the batch size)", epoch + 1)
        self._write_sample_log(epoch)
        self.epoch_step, self._epoch_sums = 0, {}  # the next pass over the loader starts a new epoch
        result = {f"train_{key}": value / max(steps, 1) for key, value in sums.items()}
        result.update(
            steps_in_epoch=steps,
            samples_per_s=samples / max(seconds, 1e-9) if steps_this_run else 0.0,
            epoch_seconds=seconds,
            data_wait_fraction=data_seconds / max(seconds, 1e-9),
        )
        return result

    def optimizer_step(self, micro_batches: list[Batch]) -> dict[str, float]:
        """One AdamW step over `micro_batches` (gradient accumulation); returns what it logged."""
        lr = self.optimizer.param_groups[0]["lr"]
        self.optimizer.zero_grad(set_to_none=True)
        stats = self.accumulate_gradients(micro_batches)
        if self.train_cfg.grad_clip > 0:
            norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.train_cfg.grad_clip)
            stats["grad_norm"] = float(norm)
        self.optimizer.step()
        self.scheduler.step()
        self.step += 1
        stats["lr"] = lr
        return stats

    def accumulate_gradients(self, micro_batches: list[Batch]) -> dict[str, float]:
        """Forward/backward each micro-batch, scaled so the sum equals one big batch's mean loss.

        Under DDP the gradient all-reduce runs only on the last micro-batch (`no_sync` before).
        Returns the mean loss components over the micro-batches.
        """
        stats: dict[str, float] = defaultdict(float)
        count = len(micro_batches)
        for index, batch in enumerate(micro_batches):
            self._remember_samples(batch)
            batch = move_to_device(batch, self.device)
            last = index == count - 1
            sync = contextlib.nullcontext() if last or not self.context.enabled else self.ddp_model.no_sync()
            with sync:
                with self.autocast():
                    prediction = self.ddp_model(batch)
                    total, components = self.loss_fn(prediction, batch)
                if not torch.isfinite(total.detach()):
                    raise NonFiniteLossError(
                        f"training stopped: the loss is {float(total.detach())} at step {self.step} (epoch {self.epoch}) "
                        f"on a batch of {batch_provenance(batch)}; check those samples' shards and train.lr"
                    )
                (total / count).backward()
            stats["loss"] += float(total.detach()) / count
            for key, value in components.items():
                if key == "total":  # the same as "loss"
                    continue
                stats[key] += float(value.detach() if torch.is_tensor(value) else value) / count
        return dict(stats)

    @torch.no_grad()
    def validate(self, epoch: int) -> dict[str, Any]:
        """MPJPE, N-MPJPE and PA-MPJPE (mm, mean over actions) and the loss on the whole validation set; rank 0 only."""
        if self.val_loader is None or not self.context.is_main:
            return {}
        self.model.eval()
        predicted, target, actions = [], [], []
        loss_sum, count = 0.0, 0
        preview = None
        for batch in self.val_loader:
            batch_on_device = move_to_device(batch, self.device)
            with self.autocast():
                prediction = self.model(batch_on_device)
                total, _ = self.loss_fn(prediction, batch_on_device)
            joints = prediction["joints_mm"].float().cpu()
            predicted.append(joints)
            target.append(batch["joints_3d"].float().cpu())
            if "action" in batch:
                actions.append(torch.as_tensor(batch["action"]).cpu())
            loss_sum += float(total) * len(joints)
            count += len(joints)
            if preview is None:
                preview = (batch, joints)
        self.model.train()
        if count == 0:
            log.warning("validation: the validation loader yielded no samples")
            return {}
        predicted_mm = torch.cat(predicted).double().numpy()
        target_mm = torch.cat(target).double().numpy()
        errors = {name: metrics.METRICS[name](predicted_mm, target_mm) for name in ("mpjpe", "n_mpjpe", "pa_mpjpe")}
        # Averaged as evaluation averages (metrics.json): the mean over actions, each action weighing the same.
        by_action = len(actions) > 0 and sum(len(a) for a in actions) == count
        labels = torch.cat(actions).numpy() if by_action else np.zeros(count, dtype=np.int64)
        table = metrics.per_action_table(errors, labels)
        result = {
            "val_split": self.val_split,
            "val_averaging": "mean over actions" if by_action else "mean over samples (batches without action labels)",
            "val_loss": loss_sum / count,
            "val_mpjpe": table["average"]["mpjpe"],
            "val_n_mpjpe": table["average"]["n_mpjpe"],
            "val_pa_mpjpe": table["average"]["pa_mpjpe"],
            "val_mpjpe_all_samples": table["all_samples"]["mpjpe"],
            "val_samples": count,
        }
        if self.writer is not None:
            for key in ("val_loss", "val_mpjpe", "val_n_mpjpe", "val_pa_mpjpe"):
                self.writer.add_scalar(f"val/{key.removeprefix('val_')}", result[key], self.step)
            self._write_previews(preview)
        log.info(
            "epoch %d: %s MPJPE %.1f mm, N-MPJPE %.1f mm, PA-MPJPE %.1f mm (%s, %d samples)",
            epoch + 1, self.val_split, result["val_mpjpe"], result["val_n_mpjpe"], result["val_pa_mpjpe"],
            result["val_averaging"], count,
        )
        return result

    # ----------------------------------------------------------------------- checkpoints

    def checkpoint(self) -> dict[str, Any]:
        """Everything a resume or an evaluation needs; plain data, loadable with weights_only."""
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "step": self.step,
            "epoch": self.epoch,
            "best_metric": self.best_metric,
            "best_metric_name": self.select_on,
            "config": self.config.redacted_dict(),  # a checkpoint is shared: no credentials
            "model_name": self.model_name,
            "keypoints_layout": self.keypoints_layout,
            "history": self.history,
            "epoch_step": self.epoch_step,
            "epoch_sums": dict(self._epoch_sums),
            "identity": self.identity,
            "rng": capture_rng_state(),
        }

    def save_checkpoint(self, path: str | Path) -> None:
        """Write the checkpoint; under DDP every rank must call it (it gathers every rank's RNG state)."""
        state = self.checkpoint()
        state["rng_per_rank"] = gather_objects(state["rng"], self.context)
        if self.context.is_main:
            files.write_torch(path, state)
        barrier(self.context)

    def load_checkpoint(self, path: str | Path) -> None:
        """Continue from a checkpoint written by `save_checkpoint` (same model and config)."""
        state = load_checkpoint(path, map_location=self.device)
        if state.get("model_name") != self.model_name:
            raise ValueError(f"checkpoint {path} holds model {state.get('model_name')!r}, not {self.model_name!r}")
        missing = [key for key in ("model", "optimizer") if key not in state]
        if missing:
            raise CheckpointError(f"checkpoint {path} lacks {missing}: not a resumable pose3d checkpoint")
        load_state_checked(self.model, state["model"], path)
        load_state_checked(self.optimizer, state["optimizer"], path, "optimizer")
        self.scheduler.load_state_dict(state["scheduler"])
        self.step, self.epoch = int(state["step"]), int(state["epoch"])
        self.epoch_step = int(state.get("epoch_step", 0))
        self._epoch_sums = {key: float(value) for key, value in state.get("epoch_sums", {}).items()}
        selected_on = state.get("best_metric_name", "mpjpe")  # checkpoints before train.select_on: MPJPE
        if selected_on != self.select_on:
            raise CheckpointError(f"checkpoint {path} selected best.pt on validation {selected_on}, this run on "
                                  f"{self.select_on} (train.select_on): train into another folder or keep {selected_on}")
        self.best_metric = float(state["best_metric"])
        self.history = list(state.get("history", []))
        per_rank = state.get("rng_per_rank")
        if per_rank is not None and len(per_rank) == self.context.world_size:
            restore_rng_state(per_rank[self.context.rank])  # each rank its own stream (dropout differs per rank)
        else:
            restore_rng_state(state["rng"])
        log.info("resumed from step %d, epoch %d (%d steps into it): %s", self.step, self.epoch, self.epoch_step, path)

    def resume_if_possible(self, mode: str = "auto") -> bool:
        """Load `checkpoints/last.pt` when it exists; returns whether training resumed.

        `auto`: only a checkpoint made with this run's identity (weight settings, shards, world
        size); otherwise training starts fresh and the log says why. `always` (`--resume`): a
        checkpoint that does not fit is an error, not a fresh start. A checkpoint that cannot be
        read is an error in both modes: it may hold days of training, so it is never overwritten.
        """
        if mode not in ("auto", "always"):
            raise ValueError(f"resume mode must be 'auto' or 'always', not {mode!r}")
        if self.checkpoint_dir is None:
            return False
        path = self.checkpoint_dir / "last.pt"
        if not path.is_file():
            log.info("starting fresh: no resume checkpoint at %s", path)
            return False
        saved = load_checkpoint(path)
        if self.identity is not None and (mode == "auto" or saved.get("identity") is not None):
            reason = identity_mismatch(saved.get("identity"), self.identity)
            if reason and mode == "always":
                raise CheckpointError(f"checkpoint {path} does not fit this run: {reason} (drop --resume to start fresh)")
            if reason:
                log.warning("starting fresh: %s (%s)", reason, path)
                self.set_aside_checkpoints(f"did not fit a later run: {reason}")
                return False
        self.load_checkpoint(path)
        best = self.checkpoint_dir / "best.pt"
        if self.context.is_main and best.is_file() and self.out_dir is not None:
            _copy_atomically(best, self.out_dir / "best.pt")  # the workflow removes outputs of a failed run
        return True

    def set_aside_checkpoints(self, reason: str) -> None:
        """Keep the resume state a fresh start would overwrite: rank 0 moves it to checkpoints/superseded/."""
        if self.checkpoint_dir is None:
            return
        barrier(self.context)  # every rank has read last.pt before it moves
        if self.context.is_main:
            folder = set_aside(self.checkpoint_dir, reason)
            if folder is not None:
                log.warning("the checkpoints this run does not continue are kept in %s (%s)", folder, reason)
        barrier(self.context)

    # ------------------------------------------------------------------------- internals

    def _end_of_epoch(self, record: dict[str, Any]) -> None:
        """Save checkpoints/best.pt (when improved) and last.pt, publish best.pt and history.json (rank 0 writes)."""
        if self.checkpoint_dir is None:
            return
        # Validation runs on rank 0 only: its metric decides for every rank.
        metric = record.get(f"val_{self.select_on}", math.inf) if self.context.is_main else math.inf
        improved = any_rank_true(metric < self.best_metric or not (self.checkpoint_dir / "best.pt").exists(),
                                 self.context)
        if metric < self.best_metric:
            self.best_metric = metric
        # history.json says which epoch best.pt is and why (the last record with is_best).
        record.update(selected_on=f"val_{self.select_on}", is_best=bool(improved))
        self.save_checkpoint(self.checkpoint_dir / "last.pt")
        if self.context.is_main:
            if improved:
                _copy_atomically(self.checkpoint_dir / "last.pt", self.checkpoint_dir / "best.pt")
            _copy_atomically(self.checkpoint_dir / "best.pt", self.out_dir / "best.pt")
            files.write_json(self.out_dir / "history.json", self.history)
            if self.writer is not None:
                self.writer.add_scalar("train/lr_epoch_end", self.optimizer.param_groups[0]["lr"], self.step)
                self.writer.flush()
        self._last_checkpoint_time = time.monotonic()
        barrier(self.context)

    def _step_checkpoint(self) -> None:
        """After an optimizer step: the resume checkpoint when due or asked to stop; then stop if asked
        (a signal, or past the deadline of the job's time limit)."""
        if self.checkpoint_dir is None:
            return
        every_steps = self.train_cfg.checkpoint_every_steps
        every_seconds = self.train_cfg.checkpoint_every_minutes * 60.0
        due = (every_steps > 0 and self.step % every_steps == 0) or (
            every_seconds > 0 and time.monotonic() - self._last_checkpoint_time >= every_seconds)
        # One agreement for both: ranks' clocks and signal arrivals differ, their checkpoints must not.
        stop = any_rank_true(self._stop_requested(), self.context)
        if stop or any_rank_true(due, self.context):
            started = time.perf_counter()
            self.save_checkpoint(self.checkpoint_dir / "last.pt")
            self._last_checkpoint_time = time.monotonic()
            log.info("checkpoint at step %d (epoch %d, %d steps into it) in %.1f s",
                     self.step, self.epoch + 1, self.epoch_step, time.perf_counter() - started)
        if stop:
            self._stop_if_signalled()

    def _check_margin_covers(self, val_seconds: float) -> None:
        """Warn (once) when validating takes longer than the margin before the time limit: the deadline
        is checked after optimizer steps, so a job could reach its limit while validating and lose
        the steps since its last checkpoint."""
        if self.deadline is None or val_seconds < self.deadline.margin_s or self._warned_margin:
            return
        self._warned_margin = True
        log.warning("validation took %.1f min, longer than train.stop_before_time_limit_minutes (%g): a job may "
                    "reach its time limit while validating; raise that margin above the validation time",
                    val_seconds / 60, self.deadline.margin_s / 60)

    def _stop_requested(self) -> bool:
        if self.deadline is not None and not self._past_deadline:
            self._past_deadline = self.deadline.reached()  # once past, stays past (a clock may step back)
        return self._stop_signal is not None or self._past_deadline

    def _stop_if_signalled(self) -> None:
        """Raise TrainingInterrupted when any rank was signalled or is past the deadline (checkpoint already written)."""
        if not any_rank_true(self._stop_requested(), self.context):
            return
        if self._stop_signal is not None:
            reason = f"on {signal.Signals(self._stop_signal).name}"
        elif self._past_deadline and self.deadline is not None:
            reason = self.deadline.describe()  # train.stop_before_time_limit_minutes
        else:
            reason = "as another rank was signalled or past the time-limit deadline"
        raise TrainingInterrupted(
            f"{self.model_name}: stopped at step {self.step}, {reason}; "
            f"the resume checkpoint {self.checkpoint_dir / 'last.pt'} continues it"
        )

    @contextlib.contextmanager
    def _stop_on_signals(self) -> Iterator[None]:
        """SIGTERM / SIGUSR1 ask for a checkpoint and a stop at the next optimizer step (main thread only)."""
        import threading

        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def request_stop(signum: int, _frame: Any) -> None:
            self._stop_signal = signum

        previous = {signum: signal.signal(signum, request_stop) for signum in STOP_SIGNALS}
        try:
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _write_previews(self, preview: tuple[Batch, torch.Tensor] | None) -> None:
        count = self.train_cfg.preview_samples
        if preview is None or count == 0 or self.writer is None:
            return
        from pose3d.training.previews import preview_figure

        batch, predicted = preview
        figure = preview_figure(batch, predicted, self.keypoints_layout, count)
        self.writer.add_figure("val/previews", figure, self.step, close=True)

    def _remember_samples(self, batch: Batch) -> None:
        if self.sample_log_dir is None or not all(key in batch for key in PROVENANCE_KEYS):
            return
        columns = [torch.as_tensor(batch[key]).tolist() for key in PROVENANCE_KEYS]
        self._seen_samples.extend(zip(*columns, strict=True))

    def _write_sample_log(self, epoch: int) -> None:
        """Debug aid for DDP: which samples this rank trained on (one line each)."""
        if self.sample_log_dir is None:
            return
        self.sample_log_dir.mkdir(parents=True, exist_ok=True)
        with open(self.sample_log_dir / f"rank{self.context.rank}.txt", "a") as handle:
            for sample in self._seen_samples:
                handle.write(" ".join(str(v) for v in (epoch, *sample)) + "\n")
        self._seen_samples.clear()



def _copy_atomically(source: Path, target: Path) -> None:
    with files.atomic_path(target) as partial:
        shutil.copyfile(source, partial)
