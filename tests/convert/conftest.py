"""A tiny random BERT written by transformers, with a WordPiece vocabulary and sentence-transformers files, as a
teacher folder for the conversion tests (no download, a second to build)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

WORDS = (
    "the",
    "a",
    "of",
    "and",
    "to",
    "in",
    "was",
    "her",
    "she",
    "he",
    "it",
    "had",
    "for",
    "that",
    "not",
    "be",
    "as",
    "with",
    "his",
    "you",
    "i",
    "is",
    "at",
    "but",
    "all",
    "have",
    "mr",
    "mrs",
    "miss",
    "elizabeth",
    "darcy",
    "emma",
    "anne",
    "house",
    "time",
    "long",
    "letter",
    "walk",
    "very",
    "much",
)


def write_tiny_bert(folder: Path, max_position_embeddings: int = 512, seed: int = 0) -> Path:
    """Write a random transformers BertModel, its vocabulary and a mean-pooling sentence-transformers pipeline."""
    transformers = pytest.importorskip("transformers")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, ".", ","]
    config = transformers.BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=48,
        max_position_embeddings=max_position_embeddings,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    torch.manual_seed(seed)
    model = transformers.BertModel(config).eval()
    with torch.no_grad():
        # Random LayerNorm affine parameters, so that a misplaced norm cannot hide behind ones and zeros.
        for name, p in model.named_parameters():
            if "LayerNorm" in name:
                p.add_(0.1 * torch.randn_like(p))
    model.save_pretrained(folder)
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tok_cfg = {"tokenizer_class": "BertTokenizer", "do_lower_case": True, "model_max_length": max_position_embeddings}
    (folder / "tokenizer_config.json").write_text(json.dumps(tok_cfg))
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ]
    (folder / "modules.json").write_text(json.dumps(modules))
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 64, "do_lower_case": False}))
    (folder / "1_Pooling").mkdir(exist_ok=True)
    pooling = {"word_embedding_dimension": 32, "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True}
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    return folder


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


def sentences(n: int, words: int, seed: int = 0) -> list[str]:
    """``n`` random sentences of ``words`` words from the tiny vocabulary."""
    g = torch.Generator().manual_seed(seed)
    return [" ".join(WORDS[i] for i in torch.randint(len(WORDS), (words,), generator=g).tolist()) for _ in range(n)]
