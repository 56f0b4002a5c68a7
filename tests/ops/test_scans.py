"""Several scan orders in one full-attention pass (``parallel_lion_scans``) against the literal reference.

The reference runs the literal float64 LION once per order, on q, k, v permuted into that order, permutes the
un-normalised sums back, adds them and divides: docs/maths.md ("The two-scan image variant") word for word.
"""

from __future__ import annotations

import pytest
import torch

from lion_attn.ops import parallel_lion_scans

from .reference import ref_lion, ref_lion_padded
from .utils import TOL, assert_close, log_decays


def _orders(length: int, count: int, gen: torch.Generator) -> list[torch.Tensor]:
    orders = [torch.arange(length)]
    while len(orders) < count:
        orders.append(torch.randperm(length, generator=gen))
    return orders


def _reference(q, k, v, gs, orders, normalize=True, eps=1e-6, attention_mask=None):
    ones = torch.ones_like(v[..., :1])
    v_aug = torch.cat([v, ones], dim=-1)
    total = 0.0
    for g, order in zip(gs, orders, strict=True):
        inverse = torch.argsort(order)
        g_full = g.expand(q.shape[0], -1, -1)
        args = (q[:, order], k[:, order], v_aug[:, order], g_full)
        if attention_mask is None:
            sums = ref_lion(*args, normalize=False)
        else:
            sums = ref_lion_padded(*args, attention_mask=attention_mask[:, order], normalize=False)
        total = total + sums[:, inverse]
    if not normalize:
        return total[..., :-1]
    return total[..., :-1] / (total[..., -1:] + eps)


def _case(batch, length, heads, count, level, shared_decay, seed=0):
    gen = torch.Generator().manual_seed(seed)
    q = torch.rand(batch, length, heads, 3, generator=gen, dtype=torch.float64)
    k = torch.rand(batch, length, heads, 3, generator=gen, dtype=torch.float64)
    v = torch.randn(batch, length, heads, 4, generator=gen, dtype=torch.float64)
    decay_batch = 1 if shared_decay else batch
    gs = [log_decays((decay_batch, length, heads), level, gen) for _ in range(count)]
    return q, k, v, gs, _orders(length, count, gen)


def _on(device, q, k, v, gs, orders):
    """The case's tensors moved to ``device`` (generated on the CPU, so every device sees the same numbers)."""
    return q.to(device), k.to(device), v.to(device), [g.to(device) for g in gs], [o.to(device) for o in orders]


def _grads(fn, q, k, v, gs, orders, device="cpu", **kwargs):
    """``fn``'s output and input gradients on ``device``, returned on the CPU."""
    q, k, v, gs, orders = _on(device, q, k, v, gs, orders)
    kwargs = {n: x.to(device) if isinstance(x, torch.Tensor) else x for n, x in kwargs.items()}
    leaves = [t.clone().requires_grad_(True) for t in (q, k, v, *gs)]
    out = fn(leaves[0], leaves[1], leaves[2], leaves[3:], orders, **kwargs)
    weight = torch.randn(out.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    (out.to(torch.float64) * weight.to(out.device)).sum().backward()
    return out.detach().cpu(), [t.grad.cpu() for t in leaves]


@pytest.mark.parametrize("length", [1, 7, 30])
@pytest.mark.parametrize("level", ["zero", "moderate", "strong", "mix"])
@pytest.mark.parametrize("count", [1, 2, 3])
@pytest.mark.parametrize("shared_decay", [False, True])
def test_scans_match_reference_f64(device: str, length: int, level: str, count: int, shared_decay: bool) -> None:
    q, k, v, gs, orders = _case(2, length, 2, count, level, shared_decay)
    expected, expected_grads = _grads(_reference, q, k, v, gs, orders)
    actual, actual_grads = _grads(parallel_lion_scans, q, k, v, gs, orders, device=device)
    assert_close("out", actual, expected, TOL[torch.float64])
    for name, a, e in zip(["q", "k", "v"] + [f"g{s}" for s in range(count)], actual_grads, expected_grads, strict=True):
        assert_close(f"d{name}", a, e, TOL[torch.float64], floor=expected_grads[2].pow(2).mean().sqrt().item())


def test_scans_unnormalised_and_no_grad(device: str) -> None:
    q, k, v, gs, orders = _case(2, 12, 3, 2, "moderate", False, seed=3)
    expected = _reference(q, k, v, gs, orders, normalize=False)
    on = _on(device, q, k, v, gs, orders)
    assert_close("sums", parallel_lion_scans(*on, normalize=False).cpu(), expected, TOL[torch.float64])
    with torch.no_grad():
        assert_close("no-grad", parallel_lion_scans(*on).cpu(), _reference(q, k, v, gs, orders), 1e-10)


def test_scans_padding_equals_reference(device: str) -> None:
    q, k, v, gs, orders = _case(3, 11, 2, 2, "moderate", False, seed=5)
    keep = torch.ones(3, 11, dtype=torch.bool)
    keep[0, :3] = False
    keep[1, 6] = False
    keep[2, 8:] = False
    expected, expected_grads = _grads(_reference, q, k, v, gs, orders, attention_mask=keep)
    actual, actual_grads = _grads(parallel_lion_scans, q, k, v, gs, orders, device=device, attention_mask=keep)
    assert_close("out", actual, expected, TOL[torch.float64])
    assert (actual[~keep] == 0).all()
    for name, a, e in zip(["q", "k", "v", "g0", "g1"], actual_grads, expected_grads, strict=True):
        assert_close(f"d{name}", a, e, TOL[torch.float64], floor=expected_grads[2].pow(2).mean().sqrt().item())


def test_scans_long_strong_decays_float32(device: str) -> None:
    """Prefix sums far beyond float32's exact range: the float64 differences keep the mask accurate."""
    q, k, v, gs, orders = _case(1, 300, 2, 2, "tiny", False, seed=7)
    for g in gs:
        g[:, :100] = -30.0  # prefix sums reach -3000, where float32 steps by 2.4e-4; later tokens barely decay
        g[:, 100:] = -1e-3
    # Un-normalised, so no common rounding of a row's mask cancels in the division.
    expected = _reference(q, k, v, gs, orders, normalize=False)
    q, k, v, gs, orders = _on(device, q.float(), k.float(), v.float(), [g.float() for g in gs], orders)
    actual = parallel_lion_scans(q, k, v, gs, orders, normalize=False)
    assert actual.dtype == torch.float32
    assert_close("out", actual.cpu(), expected, 1e-5)


def test_scans_bfloat16_close_to_float32(device: str) -> None:
    q, k, v, gs, orders = _on(device, *_case(2, 16, 2, 2, "moderate", False, seed=9))
    ref = parallel_lion_scans(q.float(), k.float(), v.float(), [g.float() for g in gs], orders)
    out = parallel_lion_scans(q.bfloat16(), k.bfloat16(), v.bfloat16(), [g.bfloat16() for g in gs], orders)
    assert out.dtype == torch.bfloat16
    assert_close("bf16", out.float().cpu(), ref.cpu(), 3e-2)


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (lambda gs, orders: (gs, orders[:1]), ValueError, "same length"),
        (lambda gs, orders: ([], []), ValueError, "non-empty"),
        (lambda gs, orders: ([gs[0], gs[1].abs() + 0.1], orders), ValueError, r"gs\[1\].*<= 0"),
        (lambda gs, orders: ([gs[0][:, :-1], gs[1]], orders), ValueError, r"gs\[0\].*shape"),
        (lambda gs, orders: ([gs[0], gs[1]], [orders[0], orders[1].float()]), TypeError, r"orders\[1\]"),
        (lambda gs, orders: (gs, [orders[0], torch.zeros_like(orders[1])]), ValueError, "permutation"),
        (lambda gs, orders: ([gs[0], torch.full_like(gs[1], float("-inf"))], orders), ValueError, "finite"),
    ],
)
def test_scans_bad_input(change, error, match) -> None:
    q, k, v, gs, orders = _case(1, 6, 2, 2, "moderate", False)
    gs, orders = change(gs, orders)
    with pytest.raises(error, match=match):
        parallel_lion_scans(q, k, v, gs, orders)
