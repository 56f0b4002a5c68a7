"""Linear-memory gradients for the chunkwise and recurrent forms.

Plain autograd through a chunk loop or a scan keeps every chunk's ``C x C`` block and every state alive. This
function keeps only its inputs and output, and differentiates by running the same form three more times: because
the mask is symmetric, the gradients of ``q``, ``k`` and ``v`` are themselves LION sums, and the log-decays'
gradient follows from earlier-minus-later sums the forms return on request. The derivation is written once, in
``lion_attn/ops/README.md`` ("Gradients in linear memory").

The saved inputs carry no graph, so second derivatives are refused with a clear error rather than wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from lion_attn.ops.inputs import Operands
from lion_attn.ops.linear_form import LinearForm, with_ones
from lion_attn.ops.parallel import HandWrittenBackward, safe_denominator


@dataclass(frozen=True)
class LinearSettings:
    """The non-tensor options of :class:`LionFunction`.

    Attributes:
        form: the linear-memory form (chunk or recurrent, with its own settings) run forward and backward.
        normalize: divide the sums by the normalisers plus ``eps``.
        eps: the normalisers' stabiliser.
        out_dtype: dtype of the output.
    """

    form: LinearForm
    normalize: bool
    eps: float
    out_dtype: torch.dtype


class LionFunction(HandWrittenBackward):
    """Bidirectional decayed linear attention whose backward pass re-runs a linear-memory form.

    ``LionFunction.apply(settings, *operands)`` with the :class:`~lion_attn.ops.inputs.Operands` unpacked (q, k, v
    in the operand dtype, g in the accumulation dtype); the forms return sums in the accumulation dtype, and the
    output is cast to ``settings.out_dtype``.
    """

    @staticmethod
    def forward(ctx: Any, settings: LinearSettings, *operands: Tensor | None) -> Tensor:
        x = Operands._make(operands)
        den: Tensor | None
        if settings.normalize:
            out, den = settings.form.normalized(x, settings.eps)
        else:
            out, den = settings.form(x)
        ctx.settings = settings
        ctx.device_type = x.q.device.type
        # The output is kept in the accumulation dtype: the normaliser's gradient is -sum(dy * y) / den, and a
        # bf16-rounded y would carry its rounding into the decay gradient, a sum of terms that largely cancel.
        ctx.save_for_backward(*x, out if settings.normalize else None, den)
        return out.to(settings.out_dtype)

    @staticmethod
    def gradient(ctx: Any, grad_out: Tensor) -> tuple[Tensor | None, ...]:
        *operands, out, den = ctx.saved_tensors
        x = Operands._make(operands)
        settings: LinearSettings = ctx.settings
        form = settings.form
        acc = x.g.dtype
        grad_out = grad_out.to(acc)
        if settings.normalize:
            inv = 1.0 / safe_denominator(den + settings.eps)  # [B, T, H]
            grad_den = -(grad_out * out.to(acc)).sum(dim=-1) * inv
            grad_sums = torch.cat([grad_out * inv[..., None], grad_den[..., None]], dim=-1)
            values = with_ones(x.v)
        else:
            grad_sums, values = grad_out, x.v
        need_q, need_k, need_v, need_g = ctx.needs_input_grad[1:5]  # input 0 is the settings
        grad_q: Tensor | None = None
        grad_k: Tensor | None = None
        grad_v: Tensor | None = None
        grad_g: Tensor | None = None
        dot_q: Tensor | None = None
        dot_k: Tensor | None = None
        # The mask is symmetric, so each gradient is a LION sum of the same form with the roles exchanged.
        if need_q or need_g:
            grad_q, dot_q = form(x._replace(q=grad_sums, k=values, v=x.k), x.q if need_g else None)
        if need_k or need_g:
            grad_k, dot_k = form(x._replace(q=values, k=grad_sums, v=x.q), x.k if need_g else None)
        if need_v:
            grad_v = form(x._replace(q=x.k, k=x.q, v=grad_sums))[0][..., : x.v.shape[-1]]
        if need_g:
            # Both dot products were requested above whenever need_g is set.
            assert dot_q is not None and dot_k is not None
            # dL/dc_m = q_m . (dq earlier - later) + k_m . (dk earlier - later), summed from the end.
            grad_g = (dot_q + dot_k).flip(1).cumsum(dim=1).flip(1)  # [B, T, H]
            if grad_g.shape[0] != x.g.shape[0]:
                grad_g = grad_g.sum(dim=0, keepdim=True)
        return (
            None,
            grad_q.to(x.q.dtype) if need_q and grad_q is not None else None,
            grad_k.to(x.k.dtype) if need_k and grad_k is not None else None,
            None if grad_v is None else grad_v.to(x.v.dtype),
            grad_g,
            None,
        )
