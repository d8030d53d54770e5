"""Training-loader throughput against the JPEG-decode limit, with a profile of where a sample's time goes.

For each crop size (64/128/256 px RGB, depth at half the side), on identical photo-like samples:

  profile        microseconds per sample of each stage, measured alone in this process: HDF5 block
                 read (and its depth part), JPEG decode (the loader's simplejpeg; cv2 for comparison), depth conversion, augmentation (per sample on uint8 HWC and
                 float CHW, and batched: one BatchAugmentor call per batch of the batch contract),
                 the per-sample dict, default collate, batch assembly, worker-to-main transfer
  decode_limit   the loader's JPEG decode (simplejpeg, RGB) alone, one core: the most a loader core can deliver;
                 decode_limit_cv2: cv2.imdecode + BGR->RGB alone (the limit as first measured, with OpenCV)
  batches        ShardDataset(batches=True): whole uint8 batches from persistent workers (the training loader),
                 each handed over in one reused shared buffer (PackedBatch)
  batches_unpacked  the same with torch's own hand-over (a new shared segment per tensor), as it was before PackedBatch
  batches_aug    the same with the default augmentation (batched, in the workers, as training runs it)
  per_sample     ShardDataset per-sample dicts + DataLoader collate (the loader before batch mode)
  tar            WebDataset-style: per-sample .jpg/.png/.json files in uncompressed .tar chunks,
                 streamed member by member, decoded with the same JPEG decoder into the same uint8 / float16
                 arrays, collated by the DataLoader: the same payload

Each loader runs with 0 (in-process), 1 and 2 workers for `--seconds` per point (epochs repeat
as needed), in `--repeats` rounds over all loaders (a cell is the median round); the time to the
first batch (worker start-up) is reported apart and not counted.
Ratios: samples/s over (decode limit x cores used: the workers, or 1 in-process), for both decoders'
limits, and over `tar` at the same worker count; samples per CPU second of the loader's processes (main
and workers, measured) over the decode limit: its rate per core it actually kept busy.
Timings on a shared machine are noisy: compare ratios within one run. Writes benchmarks/results/loader.json.

    .venv/bin/python benchmarks/bench_loader.py [--quick] [--sizes 64 128 256] [--seconds 4]
"""

from __future__ import annotations

import argparse
import io
import json
import os
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
from torch.utils.data import DataLoader, IterableDataset, default_collate, get_worker_info  # noqa: E402

from benchmarks.harness import write_results  # noqa: E402
from pose3d.config import AugmentConfig  # noqa: E402
from pose3d.shards import schema  # noqa: E402
from pose3d.shards.jpeg import decode_rgb, decode_rgb_into  # noqa: E402
from pose3d.shards.reader import decode_image, open_shard  # noqa: E402
from pose3d.shards.writer import ShardWriter, encode_image  # noqa: E402
from pose3d.testing.samples import make_samples  # noqa: E402
from pose3d.training.augment import BatchAugmentor, PoseAugmentor  # noqa: E402
from pose3d.training.batches import batch_to_device, build_batch  # noqa: E402
from pose3d.training.dataset import READ_BLOCK, ShardDataset, _to_sample  # noqa: E402
from pose3d.training.packed_batch import PackedBatch, worker_pool  # noqa: E402

PER_FILE = 500  # samples per shard / tar chunk
BATCH = 64
DEFAULT_AUGMENT = AugmentConfig(flip_prob=0.5, rotation_prob=0.3, rotation_deg=15.0, scale_prob=0.3, scale_range=0.15,
                                translate_prob=0.3, translate_range=0.08, color_prob=0.5, color_strength=0.3)


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
    """Per-sample files -> the arrays of the batch contract (uint8 HWC image, float16 depth): what the
    batch loader hands over, decoded by the same JPEG decoder, so the baseline does no extra work."""
    depth = cv2.imdecode(np.frombuffer(files["png"], np.uint8), cv2.IMREAD_UNCHANGED)
    labels = json.loads(files["json"])
    sample = {
        "image": decode_rgb(files["jpg"]),
        "depth": (depth * np.float32(1e-3)).astype(np.float16)[None],
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


def folder_bytes(paths: list[Path]) -> int:
    return sum(path.stat().st_size for path in paths)


class KeyedAugmentor:
    """The default augmentation with one stream per (epoch, frame), as training seeds it."""

    def __init__(self) -> None:
        self.augmentor, self.epoch = PoseAugmentor(DEFAULT_AUGMENT, "h36m17", 0), 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __call__(self, sample: dict) -> dict:
        return self.augmentor(sample, np.random.default_rng([0, self.epoch, int(sample["frame"])]))


class EveryCallAnEpoch:
    """The batched augmentation drawing anew on each call (another epoch), as a long run does."""

    def __init__(self) -> None:
        self.augmentor = BatchAugmentor(DEFAULT_AUGMENT, "h36m17", 0)

    def __call__(self, batch: dict) -> dict:
        self.augmentor.set_epoch(self.augmentor.epoch + 1)
        return self.augmentor(batch)


class Repeat(IterableDataset):
    """A fresh copy of a prepared batch `count` times: isolates the worker-to-main transfer.

    Fresh, as real batches are (torch keeps a storage it sent once in shared memory, so resending the
    same tensors would cost nothing); `packed`: in a worker, as ShardDataset hands batches over.
    """

    def __init__(self, batch: dict, count: int, packed: bool) -> None:
        self.batch, self.count, self.packed = batch, count, packed

    def __iter__(self):
        worker = get_worker_info()
        share = self.count // (worker.num_workers if worker else 1)
        for _ in range(share):
            fresh = {name: torch.from_numpy(value.numpy().copy()) for name, value in self.batch.items()}
            yield PackedBatch.pack(fresh, worker_pool()) if self.packed and worker else fresh


def per_sample_us(function, items: list, seconds: float) -> float:
    """Mean microseconds per call of `function` over `items`, cycled for about `seconds`."""
    started, calls = time.perf_counter(), 0
    while True:
        for item in items:
            function(item)
        calls += len(items)
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return 1e6 * elapsed / calls


def transfer_us(batch: dict, seconds: float, packed: bool = False) -> float:
    """Microseconds per sample to pass `batch` from one worker to the main process, minus in-process."""
    def rate(workers: int) -> float:
        count = 0
        loader = DataLoader(Repeat(batch, 200, packed), batch_size=None, num_workers=workers)
        iterator = iter(loader)
        next(iterator)  # start-up apart
        started = time.perf_counter()
        for _ in iterator:
            count += 1
            if time.perf_counter() - started > seconds:
                break
        return (time.perf_counter() - started) / max(count, 1)
    samples = len(batch["frame"])
    return 1e6 * max(rate(1) - rate(0), 0.0) / samples


def profile(paths: list[Path], seconds: float) -> dict:
    """Per-sample microseconds of each stage, each measured alone on the first shard."""
    with open_shard(paths[0]) as reader:
        info = reader.info
        blocks = [reader.read(b, b + READ_BLOCK) for b in range(0, len(reader), READ_BLOCK)]
        starts = range(0, len(reader), READ_BLOCK)
        read_us = per_sample_us(lambda b: reader.read(b, b + READ_BLOCK), starts, seconds) / READ_BLOCK
        depth_read_us = per_sample_us(lambda b: reader.read(b, b + READ_BLOCK, datasets=(schema.DEPTH,)), starts,
                                      seconds) / READ_BLOCK
    rows = [{name: np.array(values[i]) for name, values in block.items()} for block in blocks
            for i in range(len(block[schema.FRAME]))]
    payloads = [row[schema.IMAGE] for row in rows]
    decode = per_sample_us(lambda p: decode_image(p, "jpeg"), payloads, seconds)
    decode_cv2 = per_sample_us(decode_with_cv2, payloads, seconds)
    decoded = [dict(row, **{schema.IMAGE: decode_image(row[schema.IMAGE], "jpeg")}) for row in rows]
    raw_info = type(info)(**{**info.__dict__, "image_codec": "raw"})
    samples = [_to_sample(row, raw_info) for row in decoded[:BATCH]]
    depth_us = per_sample_us(lambda row: row[schema.DEPTH].astype(np.float32)[None], rows, seconds)
    dict_us = per_sample_us(lambda row: _to_sample(row, raw_info), decoded, seconds)
    augmentor = KeyedAugmentor()
    uint8_samples = [dict(s, image=np.ascontiguousarray(d[schema.IMAGE]), depth=d[schema.DEPTH][None])
                     for s, d in zip(samples, decoded, strict=False)]
    augment_uint8_us = per_sample_us(augmentor, uint8_samples, seconds)
    augment_float_us = per_sample_us(augmentor, samples, seconds)
    numpy_batch = {name: value.numpy() for name, value in build_batch([(blocks[0], i, info) for i in range(BATCH)]).items()}
    augment_batched_us = per_sample_us(EveryCallAnEpoch(), [numpy_batch], seconds) / BATCH
    collate_us = per_sample_us(default_collate, [samples], seconds) / len(samples)
    batch_rows = [(blocks[0], i, info) for i in range(BATCH)]
    build_us = per_sample_us(lambda rows_: build_batch(rows_), [batch_rows], seconds) / BATCH
    new_batch = build_batch(batch_rows)
    old_batch = default_collate(samples)
    normalise_us = per_sample_us(lambda b: batch_to_device(b, torch.device("cpu")), [new_batch], seconds) / BATCH
    return {
        "hdf5_read_us": round(read_us, 1),
        "hdf5_read_depth_us": round(depth_read_us, 1),
        "jpeg_decode_us": round(decode, 1),
        "jpeg_decode_cv2_us": round(decode_cv2, 1),
        "depth_to_float32_us": round(depth_us, 1),
        "per_sample_dict_us (float conversions incl.)": round(dict_us, 1),
        "augment_uint8_hwc_us": round(augment_uint8_us, 1),
        "augment_float_chw_us": round(augment_float_us, 1),
        "augment_batched_us": round(augment_batched_us, 1),
        "default_collate_us": round(collate_us, 1),
        "batch_build_us (decode incl.)": round(build_us, 1),
        "batch_build_minus_decode_us": round(build_us - decode, 1),
        "normalise_on_device_us (here: cpu)": round(normalise_us, 1),
        "transfer_float32_batch_us": round(transfer_us(old_batch, seconds), 1),
        "transfer_uint8_batch_us": round(transfer_us(new_batch, seconds), 1),
        "transfer_packed_batch_us": round(transfer_us(new_batch, seconds, packed=True), 1),
    }


def decode_with_cv2(payload: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """OpenCV's JPEG decode to RGB (into `out` if given): the decoder the loader used before simplejpeg."""
    return cv2.cvtColor(cv2.imdecode(payload, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB, dst=out)


def decode_limit(paths: list[Path], seconds: float, decode_into=decode_rgb_into) -> float:
    """Samples/s of a JPEG decode alone (default: the loader's), one core: the best of three measurements
    each of decoding into a batch array (as the loader does) and into a new array, as a limit should be.
    This machine runs the same decode at one of two speeds, up to 40 % apart, by where the output lies
    against the codec's own buffers (cache aliasing; it changes from process to process)."""
    with open_shard(paths[0]) as reader:
        payloads = list(reader.read(0, len(reader))[schema.IMAGE])
        side = reader.info.image_size
    batch = np.empty((BATCH, side, side, 3), dtype=np.uint8)
    items = list(enumerate(payloads))
    rates = []
    for _ in range(3):
        rates.append(1e6 / per_sample_us(lambda item: decode_into(item[1], batch[item[0] % BATCH]), items, seconds / 6))
        rates.append(1e6 / per_sample_us(lambda item: decode_into(item[1], np.empty_like(batch[0])), items, seconds / 6))
    return max(rates)


def cpu_seconds(loader) -> float:
    """CPU seconds used so far by this process (all its threads) and the loader's worker processes."""
    total = time.process_time()
    iterator = getattr(loader, "_iterator", None)  # persistent workers: the live iterator holds them
    for worker in getattr(iterator, "_workers", []):
        try:
            fields = Path(f"/proc/{worker.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
    return total


def run_loader(make, workers: int, seconds: float) -> dict:
    """Samples/s over about `seconds` of epochs after the first batch; start-up (first batch) apart.

    Also the CPU time the loader used meanwhile (this process, which consumes the batches, and the
    workers): samples per CPU second is the loader's rate per core it kept busy, whatever the machine's
    number of cores (here two, shared by the main process and two workers).
    """
    dataset, loader = make(workers)
    started = time.perf_counter()
    startup, count, epoch, counting_since, cpu_since = None, 0, 0, None, 0.0
    while True:
        if hasattr(dataset, "set_epoch"):
            dataset.set_epoch(epoch)
        for batch in loader:
            if startup is None:
                startup = time.perf_counter() - started
                counting_since, cpu_since = time.perf_counter(), cpu_seconds(loader)
                continue
            count += len(batch["frame"])
        epoch += 1
        if counting_since is not None and time.perf_counter() - counting_since >= seconds:
            break
    elapsed = time.perf_counter() - counting_since
    cpu = cpu_seconds(loader) - cpu_since  # persistent workers still alive: their time is readable
    return {"samples": count, "seconds": round(elapsed, 2), "startup_s": round(startup, 3),
            "samples_per_s": round(count / elapsed, 1), "epochs": epoch, "cpu_seconds": round(cpu, 2),
            "cores_busy": round(cpu / elapsed, 2), "samples_per_cpu_s": round(count / cpu, 1) if cpu > 0 else None}


def loaders(shards: list[Path], tars: list[Path]) -> dict:
    def batches(transform=None, packed=True):
        def make(workers):
            dataset = ShardDataset(shards, shuffle_buffer=256, batch_size=BATCH, batches=True, transform=transform,
                                   packed=packed)
            return dataset, DataLoader(dataset, batch_size=None, num_workers=workers, persistent_workers=workers > 0)
        return make

    def per_sample(workers):
        dataset = ShardDataset(shards, shuffle_buffer=256, batch_size=BATCH)
        return dataset, DataLoader(dataset, batch_size=BATCH, num_workers=workers, drop_last=True)

    def tar(workers):
        dataset = TarDataset(tars, extract=False)
        return dataset, DataLoader(dataset, batch_size=BATCH, num_workers=workers)

    return {"batches": batches(), "batches_unpacked": batches(packed=False), "batches_aug": batches(BatchAugmentor(DEFAULT_AUGMENT, "h36m17", 0)), "per_sample": per_sample, "tar": tar}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1.5 s per point, 2000 samples (a smoke run)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256], help="crop sides, px")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--seconds", type=float, help="measured seconds per point (default 4, quick 1.5)")
    parser.add_argument("--samples", type=int, help="samples per size (default 4000, quick 2000)")
    parser.add_argument("--repeats", type=int, help="rounds over all loaders; each cell is the median (default 3, quick 1)")
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "results" / "loader.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    seconds = args.seconds or (1.5 if args.quick else 4.0)
    count = args.samples or (2000 if args.quick else 4000)
    args.repeats = args.repeats or (1 if args.quick else 3)
    results: dict = {"samples": count, "batch_size": BATCH, "seconds_per_point": seconds, "repeats": args.repeats,
                     "sizes": {}}
    for size in args.sizes:
        depth_size = size // 2
        # Photo-like crops (blurred noise) so JPEG sizes are realistic.
        samples = make_samples(count, 0, image_size=size, depth_size=depth_size, photo_like=True)
        samples[schema.DEPTH] = samples[schema.DEPTH].astype(np.float16)  # as the shards store it
        with tempfile.TemporaryDirectory(prefix="bench-loader-") as scratch:
            scratch = Path(scratch)
            (scratch / "shards").mkdir()
            (scratch / "tar").mkdir()
            shards = write_shards(samples, scratch / "shards", "jpeg", size, depth_size)
            tars = write_tars(samples, scratch / "tar", gzip=False)
            limit = decode_limit(shards, seconds)
            limit_cv2 = decode_limit(shards, seconds, decode_with_cv2)
            entry: dict = {"depth_size": depth_size, "shard_bytes": folder_bytes(shards), "tar_bytes": folder_bytes(tars),
                           "decode_limit_per_core": round(limit, 1), "decode_limit_cv2_per_core": round(limit_cv2, 1),
                           "profile_us_per_sample": profile(shards, seconds / 4)}
            print(f"{size} px: decode limit {limit:.0f}/s per core (cv2 {limit_cv2:.0f}); "
                  f"profile {json.dumps(entry['profile_us_per_sample'])}", flush=True)
            # Every loader and worker count once per round, `--repeats` rounds: the median of a cell's
            # rounds, so that a slow minute of a shared machine does not land on one loader only.
            made = loaders(shards, tars)
            rounds: dict = {name: {workers: [] for workers in args.workers} for name in made}
            for round_index in range(args.repeats):
                for name, make in made.items():
                    for workers in args.workers:
                        point = run_loader(make, workers, seconds)
                        rounds[name][workers].append(point)
                        print(f"{size:4d} px {name:16s} workers={workers} round {round_index + 1}: "
                              f"{point['samples_per_s']:8.1f} samples/s (start-up {point['startup_s']:.2f} s)", flush=True)
            for name in made:
                entry[name] = {}
                for workers, points in rounds[name].items():
                    rates = [p["samples_per_s"] for p in points]
                    point = dict(points[int(np.argsort(rates)[len(rates) // 2])], rounds_samples_per_s=rates)
                    point["of_decode_limit_per_core"] = round(point["samples_per_s"] / (limit * max(workers, 1)), 2)
                    point["of_cv2_decode_limit_per_core"] = round(point["samples_per_s"] / (limit_cv2 * max(workers, 1)), 2)
                    if point["samples_per_cpu_s"]:
                        point["of_decode_limit_per_cpu_s"] = round(point["samples_per_cpu_s"] / limit, 2)
                    entry[name][f"workers_{workers}"] = point
            for name in ("batches", "batches_unpacked", "batches_aug", "per_sample"):
                for key, point in entry[name].items():
                    point["ratio_vs_tar"] = round(point["samples_per_s"] / entry["tar"][key]["samples_per_s"], 2)
            results["sizes"][str(size)] = entry
    print(table(results))
    write_results(args.output, results)


def table(results: dict) -> str:
    """Markdown tables: augmentation per sample by path; samples/s, share of the decode limit per core, ratio to tar."""
    lines = ["| size | augment us/sample: per sample | batched | JPEG decode us/sample |", "|---|---|---|---|"]
    for size, entry in results["sizes"].items():
        stages = entry["profile_us_per_sample"]
        lines.append(f"| {size} | {stages['augment_uint8_hwc_us']:.0f} | {stages['augment_batched_us']:.0f} | "
                     f"{stages['jpeg_decode_us']:.0f} |")
    lines += ["", "| size | workers | decode limit/core (cv2) | batches | batches_unpacked | batches_aug | per_sample | "
                  "tar | batches/limit/core (cv2) | cores busy | batches per CPU s / limit | batches/tar |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for size, entry in results["sizes"].items():
        for key in entry["batches"]:
            b = entry["batches"][key]
            lines.append(f"| {size} | {key.split('_')[1]} | {entry['decode_limit_per_core']:.0f} "
                         f"({entry['decode_limit_cv2_per_core']:.0f}) | {b['samples_per_s']:.0f} | "
                         f"{entry['batches_unpacked'][key]['samples_per_s']:.0f} | "
                         f"{entry['batches_aug'][key]['samples_per_s']:.0f} | {entry['per_sample'][key]['samples_per_s']:.0f} | "
                         f"{entry['tar'][key]['samples_per_s']:.0f} | {b['of_decode_limit_per_core']:.2f} "
                         f"({b['of_cv2_decode_limit_per_core']:.2f}) | {b['cores_busy']:.2f} | "
                         f"{b.get('of_decode_limit_per_cpu_s', float('nan')):.2f} | {b['ratio_vs_tar']:.2f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
