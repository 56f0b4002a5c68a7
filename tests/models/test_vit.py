"""LionViT: forms agree, pooling options, validation."""

from __future__ import annotations

import pytest
import torch

from lion_attn.models import LionViT, LionViTConfig
from tests.models.helpers import assert_modes_agree


def tiny_vit(**fields) -> LionViT:
    base = dict(img_size=12, patch_size=4, in_chans=1, num_classes=5, embed_dim=16, depth=2, num_heads=2, chunk_size=4)
    return LionViT(LionViTConfig(**{**base, **fields}))


CASES = [
    ("lit", False, True),
    ("lit", False, False),
    ("d", False, True),
    ("s", False, False),
    ("d", True, True),
    ("d", True, False),
    ("s", True, True),
    ("s", True, False),
]


# float32 on every case would double the time for little: the op's own tests cover float32 in depth.
DTYPES = [(torch.float64, 1e-9, CASES), (torch.float32, 1e-4, CASES[::3])]


@pytest.mark.parametrize(
    ("variant", "two_scan", "class_token", "dtype", "tol"),
    [(*case, dtype, tol) for dtype, tol, cases in DTYPES for case in cases],
)
def test_forms_agree(variant, two_scan, class_token, dtype, tol):
    torch.manual_seed(0)
    pool = "token" if class_token else "avg"
    model = tiny_vit(variant=variant, two_scan=two_scan, class_token=class_token, global_pool=pool).to(dtype).eval()
    images = torch.randn(3, 1, 12, 12, dtype=dtype)
    assert_modes_agree(lambda m: m.forward_features(images), model, tol)
    assert_modes_agree(lambda m: m(images), model, tol)


def test_non_square_images_and_rgb():
    model = tiny_vit(img_size=(8, 16), in_chans=3, variant="s", two_scan=True).eval()
    assert model.patch_embed.grid_size == (2, 4)
    out = model(torch.randn(2, 3, 8, 16))
    assert out.shape == (2, 5)
    assert model.forward_features(torch.randn(2, 3, 8, 16)).shape == (2, 1 + 8, 16)


def test_forward_head_pre_logits_and_headless():
    model = tiny_vit().eval()
    feats = model.forward_features(torch.randn(2, 1, 12, 12))
    assert model.forward_head(feats, pre_logits=True).shape == (2, 16)
    headless = tiny_vit(num_classes=0).eval()
    assert headless(torch.randn(2, 1, 12, 12)).shape == (2, 16)


def test_avg_pool_ignores_class_token():
    model = tiny_vit(class_token=True, global_pool="avg").eval()
    feats = torch.randn(2, 10, 16)
    expected = feats[:, 1:].mean(1)
    assert torch.allclose(model.forward_head(feats, pre_logits=True), expected)


def test_softmax_baseline_same_parameter_names_except_decay():
    lion = tiny_vit(variant="lit")
    soft = tiny_vit(attn_type="softmax")
    assert soft.attn_modes == {"softmax"}
    lion_names = {n for n, _ in lion.named_parameters()}
    soft_names = {n for n, _ in soft.named_parameters()}
    assert soft_names == lion_names


def test_wrong_image_size_raises():
    with pytest.raises(ValueError, match="size"):
        tiny_vit()(torch.randn(1, 1, 16, 16))


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"img_size": 13}, "divisible by patch_size"),
        ({"embed_dim": 15}, "divisible by num_heads"),
        ({"variant": "x"}, "variant"),
        ({"attn_mode": "fast"}, "attn_mode"),
        ({"attn_type": "flash"}, "attn_type"),
        ({"class_token": False, "global_pool": "token"}, "class_token"),
        ({"global_pool": "max"}, "global_pool"),
        ({"two_scan": True, "variant": "lit"}, "two_scan"),
        ({"attn_drop_rate": 0.1}, "attn_drop_rate"),
        ({"decay_init": "forever"}, "decay_init"),
        ({"depth": 0}, "depth"),
        ({"drop_path_rate": 1.5}, "drop_path_rate"),
    ],
)
def test_bad_config_raises(fields, match):
    with pytest.raises(ValueError, match=match):
        tiny_vit(**fields)


def test_set_attn_mode_rejects_unknown_and_keeps_state():
    model = tiny_vit()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match="mode"):
        model.set_attn_mode("fast")
    model.set_attn_mode("recurrent")
    assert model.config.attn_mode == "recurrent"
    after = model.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_config_type_checked():
    with pytest.raises(TypeError, match="LionViTConfig"):
        LionViT({"embed_dim": 16})
