"""LRA classifiers: forms agree with padding, pooling, the two-tower model, validation."""

from __future__ import annotations

import pytest
import torch

from lion_attn.models import LionLRAClassifier, LionLRAConfig, LionLRADualClassifier
from tests.models.helpers import assert_modes_agree, padded_batch, rel_err

VOCAB = 20


def tiny_config(**fields) -> LionLRAConfig:
    base = dict(vocab_size=VOCAB, max_len=24, embed_dim=16, depth=2, num_heads=2, num_classes=3, chunk_size=5)
    return LionLRAConfig(**{**base, **fields})


@pytest.mark.parametrize("variant", ["lit", "d", "s"])
@pytest.mark.parametrize("pooling", ["mean", "cls"])
@pytest.mark.parametrize(("dtype", "tol"), [(torch.float64, 1e-9), (torch.float32, 1e-4)])
def test_forms_agree_with_padding(variant, pooling, dtype, tol):
    torch.manual_seed(0)
    model = LionLRAClassifier(tiny_config(variant=variant, pooling=pooling)).to(dtype).eval()
    ids, mask = padded_batch(VOCAB, [17, 11, 14], 17, ["right", "left", "middle"])
    assert_modes_agree(lambda m: m(ids, mask), model, tol)


@pytest.mark.parametrize(("dtype", "tol"), [(torch.float64, 1e-9), (torch.float32, 1e-4)])
def test_dual_forms_agree(dtype, tol):
    torch.manual_seed(0)
    model = LionLRADualClassifier(tiny_config(variant="s", dual=True, num_classes=2)).to(dtype).eval()
    ids1, mask1 = padded_batch(VOCAB, [10, 7], 10, ["right", "left"], seed=1)
    ids2, mask2 = padded_batch(VOCAB, [9, 12], 12, ["middle", "right"], seed=2)
    assert_modes_agree(lambda m: m(ids1, ids2, mask1, mask2), model, tol)


@pytest.mark.parametrize("pooling", ["mean", "cls"])
@pytest.mark.parametrize("mode", ["parallel", "chunk", "recurrent"])
def test_padding_does_not_change_logits(pooling, mode):
    torch.manual_seed(0)
    model = LionLRAClassifier(tiny_config(variant="s", pooling=pooling, attn_mode=mode)).double().eval()
    ids, mask = padded_batch(VOCAB, [8, 8, 8], 14, ["right", "left", "middle"], seed=4)
    real = ids[0][mask[0]]
    for b in range(3):
        ids[b, mask[b]] = real
    out = model(ids, mask)
    alone = model(real[None])
    for b in range(3):
        assert rel_err(out[b], alone[0]) < 1e-10


def test_dual_combines_both_towers():
    torch.manual_seed(0)
    model = LionLRADualClassifier(tiny_config(dual=True, num_classes=2)).eval()
    a = torch.randint(1, VOCAB, (2, 9))
    b = torch.randint(1, VOCAB, (2, 6))
    assert model(a, b).shape == (2, 2)
    assert not torch.allclose(model(a, b), model(b, a))


def test_too_long_raises():
    with pytest.raises(ValueError, match="max_len"):
        LionLRAClassifier(tiny_config())(torch.randint(1, VOCAB, (1, 30)))


def test_dual_flag_selects_class():
    with pytest.raises(ValueError, match="LionLRADualClassifier"):
        LionLRAClassifier(tiny_config(dual=True))
    with pytest.raises(ValueError, match="LionLRAClassifier"):
        LionLRADualClassifier(tiny_config())


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"embed_dim": 10, "num_heads": 4}, "divisible by num_heads"),
        ({"variant": "e"}, "variant"),
        ({"attn_mode": "rnn"}, "attn_mode"),
        ({"pooling": "max"}, "pooling"),
        ({"task": "cifar"}, "task"),
        ({"variant": "lit", "pos_embed": False}, "LION-LIT"),
        ({"max_len": 0}, "max_len"),
    ],
)
def test_bad_config_raises(fields, match):
    with pytest.raises(ValueError, match=match):
        tiny_config(**fields)
