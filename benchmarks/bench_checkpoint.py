"""What checkpointing costs and what it saves: write time and size per model, the slow-down of
checkpointing every N steps, and the work a hard kill loses against the checkpoint interval.

On CPU, with the default config's models (cnn = resnet18, transformer) at the default crop sizes,
on synthetic shards written here:
  write         `Trainer.save_checkpoint` after one optimizer step (AdamW moments present):
                seconds (median of 3) and bytes of checkpoints/last.pt
  slow-down     seconds per optimizer step of an epoch (batch 8) with checkpoint_every_steps = 0 (epoch
                end only) and N, for the transformer; the ratio is what checkpointing every N steps costs
  work lost     real runs killed without warning (SIGKILL-like: no chance to save) at random steps,
                then resumed: steps recomputed = kill step - step of the checkpoint resumed from.
                A SIGTERM/SIGUSR1 stop loses nothing (it checkpoints first); this is the node-failure case.
Timings on a shared machine are noisy. Writes benchmarks/results/checkpoint.json.

    .venv/bin/python benchmarks/bench_checkpoint.py [--quick] [--threads N]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.harness import offline_environment, write_results  # noqa: E402

BATCH = 8  # slow-down and work-lost runs: many short steps, so intervals of a few steps mean something


class HardKill(Exception):
    """Stands for a SIGKILL / node failure: training ends without writing anything."""


def _config(base: dict, **train):
    from pose3d.config import config_from_dict, deep_merge

    overrides = {"train": {"device": "cpu", "preview_samples": 0, "num_workers": 0, **train}}
    return config_from_dict(deep_merge(base, overrides))


def write_costs(base: dict, shards, scratch: Path) -> dict:
    from pose3d.training.distributed import DistContext
    from pose3d.training.pipeline import build_trainer

    costs = {}
    config = _config(base, epochs=1)
    for model_name in config.models:
        out = scratch / f"write-{model_name}"
        trainer = build_trainer(config, model_name, *shards, out, DistContext())
        batch = next(iter(trainer.train_loader))
        trainer.optimizer_step([batch])  # AdamW moments exist, as in any real checkpoint
        path = out / "checkpoints" / "last.pt"
        seconds = []
        for _ in range(3):
            started = time.perf_counter()
            trainer.save_checkpoint(path)
            seconds.append(time.perf_counter() - started)
        costs[model_name] = {
            "parameters": sum(p.numel() for p in trainer.model.parameters()),
            "write_seconds_median": round(statistics.median(seconds), 4),
            "size_mb": round(path.stat().st_size / 1e6, 2),
        }
        print("write", model_name, json.dumps(costs[model_name]))
    return costs


def slowdown(base: dict, shards, scratch: Path, intervals: list[int]) -> dict:
    from pose3d.training.distributed import DistContext
    from pose3d.training.pipeline import build_trainer

    rows = {}
    for every in [0, *intervals]:
        config = _config(base, epochs=2, batch_size=BATCH, checkpoint_every_steps=every, checkpoint_every_minutes=0)
        trainer = build_trainer(config, "transformer", *shards, scratch / f"slow-{every}", DistContext())
        trainer.train_epoch(0)  # warm-up
        stats = trainer.train_epoch(1)
        rows[str(every)] = round(stats["epoch_seconds"] / max(stats["steps_in_epoch"], 1), 5)
        print("step seconds, checkpoint every", every or "epoch", rows[str(every)])
    baseline = rows["0"]
    return {
        "model": "transformer",
        "step_seconds_by_checkpoint_every_steps": rows,
        "relative_to_epoch_end_only": {key: round(value / baseline, 3) for key, value in rows.items()},
    }


def work_lost(base: dict, shards, scratch: Path, intervals: list[int], kills: int, seed: int) -> dict:
    import numpy as np

    from pose3d.training.distributed import DistContext
    from pose3d.training.pipeline import build_trainer

    rng = np.random.default_rng(seed)
    rows = {}
    for every in [0, *intervals]:
        config = _config(base, epochs=2, batch_size=BATCH, checkpoint_every_steps=every, checkpoint_every_minutes=0)
        lost = []
        for attempt in range(kills):
            out = scratch / f"lost-{every}-{attempt}"
            trainer = build_trainer(config, "transformer", *shards, out, DistContext())
            total = trainer.steps_per_epoch * config.train.epochs
            kill_step = int(rng.integers(1, total))
            original = trainer.optimizer_step

            def optimizer_step(micro_batches, trainer=trainer, original=original, kill_step=kill_step):
                stats = original(micro_batches)
                if trainer.step == kill_step:
                    raise HardKill
                return stats

            trainer.optimizer_step = optimizer_step
            with contextlib.suppress(HardKill):
                trainer.fit()
            resumed = build_trainer(config, "transformer", *shards, out, DistContext())
            start = resumed.step if resumed.resume_if_possible() else 0
            lost.append(kill_step - start)
        rows[str(every)] = {
            "kills": kills,
            "steps_per_epoch": trainer.steps_per_epoch,
            "mean_steps_lost": round(float(np.mean(lost)), 2),
            "max_steps_lost": int(np.max(lost)),
            "expected_if_uniform": round((every if every else trainer.steps_per_epoch) / 2, 2),
        }
        print("work lost, checkpoint every", every or "epoch", json.dumps(rows[str(every)]))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples and kills (a smoke run)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (the machine is shared)")
    parser.add_argument("--seed", type=int, default=0, help="where the random kills fall")
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "results" / "checkpoint.json")
    args = parser.parse_args()
    offline_environment()

    import logging

    import torch
    import yaml

    from pose3d.testing.shards import write_shards

    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)
    base = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    size, depth = base["shards"]["image_size"], base["shards"]["depth_size"]
    per_shard = 64 if args.quick else 256
    intervals = [1, 4, 8] if args.quick else [1, 5, 20]
    results = {
        "benchmark": "checkpoint",
        "quick": args.quick,
        "device": "cpu",
        "torch_threads": args.threads,
        "inputs": f"synthetic shards written here: 2 x {per_shard} train samples (subject 1), 64 test samples "
                  f"(subject 9), {size} px images, {depth} px depth; default config models; batch size "
                  f"{BATCH} for the slow-down and work-lost runs (transformer)",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "note": "timings from a shared machine are noisy",
    }
    with tempfile.TemporaryDirectory(prefix="bench-checkpoint-") as scratch:
        scratch = Path(scratch)
        codec = base["shards"]["image_codec"]
        shards = (
            write_shards(scratch / "train", 2, per_shard, 1, image_size=size, depth_size=depth, image_codec=codec),
            write_shards(scratch / "test", 1, 64, 9, seed=99, image_size=size, depth_size=depth,
                              image_codec=codec),
        )
        results["write"] = write_costs(base, shards, scratch)
        results["slowdown"] = slowdown(base, shards, scratch, intervals)
        results["work_lost"] = work_lost(base, shards, scratch, intervals, 3 if args.quick else 8, args.seed)
    write_results(args.output, results)


if __name__ == "__main__":
    main()
