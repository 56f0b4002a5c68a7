"""GLUE fine-tuning on the benchmark's own files (``lion train glue --task mrpc --data glue_data/MRPC``).

Pairs enter as ``[CLS] a [SEP] b [SEP]`` with segment ids, STS-B as regression, and every task is scored by its
official metrics (:mod:`lion_attn.train.tasks.text_metrics`); the file layouts are read by
:mod:`lion_attn.data.glue`. :func:`write_test_predictions` turns a checkpoint and the task's ``test.tsv`` into the
prediction files the GLUE server takes.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any, ClassVar

import torch

from lion_attn.train.config import TrainConfig
from lion_attn.train.tasks.base import add_limit_flags
from lion_attn.train.tasks.image import subset
from lion_attn.train.tasks.text_common import BERT_TASK_DEFAULTS, TEXT_ARG_DEFAULTS, check_seq_len
from lion_attn.train.tasks.text_task import TextTask, add_tokenizer_flags

logger = logging.getLogger(__name__)


class GlueTask(TextTask):
    """``lion train glue --task {cola,sst2,mrpc,qqp,stsb,mnli,qnli,rte,wnli} --data TASK_FOLDER``."""

    name = "glue"
    sample_noun = "rows"
    metric = "accuracy"
    defaults: ClassVar[dict[str, Any]] = {**BERT_TASK_DEFAULTS, "epochs": 5, "warmup": 0.1}
    arg_defaults: ClassVar[dict[str, Any]] = {
        **TEXT_ARG_DEFAULTS,
        "task": "",
        "data": "",
        "tokenizer": "wordpiece",
        "init": "",
        "seq_len": 128,
        "skip_bad_rows": False,
    }

    @staticmethod
    def add_arguments(p: argparse.ArgumentParser) -> None:
        from lion_attn.data.glue import GLUE_TASKS

        s = argparse.SUPPRESS
        p.add_argument("--task", choices=tuple(GLUE_TASKS), default=s, help="the GLUE task (required)")
        p.add_argument("--data", default=s, help="the task's folder as GLUE ships it (train.tsv, dev.tsv, ...)")
        add_tokenizer_flags(p, "train.tsv", "tokens per input, specials included")
        p.add_argument("--skip-bad-rows", action="store_true", default=s, help="skip and count malformed rows")
        add_limit_flags(p, "N training rows", "N evaluation rows")

    def __init__(self, config: TrainConfig, for_eval: bool = False) -> None:
        from lion_attn.data.glue import get_spec, glue_eval_files, read_glue_split

        a = self.bind_args(config)
        if not a["task"]:
            raise ValueError("--task is required: one of cola, sst2, mrpc, qqp, stsb, mnli, qnli, rte, wnli")
        if not a["data"]:
            raise ValueError("--data is required: the task's folder as the GLUE distribution ships it")
        check_seq_len(a["seq_len"])
        self.spec = spec = get_spec(a["task"])
        self.regression = spec.is_regression
        self.pairs = bool(spec.text_b)
        self.label_names = list(spec.labels)
        self.metric_names = spec.metrics
        self.metric = spec.metrics[0]
        folder = Path(self.eval_source(for_eval, a["data"]))
        if not folder.is_dir():
            raise ValueError(f"--data {folder} is not a folder (expected the GLUE task folder, e.g. glue_data/MRPC)")
        on_error = "skip" if a["skip_bad_rows"] else "raise"
        train = None if for_eval else read_glue_split(spec.name, folder / "train.tsv", on_error=on_error)
        evals = {
            g: read_glue_split(spec.name, f, on_error=on_error) for g, f in glue_eval_files(spec.name, folder).items()
        }
        self.group_names = tuple(evals)
        self.skipped = {str(s.path): s.skipped for s in [*([train] if train else []), *evals.values()] if s.skipped}
        self.setup_tokenizer([t for ex in train.examples for t in (ex.text_a, ex.text_b) if t] if train else [])
        rows = [(g, ex) for g, split in enumerate(evals.values()) for ex in split.examples]
        self.eval_dataset = subset(
            self.encode(
                [ex.text_a for _, ex in rows],
                [ex.text_b for _, ex in rows] if spec.text_b else None,
                [ex.label for _, ex in rows],
                [g for g, _ in rows],
            ),
            a["val_limit"],
            config.seed + 1,
        )
        if train is not None:
            exs = train.examples
            self.train_dataset = subset(
                self.encode(
                    [ex.text_a for ex in exs],
                    [ex.text_b for ex in exs] if spec.text_b else None,
                    [ex.label for ex in exs],
                ),
                a["train_limit"],
                config.seed,
            )

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "glue_task": self.spec.name, "skipped_rows": self.skipped}

    @property
    def title(self) -> str:
        return f"glue {self.spec.server_name}"

    def describe_extra(self) -> str:
        return f", metrics {', '.join(self.metric_names)}"


@torch.inference_mode()
def write_test_predictions(
    checkpoint: str | Path,
    out_dir: str | Path,
    data: str | None = None,
    mode: str = "parallel",
    batch_size: int = 64,
) -> list[Path]:
    """Predict a GLUE checkpoint's ``test.tsv`` (MNLI: both test files) and write the GLUE server's files.

    Args:
        checkpoint: A ``lion train glue`` checkpoint folder or output directory.
        out_dir: Where ``<TASK>.tsv`` (e.g. ``MRPC.tsv``, ``MNLI-m.tsv``) is written.
        data: The task folder holding the test files (default: the run's ``--data``).
        mode: Attention form to predict in.
        batch_size: Examples per forward pass.

    Returns:
        The files written.
    """
    from lion_attn.data.glue import glue_test_files, read_glue_split, write_glue_predictions
    from lion_attn.train.evaluate import find_eval_checkpoint, load_task

    folder = find_eval_checkpoint(checkpoint)
    task, state = load_task(folder)
    if state["task"] != "glue":
        raise ValueError(f"{folder} is a {state['task']!r} checkpoint; GLUE prediction files need a glue one")
    model = task.load_model(folder)
    model.set_attn_mode(mode)
    model.eval()
    written = []
    for server_name, path in glue_test_files(task.spec.name, Path(data or task.args["data"])).items():
        split = read_glue_split(task.spec.name, path, labelled=False, on_error="raise")
        exs = split.examples
        dataset = task.encode(
            [ex.text_a for ex in exs],
            [ex.text_b or "" for ex in exs] if task.spec.text_b else None,
            [0.0 if task.regression else 0] * len(exs),
        )
        preds: list[Any] = []
        for start in range(0, len(dataset), batch_size):
            batch = task.collate([dataset[i] for i in range(start, min(start + batch_size, len(dataset)))])
            preds.extend(task._predict(task._logits(model, batch)).tolist())
        target = Path(out_dir) / f"{server_name}.tsv"
        written.append(write_glue_predictions(task.spec.name, target, [ex.index for ex in exs], preds))
        logger.info("wrote %d predictions to %s", len(preds), target)
    return written
