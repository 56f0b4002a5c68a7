"""Linear-memory gradients for the chunkwise and recurrent forms.

Plain autograd through a chunk loop or a scan keeps every chunk's ``C x C`` block and every state alive. This
function keeps only its inputs and output, and differentiates by running the same form three more times: because
the mask is symmetric, the gradients of ``q``, ``k`` and ``v`` are themselves LION sums, and the log-decays'
gradient follows from earlier-minus-later sums the forms return on request. The derivation is written once, in
``lion_attn/ops/README.md`` ("Gradients in linear memory").

The saved inputs carry no graph, so second derivatives are refused with a clear error rather than wrong.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from lion_attn.ops.linear_form import LinearForm, with_ones
from lion_attn.ops.parallel import HandWrittenBackward, safe_denominator


class LionFunction(HandWrittenBackward):
    """Bidirectional decayed linear attention whose backward pass re-runs a linear-memory form.

    q, k, v come in the operand dtype and g in the accumulation dtype; the forms return sums in the accumulation
    dtype, and the output is cast to ``out_dtype``.
    """

    @staticmethod
    def forward(
        ctx: Any,
        q: Tensor,
        k: Tensor,
        v: Tensor,
        g: Tensor,
        reset: Tensor | None,
        form: LinearForm,
        normalize: bool,
        eps: float,
        out_dtype: torch.dtype,
    ) -> Tensor:
        den: Tensor | None
        if normalize:
            out, den = form.normalized(q, k, v, g, reset, eps)
        else:
            out, den = form(q, k, v, g, reset)
        ctx.form, ctx.normalize, ctx.eps = form, normalize, eps
        ctx.device_type = q.device.type
        # The output is kept in the accumulation dtype: the normaliser's gradient is -sum(dy * y) / den, and a
        # bf16-rounded y would carry its rounding into the decay gradient, a sum of terms that largely cancel.
        ctx.save_for_backward(q, k, v, g, reset, out if normalize else None, den)
        return out.to(out_dtype)

    @staticmethod
    def gradient(ctx: Any, grad_out: Tensor) -> tuple[Tensor | None, ...]:
        q, k, v, g, reset, out, den = ctx.saved_tensors
        form: LinearForm = ctx.form
        acc = g.dtype
        grad_out = grad_out.to(acc)
        if ctx.normalize:
            inv = 1.0 / safe_denominator(den + ctx.eps)  # [B, T, H]
            grad_den = -(grad_out * out.to(acc)).sum(dim=-1) * inv
            grad_sums = torch.cat([grad_out * inv[..., None], grad_den[..., None]], dim=-1)
            values = with_ones(v)
        else:
            grad_sums, values = grad_out, v
        need_q, need_k, need_v, need_g = ctx.needs_input_grad[:4]
        grad_q: Tensor | None = None
        grad_k: Tensor | None = None
        grad_v: Tensor | None = None
        grad_g: Tensor | None = None
        dot_q: Tensor | None = None
        dot_k: Tensor | None = None
        if need_q or need_g:
            grad_q, dot_q = form(grad_sums, values, k, g, reset, q if need_g else None)
        if need_k or need_g:
            grad_k, dot_k = form(values, grad_sums, q, g, reset, k if need_g else None)
        if need_v:
            grad_v = form(k, q, grad_sums, g, reset)[0][..., : v.shape[-1]]
        if need_g:
            # Both dot products were requested above whenever need_g is set.
            assert dot_q is not None and dot_k is not None
            # dL/dc_m = q_m . (dq earlier - later) + k_m . (dk earlier - later), summed from the end.
            grad_g = (dot_q + dot_k).flip(1).cumsum(dim=1).flip(1)  # [B, T, H]
            if grad_g.shape[0] != g.shape[0]:
                grad_g = grad_g.sum(dim=0, keepdim=True)
        return (
            grad_q.to(q.dtype) if need_q and grad_q is not None else None,
            grad_k.to(k.dtype) if need_k and grad_k is not None else None,
            None if grad_v is None else grad_v.to(v.dtype),
            grad_g,
            None,
            None,
            None,
            None,
            None,
        )
