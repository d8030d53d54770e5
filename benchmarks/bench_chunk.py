"""Chunk throughput (samples/s): preprocessed sequences + original images -> one subject shard.

The inputs are real: a synthetic dataset and its preprocess output (groundtruth keypoints,
dataset depth), built here and not timed. The chunk stage is timed for both image codecs
on the same inputs (image read + warp + encode + HDF5). Writes benchmarks/results/chunk.json.

    .venv/bin/python benchmarks/bench_chunk.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.harness import write_results  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer, smaller frames (a smoke run)")
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "results" / "chunk.json")
    args = parser.parse_args()

    import yaml

    from pose3d.chunk import chunk_subject
    from pose3d.config import config_from_dict, deep_merge
    from pose3d.datasets.layout import sequence_ids
    from pose3d.datasets.synthetic import generate_dataset
    from pose3d.preprocess import preprocess_sequence

    frames, size, cameras = (16, 128, [1, 2]) if args.quick else (40, 256, [1, 2, 3, 4])
    results: dict = {"frames_per_sequence": frames, "source_image_size": size, "codecs": {}}
    with tempfile.TemporaryDirectory(prefix="bench-chunk-") as scratch:
        scratch = Path(scratch)
        base = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
        raw = deep_merge(base, {
            "dataset": {"root": str(scratch / "synthetic"), "subjects": [1, 9], "actions": [2, 14], "cameras": cameras,
                        "frame_step": 1},
            "synthetic": {"frames_per_sequence": frames, "image_width": size, "image_height": size},
            "split": {"train_subjects": [1], "test_subjects": [9]},
            "perception": {"device": "cpu", "keypoints": {"backend": "groundtruth"}, "depth": {"backend": "dataset"}},
        })
        config = config_from_dict(raw)
        generate_dataset(config, scratch / "synthetic")
        sequences = sequence_ids([1], config.dataset.actions, config.dataset.subactions, config.dataset.cameras)
        inputs = []
        for sequence in sequences:
            path = scratch / "pre" / f"{sequence.name}.h5"
            preprocess_sequence(config, sequence.name, path, path.with_suffix(".report.json"))
            inputs.append(path)
        for codec in ("jpeg", "raw"):
            codec_config = config_from_dict(deep_merge(raw, {"shards": {"image_codec": codec}}))
            output = scratch / f"S1_{codec}.h5"
            start = time.perf_counter()
            report = chunk_subject(codec_config, 1, inputs, output)
            seconds = time.perf_counter() - start
            results["codecs"][codec] = {
                "samples": report.samples, "seconds": round(seconds, 3),
                "samples_per_s": round(report.samples / seconds, 1),
                "shard_mb": round(output.stat().st_size / 2**20, 2),
                "image_size": codec_config.shards.image_size,
            }
            print(f"chunk {codec}: {results['codecs'][codec]}", flush=True)
    write_results(args.output, results)


if __name__ == "__main__":
    main()
