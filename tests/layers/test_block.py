"""Pre-norm blocks with LION or softmax attention, and the model-wide mode switch."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lion_attn.layers import Block, LionAttention, SoftmaxAttention, get_attn_modes, set_attn_mode

from .dense_reference import assert_rel

CASES = [
    ("lion", {"variant": "lit"}),
    ("lion", {"variant": "d"}),
    ("lion", {"variant": "s"}),
    ("lion", {"variant": "s", "two_scan": True, "grid_size": (2, 3), "num_prefix_tokens": 1}),
    ("softmax", {"variant": "s"}),
]


@pytest.mark.parametrize("attn_type,kwargs", CASES)
def test_forward_backward_reaches_every_parameter(attn_type: str, kwargs: dict) -> None:
    torch.manual_seed(0)
    block = Block(16, 2, mlp_ratio=2.0, attn_type=attn_type, qkv_bias=True, **kwargs)
    x = torch.randn(2, 7, 16, requires_grad=True)
    keep = torch.ones(2, 7, dtype=torch.bool)
    if not kwargs.get("two_scan"):
        keep[1, 5:] = False
    out = block(x, keep)
    assert out.shape == x.shape and torch.isfinite(out).all()
    out[keep].pow(2).sum().backward()
    for name, param in block.named_parameters():
        assert param.grad is not None and param.grad.abs().max() > 0, name
    expected = LionAttention if attn_type == "lion" else SoftmaxAttention
    assert isinstance(block.attn, expected)


def test_block_is_pre_norm_residual() -> None:
    torch.manual_seed(0)
    block = Block(16, 2, variant="d").double().eval()
    x = torch.randn(2, 5, 16, dtype=torch.float64)
    h = x + block.attn(block.norm1(x))
    assert_rel(block(x), h + block.mlp(block.norm2(h)), 1e-14)


def test_drop_path_in_block() -> None:
    torch.manual_seed(0)
    block = Block(16, 2, drop_path=0.5, variant="d")
    x = torch.randn(8, 5, 16)
    block.eval()
    assert torch.equal(block(x), block(x))
    block.train()
    assert not torch.equal(block(x), block(x))


def test_mode_switch_over_a_stack() -> None:
    torch.manual_seed(0)
    stack = nn.Sequential(*[Block(16, 2, variant=v, chunk_size=3) for v in ("lit", "d", "s")]).double()
    x = torch.randn(2, 10, 16, dtype=torch.float64)
    assert get_attn_modes(stack) == {"parallel"}
    reference = stack(x)
    keys = list(stack.state_dict())
    for mode in ("chunk", "recurrent"):
        set_attn_mode(stack, mode)
        assert get_attn_modes(stack) == {mode}
        assert_rel(stack(x), reference, 1e-9)
        assert list(stack.state_dict()) == keys
    with pytest.raises(ValueError, match="mode"):
        set_attn_mode(stack, "nope")
    assert get_attn_modes(stack) == {"recurrent"}


def test_modes_with_softmax_and_empty() -> None:
    mixed = nn.Sequential(Block(16, 2, attn_type="softmax"), Block(16, 2, variant="d"))
    set_attn_mode(mixed, "chunk")
    assert get_attn_modes(mixed) == {"softmax", "chunk"}
    assert get_attn_modes(nn.Linear(2, 2)) == set()


def test_bad_block_config() -> None:
    with pytest.raises(ValueError, match="attn_type"):
        Block(16, 2, attn_type="flash")
    with pytest.raises(ValueError, match="attn_drop"):
        Block(16, 2, attn_drop=0.1)
    with pytest.raises(TypeError):
        Block(16, 2, attn_type="softmax", bogus=1)
