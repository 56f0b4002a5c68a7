"""Text classification data as JSON Lines: one object per line with a text field and a label field."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

__all__ = ["read_jsonl_classification", "write_jsonl_classification"]


def _label_sort_key(name: str) -> tuple[int, int | str]:
    # Integer labels sort numerically ("2" before "10"); anything else sorts as text after them.
    try:
        return (0, int(name))
    except ValueError:
        return (1, name)


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
    texts: list[str] = []
    labels: list[str] = []
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
            for field in (text_field, label_field):
                if field not in record:
                    raise ValueError(f"{where}: missing field {field!r} (fields: {sorted(record)})")
            text, label = record[text_field], record[label_field]
            if not isinstance(text, str):
                raise ValueError(f"{where}: field {text_field!r} must be a string, got {type(text).__name__}")
            if isinstance(label, bool) or not isinstance(label, (str, int)):
                raise ValueError(f"{where}: field {label_field!r} must be a string or integer, got {label!r}")
            label = str(label)
            if label_names is not None and label not in label_names:
                raise ValueError(f"{where}: label {label!r} is not in the training label set {list(label_names)}")
            texts.append(text)
            labels.append(label)
    if not texts:
        raise ValueError(f"{path}: file is empty (no JSON lines)")
    names = list(label_names) if label_names is not None else sorted(set(labels), key=_label_sort_key)
    index = {name: i for i, name in enumerate(names)}
    return texts, [index[label] for label in labels], names


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
