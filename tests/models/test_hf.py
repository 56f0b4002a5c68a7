"""The optional transformers adapter: Auto classes load directories written by save_pretrained, and back."""

from __future__ import annotations

import pytest
import torch

transformers = pytest.importorskip("transformers")

# E402: these imports must follow importorskip, so the module is skipped cleanly without transformers.

from lion_attn import hf  # noqa: E402
from lion_attn.models import (  # noqa: E402
    LionAttentionConfig,
    LionBertConfig,
    LionBertModel,
    LionForMaskedLM,
    LionForSequenceClassification,
    load_pretrained,
)

CFG = LionBertConfig(
    vocab_size=40,
    hidden_size=16,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=32,
    max_position_embeddings=16,
    hidden_dropout_prob=0.0,
    num_labels=3,
    attention=LionAttentionConfig(chunk_size=4),
)


def _batch():
    torch.manual_seed(3)
    ids = torch.randint(1, 40, (2, 9))
    mask = torch.ones(2, 9, dtype=torch.long)
    mask[1, :3] = 0
    return ids, mask


@pytest.fixture(scope="module")
def mlm_dir(tmp_path_factory):
    torch.manual_seed(0)
    model = LionForMaskedLM(CFG).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))
    path = tmp_path_factory.mktemp("mlm")
    model.save_pretrained(path)
    return path, model


def test_auto_config(mlm_dir):
    path, _ = mlm_dir
    config = transformers.AutoConfig.from_pretrained(path)
    assert isinstance(config, hf.LionBertHFConfig)
    assert config.num_labels == 3 and config.attention["variant"] == "s" and config.hidden_size == 16
    assert hf.to_lion_config(config) == CFG


def test_auto_masked_lm_gives_identical_outputs(mlm_dir):
    path, model = mlm_dir
    auto = transformers.AutoModelForMaskedLM.from_pretrained(path).eval()
    assert isinstance(auto, hf.LionBertHFForMaskedLM)
    assert auto.head.decoder.weight is auto.bert.embeddings.word_embeddings.weight
    ids, mask = _batch()
    labels = ids.clone()
    expected = model(ids, mask.bool(), labels=labels)
    out = auto(input_ids=ids, attention_mask=mask, labels=labels)
    assert torch.equal(out.logits, expected.logits)
    assert torch.equal(out.loss, expected.loss)
    auto.set_attn_mode("recurrent")
    assert auto.to_lion().attn_modes == {"recurrent"}
    again = auto(input_ids=ids, attention_mask=mask).logits
    assert ((again - expected.logits).abs().max() / expected.logits.abs().max()).item() < 1e-4


def test_auto_classification_and_base_from_mlm_checkpoint(mlm_dir):
    path, model = mlm_dir
    clf = transformers.AutoModelForSequenceClassification.from_pretrained(path).eval()
    assert isinstance(clf, hf.LionBertHFForSequenceClassification)
    assert clf.classifier.out_features == 3
    base = transformers.AutoModel.from_pretrained(path).eval()
    assert isinstance(base, hf.LionBertHFModel)
    ids, mask = _batch()
    expected = model.bert(ids, mask).last_hidden_state
    assert torch.equal(base(input_ids=ids, attention_mask=mask).last_hidden_state, expected)
    assert torch.equal(clf.bert.embeddings.word_embeddings.weight, model.bert.embeddings.word_embeddings.weight)


def test_wrapper_save_loads_back_into_pure_model(mlm_dir, tmp_path):
    path, model = mlm_dir
    auto = transformers.AutoModelForMaskedLM.from_pretrained(path)
    auto.save_pretrained(tmp_path)
    back = LionForMaskedLM.from_pretrained(tmp_path).eval()
    ids, mask = _batch()
    assert torch.equal(back(ids, mask).logits, model(ids, mask).logits)
    assert isinstance(load_pretrained(tmp_path), LionForMaskedLM)


def test_wrappers_share_parameter_names_with_pure_models():
    config = hf.from_lion_config(CFG)
    for wrapper, pure in [
        (hf.LionBertHFModel, LionBertModel),
        (hf.LionBertHFForMaskedLM, LionForMaskedLM),
        (hf.LionBertHFForSequenceClassification, LionForSequenceClassification),
    ]:
        assert set(wrapper(config).state_dict()) == set(pure(CFG).state_dict())
