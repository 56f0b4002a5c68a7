"""The literal reference: LION's three forms and the two-scan variant, written as the paper's listings.

LION ("Linear Attention for Efficient Bidirectional Sequence Modeling", Afzal et al., NeurIPS 2025,
arXiv 2502.16249) computes bidirectional linear attention in three forms that give the same numbers. This module
writes each one straight from its equations (``lion_attn/ops/README.md`` has them), with numbered steps that
follow the maths, shapes in comments and plain loops over tokens or chunks. It has no performance tricks: no
blocking, no fused normaliser column, no log-space bookkeeping of resets, no hand-written backward. Gradients come
from torch autograd through the listing itself.

It is the yardstick of the fast code in :mod:`lion_attn.ops`: it imports nothing from it and no library module
imports it; the tests, the layer reference and the benchmarks' correctness gate do. Everything is computed in
float64 and returned in float64 (gradients still reach inputs of any floating dtype). It is slow: use it on small
inputs, or on a few query rows (``rows=`` of :func:`naive_parallel`).

Notation (sequence-first, as the op): ``q, k [B, T, H, K]``, ``v [B, T, H, V]``, log-decays ``g [B, T, H]``
(LION-S) or ``g_gamma [H]`` (LION-D), neither for LION-LIT; ``lambda = exp(g)`` in ``[0, 1]``. Every decay
factor is written as an explicit product of ``lambda``'s, so a log-decay of ``-inf`` (a decay of exactly 0, a
hard boundary) is a plain factor 0 and needs no special case.

Padding and packing follow their definitions: a padded row runs with its pads removed (outputs at pads are 0),
every packed segment runs alone.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

__all__ = [
    "NAIVE_FORMS",
    "naive_chunk",
    "naive_decay_mask",
    "naive_lion",
    "naive_parallel",
    "naive_recurrent",
    "naive_scans",
]

F64 = torch.float64
# (numerators [B, T, H, V], denominators [B, T, H]) of one form on one unpadded sequence batch.
Sums = tuple[Tensor, Tensor]


def naive_decay_mask(g: Tensor, rows: Tensor | None = None) -> Tensor:
    """The bidirectional decay mask by explicit products of decays.

    ``M[i, j] = prod_{l = min(i,j)+1 .. max(i,j)} lambda_l`` with ``lambda = exp(g)`` and ``M[i, i] = 1``
    (``lambda_0`` is never used). M is symmetric; for LION-D it is ``lambda^|i-j|``, for LION-LIT all ones.

    Args:
        g: log-decays [B, T, H] (``-inf`` allowed: a decay of exactly 0).
        rows: query positions [S] whose mask rows to build (all T when None).

    Returns:
        The mask rows [B, H, S, T] in float64.
    """
    lam = torch.exp(g.to(F64))  # [B, T, H]
    batch, length, heads = lam.shape
    rows_list = range(length) if rows is None else [int(i) for i in rows]
    one = lam.new_ones(batch, 1, heads)
    mask_rows = []
    for i in rows_list:
        # j > i: lambda_{i+1}, lambda_{i+1} lambda_{i+2}, ... (products running right from the diagonal)
        right = torch.cumprod(lam[:, i + 1 :], dim=1)  # [B, T-1-i, H]
        # j < i: lambda_i, lambda_i lambda_{i-1}, ... (running left from the diagonal), put back in j order
        left = torch.cumprod(lam[:, 1 : i + 1].flip(1), dim=1).flip(1)  # [B, i, H]
        mask_rows.append(torch.cat([left, one, right], dim=1))  # [B, T, H]
    if not mask_rows:
        return lam.new_zeros(batch, heads, 0, length)
    return torch.stack(mask_rows, dim=1).permute(0, 3, 1, 2)  # [B, H, S, T]


def _parallel_sums(q: Tensor, k: Tensor, v: Tensor, g: Tensor, scale: float, rows: Tensor | None = None) -> Sums:
    """Full-attention form: numerators and denominators at query ``rows`` (all when None)."""
    query = q if rows is None else q[:, rows]  # [B, S, H, K]
    # 1. The mask M [B, H, S, T] from explicit products of decays.
    mask = naive_decay_mask(g, rows)
    # 2. Scores A[i, j] = scale (q_i . k_j) M[i, j].
    attn = scale * torch.einsum("bihk,bjhk->bhij", query, k) * mask  # [B, H, S, T]
    # 3. num_i = sum_j A[i, j] v_j,  den_i = sum_j A[i, j].
    num = torch.einsum("bhij,bjhv->bihv", attn, v)  # [B, S, H, V]
    den = attn.sum(dim=-1).transpose(1, 2)  # [B, S, H]
    return num, den


def _recurrent_sums(q: Tensor, k: Tensor, v: Tensor, g: Tensor, scale: float) -> Sums:
    """Bidirectional RNN: two scans with inclusive states, the diagonal subtracted once."""
    batch, length, heads, dim_k = q.shape
    dim_v = v.shape[-1]
    if length == 0:
        return q.new_zeros(batch, 0, heads, dim_v), q.new_zeros(batch, 0, heads)
    lam = torch.exp(g)  # [B, T, H]
    # Per-token partial outputs, filled in scan order below.
    num_f, den_f, num_b, den_b = ([q.new_empty(0)] * length for _ in range(4))

    # 1. Forward scan, i = 0 .. T-1:  S_F = lambda_i S_F + k_i v_i^T,  z_F = lambda_i z_F + k_i.
    s_f = q.new_zeros(batch, heads, dim_k, dim_v)  # [B, H, K, V]
    z_f = q.new_zeros(batch, heads, dim_k)  # [B, H, K]
    for i in range(length):
        # lambda_0 is never used (treated as 1).
        decay = lam[:, i, :] if i > 0 else torch.ones_like(lam[:, 0, :])  # [B, H]
        s_f = decay[..., None, None] * s_f + torch.einsum("bhk,bhv->bhkv", k[:, i], v[:, i])
        z_f = decay[..., None] * z_f + k[:, i]
        # Only the per-token partial outputs q_i^T S_F(i), q_i^T z_F(i) are kept.
        num_f[i] = torch.einsum("bhk,bhkv->bhv", q[:, i], s_f)  # [B, H, V]
        den_f[i] = torch.einsum("bhk,bhk->bh", q[:, i], z_f)  # [B, H]

    # 2. Backward scan, i = T-1 .. 0:  S_B = lambda_{i+1} S_B + k_i v_i^T,  z_B = lambda_{i+1} z_B + k_i.
    s_b = q.new_zeros(batch, heads, dim_k, dim_v)
    z_b = q.new_zeros(batch, heads, dim_k)
    for i in reversed(range(length)):
        # lambda_T is never used (treated as 1).
        decay = lam[:, i + 1, :] if i + 1 < length else torch.ones_like(lam[:, 0, :])
        s_b = decay[..., None, None] * s_b + torch.einsum("bhk,bhv->bhkv", k[:, i], v[:, i])
        z_b = decay[..., None] * z_b + k[:, i]
        num_b[i] = torch.einsum("bhk,bhkv->bhv", q[:, i], s_b)
        den_b[i] = torch.einsum("bhk,bhk->bh", q[:, i], z_b)

    # 3. num_i = scale q_i^T (S_F(i) + S_B(i) - k_i v_i^T),  den_i = scale q_i^T (z_F(i) + z_B(i) - k_i):
    #    both inclusive states hold the diagonal term, so it is subtracted once.
    qk = torch.einsum("bthk,bthk->bth", q, k)  # [B, T, H]
    num = scale * (torch.stack(num_f, dim=1) + torch.stack(num_b, dim=1) - qk[..., None] * v)  # [B, T, H, V]
    den = scale * (torch.stack(den_f, dim=1) + torch.stack(den_b, dim=1) - qk)  # [B, T, H]
    return num, den


def _chunk_sums(q: Tensor, k: Tensor, v: Tensor, g: Tensor, scale: float, chunk_size: int) -> Sums:
    """State-passing chunkwise form: an intra-chunk block plus a forward and a backward sweep of states.

    Inside chunk ``[s, e)``: ``exp(F_t) = prod_{l=s..t} lambda_l`` (decay from s-1 to t) and
    ``exp(G_t) = prod_{l=t+1..e-1} lambda_l`` (decay from t to e-1), written as products of decays.
    """
    batch, length, heads, dim_k = q.shape
    dim_v = v.shape[-1]
    lam = torch.exp(g)  # [B, T, H]
    chunks = [(s, min(s + chunk_size, length)) for s in range(0, length, chunk_size)]
    num = [q.new_zeros(batch, e - s, heads, dim_v) for s, e in chunks]
    den = [q.new_zeros(batch, e - s, heads) for s, e in chunks]

    def exp_f(s: int, e: int) -> Tensor:  # exp(F_t) for t in [s, e): [B, C, H]
        return torch.stack([lam[:, s : t + 1].prod(dim=1) for t in range(s, e)], dim=1)

    def exp_g(s: int, e: int) -> Tensor:  # exp(G_t) for t in [s, e): [B, C, H]; the empty product is 1
        return torch.stack([lam[:, t + 1 : e].prod(dim=1) for t in range(s, e)], dim=1)

    # 1. Intra-chunk: M_cc is the full mask restricted to the chunk; A_cc = scale (Q_c K_c^T) * M_cc.
    for n, (s, e) in enumerate(chunks):
        mask = naive_decay_mask(g[:, s:e])  # [B, H, C, C]
        attn = scale * torch.einsum("bihk,bjhk->bhij", q[:, s:e], k[:, s:e]) * mask
        num[n] = num[n] + torch.einsum("bhij,bjhv->bihv", attn, v[:, s:e])
        den[n] = den[n] + attn.sum(dim=-1).transpose(1, 2)

    # 2. Forward sweep, chunks in order: S_F, z_F hold every earlier token decayed to position s-1.
    s_f = q.new_zeros(batch, heads, dim_k, dim_v)  # [B, H, K, V]
    z_f = q.new_zeros(batch, heads, dim_k)  # [B, H, K]
    for n, (s, e) in enumerate(chunks):
        # Query t reads the state with factor exp(F_t).
        q_in = scale * exp_f(s, e)[..., None] * q[:, s:e]  # [B, C, H, K]
        num[n] = num[n] + torch.einsum("bthk,bhkv->bthv", q_in, s_f)
        den[n] = den[n] + torch.einsum("bthk,bhk->bth", q_in, z_f)
        # S_F <- exp(F_{e-1}) S_F + sum_j exp(G_j) k_j v_j^T (same for z_F).
        k_out = exp_g(s, e)[..., None] * k[:, s:e]  # [B, C, H, K]
        whole = lam[:, s:e].prod(dim=1)  # exp(F_{e-1}) [B, H]
        s_f = whole[..., None, None] * s_f + torch.einsum("bjhk,bjhv->bhkv", k_out, v[:, s:e])
        z_f = whole[..., None] * z_f + k_out.sum(dim=1)

    # 3. Backward sweep, chunks in reverse: S_B, z_B hold every later token decayed to position e-1.
    s_b = q.new_zeros(batch, heads, dim_k, dim_v)
    z_b = q.new_zeros(batch, heads, dim_k)
    for n, (s, e) in reversed(list(enumerate(chunks))):
        # Query t reads the state with factor exp(G_t).
        q_in = scale * exp_g(s, e)[..., None] * q[:, s:e]
        num[n] = num[n] + torch.einsum("bthk,bhkv->bthv", q_in, s_b)
        den[n] = den[n] + torch.einsum("bthk,bhk->bth", q_in, z_b)
        # S_B <- exp(F_{e-1}) S_B + sum_j exp(F_j) k_j v_j^T (same for z_B).
        k_in = exp_f(s, e)[..., None] * k[:, s:e]
        whole = lam[:, s:e].prod(dim=1)
        s_b = whole[..., None, None] * s_b + torch.einsum("bjhk,bjhv->bhkv", k_in, v[:, s:e])
        z_b = whole[..., None] * z_b + k_in.sum(dim=1)

    if not chunks:
        return q.new_zeros(batch, 0, heads, dim_v), q.new_zeros(batch, 0, heads)
    return torch.cat(num, dim=1), torch.cat(den, dim=1)


def _check(q: Tensor, k: Tensor, v: Tensor, g: Tensor | None, g_gamma: Tensor | None) -> None:
    if q.dim() != 4 or k.shape != q.shape or v.dim() != 4 or v.shape[:3] != q.shape[:3]:
        raise ValueError(f"naive: q, k [B, T, H, K] and v [B, T, H, V] disagree: {q.shape}, {k.shape}, {v.shape}")
    if g is not None and g_gamma is not None:
        raise ValueError("naive: give at most one of `g` (LION-S) and `g_gamma` (LION-D)")
    for name, x in (("g", g), ("g_gamma", g_gamma)):
        if x is not None and bool((x > 0).any()):
            raise ValueError(f"naive: `{name}` holds log-decays, which must be <= 0")


def _log_decays(g: Tensor | None, g_gamma: Tensor | None, batch: int, length: int, heads: int) -> Tensor:
    """Per-token log-decays [B, T, H] in float64 for every variant (zeros, i.e. lambda = 1, for LION-LIT)."""
    if g is not None:
        return g.to(F64)
    if g_gamma is not None:
        return g_gamma.to(F64).view(1, 1, heads).expand(batch, length, heads)
    return torch.zeros(batch, length, heads, dtype=F64)


def _segments(cu_seqlens: Tensor | Sequence[int] | None, length: int) -> list[tuple[int, int]]:
    if cu_seqlens is None:
        return [(0, length)]
    offsets = [int(x) for x in cu_seqlens]
    if len(offsets) < 2 or offsets[0] != 0 or offsets[-1] != length or offsets != sorted(offsets):
        raise ValueError(f"naive: `cu_seqlens` must be non-decreasing offsets from 0 to T = {length}, got {offsets}")
    return list(itertools.pairwise(offsets))


# The sums of each form, by name.
_FORM_SUMS: dict[str, Callable[..., Sums]] = {
    "parallel": _parallel_sums,
    "chunk": _chunk_sums,
    "recurrent": _recurrent_sums,
}


def _by_definition(
    sums: Callable[..., Sums], q: Tensor, k: Tensor, v: Tensor, g: Tensor | None, g_gamma: Tensor | None,
    scale: float | None, normalize: bool, eps: float, attention_mask: Tensor | None,
    cu_seqlens: Tensor | Sequence[int] | None, **options: object,
) -> Tensor:  # fmt: skip
    """Run a form's sums on every sequence as its definition says, then normalise: [B, T, H, V] float64."""
    _check(q, k, v, g, g_gamma)
    batch, length, heads, dim_k = q.shape
    if scale is None:
        scale = dim_k**-0.5 if dim_k > 0 else 1.0
    q64, k64, v64 = q.to(F64), k.to(F64), v.to(F64)
    log_decay = _log_decays(g, g_gamma, batch, length, heads).to(q64.device)
    if attention_mask is None and cu_seqlens is None:
        num, den = sums(q64, k64, v64, log_decay, scale, **options)
    else:
        if cu_seqlens is not None and batch != 1:
            raise ValueError(f"naive: `cu_seqlens` packs sequences into a batch of 1, got B = {batch}")
        keep = torch.ones(batch, length, dtype=torch.bool) if attention_mask is None else attention_mask.bool().cpu()
        num = q64.new_zeros(batch, length, heads, v.shape[-1])
        den = q64.new_zeros(batch, length, heads)
        for b in range(batch):
            for start, end in _segments(cu_seqlens, length):
                # The segment with its pads removed, run alone; its outputs go back to its real positions.
                idx = start + keep[b, start:end].nonzero().flatten()
                if idx.numel() == 0:
                    continue
                idx = idx.to(q64.device)
                part = (x[b : b + 1, idx] for x in (q64, k64, v64, log_decay))
                seg_num, seg_den = sums(*part, scale, **options)
                num = num.index_put((torch.tensor([b], device=idx.device), idx), seg_num[0])
                den = den.index_put((torch.tensor([b], device=idx.device), idx), seg_den[0])
        # Pads: numerator and denominator 0, so the output there is 0 (denominator 1 avoids 0 / eps = NaN).
        den = torch.where(keep.to(den.device)[..., None], den, torch.ones_like(den))
    if not normalize:
        return num
    # y_i = num_i / (den_i + eps), with the same eps in every form.
    return num / (den[..., None] + eps)


def naive_lion(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    g: Tensor | None = None,
    g_gamma: Tensor | None = None,
    *,
    mode: str = "parallel",
    scale: float | None = None,
    normalize: bool = True,
    eps: float = 1e-6,
    attention_mask: Tensor | None = None,
    cu_seqlens: Tensor | Sequence[int] | None = None,
    chunk_size: int = 64,
    rows: Tensor | None = None,
) -> Tensor:
    """LION in the literal form named by ``mode``; :func:`naive_parallel`, :func:`naive_chunk` and
    :func:`naive_recurrent` are this with ``mode`` fixed.

    Args:
        q: [B, T, H, K] feature-mapped queries.
        k: [B, T, H, K] feature-mapped keys.
        v: [B, T, H, V] values.
        g: [B, T, H] log-decays (LION-S), or None.
        g_gamma: [H] per-head log-decays (LION-D), or None. Neither: LION-LIT.
        mode: ``"parallel" | "chunk" | "recurrent"``.
        scale: score scale, ``K ** -0.5`` when None.
        normalize: divide by ``den + eps``; False returns the numerators.
        eps: added to every denominator.
        attention_mask: [B, T] bool, True = real token; pads are removed, their outputs are 0.
        cu_seqlens: [N + 1] offsets of sequences packed into a batch of 1; each is run alone.
        chunk_size: C, tokens per chunk of the chunkwise form (the last may be shorter); ignored by the others.
        rows: [S] query positions to compute (all when None); parallel form only, not with padding or packing.

    Returns:
        [B, T, H, V] float64 (``[B, S, H, V]`` with ``rows``).
    """
    if mode not in _FORM_SUMS:
        raise ValueError(f"naive_lion: `mode` must be one of {tuple(_FORM_SUMS)}, got {mode!r}")
    options: dict[str, object] = {}
    if rows is not None:
        if mode != "parallel" or attention_mask is not None or cu_seqlens is not None:
            raise ValueError("naive: `rows` is for the parallel form without `attention_mask` or `cu_seqlens`")
        options["rows"] = rows
    if mode == "chunk":
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
            raise ValueError(f"naive_chunk: `chunk_size` must be an int >= 1, got {chunk_size!r}")
        options["chunk_size"] = chunk_size
    sums = _FORM_SUMS[mode]
    return _by_definition(sums, q, k, v, g, g_gamma, scale, normalize, eps, attention_mask, cu_seqlens, **options)


def naive_parallel(
    q: Tensor, k: Tensor, v: Tensor, g: Tensor | None = None, g_gamma: Tensor | None = None, **kwargs: Any
) -> Tensor:
    """LION in full-attention form, literally: ``y_i = sum_j A[i, j] v_j / (sum_j A[i, j] + eps)``.

    Args and Returns: as :func:`naive_lion` (``rows`` selects query positions).
    """
    return naive_lion(q, k, v, g, g_gamma, mode="parallel", **kwargs)


def naive_recurrent(
    q: Tensor, k: Tensor, v: Tensor, g: Tensor | None = None, g_gamma: Tensor | None = None, **kwargs: Any
) -> Tensor:
    """LION as a bidirectional RNN, literally: a forward and a backward scan of ``[K, V]`` states.

    Args and Returns: as :func:`naive_lion`.
    """
    return naive_lion(q, k, v, g, g_gamma, mode="recurrent", **kwargs)


def naive_chunk(
    q: Tensor, k: Tensor, v: Tensor, g: Tensor | None = None, g_gamma: Tensor | None = None, **kwargs: Any
) -> Tensor:
    """LION in state-passing chunkwise form, literally: an intra-chunk block and two sweeps of chunk states.

    Args and Returns: as :func:`naive_lion`; ``chunk_size`` is C, tokens per chunk.
    """
    return naive_lion(q, k, v, g, g_gamma, mode="chunk", **kwargs)


NAIVE_FORMS: dict[str, Callable[..., Tensor]] = {
    "parallel": naive_parallel,
    "chunk": naive_chunk,
    "recurrent": naive_recurrent,
}


def naive_scans(
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
) -> Tensor:
    """The two-scan ("natural") vision variant, literally: one mask (or one bidirectional pass) per scan order.

    Parallel form: build each order's mask in its scan order, put its rows and columns back in raster order, add
    the masks, then ``A = scale (Q K^T) * (M_1 + M_2 + ...)`` and ``y = A V / (rowsum(A) + eps)``. Chunk and
    recurrent forms: run one bidirectional pass per order on the tokens in that order, put the numerators and
    denominators back in raster order, add them, then divide. Both add (never average), so ``eps`` enters as in
    the single-scan forms.

    Args:
        q: [B, T, H, K] feature-mapped queries in raster order.
        k: [B, T, H, K] feature-mapped keys.
        v: [B, T, H, V] values.
        gs: one [B or 1, T, H] tensor of log-decays per order (None: no decay), in its scan order (entry ``s`` is
            the decay of the token visited at step ``s``).
        orders: one [T] permutation per order: entry ``s`` is the raster index visited at step ``s``.
        mode: ``"parallel" | "chunk" | "recurrent"``.
        scale, normalize, eps, chunk_size: as :func:`naive_parallel`.
        attention_mask: [B, T] bool in raster order; each scan runs with the pads removed, outputs at pads are 0.

    Returns:
        [B, T, H, V] float64.
    """
    _check(q, k, v, None, None)
    if mode not in _FORM_SUMS:
        raise ValueError(f"naive_scans: `mode` must be one of {tuple(_FORM_SUMS)}, got {mode!r}")
    if len(gs) != len(orders) or not gs:
        raise ValueError("naive_scans: `gs` and `orders` must be non-empty and of the same length")
    batch, length, heads, dim_k = q.shape
    if scale is None:
        scale = dim_k**-0.5 if dim_k > 0 else 1.0
    q64, k64, v64 = q.to(F64), k.to(F64), v.to(F64)
    keep = torch.ones(batch, length, dtype=torch.bool) if attention_mask is None else attention_mask.bool().cpu()
    out = q64.new_zeros(batch, length, heads, v.shape[-1])
    for b in range(batch):
        real = keep[b].nonzero().flatten()  # raster indices of the real tokens
        count = real.numel()
        if count == 0:
            continue
        rank = torch.full((length,), -1, dtype=torch.long)
        rank[real] = torch.arange(count)  # raster index -> position among the real tokens
        total_mask = q64.new_zeros(1, heads, count, count)  # parallel: sum of the masks, real raster order
        num = q64.new_zeros(1, count, heads, v.shape[-1])  # chunk / recurrent: summed numerators
        den = q64.new_zeros(1, count, heads)
        idx = real.to(q64.device)
        qb, kb, vb = q64[b : b + 1, idx], k64[b : b + 1, idx], v64[b : b + 1, idx]  # [1, n, H, *]
        for g, order in zip(gs, orders, strict=True):
            order = order.cpu().long()
            # 1. The scan with the pads removed: its steps visit these tokens (raster -> real positions).
            steps = keep[b, order].nonzero().flatten()
            visit = rank[order[steps]].to(q64.device)  # [n] position among the real tokens of each step
            if g is None:  # no decay (LION-LIT): lambda = 1
                g = q64.new_zeros(1, length, heads)
            row = b if g.shape[0] > 1 else 0  # a [1, T, H] decay serves every row
            g_scan = g[row : row + 1, steps.to(g.device)].to(F64)  # [1, n, H], scan order
            if mode == "parallel":
                # 2p. This order's mask in scan order, rows and columns put back in raster order, added.
                mask_scan = naive_decay_mask(g_scan)  # [1, H, n, n], scan order
                step_of = torch.argsort(visit)  # real position -> the step that visits it
                total_mask = total_mask + mask_scan[:, :, step_of][:, :, :, step_of]
            else:
                # 2s. One bidirectional pass on the tokens in scan order; its sums put back in raster order.
                sums = _FORM_SUMS[mode]
                extra = {"chunk_size": chunk_size} if mode == "chunk" else {}
                s_num, s_den = sums(qb[:, visit], kb[:, visit], vb[:, visit], g_scan, scale, **extra)
                num = num.index_add(1, visit, s_num)
                den = den.index_add(1, visit, s_den)
        if mode == "parallel":
            # 3p. A = scale (q_i . k_j) (M_1 + M_2)[i, j]; num = A v, den = rowsum(A).
            attn = scale * torch.einsum("bihk,bjhk->bhij", qb, kb) * total_mask
            num = torch.einsum("bhij,bjhv->bihv", attn, vb)
            den = attn.sum(dim=-1).transpose(1, 2)
        # 4. y = num / (den + eps).
        y = num / (den[..., None] + eps) if normalize else num
        out = out.index_put((torch.tensor([b], device=out.device), real.to(out.device)), y[0])
    return out
