"""Byte-level documents for the Long Range Arena's Text and Retrieval tasks (Tay et al., ICLR 2021), from users' files.

LRA classifies IMDb reviews and matches ACL citation pairs byte by byte, up to 4,096 bytes per document; neither
data set is available offline here, so these readers take the user's own files:

- Text: JSONL (one object per line with ``text`` and ``label``) or CSV with a header naming ``text`` and ``label``.
- Retrieval: JSONL with ``text1``, ``text2`` and ``label``.

Labels may be strings or integers and are compared as strings. Every bad row (invalid JSON, a missing field, a
field of the wrong type, an unknown label) raises a ValueError naming the file and the line.
Bytes become token ids ``byte + BYTE_OFFSET`` so that id 0 stays the padding id of the LRA models.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lion_attn.data.jsonl import label_ids, read_jsonl_records

__all__ = ["BYTE_OFFSET", "BYTE_VOCAB_SIZE", "encode_bytes", "read_lra_pairs", "read_lra_text"]

#: Token id of byte ``b`` is ``b + BYTE_OFFSET``; ids below it are specials (0 = padding).
BYTE_OFFSET = 4
#: Vocabulary of the byte-level LRA models: 256 bytes and the specials.
BYTE_VOCAB_SIZE = 256 + BYTE_OFFSET


def encode_bytes(text: str, max_bytes: int = 4096) -> list[int]:
    """UTF-8 bytes of ``text``, truncated to ``max_bytes``, as token ids (``byte + BYTE_OFFSET``)."""
    if max_bytes < 1:
        raise ValueError(f"max_bytes must be >= 1, got {max_bytes}")
    data = np.frombuffer(text.encode("utf-8")[:max_bytes], dtype=np.uint8)
    return (data.astype(np.int64) + BYTE_OFFSET).tolist()


def _read_csv(path: Path, fields: Sequence[str]) -> tuple[list[list[str]], list[str], list[str]]:
    rows, labels, where = [], [], []
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        missing = [f for f in fields if f not in header]
        if missing:
            raise ValueError(f"{path}, line 1: the CSV header {header} lacks the column(s) {missing}")
        start = 2
        for record in reader:
            # A quoted field may span lines: the row's first line is where the previous row ended, plus one.
            place = f"{path}, line {start}"
            start = reader.line_num + 1
            if None in record or any(record[f] is None for f in fields):
                raise ValueError(f"{place}: expected {len(header)} columns ({header}), got a different number")
            label = record[fields[-1]].strip()
            if not label:
                raise ValueError(f"{place}: empty {fields[-1]!r}")
            rows.append([record[f] for f in fields[:-1]])
            labels.append(label)
            where.append(place)
    return rows, labels, where


def _read(path: str | Path, fields: Sequence[str], allow_csv: bool) -> tuple[list[list[str]], list[str], list[str]]:
    path = Path(path).expanduser()
    if not path.is_file():
        raise ValueError(f"{path}: file not found")
    if path.suffix.lower() == ".csv":
        if not allow_csv:
            raise ValueError(f"{path}: expected a JSONL file (one JSON object per line), not CSV")
        rows, labels, where = _read_csv(path, fields)
    else:
        records = list(read_jsonl_records(path, fields))
        rows = [[record[f] for f in fields[:-1]] for record, _ in records]
        labels = [str(record[fields[-1]]) for record, _ in records]
        where = [place for _, place in records]
    if not rows:
        raise ValueError(f"{path}: no examples (the file is empty)")
    return rows, labels, where


def read_lra_text(
    path: str | Path, max_bytes: int = 4096, label_names: Sequence[str] | None = None
) -> tuple[list[list[int]], list[int], list[str]]:
    """Read a Text-task file (JSONL, or CSV by its ``.csv`` suffix) with fields ``text`` and ``label``.

    Args:
        path: The file.
        max_bytes: Keep the first ``max_bytes`` UTF-8 bytes of each document.
        label_names: The training label set (for validation files); None to take the sorted labels found.

    Returns:
        ``(token_ids, label_ids, label_names)``: one list of byte ids per document.

    Raises:
        ValueError: On a missing or empty file or any bad row; the message names the file and line.
    """
    rows, labels, where = _read(path, ("text", "label"), allow_csv=True)
    ids, names = label_ids(labels, where, label_names)
    return [encode_bytes(text, max_bytes) for (text,) in rows], ids, names


def read_lra_pairs(
    path: str | Path, max_bytes: int = 4096, label_names: Sequence[str] | None = None
) -> tuple[list[tuple[list[int], list[int]]], list[int], list[str]]:
    """Read a Retrieval-task JSONL file with fields ``text1``, ``text2`` and ``label``.

    Args:
        path: The file.
        max_bytes: Keep the first ``max_bytes`` UTF-8 bytes of each of the two documents.
        label_names: The training label set (for validation files); None to take the sorted labels found.

    Returns:
        ``(pairs, label_ids, label_names)``: ``pairs[i] = (ids1, ids2)``.

    Raises:
        ValueError: On a missing or empty file or any bad row; the message names the file and line.
    """
    rows, labels, where = _read(path, ("text1", "text2", "label"), allow_csv=False)
    ids, names = label_ids(labels, where, label_names)
    pairs = [(encode_bytes(a, max_bytes), encode_bytes(b, max_bytes)) for a, b in rows]
    return pairs, ids, names
