"""Helpers shared by the text tasks: reading text sources and keeping the tokenizer with the checkpoint."""

from __future__ import annotations

import logging
from pathlib import Path

logger = logging.getLogger(__name__)

TOKENIZER_DIR = "tokenizer"


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

    for key in ("checkpoint_dir",):
        if task_args.get(key) and (Path(task_args[key]) / TOKENIZER_DIR).is_dir():
            return Path(task_args[key]) / TOKENIZER_DIR
    if resume:
        folder = resolve_checkpoint(resume)
        if (folder / TOKENIZER_DIR).is_dir():
            return folder / TOKENIZER_DIR
    return None
