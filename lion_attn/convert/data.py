"""The text a distillation reads and the held-out text its quality is measured on.

By default both come from Jane Austen's six novels (offline; ``lion data`` prepares the full texts): passages of
``words_per_passage`` words are split per novel by :func:`lion_attn.data.austen.austen_passages`; the training
part is what distillation reads, and the held-out part is split once more into a *dev* set (the first
``dev_size`` passages, which choose the best checkpoint) and a *test* set (the rest, which only the quality
report reads). User text (``--text``) is cut into passages the same way, with a held-out dev share.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from lion_attn.convert.text import read_text_files, split_passages

__all__ = ["DistillTexts", "austen_texts", "distill_texts"]


@dataclasses.dataclass
class DistillTexts:
    """Passages for distillation.

    Attributes:
        train: Passages to distil on.
        dev: Held-out passages for choosing the best checkpoint.
        test: Held-out ``(passage, label)`` pairs for the quality report (Austen only; empty otherwise).
    """

    train: list[str]
    dev: list[str]
    test: list[tuple[str, str]]


def austen_texts(words_per_passage: int = 128, dev_size: int = 128, seed: int = 0) -> DistillTexts:
    """Austen's novels split into distillation, dev and test passages (deterministic for a ``seed``)."""
    from lion_attn.data.austen import austen_passages, load_austen

    train, held_out = austen_passages(load_austen(), words_per_passage=words_per_passage, seed=seed, val_fraction=0.2)
    if len(held_out) <= dev_size:
        raise ValueError(f"only {len(held_out)} held-out passages; dev_size={dev_size} leaves none for testing")
    return DistillTexts(train=[t for t, _ in train], dev=[t for t, _ in held_out[:dev_size]], test=held_out[dev_size:])


def distill_texts(
    text_paths: Sequence[str] | None, words_per_passage: int = 128, dev_size: int = 128, seed: int = 0
) -> DistillTexts:
    """The passages of ``text_paths`` (files or folders of ``*.txt``), or Austen's when ``None``."""
    if not text_paths:
        return austen_texts(words_per_passage, dev_size, seed)
    text = read_text_files(text_paths)
    train, dev = split_passages(text, words_per_passage, dev_fraction=0.05, seed=seed)
    return DistillTexts(train=train, dev=dev[:dev_size], test=[])
