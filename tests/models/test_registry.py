"""The model registry: names, overrides, errors, and a sweep building every preset at tiny size."""

from __future__ import annotations

import pytest
import torch

from lion_attn.models import (
    LionForMaskedLM,
    LionForSequenceClassification,
    LionLRAClassifier,
    LionLRADualClassifier,
    LionViT,
    create_model,
    get_model_config,
    is_model,
    list_models,
    register_model,
)

TINY = {
    "vit": dict(embed_dim=8, depth=1, num_heads=2, num_classes=3, chunk_size=8),
    "bert": dict(
        vocab_size=32,
        hidden_size=8,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=16,
        max_position_embeddings=16,
        chunk_size=4,
    ),
    "lra": dict(vocab_size=32, max_len=16, embed_dim=8, depth=1, num_heads=2, chunk_size=4),
}


def _family(name: str) -> str:
    return next(f for f in TINY if f"_{f}_" in name or name.startswith(f"softmax_{f}"))


def test_expected_names_present():
    names = set(list_models())
    for v in ("lit", "d", "s", "dnat", "snat"):
        for size in ("tiny", "small", "base"):
            assert f"lion_{v}_vit_{size}_patch16_224" in names
        assert f"lion_{v}_vit_nano_patch4_28" in names
        assert f"lion_{v}_vit_micro_patch4_28" in names
    for v in ("lit", "d", "s"):
        for size in ("tiny", "mini", "small", "base", "large"):
            assert f"lion_{v}_bert_{size}" in names
        for task in ("listops", "image", "text", "retrieval"):
            assert f"lion_{v}_lra_{task}" in names
    for size in ("tiny", "small", "base"):
        assert f"softmax_vit_{size}_patch16_224" in names
    assert {"softmax_bert_base", "softmax_lra_listops", "softmax_lra_retrieval"} <= names
    assert "lion_dnat_bert_base" not in names


def test_list_models_pattern():
    assert list_models("lion_snat_vit_*") == sorted(
        [
            "lion_snat_vit_base_patch16_224",
            "lion_snat_vit_micro_patch4_28",
            "lion_snat_vit_mini_patch7_28",
            "lion_snat_vit_nano_patch4_28",
            "lion_snat_vit_small_patch16_224",
            "lion_snat_vit_tiny_patch16_224",
        ]
    )
    assert list_models("no_such_*") == []


def test_preset_sizes_and_variants():
    cfg = get_model_config("lion_snat_vit_small_patch16_224")
    assert (cfg.embed_dim, cfg.depth, cfg.num_heads) == (384, 12, 6)
    assert (cfg.attention.variant, cfg.attention.two_scan) == ("s", True)
    cfg = get_model_config("lion_d_bert_large")
    assert (cfg.hidden_size, cfg.num_hidden_layers, cfg.num_attention_heads, cfg.intermediate_size) == (
        1024,
        24,
        16,
        4096,
    )
    assert cfg.attention.variant == "d"
    assert get_model_config("softmax_bert_base").attention.kind == "softmax"
    assert get_model_config("lion_lit_lra_retrieval").dual
    nano = get_model_config("lion_d_vit_nano_patch4_28")
    assert (nano.img_size, nano.in_chans, nano.num_classes) == (28, 1, 10)


@pytest.mark.parametrize("name", list_models())
def test_every_model_builds_and_runs_tiny(name):
    torch.manual_seed(0)
    family = _family(name)
    model = create_model(name, **TINY[family]).eval()
    with torch.no_grad():
        if family == "vit":
            assert isinstance(model, LionViT)
            cfg = model.config
            h, w = cfg.grid_size
            images = torch.randn(2, cfg.in_chans, h * cfg.patch_size, w * cfg.patch_size)
            # Full-resolution presets at 224 px are cheap at width 8 and depth 1.
            assert model(images).shape == (2, 3)
        elif family == "bert":
            assert isinstance(model, LionForMaskedLM)
            ids = torch.randint(1, 32, (2, 10))
            assert model(ids).logits.shape == (2, 10, 32)
        elif isinstance(model, LionLRADualClassifier):
            ids = torch.randint(1, 32, (2, 10))
            assert model(ids, ids).shape == (2, model.config.num_classes)
        else:
            assert isinstance(model, LionLRAClassifier)
            ids = torch.randint(1, 32, (2, 10))
            assert model(ids).shape == (2, model.config.num_classes)
    expected = {"softmax"} if name.startswith("softmax_") else {"parallel"}
    assert model.attn_modes == expected


def test_overrides_apply_and_validate():
    model = create_model("lion_s_vit_nano_patch4_28", depth=2, attn_mode="chunk")
    assert model.config.depth == 2 and len(model.encoder.blocks) == 2
    assert model.attn_modes == {"chunk"}
    clf = LionForSequenceClassification(get_model_config("lion_s_bert_tiny", num_labels=4))
    assert clf.classifier.out_features == 4
    with pytest.raises(ValueError, match="unknown LionViTConfig field"):
        create_model("lion_s_vit_nano_patch4_28", hidden_size=10)
    with pytest.raises(ValueError, match="divisible"):
        create_model("lion_s_vit_nano_patch4_28", embed_dim=30)


def test_unknown_name_lists_close_matches():
    with pytest.raises(ValueError, match="lion_s_vit_tiny_patch16_224"):
        create_model("lion_s_vit_tiny_patch16_244")
    with pytest.raises(ValueError, match="unknown model"):
        create_model("resnet50")


def test_register_model_decorator():
    @register_model
    def _test_only_model(**overrides):
        return create_model("lion_s_lra_listops", **overrides)

    assert is_model("_test_only_model")
    assert isinstance(create_model("_test_only_model", **TINY["lra"]), LionLRAClassifier)
    with pytest.raises(ValueError, match="already registered"):
        register_model(_test_only_model)
    with pytest.raises(ValueError, match="no preset config"):
        get_model_config("_test_only_model")
