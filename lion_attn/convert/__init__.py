"""Turn a pretrained softmax BERT encoder into a LION encoder (Afzal et al., NeurIPS 2025, arXiv 2502.16249),
distil it from its teacher, and embed documents of any length with it.

- :func:`load_hf_bert`: an HF ``BertModel`` folder as a post-norm :class:`lion_attn.models.LionBertModel`.
- :func:`convert_bert`: the same encoder with LION attention (``lion convert``).
- :func:`distill`: attention transfer from the teacher (``lion distill``).
- :func:`embed_texts`: L2-normalised mean-pooled embeddings, any length in chunk or recurrent form (``lion embed``).

The guide is ``docs/convert.md``.
"""

from __future__ import annotations

from lion_attn.convert.bert_checkpoint import load_hf_bert
from lion_attn.convert.convert import convert_bert
from lion_attn.convert.distill import DistillConfig, distill
from lion_attn.convert.embed import embed_texts

__all__ = ["DistillConfig", "convert_bert", "distill", "embed_texts", "load_hf_bert"]
