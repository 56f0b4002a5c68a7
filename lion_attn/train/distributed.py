"""Data-parallel plumbing on top of ``torch.distributed`` (torchrun-style launches).

A process started by ``torchrun`` finds ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and
``MASTER_PORT`` in its environment; :func:`init_distributed` joins the group with gloo on CPU and NCCL on
GPU (whichever ``--device`` chose). A plain ``python``/``lion`` launch is a world of one and every helper
degrades to a no-op.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

import torch
import torch.distributed as dist

from lion_attn.train.placement import resolve_device

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits in the data-parallel group."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def init_distributed(device: str = "auto") -> DistInfo:
    """Join the process group described by torchrun's environment variables, if any.

    Args:
        device: ``--device``: ``"auto"`` (this process's GPU if CUDA is visible, else the CPU), ``"cpu"``,
            ``"cuda"`` or ``"cuda:N"``. The backend follows it: NCCL on GPUs, gloo on the CPU.

    Returns:
        This process's rank, world size, local rank and device.

    Raises:
        ValueError: An unknown device, or CUDA asked for where none is visible.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo(device=resolve_device(device))
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    place = resolve_device(device, local_rank)
    backend = "nccl" if place.type == "cuda" else "gloo"
    if place.type == "cuda":
        torch.cuda.set_device(place)
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    logger.info("joined %s process group: rank %d of %d", backend, rank, world)
    return DistInfo(rank=rank, world_size=world, local_rank=local_rank, device=place)


def barrier() -> None:
    """Wait for every process (no-op when not distributed)."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def all_reduce_sums(values: dict[str, float], device: torch.device) -> dict[str, float]:
    """Sum a dict of scalars over all processes (keys must match on every rank).

    Args:
        values: Per-process sums (counts, correct predictions, summed losses).
        device: Device for the communication buffer (CPU for gloo, the GPU for NCCL).

    Returns:
        The global sums, identical on every rank.
    """
    if not (dist.is_available() and dist.is_initialized()):
        return dict(values)
    keys = sorted(values)
    buf = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(buf, op=dist.ReduceOp.SUM)
    return dict(zip(keys, buf.tolist(), strict=True))


def max_over_ranks(value: float, device: torch.device) -> float:
    """The largest of every rank's ``value`` (each rank gets the same number; ``value`` itself alone)."""
    if not (dist.is_available() and dist.is_initialized()):
        return float(value)
    buf = torch.tensor([float(value)], dtype=torch.float64, device=device)
    dist.all_reduce(buf, op=dist.ReduceOp.MAX)
    return float(buf.item())


def any_rank(flag: bool, device: torch.device) -> bool:
    """True on every rank if ``flag`` is True on any rank (so that all processes stop together)."""
    return max_over_ranks(1.0 if flag else 0.0, device) > 0


def cleanup() -> None:
    """Leave the process group."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
