"""The nested attention config: validated once, shared by the three families, and the older flat spellings (in code
and in checkpoints written before it) still accepted."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from lion_attn.models import (
    LionAttentionConfig,
    LionBertConfig,
    LionForMaskedLM,
    LionLRAConfig,
    LionViT,
    LionViTConfig,
    create_model,
    get_model_config,
    load_pretrained,
)
from lion_attn.models.tensors import unique_state_dict

FIXTURES = Path(__file__).parent / "fixtures"

# The attention each committed legacy config.json describes, spelled the new way.
LEGACY_BERT_ATTENTION = LionAttentionConfig(
    variant="d", mode="chunk", chunk_size=3, decay_init="long", qkv_bias=False, eps=1e-5
)
LEGACY_VIT_ATTENTION = LionAttentionConfig(variant="s", two_scan=True, mode="recurrent", chunk_size=2)


@pytest.mark.parametrize(
    ("config_class", "flat", "nested"),
    [
        pytest.param(LionViTConfig, {"variant": "d", "two_scan": True}, {"variant": "d", "two_scan": True}, id="vit"),
        pytest.param(
            LionBertConfig,
            {"lion_variant": "lit", "attn_mode": "chunk"},
            {"variant": "lit", "mode": "chunk"},
            id="bert",
        ),
        pytest.param(
            LionLRAConfig,
            {"attn_type": "softmax", "attn_eps": 1e-4, "qkv_bias": False, "decay_init": "long"},
            {"kind": "softmax", "eps": 1e-4, "qkv_bias": False, "decay_init": "long"},
            id="lra",
        ),
    ],
)
def test_flat_keywords_build_the_same_config_as_nested(config_class, flat, nested):
    assert config_class(**flat) == config_class(attention=LionAttentionConfig(**nested))
    assert config_class().replace(**flat) == config_class(attention=LionAttentionConfig(**nested))
    assert config_class.from_dict(flat) == config_class(attention=LionAttentionConfig(**nested))


def test_flat_names_apply_on_top_of_the_given_attention():
    config = LionViTConfig(attention=LionAttentionConfig(variant="d", chunk_size=8), attn_mode="chunk")
    assert config.attention == LionAttentionConfig(variant="d", chunk_size=8, mode="chunk")
    assert config.replace(chunk_size=16).attention.chunk_size == 16
    assert config.replace(chunk_size=16).attention.variant == "d"


def test_flat_names_read_and_write_the_nested_attention():
    config = LionBertConfig(lion_variant="d")
    assert (config.lion_variant, config.variant, config.attn_mode) == ("d", "d", "parallel")
    config.attn_mode = "recurrent"
    assert config.attention.mode == "recurrent"
    with pytest.raises(ValueError, match="mode"):
        config.attn_mode = "sideways"
    with pytest.raises(AttributeError, match="no_such_field"):
        _ = config.no_such_field


def test_conflicting_flat_names_raise():
    with pytest.raises(ValueError, match="conflicting"):
        LionBertConfig(lion_variant="d", variant="s")


def test_unknown_names_still_raise():
    with pytest.raises(ValueError, match="unknown LionLRAConfig field"):
        LionLRAConfig.from_dict({"attn_modus": "chunk"})
    with pytest.raises(ValueError, match="unknown LionAttentionConfig field"):
        LionLRAConfig(attention={"modus": "chunk"})


def test_presets_accept_flat_overrides_and_never_share_their_attention():
    model = create_model("lion_d_vit_nano_patch4_28", attn_mode="chunk", depth=1)
    assert model.config.attention == LionAttentionConfig(variant="d", mode="chunk")
    model.set_attn_mode("recurrent")
    # The preset (and every other model built from it) keeps its own form.
    assert get_model_config("lion_d_vit_nano_patch4_28").attention.mode == "parallel"
    assert create_model("lion_d_vit_nano_patch4_28", depth=1).config.attention.mode == "parallel"


def _legacy_checkpoint(name: str, model: torch.nn.Module, directory: Path) -> Path:
    """A checkpoint directory holding the committed pre-nesting config.json and weights made here."""
    out = directory / name
    out.mkdir()
    shutil.copy(FIXTURES / name / "config.json", out / "config.json")
    tensors, _ = unique_state_dict(model)
    save_file(tensors, str(out / "model.safetensors"), metadata={"format": "pt"})
    return out


def test_bert_checkpoint_with_flat_fields_and_lion_variant_loads(tmp_path):
    torch.manual_seed(0)
    expected = LionBertConfig(
        vocab_size=30,
        hidden_size=8,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=16,
        max_position_embeddings=12,
        attention=LEGACY_BERT_ATTENTION,
    )
    reference = LionForMaskedLM(expected).eval()
    loaded = load_pretrained(_legacy_checkpoint("legacy_bert", reference, tmp_path)).eval()
    assert isinstance(loaded, LionForMaskedLM)
    assert loaded.config == expected
    assert loaded.attn_modes == {"chunk"}
    ids = torch.randint(1, 30, (2, 7))
    assert torch.equal(loaded(ids).logits, reference(ids).logits)


def test_vit_checkpoint_with_flat_fields_loads(tmp_path):
    torch.manual_seed(0)
    expected = LionViTConfig(
        img_size=8, patch_size=4, in_chans=1, num_classes=3, embed_dim=8, depth=1, num_heads=2,
        attention=LEGACY_VIT_ATTENTION,
    )  # fmt: skip
    reference = LionViT(expected).eval()
    loaded = LionViT.from_pretrained(_legacy_checkpoint("legacy_vit", reference, tmp_path)).eval()
    assert loaded.config == expected
    assert loaded.attn_modes == {"recurrent"}
    images = torch.randn(2, 1, 8, 8)
    assert torch.equal(loaded(images), reference(images))


def test_saved_config_nests_the_attention(tmp_path):
    model = LionForMaskedLM(LionBertConfig(hidden_size=8, num_attention_heads=2, num_hidden_layers=1, vocab_size=20))
    model.save_pretrained(tmp_path)
    loaded = load_pretrained(tmp_path)
    assert loaded.config == model.config
    assert "lion_variant" not in (tmp_path / "config.json").read_text()
