"""`bench_preprocess.py --full-size`: YOLO11x-pose + DepthPro at their published sizes (random weights).

Both networks are built from their published architectures (`yolo11x-pose.yaml` inside
ultralytics; DepthPro as apple/DepthPro-hf: `DepthProConfig` with DINOv2-L encoders and the
field-of-view head), saved to
disk (DepthPro in fp16, the released checkpoint's size) and loaded through pose3d's own
backends, as a preprocess job does. One synthetic 1000x1000 sequence warms up (cuDNN, autotune,
first allocation), a second is timed: frames/s in steady state. The model load is what a job
pays once, the frames what it pays per frame; their ratio gives the share of a job spent
loading for each job size (`perception.frames_per_job`).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.harness import write_results

# Frames per job at the full Human3.6M scale (recordings of ~2600 frames at 50 fps).
JOB_SIZES = {
    "one sequence, every 5th frame": 520,
    "one sequence, every 64th frame": 41,
    "frames_per_job 1000": 1000,
    "frames_per_job 2000": 2000,
    "frames_per_job 4000": 4000,
    "frames_per_job 8000": 8000,
}


def save_full_size_yolo_pose(path: Path) -> Path:
    """YOLO11x-pose with random weights, as a `.pt` that `YOLO(path)` loads (~60 M parameters)."""
    os.environ.setdefault("YOLO_OFFLINE", "1")
    from ultralytics import YOLO

    path.parent.mkdir(parents=True, exist_ok=True)
    YOLO("yolo11x-pose.yaml").save(str(path))
    return path


# apple/DepthPro-hf: three DINOv2-L/16 encoders (patches, whole image, field of view) at 384 px.
# transformers' DepthProConfig() defaults to DINOv2-B encoders (~0.35 B parameters, 0.7 GB in
# fp16), well under the released ~0.95 B (1.9 GB), so the encoders are set explicitly.
DEPTHPRO_ENCODER = {"model_type": "dinov2", "hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16,
                    "patch_size": 16, "image_size": 384}


def save_full_size_depthpro(directory: Path) -> Path:
    """DepthPro at the published configuration (DINOv2-L encoders, FOV head), random weights, fp16 on disk."""
    import torch
    from transformers import DepthProConfig, DepthProForDepthEstimation, DepthProImageProcessor

    torch.manual_seed(0)
    config = DepthProConfig(use_fov_model=True, image_model_config=dict(DEPTHPRO_ENCODER),
                            patch_model_config=dict(DEPTHPRO_ENCODER), fov_model_config=dict(DEPTHPRO_ENCODER))
    model = DepthProForDepthEstimation(config)
    directory.mkdir(parents=True, exist_ok=True)
    model.half().save_pretrained(directory)
    DepthProImageProcessor().save_pretrained(directory)
    return directory


def _import_seconds() -> float:
    """A fresh interpreter's imports of what a preprocess job imports (part of every job's start-up)."""
    code = "import time; t = time.perf_counter(); import torch, ultralytics, transformers, pose3d.preprocess; " \
           "print(time.perf_counter() - t)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(result.stdout.strip().splitlines()[-1])


def run_full_size(args: argparse.Namespace, repo: Path) -> None:
    import torch
    import yaml

    from pose3d.config import config_from_dict, deep_merge
    from pose3d.datasets.layout import SequenceId
    from pose3d.datasets.synthetic import generate_dataset
    from pose3d.preprocess import PerceptionModels, preprocess_sequence
    from pose3d.preprocess_jobs import load_share

    torch.set_num_threads(args.threads)
    on_cuda = args.device.startswith("cuda")
    batch = args.batch_size or (32 if on_cuda else 1)
    frames = args.frames
    output = args.output or repo / "benchmarks" / "results" / f"preprocess_full_{args.device.replace(':', '')}.json"
    with tempfile.TemporaryDirectory(prefix="bench-preprocess-full-") as scratch:
        scratch = Path(scratch)
        started = time.perf_counter()
        weights = save_full_size_yolo_pose(scratch / "models" / "yolo11x-pose.pt")
        depthpro = save_full_size_depthpro(scratch / "models" / "depthpro")
        build_seconds = time.perf_counter() - started
        on_disk = sum(path.stat().st_size for path in (scratch / "models").rglob("*") if path.is_file())
        print(f"built and saved the full-size models ({on_disk / 1e9:.2f} GB) in {build_seconds:.1f} s")

        base = yaml.safe_load((repo / "config" / "config.yaml").read_text())
        raw = deep_merge(base, {
            "dataset": {"root": str(scratch / "synthetic"), "subjects": [1, 9], "actions": [2], "subactions": [1],
                        "cameras": [1, 2], "frame_step": 1, "test_frame_step": 1},
            "synthetic": {"frames_per_sequence": frames, "image_width": 1000, "image_height": 1000},
            "split": {"train_subjects": [1], "test_subjects": [9]},
            "perception": {
                "device": args.device,
                "keypoints": {"backend": "yolo", "weights": str(weights), "batch_size": batch, "confidence": 0.25},
                "depth": {"backend": "depthpro", "model": str(depthpro), "batch_size": batch},
            },
        })
        config = config_from_dict(raw)
        only_s1 = dataclasses.replace(config, dataset=dataclasses.replace(config.dataset, subjects=[1]))
        generate_dataset(only_s1, scratch / "synthetic", workers=min(16, os.cpu_count() or 1))
        models = PerceptionModels(config)
        warm, timed = SequenceId(1, 2, 1, 1).name, SequenceId(1, 2, 1, 2).name
        reports = {}
        for name in (warm, timed):
            reports[name] = preprocess_sequence(config, name, scratch / f"{name}.h5", scratch / f"{name}.json",
                                                models=models)
            print(f"{name}: {reports[name]['frames_seen']} frames in {reports[name]['seconds']} s "
                  f"(load {reports[name]['load_seconds']} s)")
    steady = reports[timed]
    seconds_per_frame = steady["seconds"] / max(steady["frames_seen"], 1)
    import_seconds = _import_seconds()
    load_seconds = models.load_seconds + import_seconds
    results = {
        "benchmark": "preprocess_full_size",
        "device": args.device,
        "device_name": torch.cuda.get_device_name(args.device) if on_cuda else "cpu",
        "torch_threads": args.threads,
        "precision": "DepthPro fp32 weights under bf16 autocast, YOLO fp16" if on_cuda else "fp32",
        "batch_size": batch,
        "image_size": [1000, 1000],
        "frames_timed": steady["frames_seen"],
        "models": {"yolo": "yolo11x-pose.yaml, random weights", "depthpro": "DepthProConfig with DINOv2-L encoders "
                   "(apple/DepthPro-hf sizes), random weights, fp16 on disk", "bytes_on_disk": on_disk, "build_and_save_seconds": round(build_seconds, 1)},
        "model_load_seconds": round(models.load_seconds, 2),
        "import_seconds": round(import_seconds, 2),
        "seconds_per_frame": round(seconds_per_frame, 4),
        "frames_per_second": round(1 / seconds_per_frame, 3),
        "warmup_sequence_seconds": reports[warm]["seconds"],
        "load_share_by_job_size": {label: round(load_share(load_seconds, seconds_per_frame, size), 4)
                                   for label, size in JOB_SIZES.items()},
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "peak_gpu_memory_gb": round(torch.cuda.max_memory_allocated() / 1e9, 2) if on_cuda else None,
        "note": "random weights: detections and depth are meaningless, the cost is the real one; "
                "shared machine: timings are noisy",
    }
    print(f"full size on {results['device_name']}: {results['frames_per_second']} frames/s, "
          f"model load {results['model_load_seconds']} s + imports {results['import_seconds']} s")
    write_results(output, results)
