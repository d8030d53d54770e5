"""Training throughput (samples/s) per model and the fraction of step time spent waiting for data.

For each model of the default config (cnn = resnet18, transformer) at the default crop sizes
(64 px RGB JPEG, 32 px depth) and batch size, one epoch over synthetic shards written here (1024
samples; the lifter, whose steps take milliseconds, 8192),
on CPU, measured in one process:
  loader only       iterate the training DataLoader (decode + augment + collate), no model:
                    the baseline, the most the data side can deliver
  train <model>     the Trainer's real epoch (forward, loss, backward, AdamW), after a warm-up epoch
The ratio train / loader says how far the model is from being input-bound; data_wait_fraction
is the share of the epoch spent in `next(loader)`. Writes benchmarks/results/train.json.

    .venv/bin/python benchmarks/bench_train.py [--quick] [--threads N] [--workers N]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def loader_samples_per_s(loader, epoch: int) -> float:
    dataset = loader.dataset
    dataset.set_epoch(epoch)
    started, count = time.perf_counter(), 0
    for batch in loader:
        count += len(batch["joints_3d"])
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples (a smoke run)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (the machine is shared)")
    parser.add_argument("--workers", type=int, default=None, help="DataLoader workers (default train.num_workers)")
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "results" / "train.json")
    args = parser.parse_args()

    import torch
    import yaml

    from pose3d.config import config_from_dict, deep_merge
    from pose3d.models.registry import LIFTER_MODELS
    from pose3d.testing.shards import write_shards
    from pose3d.training.distributed import DistContext
    from pose3d.training.pipeline import build_trainer

    torch.set_num_threads(args.threads)
    base = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    overrides = {"train": {"device": "cpu", "preview_samples": 0, "epochs": 3}}
    if args.workers is not None:
        overrides["train"]["num_workers"] = args.workers
    config = config_from_dict(deep_merge(base, overrides))
    per_shard = 128 if args.quick else 512
    size, depth = config.shards.image_size, config.shards.depth_size
    results = {
        "benchmark": "train",
        "quick": args.quick,
        "device": "cpu",
        "torch_threads": args.threads,
        "num_workers": config.train.num_workers,
        "batch_size": config.train.batch_size,
        "image_size": size,
        "depth_size": depth,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "models": {},
    }
    with tempfile.TemporaryDirectory(prefix="bench-train-") as scratch:
        scratch = Path(scratch)
        train = write_shards(scratch / "train", 2, per_shard, 1, image_size=size, depth_size=depth,
                             image_codec=config.shards.image_codec)
        # The lifter's batch is 256 and its step takes milliseconds: 16 shards give it 32 steps an epoch
        # (on 2 shards, 4 steps, the epoch's first batch weighed a quarter of its data wait).
        lifter_train = write_shards(scratch / "lifter_train", 16, per_shard, 1, image_size=size, depth_size=depth,
                                    image_codec=config.shards.image_codec)
        test = write_shards(scratch / "test", 1, 64, 9, seed=99, image_size=size, depth_size=depth,
                            image_codec=config.shards.image_codec)
        # The lifters first: image models on a base lifter (the default: depth_lifter) need its checkpoint;
        # its weights do not change the throughput, so the untrained lifter stands in for a trained one.
        bases: dict[str, Path] = {}
        for model_name in sorted(config.models, key=lambda name: name not in LIFTER_MODELS):
            base_name = getattr(getattr(config.model, model_name), "base_model", "none")
            lifting_only = model_name in LIFTER_MODELS
            trainer = build_trainer(config, model_name, lifter_train if lifting_only else train, test, None,
                                    DistContext(), base_checkpoint=bases.get(base_name))
            if lifting_only:
                bases[model_name] = scratch / f"{model_name}.pt"
                trainer.save_checkpoint(bases[model_name])
            loader_rate = loader_samples_per_s(trainer.train_loader, epoch=0)
            trainer.train_epoch(0)  # warm-up: allocator, first-call costs
            stats = trainer.train_epoch(1)
            parameters = sum(p.numel() for p in trainer.model.parameters())
            results["models"][model_name] = {
                "parameters": parameters,
                "loader_only_samples_per_s": round(loader_rate, 1),
                "train_samples_per_s": round(stats["samples_per_s"], 1),
                "train_to_loader_ratio": round(stats["samples_per_s"] / loader_rate, 3),
                "data_wait_fraction": round(stats["data_wait_fraction"], 3),
                "step_seconds": round(stats["epoch_seconds"] / max(stats["steps_in_epoch"], 1), 4),
                "steps": stats["steps_in_epoch"],
            }
            print(model_name, json.dumps(results["models"][model_name]))
    results["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
