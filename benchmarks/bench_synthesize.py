"""Benchmark the synthetic dataset generator: rendered frames/s, CPU per frame, MB written.

    .venv/bin/python benchmarks/bench_synthesize.py [--quick] [--workers N]

Generates the default config's dataset (config/config.yaml; --quick: a quarter of the frames)
into a temporary folder with N worker processes and writes benchmarks/results/synthesize.json.
CPU seconds (parent + workers) are reported next to wall time because a shared machine makes
wall time noisy; `cpu_ms_per_frame` / cores is what a dedicated machine's wall time approaches.
The baseline, measured in the same run, is rendering alone (no JPEG/PNG encode, no writes).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a quarter of the default frames")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "synthesize.json"))
    args = parser.parse_args()

    from pose3d.config import load_config
    from pose3d.datasets.layout import SequenceId
    from pose3d.datasets.synthetic import generate_dataset
    from pose3d.datasets.synthetic.sequence import SequenceJob, render_frame

    overrides = {"synthetic": {"frames_per_sequence": 10}} if args.quick else {}
    config = load_config(REPO / "config" / "config.yaml", overrides=overrides)
    syn = config.synthetic

    # Baseline: rendering only, one process, one walking sequence.
    with tempfile.TemporaryDirectory() as scratch:
        job = SequenceJob(scratch, syn.seed, SequenceId(1, 14, 1, 1), syn.frames_per_sequence, syn.image_width,
                          syn.image_height, syn.jpeg_quality)
        render_frame(job, 0)  # caches the room and the motion
        start = time.process_time()
        for frame in range(syn.frames_per_sequence):
            render_frame(job, frame)
        render_ms = (time.process_time() - start) / syn.frames_per_sequence * 1000

    with tempfile.TemporaryDirectory() as scratch:
        cpu_before, wall_before = _cpu_seconds(), time.perf_counter()
        summary = generate_dataset(config, Path(scratch) / "synthetic", workers=args.workers)
        wall = time.perf_counter() - wall_before
        cpu = _cpu_seconds() - cpu_before
    frames = summary["frames"]
    peak_mb = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    result = {
        "config": "config/config.yaml" + (" (quick: 10 frames/sequence)" if args.quick else ""),
        "workers": args.workers,
        "frames": frames,
        "sequences": summary["sequences"],
        "image_size": summary["image_size"],
        "wall_s": round(wall, 2),
        "frames_per_s": round(frames / wall, 1),
        "cpu_s": round(cpu, 2),
        "cpu_ms_per_frame": round(cpu / frames * 1000, 2),
        "baseline_render_only_cpu_ms_per_frame": round(render_ms, 2),
        "ratio_full_to_render_only": round(cpu / frames * 1000 / render_ms, 2),
        "mb_written": round(summary["bytes"] / 1e6, 2),
        "kb_per_frame": round(summary["bytes"] / 1e3 / frames, 1),
        "projected_default_wall_s_on_2_dedicated_cores": round(cpu / frames * 4480 / 2, 1),
        "peak_rss_mb": round(peak_mb, 1),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
