"""Turn a pretrained softmax BERT encoder into a LION encoder (Afzal et al., NeurIPS 2025, arXiv 2502.16249).

Every pretrained weight is kept: embeddings, the q/k/v and output projections, the MLPs and all LayerNorms. Only
the softmax is replaced, by LION attention with

- a learnable feature map per layer (``"hedgehog"``: identity-initialised projection, then a softmax over the
  features of ``z`` and ``-z``), which distillation trains to reproduce the teacher's attention weights; the fixed
  maps of the paper (``elu1``, ``silu_l2``) can be chosen instead;
- decays (LION-D, LION-S) initialised on RetNet's per-head schedule ``lambda_h = 1 - 2^(-5-h)``
  (``decay_init="long"``): every head starts with a long memory, from about 32 tokens to tens of thousands, so the
  converted model starts close to the teacher's global attention, and distillation sets how much each head forgets.

The output folder is an ordinary model folder (``config.json`` + ``model.safetensors``) with the teacher's
tokenizer and sentence-transformers files next to it, and ``lion_conversion.json`` recording the teacher.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

from lion_attn.convert.bert_checkpoint import load_hf_bert, read_hf_bert_config
from lion_attn.layers import list_decays
from lion_attn.models import LionBertModel

__all__ = ["CONVERSION_FILE", "EXTRA_FILES", "convert_bert", "copy_extra_files"]

logger = logging.getLogger(__name__)

CONVERSION_FILE = "lion_conversion.json"
# Files of a teacher folder that describe the tokenizer and the sentence-transformers pipeline.
EXTRA_FILES = (
    "vocab.txt",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "modules.json",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
    CONVERSION_FILE,
)


def copy_extra_files(src: str | Path, dst: str | Path) -> list[str]:
    """Copy the tokenizer and sentence-transformers files (and module folders such as ``1_Pooling``).

    Returns:
        The names copied.
    """
    src, dst = Path(src), Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    copied = []
    for name in EXTRA_FILES:
        if (src / name).is_file():
            shutil.copy2(src / name, dst / name)
            copied.append(name)
    for sub in sorted(src.iterdir()):
        # sentence-transformers keeps its modules after the transformer in folders named "<index>_<Name>".
        if sub.is_dir() and sub.name.split("_", 1)[0].isdigit():
            shutil.copytree(sub, dst / sub.name, dirs_exist_ok=True)
            copied.append(sub.name)
    return copied


def convert_bert(
    teacher: str | Path,
    variant: str,
    out: str | Path | None = None,
    feature_map: str | None = "hedgehog",
    decay_init: str = "long",
    two_scan: bool = False,
    **overrides: Any,
) -> LionBertModel:
    """Convert an HF BERT checkpoint folder into a LION encoder.

    Args:
        teacher: The HF BERT folder (e.g. all-MiniLM-L6-v2).
        variant: ``"lit"``, ``"d"`` or ``"s"``.
        out: Where to write the converted model folder; ``None`` writes nothing.
        feature_map: ``"hedgehog"`` (learnable, the default), a registered fixed map, or ``None`` for the variant's
            paper default.
        decay_init: Decay initialisation, ``"long"`` (default) or ``"paper"``.
        two_scan: Rejected: the two-scan variant reads a 2-D patch grid, and a text encoder has none.
        **overrides: Further :class:`lion_attn.models.LionBertConfig` fields.

    Returns:
        The converted model (eval mode).

    Raises:
        ValueError: On an unknown variant, ``two_scan=True`` or a teacher that is not a BERT.
    """
    if variant not in list_decays():
        raise ValueError(f"unknown variant {variant!r}; expected one of {list_decays()}")
    if two_scan:
        raise ValueError(
            "two_scan reads a 2-D grid of image patches in two snake orders; a BERT encoder reads a 1-D token "
            "sequence, for which the single bidirectional scan of LION already sees every token"
        )
    teacher = Path(teacher)
    read_hf_bert_config(teacher)
    model = load_hf_bert(
        teacher,
        attn_type="lion",
        lion_variant=variant,
        feature_map=feature_map,
        decay_init=decay_init,
        attn_mode="parallel",
        **overrides,
    )
    if out is not None:
        out = Path(out)
        model.save_pretrained(out)
        copy_extra_files(teacher, out)
        record = {"teacher": str(teacher.resolve()), "variant": variant, "feature_map": feature_map}
        (out / CONVERSION_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        logger.info("wrote the LION-%s encoder converted from %s to %s", variant.upper(), teacher, out)
    return model
