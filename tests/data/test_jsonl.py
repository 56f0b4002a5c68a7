from __future__ import annotations

import json

import pytest

from lion_attn.data.jsonl import read_jsonl_classification, write_jsonl_classification


def _write(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_round_trip_and_sorted_labels(tmp_path):
    rows = [("b text", "pos"), ("a text", "neg"), ("ünïcode", "pos")]
    assert write_jsonl_classification(tmp_path / "train.jsonl", rows) == 3
    texts, ids, names = read_jsonl_classification(tmp_path / "train.jsonl")
    assert texts == ["b text", "a text", "ünïcode"]
    assert names == ["neg", "pos"] and ids == [1, 0, 1]


def test_integer_labels_sort_numerically_and_match_strings(tmp_path):
    path = _write(tmp_path / "t.jsonl", [json.dumps({"text": str(i), "label": i}) for i in (10, 2, 1)] + [""])
    texts, ids, names = read_jsonl_classification(path)
    assert names == ["1", "2", "10"] and ids == [2, 1, 0] and texts == ["10", "2", "1"]
    val = _write(tmp_path / "v.jsonl", ['{"text": "x", "label": "2"}'])
    assert read_jsonl_classification(val, label_names=names)[1] == [1]


def test_custom_fields_and_given_label_set(tmp_path):
    path = _write(tmp_path / "v.jsonl", ['{"sentence": "s", "y": "b"}'])
    texts, ids, names = read_jsonl_classification(path, text_field="sentence", label_field="y", label_names=["a", "b"])
    assert (texts, ids, names) == (["s"], [1], ["a", "b"])


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([], "empty"),
        (["", "   "], "empty"),
        (['{"text": "a", "label": "x"}', '{"text": "b", "label"'], "line 2: invalid JSON"),
        (['["text", "label"]'], "line 1: expected a JSON object"),
        (['{"text": "a"}'], "line 1: missing field 'label'"),
        (['{"label": "a"}'], "line 1: missing field 'text'"),
        (['{"text": 3, "label": "a"}'], "'text' must be a string"),
        (['{"text": "a", "label": null}'], "'label' must be a string or integer"),
        (['{"text": "a", "label": true}'], "'label' must be a string or integer"),
    ],
)
def test_errors_name_file_and_line(tmp_path, lines, message):
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(ValueError, match=message) as info:
        read_jsonl_classification(path)
    assert str(path) in str(info.value)


def test_label_not_in_training_set(tmp_path):
    path = _write(tmp_path / "val.jsonl", ['{"text": "a", "label": "pos"}', '{"text": "b", "label": "maybe"}'])
    with pytest.raises(ValueError, match=r"line 2: label 'maybe' is not in the training label set") as info:
        read_jsonl_classification(path, label_names=["neg", "pos"])
    assert str(path) in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(ValueError, match="not found") as info:
        read_jsonl_classification(tmp_path / "absent.jsonl")
    assert "absent.jsonl" in str(info.value)
