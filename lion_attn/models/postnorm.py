"""The post-norm encoder layout of the original BERT (Devlin et al., NAACL 2019), with LION attention
(Afzal et al., NeurIPS 2025, arXiv 2502.16249) or softmax attention.

Each block is ``x = norm1(x + attn(x))`` then ``x = norm2(x + mlp(x))``, and there is no final LayerNorm, as in
Hugging Face's ``BertModel``. Submodule names are those of the pre-norm :class:`lion_attn.layers.Block`
(``norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2``), so a BERT checkpoint maps onto either layout by
renaming alone.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from lion_attn.layers import ATTN_LAYERS, Mlp
from lion_attn.models.attention_config import LionAttentionConfig

__all__ = ["PostNormBlock", "PostNormEncoder"]


class PostNormBlock(nn.Module):
    """``x = norm1(x + attn(x))``, then ``x = norm2(x + mlp(x))``.

    Args:
        dim: Token width.
        num_heads: Attention heads.
        mlp_ratio: MLP hidden width as a multiple of ``dim``.
        attn_type: ``"lion"`` or ``"softmax"``.
        qkv_bias: Bias in the q/k/v projection.
        proj_drop: Dropout after the attention projection and inside the MLP.
        attn_drop: Attention dropout (softmax only).
        layer_norm_eps: Epsilon of both LayerNorms.
        act_layer: MLP activation class.
        **attn_kwargs: Passed to the attention layer.

    Shapes:
        ``forward(x [B, T, dim], attention_mask [B, T] bool | None) -> [B, T, dim]``.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        attn_type: str = "lion",
        qkv_bias: bool = True,
        proj_drop: float = 0.0,
        attn_drop: float = 0.0,
        layer_norm_eps: float = 1e-12,
        act_layer: type[nn.Module] = nn.GELU,
        **attn_kwargs: Any,
    ) -> None:
        super().__init__()
        if attn_type not in ATTN_LAYERS:
            raise ValueError(f"unknown attn_type {attn_type!r}; expected one of {sorted(ATTN_LAYERS)}")
        self.attn = ATTN_LAYERS[attn_type](
            dim, num_heads=num_heads, qkv_bias=qkv_bias, attn_drop=attn_drop, proj_drop=proj_drop, **attn_kwargs
        )
        self.norm1 = nn.LayerNorm(dim, eps=layer_norm_eps)
        self.mlp = Mlp(dim, hidden_features=round(dim * mlp_ratio), act_layer=act_layer, drop=proj_drop)
        self.norm2 = nn.LayerNorm(dim, eps=layer_norm_eps)

    def forward(self, x: Tensor, attention_mask: Tensor | None = None) -> Tensor:
        """Apply the block to [B, T, dim] tokens (``attention_mask`` [B, T] bool, True = real token)."""
        x = self.norm1(x + self.attn(x, attention_mask))
        return self.norm2(x + self.mlp(x))


class PostNormEncoder(nn.Module):
    """``depth`` post-norm blocks and no final LayerNorm (the embeddings' LayerNorm comes first).

    Takes the arguments of :class:`lion_attn.models.LionEncoder` (``drop_path_rate`` must be 0: BERT has no
    stochastic depth).

    Shapes:
        ``forward(x [B, T, dim], attention_mask [B, T] bool | None) -> [B, T, dim]``.
    """

    def __init__(
        self,
        dim: int,
        depth: int,
        num_heads: int,
        attention: LionAttentionConfig | None = None,
        *,
        mlp_ratio: float = 4.0,
        proj_drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path_rate: float = 0.0,
        layer_norm_eps: float = 1e-12,
        act_layer: type[nn.Module] = nn.GELU,
    ) -> None:
        super().__init__()
        if drop_path_rate:
            raise ValueError(f"drop_path_rate must be 0 for the post-norm layout, got {drop_path_rate!r}")
        attention = attention if attention is not None else LionAttentionConfig()
        self.blocks = nn.ModuleList(
            PostNormBlock(dim, num_heads, mlp_ratio, proj_drop=proj_drop, attn_drop=attn_drop,
                          layer_norm_eps=layer_norm_eps, act_layer=act_layer, **attention.block_kwargs())
            for _ in range(depth)
        )  # fmt: skip

    def forward(self, x: Tensor, attention_mask: Tensor | None = None) -> Tensor:
        """Run the blocks on [B, T, dim] tokens."""
        for block in self.blocks:
            x = block(x, attention_mask)
        return x
