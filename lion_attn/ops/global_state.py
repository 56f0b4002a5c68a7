"""LION-LIT's closed form: without decay, every form collapses to one global state (spec section 5).

``y_i = scale * q_i^T (K^T V) / (scale * q_i^T sum_j k_j + eps)``: time O(T K V), memory O(K V) per head, the
same numbers as the parallel, chunkwise and recurrent forms with a decay of 1. Packed segments each get their
own state.
"""

from __future__ import annotations

import itertools

import torch
from torch import Tensor


def global_state_sum(q: Tensor, k: Tensor, v: Tensor, reset: Tensor | None, scale: float) -> Tensor:
    """Un-normalised attention without decay, ``sum_j scale (q_i . k_j) v_j`` within each segment.

    Args:
        q: [B, T, H, K] queries.
        k: [B, T, H, K] keys.
        v: [B, T, H, D] values.
        reset: [B, T] bool segment starts (B must be 1 when given) or None.
        scale: score scale.

    Returns:
        [B, T, H, D] the sums.
    """
    if reset is None:
        return _one_segment(q, k, v, scale)
    if q.shape[0] != 1:
        # Resets in a batch: run sequence by sequence (each is then a batch of 1).
        return torch.cat(
            [
                global_state_sum(q[b : b + 1], k[b : b + 1], v[b : b + 1], reset[b : b + 1], scale)
                for b in range(q.shape[0])
            ]
        )
    starts = [0, *torch.nonzero(reset[0]).flatten().tolist(), q.shape[1]]
    parts = [_one_segment(q[:, s:e], k[:, s:e], v[:, s:e], scale) for s, e in itertools.pairwise(starts) if e > s]
    return torch.cat(parts, dim=1)


def _one_segment(q: Tensor, k: Tensor, v: Tensor, scale: float) -> Tensor:
    state = torch.einsum("bthk,bthd->bhkd", k, v)  # [B, H, K, D]
    return torch.einsum("bthk,bhkd->bthd", q * scale, state)  # [B, T, H, D]
