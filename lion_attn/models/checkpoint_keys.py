"""Names in ``config.json`` that describe the checkpoint rather than the model, and how to read its family."""

from __future__ import annotations

from typing import Any

__all__ = ["HF_KEYS", "META_KEYS", "family_of"]

# Keys lion-attn writes next to the config fields.
META_KEYS: tuple[str, ...] = ("family", "model_type", "architectures", "lion_attn_version", "torch_dtype", "dtype")

# Keys transformers' config base class writes (the optional lion_attn.hf adapter saves through it).
HF_KEYS: tuple[str, ...] = (
    "transformers_version",
    "id2label",
    "label2id",
    "tie_word_embeddings",
    "output_hidden_states",
    "return_dict",
    "chunk_size_feed_forward",
    "is_encoder_decoder",
    "problem_type",
    "_name_or_path",
    "use_cache",
)


def family_of(data: dict[str, Any]) -> str | None:
    """The model family (``"vit"``, ``"bert"``, ``"lra"``) a ``config.json`` describes, or None if it names none."""
    family = data.get("family")
    if family is None and isinstance(data.get("model_type"), str) and data["model_type"].startswith("lion_"):
        # Directories saved through transformers carry model_type only.
        family = data["model_type"][len("lion_") :]
    return family if isinstance(family, str) else None
