"""Several scan orders in one full-attention pass: the parallel form of the two-scan variant (spec section 7).

The two-scan ("natural") vision variant of LION (Afzal et al., NeurIPS 2025) adds the masks of two scan orders of
the patch grid, each with its own decays. Running the op once per order repeats the score product, the value
product and every ``T x T`` pass, and permutes q, k and v twice. This module shares them: the mask of one order is
``M_s[i, j] = exp(-|c_s(i) - c_s(j)|)``, with ``c_s`` the prefix sums of that order's log-decays read back at each
raster position, so no ``T x T`` permutation is ever needed:

    A = scale (Q K^T) * (M_1 + M_2 + ...),   y_i = (A V)_i / (sum_j A[i, j] + eps).

The gradient is written out. With ``P_s = dA * S * M_s`` (``S`` the raw scores) and ``sgn_s(i, j)`` the sign of
``pos_s(i) - pos_s(j)`` (positions in scan order), ``dL/dc_s(i) = sum_j (P_s[i, j] - P_s[j, i]) sgn_s(i, j)`` and the
log-decay gradient is its reverse prefix sum in scan order, as in the single-order form.
"""

from __future__ import annotations

import torch
from torch import Tensor

from lion_attn.ops.inputs import _check_log_decay, _check_tensor, prepare
from lion_attn.ops.masks import log_decay_block
from lion_attn.ops.parallel import _FLAT_PREFIX, apply_scores, log_decay_grad, query_key_grads, scores_grad


def parallel_lion_scans(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    gs: list[Tensor],
    orders: list[Tensor],
    *,
    scale: float | None = None,
    normalize: bool = True,
    eps: float = 1e-6,
    attention_mask: Tensor | None = None,
) -> Tensor:
    """LION whose mask adds several scan orders' decay masks (the two-scan variant), in full-attention form.

    Equals adding the un-normalised outputs of one op call per order (each on q, k, v permuted into that order,
    permuted back) before dividing, but computes the scores, the value product and every ``T x T`` pass once.

    Args:
        q: [B, T, H, K] feature-mapped queries in raster order.
        k: [B, T, H, K] feature-mapped keys.
        v: [B, T, H, V] values.
        gs: one tensor of finite log-decays (<= 0) per order, [B, T, H] or [1, T, H], each in its scan order
            (entry ``s`` is the decay of the token visited at step ``s``).
        orders: one [T] integer permutation per order: entry ``s`` is the raster index visited at step ``s``.
        scale: score scale, default ``K ** -0.5``.
        normalize: divide the summed numerators by the summed denominators plus ``eps``.
        eps: added to every denominator.
        attention_mask: [B, T] bool (True = real token) in raster order; pads get no key, no decay and output 0.

    Returns:
        [B, T, H, V] in the dtype of ``q`` (decay maths and accumulation in float32, float64 for float64 inputs).

    Raises:
        TypeError: non-tensors or non-floating decays, non-integer orders.
        ValueError: mismatched counts or shapes, positive or non-finite log-decays, an order that is not a
            permutation of ``0 .. T-1``.
    """
    p = prepare(q, k, v, None, None, scale=scale, eps=eps, attention_mask=attention_mask, cu_seqlens=None)
    if not isinstance(normalize, bool):
        raise TypeError(f"`normalize` must be a bool, got {type(normalize).__name__}")
    if not isinstance(gs, (list, tuple)) or not isinstance(orders, (list, tuple)) or len(gs) != len(orders) or not gs:
        raise ValueError("`gs` and `orders` must be non-empty lists of the same length (one decay tensor per order)")
    batch, length, heads, _ = p.q.shape
    decays, perms = [], []
    for i, (g, order) in enumerate(zip(gs, orders, strict=True)):
        g = _check_tensor(f"gs[{i}]", g, 3, "[B, T, H]")
        if g.shape[0] not in (1, batch) or tuple(g.shape[1:]) != (length, heads):
            raise ValueError(
                f"`gs[{i}]` must have shape [B or 1, T, H] = [{batch}, {length}, {heads}], got {tuple(g.shape)}"
            )
        g = g.to(p.q.dtype)
        _check_log_decay(f"gs[{i}]", g)
        if not bool(torch.isfinite(g).all()):
            raise ValueError(f"`gs[{i}]` must be finite")
        if not isinstance(order, Tensor) or order.dtype.is_floating_point or order.dtype == torch.bool:
            raise TypeError(f"`orders[{i}]` must be an integer tensor of shape [T]")
        order = order.to(device=p.q.device, dtype=torch.long)
        if order.shape != (length,) or not torch.equal(order.sort().values, torch.arange(length, device=order.device)):
            raise ValueError(f"`orders[{i}]` must be a permutation of 0 .. T-1 with T = {length}")
        if p.keep is not None:
            # A pad must not decay anything: each scan must equal itself with the pads removed.
            g = g * p.keep[:, order, None].to(g.dtype)
        decays.append(g)
        perms.append(order)
    if batch == 0 or length == 0 or heads == 0:
        return p.v.new_zeros(batch, length, heads, p.v.shape[-1]).to(p.out_dtype)
    out = parallel_scans_sum(p.q, p.k, p.v, decays, perms, p.scale, eps=eps if normalize else None)
    if p.keep is not None:
        out = out * p.keep[:, :, None, None].to(out.dtype)
    return out.to(p.out_dtype)


def parallel_scans_sum(
    q: Tensor, k: Tensor, v: Tensor, gs: list[Tensor], orders: list[Tensor], scale: float, eps: float | None = None
) -> Tensor:
    """Un-normalised attention whose mask is the sum of several scan orders' decay masks.

    Args:
        q: [B, T, H, K] queries (raster order).
        k: [B, T, H, K] keys.
        v: [B, T, H, D] values.
        gs: one [B', T, H] tensor of finite log-decays (<= 0) per order, each in its own scan order
            (``B'`` in {1, B}).
        orders: one [T] int64 permutation per order: entry ``s`` is the raster index visited at step ``s``.
        scale: score scale.
        eps: None for the raw sums; else divide by the scores' row sums plus ``eps``.

    Returns:
        [B, T, H, D] ``sum_j scale (q_i . k_j) (sum_s M_s[i, j]) v_j`` in raster order (normalised with ``eps``).
    """
    if len(gs) != len(orders) or not gs:
        raise ValueError(f"need one scan order per log-decay tensor, got {len(gs)} decays and {len(orders)} orders")
    if torch.is_grad_enabled() and any(t.requires_grad for t in (q, k, v, *gs)):
        return _ScansFunction.apply(q, k, v, scale, eps, len(gs), *gs, *orders)
    total = _summed_masks(gs, orders)[0]
    scores = _scores(q, k, scale).mul_(total)
    return apply_scores(scores, v, eps)[0]


def _summed_masks(gs: list[Tensor], orders: list[Tensor]) -> tuple[Tensor, list[Tensor]]:
    """The [B', H, T, T] sum of every order's mask, and the masks themselves."""
    masks = [_scan_mask(g, order) for g, order in zip(gs, orders, strict=True)]
    total = masks[0]
    for mask in masks[1:]:
        total = total + mask
    return total, masks


def _scores(q: Tensor, k: Tensor, scale: float) -> Tensor:
    """[B, H, T, T] raw scores ``scale q_i . k_j``; the scale goes on q (T x K), not on T x T."""
    return torch.matmul((q * scale).transpose(1, 2), k.transpose(1, 2).transpose(-1, -2))


def _scan_mask(g: Tensor, order: Tensor) -> Tensor:
    """[B', T, H] log-decays in scan order -> [B', H, T, T] mask of that order, rows and columns in raster order."""
    prefix = g.to(torch.float64).cumsum(dim=1).transpose(1, 2)  # [B', H, T] in scan order
    raster = torch.empty_like(prefix)
    raster[..., order] = prefix  # raster position order[s] holds the prefix sum of step s
    # Beyond _FLAT_PREFIX, float32 differences of prefix sums lose too much: they are taken in float64.
    if g.dtype != torch.float64 and float(prefix[..., -1].min()) >= -_FLAT_PREFIX:
        raster = raster.to(g.dtype)
    return log_decay_block(raster, raster).to(g.dtype).exp_()


def _scan_signs(order: Tensor, dtype: torch.dtype) -> Tensor:
    """[T, T] ``sign(pos(i) - pos(j))`` in raster order, ``pos`` being the step at which the scan visits a token."""
    position = torch.empty_like(order)
    position[order] = torch.arange(order.numel(), device=order.device)
    return (position[:, None] - position[None, :]).sign().to(dtype)


class _ScansFunction(torch.autograd.Function):
    @staticmethod
    def forward(  # type: ignore[override]
        ctx: torch.autograd.function.FunctionCtx,
        q: Tensor,
        k: Tensor,
        v: Tensor,
        scale: float,
        eps: float | None,
        count: int,
        *decays_and_orders: Tensor,
    ) -> Tensor:
        gs, orders = decays_and_orders[:count], decays_and_orders[count:]
        total, masks = _summed_masks(list(gs), list(orders))
        raw = _scores(q, k, scale)
        scores = raw * total
        out, den = apply_scores(scores, v, eps)
        ctx.scale = scale
        ctx.count = count
        ctx.decay_batches = [g.shape[0] for g in gs]
        ctx.save_for_backward(q, k, v, raw, scores, total, out, den, *masks, *orders)
        return out

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad_out: Tensor) -> tuple[Tensor | None, ...]:
        q, k, v, raw, scores, total, out, den, *rest = ctx.saved_tensors
        count = ctx.count
        masks, orders = rest[:count], rest[count:]
        need_q, need_k, need_v = ctx.needs_input_grad[:3]
        need_g = ctx.needs_input_grad[6 : 6 + count]
        grad_scores, grad_h = scores_grad(grad_out, v, out, den)  # dA [B, H, T, T], [B, H, T, D]
        grad_v = torch.matmul(scores.transpose(-1, -2), grad_h).transpose(1, 2) if need_v else None
        grad_gs: list[Tensor | None] = [None] * count
        if any(need_g):
            grad_raw_masked = grad_scores * raw  # dA * S: the gradient of every order's mask
            for s in range(count):
                if not need_g[s]:
                    continue
                log_mask_grad = grad_raw_masked * masks[s]
                log_mask_grad.mul_(_scan_signs(orders[s], log_mask_grad.dtype))
                grad_gs[s] = log_decay_grad(log_mask_grad, ctx.decay_batches[s], orders[s])
            del grad_raw_masked
        grad_scores.mul_(total)
        grad_q, grad_k = query_key_grads(grad_scores, q, k, ctx.scale, need_q, need_k)
        return (grad_q, grad_k, grad_v, None, None, None, *grad_gs, *([None] * count))
