"""The full-attention ("parallel") form of LION.

``A = scale * (Q K^T) * M`` with ``M`` the symmetric bidirectional decay mask, then ``A V`` divided by the row
sums of ``A`` (plus ``eps``). Time O(T^2 K), memory O(T^2) per head: the fastest form for training at moderate
lengths (196 patches, 128-token MLM).

Precision: the two matrix products take their operands in the operand dtype (bfloat16 under a bfloat16 autocast);
the mask, the masked scores, their row sums (the normalisers) and the division are in the accumulation dtype
(float32, float64 for float64 inputs).

Its gradient is written out rather than left to autograd, and nothing ``T x T`` is kept for it: the backward pass
keeps q, k, v, the log-decays, the output and the normalisers, and recomputes the mask and the scores (one more
``Q K^T`` product), as FlashAttention does. With ``P = dA * A`` (the gradient of the log-mask), the prefix sums
``c`` of the log-decays get ``dL/dc_m = sum_j P[m, j] s(m, j) - sum_i P[i, m] s(i, m)``, ``s`` being +1 below
the diagonal and -1 above it, and ``dL/dg_l = sum_{m >= l} dL/dc_m``. Second derivatives are refused with a
clear error (a backward pass asked to build a graph raises).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from lion_attn.ops.inputs import Operands
from lion_attn.ops.masks import mask_resets, reset_counts, signed_tri

# Inference (no autograd graph) runs a few heads at a time so the T x T blocks of all heads are never alive
# at once; the budget bounds one group's score block.
_NO_GRAD_BLOCK_BYTES = 512 * 2**20
# Rows per block of the log-mask: each block takes its prefix sums from its own first row outward.
MASK_ROWS = 64


@dataclass(frozen=True)
class ParallelSettings:
    """The non-tensor options of the full-attention Functions (one and several scan orders).

    Attributes:
        scale: score scale.
        eps: None for the raw sums; else divide them by the row sums of the scores plus ``eps``.
    """

    scale: float
    eps: float | None


def parallel_sum(x: Operands, settings: ParallelSettings) -> Tensor:
    """Bidirectional decayed attention, ``sum_j scale (q_i . k_j) M[i, j] v_j``, normalised if ``eps`` is given.

    Args:
        x: the operands (:class:`~lion_attn.ops.inputs.Operands`), q, k, v in the operand dtype.
        settings: scale and normalisation.

    Returns:
        [B, T, H, D] the sums or the normalised output, in the operand dtype.
    """
    if torch.is_grad_enabled() and any(t.requires_grad for t in (x.q, x.k, x.v, x.g)):
        return _ParallelFunction.apply(settings, *x)
    heads, length = x.q.shape[2], x.q.shape[1]
    per_head = x.q.shape[0] * length * length * x.g.element_size()
    group = max(1, min(heads, _NO_GRAD_BLOCK_BYTES // max(per_head, 1)))
    parts = []
    for h0 in range(0, heads, group):
        h1 = min(heads, h0 + group)
        mask = decay_mask(x.g[:, :, h0:h1], x.reset)
        scores = raw_scores(x.q[:, :, h0:h1], x.k[:, :, h0:h1], settings.scale, x.g.dtype).mul_(mask)
        parts.append(apply_scores(scores, x.v[:, :, h0:h1], settings.eps)[0])
    return parts[0] if len(parts) == 1 else torch.cat(parts, dim=2)


def scan_log_mask(g: Tensor, order: Tensor | None = None) -> Tensor:
    """Log-mask ``-|c(i) - c(j)|`` of one scan order, rows and columns in raster order.

    ``c`` is the prefix sum of the log-decays in scan order. A prefix sum over the whole sequence grows large, and
    the difference of two large float32 numbers carries their rounding error into every exponent. So no global
    prefix sum is formed: the rows are built in blocks of :data:`MASK_ROWS` scan steps ``[r0, r1)``; inside a block
    every pair's exponent is its own segment sum, and a column before (after) the block is reached through prefix
    sums taken outward from ``r0`` (``r1 - 1``). Each exponent is then the sum of at most two terms of the same
    sign, so its error is proportional to the exponent itself, in float32 as in float64, with no branch on values.

    Args:
        g: [B', H, T] finite log-decays in scan order (entry ``s`` is the decay of the token visited at step s).
        order: [T] int64, the raster index visited at each step; None for raster order.

    Returns:
        [B', H, T, T] log-mask (<= 0) in the dtype of ``g``.
    """
    length = g.shape[-1]
    out = g.new_empty(*g.shape, length)
    position = None
    if order is not None:
        position = torch.empty_like(order)
        position[order] = torch.arange(length, device=order.device)
    strictly_lower = torch.ones(MASK_ROWS, MASK_ROWS, dtype=torch.bool, device=g.device).tril_(-1)
    for r0 in range(0, length, MASK_ROWS):
        r1 = min(length, r0 + MASK_ROWS)
        size = r1 - r0
        block = g[..., r0:r1]
        # seg[i, j] = sum_{l = j+1 .. i} g_l inside the block (0 for i <= j)
        terms = block[..., :, None].expand(*block.shape, size).masked_fill(~strictly_lower[:size, :size], 0.0)
        seg = terms.cumsum(dim=-2)  # [B', H, n, n]
        from_start = seg[..., :, 0]  # c(i) - c(r0) <= 0
        to_end = seg[..., -1, :].neg()  # c(i) - c(r1 - 1) >= 0
        before = g[..., 1 : r0 + 1].flip(-1).cumsum(dim=-1).flip(-1).neg_()  # c(j) - c(r0) >= 0, j < r0
        after = g[..., r1:].cumsum(dim=-1)  # c(j) - c(r1 - 1) <= 0, j >= r1
        rows = torch.cat(
            [
                from_start[..., :, None] - before[..., None, :],
                seg + seg.transpose(-1, -2),
                after[..., None, :] - to_end[..., :, None],
            ],
            dim=-1,
        )  # [B', H, n, T], columns in scan order
        if order is None:
            out[..., r0:r1, :] = rows
        else:
            out[..., order[r0:r1], :] = rows[..., position]
    return out


def decay_mask(g: Tensor, reset: Tensor | None) -> Tensor:
    """[B', T, H] log-decays -> [B', H, T, T] mask ``M`` (zero across resets), in the dtype of ``g``."""
    log_mask = scan_log_mask(g.transpose(1, 2))
    counts = reset_counts(reset, heads_axis=False)  # [B, T]
    if counts is not None:
        log_mask = mask_resets(log_mask, counts[:, None, :], counts[:, None, :])
    return log_mask.exp_()


def raw_scores(q: Tensor, k: Tensor, scale: float, acc: torch.dtype) -> Tensor:
    """[B, H, T, T] ``scale q_i . k_j`` from operands in their own dtype, returned in ``acc``.

    When no cast is needed the scale goes on q (T x K) rather than on the T x T product.
    """
    if q.dtype == acc:
        return torch.matmul((q * scale).transpose(1, 2), k.transpose(1, 2).transpose(-1, -2))
    return torch.matmul(q.transpose(1, 2), k.transpose(1, 2).transpose(-1, -2)).to(acc).mul_(scale)


def refuse_double_backward() -> None:
    """Raise when a backward pass is asked to build a graph (``create_graph=True``): second derivatives of the
    hand-written backward passes are not available, and leaving them out silently would give wrong numbers."""
    if torch.is_grad_enabled():
        raise RuntimeError(
            "lion_attn: second derivatives (create_graph=True) are not supported by the LION op with decay "
            "(parallel, chunk, recurrent and two-scan forms); LION-LIT's closed form supports them"
        )


class HandWrittenBackward(torch.autograd.Function):
    """An autograd Function whose backward pass is written by hand and cannot itself be differentiated.

    Subclasses write ``forward`` (setting ``ctx.device_type``) and :meth:`gradient`; ``backward`` refuses a graph
    (:func:`refuse_double_backward`) and runs ``gradient`` once, without a graph and with autocast off.
    """

    @classmethod
    def backward(cls, ctx: Any, grad_out: Tensor) -> tuple[Tensor | None, ...]:
        refuse_double_backward()
        return _gradient_once(ctx, grad_out, cls)

    @staticmethod
    def gradient(ctx: Any, grad_out: Tensor) -> tuple[Tensor | None, ...]:
        """The gradients of ``forward``'s inputs from that of its output (one entry per input, None for none)."""
        raise NotImplementedError


@once_differentiable
def _gradient_once(ctx: Any, grad_out: Tensor, cls: type[HandWrittenBackward]) -> tuple[Tensor | None, ...]:
    with torch.autocast(ctx.device_type, enabled=False):
        return cls.gradient(ctx, grad_out)


def safe_denominator(den: Tensor) -> Tensor:
    """``den`` with exact zeros replaced by 1: a row with no score at all (a pad with ``eps = 0``) gives 0, not NaN."""
    return torch.where(den == 0, torch.ones_like(den), den)


def apply_scores(scores: Tensor, v: Tensor, eps: float | None) -> tuple[Tensor, Tensor | None]:
    """[B, H, T, T] scores (accumulation dtype) times [B, T, H, D] values, divided by the row sums plus ``eps``.

    The normalisers are row sums of the scores, in the scores' dtype: no ones column is appended to ``v`` (a copy
    of it and a (D + 1)-wide product), and dividing here keeps autograd's slicing and division nodes out of the
    graph. The value product takes its operands in the dtype of ``v``.

    Returns:
        The [B, T, H, D] output in the dtype of ``v`` and the [B, H, T, 1] normalisers (``+ eps``, zeros replaced
        by 1; None when not normalising).
    """
    out = torch.matmul(scores.to(v.dtype), v.transpose(1, 2))  # [B, H, T, D]
    if eps is None:
        return out.transpose(1, 2), None
    den = safe_denominator(scores.sum(dim=-1, keepdim=True).add_(eps))
    if out.dtype == den.dtype:
        return out.div_(den).transpose(1, 2), den
    return (out.to(den.dtype) / den).to(v.dtype).transpose(1, 2), den


def scores_grad(
    grad_out: Tensor, v: Tensor, out: Tensor, den: Tensor | None, acc: torch.dtype
) -> tuple[Tensor, Tensor]:
    """Gradient of the scores from that of :func:`apply_scores`'s output.

    With ``y = n / d``: ``dn = dy / d`` and ``dd = -sum(dy * y) / d = -sum(dn * y)``; every score of row ``i``
    enters ``n_i`` through ``v_j`` and ``d_i`` with weight 1.

    Args:
        grad_out: [B, T, H, D] gradient of the output.
        v: [B, T, H, D] values (operand dtype).
        out: [B, T, H, D] the output (used only when normalised).
        den: [B, H, T, 1] normalisers (accumulation dtype), or None.
        acc: the accumulation dtype.

    Returns:
        ``dA`` [B, H, T, T] in ``acc`` and the gradient of the value product ``A V`` [B, H, T, D] in the dtype of
        ``v``.
    """
    grad_h = grad_out.transpose(1, 2).to(acc)  # [B, H, T, D]
    if den is not None:
        grad_h = grad_h / den
        grad_den = (grad_h * out.transpose(1, 2).to(acc)).sum(dim=-1, keepdim=True).neg_()
    grad_h = grad_h.to(v.dtype)
    grad_scores = torch.matmul(grad_h, v.transpose(1, 2).transpose(-1, -2)).to(acc)
    if den is not None:
        grad_scores.add_(grad_den)
    return grad_scores, grad_h


def log_decay_grad(signed_grad: Tensor, decay_batch: int, order: Tensor | None = None) -> Tensor:
    """The log-decay gradient from ``P * s``, the log-mask gradient times the sign of each pair's order.

    ``dL/dc_m = sum_j P[m, j] s(m, j) - sum_i P[i, m] s(i, m)``, and ``dL/dg_l = sum_{m >= l} dL/dc_m``, all in the
    dtype of ``signed_grad`` (the accumulation dtype).

    Args:
        signed_grad: [B, H, T, T] ``P * s`` (consumed).
        decay_batch: B' of the log-decays (1 or B).
        order: for a scan order other than raster order, the [T] raster index visited at each step; the prefix
            sum then runs in that order.

    Returns:
        [B', T, H] in the dtype of ``signed_grad``, in scan order.
    """
    grad_prefix = signed_grad.sum(dim=-1) - signed_grad.sum(dim=-2)  # [B, H, T]
    if order is not None:
        grad_prefix = grad_prefix[..., order]
    grad_g = grad_prefix.flip(-1).cumsum(dim=-1).flip(-1).transpose(1, 2)
    return grad_g if grad_g.shape[0] == decay_batch else grad_g.sum(dim=0, keepdim=True)


def query_key_grads(
    grad_scores: Tensor, q: Tensor, k: Tensor, scale: float, need_q: bool, need_k: bool
) -> tuple[Tensor | None, Tensor | None]:
    """``dq = scale dS K`` and ``dk = scale dS^T Q`` from the [B, H, T, T] gradient of the raw scores.

    The products take their operands in the dtype of q; the results are in that dtype too.
    """
    grad_scores = grad_scores.to(q.dtype)
    grad_q = grad_k = None
    if need_q:
        grad_q = torch.matmul(grad_scores, k.transpose(1, 2)).mul_(scale).transpose(1, 2)
    if need_k:
        grad_k = torch.matmul(grad_scores.transpose(-1, -2), q.transpose(1, 2)).mul_(scale).transpose(1, 2)
    return grad_q, grad_k


class _ParallelFunction(HandWrittenBackward):
    """:func:`parallel_sum` with a graph: ``apply(settings, *operands)``, the operands in :class:`Operands` order."""

    @staticmethod
    def forward(ctx: Any, settings: ParallelSettings, *operands: Tensor | None) -> Tensor:
        x = Operands._make(operands)
        mask = decay_mask(x.g, x.reset)
        scores = raw_scores(x.q, x.k, settings.scale, x.g.dtype).mul_(mask)
        del mask
        out, den = apply_scores(scores, x.v, settings.eps)
        ctx.settings = settings
        ctx.device_type = x.q.device.type
        ctx.save_for_backward(*x, out, den)
        return out

    @staticmethod
    def gradient(ctx: Any, grad_out: Tensor) -> tuple[Tensor | None, ...]:
        q, k, v, g, reset, out, den = ctx.saved_tensors
        scale = ctx.settings.scale
        need_q, need_k, need_v, need_g = ctx.needs_input_grad[1:5]  # input 0 is the settings
        acc = g.dtype
        # Recomputed rather than kept: two T x T tensors fewer alive between the forward and backward passes.
        mask = decay_mask(g, reset)
        scores = raw_scores(q, k, scale, acc).mul_(mask)
        grad_scores, grad_h = scores_grad(grad_out, v, out, den, acc)  # [B, H, T, T], [B, H, T, D]
        grad_v = None
        if need_v:
            grad_v = torch.matmul(scores.to(v.dtype).transpose(-1, -2), grad_h).transpose(1, 2)
        grad_g = None
        if need_g:
            log_mask_grad = scores.mul_(grad_scores)
            log_mask_grad.mul_(signed_tri(log_mask_grad.shape[-1], acc, log_mask_grad.device))
            grad_g = log_decay_grad(log_mask_grad, g.shape[0])
        del scores
        grad_scores.mul_(mask)
        grad_q, grad_k = query_key_grads(grad_scores, q, k, scale, need_q, need_k)
        return None, grad_q, grad_k, grad_v, grad_g, None
