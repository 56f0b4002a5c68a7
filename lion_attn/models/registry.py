"""A small model registry: named presets, ``create_model(name, **overrides)`` and ``list_models(pattern)``.

Names follow the design note's grammar:

- ``lion_{variant}_vit_{size}_patch{P}_{res}`` with variant in ``lit, d, s, dnat, snat`` (``dnat``/``snat``
  are the two-scan "natural" LION-D/LION-S of Afzal et al., NeurIPS 2025);
- ``lion_{variant}_bert_{size}`` (a :class:`LionForMaskedLM`) and ``lion_{variant}_lra_{task}``;
- ``softmax_vit_...``, ``softmax_bert_...``, ``softmax_lra_...``: the same models with softmax attention.

Overrides are config fields; the BERT presets build the MLM model, and ``get_model_config`` gives the
preset's config for the other BERT heads (e.g. ``LionForSequenceClassification(get_model_config(name))``).
"""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
from collections.abc import Callable
from typing import Any

from torch import nn

from lion_attn.models.attention_config import LionAttentionConfig
from lion_attn.models.bert import LionBertConfig, LionForMaskedLM
from lion_attn.models.config import ModelConfig
from lion_attn.models.lra import LionLRAClassifier, LionLRAConfig, LionLRADualClassifier
from lion_attn.models.vit import LionViT, LionViTConfig

__all__ = ["create_model", "get_model_config", "is_model", "list_models", "register_model"]

ModelFn = Callable[..., nn.Module]

# name -> function(**overrides) -> model
_MODELS: dict[str, ModelFn] = {}
# name -> (model class, preset config) for presets registered through ``_register_preset``.
_PRESETS: dict[str, tuple[Callable[[Any], nn.Module], ModelConfig]] = {}


def register_model(fn: ModelFn | None = None, *, name: str | None = None) -> Any:
    """Register a model function under its ``__name__`` (or ``name``); usable as ``@register_model``.

    Args:
        fn: A function ``(**overrides) -> nn.Module``.
        name: Registry name; defaults to ``fn.__name__``.

    Returns:
        ``fn`` unchanged (or a decorator when called with ``name`` only).

    Raises:
        ValueError: If the name is already registered.
    """

    def decorate(f: ModelFn) -> ModelFn:
        key = name or f.__name__
        if key in _MODELS:
            raise ValueError(f"model {key!r} is already registered")
        _MODELS[key] = f
        return f

    return decorate(fn) if fn is not None else decorate


def list_models(pattern: str = "*") -> list[str]:
    """Sorted registered names matching an ``fnmatch`` pattern (e.g. ``"lion_s_vit_*"``)."""
    return sorted(n for n in _MODELS if fnmatch.fnmatchcase(n, pattern))


def is_model(name: str) -> bool:
    """Whether ``name`` is registered."""
    return name in _MODELS


def _unknown(name: str) -> ValueError:
    close = difflib.get_close_matches(name, list(_MODELS), n=5, cutoff=0.6)
    hint = f"; did you mean {close}?" if close else "; see lion_attn.list_models()"
    return ValueError(f"unknown model {name!r}{hint}")


def create_model(name: str, **overrides: Any) -> nn.Module:
    """Build a registered model.

    Args:
        name: A name from :func:`list_models`.
        **overrides: Config fields to change (e.g. ``num_classes=10, depth=2, attn_mode="chunk"``).

    Returns:
        The model, in training mode, on CPU.

    Raises:
        ValueError: On an unknown name (listing close matches), an unknown config field, or an invalid value.
    """
    if name not in _MODELS:
        raise _unknown(name)
    return _MODELS[name](**overrides)


def get_model_config(name: str, **overrides: Any) -> ModelConfig:
    """The config a preset would build, with overrides applied.

    Raises:
        ValueError: On an unknown name or field, or for a name registered without a preset config.
    """
    if name not in _MODELS:
        raise _unknown(name)
    if name not in _PRESETS:
        raise ValueError(f"model {name!r} was registered as a function and has no preset config")
    return _PRESETS[name][1].replace(**overrides)


def _register_preset(name: str, build: Callable[[Any], nn.Module], config: ModelConfig) -> None:
    def fn(**overrides: Any) -> nn.Module:
        return build(config.replace(**overrides))

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"{name}: {type(config).__name__} preset."
    _PRESETS[name] = (build, config)
    register_model(fn, name=name)


# variant name in model names -> the attention it means
_VIT_VARIANTS: dict[str, LionAttentionConfig] = {
    "lit": LionAttentionConfig(variant="lit"),
    "d": LionAttentionConfig(variant="d"),
    "s": LionAttentionConfig(variant="s"),
    "dnat": LionAttentionConfig(variant="d", two_scan=True),
    "snat": LionAttentionConfig(variant="s", two_scan=True),
}
_SEQ_VARIANTS: dict[str, LionAttentionConfig] = {name: _VIT_VARIANTS[name] for name in ("lit", "d", "s")}
_SOFTMAX = LionAttentionConfig(kind="softmax")

# (size, patch, resolution) -> ViT config fields
_VIT_SIZES: dict[tuple[str, int, int], dict[str, Any]] = {
    ("tiny", 16, 224): {"embed_dim": 192, "depth": 12, "num_heads": 3},
    ("small", 16, 224): {"embed_dim": 384, "depth": 12, "num_heads": 6},
    ("base", 16, 224): {"embed_dim": 768, "depth": 12, "num_heads": 12},
    # CPU-sized presets for 28x28 greyscale images (MNIST, Fashion-MNIST): 7x7 = 49 patches.
    ("nano", 4, 28): {
        "embed_dim": 64,
        "depth": 4,
        "num_heads": 4,
        "mlp_ratio": 2.0,
        "in_chans": 1,
        "num_classes": 10,
        "global_pool": "avg",
    },
    # 4x4 = 16 patches of 7x7 pixels, wider: the showcase's model (fast per image, more capacity per token).
    ("mini", 7, 28): {
        "embed_dim": 128,
        "depth": 4,
        "num_heads": 4,
        "mlp_ratio": 4.0,
        "in_chans": 1,
        "num_classes": 10,
        "global_pool": "avg",
    },
    ("micro", 4, 28): {
        "embed_dim": 128,
        "depth": 6,
        "num_heads": 4,
        "mlp_ratio": 2.0,
        "in_chans": 1,
        "num_classes": 10,
        "global_pool": "avg",
    },
}

_BERT_SIZES: dict[str, dict[str, Any]] = {
    "tiny": {"hidden_size": 128, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 512},
    "mini": {"hidden_size": 256, "num_hidden_layers": 4, "num_attention_heads": 4, "intermediate_size": 1024},
    "small": {"hidden_size": 512, "num_hidden_layers": 4, "num_attention_heads": 8, "intermediate_size": 2048},
    "base": {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072},
    "large": {"hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16, "intermediate_size": 4096},
}

# LRA presets: sequence length, width, depth, heads and pooling per task. The sizes follow the long-range models the
# paper compares with (S4/S5-style: 6-8 blocks of width 128-512, mean pooling); every LION preset starts its decays
# with the "timescale" initialisation (timescales log-uniform from 1 to max_len over the heads). Byte- and pixel-level
# tasks use 256 symbols plus 4 specials (pad = 0); ListOps has a small vocabulary (2,000 tokens plus a CLS token).
_LRA_COMMON: dict[str, Any] = {"mlp_ratio": 2.0, "pooling": "mean", "num_classes": 2}
_LRA_TASKS: dict[str, dict[str, Any]] = {
    "listops": {"vocab_size": 32, "max_len": 2048, "num_classes": 10, "embed_dim": 128, "depth": 8, "num_heads": 4},
    "text": {"vocab_size": 260, "max_len": 4096, "embed_dim": 256, "depth": 6, "num_heads": 4},
    "retrieval": {"vocab_size": 260, "max_len": 4096, "embed_dim": 128, "depth": 6, "num_heads": 4, "dual": True},
    "image": {"vocab_size": 260, "max_len": 1024, "num_classes": 10, "embed_dim": 512, "depth": 6, "num_heads": 8},
    "pathfinder": {"vocab_size": 260, "max_len": 1024, "embed_dim": 192, "depth": 6, "num_heads": 6},
    # Path-X, 128 x 128 = 16,384 pixels: train it in the chunkwise form (`lion train --attn-mode chunk`), whose
    # memory is linear in the length.
    "pathx": {"vocab_size": 260, "max_len": 16384, "embed_dim": 128, "depth": 6, "num_heads": 4},
}


def _build_lra(config: LionLRAConfig) -> nn.Module:
    return LionLRADualClassifier(config) if config.dual else LionLRAClassifier(config)


def _register_all() -> None:
    for (size, patch, res), fields in _VIT_SIZES.items():
        base = {"img_size": res, "patch_size": patch, **fields}
        for vname, attention in _VIT_VARIANTS.items():
            _register_preset(
                f"lion_{vname}_vit_{size}_patch{patch}_{res}", LionViT, LionViTConfig(**base, attention=attention)
            )
        _register_preset(f"softmax_vit_{size}_patch{patch}_{res}", LionViT, LionViTConfig(**base, attention=_SOFTMAX))
    for size, bert_fields in _BERT_SIZES.items():
        for vname, attention in _SEQ_VARIANTS.items():
            _register_preset(
                f"lion_{vname}_bert_{size}", LionForMaskedLM, LionBertConfig(**bert_fields, attention=attention)
            )
        _register_preset(f"softmax_bert_{size}", LionForMaskedLM, LionBertConfig(**bert_fields, attention=_SOFTMAX))
    for task, fields in _LRA_TASKS.items():
        lra_fields = {**_LRA_COMMON, **fields}
        for vname, attention in _SEQ_VARIANTS.items():
            lra_attention = dataclasses.replace(attention, decay_init="timescale")
            config = LionLRAConfig(task=task, **lra_fields, attention=lra_attention)
            _register_preset(f"lion_{vname}_lra_{task}", _build_lra, config)
        softmax = LionLRAConfig(task=task, **lra_fields, attention=_SOFTMAX)
        _register_preset(f"softmax_lra_{task}", _build_lra, softmax)


_register_all()
