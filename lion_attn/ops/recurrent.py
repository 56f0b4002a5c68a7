"""The bidirectional RNN form of LION (docs/maths.md, "The recurrent form").

Two scans over the tokens, each carrying one ``[K, D]`` state per head:

    forward,  i = 0 .. T-1:  S_F = lambda_i S_F + k_i v_i^T;     out_i  = q_i^T S_F          (inclusive)
    backward, i = T-1 .. 0:  S_B = lambda_{i+1} S_B;             out_i += q_i^T S_B;  S_B += k_i v_i^T

The forward state includes token i and the backward one is read before token i is added, so the diagonal term
is counted exactly once; that equals "two inclusive states minus the diagonal" in docs/maths.md without computing the
diagonal at all. Only the ``[B, T, H, D]`` output buffer and the two states are alive: no ``T x T`` anything.

Precision: everything runs in the accumulation dtype (the dtype of ``g``: float32, or float64), also for bfloat16
inputs. Each step is a matrix-vector product per head, too small for a bfloat16 matrix unit to pay off, and the
states are running sums over the whole sequence, which bfloat16 would round at every step.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from lion_attn.ops.inputs import Operands
from lion_attn.ops.linear_form import LinearForm, with_ones


@dataclass(frozen=True)
class RecurrentForm(LinearForm):
    """The RNN form as used by :class:`lion_attn.ops.autograd.LionFunction`.

    Attributes:
        scale: score scale.
    """

    scale: float

    def sums(self, x: Operands, signed_with: Tensor | None, ones: bool) -> tuple[Tensor, Tensor | None]:
        return recurrent_sum(x, self.scale, signed_with, ones)


def recurrent_sum(
    x: Operands, scale: float, signed_with: Tensor | None = None, ones: bool = False
) -> tuple[Tensor, Tensor | None]:
    """Un-normalised bidirectional decayed attention by two sequential scans (no autograd graph).

    Args:
        x: the operands (:class:`~lion_attn.ops.inputs.Operands`, any strides); q, k, v are cast to the
            accumulation dtype.
        scale: score scale.
        signed_with: [B, T, H, D'] or None; if given, also return its dot product with the earlier-minus-later
            sums (for the decay gradient).
        ones: append a column of ones to ``v`` (its sums are the normalisers).

    Returns:
        In the dtype of ``g``: ``total`` [B, T, H, D'] (``D' = D + 1`` with ``ones``) and, with ``signed_with`` =
        ``w``, [B, T, H] ``w_i . (sum_{j<i} - sum_{j>i})`` of the same terms (else None).
    """
    acc = x.g.dtype
    v = x.v.to(acc)
    if ones:
        # One value-sized copy: the only buffer besides the output that inference adds.
        v = with_ones(v)
    # Heads before time: [B, H, T, *].
    q, k, v, g = (t.to(acc).transpose(1, 2) for t in (x.q, x.k, v, x.g))
    if signed_with is not None:
        signed_with = signed_with.to(acc).transpose(1, 2)
    batch, heads, length, key_dim = q.shape
    width = v.shape[-1]
    decay = g.exp()  # [B', H, T]
    if x.reset is not None:
        decay = decay.expand(batch, heads, length).masked_fill(x.reset[:, None, :], 0.0)
    decay = decay[..., None, None]  # [B', H, T, 1, 1]

    # [B, T, H, D] buffers, so each step writes one contiguous slice.
    total = q.new_empty(batch, length, heads, width).transpose(1, 2)
    state = q.new_zeros(batch, heads, key_dim, width)
    signed_dot = None if signed_with is None else q.new_empty(batch, length, heads).transpose(1, 2)  # [B, H, T]
    for i in range(length):
        state.mul_(decay[:, :, i])
        if signed_dot is not None and signed_with is not None:
            # The earlier sum is read before token i joins the state, not as "inclusive minus diagonal": under a
            # strong decay it is tiny next to the diagonal, and a difference would leave only rounding error.
            earlier = torch.matmul(q[:, :, i, None, :], state)[:, :, 0].mul_(scale)  # [B, H, D]
            signed_dot[:, :, i] = (signed_with[:, :, i] * earlier).sum(dim=-1)
        state.add_(k[:, :, i, :, None] * v[:, :, i, None, :])
        total[:, :, i] = torch.matmul(q[:, :, i, None, :], state)[:, :, 0].mul_(scale)

    state.zero_()
    for i in range(length - 1, -1, -1):
        if i + 1 < length:
            state.mul_(decay[:, :, i + 1])
        later = torch.matmul(q[:, :, i, None, :], state)[:, :, 0].mul_(scale)  # [B, H, D]
        total[:, :, i] += later
        if signed_dot is not None and signed_with is not None:
            signed_dot[:, :, i] -= (signed_with[:, :, i] * later).sum(dim=-1)
        state.add_(k[:, :, i, :, None] * v[:, :, i, None, :])
    return total.transpose(1, 2), None if signed_dot is None else signed_dot.transpose(1, 2)
