"""Read a Hugging Face BERT checkpoint folder into :class:`lion_attn.models.LionBertModel`.

The folder is what ``transformers.BertModel.save_pretrained`` (or a sentence-transformers model) writes:
``config.json`` with ``model_type: "bert"`` and ``model.safetensors`` (or ``pytorch_model.bin``). Its weights are
renamed onto the post-norm layout (``norm_layout="post"``) without changing a single value; the separate query,
key and value projections are concatenated into the fused ``qkv`` projection, heads in the same order. Nothing
here imports transformers.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file
from torch import Tensor

from lion_attn.models import LionBertConfig, LionBertModel

__all__ = ["bert_config_from_hf", "load_hf_bert", "map_hf_bert_state_dict", "read_hf_bert_config"]

logger = logging.getLogger(__name__)

# HF config fields copied verbatim into LionBertConfig.
_COPIED = (
    "vocab_size",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "hidden_act",
    "hidden_dropout_prob",
    "max_position_embeddings",
    "type_vocab_size",
    "layer_norm_eps",
    "pad_token_id",
    "initializer_range",
)

# Per-layer renames (HF suffix -> ours); the query/key/value triple is handled separately.
_LAYER_RENAMES = {
    "attention.output.dense": "attn.proj",
    "attention.output.LayerNorm": "norm1",
    "intermediate.dense": "mlp.fc1",
    "output.dense": "mlp.fc2",
    "output.LayerNorm": "norm2",
}
_LAYER_KEY = re.compile(r"^encoder\.layer\.(\d+)\.(.+)\.(weight|bias|gamma|beta)$")
# Weights a BERT checkpoint may carry that a bare encoder has no use for (pooler, pre-training heads).
_UNUSED_PREFIXES = ("pooler.", "cls.", "embeddings.position_ids")


def read_hf_bert_config(folder: str | Path) -> dict[str, Any]:
    """Read and check ``config.json`` of a BERT checkpoint folder.

    Raises:
        FileNotFoundError: If ``folder`` has no ``config.json``.
        ValueError: If the folder does not hold a BERT model with absolute position embeddings.
    """
    path = Path(folder) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"no config.json in {str(folder)!r}; expected a Hugging Face BERT checkpoint folder")
    data = json.loads(path.read_text(encoding="utf-8"))
    model_type = data.get("model_type")
    if model_type != "bert":
        raise ValueError(
            f"{str(folder)!r} holds a {model_type!r} model (architectures {data.get('architectures')}); "
            "conversion reads BERT checkpoints only (config.json with model_type 'bert', e.g. all-MiniLM-L6-v2)"
        )
    if data.get("position_embedding_type", "absolute") != "absolute":
        raise ValueError(
            f"{str(folder)!r} uses position_embedding_type={data['position_embedding_type']!r}; only 'absolute' "
            "position embeddings are supported"
        )
    if data.get("is_decoder") or data.get("add_cross_attention"):
        raise ValueError(f"{str(folder)!r} is a BERT decoder; conversion reads bidirectional encoders only")
    return data


def bert_config_from_hf(data: dict[str, Any], **overrides: Any) -> LionBertConfig:
    """A post-norm :class:`LionBertConfig` equal to an HF BERT config (softmax attention unless overridden).

    Args:
        data: The HF ``config.json`` as a dict.
        **overrides: Further LionBertConfig fields (e.g. ``attn_type="lion", lion_variant="s"``).
    """
    fields: dict[str, Any] = {name: data[name] for name in _COPIED if name in data}
    fields.update(
        norm_layout="post",
        attn_type="softmax",
        attention_probs_dropout_prob=float(data.get("attention_probs_dropout_prob", 0.0)),
        position_embedding_type="absolute",
        classifier_pooling="mean",
        qkv_bias=True,
    )
    fields.update(overrides)
    if fields.get("attn_type") == "lion":
        # LION has no attention probabilities to drop.
        fields["attention_probs_dropout_prob"] = 0.0
    return LionBertConfig(**fields)


def _read_weights(folder: Path) -> dict[str, Tensor]:
    safetensors = folder / "model.safetensors"
    if safetensors.is_file():
        return load_file(str(safetensors))
    binary = folder / "pytorch_model.bin"
    if binary.is_file():
        return torch.load(binary, map_location="cpu", weights_only=True)
    raise FileNotFoundError(f"no model.safetensors or pytorch_model.bin in {str(folder)!r}")


def map_hf_bert_state_dict(hf_state: dict[str, Tensor], num_layers: int) -> tuple[dict[str, Tensor], list[str]]:
    """Rename an HF ``BertModel`` state dict to :class:`LionBertModel` (post-norm) names.

    Args:
        hf_state: HF tensors; a ``bert.`` prefix (task models) is stripped.
        num_layers: ``num_hidden_layers``.

    Returns:
        ``(state, unused)``: our tensors, and the HF names with no place in a bare encoder (pooler, heads).

    Raises:
        ValueError: On a tensor name that is neither mapped nor known to be unused, or an incomplete q/k/v.
    """
    state: dict[str, Tensor] = {}
    unused: list[str] = []
    qkv: dict[tuple[int, str], dict[str, Tensor]] = {}
    for full_name, tensor in hf_state.items():
        name = full_name.removeprefix("bert.")
        name = name.replace("LayerNorm.gamma", "LayerNorm.weight").replace("LayerNorm.beta", "LayerNorm.bias")
        if name.startswith(_UNUSED_PREFIXES) or full_name.startswith("cls."):
            unused.append(full_name)
            continue
        if name.startswith("embeddings."):
            state[name.replace("embeddings.LayerNorm.", "embeddings.norm.")] = tensor
            continue
        match = _LAYER_KEY.match(name)
        if match is None:
            raise ValueError(f"unexpected tensor {full_name!r} in the BERT checkpoint")
        layer, module, kind = int(match.group(1)), match.group(2), match.group(3)
        if layer >= num_layers:
            raise ValueError(f"tensor {full_name!r} names layer {layer} but the config has {num_layers} layers")
        if module in ("attention.self.query", "attention.self.key", "attention.self.value"):
            qkv.setdefault((layer, kind), {})[module.rsplit(".", 1)[1]] = tensor
        elif module in _LAYER_RENAMES:
            state[f"encoder.blocks.{layer}.{_LAYER_RENAMES[module]}.{kind}"] = tensor
        else:
            raise ValueError(f"unexpected tensor {full_name!r} in the BERT checkpoint")
    for (layer, kind), parts in qkv.items():
        if set(parts) != {"query", "key", "value"}:
            raise ValueError(f"layer {layer} has {sorted(parts)} {kind} tensors; expected query, key and value")
        # The fused projection's rows are [q heads | k heads | v heads], exactly HF's three outputs stacked.
        state[f"encoder.blocks.{layer}.attn.qkv.{kind}"] = torch.cat([parts["query"], parts["key"], parts["value"]])
    return state, unused


def load_hf_bert(folder: str | Path, **overrides: Any) -> LionBertModel:
    """Load an HF BERT checkpoint folder as a post-norm :class:`LionBertModel`.

    With the default softmax attention the model computes what ``transformers.BertModel`` computes. With
    ``attn_type="lion"`` every pretrained weight is loaded and only what LION adds (decays, learnable feature
    maps) keeps its initialisation.

    Args:
        folder: The HF checkpoint folder.
        **overrides: LionBertConfig fields to change (attention type, variant, feature map, ...).

    Returns:
        The model in eval mode.

    Raises:
        ValueError: If the folder is not a BERT checkpoint or a weight does not fit.
    """
    folder = Path(folder)
    config = bert_config_from_hf(read_hf_bert_config(folder), **overrides)
    model = LionBertModel(config)
    state, unused = map_hf_bert_state_dict(_read_weights(folder), config.num_hidden_layers)
    result = model.load_state_dict(state, strict=False)
    if result.unexpected_keys:
        raise ValueError(f"tensors of {str(folder)!r} with no place in the model: {result.unexpected_keys}")
    added = [k for k in result.missing_keys if ".attn.decay" in k or ".attn.feature_map." in k]
    missing = [k for k in result.missing_keys if k not in added]
    if missing:
        raise ValueError(f"the checkpoint in {str(folder)!r} lacks {missing}")
    if unused:
        logger.info("not loaded (no use in a bare encoder): %s", unused)
    if added:
        logger.info("newly initialised by conversion: %d tensors (%s, ...)", len(added), added[0])
    return model.eval()
