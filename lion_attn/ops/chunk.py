"""The state-passing chunkwise form of LION (spec section 5).

The sequence is cut into chunks of ``C`` tokens. Inside a chunk, the section-2 mask is applied to a small
``C x C`` block. Across chunks, two ``[K, D]`` states carry everything earlier (forward sweep) and everything
later (backward sweep), each decayed to the chunk's edge. With ``F_t`` the prefix sum of log-decays inside the
chunk and ``G_t = F_last - F_t``, the forward sweep uses query factor ``exp(F)`` and key factor ``exp(G)``, the
backward sweep the reverse; every exponent is <= 0.

Memory is linear in T: the work is streamed over blocks of chunks, so only one block's ``C x C`` scores, the
per-chunk states (``N x K x D``) and the output are alive at once. Gradients come from
:mod:`lion_attn.ops.autograd`, which runs this same function three more times instead of keeping any
intermediate, so the backward pass is linear in T too.
"""

from __future__ import annotations

import torch
from torch import Tensor

from lion_attn.ops.masks import log_decay_block, mask_resets, signed_tri

# Tokens per streamed block is chosen so one block's C x C scores stay near this many bytes.
_BLOCK_BYTES = 32 * 2**20
_NEG_INF = float("-inf")


def chunk_sum(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    g: Tensor,
    reset: Tensor | None,
    scale: float,
    chunk_size: int,
    signed: bool = False,
) -> tuple[Tensor, Tensor | None]:
    """Un-normalised bidirectional decayed attention in chunkwise form (no autograd graph).

    Args:
        q: [B, T, H, K] queries.
        k: [B, T, H, K] keys.
        v: [B, T, H, D] values.
        g: [B', T, H] finite log-decays, B' in {1, B}.
        reset: [B, T] bool, True where the decay is exactly 0, or None.
        scale: score scale.
        chunk_size: tokens per chunk ``C``.
        signed: also return the earlier-minus-later sums (used by the backward pass for the decay gradient).

    Returns:
        ``total`` [B, T, H, D] = ``sum_j scale (q_i . k_j) M[i, j] v_j`` and, when ``signed``, [B, T, H, D]
        ``sum_{j<i} - sum_{j>i}`` of the same terms (else None).
    """
    batch, length, heads, _ = q.shape
    width = v.shape[-1]
    num_chunks = -(-length // chunk_size)
    per_chunk_bytes = batch * heads * chunk_size * chunk_size * q.element_size()
    chunks_per_block = max(1, _BLOCK_BYTES // max(per_chunk_bytes, 1))
    blocks = [
        (c0 * chunk_size, min(length, (c0 + chunks_per_block) * chunk_size))
        for c0 in range(0, num_chunks, chunks_per_block)
    ]
    if g.shape[0] != batch:
        g = g.expand(batch, length, heads)

    # Pass 1: every chunk's key sums for both sweeps, and its total decay.
    sums = q.new_empty(num_chunks, 2, batch, heads, k.shape[-1], width)
    decay = q.new_empty(num_chunks, 2, batch, heads, 1, 1)
    for t0, t1 in blocks:
        blk = _Block(q, k, v, g, reset, t0, t1, chunk_size, scale)
        n0 = t0 // chunk_size
        n1 = n0 + blk.num_chunks
        key_fwd = blk.k * blk.exp_g[..., None]  # [B, H, n, C, K]
        key_bwd = blk.k * blk.exp_f[..., None]
        sums[n0:n1, 0] = torch.matmul(key_fwd.transpose(-1, -2), blk.v).permute(2, 0, 1, 3, 4)
        sums[n0:n1, 1] = torch.matmul(key_bwd.transpose(-1, -2), blk.v).permute(2, 0, 1, 3, 4)
        decay[n0:n1, :, :, :, 0, 0] = blk.exp_total.permute(2, 0, 1)[:, None]

    states = _exclusive_scan(sums, decay)  # [N, 2, B, H, K, D]: state entering each chunk, per sweep

    # Pass 2: intra-chunk blocks plus each query's view of the two incoming states.
    total = q.new_empty(batch, length, heads, width)
    diff = q.new_empty(batch, length, heads, width) if signed else None
    for t0, t1 in blocks:
        blk = _Block(q, k, v, g, reset, t0, t1, chunk_size, scale)
        n0 = t0 // chunk_size
        n1 = n0 + blk.num_chunks
        scores = torch.matmul(blk.q, blk.k.transpose(-1, -2))  # [B, H, n, C, C]
        log_mask = mask_resets(log_decay_block(blk.prefix, blk.prefix), blk.counts, blk.counts)
        scores.mul_(log_mask.exp_())
        del log_mask
        state_fwd = states[n0:n1, 0].permute(1, 2, 0, 3, 4)  # [B, H, n, K, D]
        state_bwd = states[n0:n1, 1].permute(1, 2, 0, 3, 4)
        from_before = torch.matmul(blk.q * blk.exp_f[..., None], state_fwd)  # [B, H, n, C, D]
        from_after = torch.matmul(blk.q * blk.exp_g[..., None], state_bwd)
        out = torch.matmul(scores, blk.v).add_(from_before).add_(from_after)
        total[:, t0:t1] = blk.unchunk(out)
        if diff is not None:
            scores.mul_(signed_tri(chunk_size, scores.dtype, scores.device))
            out = torch.matmul(scores, blk.v).add_(from_before).sub_(from_after)
            diff[:, t0:t1] = blk.unchunk(out)
    return total, diff


class _Block:
    """One streamed run of chunks, laid out ``[B, H, n, C, *]`` and padded to whole chunks.

    Padding tokens have zero keys, values and queries and a log-decay of 0, so they add nothing.
    """

    def __init__(
        self,
        q: Tensor,
        k: Tensor,
        v: Tensor,
        g: Tensor,
        reset: Tensor | None,
        t0: int,
        t1: int,
        chunk_size: int,
        scale: float,
    ) -> None:
        self.length = t1 - t0
        self.num_chunks = -(-self.length // chunk_size)
        pad = self.num_chunks * chunk_size - self.length
        self.chunk_size = chunk_size
        self.q = self._chunked(q[:, t0:t1], pad) * scale  # [B, H, n, C, K]
        self.k = self._chunked(k[:, t0:t1], pad)
        self.v = self._chunked(v[:, t0:t1], pad)
        gb = self._chunked(g[:, t0:t1, :, None], pad)[..., 0]  # [B, H, n, C]
        self.prefix = gb.cumsum(dim=-1)  # F: decay from the chunk's start - 1 to t
        last = self.prefix[..., -1:]
        to_end = last - self.prefix  # G: decay from t to the chunk's last token
        if reset is None:
            self.counts = None
            self.exp_f = self.prefix.exp()
            self.exp_g = to_end.exp()
            self.exp_total = last[..., 0].exp()
        else:
            rb = reset[:, t0:t1, None, None].to(torch.int32)
            counts = self._chunked(rb, pad)[..., 0].cumsum(dim=-1, dtype=torch.int32)  # [B, 1, n, C]
            self.counts = counts
            count_last = counts[..., -1:]
            self.exp_f = self.prefix.masked_fill(counts > 0, _NEG_INF).exp()
            self.exp_g = to_end.masked_fill(counts != count_last, _NEG_INF).exp()
            self.exp_total = last[..., 0].masked_fill(count_last[..., 0] > 0, _NEG_INF).exp()

    def _chunked(self, x: Tensor, pad: int) -> Tensor:
        # [B, t, H, X] -> [B, H, n, C, X]
        if pad:
            x = torch.nn.functional.pad(x, (0, 0, 0, 0, 0, pad))
        batch, _, heads, width = x.shape
        return x.reshape(batch, self.num_chunks, self.chunk_size, heads, width).permute(0, 3, 1, 2, 4)

    def unchunk(self, x: Tensor) -> Tensor:
        """[B, H, n, C, D] -> [B, t, H, D], dropping the padding."""
        batch, heads = x.shape[:2]
        x = x.permute(0, 2, 3, 1, 4).reshape(batch, self.num_chunks * self.chunk_size, heads, x.shape[-1])
        return x[:, : self.length]


def _exclusive_scan(sums: Tensor, decay: Tensor) -> Tensor:
    """State entering each chunk, for the forward sweep (index 0) and the backward sweep (index 1).

    Args:
        sums: [N, 2, B, H, K, D] per-chunk key sums; overwritten in place with the result.
        decay: [N, 2, B, H, 1, 1] per-chunk total decay.

    Returns:
        [N, 2, B, H, K, D] ``S[n] = decay[n-1] S[n-1] + sums[n-1]`` (forward) and its mirror (backward).
    """
    num_chunks = sums.shape[0]
    running = torch.zeros_like(sums[0, 0])
    for n in range(num_chunks):
        incoming = torch.addcmul(sums[n, 0], running, decay[n, 0])
        sums[n, 0].copy_(running)
        running = incoming
    running = torch.zeros_like(sums[0, 1])
    for n in range(num_chunks - 1, -1, -1):
        incoming = torch.addcmul(sums[n, 1], running, decay[n, 1])
        sums[n, 1].copy_(running)
        running = incoming
    return sums
