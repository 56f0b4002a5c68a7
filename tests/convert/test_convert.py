"""Conversion keeps every pretrained weight, adds only LION's parameters, and writes an ordinary model folder that
lion-attn, transformers' AutoModel and sentence-transformers all load."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lion_attn.convert.bert_checkpoint import load_hf_bert
from lion_attn.convert.convert import convert_bert
from lion_attn.models import LionBertModel, load_pretrained

from .conftest import sentences


@pytest.mark.parametrize("variant", ["lit", "d", "s"])
def test_conversion_keeps_every_non_attention_weight(tiny_bert: Path, tmp_path: Path, variant: str) -> None:
    teacher = load_hf_bert(tiny_bert)
    student = convert_bert(tiny_bert, variant, tmp_path / "out")
    t_state, s_state = teacher.state_dict(), student.state_dict()
    for name, tensor in t_state.items():
        assert torch.equal(s_state[name], tensor), name
    added = sorted(set(s_state) - set(t_state))
    assert added and all(".attn.feature_map." in n or ".attn.decay." in n for n in added)
    assert any(".attn.decay." in n for n in added) == (variant != "lit")
    reloaded = load_pretrained(tmp_path / "out")
    assert isinstance(reloaded, LionBertModel) and reloaded.config.lion_variant == variant
    for name, tensor in s_state.items():
        assert torch.equal(reloaded.state_dict()[name], tensor), name
    for extra in ("vocab.txt", "modules.json", "1_Pooling/config.json", "lion_conversion.json"):
        assert (tmp_path / "out" / extra).is_file(), extra


@pytest.mark.parametrize("variant", ["lit", "d", "s"])
def test_converted_model_agrees_across_forms(tiny_bert: Path, variant: str) -> None:
    torch.manual_seed(0)
    model = convert_bert(tiny_bert, variant, chunk_size=8).double()
    ids = torch.randint(5, 40, (2, 45))
    mask = torch.ones(2, 45, dtype=torch.bool)
    mask[1, 30:] = False
    outs = {}
    with torch.no_grad():
        for mode in ("parallel", "chunk", "recurrent"):
            model.set_attn_mode(mode)
            outs[mode] = model(ids, mask).last_hidden_state[mask]
    torch.testing.assert_close(outs["chunk"], outs["parallel"], atol=1e-9, rtol=1e-9)
    torch.testing.assert_close(outs["recurrent"], outs["parallel"], atol=1e-9, rtol=1e-9)


def test_bad_conversion_requests(tiny_bert: Path) -> None:
    with pytest.raises(ValueError, match="two_scan"):
        convert_bert(tiny_bert, "s", two_scan=True)
    with pytest.raises(ValueError, match="unknown variant"):
        convert_bert(tiny_bert, "x")


def test_automodel_loads_converted_folder(tiny_bert: Path, tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    from transformers import AutoModel

    import lion_attn.hf  # noqa: F401

    student = convert_bert(tiny_bert, "s", tmp_path)
    auto = AutoModel.from_pretrained(tmp_path).eval()
    ids = torch.randint(5, 40, (2, 11))
    with torch.no_grad():
        torch.testing.assert_close(auto(ids).last_hidden_state, student(ids).last_hidden_state)


def test_sentence_transformers_loads_and_encodes(tiny_bert: Path, tmp_path: Path) -> None:
    pytest.importorskip("sentence_transformers")
    from sentence_transformers import SentenceTransformer

    import lion_attn.hf  # noqa: F401
    from lion_attn.convert.embed import embed_texts
    from lion_attn.convert.text import load_wordpiece

    student = convert_bert(tiny_bert, "d", tmp_path)
    st = SentenceTransformer(str(tmp_path), device="cpu")
    texts = sentences(5, 9)
    got = st.encode(texts, convert_to_numpy=True)
    expected = embed_texts(student, load_wordpiece(tmp_path), texts)
    assert got.shape == (5, 32)
    assert abs(got @ got.T).max() <= 1.0 + 1e-5
    torch.testing.assert_close(torch.from_numpy(got), torch.from_numpy(expected), atol=1e-5, rtol=1e-4)
