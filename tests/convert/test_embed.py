"""``lion embed``: empty lines, documents longer than 512 tokens, JSONL input, every form; position tiling."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from lion_attn.convert.convert import convert_bert
from lion_attn.convert.embed import length_batches, mean_pool, read_documents
from lion_attn.convert.text import load_wordpiece, tiled_position_ids, tokenize
from lion_attn.train.cli import main

from .conftest import sentences


def test_tiled_position_ids() -> None:
    mask = torch.ones(2, 1300, dtype=torch.bool)
    mask[1, 1000:] = False
    pos = tiled_position_ids(mask, 512)
    assert torch.equal(pos[0], torch.arange(1300) % 512)
    assert torch.equal(pos[1, :1000], torch.arange(1000) % 512) and not pos[1, 1000:].any()
    # Within the table nothing changes: the ids are those the model counts itself.
    short = torch.tensor([[True] * 7 + [False] * 3])
    assert torch.equal(tiled_position_ids(short, 512)[0, :7], torch.arange(7))


def test_mean_pool_ignores_pads() -> None:
    hidden = torch.randn(2, 5, 3)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    torch.testing.assert_close(mean_pool(hidden, mask)[0], hidden[0, :3].mean(0))
    torch.testing.assert_close(mean_pool(hidden, mask)[1], hidden[1].mean(0))


def test_length_batches_cover_every_index_once() -> None:
    lengths = [5, 900, 3, 3, 40, 700, 0, 12]
    batches = length_batches(lengths, batch_tokens=1000)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for b in batches:
        assert len(b) == 1 or len(b) * max(lengths[i] for i in b) <= 1000


def test_embed_cli_empty_lines_and_long_documents(tiny_bert: Path, tmp_path: Path) -> None:
    model_dir = tmp_path / "lion"
    model = convert_bert(tiny_bert, "s", model_dir, chunk_size=64)
    long_doc = " ".join(sentences(1, 1400, seed=1)[0].split())
    lines = ["the letter was long .", "", long_doc, "   ", "emma had a walk"]
    (tmp_path / "docs.txt").write_text("\n".join(lines) + "\n")
    tokenizer = load_wordpiece(model_dir)
    assert len(tokenize(tokenizer, [long_doc])[0]) > 1024  # longer than twice the position table
    results = {}
    for mode in ("chunk", "recurrent", "parallel"):
        out = tmp_path / f"{mode}.npy"
        code = main(["embed", "--checkpoint", str(model_dir), "--input", str(tmp_path / "docs.txt"), "--out", str(out),
                     "--mode", mode, "--no-progress"])  # fmt: skip
        assert code == 0
        results[mode] = np.load(out)
    emb = results["chunk"]
    assert emb.shape == (5, 32)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(results["recurrent"], emb, atol=1e-4)
    np.testing.assert_allclose(results["parallel"], emb, atol=1e-4)
    # Empty lines are embedded from [CLS] [SEP], like sentence-transformers does.
    np.testing.assert_allclose(emb[1], emb[3], atol=1e-6)
    # The long document was read whole, with tiled positions: a cut at 512 tokens gives another embedding.
    cut = np.load(tmp_path / "chunk.npy")[2]
    ids = torch.tensor([tokenize(tokenizer, [long_doc])[0]])
    mask = torch.ones_like(ids, dtype=torch.bool)
    model.set_attn_mode("chunk")
    with torch.no_grad():
        hidden = model(ids, mask, position_ids=tiled_position_ids(mask, 512)).last_hidden_state
    whole = torch.nn.functional.normalize(hidden.mean(1), dim=-1)[0].numpy()
    np.testing.assert_allclose(cut, whole, atol=1e-4)
    truncated = tmp_path / "cut.npy"
    assert main(["embed", "--checkpoint", str(model_dir), "--input", str(tmp_path / "docs.txt"), "--out",
                 str(truncated), "--max-tokens", "512", "--no-progress"]) == 0  # fmt: skip
    assert np.abs(np.load(truncated)[2] - cut).max() > 1e-3
    np.testing.assert_allclose(np.load(truncated)[[0, 1, 3, 4]], emb[[0, 1, 3, 4]], atol=1e-5)


def test_embed_jsonl_and_bad_input(tiny_bert: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "docs.jsonl"
    path.write_text("\n".join(json.dumps({"text": t, "id": i}) for i, t in enumerate(sentences(3, 6))) + "\n\n")
    assert read_documents(path) == sentences(3, 6)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"body": "no text field"}\n')
    with pytest.raises(ValueError, match="string 'text' field"):
        read_documents(bad)
    code = main(["embed", "--checkpoint", str(tiny_bert), "--input", str(bad), "--out", str(tmp_path / "x.npy")])
    assert code == 2 and "text" in capsys.readouterr().err
    # An HF BERT folder embeds directly (softmax teacher, cut at its position table).
    out = tmp_path / "teacher.npy"
    args = ["embed", "--checkpoint", str(tiny_bert), "--input", str(path), "--out", str(out), "--no-progress"]
    assert main(args) == 0
    assert np.load(out).shape == (3, 32)
