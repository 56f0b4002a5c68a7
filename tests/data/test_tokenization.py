from __future__ import annotations

import json

import pytest

from lion_attn.data.tokenization import (
    SPECIAL_TOKENS,
    ByteTokenizer,
    Tokenizer,
    WordPieceTokenizer,
    load_tokenizer,
)

CORPUS = [
    "It is a truth universally acknowledged, that a single man in possession of a good fortune, "
    "must be in want of a wife.",
    "Emma Woodhouse, handsome, clever, and rich, with a comfortable home and happy disposition.",
    "The family of Dashwood had long been settled in Sussex.",
] * 20


def _check_specials(tok):
    assert (tok.pad_id, tok.unk_id, tok.cls_id, tok.sep_id, tok.mask_id) == (0, 1, 2, 3, 4)
    assert tok.special_ids == (0, 1, 2, 3, 4)
    assert isinstance(tok, Tokenizer)


def test_byte_tokenizer_round_trip_unicode():
    tok = ByteTokenizer()
    _check_specials(tok)
    assert tok.vocab_size == 261
    text = "Café — naïve 你好 🙂"
    ids = tok.encode(text)
    assert len(ids) == len(text.encode("utf-8"))
    assert min(ids) >= 5 and max(ids) < tok.vocab_size
    assert tok.decode(ids) == text
    wrapped = tok.encode("ab", add_special_tokens=True)
    assert wrapped == [tok.cls_id, ord("a") + 5, ord("b") + 5, tok.sep_id]
    assert tok.decode(wrapped) == "ab"


def test_byte_tokenizer_save_load(tmp_path):
    ByteTokenizer().save(tmp_path / "tok")
    assert json.loads((tmp_path / "tok" / "lion_tokenizer.json").read_text())["kind"] == "bytes"
    loaded = load_tokenizer(tmp_path / "tok")
    assert isinstance(loaded, ByteTokenizer) and loaded.encode("xyz") == ByteTokenizer().encode("xyz")


@pytest.fixture(scope="module")
def wordpiece():
    return WordPieceTokenizer.train(CORPUS, vocab_size=300, min_frequency=1)


def test_wordpiece_training_and_round_trip(wordpiece):
    _check_specials(wordpiece)
    vocab = wordpiece.backend.get_vocab()
    assert [vocab[t] for t in SPECIAL_TOKENS] == [0, 1, 2, 3, 4]
    assert 50 < wordpiece.vocab_size <= 300
    text = "It is a truth universally acknowledged."
    ids = wordpiece.encode(text)
    assert wordpiece.unk_id not in ids
    assert wordpiece.decode(ids) == text.lower()
    assert wordpiece.decode(wordpiece.encode(text, add_special_tokens=True)) == text.lower()
    assert wordpiece.encode(text, add_special_tokens=True)[0] == wordpiece.cls_id
    assert wordpiece.encode_batch([text, "Emma"]) == [ids, wordpiece.encode("Emma")]


def test_wordpiece_lowercases_and_splits_punctuation(wordpiece):
    assert wordpiece.encode("EMMA,") == wordpiece.encode("emma ,")


def test_wordpiece_save_load(wordpiece, tmp_path):
    wordpiece.save(tmp_path / "wp")
    loaded = load_tokenizer(tmp_path / "wp")
    assert isinstance(loaded, WordPieceTokenizer)
    assert loaded.vocab_size == wordpiece.vocab_size
    text = "A single man of good fortune, zebra!"
    assert loaded.encode(text) == wordpiece.encode(text)


def test_wordpiece_from_vocab_file(tmp_path):
    vocab = [*SPECIAL_TOKENS, "the", "cat", "##s", "sat", "."]
    (tmp_path / "vocab.txt").write_text("\n".join(vocab) + "\n")
    tok = WordPieceTokenizer.from_vocab_file(tmp_path / "vocab.txt")
    assert tok.encode("The cats sat.") == [5, 6, 7, 8, 9]
    assert tok.encode("dog") == [tok.unk_id]


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"lion_tokenizer\.json"):
        load_tokenizer(tmp_path)
    (tmp_path / "lion_tokenizer.json").write_text('{"kind": "sentencepiece"}')
    with pytest.raises(ValueError, match="sentencepiece"):
        load_tokenizer(tmp_path)


def test_train_rejects_tiny_vocab():
    with pytest.raises(ValueError, match="vocab_size"):
        WordPieceTokenizer.train(CORPUS, vocab_size=3)
