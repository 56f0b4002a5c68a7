"""A literal float64 reference for LION bidirectional linear attention, used only by the tests.

LION: "Linear Attention for Efficient Bidirectional Sequence Modeling", Afzal et al., NeurIPS 2025,
arXiv 2502.16249; semantics in ``shared/spec/lion.md`` sections 1-6.

The reference is deliberately naive and shares nothing with ``lion_attn.ops``: the mask is built from explicit
products of decays ``lambda = exp(g)``, row by row, with cumulative products running outward from the diagonal.
It never takes differences of cumulative log-sums, so a decay of exactly 0 (log-decay ``-inf``) is a plain factor
of 0 in the product and needs no special case. Everything runs in float64 through torch autograd, so the same
code gives reference gradients for ``q, k, v, g`` and ``g_gamma``.
"""

from __future__ import annotations

import itertools

import torch

__all__ = ["ref_decay_mask", "ref_lion", "ref_lion_packed", "ref_lion_padded"]


def _log_decays(
    g: torch.Tensor | None, g_gamma: torch.Tensor | None, batch: int, seqlen: int, heads: int
) -> torch.Tensor:
    """Per-token log-decays [B, T, H] in float64 for any variant (zeros for LION-LIT)."""
    if g is not None and g_gamma is not None:
        raise ValueError("reference: give at most one of g and g_gamma")
    if g is not None:
        return g.to(torch.float64)
    if g_gamma is not None:
        return g_gamma.to(torch.float64).view(1, 1, heads).expand(batch, seqlen, heads)
    return torch.zeros(batch, seqlen, heads, dtype=torch.float64)


def ref_decay_mask(log_decay: torch.Tensor) -> torch.Tensor:
    """The bidirectional LION mask from explicit products of decays.

    ``M[i, j] = prod_{l = min(i,j)+1 .. max(i,j)} exp(g_l)`` and ``M[i, i] = 1``; ``g_0`` is never used.

    Args:
        log_decay: log-decays [B, T, H] (float64; ``-inf`` allowed).

    Returns:
        The mask [B, H, T, T] in float64.
    """
    lam = torch.exp(log_decay.to(torch.float64))  # [B, T, H]
    batch, seqlen, heads = lam.shape
    one = lam.new_ones(batch, 1, heads)
    rows = []
    for i in range(seqlen):
        # j > i: lambda_{i+1}, lambda_{i+1} lambda_{i+2}, ...
        right = torch.cumprod(lam[:, i + 1 :], dim=1)
        # j < i: walk from j = i-1 down to 0 multiplying lambda_i, lambda_{i-1}, ..., then put back in j order.
        left = torch.cumprod(lam[:, 1 : i + 1].flip(1), dim=1).flip(1)
        rows.append(torch.cat([left, one, right], dim=1))  # [B, T, H]
    if not rows:
        return lam.new_zeros(batch, heads, 0, 0)
    return torch.stack(rows, dim=1).permute(0, 3, 1, 2)  # [B, H, T, T]


def ref_lion(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    g: torch.Tensor | None = None,
    g_gamma: torch.Tensor | None = None,
    *,
    scale: float | None = None,
    normalize: bool = True,
    eps: float = 1e-6,
) -> torch.Tensor:
    """Full-attention LION in float64, straight from the definition (spec section 2).

    Args:
        q: queries [B, T, H, K].
        k: keys [B, T, H, K].
        v: values [B, T, H, V].
        g: per-token log-decays [B, T, H] (LION-S), or None.
        g_gamma: per-head log-decays [H] (LION-D), or None.
        scale: score scale; ``K ** -0.5`` when None.
        normalize: divide by ``rowsum(A) + eps`` when True.
        eps: added to the denominator.

    Returns:
        The output [B, T, H, V] in float64.
    """
    batch, seqlen, heads, dim_k = q.shape
    if scale is None:
        scale = dim_k**-0.5
    q64, k64, v64 = (x.to(torch.float64) for x in (q, k, v))
    mask = ref_decay_mask(_log_decays(g, g_gamma, batch, seqlen, heads))  # [B, H, T, T]
    scores = torch.einsum("bihk,bjhk->bhij", q64, k64)  # [B, H, T, T]
    attn = scale * scores * mask
    num = torch.einsum("bhij,bjhv->bihv", attn, v64)  # [B, T, H, V]
    if not normalize:
        return num
    den = attn.sum(dim=-1).transpose(1, 2).unsqueeze(-1)  # [B, T, H, 1]
    return num / (den + eps)


def ref_lion_padded(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    g: torch.Tensor | None = None,
    g_gamma: torch.Tensor | None = None,
    *,
    attention_mask: torch.Tensor,
    **kwargs: float | bool | None,
) -> torch.Tensor:
    """Padding by definition: run each row with its pads removed, scatter back, zeros at pads.

    Args:
        q, k, v, g, g_gamma: as in :func:`ref_lion`.
        attention_mask: [B, T] bool, True = real token.
        **kwargs: ``scale``, ``normalize``, ``eps`` for :func:`ref_lion`.

    Returns:
        The output [B, T, H, V] in float64.
    """
    batch, seqlen, heads, _ = q.shape
    out = q.new_zeros(batch, seqlen, heads, v.shape[-1], dtype=torch.float64)
    for b in range(batch):
        idx = attention_mask[b].nonzero().flatten()
        if idx.numel() == 0:
            continue
        row_g = None if g is None else g[b : b + 1, idx]
        y = ref_lion(q[b : b + 1, idx], k[b : b + 1, idx], v[b : b + 1, idx], row_g, g_gamma, **kwargs)
        out = out.index_put((torch.tensor([b]), idx), y[0])
    return out


def ref_lion_packed(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    g: torch.Tensor | None = None,
    g_gamma: torch.Tensor | None = None,
    *,
    cu_seqlens: torch.Tensor | list[int],
    **kwargs: float | bool | None,
) -> torch.Tensor:
    """Packed sequences by definition: run every segment ``[cu[n], cu[n+1])`` of a batch of 1 alone.

    Args:
        q, k, v, g, g_gamma: as in :func:`ref_lion`, with B = 1.
        cu_seqlens: [N + 1] offsets, 0 first and T last.
        **kwargs: ``scale``, ``normalize``, ``eps`` for :func:`ref_lion`.

    Returns:
        The output [1, T, H, V] in float64.
    """
    offsets = [int(x) for x in cu_seqlens]
    parts = []
    for start, end in itertools.pairwise(offsets):
        seg_g = None if g is None else g[:, start:end]
        parts.append(ref_lion(q[:, start:end], k[:, start:end], v[:, start:end], seg_g, g_gamma, **kwargs))
    return torch.cat(parts, dim=1)
