"""Helpers shared by the text tasks: reading text sources and keeping the tokenizer with the checkpoint."""

from __future__ import annotations

import logging
from pathlib import Path

logger = logging.getLogger(__name__)

# Checkpoints keep their tokenizer at the top level (a transformers model folder); older ones in this subfolder.
TOKENIZER_DIR = "tokenizer"
_TOKENIZER_MARKER = "lion_tokenizer.json"


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
