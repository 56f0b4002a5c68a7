"""Users' labelled text files for classification or regression: JSON Lines, CSV or TSV, one or two text fields.

The format follows the extension: ``.jsonl`` / ``.json`` (one object per line), ``.csv`` (standard CSV quoting)
or ``.tsv`` / ``.txt`` (tab-separated with a header; quote characters are text, as in GLUE's files). Fields are
named: ``text_fields=("sentence1", "sentence2")`` reads pairs.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from pathlib import Path

__all__ = ["TextExamples", "read_text_examples"]


class TextExamples:
    """Texts (one list per text field) and raw labels (strings, or floats for regression) of a file."""

    def __init__(self, texts: list[list[str]], labels: list[str] | list[float]) -> None:
        self.texts = texts
        self.labels = labels

    def __len__(self) -> int:
        return len(self.labels)


def _records(path: Path) -> Iterator[tuple[int, dict[str, object]]]:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json"):
        with path.open(encoding="utf-8") as handle:
            for line_no, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as err:
                    raise ValueError(
                        f"{path}, line {line_no}: invalid JSON ({err.msg} at column {err.colno})"
                    ) from None
                if not isinstance(record, dict):
                    raise ValueError(f"{path}, line {line_no}: expected a JSON object, got {type(record).__name__}")
                yield line_no, record
        return
    if suffix not in (".csv", ".tsv", ".txt"):
        raise ValueError(f"{path}: unknown format {suffix!r}; expected .jsonl, .csv or .tsv")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        # CSV honours quoting; TSV does not (quote characters are text, as in GLUE's files).
        tsv = {"delimiter": "\t", "quoting": csv.QUOTE_NONE}
        reader = csv.reader(handle) if suffix == ".csv" else csv.reader(handle, **tsv)
        header = next(reader, None)
        if header is None:
            return
        header = [h.strip() for h in header]
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) != len(header):
                raise ValueError(
                    f"{path}, line {reader.line_num}: {len(row)} columns but the header has {len(header)} ({header})"
                )
            yield reader.line_num, dict(zip(header, row, strict=True))


def read_text_examples(
    path: str | Path, text_fields: Sequence[str] = ("text",), label_field: str = "label", regression: bool = False
) -> TextExamples:
    """Read labelled texts.

    Args:
        path: The file (``.jsonl``, ``.csv`` or ``.tsv``).
        text_fields: One field (single texts) or two (pairs).
        label_field: The label's field: a class name or integer, or a number with ``regression``.
        regression: Parse labels as floats.

    Returns:
        The texts and labels (class labels as strings: ``3`` and ``"3"`` are the same class).

    Raises:
        ValueError: A missing or empty file, a missing field, an empty text or a bad label; the message names the
            file and line.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: file not found")
    if len(text_fields) not in (1, 2):
        raise ValueError(f"text_fields must name one or two fields, got {list(text_fields)}")
    texts: list[list[str]] = [[] for _ in text_fields]
    labels: list = []
    for line_no, record in _records(path):
        where = f"{path}, line {line_no}"
        for field in (*text_fields, label_field):
            if field not in record:
                raise ValueError(f"{where}: missing field {field!r} (fields: {sorted(record)})")
        for i, field in enumerate(text_fields):
            value = record[field]
            if not isinstance(value, str):
                raise ValueError(f"{where}: field {field!r} must be a string, got {type(value).__name__}")
            texts[i].append(value)
        label = record[label_field]
        if regression:
            try:
                if isinstance(label, bool):
                    raise ValueError
                labels.append(float(label))  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise ValueError(
                    f"{where}: field {label_field!r} must be a number for regression, got {label!r}"
                ) from None
        else:
            if isinstance(label, bool) or not isinstance(label, (str, int)):
                raise ValueError(f"{where}: field {label_field!r} must be a string or integer, got {label!r}")
            labels.append(str(label))
    if not labels:
        raise ValueError(f"{path}: file holds no examples")
    return TextExamples(texts, labels)
