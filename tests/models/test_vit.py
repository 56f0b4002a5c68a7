"""LionViT: forms agree, pooling options, validation."""

from __future__ import annotations

import pytest
import torch

from lion_attn.models import LionViT
from tests.models.helpers import assert_modes_agree

F64, F32 = (torch.float64, 1e-9), (torch.float32, 1e-4)

# (variant, two_scan, class_token, dtype, tol). float32 only on a few cases: it would double the time for little,
# since the op's own tests cover float32 in depth.
FORM_CASES = (
    pytest.param("lit", False, True, *F64, id="lit-cls-f64"),
    pytest.param("lit", False, False, *F64, id="lit-avg-f64"),
    pytest.param("d", False, True, *F64, id="d-cls-f64"),
    pytest.param("s", False, False, *F64, id="s-avg-f64"),
    pytest.param("d", True, True, *F64, id="d-two-scan-cls-f64"),
    pytest.param("d", True, False, *F64, id="d-two-scan-avg-f64"),
    pytest.param("s", True, True, *F64, id="s-two-scan-cls-f64"),
    pytest.param("s", True, False, *F64, id="s-two-scan-avg-f64"),
    pytest.param("lit", False, True, *F32, id="lit-cls-f32"),
    pytest.param("s", False, False, *F32, id="s-avg-f32"),
    pytest.param("s", True, True, *F32, id="s-two-scan-cls-f32"),
)


@pytest.mark.parametrize(("variant", "two_scan", "class_token", "dtype", "tol"), FORM_CASES)
def test_forms_agree(variant, two_scan, class_token, dtype, tol, vit_model, device):
    torch.manual_seed(0)
    pool = "token" if class_token else "avg"
    model = vit_model(variant=variant, two_scan=two_scan, class_token=class_token, global_pool=pool)
    model = model.to(device=device, dtype=dtype).eval()
    images = torch.randn(3, 1, 12, 12, dtype=dtype).to(device)
    assert_modes_agree(lambda m: m.forward_features(images), model, tol)
    assert_modes_agree(lambda m: m(images), model, tol)


def test_non_square_images_and_rgb(vit_model):
    model = vit_model(img_size=(8, 16), in_chans=3, variant="s", two_scan=True).eval()
    assert model.patch_embed.grid_size == (2, 4)
    out = model(torch.randn(2, 3, 8, 16))
    assert out.shape == (2, 5)
    assert model.forward_features(torch.randn(2, 3, 8, 16)).shape == (2, 1 + 8, 16)


def test_forward_head_pre_logits_and_headless(vit_model):
    model = vit_model().eval()
    feats = model.forward_features(torch.randn(2, 1, 12, 12))
    assert model.forward_head(feats, pre_logits=True).shape == (2, 16)
    headless = vit_model(num_classes=0).eval()
    assert headless(torch.randn(2, 1, 12, 12)).shape == (2, 16)


def test_avg_pool_ignores_class_token(vit_model):
    model = vit_model(class_token=True, global_pool="avg").eval()
    feats = torch.randn(2, 10, 16)
    expected = feats[:, 1:].mean(1)
    assert torch.allclose(model.forward_head(feats, pre_logits=True), expected)


def test_softmax_baseline_same_parameter_names_except_decay(vit_model):
    lion = vit_model(variant="lit")
    soft = vit_model(attn_type="softmax")
    assert soft.attn_modes == {"softmax"}
    lion_names = {n for n, _ in lion.named_parameters()}
    soft_names = {n for n, _ in soft.named_parameters()}
    assert soft_names == lion_names


def test_wrong_image_size_raises(vit_model):
    with pytest.raises(ValueError, match="size"):
        vit_model()(torch.randn(1, 1, 16, 16))


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        pytest.param({"img_size": 13}, "divisible by patch_size", id="image-not-divisible"),
        pytest.param({"embed_dim": 15}, "divisible by num_heads", id="width-not-divisible"),
        pytest.param({"attention": {"variant": "x"}}, "variant", id="unknown-variant"),
        pytest.param({"attention": {"mode": "fast"}}, "mode", id="unknown-mode"),
        pytest.param({"attention": {"kind": "flash"}}, "kind", id="unknown-kind"),
        pytest.param({"attn_type": "flash"}, "kind", id="unknown-legacy-attn-type"),
        pytest.param({"class_token": False, "global_pool": "token"}, "class_token", id="token-pool-without-token"),
        pytest.param({"global_pool": "max"}, "global_pool", id="unknown-pool"),
        pytest.param({"attention": {"two_scan": True, "variant": "lit"}}, "two_scan", id="two-scan-without-decay"),
        pytest.param({"attn_drop_rate": 0.1}, "attn_drop_rate", id="lion-attn-dropout"),
        pytest.param({"attention": {"decay_init": "forever"}}, "decay_init", id="unknown-decay-init"),
        pytest.param({"attention": {"chunk_size": 0}}, "chunk_size", id="zero-chunk"),
        pytest.param({"depth": 0}, "depth", id="no-blocks"),
        pytest.param({"drop_path_rate": 1.5}, "drop_path_rate", id="drop-path-above-1"),
    ],
)
def test_bad_config_raises(fields, match, vit_model):
    with pytest.raises(ValueError, match=match):
        vit_model(**fields)


def test_set_attn_mode_rejects_unknown_and_keeps_state(vit_model):
    model = vit_model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match="mode"):
        model.set_attn_mode("fast")
    model.set_attn_mode("recurrent")
    assert model.config.attention.mode == "recurrent"
    after = model.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_config_type_checked():
    with pytest.raises(TypeError, match="LionViTConfig"):
        LionViT({"embed_dim": 16})
