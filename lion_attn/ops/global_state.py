"""LION-LIT's closed form: without decay, every form collapses to one global state.

docs/maths.md, "LION-LIT: one global state".

``y_i = scale * q_i^T (K^T V) / (scale * q_i^T sum_j k_j + eps)``: time O(T K V), memory O(K V) per head, the
same numbers as the parallel, chunkwise and recurrent forms with a decay of 1. Packed segments each get their
own state.

Precision: the two products over the values take q, k, v in the operand dtype (bfloat16 under a bfloat16 autocast);
the key sums, the normalisers and the division are in the accumulation dtype (float32, float64 for float64). Plain
autograd differentiates it, so second derivatives are exact too.
"""

from __future__ import annotations

import itertools

import torch
from torch import Tensor

from lion_attn.ops.parallel import safe_denominator


def global_state(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    reset: Tensor | None,
    scale: float,
    normalize: bool,
    eps: float,
    acc: torch.dtype | None = None,
) -> Tensor:
    """Attention without decay within each segment: ``sum_j scale (q_i . k_j) v_j``, normalised or not.

    Args:
        q: [B, T, H, K] queries.
        k: [B, T, H, K] keys.
        v: [B, T, H, D] values.
        reset: [B, T] bool segment starts or None.
        scale: score scale.
        normalize: divide by ``sum_j scale (q_i . k_j) + eps``.
        eps: the normaliser's stabiliser.
        acc: accumulation dtype (default: float64 for float64 inputs, else float32).

    Returns:
        [B, T, H, D] in the dtype of q.
    """
    if acc is None:
        acc = torch.float64 if q.dtype == torch.float64 else torch.float32
    if reset is None:
        return _one_segment(q, k, v, scale, normalize, eps, acc)
    if q.shape[0] != 1:
        # Resets in a batch: run sequence by sequence (each is then a batch of 1).
        return torch.cat(
            [
                global_state(q[b : b + 1], k[b : b + 1], v[b : b + 1], reset[b : b + 1], scale, normalize, eps, acc)
                for b in range(q.shape[0])
            ]
        )
    starts = [0, *torch.nonzero(reset[0]).flatten().tolist(), q.shape[1]]
    parts = [
        _one_segment(q[:, s:e], k[:, s:e], v[:, s:e], scale, normalize, eps, acc)
        for s, e in itertools.pairwise(starts)
        if e > s
    ]
    return torch.cat(parts, dim=1)


def _one_segment(
    q: Tensor, k: Tensor, v: Tensor, scale: float, normalize: bool, eps: float, acc: torch.dtype
) -> Tensor:
    if q.dtype == acc:
        # The scale goes on the [K, D] state and the [K] key sum, not on a T-long copy of q.
        state = torch.einsum("bthk,bthd->bhkd", k, v).mul_(scale)  # [B, H, K, D]
        out = torch.einsum("bthk,bhkd->bthd", q, state)  # [B, T, H, D]
    else:
        state = torch.einsum("bthk,bthd->bhkd", k, v)
        out = torch.einsum("bthk,bhkd->bthd", q, state).to(acc) * scale
    if not normalize:
        return out.to(q.dtype)
    key_sum = k.to(acc).sum(dim=1).mul_(scale)  # [B, H, K]
    # Elementwise rather than a product: a backward pass run under autocast would re-cast a product to bf16.
    den = safe_denominator((q.to(acc) * key_sum[:, None]).sum(dim=-1).add_(eps))[..., None]  # [B, T, H, 1]
    if torch.is_grad_enabled() and out.requires_grad:
        return (out / den).to(q.dtype)
    # Without autograd, divide in place: one output-sized buffer instead of two.
    return out.div_(den).to(q.dtype)
