"""Float64 references for the layer tests: a LionAttention recomputed by hand around the literal op.

The projections, feature maps and decays of a layer are recomputed here from its parameters; the attention itself
is the literal reference :mod:`lion_attn.ops.naive` (single scan: :func:`naive_parallel`; the two-scan variant:
:func:`naive_scans`, which adds the masks of the two snake orders in raster order before normalising).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from lion_attn.ops.naive import naive_parallel, naive_scans


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


def _log_decays(lam: torch.Tensor) -> torch.Tensor | None:
    """Log-decays [B, T, H] of decays ``lam``, or None when every decay is 1 (LION-LIT)."""
    return None if bool((lam == 1).all()) else lam.log()


def lion_layer_reference(layer, x: torch.Tensor) -> torch.Tensor:
    """Output [B, T, dim] of a single-scan LionAttention (default feature map), in float64."""
    q, k, v = projections(layer, x)
    lam = layer_decays(layer, layer.decay, x)
    y = naive_parallel(q, k, v, _log_decays(lam), eps=layer.eps)
    return output_projection(layer, y)


def two_scan_reference(layer, x: torch.Tensor) -> torch.Tensor:
    """Output [B, T, dim] of a two-scan LionAttention, in float64: prefix tokens first with decay 1, then the patches
    in each snake order, each order with its own decays."""
    h, w = layer.grid_size
    prefix = layer.num_prefix_tokens
    q, k, v = projections(layer, x)
    gs, orders = [], []
    for decay, by_rows in ((layer.decay, True), (layer.decay_col, False)):
        perm = list(range(prefix)) + [prefix + r for r in snake(h, w, by_rows)]
        lam = layer_decays(layer, decay, x)[:, perm].clone()  # in scan order
        lam[:, :prefix] = 1.0
        gs.append(lam.log())
        orders.append(torch.tensor(perm))
    return output_projection(layer, naive_scans(q, k, v, gs, orders, eps=layer.eps))


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
