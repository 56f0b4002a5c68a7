"""Model assemblies of lion-attn (LION, Afzal et al., NeurIPS 2025, arXiv 2502.16249): ViT, BERT-style
encoders (MLM, sequence classification) and Long Range Arena classifiers, each with one dataclass config,
run-time switching of the attention form, ``save_pretrained`` / ``from_pretrained``, and a registry."""

from __future__ import annotations

from lion_attn.models.attention_config import LionAttentionConfig
from lion_attn.models.base import LionModelMixin, load_pretrained
from lion_attn.models.bert import (
    BaseModelOutput,
    LionBertConfig,
    LionBertModel,
    LionForMaskedLM,
    LionForSequenceClassification,
    MaskedLMOutput,
    SequenceClassifierOutput,
)
from lion_attn.models.config import ModelConfig
from lion_attn.models.encoder import LionEncoder
from lion_attn.models.files import CONFIG_NAME, WEIGHTS_NAME, read_config
from lion_attn.models.lra import LionLRAClassifier, LionLRAConfig, LionLRADualClassifier, LionLRAEncoder
from lion_attn.models.registry import create_model, get_model_config, is_model, list_models, register_model
from lion_attn.models.vit import LionViT, LionViTConfig

__all__ = [
    "CONFIG_NAME",
    "WEIGHTS_NAME",
    "BaseModelOutput",
    "LionAttentionConfig",
    "LionBertConfig",
    "LionBertModel",
    "LionEncoder",
    "LionForMaskedLM",
    "LionForSequenceClassification",
    "LionLRAClassifier",
    "LionLRAConfig",
    "LionLRADualClassifier",
    "LionLRAEncoder",
    "LionModelMixin",
    "LionViT",
    "LionViTConfig",
    "MaskedLMOutput",
    "ModelConfig",
    "SequenceClassifierOutput",
    "create_model",
    "get_model_config",
    "is_model",
    "list_models",
    "load_pretrained",
    "read_config",
    "register_model",
]
