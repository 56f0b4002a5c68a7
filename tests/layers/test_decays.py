"""Decay parametrisations (docs/maths.md, "Variants"): registry, initialisations, fp32 log-decays under bf16 autocast,
and gradients that reach the decay parameters (the official code detaches them)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lion_attn.layers import (
    DECAYS,
    LionAttention,
    ScalarDecay,
    SelectiveDecay,
    build_decay,
    list_decays,
    long_memory_decays,
    register_decay,
)


def test_registry_builds_each_variant() -> None:
    assert {"lit", "d", "s"} <= set(list_decays())
    assert build_decay("lit", 16, 4) is None
    assert isinstance(build_decay("d", 16, 4), ScalarDecay)
    assert isinstance(build_decay("s", 16, 4), SelectiveDecay)
    with pytest.raises(ValueError, match="unknown variant"):
        build_decay("q", 16, 4)
    with pytest.raises(ValueError, match="decay_init"):
        build_decay("lit", 16, 4, init="nope")


def test_register_decay() -> None:
    class Fixed(nn.Module):
        op_arg = "g_gamma"

        def __init__(self, heads: int) -> None:
            super().__init__()
            self.heads = heads

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.full((self.heads,), -0.1, dtype=torch.float32)

    try:
        register_decay("fixed", lambda dim, heads, init="paper": Fixed(heads))
        with pytest.raises(ValueError, match="already registered"):
            register_decay("fixed", lambda dim, heads, init="paper": Fixed(heads))
        with pytest.raises(TypeError):
            register_decay("other", 3)
        layer = LionAttention(16, 2, variant="fixed")
        assert layer(torch.randn(1, 5, 16)).shape == (1, 5, 16)
    finally:
        DECAYS.pop("fixed", None)


def test_scalar_decay_values() -> None:
    decay = ScalarDecay(4)
    g = decay(torch.randn(2, 3, 8))
    assert g.shape == (4,) and g.dtype == torch.float32
    assert torch.allclose(g, torch.log(torch.sigmoid(decay.a)))
    assert (g <= 0).all()


def test_selective_decay_values() -> None:
    decay = SelectiveDecay(8, 4)
    x = torch.randn(2, 3, 8)
    g = decay(x)
    assert g.shape == (2, 3, 4) and g.dtype == torch.float32
    expected = torch.log(torch.sigmoid(x @ decay.weight.t() + decay.bias))
    assert torch.allclose(g, expected, atol=1e-6)
    assert decay(x.double()).dtype == torch.float64


def test_long_init_follows_retnet_schedule() -> None:
    heads = 6
    expected = 1 - 2.0 ** (-5 - torch.arange(heads, dtype=torch.float64))
    assert torch.allclose(long_memory_decays(heads), expected)
    scalar = ScalarDecay(heads, init="long")
    assert torch.allclose(torch.sigmoid(scalar.a.double()), expected, rtol=0, atol=1e-6)
    selective = SelectiveDecay(64, heads, init="long")
    assert torch.allclose(torch.sigmoid(selective.bias.double()), expected, rtol=0, atol=1e-6)
    assert selective.weight.abs().max() < 0.2
    lam = torch.exp(selective(torch.zeros(1, 1, 64)))[0, 0].double()
    assert torch.allclose(lam, expected, atol=1e-6)


def test_paper_init() -> None:
    torch.manual_seed(0)
    scalar = ScalarDecay(4096)
    assert abs(scalar.a.mean().item()) < 0.1 and abs(scalar.a.std().item() - 1.0) < 0.1
    selective = SelectiveDecay(100, 8)
    bound = 100**-0.5
    assert selective.bias.abs().max() <= bound and selective.weight.abs().max() <= bound


def test_init_survives_model_wide_linear_init() -> None:
    layer = LionAttention(16, 2, variant="s", decay_init="long")
    bias = layer.decay.bias.detach().clone()

    def init(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.zeros_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)

    layer.apply(init)
    assert torch.equal(layer.decay.bias, bias)


@pytest.mark.parametrize("variant", ["d", "s"])
def test_log_decays_fp32_under_bf16_autocast(variant: str) -> None:
    layer = LionAttention(32, 4, variant=variant, decay_init="long")
    seen = []
    layer.decay.register_forward_hook(lambda mod, args, out: seen.append(out))
    x = torch.randn(2, 7, 32)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = layer(x)
    assert seen[0].dtype == torch.float32
    assert torch.isfinite(out).all()
    # The long-memory decays are 1 - 2^-8 and closer: bf16 would round them to exactly 1 (log-decay 0).
    assert (seen[0] < 0).all()
    # bf16 weights are upcast too.
    layer_bf16 = LionAttention(32, 4, variant=variant).to(torch.bfloat16)
    assert layer_bf16.decay(x.to(torch.bfloat16)).dtype == torch.float32


@pytest.mark.parametrize("variant", ["d", "s"])
@pytest.mark.parametrize("cast", ["to_bf16", "half", "to_f64"])
def test_decay_parameters_stay_fp32_under_16_bit_casts(variant: str, cast: str) -> None:
    layer = LionAttention(32, 4, variant=variant, decay_init="long")
    before = {n: p.detach().clone() for n, p in layer.decay.named_parameters()}
    layer = {"to_bf16": lambda m: m.to(torch.bfloat16), "half": lambda m: m.half(), "to_f64": lambda m: m.double()}[
        cast
    ](layer)
    want = torch.float64 if cast == "to_f64" else torch.float32
    for name, param in layer.decay.named_parameters():
        assert param.dtype == want, name
        # Not rounded through bf16 on the way: the values are exactly the fp32 ones.
        assert torch.equal(param.detach().float(), before[name]), name
    assert layer.qkv.weight.dtype == (torch.float64 if cast == "to_f64" else layer.qkv.weight.dtype)
    if cast != "to_f64":
        assert layer.qkv.weight.dtype in (torch.bfloat16, torch.float16)
        x = torch.randn(2, 5, 32, dtype=layer.qkv.weight.dtype)
        out = layer(x)
        out.float().sum().backward()
        assert out.dtype == x.dtype
        assert all(p.grad is not None and p.grad.dtype == torch.float32 for p in layer.decay.parameters())


@pytest.mark.parametrize("decay_init", ["paper", "long"])
@pytest.mark.parametrize("variant", ["d", "s"])
@pytest.mark.parametrize("mode", ["parallel", "chunk", "recurrent"])
@pytest.mark.parametrize("two_scan", [False, True])
def test_decay_gradients_nonzero(variant: str, decay_init: str, mode: str, two_scan: bool) -> None:
    torch.manual_seed(0)
    layer = LionAttention(
        16, 2, variant=variant, mode=mode, decay_init=decay_init, two_scan=two_scan, grid_size=(3, 3), chunk_size=4
    ).double()
    x = torch.randn(2, 9, 16, dtype=torch.float64)
    layer(x).pow(2).sum().backward()
    decays = [layer.decay, layer.decay_col] if two_scan else [layer.decay]
    for decay in decays:
        for name, param in decay.named_parameters():
            assert param.grad is not None, name
            assert param.grad.abs().max() > 0, name
