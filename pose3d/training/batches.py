"""Whole training batches assembled in the loader worker, normalised on the device.

A DataLoader worker that yields whole batches (`ShardDataset(..., batches=True)` with
`DataLoader(batch_size=None)`) spends its time on what only it can do, decoding JPEG, and
nothing on per-sample dicts or collate: rows are gathered from the blocks read from HDF5
straight into one array per field. Pixels travel as `uint8` and depth as `float16` (a quarter
and a half of float32's bytes through the worker queue and the host-to-device copy);
`batch_to_device` turns them into the ShardDataset sample contract, batched, where the model runs.

Batch contract (one dict of torch tensors per batch of B samples):

| key            | dtype / shape           | meaning                                                  |
|----------------|-------------------------|----------------------------------------------------------|
| image          | uint8 (B, S, S, 3)      | RGB person crops (absent with decode on the device, or when not read) |
| image_jpeg     | uint8 (n,)              | the stored JPEG bytes, one after another, only with `decode_on="device"` |
| image_jpeg_offsets | int64 (B + 1,)      | sample k's JPEG is image_jpeg[offsets[k]:offsets[k + 1]] |
| depth          | float16 (B, 1, Sd, Sd)  | metres, as stored (absent when not read)                 |
| keypoints_2d, joints_3d, intrinsics, crop | float32 | as in the sample contract                  |
| subject, action, subaction, camera, frame | int64 (B,) | provenance                              |

After `batch_to_device`: image float32 (B, 3, S, S) in [0, 1], depth float32 (B, 1, Sd, Sd).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from pose3d.shards import schema
from pose3d.shards.jpeg import decode_rgb_into
from pose3d.shards.reader import ShardError, ShardInfo

Batch = dict[str, Any]
Row = tuple[dict[str, np.ndarray], int, ShardInfo]  # (a block read from a shard, row within it, its shard)
Specs = dict[str, tuple[np.dtype, tuple[int, ...]]]  # field -> (dtype, shape) of a batch's arrays
# Given the batch's array specs, a batch (dict of tensors) holding them, e.g. views of a worker's shared buffer.
Allocator = Callable[[Specs], Batch]
DECODE_ON = ("cpu", "device")
_FLOAT_FIELDS = (schema.KEYPOINTS_2D, schema.JOINTS_3D, schema.INTRINSICS, schema.CROP)


def build_batch(rows: Sequence[Row], transform: Callable[[Batch], Batch] | None = None, decode_on: str = "cpu",
                allocate: Allocator | None = None) -> Batch:
    """Rows of stored blocks -> one batch of the batch contract (images decoded unless `decode_on="device"`).

    `transform` (the augmentor, `augment.BatchAugmentor`) sees the whole batch once, as numpy arrays
    of this contract (image uint8, depth float16, the float32 geometry, int64 provenance), and returns
    the same layout. Without a transform and with CPU decoding, `allocate` provides the arrays and the
    batch is gathered and decoded straight into them (a loader worker's shared buffer: no copy to pack
    it); its batch is returned.
    """
    if decode_on not in DECODE_ON:
        raise ValueError(f"decode_on must be one of {DECODE_ON}, got {decode_on!r}")
    if decode_on == "device" and transform is not None:
        raise ValueError("decode_on='device' cannot run a CPU transform (augmentation warps decoded pixels)")
    specs = _array_specs(rows, decode_on)
    allocated = allocate(specs) if allocate is not None and transform is None and decode_on == "cpu" else None
    if allocated is not None:
        batch: Batch = {name: allocated[name].numpy() for name in specs}
    else:
        batch = {name: np.empty(shape, dtype) for name, (dtype, shape) in specs.items()}
    gather = _gatherer(rows)
    for name in (*_FLOAT_FIELDS, *schema.PROVENANCE):
        gather(name, batch[name])
    if "depth" in batch:
        gather(schema.DEPTH, batch["depth"][:, 0])
    if "image" in batch:
        _decode_images(rows, batch["image"])
    if allocated is not None:
        return allocated
    if decode_on == "device" and schema.IMAGE in rows[0][0]:
        for _, _, info in rows:
            if info.image_codec != "jpeg":
                raise ShardError(f"{info.path}: decode_on='device' needs JPEG shards, this one stores {info.image_codec}")
        payloads = [np.asarray(block[schema.IMAGE][i], dtype=np.uint8) for block, i, _ in rows]
        batch["image_jpeg_offsets"] = np.concatenate([[0], np.cumsum([len(p) for p in payloads])]).astype(np.int64)
        batch["image_jpeg"] = np.concatenate(payloads)  # one array, not B tensors: one piece to hand over
    return _to_tensors(batch if transform is None else transform(batch))


def _array_specs(rows: Sequence[Row], decode_on: str) -> Specs:
    """(dtype, shape) of every array of the batch these rows make, decoded images included (CPU decoding)."""
    block, count = rows[0][0], len(rows)
    specs: Specs = {name: (np.dtype(np.float32), (count, *block[name].shape[1:])) for name in _FLOAT_FIELDS}
    specs.update({name: (np.dtype(np.int64), (count,)) for name in schema.PROVENANCE})
    if schema.DEPTH in block:  # read unless the model needs no depth (ShardDataset(fields=...))
        specs["depth"] = (np.dtype(np.float16), (count, 1, *block[schema.DEPTH].shape[1:]))
    if schema.IMAGE in block and decode_on == "cpu":  # absent: the model needs no image, nothing to decode
        size = rows[0][2].image_size
        specs["image"] = (np.dtype(np.uint8), (count, size, size, 3))
    return specs


def _decode_images(rows: Sequence[Row], images: np.ndarray) -> None:
    """Decode (or copy, for raw shards) each row's crop into `images` (B, S, S, 3) uint8 RGB."""
    size = images.shape[1]
    for k, (block, i, info) in enumerate(rows):
        if info.image_size != size:
            raise ShardError(f"{info.path}: {info.image_size} px crops in a batch of {size} px crops")
        if info.image_codec == "raw":
            images[k] = block[schema.IMAGE][i]
        else:
            decode_rgb_into(block[schema.IMAGE][i], images[k], info.path)


def _gatherer(rows: Sequence[Row]) -> Callable[[str, np.ndarray], None]:
    """A function (field, out) that writes that field of every row into `out`, in row order: one
    fancy-indexed copy per block the rows come from (a batch draws on a few blocks), not one per row."""
    by_block: dict[int, tuple[dict[str, np.ndarray], list[int], list[int]]] = {}
    for k, (block, i, _info) in enumerate(rows):
        _, positions, indices = by_block.setdefault(id(block), (block, [], []))
        positions.append(k)
        indices.append(i)
    groups = [(block, np.asarray(positions), np.asarray(indices)) for block, positions, indices in by_block.values()]

    def gather(name: str, out: np.ndarray) -> None:
        for block, positions, indices in groups:
            out[positions] = block[name][indices]

    return gather


def _to_tensors(batch: Batch) -> Batch:
    return {name: torch.from_numpy(np.ascontiguousarray(value)) for name, value in batch.items()}


def decode_jpegs(payloads: torch.Tensor, offsets: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Concatenated JPEG bytes (sample k at offsets[k]:offsets[k + 1]) -> (B, 3, S, S) uint8 RGB on
    `device`, one batched torchvision call."""
    from torchvision.io import ImageReadMode, decode_jpeg

    target = "cuda" if device.type == "cuda" else "cpu"
    bounds = offsets.tolist()
    pieces = [payloads[start:stop] for start, stop in zip(bounds[:-1], bounds[1:], strict=True)]
    images = decode_jpeg(pieces, mode=ImageReadMode.RGB, device=target)
    return torch.stack(images).to(device, non_blocking=True)


def batch_to_device(batch: Batch, device: torch.device) -> Batch:
    """Move a batch to `device` and normalise it there (uint8 -> [0, 1] float32 CHW, float16 depth -> float32).

    A batch already in the sample contract (float32 images, as evaluation loaders yield) is only moved.
    """
    moved = {key: value.to(device, non_blocking=True) if torch.is_tensor(value) else value
             for key, value in batch.items() if key not in ("image_jpeg", "image_jpeg_offsets")}
    if "image_jpeg" in batch:
        moved["image"] = decode_jpegs(batch["image_jpeg"], batch["image_jpeg_offsets"], device).float().div_(255.0)
    elif "image" in moved and moved["image"].dtype == torch.uint8:
        moved["image"] = moved["image"].permute(0, 3, 1, 2).float().div_(255.0).contiguous()
    if "depth" in moved and moved["depth"].dtype == torch.float16:
        moved["depth"] = moved["depth"].float()
    return moved
