"""The stack of pre-norm blocks shared by every model family, and the weight initialisation they share.

The attention in each block is LION (Afzal et al., NeurIPS 2025, arXiv 2502.16249) or, for the baselines,
softmax attention through SDPA; everything else is identical, so comparisons are like for like.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from lion_attn.layers import Block
from lion_attn.models.attention_config import LionAttentionConfig
from lion_attn.models.checks import check_divisible, check_positive_int, check_probability

__all__ = ["LionEncoder", "check_encoder_fields", "init_weights", "masked_mean", "stochastic_depth_rates"]


def masked_mean(hidden: Tensor, mask: Tensor) -> Tensor:
    """Mean of [B, T, D] ``hidden`` over the positions where the [B, T] ``mask`` is True (real tokens) -> [B, D];
    a row without any gives zeros. The one mean-pooling of the models and of ``lion embed``."""
    weights = mask.to(hidden.dtype).unsqueeze(-1)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)


def stochastic_depth_rates(drop_path_rate: float, depth: int) -> list[float]:
    """Stochastic depth probability of each block, rising linearly from 0 to ``drop_path_rate`` (DeiT)."""
    if depth == 1:
        return [drop_path_rate]
    return [drop_path_rate * i / (depth - 1) for i in range(depth)]


def check_encoder_fields(config: Any) -> None:
    """Check the fields :meth:`LionEncoder.from_config` reads from a vision-named config (ViT, LRA).

    Raises:
        ValueError: ``embed_dim``, ``depth`` or ``num_heads`` not a positive int, ``embed_dim`` not divisible by
            ``num_heads``, ``mlp_ratio <= 0`` or ``drop_path_rate`` outside [0, 1].
    """
    for name in ("embed_dim", "depth", "num_heads"):
        check_positive_int(name, getattr(config, name))
    check_divisible("embed_dim", config.embed_dim, "num_heads", config.num_heads)
    if config.mlp_ratio <= 0:
        raise ValueError(f"mlp_ratio must be > 0, got {config.mlp_ratio!r}")
    check_probability("drop_path_rate", config.drop_path_rate)


class LionEncoder(nn.Module):
    """``depth`` pre-norm blocks followed by a final LayerNorm.

    Args:
        dim: Token width.
        depth: Number of blocks.
        num_heads: Attention heads per block.
        attention: The attention of every block (LION and its options, or the softmax baseline).
        mlp_ratio: MLP hidden width as a multiple of ``dim``.
        proj_drop: Dropout after attention and inside the MLP.
        attn_drop: Attention dropout (softmax only; LION rejects nonzero values).
        drop_path_rate: Largest stochastic depth probability (linearly increasing over blocks).
        layer_norm_eps: Epsilon of every LayerNorm.
        act_layer: MLP activation class.
        **lion_extra: Further LION-only keywords of each attention layer (the two-scan grid), ignored by softmax.

    Shapes:
        ``forward(x [B, T, dim], attention_mask [B, T] bool | None) -> [B, T, dim]``.
    """

    #: The block of the stack, and whether a LayerNorm follows the last one (the post-norm layout overrides both).
    block_class: ClassVar[type[Block]] = Block
    final_norm: ClassVar[bool] = True

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
        layer_norm_eps: float = 1e-6,
        act_layer: type[nn.Module] = nn.GELU,
        **lion_extra: Any,
    ) -> None:
        super().__init__()
        attention = attention if attention is not None else LionAttentionConfig()

        def norm_layer(d: int) -> nn.Module:
            return nn.LayerNorm(d, eps=layer_norm_eps)

        # Block calls norm_layer(dim) only; a function building the LayerNorm serves as well as the class.
        norm: Any = norm_layer
        rates = stochastic_depth_rates(drop_path_rate, depth)
        block_kwargs = attention.block_kwargs(**lion_extra)
        self.blocks = nn.ModuleList(
            self.block_class(dim, num_heads, mlp_ratio, proj_drop=proj_drop, attn_drop=attn_drop, drop_path=rate,
                             norm_layer=norm, act_layer=act_layer, **block_kwargs)
            for rate in rates
        )  # fmt: skip
        self.norm = norm_layer(dim) if self.final_norm else nn.Identity()

    @classmethod
    def from_config(cls, config: Any, *, proj_drop: float, attn_drop: float = 0.0, **lion_extra: Any) -> LionEncoder:
        """The encoder of a config that uses the vision names (ViT and LRA).

        Args:
            config: A config with ``embed_dim, depth, num_heads, mlp_ratio, drop_path_rate, layer_norm_eps`` and
                ``attention``.
            proj_drop: Dropout after attention and inside the MLP (each family names its own field).
            attn_drop: Attention dropout (softmax baselines only).
            **lion_extra: LION-only keywords (the two-scan grid).
        """
        return cls(
            config.embed_dim,
            config.depth,
            config.num_heads,
            config.attention,
            mlp_ratio=config.mlp_ratio,
            proj_drop=proj_drop,
            attn_drop=attn_drop,
            drop_path_rate=config.drop_path_rate,
            layer_norm_eps=config.layer_norm_eps,
            **lion_extra,
        )

    def forward(self, x: Tensor, attention_mask: Tensor | None = None) -> Tensor:
        """Run the blocks and the final norm on [B, T, dim] tokens."""
        for block in self.blocks:
            x = block(x, attention_mask)
        return self.norm(x)


def init_weights(std: float = 0.02) -> Callable[[nn.Module], None]:
    """A function for ``module.apply``: truncated-normal linear and embedding weights, zero biases, unit norms.

    Decay parameters of LION are not ``nn.Linear`` modules, so their own initialisation is kept.
    """

    def apply(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.trunc_normal_(module.weight, std=std, a=-2 * std, b=2 * std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.trunc_normal_(module.weight, std=std, a=-2 * std, b=2 * std)
            if module.padding_idx is not None:
                with torch.no_grad():
                    module.weight[module.padding_idx].zero_()
        elif isinstance(module, nn.LayerNorm) and module.elementwise_affine:
            nn.init.ones_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)

    return apply
