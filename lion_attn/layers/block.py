"""A pre-norm Transformer block whose attention is LION (Afzal et al., NeurIPS 2025) or softmax."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from lion_attn.layers.attention import LionAttention
from lion_attn.layers.drop import DropPath
from lion_attn.layers.mlp import Mlp
from lion_attn.layers.softmax_attention import SoftmaxAttention

__all__ = ["ATTN_LAYERS", "Block"]

ATTN_LAYERS: dict[str, type[nn.Module]] = {"lion": LionAttention, "softmax": SoftmaxAttention}


class Block(nn.Module):
    """``x + drop_path(attn(norm1(x)))`` then ``x + drop_path(mlp(norm2(x)))``.

    Args:
        dim: Token width.
        num_heads: Attention heads.
        mlp_ratio: MLP hidden width as a multiple of ``dim``.
        attn_type: ``"lion"`` or ``"softmax"`` (keys of :data:`ATTN_LAYERS`).
        qkv_bias: Bias in the q/k/v projection.
        proj_drop: Dropout after the attention projection and inside the MLP.
        attn_drop: Attention dropout (must be 0 for LION, see :class:`LionAttention`).
        drop_path: Stochastic depth probability of both residual branches.
        norm_layer: Normalisation class.
        act_layer: MLP activation class.
        **attn_kwargs: Passed to the attention layer (for LION: ``variant, mode, chunk_size, decay_init,
            feature_map, two_scan, grid_size, num_prefix_tokens, eps``; the softmax layer ignores them).

    Shapes:
        ``forward(x [B, T, dim], attention_mask [B, T] bool | None) -> [B, T, dim]``.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        attn_type: str = "lion",
        qkv_bias: bool = False,
        proj_drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
        norm_layer: type[nn.Module] = nn.LayerNorm,
        act_layer: type[nn.Module] = nn.GELU,
        **attn_kwargs: Any,
    ) -> None:
        super().__init__()
        if attn_type not in ATTN_LAYERS:
            raise ValueError(f"unknown attn_type {attn_type!r}; expected one of {sorted(ATTN_LAYERS)}")
        if mlp_ratio <= 0:
            raise ValueError(f"mlp_ratio must be > 0, got {mlp_ratio!r}")
        self.attn_type = attn_type
        self.norm1 = norm_layer(dim)
        self.attn = ATTN_LAYERS[attn_type](
            dim, num_heads=num_heads, qkv_bias=qkv_bias, attn_drop=attn_drop, proj_drop=proj_drop, **attn_kwargs
        )
        self.drop_path1 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = norm_layer(dim)
        self.mlp = Mlp(dim, hidden_features=self.mlp_width(dim, mlp_ratio), act_layer=act_layer, drop=proj_drop)
        self.drop_path2 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    @staticmethod
    def mlp_width(dim: int, mlp_ratio: float) -> int:
        """Hidden width of the MLP: ``dim * mlp_ratio`` truncated, as timm does."""
        return int(dim * mlp_ratio)

    def forward(self, x: Tensor, attention_mask: Tensor | None = None) -> Tensor:
        """Apply the block to [B, T, dim] tokens (``attention_mask`` [B, T] bool, True = real token)."""
        x = x + self.drop_path1(self.attn(self.norm1(x), attention_mask))
        return x + self.drop_path2(self.mlp(self.norm2(x)))
