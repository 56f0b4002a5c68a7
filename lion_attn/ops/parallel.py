"""The full-attention ("parallel") form of LION (spec section 2).

``A = scale * (Q K^T) * M`` with ``M`` the symmetric bidirectional decay mask, then ``A [V, 1]``: numerators and
denominators come out of one matrix product. Time O(T^2 K), memory O(T^2) per head: the fastest form for
training at moderate lengths (196 patches, 128-token MLM), differentiated by plain autograd.
"""

from __future__ import annotations

import torch
from torch import Tensor

from lion_attn.ops.masks import log_decay_block, mask_resets, reset_counts

# Inference (no autograd graph) runs a few heads at a time so the T x T blocks of all heads are never alive
# at once; the budget bounds one group's score block.
_NO_GRAD_BLOCK_BYTES = 512 * 2**20


def parallel_sum(q: Tensor, k: Tensor, v: Tensor, g: Tensor | None, reset: Tensor | None, scale: float) -> Tensor:
    """Un-normalised bidirectional decayed attention, ``sum_j scale (q_i . k_j) M[i, j] v_j``.

    Args:
        q: [B, T, H, K] queries.
        k: [B, T, H, K] keys.
        v: [B, T, H, D] values.
        g: [B', T, H] finite log-decays (B' in {1, B}) or None for no decay.
        reset: [B, T] bool, True where the decay is exactly 0, or None.
        scale: score scale.

    Returns:
        [B, T, H, D] the sums.
    """
    heads = q.shape[2]
    length = q.shape[1]
    if torch.is_grad_enabled() and any(t.requires_grad for t in (q, k, v, g) if t is not None):
        return _parallel_heads(q, k, v, g, reset, scale)
    per_head = q.shape[0] * length * length * q.element_size()
    group = max(1, min(heads, _NO_GRAD_BLOCK_BYTES // max(per_head, 1)))
    if group >= heads:
        return _parallel_heads(q, k, v, g, reset, scale)
    parts = []
    for h0 in range(0, heads, group):
        h1 = min(heads, h0 + group)
        g_part = g[:, :, h0:h1] if g is not None else None
        parts.append(_parallel_heads(q[:, :, h0:h1], k[:, :, h0:h1], v[:, :, h0:h1], g_part, reset, scale))
    return torch.cat(parts, dim=2)


def _parallel_heads(q: Tensor, k: Tensor, v: Tensor, g: Tensor | None, reset: Tensor | None, scale: float) -> Tensor:
    qh = q.transpose(1, 2)  # [B, H, T, K]
    kh = k.transpose(1, 2)  # [B, H, T, K]
    vh = v.transpose(1, 2)  # [B, H, T, D]
    scores = torch.matmul(qh * scale, kh.transpose(-1, -2))  # [B, H, T, T]
    if g is not None:
        prefix = g.cumsum(dim=1).transpose(1, 2)  # [B', H, T]
        log_mask = log_decay_block(prefix, prefix)  # [B', H, T, T]
        counts = reset_counts(reset, heads_axis=False)  # [B, T]
        if counts is not None:
            counts = counts[:, None, :]
        log_mask = mask_resets(log_mask, counts, counts)
        scores = scores * log_mask.exp()
    elif reset is not None:
        counts = reset_counts(reset, heads_axis=False)[:, None, :]
        scores = scores.masked_fill(counts[..., :, None] != counts[..., None, :], 0.0)
    return torch.matmul(scores, vh).transpose(1, 2)  # [B, T, H, D]
