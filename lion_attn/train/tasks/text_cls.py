"""Text classification or regression fine-tuning on users' JSONL / CSV / TSV files, single texts or pairs
(``--text-fields sentence1,sentence2``), from an ``mlm`` checkpoint or from scratch, with WordPiece or byte-level
input. The default data is "which Austen novel is this passage from"."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any, ClassVar

from lion_attn.train.config import TrainConfig
from lion_attn.train.tasks.base import add_limit_flags
from lion_attn.train.tasks.image import subset
from lion_attn.train.tasks.text_common import BERT_TASK_DEFAULTS, TEXT_ARG_DEFAULTS, check_seq_len
from lion_attn.train.tasks.text_task import TextTask, add_tokenizer_flags

logger = logging.getLogger(__name__)


class TextClsTask(TextTask):
    """``lion train text-cls --train FILE --val FILE [--text-fields a,b] [--regression] [--init MLM_CHECKPOINT]``."""

    name = "text-cls"
    metric = "accuracy"
    defaults: ClassVar[dict[str, Any]] = {**BERT_TASK_DEFAULTS}
    arg_defaults: ClassVar[dict[str, Any]] = {
        **TEXT_ARG_DEFAULTS,
        "train": "",
        "val": "",
        "text_fields": "text",
        "label_field": "label",
        "regression": False,
        "tokenizer": "wordpiece",
        "init": "",
        "seq_len": 256,
        "label_names": [],
    }

    @staticmethod
    def add_arguments(p: argparse.ArgumentParser) -> None:
        s = argparse.SUPPRESS
        p.add_argument(
            "--train", default=s, help="training .jsonl/.csv/.tsv (default: the Austen 'which novel' passages)"
        )
        p.add_argument("--val", default=s, help="validation file (labels must be in the training label set)")
        p.add_argument("--text-fields", default=s, help="the text field, or two comma-separated fields for pairs")
        p.add_argument("--label-field", default=s, help="the label field")
        p.add_argument("--regression", action="store_true", default=s, help="numeric labels: one output, MSE")
        add_tokenizer_flags(p, "the training texts", "truncate inputs to this many tokens")
        add_limit_flags(p, "N training examples", "N evaluation examples")

    def __init__(self, config: TrainConfig, for_eval: bool = False) -> None:
        from lion_attn.data.jsonl import label_sort_key
        from lion_attn.data.text_table import read_text_examples

        a = self.bind_args(config)
        fields = [f.strip() for f in str(a["text_fields"]).split(",") if f.strip()]
        if len(fields) not in (1, 2):
            raise ValueError(f"--text-fields must name one field or two comma-separated ones, got {a['text_fields']!r}")
        check_seq_len(a["seq_len"])
        if bool(a["train"]) != bool(a["val"]):
            raise ValueError("give both --train and --val files (or neither, for the default data)")
        self.regression = bool(a["regression"])
        val_path = self.eval_source(for_eval, a["val"])
        train_texts: list[list[str]] = [[] for _ in fields]
        if a["train"]:
            for flag, path in (("--train", a["train"]), ("--val", val_path)):
                if not Path(path).is_file():
                    raise ValueError(f"{flag} {path} does not exist or is not a file")
            read = lambda p: read_text_examples(p, fields, a["label_field"], self.regression)  # noqa: E731
            train = None if for_eval else read(a["train"])
            val = read(val_path)
            if self.regression:
                names = []
            elif for_eval and a["label_names"]:
                names = list(a["label_names"])
            else:
                names = sorted(set(train.labels), key=label_sort_key)  # type: ignore[union-attr]
            index = {n: i for i, n in enumerate(names)}
            if not self.regression:
                for i, label in enumerate(val.labels):
                    if label not in index:
                        raise ValueError(f"{val_path}: example {i + 1} has label {label!r}, not in {names}")
            to_ids = (lambda ls: list(ls)) if self.regression else (lambda ls: [index[x] for x in ls])
            val_texts, val_labels = val.texts, to_ids(val.labels)
            if train is not None:
                train_texts, train_labels = train.texts, to_ids(train.labels)
        else:
            if self.regression or len(fields) != 1:
                raise ValueError("--regression and pairs need --train and --val files")
            tr_x, train_labels, va_x, val_labels, names = self._default_data()
            train_texts, val_texts = [tr_x], [va_x]
        self.label_names = names
        self.metric_names = ("accuracy",) if self.regression is False else ("pearson", "spearman")
        if not self.regression and len(names) > 2:
            self.metric_names = ("accuracy", "macro_f1")
        self.metric = self.metric_names[0]
        self.setup_tokenizer([t for col in train_texts for t in col])
        self.pairs = pair = len(fields) == 2
        self.eval_dataset = subset(
            self.encode(val_texts[0], val_texts[1] if pair else None, val_labels), a["val_limit"], config.seed + 1
        )
        if not for_eval:
            self.train_dataset = subset(
                self.encode(train_texts[0], train_texts[1] if pair else None, train_labels),
                a["train_limit"],
                config.seed,
            )

    def _default_data(self) -> tuple[list[str], list[int], list[str], list[int], list[str]]:
        from lion_attn.data import austen_passages, data_home, load_austen, read_jsonl_classification

        folder = data_home() / "austen-cls"
        if (folder / "train.jsonl").is_file() and (folder / "val.jsonl").is_file():
            tr_x, tr_y, names = read_jsonl_classification(folder / "train.jsonl")
            va_x, va_y, _ = read_jsonl_classification(folder / "val.jsonl", label_names=names)
            return tr_x, tr_y, va_x, va_y, names
        texts = load_austen()
        train, val = austen_passages(texts, words_per_passage=128, seed=0)
        names = list(texts)
        index = {n: i for i, n in enumerate(names)}
        return (
            [t for t, _ in train],
            [index[y] for _, y in train],
            [t for t, _ in val],
            [index[y] for _, y in val],
            names,
        )
