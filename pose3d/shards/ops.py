"""Shard-to-shard operations: split by subject, re-chunk, and a global shuffle.

All three stream: they read blocks of samples and append them to `ShardWriter`s, so memory
does not grow with the dataset. The shuffle holds at most about one output shard in memory.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from pose3d.shards import schema
from pose3d.shards.reader import ShardError, ShardInfo, ShardReader, shard_info
from pose3d.shards.writer import ShardWriter

log = logging.getLogger(__name__)

READ_BLOCK = 512  # samples read from an input shard at a time


def balanced_sizes(total: int, parts: int) -> list[int]:
    """`total` items in `parts` groups whose sizes differ by at most one (larger first)."""
    if parts < 1:
        raise ValueError(f"need at least one output shard, got {parts}")
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def writer_settings(infos: Sequence[ShardInfo]) -> dict[str, Any]:
    """Writer arguments shared by all inputs; inputs that disagree are an error naming both files."""
    if not infos:
        raise ShardError("no input shards given")
    first = infos[0]
    for info in infos[1:]:
        for key in ("image_codec", "image_size", "depth_size", "keypoints_layout"):
            if getattr(info, key) != getattr(first, key):
                raise ShardError(
                    f"{info.path}: {key} = {getattr(info, key)!r} differs from {first.path} ({getattr(first, key)!r}); "
                    "all inputs must be chunked with the same shards.* settings and perception backend"
                )
    return {
        "image_size": first.image_size,
        "depth_size": first.depth_size,
        "image_codec": first.image_codec,
        "keypoints_layout": first.keypoints_layout,
        "source": str(first.attrs.get(schema.ATTR_SOURCE, "")),
    }


def _take(batch: dict[str, Any], selection: Any) -> dict[str, Any]:
    return {name: values[selection] for name, values in batch.items()}


def _blocks(path: str | Path, block: int = READ_BLOCK) -> Iterator[dict[str, Any]]:
    with ShardReader(path) as reader:
        for start in range(0, len(reader), block):
            yield reader.read(start, start + block)


class _SequentialOutputs:
    """Fill output shards one after another, each up to its planned size."""

    def __init__(self, paths: Sequence[str | Path], sizes: Sequence[int], settings: dict[str, Any], attrs: dict[str, Any]):
        self._paths, self._sizes = list(paths), list(sizes)
        self._settings, self._attrs = settings, attrs
        self._index, self._writer = -1, None
        self._next()

    def _next(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._index += 1
        if self._index < len(self._paths):
            self._writer = ShardWriter(self._paths[self._index], attrs=self._attrs, **self._settings)
        else:
            self._writer = None

    def append(self, batch: dict[str, Any]) -> None:
        count, offset = len(batch[schema.IMAGE]), 0
        while offset < count:
            room = self._sizes[self._index] - len(self._writer)
            if room == 0:
                self._next()
                continue
            take = min(room, count - offset)
            self._writer.append(_take(batch, slice(offset, offset + take)))
            offset += take

    def close(self) -> None:
        # Shards still to come (only when the input has fewer samples than outputs) stay empty.
        while self._writer is not None:
            self._next()

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.abort()


def _redistribute(
    inputs: Sequence[str | Path],
    outputs: Sequence[str | Path],
    selected: Sequence[np.ndarray],
    attrs: dict[str, Any],
    description: str,
) -> list[int]:
    """Copy the selected samples of `inputs` (boolean masks), in order, into balanced `outputs`."""
    infos = [shard_info(path) for path in inputs]
    settings = writer_settings(infos)
    total = int(sum(mask.sum() for mask in selected))
    sizes = balanced_sizes(total, len(outputs))
    if total < len(outputs):
        log.warning("%s: %d samples for %d shards; some shards will be empty", description, total, len(outputs))
    sink = _SequentialOutputs(outputs, sizes, settings, attrs)
    try:
        with tqdm(total=total, desc=description, unit="sample") as bar:
            for path, mask in zip(inputs, selected, strict=True):
                start = 0
                for batch in _blocks(path):
                    count = len(batch[schema.IMAGE])
                    keep = mask[start : start + count]
                    start += count
                    if keep.any():
                        sink.append(_take(batch, keep))
                        bar.update(int(keep.sum()))
        sink.close()
    except BaseException:
        sink.abort()
        raise
    return sizes


def split_by_subject(
    chunk_paths: Sequence[str | Path], subjects: Sequence[int], output_paths: Sequence[str | Path]
) -> list[int]:
    """Write every sample of `subjects` found in the chunks into balanced output shards, in input order.

    A requested subject without any sample is an error (it would silently shrink the split).
    Returns the number of samples per output shard.
    """
    wanted = np.asarray(sorted(set(int(s) for s in subjects)))
    masks, found = [], set()
    for path in chunk_paths:
        with ShardReader(path) as reader:
            subject = reader.read(datasets=[schema.SUBJECT])[schema.SUBJECT]
        masks.append(np.isin(subject, wanted))
        found.update(int(s) for s in np.unique(subject[masks[-1]]))
    missing = sorted(set(wanted.tolist()) - found)
    if missing:
        raise ShardError(
            f"subjects {missing} have no samples in the chunks {[str(p) for p in chunk_paths]}; "
            "check dataset.subjects and the chunk logs"
        )
    sizes = _redistribute(chunk_paths, output_paths, masks, {"subjects": wanted}, "split")
    log.info("split subjects %s: %d samples into %d shards %s", wanted.tolist(), sum(sizes), len(sizes), sizes)
    return sizes


def rechunk(input_paths: Sequence[str | Path], output_paths: Sequence[str | Path]) -> list[int]:
    """Rewrite shards into a different number of balanced shards, keeping the sample order."""
    masks = [np.ones(shard_info(path).num_samples, dtype=bool) for path in input_paths]
    return _redistribute(input_paths, output_paths, masks, {}, "rechunk")


def shuffle_shards(input_paths: Sequence[str | Path], output_paths: Sequence[str | Path], seed: int) -> list[int]:
    """Globally shuffle samples of `input_paths` into balanced `output_paths`, deterministically from `seed`.

    Pass 1 streams the inputs once and sends each sample to a random target shard (a seeded
    permutation of balanced target labels), written as temporary files next to the outputs.
    Pass 2 loads one temporary shard at a time (about one output shard of memory), permutes
    it, and writes the final shard. Returns the number of samples per output shard.
    """
    outputs = [Path(p) for p in output_paths]
    infos = [shard_info(path) for path in input_paths]
    settings = writer_settings(infos)
    total = sum(info.num_samples for info in infos)
    sizes = balanced_sizes(total, len(outputs))
    rng = np.random.default_rng(seed)
    targets = rng.permutation(np.repeat(np.arange(len(outputs), dtype=np.int32), sizes))
    parts = [out.with_name(f".{out.stem}.unshuffled.h5") for out in outputs]
    # Keep the buffered samples of all open writers to about one read block.
    flush_every = max(8, READ_BLOCK // len(outputs))
    attrs: dict[str, Any] = {"shuffle_seed": int(seed)}
    splits = {str(info.attrs.get(schema.ATTR_SPLIT, "")) for info in infos}
    if len(splits) == 1 and "" not in splits:
        attrs[schema.ATTR_SPLIT] = splits.pop()  # shuffled train shards stay labelled "train"
    try:
        writers = [ShardWriter(part, flush_every=flush_every, **settings) for part in parts]
        try:
            offset = 0
            with tqdm(total=total, desc="shuffle: scatter", unit="sample") as bar:
                for path in input_paths:
                    for batch in _blocks(path):
                        count = len(batch[schema.IMAGE])
                        block_targets = targets[offset : offset + count]
                        offset += count
                        for target in np.unique(block_targets):
                            writers[target].append(_take(batch, block_targets == target))
                        bar.update(count)
            for writer in writers:
                writer.close()
        except BaseException:
            for writer in writers:
                writer.abort()
            raise
        for part, out in tqdm(list(zip(parts, outputs, strict=True)), desc="shuffle: permute", unit="shard"):
            with ShardReader(part) as reader:
                data = reader.read()
            order = rng.permutation(len(data[schema.IMAGE]))
            with ShardWriter(out, attrs=attrs, flush_every=READ_BLOCK, **settings) as writer:
                for start in range(0, len(order), READ_BLOCK):
                    writer.append(_take(data, order[start : start + READ_BLOCK]))
            del data
            part.unlink()
    finally:
        for part in parts:
            part.unlink(missing_ok=True)
    log.info("shuffled %d samples (seed %d) into %d shards %s", total, seed, len(sizes), sizes)
    return sizes
