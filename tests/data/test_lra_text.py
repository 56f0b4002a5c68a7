"""Byte-level Text and Retrieval readers: encoding, label sets, and bad rows named by file and line."""

from __future__ import annotations

import json

import pytest

from lion_attn.data.lra_text import BYTE_OFFSET, encode_bytes, read_lra_pairs, read_lra_text


def write(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_encode_bytes_offsets_and_truncates():
    assert encode_bytes("Ab") == [ord("A") + BYTE_OFFSET, ord("b") + BYTE_OFFSET]
    assert encode_bytes("é") == [0xC3 + BYTE_OFFSET, 0xA9 + BYTE_OFFSET]
    assert len(encode_bytes("x" * 5000)) == 4096
    assert encode_bytes("hello", max_bytes=2) == encode_bytes("he")
    with pytest.raises(ValueError, match="max_bytes"):
        encode_bytes("x", max_bytes=0)


def test_jsonl_and_csv_give_the_same_documents(tmp_path):
    rows = [("great film", "pos"), ("dull, long", "neg"), ('said "no"', "neg")]
    jsonl = write(tmp_path / "a.jsonl", [json.dumps({"text": t, "label": y}) for t, y in rows])
    csv_lines = ["label,text", *(f'{y},"{t.replace(chr(34), chr(34) * 2)}"' for t, y in rows)]
    csv = write(tmp_path / "a.csv", csv_lines)
    a = read_lra_text(jsonl, max_bytes=8)
    b = read_lra_text(csv, max_bytes=8)
    assert a == b
    seqs, labels, names = a
    assert names == ["neg", "pos"] and labels == [1, 0, 0]
    assert seqs[0] == encode_bytes("great fi")


def test_validation_labels_use_the_training_set(tmp_path):
    val = write(tmp_path / "v.jsonl", [json.dumps({"text": "x", "label": 1}), json.dumps({"text": "y", "label": 0})])
    _, labels, names = read_lra_text(val, label_names=["0", "1"])
    assert labels == [1, 0] and names == ["0", "1"]
    with pytest.raises(ValueError, match=r"v\.jsonl, line 2: label '0' is not in the training label set"):
        read_lra_text(val, label_names=["1"])


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "invalid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"text": "a"}', "missing field 'label'"),
        ('{"text": 3, "label": 1}', "field 'text' must be a string"),
        ('{"text": "a", "label": [1]}', "field 'label' must be a string or integer"),
        ('{"text": "a", "label": true}', "field 'label' must be a string or integer"),
    ],
)
def test_bad_text_rows_name_file_and_line(tmp_path, line, message):
    path = write(tmp_path / "bad.jsonl", [json.dumps({"text": "fine", "label": 0}), "", line])
    with pytest.raises(ValueError, match=rf"bad\.jsonl, line 3: {message}"):
        read_lra_text(path)


def test_bad_csv_rows_name_file_and_line(tmp_path):
    with pytest.raises(ValueError, match=r"h\.csv, line 1: the CSV header \['text', 'y'\] lacks"):
        read_lra_text(write(tmp_path / "h.csv", ["text,y", "a,1"]))
    with pytest.raises(ValueError, match=r"c\.csv, line 3: expected 2 columns"):
        read_lra_text(write(tmp_path / "c.csv", ["text,label", "a,1", "b"]))
    with pytest.raises(ValueError, match=r"e\.csv, line 2: empty 'label'"):
        read_lra_text(write(tmp_path / "e.csv", ["text,label", "a,"]))


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(ValueError, match="file not found"):
        read_lra_text(tmp_path / "nope.jsonl")
    with pytest.raises(ValueError, match="no examples"):
        read_lra_text(write(tmp_path / "empty.jsonl", [""]))


def test_pairs(tmp_path):
    rows = [{"text1": "abc", "text2": "abd", "label": 1}, {"text1": "x", "text2": "yz", "label": 0}]
    path = write(tmp_path / "p.jsonl", [json.dumps(r) for r in rows])
    pairs, labels, names = read_lra_pairs(path, max_bytes=2)
    assert pairs[0] == (encode_bytes("ab"), encode_bytes("ab")) and pairs[1] == (encode_bytes("x"), encode_bytes("yz"))
    assert labels == [1, 0] and names == ["0", "1"]
    bad = write(tmp_path / "q.jsonl", [json.dumps(rows[0]), json.dumps({"text1": "a", "label": 1})])
    with pytest.raises(ValueError, match=r"q\.jsonl, line 2: missing field 'text2'"):
        read_lra_pairs(bad)
    with pytest.raises(ValueError, match="expected a JSONL file"):
        read_lra_pairs(write(tmp_path / "p.csv", ["text1,text2,label"]))
