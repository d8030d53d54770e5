"""Training-loader throughput (samples/s, decode included) on identical samples in four storage formats.

  shards_jpeg   our HDF5 shards, JPEG crops           (pose3d.training.dataset.ShardDataset)
  shards_raw    our HDF5 shards, raw uint8 crops
  targz         the seed's way: per-sample .jpg/.png/.json files packed in .tar.gz chunks,
                each chunk extracted to a temporary folder, then the files read one by one
  tar           WebDataset-style: the same per-sample files in uncompressed .tar, streamed
                member by member without extraction

Every loader yields the same sample dict (ShardDataset's contract) through a torch DataLoader
with 0 (in-process), 1 and 2 workers, one pass each; ratios are against `targz` from the same run.
Writes benchmarks/results/loader.json.

    .venv/bin/python benchmarks/bench_loader.py [--quick]
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import torch  # noqa: E402
from torch.utils.data import DataLoader, IterableDataset, get_worker_info  # noqa: E402

from benchmarks.harness import write_results  # noqa: E402
from pose3d.shards import schema  # noqa: E402
from pose3d.shards.writer import ShardWriter, encode_image  # noqa: E402
from pose3d.testing.samples import make_samples  # noqa: E402
from pose3d.training.dataset import ShardDataset  # noqa: E402

PER_FILE = 500  # samples per shard / tar chunk


def write_shards(samples: dict, folder: Path, codec: str, image_size: int, depth_size: int) -> list[Path]:
    count, paths = len(samples[schema.FRAME]), []
    for index, start in enumerate(range(0, count, PER_FILE)):
        path = folder / f"shard_{index:05d}.h5"
        block = {name: values[start : start + PER_FILE] for name, values in samples.items()}
        if codec == "jpeg":
            block[schema.IMAGE] = [encode_image(image, "jpeg", 90) for image in block[schema.IMAGE]]
        with ShardWriter(path, image_size=image_size, depth_size=depth_size, image_codec=codec, keypoints_layout="h36m17") as w:
            w.append(block)
        paths.append(path)
    return paths


def sample_files(samples: dict, i: int) -> dict[str, bytes]:
    """One sample as the seed stored it: crop JPEG, depth PNG (uint16 mm), labels JSON."""
    image = cv2.cvtColor(samples[schema.IMAGE][i], cv2.COLOR_RGB2BGR)
    depth_mm = np.round(samples[schema.DEPTH][i].astype(np.float32) * 1000).astype(np.uint16)
    labels = {name: samples[name][i].tolist() for name in (schema.KEYPOINTS_2D, schema.JOINTS_3D, schema.INTRINSICS, schema.CROP)}
    labels.update({name: int(samples[name][i]) for name in schema.PROVENANCE})
    return {
        "jpg": cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes(),
        "png": cv2.imencode(".png", depth_mm)[1].tobytes(),
        "json": json.dumps(labels).encode(),
    }


def write_tars(samples: dict, folder: Path, gzip: bool) -> list[Path]:
    count, paths = len(samples[schema.FRAME]), []
    for index, start in enumerate(range(0, count, PER_FILE)):
        path = folder / f"chunk_{index:05d}.tar{'.gz' if gzip else ''}"
        with tarfile.open(path, "w:gz" if gzip else "w") as tar:
            for i in range(start, min(start + PER_FILE, count)):
                for ext, payload in sample_files(samples, i).items():
                    info = tarfile.TarInfo(f"{i:08d}.{ext}")
                    info.size = len(payload)
                    tar.addfile(info, io.BytesIO(payload))
        paths.append(path)
    return paths


def decode_sample(files: dict[str, bytes]) -> dict:
    """Per-sample files -> the ShardDataset sample contract."""
    bgr = cv2.imdecode(np.frombuffer(files["jpg"], np.uint8), cv2.IMREAD_COLOR)
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    depth = cv2.imdecode(np.frombuffer(files["png"], np.uint8), cv2.IMREAD_UNCHANGED).astype(np.float32) / 1000
    labels = json.loads(files["json"])
    sample = {
        "image": np.ascontiguousarray(rgb.transpose(2, 0, 1), dtype=np.float32) / np.float32(255),
        "depth": depth[None],
        **{name: np.asarray(labels[name], dtype=np.float32) for name in (schema.KEYPOINTS_2D, schema.JOINTS_3D, schema.INTRINSICS, schema.CROP)},
    }
    sample.update({name: np.int64(labels[name]) for name in schema.PROVENANCE})
    return sample


class TarDataset(IterableDataset):
    """Per-sample files in tar chunks; chunks divided among workers.

    extract=True (the seed's .tar.gz): each chunk is extracted to a temporary folder and
    every file opened from disk. extract=False (WebDataset style): members streamed from the tar.
    """

    def __init__(self, paths: list[Path], extract: bool) -> None:
        self.paths, self.extract = paths, extract

    def __iter__(self):
        worker = get_worker_info()
        wid, workers = (worker.id, worker.num_workers) if worker else (0, 1)
        for path in self.paths[wid::workers]:
            yield from (self._extracted(path) if self.extract else self._streamed(path))

    def _streamed(self, path: Path):
        with tarfile.open(path, "r|") as tar:
            files: dict[str, bytes] = {}
            for member in tar:
                key, ext = member.name.split(".")
                files[ext] = tar.extractfile(member).read()
                if len(files) == 3:
                    yield decode_sample(files)
                    files = {}

    def _extracted(self, path: Path):
        with tempfile.TemporaryDirectory(prefix="bench-targz-") as scratch, tarfile.open(path, "r:gz") as tar:
            tar.extractall(scratch, filter="data")
            for image in sorted(Path(scratch).glob("*.jpg")):
                yield decode_sample({ext: image.with_suffix(f".{ext}").read_bytes() for ext in ("jpg", "png", "json")})


def measure(dataset: IterableDataset, workers: int, batch_size: int) -> dict:
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=workers)
    start, count = time.perf_counter(), 0
    for batch in loader:
        count += len(batch["frame"])
    seconds = time.perf_counter() - start
    return {"samples": count, "seconds": round(seconds, 3), "samples_per_s": round(count / seconds, 1)}


def folder_bytes(paths: list[Path]) -> int:
    return sum(path.stat().st_size for path in paths)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples (a smoke run)")
    parser.add_argument("--samples", type=int, help="number of samples (default 4000, quick 1000)")
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--depth-size", type=int, default=64)
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "results" / "loader.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    count = args.samples or (1000 if args.quick else 4000)
    # Photo-like crops (blurred noise) so JPEG sizes are realistic.
    samples = make_samples(count, 0, image_size=args.image_size, depth_size=args.depth_size, photo_like=True)
    samples[schema.DEPTH] = samples[schema.DEPTH].astype(np.float16)  # as the shards store it
    results: dict = {"samples": count, "image_size": args.image_size, "depth_size": args.depth_size, "formats": {}}
    with tempfile.TemporaryDirectory(prefix="bench-loader-") as scratch:
        scratch = Path(scratch)
        formats = {}
        for name in ("shards_jpeg", "shards_raw", "targz", "tar"):
            (scratch / name).mkdir()
        formats["shards_jpeg"] = (write_shards(samples, scratch / "shards_jpeg", "jpeg", args.image_size, args.depth_size), None)
        formats["shards_raw"] = (write_shards(samples, scratch / "shards_raw", "raw", args.image_size, args.depth_size), None)
        formats["targz"] = (write_tars(samples, scratch / "targz", gzip=True), True)
        formats["tar"] = (write_tars(samples, scratch / "tar", gzip=False), False)
        for name, (paths, extract) in formats.items():
            entry = {"bytes": folder_bytes(paths), "files": len(paths)}
            for workers in (0, 1, 2):
                dataset = ShardDataset(paths, shuffle_buffer=256) if extract is None else TarDataset(paths, extract)
                entry[f"workers_{workers}"] = measure(dataset, workers, batch_size=64)
                print(f"{name:12s} workers={workers}: {entry[f'workers_{workers}']['samples_per_s']:8.1f} samples/s", flush=True)
            results["formats"][name] = entry
    baseline = results["formats"]["targz"]
    for entry in results["formats"].values():
        for workers in (0, 1, 2):
            key = f"workers_{workers}"
            entry[key]["ratio_vs_targz"] = round(entry[key]["samples_per_s"] / baseline[key]["samples_per_s"], 2)
    write_results(args.output, results)


if __name__ == "__main__":
    main()
