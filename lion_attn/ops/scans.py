"""Several scan orders of the same tokens: the two-scan ("natural") vision variant of LION, in all three forms.

The two-scan vision variant of LION (Afzal et al., NeurIPS 2025) adds the masks of two scan orders of the patch
grid, each with its own decays: ``A = scale (Q K^T) * (M_1 + M_2 + ...)``, ``y_i = (A V)_i / (sum_j A[i, j] + eps)``.
Equivalently, the un-normalised sums (numerators and normalisers) of one LION pass per order, each on the tokens
permuted into that order and permuted back, are added before dividing.

* ``parallel``: one full-attention pass for all orders. The mask of one order is ``M_s[i, j] = exp(-|c_s(i) -
  c_s(j)|)``, with ``c_s`` the prefix sums of that order's log-decays read back at each raster position, so the
  mask is built directly in raster order with no ``T x T`` permutation, and the scores, the value product and
  every ``T x T`` pass are shared. Its gradient is written out: with ``P_s = dA * S * M_s`` (``S`` the raw scores)
  and ``sgn_s(i, j)`` the sign of ``pos_s(i) - pos_s(j)``, ``dL/dc_s(i) = sum_j (P_s[i, j] - P_s[j, i])
  sgn_s(i, j)``, and the log-decay gradient is its reverse prefix sum in scan order. Nothing ``T x T`` is kept for
  the backward pass: the masks and scores are recomputed.
* ``chunk`` and ``recurrent``: one linear-memory pass per order with an implicit ones column (its sums are the
  normalisers), sums added in the accumulation dtype, then divided.

Precision follows the single-order op: matrix products in the operand dtype, masks, prefix sums, normalisers and
the sums of the orders in float32 (float64 for float64 inputs).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from lion_attn.ops.api import linear_form
from lion_attn.ops.autograd import LinearSettings, LionFunction
from lion_attn.ops.global_state import global_state
from lion_attn.ops.inputs import Operands, check_chunk_size, check_log_decay, check_mode, check_tensor, prepare
from lion_attn.ops.linear_form import with_ones
from lion_attn.ops.parallel import (
    HandWrittenBackward,
    ParallelSettings,
    apply_scores,
    log_decay_grad,
    query_key_grads,
    raw_scores,
    safe_denominator,
    scan_log_mask,
    scores_grad,
)


def lion_attention_scans(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    gs: Sequence[Tensor | None],
    orders: Sequence[Tensor],
    *,
    mode: str = "parallel",
    scale: float | None = None,
    normalize: bool = True,
    eps: float = 1e-6,
    attention_mask: Tensor | None = None,
    chunk_size: int = 64,
    validate: bool = True,
) -> Tensor:
    """LION whose mask adds several scan orders' decay masks (the two-scan variant), in the form named by ``mode``.

    Equals adding the un-normalised outputs of one op call per order (each on q, k, v permuted into that order,
    permuted back) before dividing; every form gives the same numbers.

    Args:
        q: [B, T, H, K] feature-mapped queries in raster order.
        k: [B, T, H, K] feature-mapped keys.
        v: [B, T, H, V] values.
        gs: one entry per order: finite log-decays (<= 0) [B, T, H] or [1, T, H] in that order's scan order
            (entry ``s`` is the decay of the token visited at step ``s``), or None for no decay.
        orders: one [T] integer permutation per order: entry ``s`` is the raster index visited at step ``s``.
        mode: ``"parallel"``, ``"chunk"`` or ``"recurrent"``.
        scale: score scale, default ``K ** -0.5``.
        normalize: divide the summed numerators by the summed normalisers plus ``eps``.
        eps: added to every normaliser.
        attention_mask: [B, T] bool (True = real token) in raster order; pads get no key, no decay and output 0.
        chunk_size: tokens per chunk of the chunk form.
        validate: check values (log-decays <= 0 and finite, orders are permutations), reading them back to the host;
            with False only shapes and dtypes are checked.

    Returns:
        [B, T, H, V] in the compute dtype (that of ``q``, or the autocast dtype under autocast).

    Raises:
        TypeError: non-tensors or non-floating decays, non-integer orders.
        ValueError: mismatched counts or shapes, positive or non-finite log-decays, an order that is not a
            permutation of ``0 .. T-1``, an unknown mode.
    """
    check_mode(mode)
    check_chunk_size(chunk_size)
    p = prepare(
        q, k, v, None, None, scale=scale, eps=eps, attention_mask=attention_mask, cu_seqlens=None, validate=validate
    )
    if not isinstance(normalize, bool):
        raise TypeError(f"`normalize` must be a bool, got {type(normalize).__name__}")
    if not isinstance(gs, (list, tuple)) or not isinstance(orders, (list, tuple)) or len(gs) != len(orders) or not gs:
        raise ValueError("`gs` and `orders` must be non-empty lists of the same length (one decay tensor per order)")
    batch, length, heads, _ = p.q.shape
    decays: list[Tensor | None] = []
    perms = []
    for i, (g, order) in enumerate(zip(gs, orders, strict=True)):
        perms.append(_check_order(i, order, length, p.q.device, validate))
        if g is None:
            decays.append(None)
            continue
        g = check_tensor(f"gs[{i}]", g, 3, "[B, T, H]")
        if g.shape[0] not in (1, batch) or tuple(g.shape[1:]) != (length, heads):
            raise ValueError(
                f"`gs[{i}]` must have shape [B or 1, T, H] = [{batch}, {length}, {heads}], got {tuple(g.shape)}"
            )
        g = g.to(p.acc_dtype)
        if validate:
            check_log_decay(f"gs[{i}]", g)
            if not bool(torch.isfinite(g).all()):
                raise ValueError(f"`gs[{i}]` must be finite")
        if p.keep is not None:
            # A pad must not decay anything: each scan must equal itself with the pads removed.
            g = g.masked_fill(~p.keep[:, perms[-1], None], 0.0)
        decays.append(g)
    if batch == 0 or length == 0 or heads == 0:
        return p.v.new_zeros(batch, length, heads, p.v.shape[-1]).to(p.out_dtype)

    with torch.autocast(p.q.device.type, enabled=False):
        if all(g is None for g in decays):
            # No decay in any order: every mask is all ones, so the sum of n masks is n times LION-LIT's.
            out = global_state(p.q, p.k, p.v, None, p.scale * len(decays), normalize, eps, p.acc_dtype)
        else:
            filled = [p.q.new_zeros(1, length, heads, dtype=p.acc_dtype) if g is None else g for g in decays]
            if mode == "parallel":
                settings = ParallelSettings(p.scale, eps if normalize else None)
                out = parallel_scans_sum(p.q, p.k, p.v, filled, perms, settings)
            else:
                out = _linear_scans(mode, p.q, p.k, p.v, filled, perms, p.scale, normalize, eps, chunk_size)
        if p.keep is not None:
            out = out.masked_fill(~p.keep[:, :, None, None], 0.0)
    return out.to(p.out_dtype)


def parallel_lion_scans(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    gs: Sequence[Tensor | None],
    orders: Sequence[Tensor],
    *,
    scale: float | None = None,
    normalize: bool = True,
    eps: float = 1e-6,
    attention_mask: Tensor | None = None,
    validate: bool = True,
) -> Tensor:
    """:func:`lion_attention_scans` in full-attention form (kept for callers of the first API).

    Args:
        q: [B, T, H, K] queries.
        k: [B, T, H, K] keys.
        v: [B, T, H, V] values.
        gs: per order, [B or 1, T, H] log-decays in scan order, or None.
        orders: per order, the [T] raster index visited at each step.
        scale: score scale.
        normalize: divide by the summed normalisers plus ``eps``.
        eps: added to every normaliser.
        attention_mask: [B, T] bool or None.
        validate: check values too.

    Returns:
        [B, T, H, V] in the compute dtype.
    """
    return lion_attention_scans(
        q,
        k,
        v,
        gs,
        orders,
        mode="parallel",
        scale=scale,
        normalize=normalize,
        eps=eps,
        attention_mask=attention_mask,
        validate=validate,
    )


def _check_order(i: int, order: object, length: int, device: torch.device, validate: bool) -> Tensor:
    if not isinstance(order, Tensor) or order.dtype.is_floating_point or order.dtype == torch.bool:
        raise TypeError(f"`orders[{i}]` must be an integer tensor of shape [T]")
    if order.shape != (length,):
        raise ValueError(f"`orders[{i}]` must be a permutation of 0 .. T-1 with T = {length}, got shape {order.shape}")
    order = order.to(device=device, dtype=torch.long)
    if validate and not torch.equal(order.sort().values, torch.arange(length, device=device)):
        raise ValueError(f"`orders[{i}]` must be a permutation of 0 .. T-1 with T = {length}")
    return order


def _linear_scans(
    mode: str,
    q: Tensor,
    k: Tensor,
    v: Tensor,
    gs: list[Tensor],
    orders: list[Tensor],
    scale: float,
    normalize: bool,
    eps: float,
    chunk_size: int,
) -> Tensor:
    """One chunk or recurrent pass per order; sums added in the accumulation dtype, then divided."""
    acc = gs[0].dtype
    values = with_ones(v)  # [B, T, H, V + 1]: the last column's sums are the normalisers
    total: Tensor | None = None
    for g, order in zip(gs, orders, strict=True):
        inverse = torch.argsort(order)
        x = Operands(q[:, order], k[:, order], values[:, order], g, None)
        settings = LinearSettings(linear_form(mode, x, scale, chunk_size), False, eps, acc)
        sums = LionFunction.apply(settings, *x)[:, inverse]
        total = sums if total is None else total + sums
    assert total is not None, "at least one scan order"
    if not normalize:
        return total[..., :-1]
    return total[..., :-1] / safe_denominator(total[..., -1:] + eps)


def parallel_scans_sum(
    q: Tensor, k: Tensor, v: Tensor, gs: list[Tensor], orders: list[Tensor], settings: ParallelSettings
) -> Tensor:
    """Attention whose mask is the sum of several scan orders' decay masks, in one full-attention pass.

    Args:
        q: [B, T, H, K] queries (raster order, operand dtype).
        k: [B, T, H, K] keys.
        v: [B, T, H, D] values.
        gs: one [B', T, H] tensor of finite log-decays (<= 0) per order, each in its own scan order
            (``B'`` in {1, B}), in the accumulation dtype.
        orders: one [T] int64 permutation per order: entry ``s`` is the raster index visited at step ``s``.
        settings: scale and normalisation.

    Returns:
        [B, T, H, D] ``sum_j scale (q_i . k_j) (sum_s M_s[i, j]) v_j`` in raster order (normalised with ``eps``), in
        the operand dtype.
    """
    if len(gs) != len(orders) or not gs:
        raise ValueError(f"need one scan order per log-decay tensor, got {len(gs)} decays and {len(orders)} orders")
    if torch.is_grad_enabled() and any(t.requires_grad for t in (q, k, v, *gs)):
        return _ScansFunction.apply(settings, q, k, v, *gs, *orders)
    total = _summed_masks(gs, orders)[0]
    scores = raw_scores(q, k, settings.scale, total.dtype).mul_(total)
    return apply_scores(scores, v, settings.eps)[0]


def _summed_masks(gs: Sequence[Tensor], orders: Sequence[Tensor]) -> tuple[Tensor, list[Tensor]]:
    """The [B', H, T, T] sum of every order's mask, and the masks themselves."""
    masks = [scan_log_mask(g.transpose(1, 2), order).exp_() for g, order in zip(gs, orders, strict=True)]
    total = masks[0]
    for mask in masks[1:]:
        total = total + mask
    return total, masks


def _scan_signs(order: Tensor, dtype: torch.dtype) -> Tensor:
    """[T, T] ``sign(pos(i) - pos(j))`` in raster order, ``pos`` being the step at which the scan visits a token."""
    position = torch.empty_like(order)
    position[order] = torch.arange(order.numel(), device=order.device)
    return (position[:, None] - position[None, :]).sign().to(dtype)


class _ScansFunction(HandWrittenBackward):
    """:func:`parallel_scans_sum` with a graph: ``apply(settings, q, k, v, *gs, *orders)``, one decay per order."""

    @staticmethod
    def forward(ctx: Any, settings: ParallelSettings, *operands: Tensor) -> Tensor:
        q, k, v, *decays_and_orders = operands
        count = len(decays_and_orders) // 2
        gs, orders = decays_and_orders[:count], decays_and_orders[count:]
        total = _summed_masks(gs, orders)[0]
        scores = raw_scores(q, k, settings.scale, total.dtype).mul_(total)
        del total
        out, den = apply_scores(scores, v, settings.eps)
        ctx.settings = settings
        ctx.count = count
        ctx.device_type = q.device.type
        ctx.save_for_backward(q, k, v, out, den, *gs, *orders)
        return out

    @staticmethod
    def gradient(ctx: Any, grad_out: Tensor) -> tuple[Tensor | None, ...]:
        q, k, v, out, den, *rest = ctx.saved_tensors
        count = ctx.count
        scale = ctx.settings.scale
        gs, orders = rest[:count], rest[count:]
        acc = gs[0].dtype
        # Input 0 is the settings, then q, k, v, the decays and the orders.
        need_q, need_k, need_v = ctx.needs_input_grad[1:4]
        need_g = ctx.needs_input_grad[4 : 4 + count]
        # Recomputed rather than kept between the passes: the masks, their sum and the raw scores.
        total, masks = _summed_masks(gs, orders)
        raw = raw_scores(q, k, scale, acc)
        grad_scores, grad_h = scores_grad(grad_out, v, out, den, acc)  # dA [B, H, T, T], [B, H, T, D]
        grad_v = None
        if need_v:
            scores = (raw * total).to(v.dtype)
            grad_v = torch.matmul(scores.transpose(-1, -2), grad_h).transpose(1, 2)
            del scores
        grad_gs: list[Tensor | None] = [None] * count
        if any(need_g):
            grad_raw_masked = raw.mul_(grad_scores)  # dA * S: the gradient of every order's mask
            for s in range(count):
                if not need_g[s]:
                    continue
                log_mask_grad = grad_raw_masked * masks[s]
                log_mask_grad.mul_(_scan_signs(orders[s], acc))
                grad_gs[s] = log_decay_grad(log_mask_grad, gs[s].shape[0], orders[s])
        del raw, masks
        grad_scores.mul_(total)
        grad_q, grad_k = query_key_grads(grad_scores, q, k, scale, need_q, need_k)
        return (None, grad_q, grad_k, grad_v, *grad_gs, *([None] * count))
