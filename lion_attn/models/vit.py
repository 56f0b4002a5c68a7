"""LION vision transformer: a ViT (Dosovitskiy et al., ICLR 2021) whose attention is LION (Afzal et al.,
NeurIPS 2025, arXiv 2502.16249), optionally the two-scan "natural" variant.

The API follows timm: ``forward_features`` (tokens after the final norm), ``forward_head`` (pooling and the
classifier) and ``forward`` (images to logits).
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from lion_attn.layers import PatchEmbed, check_attention_dropout
from lion_attn.layers.patch_embed import positive_pair
from lion_attn.models.base import LionModelMixin
from lion_attn.models.checks import check_choice, check_positive_int, check_probability
from lion_attn.models.config import ModelConfig
from lion_attn.models.encoder import LionEncoder, check_encoder_fields, init_weights

__all__ = ["LionViT", "LionViTConfig"]


@dataclasses.dataclass
class LionViTConfig(ModelConfig):
    """Configuration of :class:`LionViT`.

    Attributes:
        img_size: Image height and width (an int means square).
        patch_size: Patch side; must divide both image sides.
        in_chans: Image channels (1 for greyscale).
        num_classes: Classifier outputs; 0 means no classifier (``forward`` returns pooled features).
        embed_dim: Token width.
        depth: Number of blocks.
        num_heads: Attention heads; must divide ``embed_dim``.
        mlp_ratio: MLP hidden width as a multiple of ``embed_dim``.
        class_token: Prepend a learned class token (kept at position 0 with decay 1 by the two-scan form).
        global_pool: ``"token"`` (the class token; needs ``class_token``) or ``"avg"`` (mean of patch tokens).
        pos_embed: Learned absolute position embeddings (LION-LIT has no other positional information).
        drop_rate: Dropout after the position embedding and before the classifier.
        proj_drop_rate: Dropout after attention and inside the MLP.
        attn_drop_rate: Attention dropout (softmax baseline only; must be 0 for LION).
        drop_path_rate: Stochastic depth, rising linearly to this value over the blocks.
        attention: The attention of every block (:class:`LionAttentionConfig`: LION or softmax, variant, form,
            ``two_scan`` for the two-scan "natural" variant, ...).
        layer_norm_eps: Epsilon of every LayerNorm.
        init_std: Standard deviation of the truncated-normal weight initialisation.
    """

    family: ClassVar[str] = "vit"
    model_type: ClassVar[str] = "lion_vit"
    supports_two_scan: ClassVar[bool] = True

    img_size: int | tuple[int, int] = 224
    patch_size: int = 16
    in_chans: int = 3
    num_classes: int = 1000
    embed_dim: int = 192
    depth: int = 12
    num_heads: int = 3
    mlp_ratio: float = 4.0
    class_token: bool = True
    global_pool: str = "token"
    pos_embed: bool = True
    drop_rate: float = 0.0
    proj_drop_rate: float = 0.0
    attn_drop_rate: float = 0.0
    drop_path_rate: float = 0.0
    layer_norm_eps: float = 1e-6
    init_std: float = 0.02

    def __post_init__(self) -> None:
        img = positive_pair(self.img_size, "img_size")
        if not isinstance(self.img_size, int):
            self.img_size = img
        check_positive_int("patch_size", self.patch_size)
        if img[0] % self.patch_size or img[1] % self.patch_size:
            raise ValueError(f"img_size {self.img_size} must be divisible by patch_size {self.patch_size}")
        check_positive_int("in_chans", self.in_chans)
        check_encoder_fields(self)
        if not isinstance(self.num_classes, int) or self.num_classes < 0:
            raise ValueError(f"num_classes must be a non-negative int, got {self.num_classes!r}")
        check_choice("global_pool", self.global_pool, ("token", "avg"))
        if self.global_pool == "token" and not self.class_token:
            raise ValueError('global_pool="token" needs class_token=True; use global_pool="avg" without one')
        for name in ("drop_rate", "proj_drop_rate", "attn_drop_rate"):
            check_probability(name, getattr(self, name))
        self._check_attention()
        if self.attention.is_lion:
            check_attention_dropout(self.attn_drop_rate, "attn_drop_rate")

    @property
    def grid_size(self) -> tuple[int, int]:
        """Patches per column and per row."""
        img = positive_pair(self.img_size, "img_size")
        return img[0] // self.patch_size, img[1] // self.patch_size


class LionViT(LionModelMixin, nn.Module):
    """Vision transformer with LION attention (or softmax attention for the baseline).

    Args:
        config: The model configuration.

    Shapes:
        ``forward(images [B, in_chans, H, W]) -> logits [B, num_classes]``.
    """

    config_class: ClassVar[type[ModelConfig]] = LionViTConfig
    config: LionViTConfig

    def __init__(self, config: LionViTConfig) -> None:
        super().__init__()
        self.config = self.checked_config(config)
        self.num_prefix_tokens = 1 if config.class_token else 0
        self.patch_embed = PatchEmbed(config.img_size, config.patch_size, config.in_chans, config.embed_dim)
        dim = config.embed_dim
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim)) if config.class_token else None
        num_tokens = self.patch_embed.num_patches + self.num_prefix_tokens
        self.pos_embed = nn.Parameter(torch.zeros(1, num_tokens, dim)) if config.pos_embed else None
        self.pos_drop = nn.Dropout(config.drop_rate)
        grid: dict[str, Any] = {}
        if config.attention.two_scan:
            grid = {"grid_size": self.patch_embed.grid_size, "num_prefix_tokens": self.num_prefix_tokens}
        self.encoder = LionEncoder.from_config(
            config, proj_drop=config.proj_drop_rate, attn_drop=config.attn_drop_rate, **grid
        )
        self.head_drop = nn.Dropout(config.drop_rate)
        self.head = nn.Linear(dim, config.num_classes) if config.num_classes > 0 else nn.Identity()
        self._init_weights()

    def _init_weights(self) -> None:
        std = self.config.init_std
        self.patch_embed.apply(init_weights(std))
        self.encoder.apply(init_weights(std))
        self.head.apply(init_weights(std))
        for param in (self.cls_token, self.pos_embed):
            if param is not None:
                nn.init.trunc_normal_(param, std=std, a=-2 * std, b=2 * std)

    def forward_features(self, images: Tensor) -> Tensor:
        """Tokens after the final norm.

        Args:
            images: [B, in_chans, H, W].

        Returns:
            [B, num_prefix_tokens + num_patches, embed_dim], class token (if any) first, patches in raster order.
        """
        x = self.patch_embed(images)  # [B, N, D]
        if self.cls_token is not None:
            x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1).to(x.dtype), x], dim=1)
        if self.pos_embed is not None:
            x = x + self.pos_embed.to(x.dtype)
        x = self.pos_drop(x)
        return self.encoder(x)

    def forward_head(self, features: Tensor, pre_logits: bool = False) -> Tensor:
        """Pool the tokens and classify.

        Args:
            features: [B, T, embed_dim] from :meth:`forward_features`.
            pre_logits: Return the pooled [B, embed_dim] features instead of logits.

        Returns:
            [B, num_classes] logits, or [B, embed_dim] pooled features.
        """
        if self.config.global_pool == "token":
            pooled = features[:, 0]
        else:
            pooled = features[:, self.num_prefix_tokens :].mean(dim=1)
        pooled = self.head_drop(pooled)
        return pooled if pre_logits else self.head(pooled)

    def forward(self, images: Tensor) -> Tensor:
        """Classify images [B, in_chans, H, W] into logits [B, num_classes]."""
        return self.forward_head(self.forward_features(images))

    def no_weight_decay(self) -> set[str]:
        """Parameter names conventionally excluded from weight decay (timm's hook)."""
        return {"cls_token", "pos_embed"}
