"""LRA classifiers: forms agree with padding, pooling, the two-tower model, validation."""

from __future__ import annotations

import pytest
import torch

from lion_attn.models import LionLRAClassifier, LionLRADualClassifier
from tests.models.helpers import LRA_VOCAB, assert_modes_agree, padded_batch, rel_err


@pytest.mark.parametrize("variant", ["lit", "d", "s"])
@pytest.mark.parametrize("pooling", ["mean", "cls"])
@pytest.mark.parametrize(("dtype", "tol"), [(torch.float64, 1e-9), (torch.float32, 1e-4)])
def test_forms_agree_with_padding(variant, pooling, dtype, tol, lra_config):
    torch.manual_seed(0)
    model = LionLRAClassifier(lra_config(variant=variant, pooling=pooling)).to(dtype).eval()
    ids, mask = padded_batch(LRA_VOCAB, [17, 11, 14], 17, ["right", "left", "middle"])
    assert_modes_agree(lambda m: m(ids, mask), model, tol)


@pytest.mark.parametrize(("dtype", "tol"), [(torch.float64, 1e-9), (torch.float32, 1e-4)])
def test_dual_forms_agree(dtype, tol, lra_config):
    torch.manual_seed(0)
    model = LionLRADualClassifier(lra_config(variant="s", dual=True, num_classes=2)).to(dtype).eval()
    ids1, mask1 = padded_batch(LRA_VOCAB, [10, 7], 10, ["right", "left"], seed=1)
    ids2, mask2 = padded_batch(LRA_VOCAB, [9, 12], 12, ["middle", "right"], seed=2)
    assert_modes_agree(lambda m: m(ids1, ids2, mask1, mask2), model, tol)


@pytest.mark.parametrize("pooling", ["mean", "cls"])
@pytest.mark.parametrize("mode", ["parallel", "chunk", "recurrent"])
def test_padding_does_not_change_logits(pooling, mode, lra_config):
    torch.manual_seed(0)
    model = LionLRAClassifier(lra_config(variant="s", pooling=pooling, attn_mode=mode)).double().eval()
    ids, mask = padded_batch(LRA_VOCAB, [8, 8, 8], 14, ["right", "left", "middle"], seed=4)
    real = ids[0][mask[0]]
    for b in range(3):
        ids[b, mask[b]] = real
    out = model(ids, mask)
    alone = model(real[None])
    for b in range(3):
        assert rel_err(out[b], alone[0]) < 1e-10


def test_dual_combines_both_towers(lra_config):
    torch.manual_seed(0)
    model = LionLRADualClassifier(lra_config(dual=True, num_classes=2)).eval()
    a = torch.randint(1, LRA_VOCAB, (2, 9))
    b = torch.randint(1, LRA_VOCAB, (2, 6))
    assert model(a, b).shape == (2, 2)
    assert not torch.allclose(model(a, b), model(b, a))


def test_too_long_raises(lra_config):
    with pytest.raises(ValueError, match="max_len"):
        LionLRAClassifier(lra_config())(torch.randint(1, LRA_VOCAB, (1, 30)))


def test_dual_flag_selects_class(lra_config):
    with pytest.raises(ValueError, match="LionLRADualClassifier"):
        LionLRAClassifier(lra_config(dual=True))
    with pytest.raises(ValueError, match="LionLRAClassifier"):
        LionLRADualClassifier(lra_config())


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        pytest.param({"embed_dim": 10, "num_heads": 4}, "divisible by num_heads", id="width-not-divisible"),
        pytest.param({"attention": {"variant": "e"}}, "variant", id="unknown-variant"),
        pytest.param({"attention": {"mode": "rnn"}}, "mode", id="unknown-mode"),
        pytest.param({"attn_mode": "rnn"}, "mode", id="unknown-legacy-attn-mode"),
        pytest.param({"pooling": "max"}, "pooling", id="unknown-pooling"),
        pytest.param({"task": "cifar"}, "task", id="unknown-task"),
        pytest.param({"attention": {"variant": "lit"}, "pos_embed": False}, "LION-LIT", id="lit-no-positions"),
        pytest.param({"max_len": 0}, "max_len", id="zero-length"),
    ],
)
def test_bad_config_raises(fields, match, lra_config):
    with pytest.raises(ValueError, match=match):
        lra_config(**fields)
