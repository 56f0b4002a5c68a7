"""Checks of the float64 reference itself, against hand computation and independent formulas (no op needed)."""

from __future__ import annotations

import pytest
import torch

from .reference import ref_decay_mask, ref_lion, ref_lion_packed, ref_lion_padded
from .utils import assert_close, make_case

DT = torch.float64


def _t(values: list[float]) -> torch.Tensor:
    return torch.tensor(values, dtype=DT)


def test_hand_computed_three_tokens() -> None:
    # lambda = (unused, 0.5, 0.25): M = [[1, .5, .125], [.5, 1, .25], [.125, .25, 1]].
    q = _t([1.0, 2.0, 1.0]).view(1, 3, 1, 1)
    k = _t([1.0, 1.0, 2.0]).view(1, 3, 1, 1)
    v = _t([1.0, 2.0, 3.0]).view(1, 3, 1, 1)
    g = torch.log(_t([0.9, 0.5, 0.25])).view(1, 3, 1)
    num = ref_lion(q, k, v, g, scale=1.0, normalize=False)
    torch.testing.assert_close(num.flatten(), _t([2.75, 8.0, 6.625]), rtol=1e-14, atol=0)
    y = ref_lion(q, k, v, g, scale=1.0, eps=0.0)
    torch.testing.assert_close(y.flatten(), _t([2.75 / 1.75, 8.0 / 4.0, 6.625 / 2.375]), rtol=1e-14, atol=0)
    # With scale s and eps e: num * s / (den * s + e).
    y = ref_lion(q, k, v, g, scale=0.5, eps=0.25)
    expected = _t([2.75 * 0.5 / (1.75 * 0.5 + 0.25), 4.0 / (2.0 + 0.25), 6.625 * 0.5 / (2.375 * 0.5 + 0.25)])
    torch.testing.assert_close(y.flatten(), expected, rtol=1e-14, atol=0)


def test_hand_computed_gradient_of_decay() -> None:
    # T = 2, scalars: y0 + y1 = q0 k0 v0 + q1 k1 v1 + lam1 (q0 k1 v1 + q1 k0 v0); d/dg1 = lam1 (...), d/dg0 = 0.
    q, k, v = _t([1.5, 0.5]), _t([2.0, 3.0]), _t([-1.0, 4.0])
    g = torch.log(_t([0.3, 0.6])).requires_grad_()
    out = ref_lion(
        q.view(1, 2, 1, 1), k.view(1, 2, 1, 1), v.view(1, 2, 1, 1), g.view(1, 2, 1), scale=1.0, normalize=False
    )
    out.sum().backward()
    expected = 0.6 * (1.5 * 3.0 * 4.0 + 0.5 * 2.0 * -1.0)
    torch.testing.assert_close(g.grad, _t([0.0, expected]), rtol=1e-14, atol=0)


def test_mask_is_explicit_product() -> None:
    gen = torch.Generator().manual_seed(1)
    g = -torch.rand(2, 6, 3, generator=gen, dtype=DT)
    mask = ref_decay_mask(g)
    lam = g.exp()
    for b in range(2):
        for h in range(3):
            for i in range(6):
                for j in range(6):
                    prod = torch.tensor(1.0, dtype=DT)
                    for l_ in range(min(i, j) + 1, max(i, j) + 1):
                        prod = prod * lam[b, l_, h]
                    assert mask[b, h, i, j].item() == pytest.approx(prod.item(), rel=1e-14, abs=0)
    torch.testing.assert_close(mask, mask.transpose(-1, -2), rtol=1e-15, atol=0)


def test_mask_lion_d_is_toeplitz_power() -> None:
    lam = _t([0.9, 0.5])
    g = lam.log().view(1, 1, 2).expand(1, 9, 2)
    idx = torch.arange(9)
    dist = (idx[:, None] - idx[None, :]).abs().to(DT)
    expected = lam.view(2, 1, 1) ** dist  # [H, T, T]
    torch.testing.assert_close(ref_decay_mask(g)[0], expected, rtol=1e-13, atol=0)


def test_lion_lit_global_state_closed_form() -> None:
    case = make_case("lit", 11)
    scale = 0.7
    y = ref_lion(case.q, case.k, case.v, scale=scale, eps=1e-3)
    kv = torch.einsum("bthk,bthv->bhkv", case.k, case.v)
    ksum = case.k.sum(dim=1)  # [B, H, K]
    num = scale * torch.einsum("bthk,bhkv->bthv", case.q, kv)
    den = scale * torch.einsum("bthk,bhk->bth", case.q, ksum).unsqueeze(-1)
    assert_close("lit closed form", y, num / (den + 1e-3), 1e-13)


def _naive_birnn(q, k, v, g, scale, normalize, eps):
    """Spec section 4 literally: two inclusive scans, the diagonal subtracted once."""
    batch, seqlen, heads, _ = q.shape
    lam = g.exp()
    out = torch.zeros(batch, seqlen, heads, v.shape[-1], dtype=DT)
    for b in range(batch):
        for h in range(heads):
            fwd_s, fwd_z, num, den = [], [], [], []
            s = torch.zeros(q.shape[-1], v.shape[-1], dtype=DT)
            z = torch.zeros(q.shape[-1], dtype=DT)
            for i in range(seqlen):
                decay = lam[b, i, h] if i > 0 else 1.0
                s = decay * s + torch.outer(k[b, i, h], v[b, i, h])
                z = decay * z + k[b, i, h]
                fwd_s.append(s)
                fwd_z.append(z)
            s = torch.zeros_like(s)
            z = torch.zeros_like(z)
            for i in reversed(range(seqlen)):
                decay = lam[b, i + 1, h] if i + 1 < seqlen else 1.0
                s = decay * s + torch.outer(k[b, i, h], v[b, i, h])
                z = decay * z + k[b, i, h]
                kv = torch.outer(k[b, i, h], v[b, i, h])
                num.append(scale * q[b, i, h] @ (fwd_s[i] + s - kv))
                den.append(scale * q[b, i, h] @ (fwd_z[i] + z - k[b, i, h]))
            num = torch.stack(num[::-1])
            den = torch.stack(den[::-1])
            out[:, :, h][b] = num / (den.unsqueeze(-1) + eps) if normalize else num
    return out


@pytest.mark.parametrize("normalize", [True, False])
def test_reference_equals_naive_bidirectional_rnn(normalize: bool) -> None:
    case = make_case("s", 9, positive=normalize, decay="mix", seed=3)
    y = ref_lion(case.q, case.k, case.v, case.g, scale=0.6, normalize=normalize, eps=1e-2)
    expected = _naive_birnn(case.q, case.k, case.v, case.g, 0.6, normalize, 1e-2)
    assert_close("reference vs bi-RNN", y, expected, 1e-12)


def test_reference_gradcheck() -> None:
    case = make_case("s", 5, batch=1, heads=2, dim_k=3, dim_v=2, seed=4)
    inputs = tuple(x.clone().requires_grad_() for x in (case.q, case.k, case.v, case.g))
    assert torch.autograd.gradcheck(lambda q, k, v, g: ref_lion(q, k, v, g, scale=0.8), inputs)
    case = make_case("d", 5, batch=1, heads=2, dim_k=3, dim_v=2, positive=False, seed=5)
    inputs = tuple(x.clone().requires_grad_() for x in (case.q, case.k, case.v, case.g_gamma))
    assert torch.autograd.gradcheck(lambda q, k, v, gg: ref_lion(q, k, v, None, gg, normalize=False), inputs)


def test_reference_hard_reset_splits_sequence() -> None:
    case = make_case("s", 10, batch=1, seed=6)
    g = case.g.clone()
    g[:, 4] = -float("inf")
    g[:, 7, 1] = -float("inf")
    g = g.requires_grad_()
    y = ref_lion(case.q, case.k, case.v, g)
    split = ref_lion_packed(case.q, case.k, case.v, case.g, cu_seqlens=[0, 4, 10])
    assert_close("hard reset heads 0, 2", y[:, :, [0, 2]], split[:, :, [0, 2]], 1e-14)
    y.sum().backward()
    assert torch.isfinite(g.grad).all()
    assert (g.grad[:, 4] == 0).all()


def test_reference_padding_and_packing_definitions() -> None:
    case = make_case("s", 8, batch=2, seed=7)
    mask = torch.tensor([[True] * 8, [False, True, True, False, True, True, True, False]])
    y = ref_lion_padded(case.q, case.k, case.v, case.g, attention_mask=mask)
    full = ref_lion(case.q[:1], case.k[:1], case.v[:1], case.g[:1])
    assert_close("no pads", y[:1], full, 1e-15)
    assert (y[1, ~mask[1]] == 0).all()
    idx = torch.tensor([1, 2, 4, 5, 6])
    alone = ref_lion(case.q[1:, idx], case.k[1:, idx], case.v[1:, idx], case.g[1:, idx])
    assert_close("pads removed", y[1:, idx], alone, 1e-15)
    packed = ref_lion_packed(case.q[:1], case.k[:1], case.v[:1], case.g[:1], cu_seqlens=torch.tensor([0, 8]))
    assert_close("one segment", packed, full, 1e-15)


def test_reference_zero_length() -> None:
    case = make_case("s", 0)
    assert ref_lion(case.q, case.k, case.v, case.g).shape == (2, 0, 3, 4)
