"""The state-passing chunkwise form of LION (docs/maths.md, "The chunkwise form").

The sequence is cut into chunks of ``C`` tokens. Inside a chunk, the section-2 mask is applied to a small
``C x C`` block. Across chunks, two ``[K, D]`` states carry everything earlier (forward sweep) and everything
later (backward sweep), each decayed to the chunk's edge. With ``F_t`` the prefix sum of log-decays inside the
chunk and ``G_t = F_last - F_t``, the forward sweep uses query factor ``exp(F)`` and key factor ``exp(G)``, the
backward sweep the reverse; every exponent is <= 0.

Memory is linear in T: the work is streamed over blocks of chunks, so only one block's ``C x C`` scores, the
per-chunk states (``N x K x D``) and the output are alive at once. Gradients come from
:mod:`lion_attn.ops.autograd`, which runs this same form three more times instead of keeping any intermediate,
so the backward pass is linear in T too.

Blocks are small (a few MB) on CPU on purpose: they stay in cache, and their buffers are reused by the allocator
instead of being mapped afresh, which on CPU costs more than the arithmetic. On an accelerator a small block only
turns the stream into a Python loop of tiny kernels, so blocks there are large (:func:`block_bytes`).

Precision: the matrix products take q, k, v (and the incoming states) in the operand dtype (bfloat16 under a
bfloat16 autocast); decay factors, masks, the states between chunks and the sums of the three parts are in the
accumulation dtype (the dtype of ``g``). The normalisers travel as a ones column through the same products, so
each block's part of a normaliser is rounded to the operand dtype once before the parts are added. The two backward
runs that also give the decay gradient compute in the accumulation dtype (see :func:`chunk_sum`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
from torch import Tensor

from lion_attn.ops.inputs import Operands
from lion_attn.ops.linear_form import LinearForm
from lion_attn.ops.masks import log_decay_block, signed_tri
from lion_attn.ops.parallel import safe_denominator

# Chunks per streamed block are chosen so one block's largest tensor stays near this many bytes: cache-sized on
# CPU, large on an accelerator (where each block is a handful of kernel launches).
_BLOCK_BYTES = {"cpu": 2 * 2**20}
_ACCELERATOR_BLOCK_BYTES = 256 * 2**20
_NEG_INF = float("-inf")


def block_bytes(device: torch.device) -> int:
    """Target size of one streamed block of chunks on ``device``."""
    return _BLOCK_BYTES.get(device.type, _ACCELERATOR_BLOCK_BYTES)


@dataclass(frozen=True)
class ChunkForm(LinearForm):
    """The chunkwise form as used by :class:`lion_attn.ops.autograd.LionFunction`, and the settings of
    :func:`chunk_sum`.

    Attributes:
        scale: score scale.
        chunk_size: tokens per chunk ``C``.
        constant_decay: the log-decay is the same at every token of a head (LION-D without padding or resets),
            so one ``C x C`` mask serves every chunk.
        dtype: operand dtype of the matrix products (None: that of the queries).
    """

    scale: float
    chunk_size: int
    constant_decay: bool = False
    dtype: torch.dtype | None = None

    def sums(self, x: Operands, signed_with: Tensor | None, ones: bool) -> tuple[Tensor, Tensor | None]:
        return chunk_sum(x, self, signed_with=signed_with, ones=ones)

    def normalized(self, x: Operands, eps: float) -> tuple[Tensor, Tensor]:
        """The normalised output [B, T, H, D] and the denominators [B, T, H], divided block by block."""
        with torch.no_grad():
            out, den = chunk_sum(x, self, ones=True, normalize_eps=eps)
        # chunk_sum returns the denominators whenever it is given normalize_eps with ones=True.
        assert den is not None
        return out, den


def chunk_sum(
    x: Operands,
    settings: ChunkForm,
    *,
    signed_with: Tensor | None = None,
    ones: bool = False,
    normalize_eps: float | None = None,
) -> tuple[Tensor, Tensor | None]:
    """Un-normalised bidirectional decayed attention in chunkwise form (no autograd graph).

    Args:
        x: the operands (:class:`~lion_attn.ops.inputs.Operands`); q, k, v are cast to the operand dtype
            ``settings.dtype`` (default: that of ``q``).
        settings: scale, chunk size, constant decay and operand dtype.
        signed_with: [B, T, H, D'] or None; if given, also return its dot product with the earlier-minus-later
            sums (used by the backward pass for the decay gradient).
        ones: treat ``v`` as if a column of ones were appended (its sums are the normalisers), without
            materialising it.
        normalize_eps: with ``ones``, divide each block's sums by its normalisers (+ ``eps``) before writing
            them, and return ``(output [B, T, H, D], denominators [B, T, H])`` instead: one output-sized
            buffer instead of two (on CPU, freshly mapped memory costs more than the arithmetic).

    Returns:
        In the dtype of ``g``:
        ``total`` [B, T, H, D'] = ``sum_j scale (q_i . k_j) M[i, j] v_j`` (``D' = D + 1`` with ``ones``) and, with
        ``signed_with`` = ``w``, [B, T, H] ``w_i . (sum_{j<i} - sum_{j>i})`` of the same terms (else None).
    """
    operand = x.q.dtype if settings.dtype is None else settings.dtype
    acc = x.g.dtype
    if signed_with is not None:
        # The decay gradient is a suffix sum of earlier-minus-later differences that cancel; partial sums rounded
        # to bfloat16 do not survive that, so the runs that give it take their operands in the accumulation dtype.
        operand = acc
    x = x._replace(q=x.q.to(operand), k=x.k.to(operand), v=x.v.to(operand))
    batch, length, heads, key_dim = x.q.shape
    chunk_size = settings.chunk_size
    width = x.v.shape[-1] + int(ones)
    num_chunks = -(-length // chunk_size)
    per_chunk_bytes = batch * heads * chunk_size * max(chunk_size, key_dim, width) * x.g.element_size()
    step = max(1, block_bytes(x.q.device) // max(per_chunk_bytes, 1))
    spans = [(n0, min(num_chunks, n0 + step)) for n0 in range(0, num_chunks, step)]

    # Pass 1: every chunk's key sums for both sweeps, and its total decay.
    sums_fwd = x.g.new_empty(batch, heads, num_chunks, key_dim, width)
    sums_bwd = x.g.new_empty(batch, heads, num_chunks, key_dim, width)
    decay = x.g.new_empty(batch, heads, num_chunks, 1, 1)
    for n0, n1 in spans:
        block = _Block(x, n0, n1, settings, ones)
        for sums, factor in ((sums_fwd, block.exp_g), (sums_bwd, block.exp_f)):
            # out= into a strided slice saves a copy in eager mode; torch.compile cannot trace it (a graph break).
            if operand == acc and not torch.compiler.is_compiling():
                torch.matmul(block.keys_scaled(factor), block.v, out=sums[:, :, n0:n1])
            else:
                sums[:, :, n0:n1] = torch.matmul(block.keys_scaled(factor), block.v)
        decay[:, :, n0:n1, 0, 0] = block.exp_total
    _exclusive_scan(sums_fwd, decay, reverse=False)
    _exclusive_scan(sums_bwd, decay, reverse=True)

    # Pass 2: intra-chunk blocks plus each query's view of the two incoming states.
    normalize = normalize_eps is not None and ones
    total = x.g.new_empty(batch, length, heads, width - 1 if normalize else width)
    den = x.g.new_empty(batch, length, heads) if normalize else None
    signed_dot = x.g.new_empty(batch, length, heads) if signed_with is not None else None
    for n0, n1 in spans:
        block = _Block(x, n0, n1, settings, ones)
        # [B, H, n, C, C] masked scores in the accumulation dtype
        scores = torch.matmul(block.q, block.k.transpose(-1, -2)).to(acc).mul_(block.intra_mask())
        # [B, H, n, C, D']: each query's view of the states entering its chunk from either side
        from_before = _product((block.q * block.exp_f[..., None]), sums_fwd[:, :, n0:n1], operand, acc)
        from_after = _product((block.q * block.exp_g[..., None]), sums_bwd[:, :, n0:n1], operand, acc)
        out = _product(scores, block.v, operand, acc).add_(from_before).add_(from_after)
        if den is not None and normalize_eps is not None:
            block_den = out[..., -1]
            block.write(den, block_den)
            out = out[..., :-1].div_(safe_denominator(block_den.add(normalize_eps))[..., None])
        block.write(total, out)
        if signed_dot is not None and signed_with is not None:
            scores.mul_(signed_tri(chunk_size, scores.dtype, scores.device))
            diff = _product(scores, block.v, operand, acc).add_(from_before).sub_(from_after)
            weights = block.gather(signed_with).to(acc)  # [B, H, n, C, D']
            block.write(signed_dot, (diff * weights).sum(dim=-1))
    if normalize:
        return total, den
    return total, signed_dot


def _product(a: Tensor, b: Tensor, operand: torch.dtype, acc: torch.dtype) -> Tensor:
    """``a @ b`` with both operands in ``operand``, the result in ``acc`` (a fresh tensor)."""
    out = torch.matmul(a.to(operand), b.to(operand))
    return out.to(acc) if out.dtype != acc else out


class _Block:
    """Chunks ``[n0, n1)`` gathered as contiguous ``[B, H, n, C, *]`` tensors, with their decay factors.

    Tokens past the end of the sequence are zero (queries, keys, values) with a log-decay of 0: they add nothing.

    Args:
        x: the operands, q, k and v already in the operand dtype of the products.
        n0: the block's first chunk.
        n1: one past its last chunk.
        settings: chunk size, scale and whether the decay is constant.
        ones: gather ``v`` with a ones column appended.
    """

    def __init__(self, x: Operands, n0: int, n1: int, settings: ChunkForm, ones: bool) -> None:
        chunk_size = settings.chunk_size
        self.t0, self.t1 = n0 * chunk_size, min(n1 * chunk_size, x.q.shape[1])
        self.n, self.chunk_size = n1 - n0, chunk_size
        self._q, self._scale = x.q, settings.scale
        self.k = self.gather(x.k)
        self.v = self.gather(x.v, ones)
        # With a constant decay every chunk has the same factors: compute them for one chunk and broadcast.
        if settings.constant_decay:
            decays = x.g[:, :chunk_size].transpose(1, 2)[:, :, None]  # [B', H, 1, C']
            decays = torch.nn.functional.pad(decays, (0, chunk_size - decays.shape[-1]))
        else:
            decays = self.gather(x.g[..., None])[..., 0]  # [B', H, n, C]
        self.prefix = decays.cumsum(dim=-1)  # F: decay from the chunk's start - 1 to t
        last = self.prefix[..., -1:]
        to_end = last - self.prefix  # G: decay from t to the chunk's last token
        self.counts = None
        if x.reset is None:
            self.exp_f = self.prefix.exp()
            self.exp_g = to_end.exp()
            self.exp_total = last[..., 0].exp()
        else:
            counts = self.gather(x.reset[:, :, None, None].to(torch.int32))[..., 0].cumsum(-1, dtype=torch.int32)
            count_last = counts[..., -1:]
            self.counts = counts  # [B, 1, n, C]
            self.exp_f = self.prefix.masked_fill(counts > 0, _NEG_INF).exp()
            self.exp_g = to_end.masked_fill(counts != count_last, _NEG_INF).exp()
            self.exp_total = last[..., 0].masked_fill(count_last[..., 0] > 0, _NEG_INF).exp()
        if self.exp_total.shape[2] != self.n:
            self.exp_total = self.exp_total.expand(*self.exp_total.shape[:2], self.n)

    @functools.cached_property
    def q(self) -> Tensor:
        """[B, H, n, C, K] scaled queries (only the output pass needs them)."""
        return self.gather(self._q).mul_(self._scale)

    def gather(self, x: Tensor, ones: bool = False) -> Tensor:
        """[B, T, H, X] -> [B, H, n, C, X (+1)] for this block, zero past the end of the sequence."""
        batch, _, heads, width = x.shape
        out = x.new_empty(batch, heads, self.n * self.chunk_size, width + int(ones))
        span = self.t1 - self.t0
        out[:, :, :span, :width] = x[:, self.t0 : self.t1].transpose(1, 2)
        if ones:
            out[:, :, :span, width] = 1.0
        if span < out.shape[2]:
            out[:, :, span:] = 0
        return out.unflatten(2, (self.n, self.chunk_size))

    def keys_scaled(self, factor: Tensor) -> Tensor:
        """[B, H, n, K, C] keys times a per-token factor, laid out so ``K^T V`` is a plain matrix product."""
        if torch.compiler.is_compiling():
            # A strided out= is a graph break under torch.compile, which plans its own buffers anyway.
            return (self.k * factor[..., None]).transpose(-1, -2)
        out = self.k.new_empty(*self.k.shape[:3], self.k.shape[-1], self.chunk_size)
        torch.mul(self.k, factor[..., None], out=out.transpose(-1, -2))
        return out

    def write(self, dest: Tensor, x: Tensor) -> None:
        """Write [B, H, n, C, *] block results into [B, T, H, *] ``dest``."""
        dest[:, self.t0 : self.t1] = x.flatten(2, 3)[:, :, : self.t1 - self.t0].transpose(1, 2)

    def intra_mask(self) -> Tensor:
        """[B', H, n', C, C] the section-2 mask inside each chunk, zero across resets (n' is 1 if constant)."""
        log_mask = log_decay_block(self.prefix, self.prefix)
        if self.counts is not None:
            log_mask = log_mask.masked_fill_(self.counts[..., :, None] != self.counts[..., None, :], _NEG_INF)
        return log_mask.exp_()


def _exclusive_scan(sums: Tensor, decay: Tensor, reverse: bool) -> None:
    """In place: ``sums[:, :, n]`` becomes the state entering chunk ``n`` from the given side.

    Args:
        sums: [B, H, N, K, D] per-chunk key sums.
        decay: [B, H, N, 1, 1] per-chunk total decay.
        reverse: scan from the last chunk (backward sweep) instead of the first.
    """
    num_chunks = sums.shape[2]
    running = torch.zeros_like(sums[:, :, 0])
    order = range(num_chunks - 1, -1, -1) if reverse else range(num_chunks)
    for n in order:
        incoming = torch.addcmul(sums[:, :, n], running, decay[:, :, n])
        sums[:, :, n].copy_(running)
        running = incoming
