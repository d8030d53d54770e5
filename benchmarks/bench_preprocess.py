"""Preprocess throughput (frames/s) with tiny models: the pipeline's own overhead.

Two backend pairs on the same synthetic sequence, measured in one run:
  groundtruth + dataset depth   (no network: decoding, projection, cropping, HDF5)
  tiny YOLO pose + tiny DepthPro (random weights, built here: the real loading and batching code)
Real yolo11x-pose / DepthPro throughput is dominated by the networks and needs a GPU; this
measures what the stage adds around them. Writes benchmarks/results/preprocess.json.

--full-size measures instead the published architectures with random weights (YOLO11x-pose from
`yolo11x-pose.yaml`, DepthPro at apple/DepthPro-hf's sizes via `DepthProConfig`, saved to disk and
loaded through pose3d's own loading code), on 1000x1000 synthetic frames through
`preprocess_sequence` (batched, bf16 autocast on CUDA, image decoding one batch ahead): model
load seconds, frames/s, and the share of a job spent loading for each job size, the evidence
for `perception.frames_per_job`. On a CPU keep --frames to a handful. Writes
benchmarks/results/preprocess_full_<device>.json.

    .venv/bin/python benchmarks/bench_preprocess.py [--quick]
    .venv/bin/python benchmarks/bench_preprocess.py --full-size --device cuda [--frames 256]
    .venv/bin/python benchmarks/bench_preprocess.py --full-size --device cpu --frames 2 --threads 2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from benchmarks.harness import offline_environment  # noqa: E402

offline_environment()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer, smaller frames (a smoke run)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the machine is shared)")
    parser.add_argument("--output", type=Path)
    parser.add_argument("--full-size", action="store_true", help="YOLO11x-pose + DepthPro, published sizes")
    parser.add_argument("--device", default="cpu", help="--full-size: cpu | cuda | cuda:N")
    parser.add_argument("--frames", type=int, default=2, help="--full-size: frames timed after the warm-up")
    parser.add_argument("--batch-size", type=int, default=0, help="--full-size: frames per network call "
                        "(default 32 on CUDA, 1 on CPU)")
    args = parser.parse_args()
    if args.full_size:
        from benchmarks.full_size_preprocess import run_full_size

        run_full_size(args, REPO)
        return
    args.output = args.output or REPO / "benchmarks" / "results" / "preprocess.json"

    import torch
    import yaml

    from pose3d.config import config_from_dict, deep_merge
    from pose3d.datasets.layout import SequenceId
    from pose3d.datasets.synthetic import generate_dataset
    from pose3d.preprocess import preprocess_sequence
    from pose3d.testing.tiny_models import save_tiny_depthpro, save_tiny_yolo_pose

    torch.set_num_threads(args.threads)
    frames, size = (16, 128) if args.quick else (48, 256)
    sequence = SequenceId(1, 2, 1, 1).name
    with tempfile.TemporaryDirectory(prefix="bench-preprocess-") as scratch:
        scratch = Path(scratch)
        base = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
        raw = deep_merge(base, {
            "dataset": {"root": str(scratch / "synthetic"), "subjects": [1, 9], "actions": [2], "cameras": [1],
                        "frame_step": 1},
            "synthetic": {"frames_per_sequence": frames, "image_width": size, "image_height": size},
            "split": {"train_subjects": [1], "test_subjects": [9]},
            "perception": {"device": "cpu"},
        })
        generate_dataset(config_from_dict(raw), scratch / "synthetic")
        weights = save_tiny_yolo_pose(scratch / "models" / "pose.pt")
        depthpro = save_tiny_depthpro(scratch / "models" / "depthpro")
        setups = {
            "groundtruth+dataset": {"keypoints": {"backend": "groundtruth"}, "depth": {"backend": "dataset"}},
            "tiny_yolo+tiny_depthpro": {
                "keypoints": {"backend": "yolo", "weights": str(weights), "confidence": 0.0},
                "depth": {"backend": "depthpro", "model": str(depthpro)},
            },
        }
        results = {}
        for name, perception in setups.items():
            config = config_from_dict(deep_merge(raw, {"perception": perception}))
            started = time.perf_counter()
            report = preprocess_sequence(config, sequence, scratch / f"{name}.h5", scratch / f"{name}.json")
            seconds = time.perf_counter() - started  # includes model loading, as a rule job does
            results[name] = {
                "frames": report["frames_seen"],
                "seconds_total": round(seconds, 3),
                "frames_per_second_total": round(report["frames_seen"] / seconds, 2),
                "frames_per_second_loop": report["frames_per_second"],
                "frames_kept": report["frames_kept"],
                "output_bytes": (scratch / f"{name}.h5").stat().st_size,
            }
            print(f"{name:26s} {results[name]['frames_per_second_total']:8.2f} frames/s ({seconds:.2f} s)")
        backends = _backend_breakdown(scratch / "synthetic", sequence, weights, depthpro)
    baseline = results["groundtruth+dataset"]["frames_per_second_total"]
    summary = {
        "benchmark": "preprocess",
        "quick": args.quick,
        "image_size": size,
        "frames_per_sequence": frames,
        "torch_threads": args.threads,
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform()},
        "results": results,
        "backend_seconds_per_frame": backends,
        "ratio_tiny_models_vs_groundtruth": round(results["tiny_yolo+tiny_depthpro"]["frames_per_second_total"] / baseline, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),  # Linux: KiB
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"wrote {args.output}")


def _backend_breakdown(root: Path, sequence: str, weights: Path, depthpro: Path) -> dict[str, float]:
    """Seconds per frame of each tiny network alone (after loading), to see what dominates."""
    from pose3d.io import read_image
    from pose3d.perception import DepthProDepth, Frame, YoloKeypoints

    images = sorted((root / "images" / sequence).glob("*.jpg"))
    frames = [Frame(image=read_image(path)) for path in images]
    timings = {}
    for name, backend in (
        ("tiny_yolo_conf0", YoloKeypoints(weights, batch_size=16, confidence=0.0, device="cpu")),
        ("tiny_yolo_conf0.25", YoloKeypoints(weights, batch_size=16, confidence=0.25, device="cpu")),
        ("tiny_depthpro", DepthProDepth(depthpro, batch_size=4, device="cpu")),
    ):
        backend(frames[:2])  # warm-up
        started = time.perf_counter()
        backend(frames)
        timings[name] = round((time.perf_counter() - started) / len(frames), 4)
    return timings


if __name__ == "__main__":
    main()
