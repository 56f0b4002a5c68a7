"""Checking the padding masks that attention layers take: bool, or HF-style 0/1 integers."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["check_padding_mask"]


def check_padding_mask(attention_mask: Tensor | None, batch: int, length: int) -> Tensor | None:
    """Return ``attention_mask`` as a [B, T] bool tensor (True = real token), or None.

    Args:
        attention_mask: [B, T] bool, or integers holding only 0 and 1 (as Hugging Face tokenizers return them).
        batch: expected B.
        length: expected T.

    Raises:
        TypeError: not a tensor, or a floating-point mask.
        ValueError: wrong shape, or integers other than 0 and 1.
    """
    if attention_mask is None:
        return None
    if not isinstance(attention_mask, Tensor):
        raise TypeError(f"attention_mask must be a [B, T] bool tensor, got {type(attention_mask).__name__}")
    if attention_mask.shape != (batch, length):
        expected = (batch, length)
        raise ValueError(f"attention_mask must have shape [B, T] = {expected}, got {tuple(attention_mask.shape)}")
    if attention_mask.dtype == torch.bool:
        return attention_mask
    if attention_mask.dtype.is_floating_point or attention_mask.dtype.is_complex:
        raise TypeError(f"attention_mask must be bool (True = real token) or 0/1 integers, got {attention_mask.dtype}")
    if not bool(((attention_mask == 0) | (attention_mask == 1)).all()):
        raise ValueError("attention_mask given as integers must hold only 0 and 1")
    return attention_mask.bool()
