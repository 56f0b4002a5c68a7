"""The bidirectional RNN form of LION (spec section 4).

Two scans over the tokens, each carrying one ``[K, D]`` state per head:

    forward,  i = 0 .. T-1:  S_F = lambda_i S_F + k_i v_i^T;     out_i  = q_i^T S_F          (inclusive)
    backward, i = T-1 .. 0:  S_B = lambda_{i+1} S_B;             out_i += q_i^T S_B;  S_B += k_i v_i^T

The forward state includes token i and the backward one is read before token i is added, so the diagonal term
is counted exactly once; that equals the spec's "two inclusive states minus the diagonal" without computing the
diagonal at all. Only the ``[B, T, H, D]`` output buffer and the two states are alive: no ``T x T`` anything.
"""

from __future__ import annotations

import torch
from torch import Tensor


def recurrent_sum(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    g: Tensor,
    reset: Tensor | None,
    scale: float,
    signed: bool = False,
) -> tuple[Tensor, Tensor | None]:
    """Un-normalised bidirectional decayed attention by two sequential scans (no autograd graph).

    Args:
        q: [B, T, H, K] queries.
        k: [B, T, H, K] keys.
        v: [B, T, H, D] values.
        g: [B', T, H] finite log-decays, B' in {1, B}.
        reset: [B, T] bool, True where the decay is exactly 0, or None.
        scale: score scale.
        signed: also return the earlier-minus-later sums (for the decay gradient).

    Returns:
        ``total`` [B, T, H, D] and, when ``signed``, the [B, T, H, D] earlier-minus-later sums (else None).
    """
    batch, length, heads, key_dim = q.shape
    width = v.shape[-1]
    decay = g.exp()  # [B', T, H]
    if reset is not None:
        decay = decay.expand(batch, length, heads).masked_fill(reset[..., None], 0.0)
    decay = decay[..., None, None]  # [B', T, H, 1, 1]
    q = q * scale

    total = q.new_empty(batch, length, heads, width)
    state = q.new_zeros(batch, heads, key_dim, width)
    for i in range(length):
        state.mul_(decay[:, i]).add_(k[:, i, :, :, None] * v[:, i, :, None, :])
        total[:, i] = torch.matmul(q[:, i, :, None, :], state)[:, :, 0]

    diff = None
    if signed:
        # earlier - later = (inclusive forward - diagonal) - later
        diag = (q * k).sum(dim=-1, keepdim=True) * v
        diff = total - diag
    state.zero_()
    for i in range(length - 1, -1, -1):
        if i + 1 < length:
            state.mul_(decay[:, i + 1])
        later = torch.matmul(q[:, i, :, None, :], state)[:, :, 0]  # [B, H, D]
        total[:, i] += later
        if diff is not None:
            diff[:, i] -= later
        state.add_(k[:, i, :, :, None] * v[:, i, :, None, :])
    return total, diff
