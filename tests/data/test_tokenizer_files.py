"""Pair encoding against a literal reference, and the saved tokenizer as transformers reads it."""

from __future__ import annotations

import json
import random

import pytest

from lion_attn.data.tokenization import (
    ByteTokenizer,
    WordPieceTokenizer,
    encode_pair,
    load_tokenizer,
    resolve_tokenizer,
)

CORPUS = ["Emma Woodhouse, handsome, clever, and rich.", "Mr. Knightley was a sensible man of about seven-and-thirty."]


def _reference_pair(a: list[int], b: list[int], max_length: int, cls: int, sep: int) -> tuple[list[int], list[int]]:
    # Hugging Face's "longest_first": drop one token at a time from the longer list (from b on ties).
    a, b = list(a), list(b)
    while len(a) + len(b) > max_length - 3:
        if len(a) > len(b):
            a.pop()
        else:
            b.pop()
    return [cls, *a, sep, *b, sep], [0] * (len(a) + 2) + [1] * (len(b) + 1)


@pytest.fixture(scope="module")
def wordpiece():
    return WordPieceTokenizer.train(CORPUS * 30, vocab_size=120)


def test_encode_pair_matches_longest_first_reference():
    tok = ByteTokenizer()
    rng = random.Random(0)
    for _ in range(300):
        a = "".join(rng.choice("abc ") for _ in range(rng.randint(0, 30)))
        b = "".join(rng.choice("xyz ") for _ in range(rng.randint(0, 30)))
        n = rng.randint(3, 40)
        assert encode_pair(tok, a, b, n) == _reference_pair(tok.encode(a), tok.encode(b), n, tok.cls_id, tok.sep_id)
    ids, types = encode_pair(tok, "hello", None, 4)
    assert ids == [tok.cls_id, *tok.encode("he"), tok.sep_id] and types == [0, 0, 0, 0]
    with pytest.raises(ValueError, match="max_length"):
        encode_pair(tok, "a", "b", 2)


@pytest.mark.parametrize("kind", ["bytes", "wordpiece"])
def test_saved_tokenizer_opens_in_transformers_with_the_same_ids(tmp_path, wordpiece, kind):
    transformers = pytest.importorskip("transformers")
    tok = ByteTokenizer() if kind == "bytes" else wordpiece
    tok.save(tmp_path, model_max_length=64)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "lion_tokenizer.json"):
        assert (tmp_path / name).is_file()
    specials = json.loads((tmp_path / "special_tokens_map.json").read_text())
    assert set(specials.values()) == {"[CLS]", "[SEP]", "[PAD]", "[MASK]", "[UNK]"}
    hf = transformers.AutoTokenizer.from_pretrained(tmp_path)
    assert hf.model_max_length == 64
    assert (hf.cls_token_id, hf.sep_token_id, hf.pad_token_id, hf.mask_token_id, hf.unk_token_id) == (2, 3, 0, 4, 1)
    for a, b in [("Café naïve — Emma!", None), ("Mr. Knightley was sensible.", "Emma Woodhouse, clever")]:
        ids, types = encode_pair(tok, a, b, 64)
        got = hf(a, b) if b is not None else hf(a)
        assert got["input_ids"] == ids and got["token_type_ids"] == types
    masked = hf("Emma [MASK] rich")["input_ids"]
    assert masked.count(tok.mask_id) == 1
    assert isinstance(load_tokenizer(tmp_path), type(tok))


def test_resolve_tokenizer_sources(tmp_path, wordpiece):
    assert isinstance(resolve_tokenizer("bytes"), ByteTokenizer)
    assert resolve_tokenizer("wordpiece") is None
    wordpiece.save(tmp_path / "saved")
    from_json = resolve_tokenizer(str(tmp_path / "saved" / "tokenizer.json"))
    assert from_json.encode("Emma is clever") == wordpiece.encode("Emma is clever")
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "emma", "is", "clever"]) + "\n")
    from_vocab = resolve_tokenizer(str(vocab))
    assert from_vocab.encode("Emma is clever") == [5, 6, 7] and from_vocab.encode("Emma is rich")[-1] == 1
    assert isinstance(resolve_tokenizer(str(tmp_path / "saved")), WordPieceTokenizer)
    with pytest.raises(ValueError, match="expected 'bytes', 'wordpiece'"):
        resolve_tokenizer(str(tmp_path / "missing"))
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(ValueError, match="not a valid tokenizers JSON"):
        resolve_tokenizer(str(bad))
