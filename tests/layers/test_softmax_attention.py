"""The softmax baseline: equal to a hand-written softmax attention, padding honoured, uniform mode hook."""

from __future__ import annotations

import pytest
import torch

from lion_attn.layers import SoftmaxAttention

from .dense_reference import assert_rel


def _reference(layer: SoftmaxAttention, x: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
    batch, length, dim = x.shape
    heads = layer.num_heads
    qkv = x @ layer.qkv.weight.t()
    q, k, v = qkv.view(batch, length, 3, heads, dim // heads).unbind(2)
    logits = torch.einsum("bihd,bjhd->bhij", q, k) / (dim // heads) ** 0.5
    if keep is not None:
        logits = logits.masked_fill(~keep[:, None, None, :], float("-inf"))
    y = torch.einsum("bhij,bjhd->bihd", logits.softmax(-1), v).reshape(batch, length, dim)
    return y @ layer.proj.weight.t() + layer.proj.bias


def _layer() -> SoftmaxAttention:
    torch.manual_seed(0)
    return SoftmaxAttention(32, num_heads=4).double()


def test_matches_manual_softmax() -> None:
    layer = _layer()
    x = torch.randn(3, 10, 32, dtype=torch.float64)
    assert_rel(layer(x), _reference(layer, x), 1e-12)


def test_padding() -> None:
    layer = _layer()
    x = torch.randn(3, 8, 32, dtype=torch.float64)
    keep = torch.ones(3, 8, dtype=torch.bool)
    keep[0, 5:] = False
    keep[1, :2] = False
    keep[2, 3] = False
    out = layer(x, keep)
    assert torch.isfinite(out).all()
    assert_rel(out[keep], _reference(layer, x, keep)[keep], 1e-12)
    for b in range(3):
        assert_rel(out[b, keep[b]], layer(x[b : b + 1, keep[b]])[0], 1e-12)


def test_fully_padded_sequence_is_finite() -> None:
    layer = _layer()
    keep = torch.zeros(2, 5, dtype=torch.bool)
    keep[1] = True
    out = layer(torch.randn(2, 5, 32, dtype=torch.float64), keep)
    assert torch.isfinite(out).all()


def test_set_mode_is_validated_no_op() -> None:
    layer = _layer()
    x = torch.randn(1, 4, 32, dtype=torch.float64)
    before = layer(x)
    layer.set_mode("recurrent")
    assert layer.mode == "softmax"
    assert torch.equal(layer(x), before)
    with pytest.raises(ValueError, match="mode"):
        layer.set_mode("bogus")


def test_lion_kwargs_ignored_others_rejected() -> None:
    layer = SoftmaxAttention(16, 2, variant="s", chunk_size=8, two_scan=True, grid_size=(2, 2), mode="chunk")
    assert layer(torch.randn(1, 4, 16)).shape == (1, 4, 16)
    with pytest.raises(TypeError, match="unexpected"):
        SoftmaxAttention(16, 2, heads=3)
    with pytest.raises(ValueError, match="divisible"):
        SoftmaxAttention(15, 2)


def test_attn_drop_only_in_training() -> None:
    torch.manual_seed(0)
    layer = SoftmaxAttention(16, 2, attn_drop=0.5)
    x = torch.randn(2, 6, 16)
    layer.eval()
    assert torch.equal(layer(x), layer(x))
    layer.train()
    assert not torch.equal(layer(x), layer(x))
