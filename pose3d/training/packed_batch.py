"""A training batch in one reused shared-memory buffer, so a loader worker hands it over cheaply.

A DataLoader worker passes each tensor of a batch to the main process through its own new
shared-memory segment: created, its pages zeroed on first touch, its file descriptor sent over a
socket and mapped on the other side. A batch of the batch contract holds eleven tensors, and a new
segment's pages cost more to fault in than the JPEG decode at 256 px. So a worker packs a batch's
arrays into one buffer of its `BufferPool` and pickles it as (buffer, layout); the main process
copies the batch out into its own memory on arrival and flags the buffer free, and the worker
writes a later batch into it. The main process never holds a view of a buffer a worker may reuse.
On both sides the batch is a plain dict of tensors (views of one buffer), so nothing downstream changes.

Sending a buffer means sending its file descriptor: the main process connects to the worker's
resource-sharer thread for a duplicate and maps it, about 0.5 ms per batch with one worker and
1.5 ms with two on two cores (more than decoding a 64 px batch). So a pooled buffer travels once:
the main process keeps its mapping under the buffer's handle (pool token, worker pid, index), and a
reused buffer, one the main process has flagged free and so has mapped, travels as its handle only.
Mappings of workers that have exited are dropped when a new pool's first buffer arrives.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

_ALIGN = 64  # bytes: every field starts on a cache line, so its view is aligned for any dtype
_HEADER = _ALIGN  # bytes before the first field; byte 0 is IN_FLIGHT from packing until the main process copied it
IN_FLIGHT, FREE = 1, 0
POOL_BUFFERS = 6  # per worker: at most prefetch_factor (training: 4) batches in flight, one being packed, one spare

Layout = tuple[tuple[str, str, tuple[int, ...], int], ...]  # (name, numpy dtype, shape, byte offset) per field
Handle = tuple[bytes, int, int]  # (pool token, worker pid, buffer index): a pooled buffer's name in both processes


def shared_bytes(size: int) -> torch.Tensor:
    """A uint8 tensor of `size` bytes allocated in shared memory (the pickler then sends it without a copy)."""
    try:
        storage = torch.UntypedStorage._new_shared(size)
    except (AttributeError, RuntimeError):  # a torch without the helper: allocate, then move (one more copy)
        return torch.empty(size, dtype=torch.uint8).share_memory_()
    return torch.empty(0, dtype=torch.uint8).set_(storage)


class BufferPool:
    """A worker's shared buffers; one is reused once the main process has flagged it FREE.

    A buffer whose batch never reached the main process (a loader shut down with batches in
    flight) stays IN_FLIGHT and is simply not reused; with every buffer in flight a batch gets a
    new, unpooled one.
    """

    def __init__(self, capacity: int = POOL_BUFFERS) -> None:
        self.capacity = capacity
        self.buffers: list[torch.Tensor] = []
        self.allocated = 0  # buffers created, pooled or not (what reuse saves)
        self.token = os.urandom(8)  # names this pool's buffers in the main process (a pid can be reused)

    def take(self, size: int) -> tuple[torch.Tensor, Handle | None, bool]:
        """A buffer of at least `size` bytes flagged IN_FLIGHT, its handle (None: not pooled) and whether
        it is a reused one (the main process flagged it FREE, so it has mapped it)."""
        free = [index for index, buffer in enumerate(self.buffers) if int(buffer[0]) == FREE]
        fitting = [index for index in free if self.buffers[index].numel() >= size]
        reused = bool(fitting)
        if fitting:
            index = fitting[0]
        else:
            buffer = shared_bytes(size)
            self.allocated += 1
            if len(self.buffers) < self.capacity:
                index = len(self.buffers)
                self.buffers.append(buffer)
            elif free:  # all free ones too small (a larger batch layout): replace one
                index = free[0]
                self.buffers[index] = buffer
            else:
                buffer[0] = IN_FLIGHT
                return buffer, None, False
        self.buffers[index][0] = IN_FLIGHT
        return self.buffers[index], (self.token, os.getpid(), index), reused


_POOL: tuple[int, BufferPool] | None = None  # (pid, pool): a forked worker starts its own


def worker_pool() -> BufferPool:
    """This process's pool (a forked child does not reuse its parent's buffers)."""
    global _POOL
    if _POOL is None or _POOL[0] != os.getpid():
        _POOL = (os.getpid(), BufferPool())
    return _POOL[1]


@functools.cache
def _torch_dtype(numpy_dtype: str) -> torch.dtype:
    return torch.from_numpy(np.empty(0, dtype=numpy_dtype)).dtype


def _end(layout: Layout) -> int:
    """Bytes of the buffer the fields use (a pooled buffer may be longer)."""
    if not layout:
        return _HEADER
    _name, dtype, shape, offset = layout[-1]
    return offset + int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize


class PackedBatch(dict):
    """A dict of tensors that are views of one buffer; pickles as that buffer plus the layout.

    Entries that are not arrays (say the list of JPEG payloads of `decode_on="device"`) ride along
    as they are. Replacing an entry after packing is allowed: the batch then pickles as a plain dict.
    """

    def __init__(self, buffer: torch.Tensor, layout: Layout, others: Mapping[str, Any] | None = None,
                 handle: Handle | None = None, reused: bool = False) -> None:
        views = {}
        for name, dtype, shape, offset in layout:
            size = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
            views[name] = buffer[offset:offset + size].view(_torch_dtype(dtype)).view(shape)  # a view, no copy
        super().__init__(views)
        self.update(others or {})
        self._buffer, self._layout, self._views, self._handle, self._reused = buffer, layout, views, handle, reused

    @classmethod
    def allocate(cls, specs: Mapping[str, tuple[Any, tuple[int, ...]]], pool: BufferPool | None = None) -> PackedBatch:
        """A batch of uninitialised fields {name: (dtype, shape)} in one shared buffer: from `pool` (a
        worker's), or new. Filling its views in place saves the copy `pack` makes."""
        layout, offset = [], _HEADER
        for name, (dtype, shape) in specs.items():
            dtype = np.dtype(dtype)
            layout.append((name, dtype.str, tuple(shape), offset))
            offset += -(-int(np.prod(shape, dtype=np.int64)) * dtype.itemsize // _ALIGN) * _ALIGN
        buffer, handle, reused = pool.take(offset) if pool is not None else (shared_bytes(offset), None, False)
        return cls(buffer, tuple(layout), None, handle, reused)

    @classmethod
    def pack(cls, batch: Mapping[str, Any], pool: BufferPool | None = None) -> PackedBatch:
        """Copy the batch's tensors and arrays into one shared buffer: from `pool` (a worker's), or new."""
        arrays = {name: value.numpy() if torch.is_tensor(value) else value for name, value in batch.items()
                  if torch.is_tensor(value) or isinstance(value, np.ndarray)}
        packed = cls.allocate({name: (value.dtype, value.shape) for name, value in arrays.items()}, pool)
        for name, value in arrays.items():  # numpy copies: one thread, no intra-op pool to wake in a worker
            packed[name].numpy()[...] = value
        packed.update({name: value for name, value in batch.items() if name not in arrays})
        return packed

    def _intact(self) -> bool:
        """Whether every packed field still holds its view of the buffer (copies made by the
        DataLoader's default_convert hold equal views, not the same objects)."""
        return all(
            torch.is_tensor(value := self.get(name)) and value.data_ptr() == view.data_ptr()
            and value.dtype == view.dtype and value.shape == view.shape and value.stride() == view.stride()
            for name, view in self._views.items()
        )

    def __copy__(self) -> PackedBatch:
        """The same views of the same buffer (the DataLoader's default_convert and pin_memory copy batches;
        making the views again cost as much as packing a 64 px batch)."""
        clone = PackedBatch.__new__(PackedBatch)
        dict.update(clone, self)
        clone._buffer, clone._layout, clone._views = self._buffer, self._layout, self._views
        clone._handle, clone._reused = self._handle, self._reused
        return clone

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        if not self._intact():
            return dict, (dict(self),)
        others = {name: value for name, value in self.items() if name not in self._views}
        if self._reused:
            return received_again, (self._handle, self._layout, others)
        return received, (self._buffer, self._layout, others, self._handle)


_MAPPED: dict[bytes, tuple[int, dict[int, torch.Tensor]]] = {}  # main process: pool token -> (pid, {index: buffer})


def received(buffer: torch.Tensor, layout: Layout, others: Mapping[str, Any], handle: Handle | None) -> PackedBatch:
    """Unpickling a PackedBatch sent with its buffer: a pooled buffer is kept mapped under its handle,
    the batch copied out and the buffer flagged FREE for its worker to reuse; an unpooled one is the batch."""
    if handle is None:
        return PackedBatch(buffer, layout, others)
    token, pid, index = handle
    if token not in _MAPPED:
        _forget_exited_workers()
        _MAPPED[token] = (pid, {})
    _MAPPED[token][1][index] = buffer  # before FREE: a worker reuses only what is mapped here
    return _copied_out(buffer, layout, others)


def received_again(handle: Handle, layout: Layout, others: Mapping[str, Any]) -> PackedBatch:
    """Unpickling a PackedBatch in a reused buffer: only its handle travelled."""
    token, pid, index = handle
    try:
        buffer = _MAPPED[token][1][index]
    except KeyError:
        raise RuntimeError(f"loader worker {pid} reused shared buffer {index}, which this process never received: "
                           "a PackedBatch can only be unpickled by the process its worker sends to") from None
    return _copied_out(buffer, layout, others)


def _copied_out(buffer: torch.Tensor, layout: Layout, others: Mapping[str, Any]) -> PackedBatch:
    shared = buffer.numpy()
    own = np.empty(_end(layout), dtype=np.uint8)
    own[_HEADER:] = shared[_HEADER:len(own)]
    shared[0] = FREE  # after the copy: the worker may now overwrite the buffer
    return PackedBatch(torch.from_numpy(own), layout, others)


def _forget_exited_workers() -> None:
    """Drop the mappings of workers that have exited (their shared memory is freed with the last mapping)."""
    for token, (pid, _buffers) in list(_MAPPED.items()):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            del _MAPPED[token]
        except PermissionError:  # alive, another user's (a reused pid): keep
            pass


def packed_collate(samples: list[Any]) -> Any:
    """A DataLoader collate_fn for per-sample datasets: default_collate, then, inside a worker, one
    pooled buffer per batch (evaluation and validation loaders)."""
    from torch.utils.data import default_collate, get_worker_info

    batch = default_collate(samples)
    if get_worker_info() is None or not isinstance(batch, Mapping):
        return batch
    return PackedBatch.pack(batch, worker_pool())
