"""Text classification data as JSON Lines: one object per line with a text field and a label field."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "label_ids",
    "label_sort_key",
    "read_jsonl_classification",
    "read_jsonl_records",
    "write_jsonl_classification",
]


def label_sort_key(name: str) -> tuple[int, int | str]:
    """Sort key of label names: integer labels numerically ("2" before "10"), then anything else as text."""
    try:
        return (0, int(name))
    except ValueError:
        return (1, name)


def label_ids(labels: list[str], where: list[str], names: Sequence[str] | None) -> tuple[list[int], list[str]]:
    """Label ids and the label set: ``names`` (a training label set every label must be in), or when None the
    sorted set of ``labels``. ``where[i]`` names the place of ``labels[i]`` for the error message."""
    if names is None:
        names = sorted(set(labels), key=label_sort_key)
    index = {name: i for i, name in enumerate(names)}
    for label, place in zip(labels, where, strict=True):
        if label not in index:
            raise ValueError(f"{place}: label {label!r} is not in the training label set {list(names)}")
    return [index[label] for label in labels], list(names)


def read_jsonl_records(path: Path, fields: Sequence[str]) -> Iterator[tuple[dict[str, Any], str]]:
    """The records of a JSONL file, each with its place (``"FILE, line N"``); blank lines are skipped.

    Every record must be an object with ``fields``: all but the last strings (texts), the last a string or an
    integer (the label).

    Raises:
        ValueError: invalid JSON, a line that is not an object, a missing field or a field of the wrong type;
            the message names the file and line.
    """
    with path.open(encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path}, line {line_no}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{where}: invalid JSON ({err.msg} at column {err.colno})") from None
            if not isinstance(record, dict):
                raise ValueError(f"{where}: expected a JSON object, got {type(record).__name__}")
            for field in fields:
                if field not in record:
                    raise ValueError(f"{where}: missing field {field!r} (fields: {sorted(record)})")
            for field in fields[:-1]:
                if not isinstance(record[field], str):
                    raise ValueError(f"{where}: field {field!r} must be a string, got {type(record[field]).__name__}")
            label = record[fields[-1]]
            if isinstance(label, bool) or not isinstance(label, (str, int)):
                raise ValueError(f"{where}: field {fields[-1]!r} must be a string or integer, got {label!r}")
            yield record, where


def read_jsonl_classification(
    path: str | Path,
    text_field: str = "text",
    label_field: str = "label",
    label_names: Sequence[str] | None = None,
) -> tuple[list[str], list[int], list[str]]:
    """Read a JSONL classification file.

    Labels may be strings or integers in the file; they are compared as strings (``3`` and ``"3"`` are the same
    label). Blank lines are ignored.

    Args:
        path: the ``.jsonl`` file.
        text_field: name of the text field (a string).
        label_field: name of the label field (a string or an integer).
        label_names: the label set of the training data. When given (validation or test files), every label
            must be in it and ids index into it. When None (training files), the label set is the sorted set of
            labels found (integers numerically, then strings).

    Returns:
        ``(texts, label_ids, label_names)``.

    Raises:
        ValueError: missing or empty file, invalid JSON, a line that is not an object, a missing field or a
            field of the wrong type, or a label not in ``label_names``; the message names the file and line.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: file not found")
    records = list(read_jsonl_records(path, (text_field, label_field)))
    if not records:
        raise ValueError(f"{path}: file is empty (no JSON lines)")
    texts = [record[text_field] for record, _ in records]
    labels = [str(record[label_field]) for record, _ in records]
    ids, names = label_ids(labels, [where for _, where in records], label_names)
    return texts, ids, names


def write_jsonl_classification(
    path: str | Path,
    examples: Iterable[tuple[str, str | int]],
    text_field: str = "text",
    label_field: str = "label",
) -> int:
    """Write ``(text, label)`` pairs as JSONL (UTF-8, one object per line) atomically.

    Returns:
        The number of lines written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    count = 0
    with tmp.open("w", encoding="utf-8") as handle:
        for text, label in examples:
            handle.write(json.dumps({text_field: text, label_field: label}, ensure_ascii=False) + "\n")
            count += 1
    tmp.replace(path)
    return count
