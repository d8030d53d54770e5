"""The process group of a torchrun launch: rank, world size and device, read from the environment.

torchrun sets RANK, WORLD_SIZE and LOCAL_RANK; a plain `python` run has none of them and is a
world of one. The backend is nccl on CUDA, gloo on CPU.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistContext:
    """Where this process stands in the (possibly trivial) process group."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def enabled(self) -> bool:
        """True under DDP (more than one process)."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Only the main process writes files, logs to TensorBoard and shows a progress bar."""
        return self.rank == 0


def resolve_device(setting: str, local_rank: int = 0) -> torch.device:
    """`auto` -> the process's CUDA device if there is one, else CPU; `cuda` -> cuda:LOCAL_RANK."""
    if setting == "auto":
        setting = "cuda" if torch.cuda.is_available() else "cpu"
    if setting == "cuda":
        return torch.device("cuda", local_rank)
    device = torch.device(setting)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"train.device is {setting!r} but CUDA is not available on this machine")
    return device


def init_distributed(device_setting: str) -> DistContext:
    """Join the torchrun process group when WORLD_SIZE > 1; otherwise a world of one."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_device(device_setting, local_rank)
    if world_size > 1 and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend=backend)
        log.info("DDP: rank %d/%d (local %d) on %s, backend %s", rank, world_size, local_rank, device, backend)
    return DistContext(rank=rank, local_rank=local_rank, world_size=world_size, device=device)


def shutdown_distributed(context: DistContext) -> None:
    """Leave the process group (a no-op for a world of one)."""
    if context.enabled and dist.is_initialized():
        dist.destroy_process_group()


def all_ranks_true(flag: bool, context: DistContext) -> bool:
    """True when `flag` holds on every rank; ranks with uneven data stop together this way."""
    if not context.enabled:
        return flag
    value = torch.tensor([1 if flag else 0], dtype=torch.int32, device=_collective_device(context))
    dist.all_reduce(value, op=dist.ReduceOp.MIN)
    return bool(value.item())


def any_rank_true(flag: bool, context: DistContext) -> bool:
    """True when `flag` holds on at least one rank (e.g. one rank was signalled)."""
    return not all_ranks_true(not flag, context)


def gather_objects(value: Any, context: DistContext) -> list[Any]:
    """Every rank's `value` (picklable), in rank order, on every rank; [value] for a world of one."""
    if not context.enabled:
        return [value]
    gathered: list[Any] = [None] * context.world_size
    dist.all_gather_object(gathered, value)
    return gathered


def barrier(context: DistContext) -> None:
    """Wait for every rank (a no-op for a world of one)."""
    if context.enabled:
        if context.device.type == "cuda":
            dist.barrier(device_ids=[context.device.index or 0])
        else:
            dist.barrier()


def _collective_device(context: DistContext) -> torch.device:
    return context.device if context.device.type == "cuda" else torch.device("cpu")
