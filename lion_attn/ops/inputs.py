"""Validation and preparation of the op's inputs, shared by every form.

Every form of LION (Afzal et al., NeurIPS 2025) accepts the same arguments. This module checks them once, with
errors that name the offending argument, and turns the user-facing options (``g``/``g_gamma``, padding masks,
packed ``cu_seqlens``, ``-inf`` log-decays) into one internal description that the forms consume:

* ``g``: finite log-decays ``[B', T, H]`` in the accumulation dtype (``B'`` is 1 when a per-head decay needs no
  per-sequence changes, so masks can broadcast over the batch), or ``None`` for LION-LIT;
* ``reset``: ``[B, T]`` bool, True where the decay is exactly zero (log-decay ``-inf``): a packed segment's start,
  or a ``-inf`` the caller passed. No pair of tokens interacts across a reset, in either direction. Keeping resets
  apart from the finite log-decays is what lets every form separate segments without ever forming ``-inf - -inf``.

Precision: q, k and v become the *operand* dtype of the matrix products (bfloat16 under a bfloat16 autocast or for
bfloat16 inputs, float32 for float32 inputs, float64 for float64); log-decays, masks, prefix sums and normalisers
use the *accumulation* dtype (float32, float64 for float64 inputs). See :func:`compute_dtypes`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor

MODES = ("parallel", "chunk", "recurrent")
FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


class Operands(NamedTuple):
    """The five tensors every form's kernel takes, always together and in this order.

    An autograd Function receives them unpacked (``Function.apply(settings, *operands)``: it tracks only tensors
    passed to it directly) and rebuilds the bundle inside. The linear-memory backward pass runs a form with
    gradients in the roles of q, k or v (``x._replace(q=...)``); they keep the layouts below but come in the
    accumulation dtype, so each kernel casts q, k and v itself, as its docstring says.

    Attributes:
        q: [B, T, H, K] feature-mapped queries, in the operand dtype (zero at pads).
        k: [B, T, H, K] feature-mapped keys, in the operand dtype (zero at pads).
        v: [B, T, H, D] values, in the operand dtype.
        g: [B', T, H] finite log-decays (<= 0; 0 at pads and resets) in the accumulation dtype, B' in {1, B}; with
            B' = 1 and a stride-0 time axis, one constant decay per head (LION-D without padding or resets).
        reset: [B, T] bool, True where the decay is exactly 0 (no pair of tokens interacts across it), or None.
    """

    q: Tensor
    k: Tensor
    v: Tensor
    g: Tensor
    reset: Tensor | None


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
        out_dtype: the dtype of the result: the operand dtype (the autocast dtype under autocast).
        acc_dtype: the accumulation dtype (float32, or float64 for float64 inputs).
    """

    q: Tensor
    k: Tensor
    v: Tensor
    g: Tensor | None
    reset: Tensor | None
    keep: Tensor | None
    scale: float
    out_dtype: torch.dtype
    acc_dtype: torch.dtype


def compute_dtypes(dtype: torch.dtype, device_type: str) -> tuple[torch.dtype, torch.dtype]:
    """The operand and accumulation dtypes of a call on ``dtype`` inputs.

    Under an enabled autocast, float32, float16 and bfloat16 operands take the autocast dtype (as autocast would
    give a matrix product); float64 is never lowered. Accumulation is float64 for float64 operands, else float32.

    Args:
        dtype: the dtype of q, k and v.
        device_type: their device type (``"cpu"``, ``"cuda"``, ...), whose autocast state applies.

    Returns:
        ``(operand dtype, accumulation dtype)``.
    """
    operand = dtype
    if dtype != torch.float64 and torch.is_autocast_enabled(device_type):
        operand = torch.get_autocast_dtype(device_type)
    return operand, torch.float64 if operand == torch.float64 else torch.float32


def check_tensor(name: str, x: object, rank: int, layout: str) -> Tensor:
    """Return ``x`` if it is a floating-point tensor of rank ``rank``, else raise naming ``name`` and ``layout``."""
    if not isinstance(x, Tensor):
        raise TypeError(f"`{name}` must be a torch.Tensor of shape {layout}, got {type(x).__name__}")
    if x.dtype not in FLOAT_DTYPES:
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


def check_log_decay(name: str, x: Tensor) -> None:
    """Raise a ValueError naming ``name`` unless every log-decay in ``x`` is <= 0 (NaN fails). Reads values back."""
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
    validate: bool = True,
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
        validate: check values too (log-decays <= 0, ``-inf`` resets, 0/1 integer masks), which reads them back
            to the host. With False only shapes and dtypes are checked and nothing is read back: log-decays must
            then be finite and <= 0 (use ``cu_seqlens`` for hard boundaries) and a padding mask must be bool.

    Returns:
        The prepared inputs: q, k, v in the operand dtype, log-decays in the accumulation dtype
        (:func:`compute_dtypes`).

    Raises:
        TypeError: a non-tensor, a non-floating dtype, or mixed dtypes.
        ValueError: wrong ranks or shapes, both decays given, a positive log-decay, a bad mask or bad offsets.
    """
    q = check_tensor("q", q, 4, "[B, T, H, K]")
    k = check_tensor("k", k, 4, "[B, T, H, K]")
    v = check_tensor("v", v, 4, "[B, T, H, V]")
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

    if not isinstance(validate, bool):
        raise TypeError(f"`validate` must be a bool, got {type(validate).__name__}")
    device = q.device
    operand, compute = compute_dtypes(q.dtype, device.type)
    keep = None
    if attention_mask is not None:
        if validate:
            checked = check_padding_mask(attention_mask, batch, length)
            keep = checked.to(device) if checked is not None else None
        elif not isinstance(attention_mask, Tensor) or attention_mask.dtype != torch.bool:
            raise TypeError("`attention_mask` must be a [B, T] bool tensor when validate=False")
        elif tuple(attention_mask.shape) != (batch, length):
            raise ValueError(f"`attention_mask` must have shape [B, T] = [{batch}, {length}]")
        else:
            keep = attention_mask.to(device)
    starts = _segment_starts(cu_seqlens, batch, length, device) if cu_seqlens is not None else None

    decay = None
    reset = starts
    if g is not None:
        g = check_tensor("g", g, 3, "[B, T, H]")
        if tuple(g.shape) != (batch, length, heads):
            raise ValueError(f"`g` must have shape [B, T, H] = {(batch, length, heads)}, got {tuple(g.shape)}")
        decay = g.to(compute)
        hard = None
        if validate:
            check_log_decay("g", decay)
            hard = torch.isneginf(decay).any(dim=-1)  # [B, T]
        if hard is not None and bool(hard.any()):
            if not bool((torch.isneginf(decay) == hard[..., None]).all()):
                raise ValueError("`g` may be -inf (a hard reset) only for all heads of a token at once")
            decay = decay.masked_fill(hard[..., None], 0.0)
            if keep is not None:
                # A pad's own decay is meaningless: the sequence must equal itself with the pad removed.
                hard = hard & keep
            reset = hard if reset is None else reset | hard
    elif g_gamma is not None:
        g_gamma = check_tensor("g_gamma", g_gamma, 1, "[H]")
        if g_gamma.shape[0] != heads:
            raise ValueError(f"`g_gamma` must have shape [H] = [{heads}], got {tuple(g_gamma.shape)}")
        gamma = g_gamma.to(compute)
        if validate:
            check_log_decay("g_gamma", gamma)
        if validate and bool(torch.isinf(gamma).any()):
            raise ValueError("`g_gamma` must be finite; for hard boundaries give `g` with -inf at the boundary tokens")
        per_sequence = keep is not None
        decay = gamma.view(1, 1, heads).expand(batch if per_sequence else 1, length, heads)

    if keep is not None:
        # masked_fill, not a product: garbage (inf, NaN) at a pad must not leak through 0 * inf. A pad's query is
        # zeroed too, so its row has no score at all and its output is exactly 0, also with eps = 0.
        k = k.masked_fill(~keep[:, :, None, None], 0.0)
        q = q.masked_fill(~keep[:, :, None, None], 0.0)
        if decay is not None:
            # A pad must not decay anything: the sequence must equal itself with the pad removed.
            decay = decay.masked_fill(~keep[:, :, None], 0.0)
    if reset is not None and not bool(reset.any()):
        reset = None

    return Prepared(
        q=q.to(operand),
        k=k.to(operand),
        v=v.to(operand),
        g=decay,
        reset=reset,
        keep=keep,
        scale=scale,
        out_dtype=operand,
        acc_dtype=compute,
    )
