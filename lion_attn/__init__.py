"""lion-attn: LION bidirectional linear attention for PyTorch.

LION (Afzal et al., "Linear Attention for Efficient Bidirectional Sequence Modeling", NeurIPS 2025,
arXiv 2502.16249) is bidirectional linear attention that trains like a Transformer (full-attention form), runs
inference like an RNN (two scans with a fixed-size state) and has a chunkwise form in between; all three give the
same numbers. This package provides the op (:mod:`lion_attn.ops`), layers (:mod:`lion_attn.layers`), models
(:mod:`lion_attn.models`) and, separately, a training CLI (``lion``, :mod:`lion_attn.train`).
"""

from __future__ import annotations

from lion_attn._version import __version__
from lion_attn.layers import Block, LionAttention, SoftmaxAttention, get_attn_modes, set_attn_mode
from lion_attn.models import (
    LionAttentionConfig,
    LionBertConfig,
    LionBertModel,
    LionForMaskedLM,
    LionForSequenceClassification,
    LionLRAClassifier,
    LionLRAConfig,
    LionLRADualClassifier,
    LionViT,
    LionViTConfig,
    create_model,
    get_model_config,
    list_models,
    load_pretrained,
    register_model,
)
from lion_attn.ops import MODES, chunk_lion, lion_attention, parallel_lion, recurrent_lion

__all__ = [
    "MODES",
    "Block",
    "LionAttention",
    "LionAttentionConfig",
    "LionBertConfig",
    "LionBertModel",
    "LionForMaskedLM",
    "LionForSequenceClassification",
    "LionLRAClassifier",
    "LionLRAConfig",
    "LionLRADualClassifier",
    "LionViT",
    "LionViTConfig",
    "SoftmaxAttention",
    "__version__",
    "chunk_lion",
    "create_model",
    "get_attn_modes",
    "get_model_config",
    "lion_attention",
    "list_models",
    "load_pretrained",
    "parallel_lion",
    "recurrent_lion",
    "register_model",
    "set_attn_mode",
]
