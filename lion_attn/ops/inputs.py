"""Validation and preparation of the op's inputs, shared by every form.

Every form of LION (Afzal et al., NeurIPS 2025) accepts the same arguments. This module checks them once, with
errors that name the offending argument, and turns the user-facing options (``g``/``g_gamma``, padding masks,
packed ``cu_seqlens``, ``-inf`` log-decays) into one internal description that the forms consume:

* ``g``: finite log-decays ``[B', T, H]`` in the compute dtype (``B'`` is 1 when a per-head decay needs no
  per-sequence changes, so masks can broadcast over the batch), or ``None`` for LION-LIT;
* ``reset``: ``[B, T]`` bool, True where the decay is exactly zero (log-decay ``-inf``): a packed segment's start,
  or a ``-inf`` the caller passed. No pair of tokens interacts across a reset, in either direction. Keeping resets
  apart from the finite log-decays is what lets every form separate segments without ever forming ``-inf - -inf``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

MODES = ("parallel", "chunk", "recurrent")
_FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


@dataclass
class Prepared:
    """Inputs of one call, checked and converted to the compute dtype.

    Attributes:
        q: [B, T, H, K] queries in the compute dtype.
        k: [B, T, H, K] keys (zero at padded tokens).
        v: [B, T, H, V] values.
        g: [B', T, H] finite log-decays (0 at pads and resets) or None (LION-LIT).
        reset: [B, T] bool, True where the decay is exactly 0, or None when there is none.
        keep: [B, T] bool of real tokens, or None without padding.
        scale: the score scale.
        out_dtype: the dtype of the caller's tensors, for the result.
    """

    q: Tensor
    k: Tensor
    v: Tensor
    g: Tensor | None
    reset: Tensor | None
    keep: Tensor | None
    scale: float
    out_dtype: torch.dtype


def _check_tensor(name: str, x: object, rank: int, layout: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"`{name}` must be a torch.Tensor of shape {layout}, got {type(x).__name__}")
    if x.dtype not in _FLOAT_DTYPES:
        raise TypeError(f"`{name}` must be a floating-point tensor (float16/bfloat16/float32/float64), got {x.dtype}")
    if x.dim() != rank:
        raise ValueError(f"`{name}` must have rank {rank} with layout {layout}, got shape {tuple(x.shape)}")
    return x


def check_mode(mode: object) -> str:
    """Return ``mode`` if it names a form, else raise a ValueError listing the forms."""
    if not isinstance(mode, str) or mode not in MODES:
        raise ValueError(f"`mode` must be one of {MODES}, got {mode!r}")
    return mode


def check_chunk_size(chunk_size: object) -> int:
    """Return ``chunk_size`` if it is an integer >= 1, else raise."""
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int):
        raise TypeError(f"`chunk_size` must be an int >= 1, got {type(chunk_size).__name__}")
    if chunk_size < 1:
        raise ValueError(f"`chunk_size` must be >= 1, got {chunk_size}")
    return chunk_size


def _check_log_decay(name: str, x: Tensor) -> None:
    # NaN fails both comparisons below, so it is caught here too.
    if not bool((x <= 0).all()):
        bad = x[~(x <= 0)].flatten()[0].item()
        raise ValueError(f"`{name}` holds log-decays, which must be <= 0 (decay in (0, 1]); found {bad}")


def check_padding_mask(attention_mask: object, batch: int, length: int) -> Tensor | None:
    """Return a padding mask as a [B, T] bool tensor (True = real token); the one check every layer and model uses.

    Args:
        attention_mask: [B, T] bool, or integers holding only 0 and 1 (as Hugging Face tokenizers return them), or
            ``None`` (no padding; returned unchanged).
        batch: The expected B.
        length: The expected T.

    Raises:
        TypeError: Not a tensor, or a floating-point or complex mask.
        ValueError: The wrong shape, or integers other than 0 and 1.
    """
    if attention_mask is None:
        return None
    if not isinstance(attention_mask, Tensor):
        raise TypeError(f"`attention_mask` must be a [B, T] bool tensor, got {type(attention_mask).__name__}")
    if tuple(attention_mask.shape) != (batch, length):
        raise ValueError(
            f"`attention_mask` must have shape [B, T] = [{batch}, {length}], got {tuple(attention_mask.shape)}"
        )
    if attention_mask.dtype == torch.bool:
        return attention_mask
    if attention_mask.dtype.is_floating_point or attention_mask.dtype.is_complex:
        raise TypeError(
            f"`attention_mask` must be bool (True = real token) or 0/1 integers, got {attention_mask.dtype}"
        )
    if not bool(((attention_mask == 0) | (attention_mask == 1)).all()):
        raise ValueError("`attention_mask` given as integers must hold only 0 and 1")
    return attention_mask.bool()


def _segment_starts(cu_seqlens: object, batch: int, length: int, device: torch.device) -> Tensor:
    if not isinstance(cu_seqlens, Tensor):
        raise TypeError(f"`cu_seqlens` must be a 1-D integer tensor of offsets, got {type(cu_seqlens).__name__}")
    if cu_seqlens.dtype.is_floating_point or cu_seqlens.dtype.is_complex or cu_seqlens.dtype == torch.bool:
        raise TypeError(f"`cu_seqlens` must hold integers, got {cu_seqlens.dtype}")
    if cu_seqlens.dim() != 1 or cu_seqlens.numel() < 2:
        raise ValueError(f"`cu_seqlens` must be 1-D with N + 1 >= 2 offsets, got shape {tuple(cu_seqlens.shape)}")
    if batch != 1:
        raise ValueError(f"`cu_seqlens` packs sequences into a batch of 1, but q has batch size {batch}")
    offsets = cu_seqlens.to(device=device, dtype=torch.long)
    if int(offsets[0]) != 0:
        raise ValueError(f"`cu_seqlens` must start at 0, got {int(offsets[0])}")
    if int(offsets[-1]) != length:
        raise ValueError(f"`cu_seqlens` must end at the sequence length T = {length}, got {int(offsets[-1])}")
    if bool((offsets[1:] < offsets[:-1]).any()):
        raise ValueError(f"`cu_seqlens` must be non-decreasing offsets, got {offsets.tolist()}")
    starts = torch.zeros(1, length, dtype=torch.bool, device=device)
    inner = offsets[1:-1]
    inner = inner[inner < length]
    starts[0, inner] = True
    # Position 0 has no predecessor, so a "reset" there would change nothing; keep it False for clarity.
    starts[0, 0] = False
    return starts


def prepare(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    g: Tensor | None,
    g_gamma: Tensor | None,
    *,
    scale: float | None,
    eps: float,
    attention_mask: Tensor | None,
    cu_seqlens: Tensor | None,
) -> Prepared:
    """Check the op's arguments and convert them to the internal description.

    Args:
        q: [B, T, H, K] feature-mapped queries.
        k: [B, T, H, K] feature-mapped keys.
        v: [B, T, H, V] values.
        g: [B, T, H] log-decays (<= 0; ``-inf`` means a decay of exactly 0) or None.
        g_gamma: [H] per-head log-decays (<= 0) or None.
        scale: score scale, default ``K ** -0.5``.
        eps: the normaliser's stabiliser (>= 0).
        attention_mask: [B, T] bool (True = real token) or None.
        cu_seqlens: [N + 1] integer offsets of packed sequences (B must be 1) or None.

    Returns:
        The prepared inputs, in float32 (float64 when the inputs are float64).

    Raises:
        TypeError: a non-tensor, a non-floating dtype, or mixed dtypes.
        ValueError: wrong ranks or shapes, both decays given, a positive log-decay, a bad mask or bad offsets.
    """
    q = _check_tensor("q", q, 4, "[B, T, H, K]")
    k = _check_tensor("k", k, 4, "[B, T, H, K]")
    v = _check_tensor("v", v, 4, "[B, T, H, V]")
    if k.dtype != q.dtype or v.dtype != q.dtype:
        raise TypeError(f"`q`, `k` and `v` must share one dtype, got {q.dtype}, {k.dtype}, {v.dtype}")
    if k.shape != q.shape:
        raise ValueError(f"`k` must have the shape of `q` [B, T, H, K] = {tuple(q.shape)}, got {tuple(k.shape)}")
    if v.shape[:3] != q.shape[:3]:
        raise ValueError(f"`v` must match `q` in [B, T, H] = {tuple(q.shape[:3])}, got v of shape {tuple(v.shape)}")
    batch, length, heads, key_dim = q.shape
    if g is not None and g_gamma is not None:
        raise ValueError("give at most one of `g` (LION-S, [B, T, H]) and `g_gamma` (LION-D, [H]), not both")
    if not isinstance(eps, (int, float)) or isinstance(eps, bool) or eps < 0:
        raise ValueError(f"`eps` must be a number >= 0, got {eps!r}")
    if scale is None:
        scale = key_dim**-0.5 if key_dim > 0 else 1.0
    elif isinstance(scale, bool) or not isinstance(scale, (int, float)):
        raise TypeError(f"`scale` must be a float or None, got {type(scale).__name__}")
    scale = float(scale)

    compute = torch.float64 if q.dtype == torch.float64 else torch.float32
    device = q.device
    keep = check_padding_mask(attention_mask, batch, length)
    keep = keep.to(device) if keep is not None else None
    starts = _segment_starts(cu_seqlens, batch, length, device) if cu_seqlens is not None else None

    decay = None
    reset = starts
    if g is not None:
        g = _check_tensor("g", g, 3, "[B, T, H]")
        if tuple(g.shape) != (batch, length, heads):
            raise ValueError(f"`g` must have shape [B, T, H] = {(batch, length, heads)}, got {tuple(g.shape)}")
        decay = g.to(compute)
        _check_log_decay("g", decay)
        hard = torch.isneginf(decay).any(dim=-1)  # [B, T]
        if bool(hard.any()):
            if not bool((torch.isneginf(decay) == hard[..., None]).all()):
                raise ValueError("`g` may be -inf (a hard reset) only for all heads of a token at once")
            decay = decay.masked_fill(hard[..., None], 0.0)
            if keep is not None:
                # A pad's own decay is meaningless: the sequence must equal itself with the pad removed.
                hard = hard & keep
            reset = hard if reset is None else reset | hard
    elif g_gamma is not None:
        g_gamma = _check_tensor("g_gamma", g_gamma, 1, "[H]")
        if g_gamma.shape[0] != heads:
            raise ValueError(f"`g_gamma` must have shape [H] = [{heads}], got {tuple(g_gamma.shape)}")
        gamma = g_gamma.to(compute)
        _check_log_decay("g_gamma", gamma)
        if bool(torch.isinf(gamma).any()):
            raise ValueError("`g_gamma` must be finite; for hard boundaries give `g` with -inf at the boundary tokens")
        per_sequence = keep is not None
        decay = gamma.view(1, 1, heads).expand(batch if per_sequence else 1, length, heads)

    if keep is not None:
        k = k * keep[:, :, None, None].to(k.dtype)
        if decay is not None:
            # A pad must not decay anything: the sequence must equal itself with the pad removed.
            decay = decay * keep[:, :, None].to(decay.dtype)
    if reset is not None and not bool(reset.any()):
        reset = None

    return Prepared(
        q=q.to(compute),
        k=k.to(compute),
        v=v.to(compute),
        g=decay,
        reset=reset,
        keep=keep,
        scale=scale,
        out_dtype=q.dtype,
    )
