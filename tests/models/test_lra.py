"""LRA classifiers: forms agree with padding, pooling, the two-tower model, validation."""

from __future__ import annotations

import math

import pytest
import torch

from lion_attn.models import LionLRAClassifier, LionLRADualClassifier
from tests.models.helpers import LRA_VOCAB, assert_modes_agree, padded_batch, rel_err


@pytest.mark.parametrize("variant", ["lit", "d", "s"])
@pytest.mark.parametrize("pooling", ["mean", "cls"])
@pytest.mark.parametrize(("dtype", "tol"), [(torch.float64, 1e-9), (torch.float32, 1e-4)])
def test_forms_agree_with_padding(variant, pooling, dtype, tol, lra_config, device):
    torch.manual_seed(0)
    model = LionLRAClassifier(lra_config(variant=variant, pooling=pooling)).to(device=device, dtype=dtype).eval()
    ids, mask = (x.to(device) for x in padded_batch(LRA_VOCAB, [17, 11, 14], 17, ["right", "left", "middle"]))
    assert_modes_agree(lambda m: m(ids, mask), model, tol)


@pytest.mark.parametrize(("dtype", "tol"), [(torch.float64, 1e-9), (torch.float32, 1e-4)])
def test_dual_forms_agree(dtype, tol, lra_config, device):
    torch.manual_seed(0)
    model = LionLRADualClassifier(lra_config(variant="s", dual=True, num_classes=2)).to(device=device, dtype=dtype)
    model = model.eval()
    ids1, mask1 = (x.to(device) for x in padded_batch(LRA_VOCAB, [10, 7], 10, ["right", "left"], seed=1))
    ids2, mask2 = (x.to(device) for x in padded_batch(LRA_VOCAB, [9, 12], 12, ["middle", "right"], seed=2))
    assert_modes_agree(lambda m: m(ids1, ids2, mask1, mask2), model, tol)


@pytest.mark.parametrize("pooling", ["mean", "cls"])
@pytest.mark.parametrize("mode", ["parallel", "chunk", "recurrent"])
def test_padding_does_not_change_logits(pooling, mode, lra_config, device):
    torch.manual_seed(0)
    model = LionLRAClassifier(lra_config(variant="s", pooling=pooling, attn_mode=mode)).double().to(device).eval()
    ids, mask = (x.to(device) for x in padded_batch(LRA_VOCAB, [8, 8, 8], 14, ["right", "left", "middle"], seed=4))
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


def test_timescale_decays_formula():
    from lion_attn.layers.decays import timescale_decays

    # Timescales 1, 10, 100, 1000 tokens for 4 heads up to 1000: decays exp(-1 / tau).
    expected = torch.tensor([math.exp(-1.0), math.exp(-0.1), math.exp(-0.01), math.exp(-0.001)], dtype=torch.float64)
    assert torch.allclose(timescale_decays(4, 1000.0), expected, rtol=1e-12, atol=0)
    assert torch.allclose(timescale_decays(1, 50.0), torch.tensor([math.exp(-1 / 50)], dtype=torch.float64))
    with pytest.raises(ValueError, match="max_timescale"):
        timescale_decays(2, 0.5)


@pytest.mark.parametrize("variant", ["d", "s"])
def test_timescale_init_spans_the_sequence(variant, lra_config):
    """Each layer's decays start at exp(-1 / tau_h), tau_h log-uniform from 1 to max_len."""
    torch.manual_seed(0)
    heads, max_len = 4, 512
    config = lra_config(variant=variant, decay_init="timescale", num_heads=heads, embed_dim=16, max_len=max_len)
    model = LionLRAClassifier(config)
    taus = torch.tensor([max_len ** (h / (heads - 1)) for h in range(heads)], dtype=torch.float64)
    expected = torch.exp(-1.0 / taus)
    for block in model.encoder.encoder.blocks:
        decay = block.attn.decay
        logits = decay.a if variant == "d" else decay.bias
        assert torch.allclose(torch.sigmoid(logits.double()), expected, rtol=1e-6, atol=0)
    # The longest head keeps exp(-1) of a token max_len tokens away: it spans the whole sequence.
    assert expected[-1] ** max_len == pytest.approx(math.exp(-1.0), rel=1e-6)


def test_lra_presets():
    from lion_attn.models import get_model_config, list_models

    names = list_models("lion_*_lra_*")
    assert {"lion_s_lra_pathx", "lion_d_lra_pathx", "lion_lit_lra_pathx", "lion_s_lra_pathfinder"} <= set(names)
    assert "softmax_lra_pathx" in list_models("softmax_lra_*")
    for name in names:
        assert get_model_config(name).attention.decay_init == "timescale"
        assert get_model_config(name).pooling == "mean"
    sizes = {t: get_model_config(f"lion_s_lra_{t}") for t in ("listops", "text", "retrieval", "image", "pathfinder")}
    assert {t: c.max_len for t, c in sizes.items()} == {
        "listops": 2048,
        "text": 4096,
        "retrieval": 4096,
        "image": 1024,
        "pathfinder": 1024,
    }
    assert get_model_config("lion_s_lra_pathx").max_len == 16384
    assert get_model_config("lion_s_lra_retrieval").dual
