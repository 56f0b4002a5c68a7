"""BERT-style models: forms agree with padding, padding independence, heads, losses, validation."""

from __future__ import annotations

import pytest
import torch

from lion_attn.models import LionBertModel, LionForMaskedLM, LionForSequenceClassification
from tests.models.helpers import BERT_VOCAB, assert_modes_agree, padded_batch, rel_err


@pytest.mark.parametrize("variant", ["lit", "d", "s"])
@pytest.mark.parametrize(("dtype", "tol"), [(torch.float64, 1e-9), (torch.float32, 1e-4)])
def test_forms_agree_with_padding(variant, dtype, tol, bert_config, device):
    torch.manual_seed(0)
    model = LionForMaskedLM(bert_config(lion_variant=variant)).to(device=device, dtype=dtype).eval()
    ids, mask = (x.to(device) for x in padded_batch(BERT_VOCAB, [13, 9, 11], 13, ["right", "left", "middle"]))
    assert_modes_agree(lambda m: m(ids, mask).logits[mask], model, tol)


@pytest.mark.parametrize("variant", ["lit", "d", "s"])
@pytest.mark.parametrize("mode", ["parallel", "chunk", "recurrent"])
def test_padding_does_not_change_real_tokens(variant, mode, bert_config, device):
    torch.manual_seed(0)
    cfg = bert_config(lion_variant=variant, attn_mode=mode)
    model = LionForSequenceClassification(cfg.replace(classifier_pooling="mean")).double().to(device).eval()
    ids, mask = (x.to(device) for x in padded_batch(BERT_VOCAB, [7, 7, 7], 12, ["right", "left", "middle"], seed=1))
    # The three rows hold the same real tokens with pads in different places.
    real = ids[0][mask[0]]
    for b in range(3):
        ids[b, mask[b]] = real
    out = model(ids, mask)
    alone = model(real[None])
    for b in range(3):
        err = rel_err(out.last_hidden_state[b][mask[b]], alone.last_hidden_state[0])
        assert err < 1e-10, f"row {b}: {err}"
        assert rel_err(out.logits[b], alone.logits[0]) < 1e-10
    # Integer 0/1 masks (HF style) work the same as bool masks.
    assert torch.equal(model(ids, mask.long()).logits, out.logits)


def test_cls_pooling_takes_first_real_token(bert_config):
    model = LionForSequenceClassification(bert_config(lion_variant="d")).double().eval()
    ids, mask = padded_batch(BERT_VOCAB, [6, 6], 9, ["right", "left"], seed=2)
    ids[1, mask[1]] = ids[0, mask[0]]
    out = model(ids, mask)
    assert rel_err(out.logits[1], out.logits[0]) < 1e-10


def test_pair_pooling_concatenates_first_token_segment_means_and_their_comparisons(bert_config):
    model = LionForSequenceClassification(bert_config(lion_variant="s", classifier_pooling="pair")).double().eval()
    hidden_size = model.config.hidden_size
    assert model.classifier.in_features == 5 * hidden_size
    ids, mask = padded_batch(BERT_VOCAB, [9, 6], 9, ["right", "left"], seed=4)
    types = torch.zeros_like(ids)
    types[0, 5:9] = 1  # row 0: A = positions 0-4, B = 5-8
    types[1, 6:9] = 1  # row 1 (left-padded, real 3-8): A = 3-5, B = 6-8
    hidden = model.bert(ids, mask, types).last_hidden_state
    pooled = model.pool(hidden, mask, types)
    for row, first, a, b in ((0, 0, range(0, 5), range(5, 9)), (1, 3, range(3, 6), range(6, 9))):
        u, v = hidden[row, list(a)].mean(0), hidden[row, list(b)].mean(0)
        expected = torch.cat([hidden[row, first], u, v, (u - v).abs(), u * v])
        assert rel_err(pooled[row], expected) < 1e-12
    logits = model(ids, mask, types).logits
    assert logits.shape == (2, model.config.num_labels) and torch.isfinite(logits).all()
    # A single text (no token types): v is zero and u is the mean of the real tokens.
    single = model.pool(hidden, mask, None)
    assert torch.equal(single[:, 2 * hidden_size : 3 * hidden_size], torch.zeros(2, hidden_size, dtype=hidden.dtype))
    assert rel_err(single[0, hidden_size : 2 * hidden_size], hidden[0, :9].mean(0)) < 1e-12


def test_mlm_weights_tied_and_loss_ignores_minus_100(bert_config):
    torch.manual_seed(0)
    model = LionForMaskedLM(bert_config())
    assert model.head.decoder.weight is model.bert.embeddings.word_embeddings.weight
    ids = torch.randint(1, BERT_VOCAB, (2, 10))
    labels = torch.full_like(ids, -100)
    labels[:, 3] = ids[:, 3]
    out = model(ids, labels=labels)
    assert out.logits.shape == (2, 10, BERT_VOCAB)
    assert out.last_hidden_state.shape == (2, 10, 16)
    expected = torch.nn.functional.cross_entropy(out.logits[:, 3], ids[:, 3])
    assert torch.allclose(out.loss, expected)
    assert model(ids).loss is None


def test_sequence_classification_losses(bert_config):
    torch.manual_seed(0)
    model = LionForSequenceClassification(bert_config(num_labels=3))
    ids = torch.randint(1, BERT_VOCAB, (4, 8))
    out = model(ids, labels=torch.tensor([0, 1, 2, 0]))
    assert out.logits.shape == (4, 3)
    assert out.loss is not None and out.loss.ndim == 0
    reg = LionForSequenceClassification(bert_config(num_labels=1))
    out = reg(ids, labels=torch.randn(4))
    assert out.logits.shape == (4, 1) and out.loss.ndim == 0


def test_token_types_and_no_position_embeddings(bert_config):
    model = LionBertModel(bert_config(lion_variant="s", position_embedding_type="none", type_vocab_size=0))
    assert model.embeddings.position_embeddings is None
    assert model.embeddings.token_type_embeddings is None
    ids = torch.randint(1, BERT_VOCAB, (2, 5))
    assert model(ids).last_hidden_state.shape == (2, 5, 16)
    typed = LionBertModel(bert_config()).eval()
    a = typed(ids, token_type_ids=torch.zeros_like(ids)).last_hidden_state
    b = typed(ids, token_type_ids=torch.ones_like(ids)).last_hidden_state
    assert not torch.allclose(a, b)


def test_too_long_sequence_raises(bert_config):
    model = LionBertModel(bert_config())
    with pytest.raises(ValueError, match="max_position_embeddings"):
        model(torch.randint(1, BERT_VOCAB, (1, 40)))


def test_softmax_baseline_honours_padding(bert_config):
    torch.manual_seed(0)
    model = LionForMaskedLM(bert_config(attn_type="softmax")).double().eval()
    ids, mask = padded_batch(BERT_VOCAB, [5, 5], 8, ["right", "left"], seed=3)
    ids[1, mask[1]] = ids[0, mask[0]]
    out = model(ids, mask).logits
    assert rel_err(out[1][mask[1]], out[0][mask[0]]) < 1e-10


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        pytest.param({"hidden_size": 15}, "divisible by num_attention_heads", id="width-not-divisible"),
        pytest.param({"attention": {"variant": "q"}}, "variant", id="unknown-variant"),
        pytest.param({"attention": {"mode": "sequential"}}, "mode", id="unknown-mode"),
        pytest.param({"lion_variant": "q"}, "variant", id="unknown-legacy-lion-variant"),
        pytest.param({"attention_probs_dropout_prob": 0.1}, "attention_probs_dropout_prob", id="lion-attn-dropout"),
        pytest.param(
            {"attention": {"variant": "lit"}, "position_embedding_type": "none"}, "LION-LIT", id="lit-no-positions"
        ),
        pytest.param({"attention": {"two_scan": True}}, "two_scan", id="two-scan-needs-grid"),
        pytest.param({"position_embedding_type": "rotary"}, "position_embedding_type", id="unknown-positions"),
        pytest.param({"hidden_act": "tanhh"}, "hidden_act", id="unknown-activation"),
        pytest.param({"pad_token_id": BERT_VOCAB}, "pad_token_id", id="pad-outside-vocab"),
        pytest.param({"classifier_pooling": "max"}, "classifier_pooling", id="unknown-pooling"),
        pytest.param({"num_hidden_layers": 0}, "num_hidden_layers", id="no-layers"),
    ],
)
def test_bad_config_raises(fields, match, bert_config):
    with pytest.raises(ValueError, match=match):
        bert_config(**fields)


def test_softmax_accepts_attention_dropout(bert_config):
    assert bert_config(attn_type="softmax", attention_probs_dropout_prob=0.1).attention_probs_dropout_prob == 0.1


def test_bad_inputs_raise(bert_config):
    model = LionBertModel(bert_config())
    with pytest.raises(ValueError, match="input_ids"):
        model(torch.randint(1, BERT_VOCAB, (5,)))
    with pytest.raises(ValueError, match="attention_mask"):
        model(torch.randint(1, BERT_VOCAB, (2, 5)), torch.ones(2, 4, dtype=torch.bool))
