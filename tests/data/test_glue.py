"""GLUE readers on the distribution's layouts: every task's columns, headers, label spellings and quotes."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from lion_attn.data.glue import (
    GLUE_TASKS,
    glue_eval_files,
    glue_test_files,
    read_glue_split,
    write_glue_predictions,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))
from glue_fixtures import ALL_TASKS, QUOTED, write_task


def _raw_rows(path: Path) -> list[list[str]]:
    # The literal reference: split lines on tabs, nothing else.
    return [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()]


# (text_a column, text_b column, label column) in the fixtures' train/dev files; header row or not.
LAYOUT = {
    "cola": (3, None, 1, False),
    "sst2": (0, None, 1, True),
    "mrpc": (3, 4, 0, True),
    "qqp": (3, 4, 5, True),
    "stsb": (7, 8, 9, True),
    "mnli": (8, 9, -1, True),
    "qnli": (1, 2, 3, True),
    "rte": (1, 2, 3, True),
    "wnli": (1, 2, 3, True),
}


@pytest.mark.parametrize("task", ALL_TASKS)
def test_every_task_reads_its_layout(tmp_path, task):
    folder = write_task(tmp_path, task)
    spec = GLUE_TASKS[task]
    ca, cb, cl, header = LAYOUT[task]
    for path in [folder / "train.tsv", *glue_eval_files(task, folder).values()]:
        split = read_glue_split(task, path)
        raw = _raw_rows(path)[1 if header else 0 :]
        assert len(split.examples) == len(raw) and split.skipped == 0
        for ex, row in zip(split.examples, raw, strict=True):
            assert ex.text_a == row[ca]
            assert ex.text_b == (row[cb] if cb is not None else None)
            if spec.is_regression:
                assert ex.label == pytest.approx(float(row[cl]))
            else:
                assert spec.labels[ex.label] == row[cl]
    # Quote characters are text: the unbalanced opening quote survives and does not swallow the next rows.
    texts = [ex.text_a for ex in read_glue_split(task, folder / "train.tsv").examples]
    assert any(t.startswith(QUOTED[0]) for t in texts)
    assert any('"nonsense"' in t for t in texts)
    for name, path in glue_test_files(task, folder).items():
        test = read_glue_split(task, path, labelled=False)
        assert all(ex.label is None for ex in test.examples)
        assert [ex.index for ex in test.examples] == [r[0] for r in _raw_rows(path)[1:]]
        assert name.startswith(spec.server_name)


def test_mnli_reads_gold_label_not_label1(tmp_path):
    folder = write_task(tmp_path, "mnli")
    split = read_glue_split("mnli", folder / "dev_matched.tsv")
    raw = _raw_rows(folder / "dev_matched.tsv")[1:]
    labels = GLUE_TASKS["mnli"].labels
    assert [labels[ex.label] for ex in split.examples] == [r[-1] for r in raw]
    assert any(r[10] != r[-1] for r in raw)  # label1 differs from gold somewhere, so the test can fail


def test_bad_rows_raise_with_file_and_line_or_are_skipped(tmp_path):
    folder = write_task(tmp_path, "rte")
    path = folder / "train.tsv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[3] = "7\tonly two columns"
    lines[5] = lines[5].rsplit("\t", 1)[0] + "\tmaybe"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"train\.tsv, line 4: expected at least 4 tab-separated columns"):
        read_glue_split("rte", path)
    split = read_glue_split("rte", path, on_error="skip")
    assert split.skipped == 2 and split.skipped_lines == [4, 6]
    assert len(split.examples) == len(lines) - 1 - 2
    stsb = write_task(tmp_path, "stsb") / "dev.tsv"
    stsb.write_text(stsb.read_text().rstrip("\n") + "\n1\tg\tf\ty\t1\ts\ts\ta\tb\thigh\n")
    with pytest.raises(ValueError, match=r"dev\.tsv, line \d+: score 'high' is not a number"):
        read_glue_split("stsb", stsb)


def test_missing_header_column_and_missing_file(tmp_path):
    folder = write_task(tmp_path, "qnli")
    path = folder / "dev.tsv"
    path.write_text(path.read_text().replace("question", "query", 1))
    with pytest.raises(ValueError, match=r"header lacks column\(s\) \['question'\]"):
        read_glue_split("qnli", path)
    with pytest.raises(ValueError, match="not found"):
        read_glue_split("qnli", folder / "nope.tsv")
    with pytest.raises(ValueError, match="unknown GLUE task"):
        read_glue_split("squad", path)


@pytest.mark.parametrize(
    ("task", "preds", "expected"),
    [
        ("rte", [1, 0], ["not_entailment", "entailment"]),
        ("mrpc", [1, 0], ["1", "0"]),
        ("stsb", [5.7, 2.12345], ["5.000", "2.123"]),
    ],
)
def test_prediction_files(tmp_path, task, preds, expected):
    path = write_glue_predictions(task, tmp_path / "X.tsv", ["0", "1"], preds)
    assert _raw_rows(path) == [["index", "prediction"], ["0", expected[0]], ["1", expected[1]]]
