"""Tiny configs shared by the model tests: each fixture is a factory, ``make(**fields)``, whose fields override
the tiny defaults (flat attention names such as ``variant=`` or ``attn_mode=`` included)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from lion_attn.models import LionAttentionConfig, LionBertConfig, LionLRAConfig, LionViT, LionViTConfig
from tests.devices import device  # noqa: F401  (the shared fixture: tests taking ``device`` run on every device)
from tests.models.helpers import BERT_VOCAB, LRA_VOCAB

# Chunk sizes that do not divide the tiny sequence lengths, so the chunk form's ragged last chunk is exercised.
_BERT_ATTENTION = LionAttentionConfig(chunk_size=4)
_LRA_ATTENTION = LionAttentionConfig(chunk_size=5)
_VIT_ATTENTION = LionAttentionConfig(chunk_size=4)


@pytest.fixture
def bert_config() -> Callable[..., LionBertConfig]:
    """A two-block BERT config of width 16 (vocabulary :data:`BERT_VOCAB`, up to 32 positions)."""

    def make(**fields) -> LionBertConfig:
        base = dict(
            vocab_size=BERT_VOCAB,
            hidden_size=16,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=32,
            max_position_embeddings=32,
            hidden_dropout_prob=0.0,
            attention=_BERT_ATTENTION,
        )
        return LionBertConfig(**{**base, **fields})

    return make


@pytest.fixture
def lra_config() -> Callable[..., LionLRAConfig]:
    """A two-block LRA config of width 16 (vocabulary :data:`LRA_VOCAB`, up to 24 tokens, 3 classes)."""

    def make(**fields) -> LionLRAConfig:
        base = dict(
            vocab_size=LRA_VOCAB,
            max_len=24,
            embed_dim=16,
            depth=2,
            num_heads=2,
            num_classes=3,
            attention=_LRA_ATTENTION,
        )
        return LionLRAConfig(**{**base, **fields})

    return make


@pytest.fixture
def vit_model() -> Callable[..., LionViT]:
    """A two-block ViT of width 16 on 12x12 greyscale images (3x3 patches of 4 pixels, 5 classes)."""

    def make(**fields) -> LionViT:
        base = dict(
            img_size=12,
            patch_size=4,
            in_chans=1,
            num_classes=5,
            embed_dim=16,
            depth=2,
            num_heads=2,
            attention=_VIT_ATTENTION,
        )
        return LionViT(LionViTConfig(**{**base, **fields}))

    return make
