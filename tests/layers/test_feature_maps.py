"""Feature maps (docs/maths.md, "Variants"): positivity, the LION-D/S normalisation, and the name registry."""

from __future__ import annotations

import pytest
import torch

from lion_attn.layers import FEATURE_MAPS, get_feature_map, list_feature_maps, register_feature_map

STRICTLY_POSITIVE = ("elu1", "silu_l2", "silu_shift", "softplus")


@pytest.mark.parametrize("name", STRICTLY_POSITIVE)
def test_strictly_positive(name: str) -> None:
    x = torch.cat([torch.randn(1000, 8) * 5, torch.full((1, 8), -30.0), torch.full((1, 8), 30.0)])
    y = get_feature_map(name)(x)
    assert y.shape == x.shape
    assert (y > 0).all()


def test_relu_non_negative() -> None:
    y = get_feature_map("relu")(torch.randn(100, 8))
    assert (y >= 0).all() and (y == 0).any()


def test_silu_l2_unit_norm_and_formula() -> None:
    x = torch.randn(4, 5, 16, dtype=torch.float64)
    y = get_feature_map("silu_l2")(x)
    assert torch.allclose(y.norm(dim=-1), torch.ones(4, 5, dtype=torch.float64))
    raw = torch.nn.functional.silu(x) + 0.5
    assert torch.allclose(y, raw / raw.norm(dim=-1, keepdim=True))
    assert torch.allclose(get_feature_map("elu1")(x), torch.nn.functional.elu(x) + 1)


def test_registry() -> None:
    assert {"elu1", "silu_l2"} <= set(list_feature_maps())

    def cube_plus(x: torch.Tensor) -> torch.Tensor:
        return x.pow(2) + 1

    try:
        assert register_feature_map("test_sq1", cube_plus) is cube_plus
        assert get_feature_map("test_sq1") is cube_plus
        with pytest.raises(ValueError, match="already registered"):
            register_feature_map("test_sq1", cube_plus)
        register_feature_map("test_sq1", torch.exp, overwrite=True)
        assert get_feature_map("test_sq1") is torch.exp
        with pytest.raises(TypeError):
            register_feature_map("test_bad", 3)
    finally:
        FEATURE_MAPS.pop("test_sq1", None)
    assert get_feature_map(cube_plus) is cube_plus
    with pytest.raises(ValueError, match="unknown feature_map 'nope'"):
        get_feature_map("nope")
    with pytest.raises(TypeError, match="feature_map"):
        get_feature_map(3)


def test_elu1_gradient_finite_for_large_inputs() -> None:
    x = torch.tensor([-50.0, -1.0, 0.0, 1.0, 100.0], requires_grad=True)
    y = get_feature_map("elu1")(x)
    assert torch.allclose(y, torch.nn.functional.elu(x) + 1)
    y.sum().backward()
    assert torch.isfinite(x.grad).all()
    assert torch.allclose(x.grad, torch.tensor([torch.exp(torch.tensor(-50.0)).item(), 0.36787944, 1.0, 1.0, 1.0]))


def test_elu1_hand_written_gradient_matches_autograd_of_the_definition() -> None:
    x = (4 * torch.randn(3, 5, 2, 7, dtype=torch.float64)).requires_grad_(True)
    weight = torch.randn(x.shape, dtype=torch.float64)
    y = get_feature_map("elu1")(x)
    (y * weight).sum().backward()
    ref_x = x.detach().clone().requires_grad_(True)
    ((torch.nn.functional.elu(ref_x) + 1) * weight).sum().backward()
    assert torch.allclose(y, torch.nn.functional.elu(ref_x) + 1, rtol=1e-12, atol=1e-15)
    assert torch.allclose(x.grad, ref_x.grad, rtol=1e-12, atol=1e-15)
    # Far below zero, F.elu + 1 rounds to 0 in float32; the map must stay strictly positive there.
    assert (get_feature_map("elu1")(torch.tensor([-30.0, -80.0])) > 0).all()


def test_silu_l2_hand_written_gradient_matches_autograd_of_the_definition():
    import torch.nn.functional as F

    from lion_attn.layers.feature_maps import silu_l2

    x = torch.randn(3, 5, 2, 7, dtype=torch.float64, requires_grad=True)
    expected = F.normalize(F.silu(x) + 0.5, p=2.0, dim=-1)
    got = silu_l2(x)
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)
    weights = torch.randn_like(expected)
    (grad_expected,) = torch.autograd.grad((expected * weights).sum(), x)
    (grad_got,) = torch.autograd.grad((got * weights).sum(), x)
    torch.testing.assert_close(grad_got, grad_expected, rtol=1e-10, atol=1e-12)
    assert torch.autograd.gradcheck(silu_l2, (x[:1, :2],))
