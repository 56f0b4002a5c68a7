"""Learnable feature maps for converting softmax attention into LION attention.

Linear attention replaces ``exp(q . k / sqrt(K))`` by ``phi(q) . phi(k)``. A fixed ``phi`` (``elu + 1``) is a poor
stand-in for the exponential; a small learnable ``phi`` trained to reproduce the softmax weights of a pretrained
model is much closer (Zhang et al., "The Hedgehog & the Porcupine", ICLR 2024; Zhang et al., "LoLCATs", 2024).
The map here is Hedgehog's, in LoLCATs' normalised form: per head a ``K x K`` projection, then a softmax over
the features of ``x W + b`` and of ``-(x W + b)``, concatenated, so ``phi`` is strictly positive with ``2 K``
features. ``W`` starts at the identity and ``b`` at zero, so training starts from a sensible spiky kernel.

These are modules with parameters (one per attention layer), not entries of the stateless registry in
:mod:`lion_attn.layers.feature_maps`; :data:`LEARNED_FEATURE_MAPS` maps their config names to classes.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["LEARNED_FEATURE_MAPS", "HedgehogFeatureMap", "build_learned_feature_map"]


class HedgehogFeatureMap(nn.Module):
    """``phi(x) = [softmax(x W_h + b_h), softmax(-(x W_h + b_h))]`` over the head dimension, per head.

    Args:
        num_heads: Heads H.
        head_dim: Input features per head K.

    Attributes:
        weight: [H, K, K], initialised to the identity.
        bias: [H, K], initialised to zero.

    Shapes:
        ``forward(x [B, T, H, K]) -> [B, T, H, 2K]``, strictly positive, each half summing to 1.
    """

    def __init__(self, num_heads: int, head_dim: int) -> None:
        super().__init__()
        if num_heads <= 0 or head_dim <= 0:
            raise ValueError(f"num_heads and head_dim must be positive, got {num_heads}, {head_dim}")
        self.num_heads = num_heads
        self.head_dim = head_dim
        self.weight = nn.Parameter(torch.empty(num_heads, head_dim, head_dim))
        self.bias = nn.Parameter(torch.empty(num_heads, head_dim))
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Identity projection, zero bias."""
        self.weight.copy_(torch.eye(self.head_dim).expand(self.num_heads, -1, -1))
        self.bias.zero_()

    def forward(self, x: Tensor) -> Tensor:
        """Map queries or keys [B, T, H, K] to features [B, T, H, 2K]."""
        if x.dim() != 4 or x.shape[-2:] != (self.num_heads, self.head_dim):
            raise ValueError(f"x must have shape [B, T, {self.num_heads}, {self.head_dim}], got {tuple(x.shape)}")
        z = torch.einsum("bthk,hkf->bthf", x, self.weight.to(x.dtype)) + self.bias.to(x.dtype)
        return torch.cat([z.softmax(dim=-1), (-z).softmax(dim=-1)], dim=-1)

    def extra_repr(self) -> str:
        return f"num_heads={self.num_heads}, head_dim={self.head_dim}"


LEARNED_FEATURE_MAPS: dict[str, type[nn.Module]] = {"hedgehog": HedgehogFeatureMap}


def build_learned_feature_map(name: str, num_heads: int, head_dim: int) -> nn.Module:
    """Build the learnable feature map called ``name`` for one attention layer.

    Raises:
        ValueError: If ``name`` is not in :data:`LEARNED_FEATURE_MAPS`.
    """
    if name not in LEARNED_FEATURE_MAPS:
        raise ValueError(f"unknown learned feature map {name!r}; expected one of {sorted(LEARNED_FEATURE_MAPS)}")
    return LEARNED_FEATURE_MAPS[name](num_heads, head_dim)
