"""Readers for the GLUE benchmark's task folders exactly as the GLUE distribution ships them (Wang et al., 2019).

Each task folder holds ``train.tsv``, ``dev.tsv`` (MNLI: ``dev_matched.tsv`` and ``dev_mismatched.tsv``) and
``test.tsv`` (MNLI: ``test_matched.tsv``, ``test_mismatched.tsv``). The files are tab-separated with one row per
line; quote characters in them are text, not CSV quoting (a sentence may open a quote it never closes), so rows
are read with ``csv.QUOTE_NONE``. Columns are found by header name where the file has a header and by position
where it has none (CoLA's train and dev files).

Nothing here downloads: GLUE is not available offline, the user points at their copy.
"""

from __future__ import annotations

import csv
import logging
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "GLUE_TASKS",
    "GlueExample",
    "GlueSplit",
    "GlueTaskSpec",
    "glue_eval_files",
    "glue_test_files",
    "read_glue_split",
    "write_glue_predictions",
    "write_glue_tsv",
]

logger = logging.getLogger(__name__)

# Some GLUE rows (QQP, MNLI) hold very long fields; the csv module's default limit (128 KiB) is too small.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


@dataclass(frozen=True)
class GlueTaskSpec:
    """How one GLUE task's files are laid out and scored.

    Attributes:
        name: Task name on the command line (``"sst2"``).
        server_name: Name of the GLUE server's prediction file (``"SST-2"``).
        text_a: Header name of the first text column (or its position in header-less files).
        text_b: Header name of the second text column, or None for single-sentence tasks.
        label: Header name of the label column.
        labels: Label values as written in the files, in id order; empty for regression (STS-B).
        metrics: Official metric names; the first is the main one.
        header: Whether train/dev files have a header row (test files always have one).
        positions: For header-less files: (text_a, text_b, label) column positions.
    """

    name: str
    server_name: str
    text_a: str
    text_b: str | None
    label: str
    labels: tuple[str, ...]
    metrics: tuple[str, ...]
    header: bool = True
    positions: tuple[int, int | None, int] | None = None

    @property
    def is_regression(self) -> bool:
        """STS-B: a similarity score in [0, 5], predicted by one output trained with MSE."""
        return not self.labels


GLUE_TASKS: dict[str, GlueTaskSpec] = {
    spec.name: spec
    for spec in (
        # CoLA train/dev: no header; columns are source, label, original mark, sentence.
        GlueTaskSpec("cola", "CoLA", "sentence", None, "label", ("0", "1"), ("mcc", "accuracy"), False, (3, None, 1)),
        GlueTaskSpec("sst2", "SST-2", "sentence", None, "label", ("0", "1"), ("accuracy",)),
        GlueTaskSpec("mrpc", "MRPC", "#1 String", "#2 String", "Quality", ("0", "1"), ("f1", "accuracy")),
        GlueTaskSpec("qqp", "QQP", "question1", "question2", "is_duplicate", ("0", "1"), ("f1", "accuracy")),
        GlueTaskSpec("stsb", "STS-B", "sentence1", "sentence2", "score", (), ("pearson", "spearman")),
        GlueTaskSpec(
            "mnli",
            "MNLI",
            "sentence1",
            "sentence2",
            "gold_label",
            ("contradiction", "entailment", "neutral"),
            ("accuracy_matched", "accuracy_mismatched"),
        ),
        GlueTaskSpec("qnli", "QNLI", "question", "sentence", "label", ("entailment", "not_entailment"), ("accuracy",)),
        GlueTaskSpec("rte", "RTE", "sentence1", "sentence2", "label", ("entailment", "not_entailment"), ("accuracy",)),
        GlueTaskSpec("wnli", "WNLI", "sentence1", "sentence2", "label", ("0", "1"), ("accuracy",)),
    )
}


@dataclass(frozen=True)
class GlueExample:
    """One row: ``text_b`` is None for single-sentence tasks; ``label`` is a class id, a float score (STS-B)
    or None (test files); ``index`` is the row's id in the file (used in prediction files)."""

    text_a: str
    text_b: str | None
    label: int | float | None
    index: str


@dataclass
class GlueSplit:
    """The rows of one file, the number of bad rows skipped and the file's path."""

    examples: list[GlueExample]
    path: Path
    skipped: int = 0
    skipped_lines: list[int] = field(default_factory=list)


def get_spec(task: str) -> GlueTaskSpec:
    """The spec of ``task`` (e.g. ``"mrpc"``); a clear error for an unknown name."""
    key = task.lower().replace("-", "")
    if key not in GLUE_TASKS:
        raise ValueError(f"unknown GLUE task {task!r}; expected one of {', '.join(GLUE_TASKS)}")
    return GLUE_TASKS[key]


def glue_eval_files(task: str, folder: str | Path) -> dict[str, Path]:
    """The labelled evaluation files of a task folder: ``{"": dev.tsv}``, or for MNLI
    ``{"matched": dev_matched.tsv, "mismatched": dev_mismatched.tsv}``."""
    folder = Path(folder)
    if get_spec(task).name == "mnli":
        return {"matched": folder / "dev_matched.tsv", "mismatched": folder / "dev_mismatched.tsv"}
    return {"": folder / "dev.tsv"}


def glue_test_files(task: str, folder: str | Path) -> dict[str, Path]:
    """The unlabelled test files and the GLUE server's prediction file name of each (``{"MRPC": test.tsv}``)."""
    folder, spec = Path(folder), get_spec(task)
    if spec.name == "mnli":
        return {"MNLI-m": folder / "test_matched.tsv", "MNLI-mm": folder / "test_mismatched.tsv"}
    return {spec.server_name: folder / "test.tsv"}


def _rows(path: Path) -> Iterable[tuple[int, list[str]]]:
    # newline="" hands line endings to the csv module; QUOTE_NONE keeps every quote character as text.
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        for row in reader:
            yield reader.line_num, row


def read_glue_split(task: str, path: str | Path, *, labelled: bool = True, on_error: str = "raise") -> GlueSplit:
    """Read one GLUE file.

    Args:
        task: Task name (``cola``, ``sst2``, ``mrpc``, ``qqp``, ``stsb``, ``mnli``, ``qnli``, ``rte``, ``wnli``).
        path: The ``.tsv`` file.
        labelled: True for train/dev files; False for test files (header with an index column, no labels).
        on_error: ``"raise"``: a bad row (too few columns, an unknown label, a score that is not a number,
            an empty text) raises ValueError naming the file and line; ``"skip"``: it is skipped and counted.

    Returns:
        The split; ``skipped`` counts rows skipped with ``on_error="skip"``.

    Raises:
        ValueError: A missing file or header column, or a bad row with ``on_error="raise"``.
    """
    spec, path = get_spec(task), Path(path)
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    if not path.is_file():
        raise ValueError(f"{path}: GLUE {spec.server_name} file not found")
    rows = _rows(path)
    has_header = spec.header or not labelled
    if has_header:
        first = next(rows, None)
        if first is None:
            raise ValueError(f"{path}: file is empty (expected a header row)")
        header = [name.strip() for name in first[1]]
        wanted = [spec.text_a] + ([spec.text_b] if spec.text_b else []) + ([spec.label] if labelled else [])
        missing = [name for name in wanted if name not in header]
        if missing:
            raise ValueError(f"{path}, line {first[0]}: header lacks column(s) {missing} (header: {header})")
        col_a = header.index(spec.text_a)
        col_b = header.index(spec.text_b) if spec.text_b else None
        # MNLI's dev files hold label1..label5 then gold_label: the last column of that name is the gold one.
        col_label = len(header) - 1 - header[::-1].index(spec.label) if labelled else None
        col_index = header.index("index") if "index" in header else (header.index("id") if "id" in header else None)
    else:
        assert spec.positions is not None
        col_a, col_b, col_label = spec.positions
        col_index = None
    needed = max(c for c in (col_a, col_b, col_label) if c is not None) + 1
    label_ids = {name: i for i, name in enumerate(spec.labels)}
    split = GlueSplit(examples=[], path=path)
    for line_no, row in rows:
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        try:
            if len(row) < needed:
                raise ValueError(f"expected at least {needed} tab-separated columns, found {len(row)}")
            text_a = row[col_a]
            text_b = row[col_b] if col_b is not None else None
            if not text_a.strip() or (text_b is not None and not text_b.strip()):
                raise ValueError("empty text")
            label: int | float | None = None
            if col_label is not None:
                raw = row[col_label].strip()
                if spec.is_regression:
                    try:
                        label = float(raw)
                    except ValueError:
                        raise ValueError(f"score {raw!r} is not a number") from None
                elif raw in label_ids:
                    label = label_ids[raw]
                else:
                    raise ValueError(f"label {raw!r} is not one of {list(spec.labels)}")
        except ValueError as err:
            if on_error == "raise":
                raise ValueError(f"{path}, line {line_no}: {err} (pass --skip-bad-rows to skip such rows)") from None
            split.skipped += 1
            split.skipped_lines.append(line_no)
            continue
        index = row[col_index] if col_index is not None else str(len(split.examples))
        split.examples.append(GlueExample(text_a, text_b, label, index))
    if split.skipped:
        logger.warning("%s: skipped %d bad row(s), first at line %d", path, split.skipped, split.skipped_lines[0])
    if not split.examples:
        raise ValueError(f"{path}: no usable rows")
    return split


def write_glue_tsv(path: str | Path, header: Sequence[str] | None, rows: Iterable[Sequence[object]]) -> int:
    """Write a GLUE-style TSV atomically (tabs, no quoting; tabs and newlines inside fields become spaces).

    Returns:
        The number of data rows written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")

    def clean(value: object) -> str:
        return " ".join(str(value).replace("\t", " ").splitlines())

    count = 0
    with tmp.open("w", encoding="utf-8", newline="\n") as handle:
        if header is not None:
            handle.write("\t".join(header) + "\n")
        for row in rows:
            handle.write("\t".join(clean(v) for v in row) + "\n")
            count += 1
    tmp.replace(path)
    return count


def write_glue_predictions(
    task: str, path: str | Path, indices: Sequence[str], predictions: Sequence[int | float]
) -> Path:
    """Write a GLUE server prediction file: header ``index<TAB>prediction``, then one row per test example with
    the label as the task's files spell it (``entailment``, ``1``; a score for STS-B)."""
    spec = get_spec(task)
    if len(indices) != len(predictions):
        raise ValueError(f"{len(indices)} indices but {len(predictions)} predictions")
    if spec.is_regression:
        values = [f"{min(5.0, max(0.0, float(p))):.3f}" for p in predictions]
    else:
        values = [spec.labels[int(p)] for p in predictions]
    write_glue_tsv(path, ("index", "prediction"), zip(indices, values, strict=True))
    return Path(path)
