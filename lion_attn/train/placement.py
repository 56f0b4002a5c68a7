"""Where training and evaluation run: the device, batches moved to it, autocast and DataLoaders.

``--device auto`` picks the first CUDA device when one is visible, else the CPU. On CUDA, DataLoaders pin
their batches in page-locked memory and batches are copied with ``non_blocking=True``, so the copy of the
next batch overlaps the current step's kernels; on the CPU both are no-ops and stay off.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from lion_attn.ops import MODES as ATTN_MODES

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """The device for ``--device name``.

    Args:
        name: ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        local_rank: This process's rank on its node (picks the GPU of a data-parallel process).

    Raises:
        ValueError: An unknown name, or CUDA asked for where none is visible.
    """
    if not isinstance(name, str) or not (name in DEVICES or name.startswith("cuda:")):
        raise ValueError(f"--device must be one of {', '.join(DEVICES)} (or cuda:N), got {name!r}")
    if name == "cpu" or (name == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ValueError(f"--device {name}: no CUDA device is visible to this process (use --device cpu or auto)")
    if name.startswith("cuda:"):
        return torch.device(name)
    return torch.device("cuda", local_rank % torch.cuda.device_count())


def set_model_attn_mode(model: torch.nn.Module, mode: str) -> None:
    """Switch ``model`` to attention form ``mode``.

    Raises:
        ValueError: ``mode`` is not a form, or the model has no forms and ``mode`` is not ``"parallel"``.
    """
    if mode not in ATTN_MODES:
        raise ValueError(f"--attn-mode must be one of {', '.join(ATTN_MODES)}, got {mode!r}")
    set_mode = getattr(model, "set_attn_mode", None)
    if set_mode is not None:
        set_mode(mode)
    elif mode != "parallel":
        raise ValueError(f"--attn-mode {mode}: the model has no set_attn_mode (softmax attention has one form)")


def to_device(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    """Move a batch's tensors to ``device`` (asynchronously from pinned memory on CUDA)."""
    non_blocking = device.type == "cuda"
    return {k: v.to(device, non_blocking=non_blocking) if torch.is_tensor(v) else v for k, v in batch.items()}


def autocast(device: torch.device, bf16: bool) -> contextlib.AbstractContextManager:
    """bf16 autocast on ``device`` when ``bf16`` is set, else a no-op context."""
    if not bf16:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def make_loader(
    dataset: Dataset,
    batch_sampler: Sampler[list[int]],
    collate: Callable[[list[Any]], Any],
    device: torch.device,
    num_workers: int = 0,
    seed: int = 0,
) -> DataLoader:
    """A DataLoader with its own seeded generator (creating one never consumes the global RNG).

    Args:
        dataset: Map-style dataset.
        batch_sampler: Yields lists of indices.
        collate: Turns a list of items into a batch.
        device: Where the batches go (pins memory for CUDA).
        num_workers: Worker processes.
        seed: Seed of the loader's generator (worker seeds derive from it).
    """
    gen = torch.Generator()
    gen.manual_seed(seed)
    return DataLoader(
        dataset,
        batch_sampler=batch_sampler,
        collate_fn=collate,
        num_workers=num_workers,
        generator=gen,
        persistent_workers=False,
        pin_memory=device.type == "cuda",
    )


def reset_peak_memory(device: torch.device) -> None:
    """Start a fresh peak of the device's allocated memory (CUDA only)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_mb(device: torch.device) -> float | None:
    """Peak allocated device memory since :func:`reset_peak_memory` in MiB (None off CUDA)."""
    if device.type != "cuda":
        return None
    torch.cuda.synchronize(device)
    return torch.cuda.max_memory_allocated(device) / 2**20


__all__ = [
    "DEVICES",
    "autocast",
    "make_loader",
    "peak_memory_mb",
    "reset_peak_memory",
    "resolve_device",
    "set_model_attn_mode",
    "to_device",
]
