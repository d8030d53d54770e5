"""Peak memory of the global shuffle at 1x, 2x and 4x the dataset size (it must stay flat).

Shards have a fixed size, so a bigger dataset means more input and output shards. Each size
is shuffled in a fresh subprocess that reports its own peak RSS (getrusage ru_maxrss) and
its RSS just before shuffling (imports done), so the difference is the shuffle's own cost.
Raw-codec crops make the samples large enough that holding the dataset would show.
Writes benchmarks/results/shuffle.json.

    .venv/bin/python benchmarks/bench_shuffle.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.harness import write_results  # noqa: E402


def child(inputs: list[str], output_dir: str, seed: int) -> None:
    """Shuffle `inputs` into as many shards in `output_dir`; print a JSON line with the memory."""
    import psutil

    from pose3d.shards.ops import shuffle_shards

    before_mb = psutil.Process().memory_info().rss / 2**20
    outputs = [Path(output_dir) / f"shard_{i:05d}.h5" for i in range(len(inputs))]
    start = time.perf_counter()
    sizes = shuffle_shards(inputs, outputs, seed)
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    print(json.dumps({"samples": sum(sizes), "seconds": round(seconds, 2), "rss_before_mb": round(before_mb, 1),
                      "peak_rss_mb": round(peak_mb, 1), "shuffle_mb": round(peak_mb - before_mb, 1)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller shards (a smoke run)")
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "results" / "shuffle.json")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[2:], args.child[0], int(args.child[1]))
        return

    import numpy as np

    from pose3d.shards import schema
    from pose3d.shards.writer import ShardWriter

    per_shard, image_size, depth_size = (250, 64, 32) if args.quick else (1000, 96, 48)
    base_shards = 2 if args.quick else 4
    rng = np.random.default_rng(0)
    results = {"samples_per_shard": per_shard, "image_size": image_size, "codec": "raw", "runs": []}
    with tempfile.TemporaryDirectory(prefix="bench-shuffle-") as scratch:
        scratch = Path(scratch)
        inputs = []
        for index in range(4 * base_shards):
            path = scratch / "in" / f"shard_{index:05d}.h5"
            count = per_shard
            with ShardWriter(path, image_size=image_size, depth_size=depth_size, image_codec="raw", keypoints_layout="h36m17") as w:
                w.append({
                    schema.IMAGE: rng.integers(0, 256, size=(count, image_size, image_size, 3), dtype=np.uint8),
                    schema.DEPTH: rng.uniform(0, 5, size=(count, depth_size, depth_size)).astype(np.float16),
                    schema.KEYPOINTS_2D: np.zeros((count, 17, 3), np.float32),
                    schema.JOINTS_3D: np.zeros((count, 17, 3), np.float32),
                    schema.INTRINSICS: np.zeros((count, 4), np.float32),
                    schema.CROP: np.zeros((count, 3), np.float32),
                    **{name: np.full(count, index) if name == schema.SUBJECT else np.arange(count) for name in schema.PROVENANCE},
                })
            inputs.append(str(path))
        for factor in (1, 2, 4):
            chosen = inputs[: factor * base_shards]
            out = scratch / f"out{factor}"
            command = [sys.executable, __file__, "--child", str(out), "0", *chosen]
            line = subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
            run = {"factor": factor, "shards": len(chosen),
                   "dataset_mb": round(sum(Path(p).stat().st_size for p in chosen) / 2**20, 1), **json.loads(line)}
            results["runs"].append(run)
            print(f"{factor}x: {run['samples']} samples, dataset {run['dataset_mb']} MB, "
                  f"peak RSS {run['peak_rss_mb']} MB (shuffle's own {run['shuffle_mb']} MB), {run['seconds']} s", flush=True)
    first, last = results["runs"][0], results["runs"][-1]
    results["shuffle_mb_ratio_4x_vs_1x"] = round(last["shuffle_mb"] / max(first["shuffle_mb"], 1e-6), 2)
    results["dataset_ratio_4x_vs_1x"] = round(last["dataset_mb"] / first["dataset_mb"], 2)
    write_results(args.output, results)


if __name__ == "__main__":
    main()
