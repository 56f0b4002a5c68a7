"""Neural-network layers of lion-attn: LION attention (Afzal et al., NeurIPS 2025, arXiv 2502.16249),
its decay parametrisations and feature maps, the softmax baseline, and the Transformer parts around them."""

from __future__ import annotations

from lion_attn.layers.attention import LionAttention, snake_orders
from lion_attn.layers.block import ATTN_LAYERS, Block
from lion_attn.layers.decays import (
    DECAY_INITS,
    DECAYS,
    ScalarDecay,
    SelectiveDecay,
    build_decay,
    list_decays,
    long_memory_decays,
    register_decay,
)
from lion_attn.layers.drop import DropPath, check_attention_dropout, drop_path
from lion_attn.layers.feature_maps import (
    DEFAULT_FEATURE_MAPS,
    FEATURE_MAPS,
    get_feature_map,
    list_feature_maps,
    register_feature_map,
)
from lion_attn.layers.mlp import Mlp
from lion_attn.layers.modes import check_mode, get_attn_modes, set_attn_mode
from lion_attn.layers.patch_embed import PatchEmbed
from lion_attn.layers.softmax_attention import SoftmaxAttention

__all__ = [
    "ATTN_LAYERS",
    "DECAYS",
    "DECAY_INITS",
    "DEFAULT_FEATURE_MAPS",
    "FEATURE_MAPS",
    "Block",
    "DropPath",
    "LionAttention",
    "Mlp",
    "PatchEmbed",
    "ScalarDecay",
    "SelectiveDecay",
    "SoftmaxAttention",
    "build_decay",
    "check_attention_dropout",
    "check_mode",
    "drop_path",
    "get_attn_modes",
    "get_feature_map",
    "list_decays",
    "list_feature_maps",
    "long_memory_decays",
    "register_decay",
    "register_feature_map",
    "set_attn_mode",
    "snake_orders",
]
