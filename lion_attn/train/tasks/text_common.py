"""Helpers shared by the text tasks: reading text sources and keeping the tokenizer with the checkpoint."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

# Checkpoints keep their tokenizer at the top level (a transformers model folder); older ones in this subfolder.
TOKENIZER_DIR = "tokenizer"
_TOKENIZER_MARKER = "lion_tokenizer.json"

#: The trainer defaults of the BERT text tasks (mlm, text-cls, glue); a task overrides what it needs.
BERT_TASK_DEFAULTS: dict[str, Any] = {
    "model": "lion_s_bert_tiny",
    "epochs": 3,
    "batch_size": 32,
    "lr": 5e-4,
    "weight_decay": 0.01,
}

#: The task options every BERT text task has (limits, model overrides, ``lion eval --data``, resumed checkpoint).
TEXT_ARG_DEFAULTS: dict[str, Any] = {
    "vocab_size": 8000,
    "train_limit": 0,
    "val_limit": 0,
    "model_args": {},
    "eval_data": "",
    "checkpoint_dir": "",
}


def check_seq_len(seq_len: int) -> None:
    """Refuse a ``--seq-len`` too short for the special tokens plus some text."""
    if seq_len < 8:
        raise ValueError(f"--seq-len must be >= 8, got {seq_len}")


def tokenizer_in(folder: Path) -> Path | None:
    """The folder holding the tokenizer saved with a checkpoint: the checkpoint itself, or its ``tokenizer/``."""
    for cand in (folder, folder / TOKENIZER_DIR):
        if (cand / _TOKENIZER_MARKER).is_file():
            return cand
    return None


def read_texts(path: str) -> dict[str, str]:
    """``name -> text`` from a text file or a folder of ``*.txt`` files; the Austen novels when ``path`` is empty."""
    if not path:
        from lion_attn.data import load_austen

        return dict(load_austen())
    p = Path(path).expanduser()
    if not p.exists():
        raise ValueError(f"--text {p} does not exist")
    files = sorted(p.rglob("*.txt")) if p.is_dir() else [p]
    if not files:
        raise ValueError(f"--text {p} is a folder with no *.txt files")
    texts = {}
    for f in files:
        try:
            texts[str(f.relative_to(p) if p.is_dir() else f.name)] = f.read_text(encoding="utf-8", errors="replace")
        except OSError as err:
            raise ValueError(f"cannot read {f}: {err}") from None
    if not any(t.strip() for t in texts.values()):
        raise ValueError(f"--text {p} holds no text (empty file(s))")
    return texts


def find_tokenizer_dir(task_args: dict, resume: str) -> Path | None:
    """Where a previously trained tokenizer lives: the evaluated/resumed checkpoint or an --init checkpoint."""
    from lion_attn.train.checkpoint import resolve_checkpoint

    if task_args.get("checkpoint_dir"):
        found = tokenizer_in(Path(task_args["checkpoint_dir"]))
        if found is not None:
            return found
    if resume:
        return tokenizer_in(resolve_checkpoint(resume))
    return None
