from __future__ import annotations

import gzip
import logging
from collections import Counter

import pytest

import lion_attn.data.austen as austen_mod
from lion_attn.data.austen import (
    AUSTEN_NOVELS,
    austen_passages,
    consecutive_passages,
    extract_janeaustenr_deb,
    load_austen,
    prose_words,
)
from lion_attn.data.austen import read_janeaustenr_rdata as read_rdata


def test_extraction_from_deb(austen_full):
    assert list(austen_full) == list(AUSTEN_NOVELS)
    words = {slug: len(text.split()) for slug, text in austen_full.items()}
    # About 717k words in total (shared/data.md); Mansfield Park is the longest novel, Northanger Abbey the shortest.
    assert 650_000 < sum(words.values()) < 800_000
    assert max(words, key=words.get) == "mansfield-park" and min(words, key=words.get) == "northanger-abbey"
    assert austen_full["pride-and-prejudice"].startswith("PRIDE AND PREJUDICE")
    assert "It is a truth universally acknowledged" in austen_full["pride-and-prejudice"]
    assert "Emma Woodhouse, handsome, clever, and rich" in austen_full["emma"]


def test_pure_python_extraction_matches_dpkg(janeaustenr_deb, austen_full, tmp_path, monkeypatch):
    monkeypatch.setattr(austen_mod.shutil, "which", lambda name: None)
    rdata_dir = extract_janeaustenr_deb(janeaustenr_deb, tmp_path)
    assert read_rdata(rdata_dir)["persuasion"] == austen_full["persuasion"]


def test_extract_rejects_non_deb(tmp_path, monkeypatch):
    fake = tmp_path / "fake.deb"
    fake.write_bytes(b"not a package")
    monkeypatch.setattr(austen_mod.shutil, "which", lambda name: None)
    with pytest.raises(ValueError, match="not a Debian package"):
        extract_janeaustenr_deb(fake, tmp_path / "out")


def test_missing_database(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"Rdata\.rdx"):
        read_rdata(tmp_path)


def test_load_from_root_txt_and_gz(tmp_path):
    (tmp_path / "austen").mkdir()
    (tmp_path / "austen" / "emma.txt").write_text("Emma text", encoding="utf-8")
    (tmp_path / "austen" / "zzz.txt.gz").write_bytes(gzip.compress(b"other"))
    (tmp_path / "austen" / "persuasion.txt").write_text("Persuasion text", encoding="utf-8")
    texts = load_austen(tmp_path)
    assert list(texts) == ["emma", "persuasion", "zzz"]
    assert texts["zzz"] == "other"


def test_explicit_root_without_texts_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"\*\.txt"):
        load_austen(tmp_path)


def test_sample_fallback_warns(monkeypatch, tmp_path, caplog):
    monkeypatch.setattr(austen_mod, "SYSTEM_JANEAUSTENR_DIR", tmp_path / "absent")
    with caplog.at_level(logging.WARNING, logger="lion_attn.data.austen"):
        texts = load_austen()
    assert "SAMPLE" in caplog.text
    assert list(texts) == list(AUSTEN_NOVELS)
    assert all(30_000 < len(text) <= 40_000 for text in texts.values())


def test_sample_is_an_excerpt_of_the_real_text(monkeypatch, tmp_path, austen_full):
    monkeypatch.setattr(austen_mod, "SYSTEM_JANEAUSTENR_DIR", tmp_path / "absent")
    for slug, excerpt in load_austen().items():
        assert excerpt in austen_full[slug]


def _toy_texts() -> dict[str, str]:
    return {
        "a": "TITLE A\n\nCHAPTER I\n" + " ".join(f"a{i}" for i in range(1000)),
        "b": "CHAPTER 1\n" + "\n".join(f"b{i} b{i}x" for i in range(300)),
    }


def test_passages_lengths_labels_and_headings():
    train, val = austen_passages(_toy_texts(), words_per_passage=50, seed=3, val_fraction=0.2)
    assert len(train) + len(val) == 1000 // 50 + 600 // 50
    for text, label in train + val:
        words = text.split()
        assert len(words) == 50
        assert all(w[0] == label for w in words)
        assert "CHAPTER" not in text and "TITLE" not in text
    assert Counter(label for _, label in val) == {"a": 4, "b": 2}


def test_passages_split_is_deterministic_and_disjoint():
    first = austen_passages(_toy_texts(), words_per_passage=20, seed=7)
    again = austen_passages(_toy_texts(), words_per_passage=20, seed=7)
    other = austen_passages(_toy_texts(), words_per_passage=20, seed=8)
    assert first == again
    assert first != other
    train, val = first
    assert not {t for t, _ in train} & {t for t, _ in val}


def test_passages_cap_per_label():
    train, val = austen_passages(_toy_texts(), words_per_passage=10, seed=0, max_passages_per_label=10)
    assert Counter(label for _, label in train + val) == {"a": 10, "b": 10}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"words_per_passage": 0}, "words_per_passage"), ({"val_fraction": 1.0}, "val_fraction")],
)
def test_passages_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        austen_passages(_toy_texts(), **kwargs)


def test_passages_text_too_short():
    with pytest.raises(ValueError, match="'short'"):
        austen_passages({"short": "only three words"}, words_per_passage=10)


def test_prose_words_drop_headings_and_passages_are_consecutive():
    text = "CHAPTER I\n\nIt is a truth universally\nacknowledged, that a single\n\nVOLUME II\nman in possession"
    words = prose_words(text)
    opening = ["It", "is", "a", "truth", "universally", "acknowledged,"]
    assert words == [*opening, "that", "a", "single", "man", "in", "possession"]
    assert consecutive_passages(text, 4) == [words[0:4], words[4:8], words[8:12]]
    assert consecutive_passages(text, 5) == [words[0:5], words[5:10]]  # the remainder (2 words) is dropped
    assert consecutive_passages("CHAPTER I", 1) == []
