"""LionAttention: the three forms agree for every variant, match a literal reference, honour padding, and the
two-scan image variant (docs/maths.md, "The two-scan image variant") works in every form. The mode never touches
the parameters."""

from __future__ import annotations

import pytest
import torch

from lion_attn.layers import LionAttention, get_feature_map, snake_orders
from lion_attn.ops import MODES
from tests.devices import DEVICES

from .dense_reference import assert_rel, lion_layer_reference, snake, two_scan_reference

VARIANTS = ("lit", "d", "s")

TOL = {torch.float64: 1e-9, torch.float32: 1e-4}


def _layer(variant: str, dtype: torch.dtype = torch.float64, seed: int = 0, **kwargs) -> LionAttention:
    torch.manual_seed(seed)
    return LionAttention(32, num_heads=4, variant=variant, **kwargs).to(dtype)


def _run_modes(layer: LionAttention, x: torch.Tensor, mask: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    outs = {}
    for mode in MODES:
        layer.set_mode(mode)
        outs[mode] = layer(x, mask)
    return outs


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("length,chunk", [(1, 4), (7, 3), (20, 8), (33, 64)])
def test_forms_agree(variant: str, dtype: torch.dtype, length: int, chunk: int, device: str) -> None:
    layer = _layer(variant, dtype, chunk_size=chunk).to(device)
    x = torch.randn(2, length, 32, dtype=dtype).to(device)
    outs = _run_modes(layer, x)
    for mode in ("chunk", "recurrent"):
        assert_rel(outs[mode], outs["parallel"], TOL[dtype])


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("decay_init", ["paper", "long"])
def test_matches_literal_reference(variant: str, decay_init: str, device: str) -> None:
    layer = _layer(variant, qkv_bias=True, decay_init=decay_init, chunk_size=4)
    x = torch.randn(2, 11, 32, dtype=torch.float64)
    expected = lion_layer_reference(layer, x)  # on the CPU, before the layer moves
    for mode, out in _run_modes(layer.to(device), x.to(device)).items():
        assert_rel(out.cpu(), expected, 1e-9), mode


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("mode", MODES)
def test_padding_equals_unpadded(variant: str, mode: str, device: str) -> None:
    layer = _layer(variant, mode=mode, chunk_size=4).to(device)
    lengths = [9, 5, 2]
    length = 12
    x = torch.randn(len(lengths), length, 32, dtype=torch.float64)
    # Left, right and interior padding, with garbage in the pads.
    keep = torch.zeros(len(lengths), length, dtype=torch.bool)
    keep[0, 3:] = True
    keep[1, :5] = True
    keep[2, torch.tensor([4, 10])] = True
    x, keep = x.to(device), keep.to(device)
    out = layer(x, keep)
    for b in range(len(lengths)):
        alone = layer(x[b : b + 1, keep[b]])
        assert_rel(out[b, keep[b]], alone[0], 1e-9)
        assert torch.isfinite(out).all()


@pytest.mark.parametrize("variant", ["d", "s"])
@pytest.mark.parametrize("prefix", [0, 1, 2])
@pytest.mark.parametrize("grid", [(3, 4), (1, 5), (4, 4)])
def test_two_scan_reference_and_forms(variant: str, prefix: int, grid: tuple[int, int], device: str) -> None:
    layer = _layer(variant, two_scan=True, grid_size=grid, num_prefix_tokens=prefix, chunk_size=5)
    x = torch.randn(2, prefix + grid[0] * grid[1], 32, dtype=torch.float64)
    expected = two_scan_reference(layer, x)  # on the CPU, before the layer moves
    for mode, out in _run_modes(layer.to(device), x.to(device)).items():
        assert_rel(out.cpu(), expected, 1e-9), mode


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("prefix", [0, 1])
def test_two_scan_forms_agree_f32(variant: str, prefix: int, device: str) -> None:
    layer = _layer(variant, torch.float32, two_scan=True, grid_size=(5, 6), num_prefix_tokens=prefix, chunk_size=8)
    layer = layer.to(device)
    x = torch.randn(2, prefix + 30, 32).to(device)
    outs = _run_modes(layer, x)
    for mode in ("chunk", "recurrent"):
        assert_rel(outs[mode], outs["parallel"], 1e-4)


def _input_and_param_grads(layer: LionAttention, x: torch.Tensor, mask: torch.Tensor | None) -> dict[str, torch.Tensor]:
    layer.zero_grad()
    x = x.clone().requires_grad_(True)
    out = layer(x, mask)
    weight = torch.randn(out.shape, generator=torch.Generator().manual_seed(2), dtype=out.dtype).to(out.device)
    (out * weight).sum().backward()
    grads = {name: p.grad.clone() for name, p in layer.named_parameters()}
    grads["x"] = x.grad.clone()
    return grads


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("prefix", [0, 1, 2])
@pytest.mark.parametrize("padded", [False, True])
def test_two_scan_gradients_agree_across_forms(variant: str, prefix: int, padded: bool, device: str) -> None:
    """The fused parallel two-scan pass has its own backward; the other forms run one op call per scan."""
    layer = _layer(variant, two_scan=True, grid_size=(3, 4), num_prefix_tokens=prefix, chunk_size=5).to(device)
    x = torch.randn(2, prefix + 12, 32, dtype=torch.float64)
    mask = None
    if padded:
        mask = torch.ones(2, prefix + 12, dtype=torch.bool)
        mask[0, prefix + 3] = False
        mask[1, -2:] = False
        mask = mask.to(device)
    x = x.to(device)
    grads = {}
    for mode in MODES:
        layer.set_mode(mode)
        grads[mode] = _input_and_param_grads(layer, x, mask)
    decay_names = [name for name in grads["parallel"] if name.startswith("decay")]
    assert len(decay_names) == (0 if variant == "lit" else 4 if variant == "s" else 2)
    for name, expected in grads["chunk"].items():
        if name.startswith("decay"):
            assert expected.abs().max() > 0, name
        for mode in ("parallel", "recurrent"):
            assert_rel(grads[mode][name], expected, 1e-9), (mode, name)


def test_two_scan_differs_from_single_scan() -> None:
    torch.manual_seed(0)
    single = LionAttention(32, 4, variant="d", decay_init="long").double()
    double = LionAttention(32, 4, variant="d", decay_init="long", two_scan=True, grid_size=(4, 4)).double()
    double.load_state_dict(single.state_dict(), strict=False)
    x = torch.randn(1, 16, 32, dtype=torch.float64)
    assert (single(x) - double(x)).abs().max() > 1e-6


def test_two_scan_has_independent_decays() -> None:
    layer = _layer("s", two_scan=True, grid_size=(2, 3))
    assert {"decay.weight", "decay.bias", "decay_col.weight", "decay_col.bias"} <= set(layer.state_dict())
    assert not torch.equal(layer.decay.weight, layer.decay_col.weight)


@pytest.mark.parametrize("mode", MODES)
def test_two_scan_mask(mode: str) -> None:
    layer = _layer("s", mode=mode, two_scan=True, grid_size=(3, 3), num_prefix_tokens=1, chunk_size=4)
    x = torch.randn(2, 10, 32, dtype=torch.float64)
    full = torch.ones(2, 10, dtype=torch.bool)
    assert_rel(layer(x, full), layer(x), 1e-12)
    keep = full.clone()
    keep[0, 4] = False
    keep[1, 9] = False
    out = layer(x, keep)
    x2 = x.clone()
    x2[~keep] = 100.0 * torch.randn_like(x2[~keep])
    out2 = layer(x2, keep)
    assert_rel(out2[keep], out[keep], 1e-12)


def test_two_scan_wrong_length() -> None:
    layer = _layer("d", two_scan=True, grid_size=(3, 3), num_prefix_tokens=1)
    with pytest.raises(ValueError, match="two_scan expects"):
        layer(torch.randn(1, 9, 32, dtype=torch.float64))


def test_snake_orders() -> None:
    rows, cols = snake_orders((2, 3))
    assert rows.tolist() == [0, 1, 2, 5, 4, 3]
    assert cols.tolist() == [0, 3, 4, 1, 2, 5]
    for h, w in [(1, 1), (3, 5), (4, 2)]:
        rows, cols = snake_orders((h, w))
        assert rows.tolist() == snake(h, w, True)
        assert cols.tolist() == snake(h, w, False)
        assert sorted(rows.tolist()) == list(range(h * w)) == sorted(cols.tolist())


@pytest.mark.parametrize("two_scan", [False, True])
@pytest.mark.parametrize("variant", VARIANTS)
def test_set_mode_keeps_state_dict(variant: str, two_scan: bool) -> None:
    layer = _layer(variant, two_scan=two_scan, grid_size=(2, 2))
    before = {k: v.clone() for k, v in layer.state_dict().items()}
    for mode in ("recurrent", "chunk", "parallel"):
        layer.set_mode(mode)
        after = layer.state_dict()
        assert list(after) == list(before)
        assert all(torch.equal(after[k], before[k]) for k in before)
        assert f"mode={mode!r}" in repr(layer)
    other = _layer(variant, two_scan=two_scan, grid_size=(2, 2), mode="recurrent")
    assert list(other.state_dict()) == list(before)


def test_set_mode_rejects_unknown() -> None:
    layer = _layer("s")
    with pytest.raises(ValueError, match="mode"):
        layer.set_mode("fast")
    assert layer.mode == "parallel"


def test_extra_repr() -> None:
    text = repr(_layer("d", mode="chunk", two_scan=True, grid_size=(2, 2), num_prefix_tokens=1))
    for part in ("variant='d'", "mode='chunk'", "two_scan=True", "feature_map='silu_l2'", "grid_size=(2, 2)"):
        assert part in text


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"dim": 30, "num_heads": 4}, "divisible"),
        ({"variant": "x"}, "variant"),
        ({"mode": "rnn"}, "mode"),
        ({"chunk_size": 0}, "chunk_size"),
        ({"chunk_size": 2.5}, "chunk_size"),
        ({"attn_drop": 0.1}, "attn_drop"),
        ({"decay_init": "wild"}, "decay_init"),
        ({"feature_map": "nope"}, "feature_map"),
        ({"two_scan": True}, "grid_size"),
        ({"two_scan": True, "grid_size": (0, 3)}, "grid_size"),
        ({"num_prefix_tokens": -1}, "num_prefix_tokens"),
    ],
)
def test_bad_config(kwargs: dict, match: str) -> None:
    args = {"dim": 32, "num_heads": 4, **kwargs}
    with pytest.raises(ValueError, match=match):
        LionAttention(**args)


def test_bad_inputs() -> None:
    layer = _layer("s")
    x = torch.randn(2, 5, 32, dtype=torch.float64)
    with pytest.raises(ValueError, match="x must have shape"):
        layer(x[..., :16])
    with pytest.raises(ValueError, match="attention_mask"):
        layer(x, torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(TypeError, match="attention_mask"):
        layer(x, torch.ones(2, 5))
    with pytest.raises(ValueError, match="only 0 and 1"):
        layer(x, torch.full((2, 5), 2))


@pytest.mark.parametrize("attn_type", ["lion", "softmax"])
def test_integer_padding_mask_equals_bool(attn_type: str) -> None:
    from lion_attn.layers import SoftmaxAttention

    torch.manual_seed(0)
    layer = _layer("s") if attn_type == "lion" else SoftmaxAttention(32, 4).double()
    x = torch.randn(2, 6, 32, dtype=torch.float64)
    keep = torch.tensor([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]])
    assert_rel(layer(x, keep)[0, :4], layer(x, keep.bool())[0, :4], 1e-15)
    assert not torch.allclose(layer(x, keep)[0, :4], layer(x)[0, :4])


def test_feature_map_override() -> None:
    calls = []

    def squared_plus(t: torch.Tensor) -> torch.Tensor:
        calls.append(t.shape)
        return t * t + 1.0

    by_name = _layer("s", feature_map="softplus")
    assert by_name.feature_map is get_feature_map("softplus")
    by_fn = _layer("s", feature_map=squared_plus)
    out = by_fn(torch.randn(2, 6, 32, dtype=torch.float64))
    assert out.shape == (2, 6, 32)
    assert calls == [(2, 6, 4, 8), (2, 6, 4, 8)]
    assert "squared_plus" in repr(by_fn)
    assert _layer("lit").feature_map is get_feature_map("elu1")


def test_proj_drop_and_train_eval() -> None:
    layer = _layer("d", proj_drop=0.5)
    x = torch.randn(2, 6, 32, dtype=torch.float64)
    layer.eval()
    assert torch.equal(layer(x), layer(x))
    layer.train()
    assert not torch.equal(layer(x), layer(x))


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("two_scan", [False, True])
@pytest.mark.parametrize("device", DEVICES)
def test_bf16_autocast_close_to_fp32(variant: str, two_scan: bool, device: str) -> None:
    """A training step under a bf16 autocast, in every form: close to fp32, gradients in the parameters' dtype."""
    layer = _layer(variant, torch.float32, two_scan=two_scan, grid_size=(3, 4), chunk_size=5).to(device)
    x = torch.randn(2, 12, 32, device=device)
    weight = torch.randn(2, 12, 32, device=device)
    expected = _input_and_param_grads(layer, x, None)
    expected_out = layer(x)
    for mode in MODES:
        layer.set_mode(mode)
        layer.zero_grad()
        leaf = x.clone().requires_grad_(True)
        with torch.autocast(device, dtype=torch.bfloat16):
            out = layer(leaf)
            (out.float() * weight).sum().backward()
        assert out.dtype == torch.bfloat16
        assert_rel(out.float(), expected_out, 3e-2)
        for name, param in layer.named_parameters():
            assert param.grad is not None and param.grad.dtype == torch.float32, (mode, name)
            assert torch.isfinite(param.grad).all(), (mode, name)
        assert torch.isfinite(leaf.grad).all()
        before = [p.detach().clone() for p in layer.parameters()]
        torch.optim.SGD(layer.parameters(), lr=1e-3).step()
        assert any(not torch.equal(b, p) for b, p in zip(before, layer.parameters(), strict=True))
        layer.load_state_dict(dict(zip(layer.state_dict(), before, strict=True)))
    assert expected  # fp32 reference gradients ran too


@pytest.mark.parametrize("two_scan", [False, True])
@pytest.mark.parametrize("mode", MODES)
def test_lit_repr_says_closed_form_in_every_mode(mode: str, two_scan: bool) -> None:
    text = repr(_layer("lit", mode=mode, two_scan=two_scan, grid_size=(2, 2)))
    assert f"mode={mode!r} (LIT closed form in every mode)" in text
    assert "closed form" not in repr(_layer("s", mode=mode, two_scan=two_scan, grid_size=(2, 2)))
