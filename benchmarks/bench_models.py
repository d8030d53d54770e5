"""Model throughput: forward+backward (training) and forward-only samples/s per model, parameter counts.

Each model is measured in its own subprocess (so its peak memory is its own) at the default config
sizes (config/config.yaml: image 64, depth 32, batch 64) on synthetic batches whose 2D keypoints are
exact projections. The CNN is the baseline: every entry carries its speed ratio to it, measured in
the same run. Also the PoseAugmentor's samples/s (default config probabilities, one CPU thread).
Writes benchmarks/results/models.json.

    .venv/bin/python benchmarks/bench_models.py [--quick] [--device cpu|cuda] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def measure(name: str, device: str, batch_size: int, steps: int, threads: int, layout: str) -> dict:
    """Time `steps` training steps (forward, loss, backward, AdamW) and `steps` eval forwards."""
    import torch

    from pose3d.config import load_config
    from pose3d.models import build_model
    from pose3d.models.common import count_parameters
    from pose3d.testing.samples import make_batch
    from pose3d.training.loss import PoseLoss

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    config = load_config(REPO / "config" / "config.yaml")
    model = build_model(name, config, layout).to(device)
    batch = make_batch(0, batch_size, config.shards.image_size, config.shards.depth_size, layout)
    batch = {key: value.to(device) for key, value in batch.items()}
    loss_fn = PoseLoss(config.train.loss)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    use_bf16 = device.startswith("cuda")

    def train_step() -> None:
        with torch.autocast(device_type=device.split(":")[0], dtype=torch.bfloat16, enabled=use_bf16):
            loss, _ = loss_fn(model(batch), batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    def sync() -> None:
        if use_bf16:
            torch.cuda.synchronize()

    model.train()
    train_step()  # warm-up (allocations, kernels)
    sync()
    started = time.perf_counter()
    for _ in range(steps):
        train_step()
    sync()
    train_seconds = time.perf_counter() - started
    model.eval()
    with torch.no_grad(), torch.autocast(device_type=device.split(":")[0], dtype=torch.bfloat16, enabled=use_bf16):
        model(batch)
        sync()
        started = time.perf_counter()
        for _ in range(steps):
            model(batch)
        sync()
        eval_seconds = time.perf_counter() - started
    result = {
        "parameters": count_parameters(model),
        "train_samples_per_second": round(steps * batch_size / train_seconds, 2),
        "train_step_seconds": round(train_seconds / steps, 4),
        "eval_samples_per_second": round(steps * batch_size / eval_seconds, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    if use_bf16:
        result["peak_cuda_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return result


def measure_augmentation(samples: int, layout: str) -> dict:
    """PoseAugmentor throughput on numpy samples (what each DataLoader worker pays per sample)."""
    import numpy as np

    from pose3d.config import load_config
    from pose3d.testing.samples import make_sample
    from pose3d.training.augment import PoseAugmentor

    config = load_config(REPO / "config" / "config.yaml")
    rng = np.random.default_rng(0)
    pool = [make_sample(rng, config.shards.image_size, config.shards.depth_size, layout, channels_first=True)
            for _ in range(32)]
    augmentor = PoseAugmentor(config.train.augment, layout, seed=0)
    started = time.perf_counter()
    for index in range(samples):
        augmentor(pool[index % len(pool)])
    seconds = time.perf_counter() - started
    return {"samples": samples, "samples_per_second": round(samples / seconds, 1),
            "microseconds_per_sample": round(1e6 * seconds / samples, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small batch, few steps (a smoke run)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N] (bf16 autocast on CUDA)")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (the machine is shared)")
    parser.add_argument("--layout", default="coco17", choices=["coco17", "h36m17"], help="2D keypoint layout")
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "results" / "models.json")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    batch_size, steps = (16, 3) if args.quick else (64, 10)
    if args.worker:
        print(json.dumps(measure(args.worker, args.device, batch_size, steps, args.threads, args.layout)))
        return

    from pose3d.models import MODEL_NAMES

    results = {}
    for name in MODEL_NAMES:
        command = [sys.executable, __file__, "--worker", name, "--device", args.device,
                   "--threads", str(args.threads), "--layout", args.layout] + (["--quick"] if args.quick else [])
        finished = subprocess.run(command, capture_output=True, text=True, check=True)
        results[name] = json.loads(finished.stdout.strip().splitlines()[-1])
        print(name, results[name], flush=True)
    baseline = results["cnn"]
    for entry in results.values():
        entry["train_speed_vs_cnn"] = round(entry["train_samples_per_second"] / baseline["train_samples_per_second"], 3)
        entry["eval_speed_vs_cnn"] = round(entry["eval_samples_per_second"] / baseline["eval_samples_per_second"], 3)
    augmentation = measure_augmentation(200 if args.quick else 2000, args.layout)
    print("augmentation", augmentation, flush=True)
    report = {
        "benchmark": "models",
        "quick": args.quick,
        "device": args.device,
        "threads": args.threads,
        "batch_size": batch_size,
        "steps": steps,
        "keypoints_layout": args.layout,
        "sizes": "config/config.yaml defaults",
        "machine": {"platform": platform.platform(), "python": platform.python_version()},
        "models": results,
        "augmentation": augmentation,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    temporary = args.output.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(report, indent=2) + "\n")
    temporary.replace(args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
