"""`ShardDataset`: a torch IterableDataset that streams samples from HDF5 shards.

Sample contract (one sample, a dict of numpy values; DataLoader's default collate turns
each into a batched torch tensor with a leading batch axis B):

| key            | dtype / shape        | meaning                                                        |
|----------------|----------------------|----------------------------------------------------------------|
| image          | float32 (3, S, S)    | RGB person crop in [0, 1]                                      |
| depth          | float32 (1, Sd, Sd)  | depth crop aligned with the image crop, metres, 0 = no surface |
| keypoints_2d   | float32 (17, 3)      | x, y in image-crop pixels + score; layout from `keypoints_layout(paths)` |
| joints_3d      | float32 (17, 3)      | Human3.6M-17 joints, camera space, mm, absolute                |
| intrinsics     | float32 (4,)         | fx, fy, cx, cy of the ORIGINAL image (crop's: geometry.crop_intrinsics) |
| crop           | float32 (3,)         | x0, y0, scale: original pixel = crop pixel * scale + (x0, y0)   |
| subject, action, subaction, camera, frame | int64 () | provenance                              |

`fields` (default: all) names the image-side fields a consumer needs: a sample without `image`
or `depth` in it never reads or decodes them (a keypoint-only model trains from the small arrays).
The geometry (keypoints_2d, joints_3d, intrinsics, crop) and provenance are always present.

`transform` (e.g. the augmentor) receives exactly this dict and must return one in the same
contract (in batch mode: a whole batch, see below); it runs inside the DataLoader worker.

Work division: the shards' samples form one global index range, cut into contiguous pieces,
one per (DDP rank, DataLoader worker) consumer, sizes differing by at most one sample. So
every sample is seen exactly once per epoch across all ranks and workers, and nothing is
dropped. Ranks may thus differ by one sample; `even_ranks=True` instead gives every rank
exactly floor(N / world_size) samples by leaving out the last N mod world_size samples of
that epoch's order (a different few each epoch when training), which DDP needs to keep
ranks in step. Rank and world size come from torch.distributed when it is initialised, else
from the RANK / WORLD_SIZE environment variables set by torchrun.

Training mode (default): each epoch (`set_epoch`) reseeds a permutation of the shard
order; the rank's range is read in blocks in a random block order and mixed through a
shuffle buffer of `shuffle_buffer` samples. That order is computed on sample keys alone, for
the whole rank, and cut into batches of `batch_size`; DataLoader worker w of W yields batches
w, w + W, ... so the DataLoader's round robin returns batches 0, 1, 2, ... whatever the number
of workers: the data order is a function of (seed, epoch, rank) only. The last partial batch
of a rank is left out when `batch_size` > 1 (the DataLoader then needs `drop_last=True`).
`skip_batches(n)` starts the current epoch at batch n without reading what it skips: a run
resumed inside an epoch continues at the next batch with the same order. Evaluation mode
(`evaluation=True`): shards in the given order, samples in file order, contiguous pieces per
worker, no buffer, no epoch dependence.

Batch mode (`batches=True`, training only): each worker yields its whole batches in the
batch contract of `pose3d.training.batches` (uint8 images, float16 depth, normalised on the
device by `batch_to_device`), built straight from the blocks read; use it with
`DataLoader(batch_size=None)`. The order of samples and batches is exactly the per-sample mode's;
`transform` there is a batch transform (`augment.BatchAugmentor`), called once per batch on numpy
arrays of the batch contract. `decode_on="device"` leaves the JPEG bytes for a batched decode on the device.
Inside a DataLoader worker each batch is a `PackedBatch`: one reused shared-memory buffer to hand over.

HDF5 files are opened lazily inside `__iter__` (i.e. inside each worker, after the fork) and kept open,
up to KEPT_READERS of them, for the next epochs (`ShardReaders`); a process closes them all before it
forks (a child must not inherit open HDF5 files) and reopens them on their next read. The epoch and the start batch live in shared memory, so
persistent DataLoader workers see `set_epoch` and `skip_batches` made in the main process
before each `iter(loader)`; the dataset hands its epoch to a `transform` with `set_epoch` too.
"""

from __future__ import annotations

import functools
import os
import weakref
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from pose3d.shards import schema
from pose3d.shards.reader import ShardCache, ShardError, ShardInfo, ShardReader, decode_image, open_shard
from pose3d.training.batches import DECODE_ON, Batch, build_batch
from pose3d.training.packed_batch import PackedBatch, worker_pool

Sample = dict[str, Any]
READ_BLOCK = 64  # samples read from a shard at once
KEPT_READERS = 64  # shards a process keeps open between epochs (each holds a file and its chunk cache)


class ShardReaders:
    """Open shards by index, least recently used closed beyond `capacity`.

    A dataset keeps its readers from one epoch to the next (in a persistent DataLoader worker, or in
    the main process): reopening and validating a shard costs about 1.5 ms, a few microseconds per
    sample of a 500-sample shard every epoch. Every instance closes its files before its process
    forks (`_close_before_fork`) and reopens them when next read.
    """

    def __init__(self, paths: Sequence[str], cache: ShardCache | None, capacity: int = KEPT_READERS) -> None:
        self.paths, self.cache, self.capacity = paths, cache, capacity
        self._open: OrderedDict[int, ShardReader] = OrderedDict()
        _LIVE_READERS.add(self)

    def __getitem__(self, shard: int) -> ShardReader:
        reader = self._open.get(shard)
        if reader is None:
            reader = self._open[shard] = open_shard(self.paths[shard], self.cache)
            while len(self._open) > self.capacity:
                self._open.popitem(last=False)[1].close()
        else:
            self._open.move_to_end(shard)
        return reader

    def close(self) -> None:
        while self._open:
            self._open.popitem()[1].close()


_LIVE_READERS: weakref.WeakSet[ShardReaders] = weakref.WeakSet()


def _close_before_fork() -> None:
    """A forked child must not inherit open HDF5 files (HDF5's state is not fork-safe): close them all."""
    for readers in list(_LIVE_READERS):
        readers.close()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_close_before_fork)


def keypoints_layout(paths: Sequence[str | Path], cache: ShardCache | None = None) -> str:
    """The 2D keypoint layout ("coco17" | "h36m17") shared by all shards; mixed layouts are an error."""
    infos = []
    for path in paths:
        with open_shard(path, cache) as reader:
            infos.append(reader.info)
    return keypoints_layout_of(infos)


def distributed_rank_and_size() -> tuple[int, int]:
    """(rank, world_size) from torch.distributed if initialised, else RANK / WORLD_SIZE, else (0, 1)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def _pieces(lengths: Sequence[int], order: Sequence[int], start: int, stop: int) -> list[tuple[int, int, int]]:
    """Global range [start, stop) over shards concatenated in `order` -> (shard, begin, end) pieces."""
    pieces, offset = [], 0
    for shard in order:
        begin, end = max(start, offset), min(stop, offset + lengths[shard])
        if begin < end:
            pieces.append((shard, begin - offset, end - offset))
        offset += lengths[shard]
    return pieces


class ShardDataset(IterableDataset):
    """Stream samples of the sample contract above from a list of shard paths."""

    def __init__(
        self,
        paths: Sequence[str | Path],
        *,
        shuffle_buffer: int = 0,
        seed: int = 0,
        transform: Callable[[Sample], Sample] | None = None,
        evaluation: bool = False,
        even_ranks: bool = False,
        cache: ShardCache | None = None,
        rank: int | None = None,
        world_size: int | None = None,
        batch_size: int = 1,
        fields: Sequence[str] | None = None,
        batches: bool = False,
        decode_on: str = "cpu",
        packed: bool = True,
    ) -> None:
        super().__init__()
        self.paths = [str(path) for path in paths]
        # Sample field -> stored dataset, for the two that are expensive and only some models read.
        optional = {"image": schema.IMAGE, "depth": schema.DEPTH}
        skipped = {optional[name] for name in optional if fields is not None and name not in fields}
        self.datasets = tuple(name for name in schema.ALL_DATASETS if name not in skipped)
        if not self.paths:
            raise ShardError("ShardDataset needs at least one shard")
        self.cache = cache
        # Validate every shard now (and learn its length); nothing stays open before the fork.
        self.infos: list[ShardInfo] = []
        for path in self.paths:
            with open_shard(path, cache) as reader:
                self.infos.append(reader.info)
        self.keypoints_layout = keypoints_layout_of(self.infos)
        self.shuffle_buffer = 0 if evaluation else max(0, int(shuffle_buffer))
        self.seed = int(seed)
        self.transform = transform
        self.evaluation = evaluation
        self.even_ranks = even_ranks
        self._rank, self._world_size = rank, world_size
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.batch_size = int(batch_size)
        if batches and evaluation:
            raise ValueError("batches=True is for training mode")
        if decode_on not in DECODE_ON:
            raise ValueError(f"decode_on must be one of {DECODE_ON}, got {decode_on!r}")
        if batches and len({info.image_size for info in self.infos}) > 1:
            raise ShardError(f"shards mix crop sizes: { {info.path: info.image_size for info in self.infos} }")
        self.batches = batches
        self.decode_on = decode_on
        self.packed = packed  # batch mode in a worker: one reused shared buffer per batch (False: torch's per-tensor hand-over)
        # (epoch, start batch) in shared memory: persistent workers read what the main process set.
        self._state = torch.zeros(2, dtype=torch.int64).share_memory_()
        self._kept_readers: tuple[int, ShardReaders] | None = None  # (pid, readers): this process's open shards

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_kept_readers": None}  # open files do not travel to a new process

    def _readers(self) -> ShardReaders:
        """This process's readers, kept across epochs (a forked worker starts its own)."""
        if self._kept_readers is None or self._kept_readers[0] != os.getpid():
            self._kept_readers = (os.getpid(), ShardReaders(self.paths, self.cache))
        return self._kept_readers[1]

    @property
    def epoch(self) -> int:
        return int(self._state[0])

    @property
    def start_batch(self) -> int:
        return int(self._state[1])

    def set_epoch(self, epoch: int) -> None:
        """Reseed the order for `epoch` and start at its first batch (call before iterating, in the main process)."""
        self._state[0], self._state[1] = int(epoch), 0

    def skip_batches(self, count: int) -> None:
        """Start the current epoch at batch `count` (training mode): what a resume inside an epoch needs."""
        if self.evaluation:
            raise ValueError("skip_batches is for training mode; evaluation datasets have no batch order")
        if not 0 <= count <= self.batches_per_epoch:
            raise ValueError(f"cannot skip {count} batches: an epoch of this rank has {self.batches_per_epoch}")
        self._state[1] = int(count)

    @property
    def batches_per_epoch(self) -> int:
        """Batches this rank yields per epoch in training mode (a last partial batch is left out)."""
        if self.batch_size == 1:
            return len(self)
        return len(self) // self.batch_size

    @property
    def total_samples(self) -> int:
        return sum(info.num_samples for info in self.infos)

    def _rank_world(self) -> tuple[int, int]:
        rank, world = distributed_rank_and_size()
        rank = rank if self._rank is None else self._rank
        world = world if self._world_size is None else self._world_size
        if not 0 <= rank < world:
            raise ValueError(f"rank {rank} outside world size {world}")
        return rank, world

    def _rank_range(self) -> tuple[int, int]:
        """This rank's [start, stop) in the epoch's global sample order."""
        rank, world = self._rank_world()
        total = self.total_samples
        if self.even_ranks:
            per_rank = total // world
            return rank * per_rank, (rank + 1) * per_rank
        return rank * total // world, (rank + 1) * total // world

    def __len__(self) -> int:
        """Samples this rank yields per epoch (over all its DataLoader workers)."""
        start, stop = self._rank_range()
        return stop - start

    def _pieces_for_this_worker(self) -> list[tuple[int, int, int]]:
        start, stop = self._rank_range()
        worker = get_worker_info()
        worker_id, num_workers = (worker.id, worker.num_workers) if worker is not None else (0, 1)
        count = stop - start
        begin = start + worker_id * count // num_workers
        end = start + (worker_id + 1) * count // num_workers
        lengths = [info.num_samples for info in self.infos]
        return _pieces(lengths, list(range(len(self.paths))), begin, end)

    def __iter__(self) -> Iterator[Sample] | Iterator[Batch]:
        if hasattr(self.transform, "set_epoch"):
            self.transform.set_epoch(self.epoch)  # a persistent worker's copy of the transform
        if self.batches:
            yield from self._training_batches()
            return
        rows = self._read_rows(self._pieces_for_this_worker()) if self.evaluation else self._training_rows()
        # Decode after ordering, so only encoded images wait in memory.
        for row, shard in rows:
            sample = _to_sample(row, self.infos[shard])
            yield self.transform(sample) if self.transform is not None else sample

    def epoch_order(self) -> list[tuple[int, int]]:
        """This rank's (shard, row) keys in the training order of the current epoch.

        Computed from keys alone, so it costs no reads: the shard order is permuted, the rank's
        range is cut into blocks of READ_BLOCK rows read in a random order, and the rows pass
        through the shuffle buffer.
        """
        rank, _world = self._rank_world()
        start, stop = self._rank_range()
        lengths = [info.num_samples for info in self.infos]
        # The shard order is shared by all ranks (their ranges cut one global order); the rest is per rank.
        order = np.random.default_rng([self.seed, self.epoch]).permutation(len(self.paths)).tolist()
        rng = np.random.default_rng([self.seed, self.epoch, rank])
        blocks = [(shard, b, min(b + READ_BLOCK, end))
                  for shard, begin, end in _pieces(lengths, order, start, stop) for b in range(begin, end, READ_BLOCK)]
        blocks = [blocks[i] for i in rng.permutation(len(blocks))]
        keys = ((shard, row) for shard, begin, end in blocks for row in range(begin, end))
        if self.shuffle_buffer > 1:
            return list(_shuffle_buffer(keys, self.shuffle_buffer, rng))
        return list(keys)

    def _my_batches(self) -> tuple[list[tuple[int, int]], int]:
        """This worker's keys (its batches w, w + W, ... from `start_batch`, in order) and the batch size."""
        worker = get_worker_info()
        worker_id, num_workers = (worker.id, worker.num_workers) if worker is not None else (0, 1)
        order = self.epoch_order()
        size = self.batch_size
        mine = [key for batch in range(self.start_batch + worker_id, self.batches_per_epoch, num_workers)
                for key in order[batch * size:(batch + 1) * size]]
        return mine, size

    def _training_batches(self) -> Iterator[Batch]:
        """This worker's batches, each built from the blocks it needs; a block is read once and
        dropped after its last row of this worker is used."""
        mine, size = self._my_batches()
        block_of = [(shard, row - row % READ_BLOCK) for shard, row in mine]
        waiting = Counter(block_of)
        loaded: dict[tuple[int, int], dict[str, np.ndarray]] = {}
        readers = self._readers()
        pool = worker_pool() if self.packed and get_worker_info() is not None else None
        # In a worker the batch is built straight into a shared buffer of its pool (unless a transform makes new arrays).
        allocate = functools.partial(PackedBatch.allocate, pool=pool) if pool is not None else None
        for first in range(0, len(mine), size):
            rows = []
            for (shard, row), block in zip(mine[first:first + size], block_of[first:first + size], strict=True):
                if block not in loaded:
                    end = min(block[1] + READ_BLOCK, self.infos[shard].num_samples)
                    loaded[block] = readers[shard].read(block[1], end, datasets=self.datasets)
                rows.append((loaded[block], row - block[1], self.infos[shard]))
            batch = build_batch(rows, self.transform, self.decode_on, allocate)
            yield PackedBatch.pack(batch, pool) if pool is not None and not isinstance(batch, PackedBatch) else batch
            for block in block_of[first:first + size]:
                waiting[block] -= 1
                if waiting[block] == 0:
                    del loaded[block]

    def _training_rows(self) -> Iterator[tuple[dict, int]]:
        """Stored rows of this worker's batches (w, w + W, ... counted from `start_batch`), in order."""
        mine, _size = self._my_batches()
        # Read each needed block once, keep only this worker's rows of it, drop it when they are used.
        block_of = {key: (key[0], key[1] - key[1] % READ_BLOCK) for key in mine}
        rows_of_block: dict[tuple[int, int], list[int]] = defaultdict(list)
        for (_shard, row), block in block_of.items():
            rows_of_block[block].append(row)
        waiting = Counter(block_of.values())
        loaded: dict[tuple[int, int], dict[int, dict]] = {}
        readers = self._readers()
        for key in mine:
            shard, row = key
            block = block_of[key]
            if block not in loaded:
                begin, end = block[1], min(block[1] + READ_BLOCK, self.infos[shard].num_samples)
                data = readers[shard].read(begin, end, datasets=self.datasets)
                loaded[block] = {r: {name: np.array(values[r - begin]) for name, values in data.items()}
                                 for r in rows_of_block[block]}
            yield loaded[block].pop(row), shard
            waiting[block] -= 1
            if waiting[block] == 0:
                del loaded[block]

    def _read_rows(self, pieces: list[tuple[int, int, int]]) -> Iterator[tuple[dict, int]]:
        """Stored samples (images still encoded) of these pieces in file order, with their shard index."""
        readers = self._readers()
        for shard, begin, end in pieces:
            for b in range(begin, end, READ_BLOCK):
                batch = readers[shard].read(b, min(b + READ_BLOCK, end), datasets=self.datasets)
                for i in range(len(batch[schema.JOINTS_3D])):
                    # Copies, so a kept row does not hold its whole block alive.
                    yield {name: np.array(values[i]) for name, values in batch.items()}, shard


def keypoints_layout_of(infos: Sequence[ShardInfo]) -> str:
    """The keypoint layout shared by validated shards; mixed layouts are an error."""
    layouts = {info.path: info.keypoints_layout for info in infos}
    if not layouts:
        raise ShardError("no shards given")
    if len(set(layouts.values())) > 1:
        raise ShardError(f"shards mix keypoint layouts: {layouts}")
    return next(iter(layouts.values()))


def _to_sample(row: dict[str, Any], info: ShardInfo) -> Sample:
    """One stored row -> one sample in the contract (image decoded; image and depth only when read)."""
    sample: Sample = {}
    if schema.IMAGE in row:
        image = decode_image(row[schema.IMAGE], info.image_codec, info.path)
        sample["image"] = np.ascontiguousarray(image.transpose(2, 0, 1), dtype=np.float32) / np.float32(255.0)
    if schema.DEPTH in row:
        sample["depth"] = row[schema.DEPTH].astype(np.float32)[None]
    sample.update({
        "keypoints_2d": row[schema.KEYPOINTS_2D].astype(np.float32),
        "joints_3d": row[schema.JOINTS_3D].astype(np.float32),
        "intrinsics": row[schema.INTRINSICS].astype(np.float32),
        "crop": row[schema.CROP].astype(np.float32),
    })
    for name in schema.PROVENANCE:
        sample[name] = np.int64(row[name])
    return sample


def _shuffle_buffer(items: Iterator[Any], size: int, rng: np.random.Generator) -> Iterator[Any]:
    """Yield items in a locally random order, holding at most `size` of them."""
    buffer: list[Any] = []
    for item in items:
        if len(buffer) < size:
            buffer.append(item)
            continue
        index = int(rng.integers(size))
        yield buffer[index]
        buffer[index] = item
    for index in rng.permutation(len(buffer)):
        yield buffer[index]
