"""Literal float64 references for the layer tests: LION attention as explicit masked matrices.

Spec sections 2, 3 and 7 (``shared/spec/lion.md``): the mask entry ``M[i, j]`` is the product of the decays
strictly after ``min(i, j)`` up to ``max(i, j)``; the two-scan variant adds the masked score matrices of two
snake orders in raster order before normalising. Shares no code with ``lion_attn``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def decay_mask(lam: torch.Tensor) -> torch.Tensor:
    """Bidirectional mask [B, H, T, T] from decays ``lam`` [B, T, H], by explicit products."""
    batch, length, heads = lam.shape
    mask = torch.ones(batch, heads, length, length, dtype=lam.dtype)
    for i in range(length):
        for j in range(length):
            lo, hi = min(i, j), max(i, j)
            mask[:, :, i, j] = lam[:, lo + 1 : hi + 1].prod(dim=1)
    return mask


def scores(q: torch.Tensor, k: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
    """Masked, scaled scores [B, H, T, T]; ``q, k`` [B, T, H, K] already feature-mapped."""
    scale = q.shape[-1] ** -0.5
    return scale * torch.einsum("bihk,bjhk->bhij", q, k) * decay_mask(lam)


def normalise(a: torch.Tensor, v: torch.Tensor, eps: float) -> torch.Tensor:
    """``(A v) / (rowsum(A) + eps)`` as [B, T, H, V] for ``a`` [B, H, T, T] and ``v`` [B, T, H, V]."""
    num = torch.einsum("bhij,bjhv->bihv", a, v)
    den = a.sum(-1).transpose(1, 2)[..., None]
    return num / (den + eps)


def snake(h: int, w: int, by_rows: bool) -> list[int]:
    """Raster indices of an ``h x w`` grid visited by a row-major (or column-major) snake."""
    order = []
    if by_rows:
        for r in range(h):
            cols = range(w) if r % 2 == 0 else reversed(range(w))
            order += [r * w + c for c in cols]
    else:
        for c in range(w):
            rows = range(h) if c % 2 == 0 else reversed(range(h))
            order += [r * w + c for r in rows]
    return order


def layer_decays(layer, decay, x: torch.Tensor) -> torch.Tensor:
    """Decays ``lambda`` [B, T, H] of one decay module of a LionAttention, recomputed by hand."""
    batch, length, _ = x.shape
    if layer.variant == "lit":
        return torch.ones(batch, length, layer.num_heads, dtype=torch.float64)
    if layer.variant == "d":
        return torch.sigmoid(decay.a.double()).expand(batch, length, -1)
    return torch.sigmoid(x.double() @ decay.weight.double().t() + decay.bias.double())


def projections(layer, x: torch.Tensor):
    """Feature-mapped q, k and v [B, T, H, K] of a LionAttention with its default feature maps."""
    batch, length, dim = x.shape
    heads = layer.num_heads
    qkv = x.double() @ layer.qkv.weight.double().t()
    if layer.qkv.bias is not None:
        qkv = qkv + layer.qkv.bias.double()
    q, k, v = qkv.view(batch, length, 3, heads, dim // heads).unbind(2)
    if layer.variant == "lit":
        return F.elu(q) + 1, F.elu(k) + 1, v
    return F.normalize(F.silu(q) + 0.5, dim=-1), F.normalize(F.silu(k) + 0.5, dim=-1), v


def output_projection(layer, y: torch.Tensor) -> torch.Tensor:
    """Apply the layer's output projection to [B, T, H, V]."""
    y = y.reshape(y.shape[0], y.shape[1], -1)
    return y @ layer.proj.weight.double().t() + layer.proj.bias.double()


def lion_layer_reference(layer, x: torch.Tensor) -> torch.Tensor:
    """Output [B, T, dim] of a single-scan LionAttention (default feature map), in float64."""
    q, k, v = projections(layer, x)
    a = scores(q, k, layer_decays(layer, layer.decay, x))
    return output_projection(layer, normalise(a, v, layer.eps))


def two_scan_reference(layer, x: torch.Tensor) -> torch.Tensor:
    """Output [B, T, dim] of a two-scan LionAttention (spec section 7), in float64."""
    h, w = layer.grid_size
    prefix = layer.num_prefix_tokens
    q, k, v = projections(layer, x)
    total = 0.0
    for decay, by_rows in ((layer.decay, True), (layer.decay_col, False)):
        perm = list(range(prefix)) + [prefix + r for r in snake(h, w, by_rows)]
        lam = layer_decays(layer, decay, x)[:, perm].clone()
        lam[:, :prefix] = 1.0
        a_scan = scores(q[:, perm], k[:, perm], lam)
        inv = torch.argsort(torch.tensor(perm))
        total = total + a_scan[:, :, inv][:, :, :, inv]
    return output_projection(layer, normalise(total, v, layer.eps))


def rel_err(actual: torch.Tensor, expected: torch.Tensor) -> float:
    """Relative RMS error of ``actual`` against ``expected``."""
    expected = expected.double()
    return ((actual.double() - expected).norm() / expected.norm().clamp_min(1e-300)).item()


def assert_rel(actual: torch.Tensor, expected: torch.Tensor, tol: float) -> None:
    """Assert a relative RMS error below ``tol``, reporting it and the max-abs error on failure."""
    assert actual.shape == expected.shape, f"shape {tuple(actual.shape)} != {tuple(expected.shape)}"
    assert torch.isfinite(actual).all(), "non-finite values"
    err = rel_err(actual, expected)
    max_abs = (actual.double() - expected.double()).abs().max().item()
    assert err < tol, f"relative RMS error {err:.3e} >= {tol:.0e} (max abs {max_abs:.3e})"
