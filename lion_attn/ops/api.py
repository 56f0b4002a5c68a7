"""Public entry points of the LION op: one function per form and the dispatcher.

LION (Afzal et al., "Linear Attention for Efficient Bidirectional Sequence Modeling", NeurIPS 2025) is
bidirectional linear attention with three decay variants, computed in three forms that give the same numbers:

* ``parallel``: full attention with the decay mask, ``O(T^2)``; fastest for training at moderate lengths.
* ``chunk``: state-passing chunkwise form, linear in T in time and memory, forward and backward.
* ``recurrent``: two RNN scans with one ``[K, V]`` state per head and direction; the lean inference form.

Variants: LION-LIT (no decay; every form uses the global-state closed form), LION-D (``g_gamma`` [H], one
log-decay per head) and LION-S (``g`` [B, T, H], one log-decay per token and head).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypedDict

import torch
from torch import Tensor

from lion_attn.ops.autograd import LinearSettings, LionFunction
from lion_attn.ops.chunk import ChunkForm
from lion_attn.ops.global_state import global_state
from lion_attn.ops.inputs import Operands, Prepared, check_chunk_size, check_mode, prepare
from lion_attn.ops.parallel import ParallelSettings, parallel_sum
from lion_attn.ops.recurrent import RecurrentForm

if TYPE_CHECKING:
    from typing_extensions import Unpack


class OpOptions(TypedDict, total=False):
    """The keyword options of :func:`lion_attention` and of each form (meanings and defaults: :func:`lion_attention`).

    Written once here so the forms' signatures stay in step; the defaults live in one place too (``_run``).
    """

    scale: float | None
    normalize: bool
    eps: float
    attention_mask: Tensor | None
    cu_seqlens: Tensor | None
    chunk_size: int
    validate: bool


def _run(
    form: str,
    q: Tensor,
    k: Tensor,
    v: Tensor,
    g: Tensor | None,
    g_gamma: Tensor | None,
    *,
    scale: float | None = None,
    normalize: bool = True,
    eps: float = 1e-6,
    attention_mask: Tensor | None = None,
    cu_seqlens: Tensor | None = None,
    chunk_size: int = 64,
    validate: bool = True,
) -> Tensor:
    check_chunk_size(chunk_size)
    if not isinstance(normalize, bool):
        raise TypeError(f"`normalize` must be a bool, got {type(normalize).__name__}")
    p = prepare(
        q,
        k,
        v,
        g,
        g_gamma,
        scale=scale,
        eps=eps,
        attention_mask=attention_mask,
        cu_seqlens=cu_seqlens,
        validate=validate,
    )
    batch, length, heads, _ = p.q.shape
    if batch == 0 or length == 0 or heads == 0:
        return p.v.new_zeros(batch, length, heads, p.v.shape[-1]).to(p.out_dtype)

    # The dtypes were chosen above from the caller's autocast state; inside, every cast is explicit.
    with torch.autocast(p.q.device.type, enabled=False):
        out = run_form(form, p, normalize, eps, chunk_size)
        if p.keep is not None:
            out = out.masked_fill(~p.keep[:, :, None, None], 0.0)
    return out.to(p.out_dtype)


def run_form(
    form: str, p: Prepared, normalize: bool, eps: float, chunk_size: int, out_dtype: torch.dtype | None = None
) -> Tensor:
    """Run one form on prepared inputs (autocast already off).

    Args:
        form: ``"parallel"``, ``"chunk"`` or ``"recurrent"``.
        p: the prepared inputs.
        normalize: divide by the normalisers plus ``eps``.
        eps: the normaliser's stabiliser.
        chunk_size: tokens per chunk of the chunk form.
        out_dtype: dtype of the result (default: the operand dtype). The linear-memory forms can return their
            sums in the accumulation dtype without rounding them first.

    Returns:
        [B, T, H, V] (pads not yet zeroed).
    """
    out_dtype = p.out_dtype if out_dtype is None else out_dtype
    if p.g is None:
        return global_state(p.q, p.k, p.v, p.reset, p.scale, normalize, eps, p.acc_dtype)
    x = Operands(p.q, p.k, p.v, p.g, p.reset)
    if form == "parallel":
        return parallel_sum(x, ParallelSettings(p.scale, eps if normalize else None))
    settings = LinearSettings(linear_form(form, x, p.scale, chunk_size), normalize, eps, out_dtype)
    return LionFunction.apply(settings, *x)


def linear_form(form: str, x: Operands, scale: float, chunk_size: int) -> ChunkForm | RecurrentForm:
    """The chunk or recurrent form object that :class:`LionFunction` runs on ``x``.

    Args:
        form: ``"chunk"`` or ``"recurrent"``.
        x: the operands it will see: their queries' dtype is the operand dtype of the matrix products, and a
            stride-0 time axis of ``g`` with B' = 1 and no resets marks a constant decay.
        scale: score scale.
        chunk_size: tokens per chunk.

    Returns:
        The form.
    """
    if form == "chunk":
        # LION-D without padding or resets has one decay per head at every token: one mask serves every chunk.
        constant = x.g.shape[0] == 1 and x.g.stride(1) == 0 and x.reset is None
        return ChunkForm(scale, chunk_size, constant_decay=constant, dtype=x.q.dtype)
    return RecurrentForm(scale)


def parallel_lion(
    q: Tensor, k: Tensor, v: Tensor, g: Tensor | None = None, g_gamma: Tensor | None = None, **kwargs: Unpack[OpOptions]
) -> Tensor:
    """LION in full-attention form: the scores and the decay mask as ``T x T`` matrices.

    ``O(T^2 K)`` time and ``O(T^2)`` memory per head, in a few large matrix products: the fastest form for short
    sequences and for training at moderate lengths (docs/maths.md, "The parallel form"). Arguments, result and
    errors as :func:`lion_attention`.
    """
    return _run("parallel", q, k, v, g, g_gamma, **kwargs)


def chunk_lion(
    q: Tensor, k: Tensor, v: Tensor, g: Tensor | None = None, g_gamma: Tensor | None = None, **kwargs: Unpack[OpOptions]
) -> Tensor:
    """LION in state-passing chunkwise form: full attention inside each chunk of ``chunk_size`` tokens, a decayed
    ``[K, V]`` state carried across chunks in each direction.

    Linear in ``T`` in time and memory, forward and backward (docs/maths.md, "The chunkwise form"). Arguments,
    result and errors as :func:`lion_attention`.
    """
    return _run("chunk", q, k, v, g, g_gamma, **kwargs)


def recurrent_lion(
    q: Tensor, k: Tensor, v: Tensor, g: Tensor | None = None, g_gamma: Tensor | None = None, **kwargs: Unpack[OpOptions]
) -> Tensor:
    """LION as a bidirectional RNN: a left-to-right and a right-to-left scan, one ``[K, V]`` state per head and
    direction.

    The memory-lean inference form, ``T`` sequential steps (docs/maths.md, "The recurrent form"). Arguments, result
    and errors as :func:`lion_attention`.
    """
    return _run("recurrent", q, k, v, g, g_gamma, **kwargs)


FORMS: dict[str, Callable[..., Tensor]] = {
    "parallel": parallel_lion,
    "chunk": chunk_lion,
    "recurrent": recurrent_lion,
}


def lion_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    g: Tensor | None = None,
    g_gamma: Tensor | None = None,
    *,
    mode: str = "parallel",
    **kwargs: Unpack[OpOptions],
) -> Tensor:
    """Bidirectional linear attention (LION) in the form named by ``mode``; every form gives the same numbers.

    The semantics (mask, normalisation, variants, padding, packing) are in docs/maths.md.

    Args:
        q: [B, T, H, K] queries, already passed through the feature map.
        k: [B, T, H, K] keys, already passed through the feature map.
        v: [B, T, H, V] values.
        g: [B, T, H] log-decays (<= 0) for LION-S; ``-inf`` is a decay of exactly 0 (a hard boundary).
        g_gamma: [H] per-head log-decays (<= 0) for LION-D. Give at most one of ``g`` and ``g_gamma``; with
            neither, LION-LIT (no decay).
        mode: ``"parallel"``, ``"chunk"`` or ``"recurrent"`` (:data:`MODES`).
        scale: score scale, default ``K ** -0.5`` (cancels under normalisation except against ``eps``).
        normalize: divide by the attention row sums (plus ``eps``); False returns the raw numerators.
        eps: added to every denominator, identically in every form.
        attention_mask: [B, T] bool, True = real token. A padded sequence gives exactly what it gives with its
            pads removed; outputs at pads are 0.
        cu_seqlens: [N + 1] integer offsets of N sequences packed into a batch of 1; each gives exactly what
            it gives alone.
        chunk_size: tokens per chunk of the chunkwise form (ignored by the other forms).
        validate: check the values of the inputs (log-decays <= 0, ``-inf`` resets, 0/1 integer masks); this reads
            them back to the host, a synchronisation on an accelerator. With False nothing is read back when there
            is no packing: log-decays must then be finite and <= 0 and a padding mask must be bool.

    Returns:
        [B, T, H, V] in the compute dtype: that of ``q``, or the autocast dtype under an enabled autocast. The
        matrix products take their operands in that dtype; log-decays, masks, prefix sums, normalisers and
        accumulation are in float32 (float64 for float64 inputs). Outputs at pads are exactly 0. Second
        derivatives raise (LION-LIT's closed form excepted, which plain autograd differentiates).

    Raises:
        TypeError: non-tensors or non-floating dtypes.
        ValueError: bad shapes, both decays, positive log-decays, a bad mask, bad ``cu_seqlens`` or chunk size.
    """
    return FORMS[check_mode(mode)](q, k, v, g, g_gamma, **kwargs)
