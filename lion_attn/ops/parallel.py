"""The full-attention ("parallel") form of LION (spec section 2).

``A = scale * (Q K^T) * M`` with ``M`` the symmetric bidirectional decay mask, then ``A V`` divided by the row
sums of ``A`` (plus ``eps``). Time O(T^2 K), memory O(T^2) per head: the fastest form for training at moderate
lengths (196 patches, 128-token MLM).

Its gradient is written out rather than left to autograd, which would keep and revisit several ``T x T``
intermediates of the mask construction. With ``P = dA * A`` (the gradient of the log-mask), the prefix sums ``c``
of the log-decays get ``dL/dc_m = sum_j P[m, j] s(m, j) - sum_i P[i, m] s(i, m)``, ``s`` being +1 below the
diagonal and -1 above it, and ``dL/dg_l = sum_{m >= l} dL/dc_m``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from lion_attn.ops.masks import log_decay_block, mask_resets, reset_counts, signed_tri

# Inference (no autograd graph) runs a few heads at a time so the T x T blocks of all heads are never alive
# at once; the budget bounds one group's score block.
_NO_GRAD_BLOCK_BYTES = 512 * 2**20
# Rows per block of the long-sequence mask, and the prefix-sum magnitude below which float32 differences are
# exact enough (its rounding step, ~8e-6, is then the worst error of any exponent); scans.py uses it too.
_MASK_ROWS = 64
_FLAT_PREFIX = 64.0


def parallel_sum(
    q: Tensor, k: Tensor, v: Tensor, g: Tensor, reset: Tensor | None, scale: float, eps: float | None = None
) -> Tensor:
    """Bidirectional decayed attention, ``sum_j scale (q_i . k_j) M[i, j] v_j``, normalised if ``eps`` is given.

    Args:
        q: [B, T, H, K] queries.
        k: [B, T, H, K] keys.
        v: [B, T, H, D] values.
        g: [B', T, H] finite log-decays (B' in {1, B}).
        reset: [B, T] bool, True where the decay is exactly 0, or None.
        scale: score scale.
        eps: None for the raw sums; else divide them by the row sums of the scores plus ``eps``.

    Returns:
        [B, T, H, D] the sums or the normalised output.
    """
    if torch.is_grad_enabled() and any(t.requires_grad for t in (q, k, v, g)):
        return _ParallelFunction.apply(q, k, v, g, reset, scale, eps)
    heads, length = q.shape[2], q.shape[1]
    per_head = q.shape[0] * length * length * q.element_size()
    group = max(1, min(heads, _NO_GRAD_BLOCK_BYTES // max(per_head, 1)))
    parts = []
    for h0 in range(0, heads, group):
        h1 = min(heads, h0 + group)
        mask = _decay_mask(g[:, :, h0:h1], reset)
        parts.append(_attend(q[:, :, h0:h1], k[:, :, h0:h1], v[:, :, h0:h1], mask, scale, eps)[0])
    return parts[0] if len(parts) == 1 else torch.cat(parts, dim=2)


def _decay_mask(g: Tensor, reset: Tensor | None) -> Tensor:
    """[B', T, H] log-decays -> [B', H, T, T] mask ``M`` (zero across resets).

    The prefix sums are taken in float64. Over a long sequence they grow large, and the difference of two large
    float32 numbers would carry their rounding error into every exponent; so rows are built in blocks, each
    relative to its own first prefix sum, which keeps the float32 operands as small as the exponents themselves.
    """
    prefix = g.to(torch.float64).cumsum(dim=1).transpose(1, 2)  # [B', H, T]
    length = prefix.shape[-1]
    if g.dtype == torch.float64 or length <= _MASK_ROWS or float(prefix[..., -1].min()) >= -_FLAT_PREFIX:
        local = prefix.to(g.dtype)
        log_mask = log_decay_block(local, local)
    else:
        log_mask = g.new_empty(*prefix.shape, length)
        for r0 in range(0, length, _MASK_ROWS):
            origin = prefix[..., r0 : r0 + 1]
            rows = (prefix[..., r0 : r0 + _MASK_ROWS] - origin).to(g.dtype)
            cols = (prefix - origin).to(g.dtype)
            log_mask[..., r0 : r0 + _MASK_ROWS, :] = log_decay_block(rows, cols)
    counts = reset_counts(reset, heads_axis=False)  # [B, T]
    if counts is not None:
        log_mask = mask_resets(log_mask, counts[:, None, :], counts[:, None, :])
    return log_mask.exp_()


def _attend(
    q: Tensor, k: Tensor, v: Tensor, mask: Tensor, scale: float, eps: float | None
) -> tuple[Tensor, Tensor, Tensor | None]:
    """Return the [B, T, H, D] output, the [B, H, T, T] masked scores ``A`` and the [B, H, T, 1] normalisers."""
    # The scale goes on q (T x K) rather than on the T x T scores.
    scores = torch.matmul((q * scale).transpose(1, 2), k.transpose(1, 2).transpose(-1, -2)).mul_(mask)
    out, den = apply_scores(scores, v, eps)
    return out, scores, den


def apply_scores(scores: Tensor, v: Tensor, eps: float | None) -> tuple[Tensor, Tensor | None]:
    """[B, H, T, T] scores times [B, T, H, D] values, divided by the scores' row sums plus ``eps`` unless None.

    The normalisers are row sums of the scores: no ones column is appended to ``v`` (a copy of it and a
    (D + 1)-wide product), and dividing here keeps autograd's slicing and division nodes out of the graph.

    Returns:
        The [B, T, H, D] output and the [B, H, T, 1] normalisers (``+ eps``; None when not normalising).
    """
    out = torch.matmul(scores, v.transpose(1, 2))  # [B, H, T, D]
    if eps is None:
        return out.transpose(1, 2), None
    den = scores.sum(dim=-1, keepdim=True).add_(eps)
    return out.div_(den).transpose(1, 2), den


def scores_grad(grad_out: Tensor, v: Tensor, out: Tensor, den: Tensor | None) -> tuple[Tensor, Tensor]:
    """Gradient of the scores from that of :func:`apply_scores`'s output.

    With ``y = n / d``: ``dn = dy / d`` and ``dd = -sum(dy * y) / d = -sum(dn * y)``; every score of row ``i``
    enters ``n_i`` through ``v_j`` and ``d_i`` with weight 1.

    Args:
        grad_out: [B, T, H, D] gradient of the output.
        v: [B, T, H, D] values.
        out: [B, T, H, D] the output (used only when normalised).
        den: [B, H, T, 1] normalisers, or None.

    Returns:
        ``dA`` [B, H, T, T] and the gradient of the value product ``A V`` [B, H, T, D].
    """
    grad_h = grad_out.transpose(1, 2)  # [B, H, T, D]
    if den is not None:
        grad_h = grad_h / den
        grad_den = (grad_h * out.transpose(1, 2)).sum(dim=-1, keepdim=True).neg_()
    grad_scores = torch.matmul(grad_h, v.transpose(1, 2).transpose(-1, -2))
    if den is not None:
        grad_scores.add_(grad_den)
    return grad_scores, grad_h


def log_decay_grad(signed_grad: Tensor, decay_batch: int, order: Tensor | None = None) -> Tensor:
    """The log-decay gradient from ``P * s``, the log-mask gradient times the sign of each pair's order.

    ``dL/dc_m = sum_j P[m, j] s(m, j) - sum_i P[i, m] s(i, m)``, and ``dL/dg_l = sum_{m >= l} dL/dc_m``. The row and
    column sums stay in the mask's dtype (pairwise summation; a float64 copy of ``T x T`` costs more than the
    sums); their difference and its reverse prefix sum over T are taken in float64.

    Args:
        signed_grad: [B, H, T, T] ``P * s`` (consumed).
        decay_batch: B' of the log-decays (1 or B).
        order: for a scan order other than raster order, the [T] raster index visited at each step; the prefix
            sum then runs in that order.

    Returns:
        [B', T, H] in the dtype of ``signed_grad``, in scan order.
    """
    grad_prefix = signed_grad.sum(dim=-1).double()
    grad_prefix -= signed_grad.sum(dim=-2).double()  # [B, H, T]
    if order is not None:
        grad_prefix = grad_prefix[..., order]
    grad_g = grad_prefix.flip(-1).cumsum(dim=-1).flip(-1).to(signed_grad.dtype).transpose(1, 2)
    return grad_g if grad_g.shape[0] == decay_batch else grad_g.sum(dim=0, keepdim=True)


def query_key_grads(
    grad_scores: Tensor, q: Tensor, k: Tensor, scale: float, need_q: bool, need_k: bool
) -> tuple[Tensor | None, Tensor | None]:
    """``dq = scale dS K`` and ``dk = scale dS^T Q`` from the [B, H, T, T] gradient of the raw scores."""
    grad_q = torch.matmul(grad_scores, (k * scale).transpose(1, 2)).transpose(1, 2) if need_q else None
    grad_k = (
        torch.matmul(grad_scores.transpose(-1, -2), (q * scale).transpose(1, 2)).transpose(1, 2) if need_k else None
    )
    return grad_q, grad_k


class _ParallelFunction(torch.autograd.Function):
    @staticmethod
    def forward(  # type: ignore[override]
        ctx: torch.autograd.function.FunctionCtx,
        q: Tensor,
        k: Tensor,
        v: Tensor,
        g: Tensor,
        reset: Tensor | None,
        scale: float,
        eps: float | None,
    ) -> Tensor:
        mask = _decay_mask(g, reset)
        out, scores, den = _attend(q, k, v, mask, scale, eps)
        ctx.scale = scale
        ctx.decay_batch = g.shape[0]
        ctx.save_for_backward(q, k, v, mask, scores, out, den)
        return out

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad_out: Tensor) -> tuple[Tensor | None, ...]:
        q, k, v, mask, scores, out, den = ctx.saved_tensors
        need_q, need_k, need_v, need_g = ctx.needs_input_grad[:4]
        grad_scores, grad_h = scores_grad(grad_out, v, out, den)  # [B, H, T, T], [B, H, T, D]
        grad_v = torch.matmul(scores.transpose(-1, -2), grad_h).transpose(1, 2) if need_v else None
        grad_g = None
        if need_g:
            log_mask_grad = grad_scores * scores
            log_mask_grad.mul_(signed_tri(log_mask_grad.shape[-1], log_mask_grad.dtype, log_mask_grad.device))
            grad_g = log_decay_grad(log_mask_grad, ctx.decay_batch)
            del log_mask_grad  # one T x T buffer fewer while the q/k gradients are formed
        grad_scores.mul_(mask)
        grad_q, grad_k = query_key_grads(grad_scores, q, k, ctx.scale, need_q, need_k)
        return grad_q, grad_k, grad_v, grad_g, None, None, None
