"""Wire a training run together: shards -> datasets and loaders, model, loss, Trainer; then fit.

This is what `pose3d train`, the `train` rule and each torchrun worker call. It runs in one
process; under torchrun (RANK/WORLD_SIZE set) every process calls it and joins the group.
"""

from __future__ import annotations

import atexit
import functools
import logging
import multiprocessing
import signal
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from pose3d.config import Config, model_training_config
from pose3d.shards import schema
from pose3d.shards.reader import localize_shards
from pose3d.training.checkpoint import seed_everything
from pose3d.training.distributed import DistContext, init_distributed, shutdown_distributed
from pose3d.training.identity import resume_identity
from pose3d.training.packed_batch import packed_collate
from pose3d.training.trainer import STOP_SIGNALS, Trainer

log = logging.getLogger(__name__)


def augmentation_enabled(augment: Any) -> bool:
    """Whether any augmentation can happen (some probability above zero)."""
    return any(value > 0 for key, value in vars(augment).items() if key.endswith("_prob"))


def steps_per_epoch(batches_on_rank: int, accum: int) -> int:
    """Optimizer steps one rank takes per epoch (the training dataset's batches_per_epoch / accumulation)."""
    return batches_on_rank // accum


def ignore_stop_signals(_worker_id: int) -> None:
    """DataLoader workers leave SIGTERM / SIGUSR1 to the main process, which checkpoints and then
    shuts them down; a worker killed by the signal would abort training before the checkpoint."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)


@functools.cache
def _register_exit_killer() -> None:
    atexit.register(kill_leftover_workers)


def kill_leftover_workers() -> None:
    """At interpreter exit, SIGKILL daemonic child processes still alive (workers that ignore SIGTERM).

    multiprocessing's own exit handler terminates its daemonic children with SIGTERM and then
    waits for them; a DataLoader worker still referenced at exit (say by the traceback of a
    crash inside an epoch) ignores that signal, and the crashed job would hang until its time
    limit. Registered after multiprocessing's handler, this one runs first.
    """
    # The DataLoader's SIGCHLD handler raises on the first worker's death, which would end this
    # handler before the other workers are killed: restore the default first (we are exiting).
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    workers = [child for child in multiprocessing.active_children() if child.daemon]  # a non-daemonic child is waited for
    for worker in workers:
        worker.kill()
    for worker in workers:
        worker.join(timeout=5)


def make_loader(dataset: Any, config: Config, device: torch.device, batch_size: int, train: bool) -> DataLoader:
    """Training: the dataset yields whole batches (batch_size=None, no collate). Evaluation: per-sample.

    Training workers are persistent (no worker start-up per epoch): the dataset's epoch and start
    batch live in shared memory, so each epoch's order is what fresh workers would read. They ignore
    SIGTERM (see `ignore_stop_signals`), and a persistent worker alive at interpreter exit would then
    hang multiprocessing's exit handler, which terminates and joins it: the Trainer shuts them down
    itself when `fit` ends, however it ends. Validation workers start per pass: kept, they would sit
    idle through every training epoch.
    """
    workers = config.train.num_workers
    if workers > 0:
        _register_exit_killer()
    return DataLoader(
        dataset,
        batch_size=None if train else batch_size,
        collate_fn=None if train else packed_collate,  # training workers pack their own batches
        num_workers=workers,
        pin_memory=device.type == "cuda",
        drop_last=False,  # training batches are whole by construction; evaluation keeps every sample
        persistent_workers=train and workers > 0,
        prefetch_factor=4 if workers > 0 else None,
        worker_init_fn=ignore_stop_signals,
        # Its own generator: starting an epoch's iterator must not draw from the global torch RNG,
        # which a checkpoint taken inside the epoch restores (dropout draws from it).
        generator=torch.Generator().manual_seed(config.train.seed),
    )


def refuse_test_shards(infos: Sequence[Any], role: str) -> None:
    """Training reads train and validation shards only: a shard written as `test` is an error naming it."""
    for info in infos:
        if str(info.attrs.get(schema.ATTR_SPLIT, "")) == "test":
            raise ValueError(
                f"{info.path} is a test shard (attribute split = 'test') given as {role} data; training selects "
                "its model on the validation shards (results/split/val), the test shards are for evaluation only"
            )


def build_trainer(
    config: Config,
    model_name: str,
    train_shards: Sequence[str | Path],
    val_shards: Sequence[str | Path],
    out_dir: str | Path | None,
    context: DistContext,
    sample_log_dir: str | Path | None = None,
    base_checkpoint: str | Path | None = None,
) -> Trainer:
    """Everything a training run needs, built in a deterministic order from `train.seed`.

    The datasets read only the fields the model's inputs need; `config.train` is first overridden
    by the model's own training settings (`model_training_config`). `base_checkpoint`: the trained
    base lifter's best.pt, needed by a model with `model.<name>.base_model: lifter | depth_lifter`.
    """
    from pose3d.models.inputs import model_inputs, sample_fields
    from pose3d.models.registry import build_model
    from pose3d.training.augment import BatchAugmentor
    from pose3d.training.dataset import ShardDataset
    from pose3d.training.loss import PoseLoss
    from pose3d.training.time_limit import training_deadline

    config = model_training_config(config, model_name)
    fields = sample_fields(model_inputs(model_name, config))
    cfg = config.train
    # Remote shards (storage.remote) are read from the local shard cache, never over the network.
    train_shards = localize_shards(train_shards, config.storage)
    val_shards = localize_shards(val_shards, config.storage)
    seed_everything(cfg.seed)  # the same initial weights on every rank (DDP also broadcasts rank 0's)
    if {"image", "depth"} & set(fields):
        train_set = ShardDataset(train_shards, shuffle_buffer=cfg.shuffle_buffer, seed=cfg.seed, even_ranks=True,
                                 batch_size=cfg.batch_size, fields=fields, batches=True, decode_on=cfg.decode_on)
        if augmentation_enabled(cfg.augment):
            if cfg.decode_on == "device" and "image" in fields:
                raise ValueError("train.decode_on: device decodes JPEG on the GPU, after the augmentation would have "
                                 "to warp the pixels; set every train.augment *_prob to 0 or use train.decode_on: cpu")
            # One call per batch; image_size: the crop side, for batches read without their image.
            train_set.transform = BatchAugmentor(
                cfg.augment, train_set.keypoints_layout, cfg.seed, train_set.infos[0].image_size
            )
        val_set = ShardDataset(val_shards, evaluation=True, rank=0, world_size=1, fields=fields)
        train_loader = make_loader(train_set, config, context.device, cfg.batch_size, train=True)
        val_loader = make_loader(val_set, config, context.device, config.evaluate.batch_size, train=False)
        per_rank = len(train_set)
    else:  # keypoint-only: the small arrays in memory, mirrored per batch (see keypoint_batches)
        from pose3d.training.keypoint_batches import KeypointBatches

        train_set = KeypointBatches(train_shards, cfg.batch_size, seed=cfg.seed, flip_prob=cfg.augment.flip_prob)
        val_set = KeypointBatches(val_shards, config.evaluate.batch_size, evaluation=True, rank=0, world_size=1)
        train_loader, val_loader = train_set, val_set
        per_rank = train_set.samples_on_rank
    layout = train_set.keypoints_layout
    refuse_test_shards(val_set.infos, "validation")
    refuse_test_shards(train_set.infos, "training")
    if val_set.keypoints_layout != layout:
        raise ValueError(f"train shards have {layout} keypoints but validation shards {val_set.keypoints_layout}")
    model = build_model(model_name, config, layout)
    if getattr(model, "base", None) is not None:
        from pose3d.models.base_lifter import load_base_lifter

        if base_checkpoint is None:
            base = model.base.model_name
            raise ValueError(f"config key 'model.{model_name}.base_model': {base} needs the trained {base}'s best.pt "
                             f"(--base-checkpoint; the workflow trains the {base} first)")
        load_base_lifter(model, base_checkpoint)
    seed_everything(cfg.seed + context.rank)  # dropout and loader seeds differ per rank
    steps = steps_per_epoch(train_set.batches_per_epoch, cfg.grad_accum_steps)
    if steps == 0:
        raise ValueError(
            f"{per_rank} training samples per rank are fewer than one optimizer step "
            f"(train.batch_size {cfg.batch_size} x grad_accum_steps {cfg.grad_accum_steps}); "
            "lower train.batch_size"
        )
    log.info(
        "training %s: %d train samples (%d per rank, %d steps/epoch), %d validation samples, world size %d, device %s",
        model_name, train_set.total_samples, per_rank, steps, val_set.total_samples, context.world_size,
        context.device,
    )
    return Trainer(
        config,
        model,
        PoseLoss(cfg.loss),
        train_loader,
        val_loader,
        out_dir,
        model_name=model_name,
        keypoints_layout=layout,
        steps_per_epoch=steps,
        context=context,
        sample_log_dir=sample_log_dir,
        identity=resume_identity(config, model_name, train_shards, context.world_size,
                                 base_checkpoint if getattr(model, "base", None) is not None else None),
        # Inside a SLURM job: stop with a checkpoint before its time limit (no checkpoints, no stop).
        deadline=training_deadline(cfg.stop_before_time_limit_minutes) if out_dir is not None else None,
    )


def train_model(
    config: Config,
    model_name: str,
    train_shards: Sequence[str | Path],
    val_shards: Sequence[str | Path],
    out_dir: str | Path,
    *,
    resume: str = "auto",
    sample_log_dir: str | Path | None = None,
    base_checkpoint: str | Path | None = None,
) -> list[dict[str, Any]]:
    """Train `model_name`; writes best.pt, history.json, tensorboard/ and checkpoints/ into `out_dir`.

    `resume`: `auto` continues from `out_dir/checkpoints/last.pt` when it was made with the same
    weight settings, shards and world size, otherwise starts fresh and logs why; `always` makes a
    checkpoint that does not fit an error; `never` starts fresh. A fresh start moves the checkpoints
    it would overwrite to `checkpoints/superseded/<time>/`. Returns the history.
    """
    context = init_distributed(config.train.device)
    try:
        trainer = build_trainer(config, model_name, train_shards, val_shards, out_dir, context, sample_log_dir,
                                base_checkpoint)
        if resume != "never":
            trainer.resume_if_possible(resume)
        else:
            trainer.set_aside_checkpoints("not resumed: the training was started with resume 'never' (--no-resume)")
        return trainer.fit()
    finally:
        shutdown_distributed(context)
