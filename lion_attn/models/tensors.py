"""State dicts for safetensors, which refuses tensors that share memory (tied weights)."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["unique_state_dict"]


def unique_state_dict(module: nn.Module) -> tuple[dict[str, torch.Tensor], list[str]]:
    """The state dict without aliases.

    Returns:
        The tensors to save (the first name of each shared tensor, in state-dict order, made contiguous and
        moved to CPU) and the names dropped as aliases (re-tied by the model's constructor on load).
    """
    kept: dict[str, torch.Tensor] = {}
    seen: dict[tuple[int, int, tuple[int, ...], torch.dtype], str] = {}
    dropped: list[str] = []
    for name, tensor in module.state_dict().items():
        key = (tensor.untyped_storage().data_ptr(), tensor.storage_offset(), tuple(tensor.shape), tensor.dtype)
        if tensor.numel() > 0 and key in seen:
            dropped.append(name)
            continue
        seen[key] = name
        kept[name] = tensor.detach().contiguous().cpu()
    return kept, dropped
