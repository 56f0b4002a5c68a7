"""LionAttention as the ``attn_layer`` of a timm-style ViT block, built and called with timm's keywords.

The block below is written the way timm's ``vision_transformer.Block`` builds and calls its attention (checked
against timm's source): ``attn_layer(dim, num_heads=, qkv_bias=, qk_norm=, scale_norm=, proj_bias=, attn_drop=,
proj_drop=, norm_layer=, device=, dtype=)`` and ``self.attn(x, attn_mask=attn_mask, is_causal=is_causal)``.
timm itself is not a dependency, so the test carries its own copy of that contract.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lion_attn.layers import LionAttention


class TimmStyleBlock(nn.Module):
    def __init__(
        self,
        dim,
        num_heads,
        mlp_ratio=4.0,
        qkv_bias=False,
        qk_norm=False,
        scale_attn_norm=False,
        proj_bias=True,
        proj_drop=0.0,
        attn_drop=0.0,
        norm_layer=nn.LayerNorm,
        attn_layer=LionAttention,
        device=None,
        dtype=None,
    ):
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        self.norm1 = norm_layer(dim, **dd)
        self.attn = attn_layer(
            dim,
            num_heads=num_heads,
            qkv_bias=qkv_bias,
            qk_norm=qk_norm,
            scale_norm=scale_attn_norm,
            proj_bias=proj_bias,
            attn_drop=attn_drop,
            proj_drop=proj_drop,
            norm_layer=norm_layer,
            **dd,
        )
        self.norm2 = norm_layer(dim, **dd)
        self.mlp = nn.Sequential(
            nn.Linear(dim, int(dim * mlp_ratio), **dd), nn.GELU(), nn.Linear(int(dim * mlp_ratio), dim, **dd)
        )

    def forward(self, x, attn_mask=None, is_causal=False):
        x = x + self.attn(self.norm1(x), attn_mask=attn_mask, is_causal=is_causal)
        return x + self.mlp(self.norm2(x))


@pytest.mark.parametrize("proj_bias", [pytest.param(True, id="proj-bias"), pytest.param(False, id="no-proj-bias")])
def test_timm_block_builds_and_runs_lion_attention(proj_bias):
    torch.manual_seed(0)
    block = TimmStyleBlock(16, num_heads=4, qkv_bias=True, proj_bias=proj_bias, dtype=torch.float64).eval()
    assert isinstance(block.attn, LionAttention)
    assert (block.attn.proj.bias is not None) == proj_bias
    assert block.attn.qkv.weight.dtype == torch.float64
    x = torch.randn(2, 9, 16, dtype=torch.float64)
    y = block(x)
    assert y.shape == x.shape
    # The block's attention is exactly LionAttention's own forward.
    expected = x + block.attn(block.norm1(x))
    assert torch.equal(y, expected + block.mlp(block.norm2(expected)))
    for mode in ("chunk", "recurrent"):
        block.attn.set_mode(mode)
        assert torch.allclose(block(x), y, rtol=0, atol=1e-10)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        pytest.param({"qk_norm": True}, "qk_norm", id="qk-norm"),
        pytest.param({"scale_attn_norm": True}, "scale_norm", id="scale-norm"),
        pytest.param({"attn_drop": 0.1}, "attn_drop", id="attention-dropout"),
    ],
)
def test_timm_options_lion_cannot_honour_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TimmStyleBlock(16, num_heads=4, **kwargs)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        pytest.param({"attn_mask": torch.ones(1, 1, 5, 5, dtype=torch.bool)}, "attn_mask", id="pairwise-mask"),
        pytest.param({"is_causal": True}, "bidirectional", id="causal"),
    ],
)
def test_timm_call_options_lion_cannot_honour_are_refused(call, match):
    block = TimmStyleBlock(16, num_heads=4)
    with pytest.raises(ValueError, match=match):
        block(torch.randn(1, 5, 16), **call)
