"""Classifiers for the Long Range Arena (Tay et al., ICLR 2021) with LION attention (Afzal et al., NeurIPS 2025,
arXiv 2502.16249): a token or byte embedding, a LION encoder, a pooled classifier, and a two-tower variant
for the retrieval task that encodes two sequences and classifies ``[u, v, u * v, u - v]``.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import torch
from torch import Tensor, nn

from lion_attn.layers.decays import ScalarDecay, SelectiveDecay, timescale_decays
from lion_attn.models.base import LionModelMixin
from lion_attn.models.checks import check_choice, check_positive_int, check_probability
from lion_attn.models.config import ModelConfig
from lion_attn.models.encoder import LionEncoder, check_encoder_fields, init_weights, masked_mean
from lion_attn.ops.inputs import check_padding_mask

__all__ = [
    "LRA_TASKS",
    "LionLRAClassifier",
    "LionLRAConfig",
    "LionLRADualClassifier",
    "LionLRAEncoder",
    "stretch_decay_timescales",
]

LRA_TASKS: tuple[str, ...] = ("listops", "text", "retrieval", "image", "pathfinder", "pathx", "custom")


@dataclasses.dataclass
class LionLRAConfig(ModelConfig):
    """Configuration of the LRA classifiers.

    Attributes:
        task: ``"listops"``, ``"text"``, ``"retrieval"``, ``"image"``, ``"pathfinder"``, ``"pathx"`` or ``"custom"``
            (informational: the architecture is set by the other fields).
        vocab_size: Token vocabulary (256 + specials for byte- and pixel-level tasks).
        max_len: Longest input sequence (excluding the class token).
        embed_dim: Token width.
        depth: Number of blocks.
        num_heads: Attention heads; must divide ``embed_dim``.
        mlp_ratio: MLP hidden width as a multiple of ``embed_dim``.
        num_classes: Classifier outputs.
        pooling: ``"mean"`` (over real tokens) or ``"cls"`` (a learned class token prepended).
        pos_embed: Learned absolute position embeddings (LION-LIT needs them).
        dual: Two-tower model for retrieval (:class:`LionLRADualClassifier`).
        pad_token_id: Padding id (its embedding starts at zero).
        drop_rate: Dropout on embeddings, after attention, inside the MLP and before the classifier.
        drop_path_rate: Stochastic depth, rising linearly to this value over the blocks.
        attention: The attention of every block (:class:`LionAttentionConfig`). ``decay_init="timescale"`` is
            the long-memory initialisation the longest tasks need: the heads' timescales spread log-uniformly from
            1 to ``max_len`` tokens (see :func:`stretch_decay_timescales`), so some heads span the whole sequence.
        layer_norm_eps: Epsilon of every LayerNorm.
        init_std: Standard deviation of the truncated-normal initialisation.
    """

    family: ClassVar[str] = "lra"
    model_type: ClassVar[str] = "lion_lra"

    task: str = "custom"
    vocab_size: int = 260
    max_len: int = 1024
    embed_dim: int = 128
    depth: int = 4
    num_heads: int = 4
    mlp_ratio: float = 2.0
    num_classes: int = 10
    pooling: str = "mean"
    pos_embed: bool = True
    dual: bool = False
    pad_token_id: int = 0
    drop_rate: float = 0.0
    drop_path_rate: float = 0.0
    layer_norm_eps: float = 1e-6
    init_std: float = 0.02

    def __post_init__(self) -> None:
        check_choice("task", self.task, LRA_TASKS)
        for name in ("vocab_size", "max_len", "num_classes"):
            check_positive_int(name, getattr(self, name))
        check_encoder_fields(self)
        check_choice("pooling", self.pooling, ("mean", "cls"))
        if not 0 <= self.pad_token_id < self.vocab_size:
            raise ValueError(f"pad_token_id must be in [0, vocab_size={self.vocab_size}), got {self.pad_token_id}")
        check_probability("drop_rate", self.drop_rate)
        self._check_attention()
        if self.attention.is_lion and self.attention.variant == "lit" and not self.pos_embed:
            raise ValueError("LION-LIT has no positional information of its own: use pos_embed=True")


@torch.no_grad()
def stretch_decay_timescales(model: nn.Module, max_len: int) -> None:
    """Set every ``"timescale"``-initialised decay to timescales from 1 to ``max_len`` tokens.

    The layer's ``"timescale"`` initialisation spreads the heads' timescales up to 16,384 tokens; an LRA model
    knows its sequence length, so its longest timescale becomes ``max_len``: ``lambda_h = exp(-1 / tau_h)`` with
    ``tau_h = max_len ** (h / (H - 1))``, written into LION-D's logits and LION-S's biases (logit of lambda_h).
    """
    for module in model.modules():
        if isinstance(module, (ScalarDecay, SelectiveDecay)) and module.init == "timescale":
            decays = timescale_decays(module.num_heads, float(max_len))
            logits = torch.log(decays) - torch.log1p(-decays)
            target = module.a if isinstance(module, ScalarDecay) else module.bias
            target.copy_(logits.to(target.dtype))


class LionLRAEncoder(nn.Module):
    """Embedding, optional class token and position embeddings, LION blocks, pooling.

    Shapes:
        ``forward(input_ids [B, T], attention_mask [B, T] bool | None) -> [B, embed_dim]``.
    """

    def __init__(self, config: LionLRAConfig) -> None:
        super().__init__()
        self.config = config
        dim = config.embed_dim
        self.embed = nn.Embedding(config.vocab_size, dim, padding_idx=config.pad_token_id)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim)) if config.pooling == "cls" else None
        num_prefix = 1 if self.cls_token is not None else 0
        self.pos_embed = nn.Embedding(config.max_len + num_prefix, dim) if config.pos_embed else None
        self.drop = nn.Dropout(config.drop_rate)
        self.encoder = LionEncoder.from_config(config, proj_drop=config.drop_rate)

    def forward(self, input_ids: Tensor, attention_mask: Tensor | None = None) -> Tensor:
        """Encode [B, T] ids (``attention_mask`` True/1 = real token) into pooled [B, embed_dim] features."""
        if input_ids.dim() != 2:
            raise ValueError(f"input_ids must have shape [B, T], got {tuple(input_ids.shape)}")
        batch, length = input_ids.shape
        if length > self.config.max_len:
            raise ValueError(f"sequence length {length} exceeds max_len {self.config.max_len}")
        mask = check_padding_mask(attention_mask, batch, length)
        x = self.embed(input_ids)  # [B, T, D]
        if self.cls_token is not None:
            x = torch.cat([self.cls_token.expand(batch, -1, -1).to(x.dtype), x], dim=1)
            if mask is not None:
                mask = torch.cat([mask.new_ones(batch, 1), mask], dim=1)
        if self.pos_embed is not None:
            # Positions count real tokens only, so padding anywhere leaves real tokens unchanged.
            if mask is None:
                positions = torch.arange(x.shape[1], device=x.device).expand(batch, -1)
            else:
                positions = (mask.long().cumsum(dim=1) - 1).clamp(min=0)
            x = x + self.pos_embed(positions)
        x = self.encoder(self.drop(x), mask)
        if self.cls_token is not None:
            return x[:, 0]
        return x.mean(dim=1) if mask is None else masked_mean(x, mask)


class LionLRAClassifier(LionModelMixin, nn.Module):
    """Single-sequence LRA classifier (ListOps, Text, Image, Pathfinder).

    Args:
        config: The model configuration (``dual=False``).

    Shapes:
        ``forward(input_ids [B, T], attention_mask [B, T] | None) -> logits [B, num_classes]``.
    """

    config_class: ClassVar[type[ModelConfig]] = LionLRAConfig
    config: LionLRAConfig

    def __init__(self, config: LionLRAConfig) -> None:
        super().__init__()
        self.config = self.checked_config(config)
        if config.dual:
            raise ValueError("config.dual is True: use LionLRADualClassifier for two-sequence tasks")
        self.encoder = LionLRAEncoder(config)
        self.head_drop = nn.Dropout(config.drop_rate)
        self.head = nn.Linear(config.embed_dim, config.num_classes)
        self.apply(init_weights(config.init_std))
        if self.encoder.cls_token is not None:
            nn.init.trunc_normal_(self.encoder.cls_token, std=config.init_std)
        stretch_decay_timescales(self, config.max_len)

    def forward(self, input_ids: Tensor, attention_mask: Tensor | None = None) -> Tensor:
        """Classify [B, T] ids into [B, num_classes] logits."""
        return self.head(self.head_drop(self.encoder(input_ids, attention_mask)))


class LionLRADualClassifier(LionModelMixin, nn.Module):
    """Two-tower LRA classifier (Retrieval): one shared encoder, then an MLP on ``[u, v, u * v, u - v]``.

    Args:
        config: The model configuration (``dual=True``).

    Shapes:
        ``forward(ids1 [B, T1], ids2 [B, T2], mask1 [B, T1] | None, mask2 [B, T2] | None)``
        -> logits [B, num_classes].
    """

    config_class: ClassVar[type[ModelConfig]] = LionLRAConfig
    config: LionLRAConfig

    def __init__(self, config: LionLRAConfig) -> None:
        super().__init__()
        self.config = self.checked_config(config)
        if not config.dual:
            raise ValueError("config.dual is False: use LionLRAClassifier for single-sequence tasks")
        dim = config.embed_dim
        self.encoder = LionLRAEncoder(config)
        self.head = nn.Sequential(
            nn.Linear(4 * dim, dim), nn.GELU(), nn.Dropout(config.drop_rate), nn.Linear(dim, config.num_classes)
        )
        self.apply(init_weights(config.init_std))
        if self.encoder.cls_token is not None:
            nn.init.trunc_normal_(self.encoder.cls_token, std=config.init_std)
        stretch_decay_timescales(self, config.max_len)

    def forward(self, ids1: Tensor, ids2: Tensor, mask1: Tensor | None = None, mask2: Tensor | None = None) -> Tensor:
        """Classify the pair (``ids1``, ``ids2``) into [B, num_classes] logits."""
        u = self.encoder(ids1, mask1)
        v = self.encoder(ids2, mask2)
        return self.head(torch.cat([u, v, u * v, u - v], dim=-1))
