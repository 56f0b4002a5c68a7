"""Text for converted encoders: the teacher's WordPiece tokenizer, passages to distil on, padded batches, and
position ids for documents longer than the position table.

Positions past the table (512 for BERT) are *tiled*: token ``i`` gets position ``i mod max_position_embeddings``
(counted over real tokens). Every position embedding the model sees is one it was trained with, and 511 of every
512 neighbouring pairs keep their exact relative offset; a document within the table is untouched. The other
choices are worse for an encoder read in linear memory: clamping gives every token past 511 the same position (all
word-order information from the position table is lost there), and rescaling positions to fit the table changes
the spacing of *every* token of a long document, so even local word order no longer looks like training data.
LION-D and LION-S also carry relative position in their decays, which tiling leaves intact.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch
from torch import Tensor

__all__ = [
    "PAD_ID",
    "load_wordpiece",
    "make_batch",
    "read_text_files",
    "split_passages",
    "tiled_position_ids",
    "tokenize",
]

PAD_ID = 0


def load_wordpiece(folder: str | Path):  # -> tokenizers.Tokenizer
    """The tokenizer of a BERT folder (``tokenizer.json``, else ``vocab.txt``), with truncation and padding off.

    Raises:
        FileNotFoundError: If the folder has neither file.
    """
    from tokenizers import Tokenizer
    from tokenizers.implementations import BertWordPieceTokenizer

    folder = Path(folder)
    if (folder / "tokenizer.json").is_file():
        tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    elif (folder / "vocab.txt").is_file():
        lower = True
        if (folder / "tokenizer_config.json").is_file():
            lower = bool(json.loads((folder / "tokenizer_config.json").read_text()).get("do_lower_case", True))
        tok = BertWordPieceTokenizer(str(folder / "vocab.txt"), lowercase=lower)
    else:
        raise FileNotFoundError(f"no tokenizer.json or vocab.txt in {str(folder)!r}")
    tok.no_truncation()
    tok.no_padding()
    return tok


def tokenize(tokenizer, texts: Sequence[str], max_tokens: int | None = None) -> list[list[int]]:
    """Token ids (with ``[CLS]`` and ``[SEP]``) of each text; longer ones keep their first ``max_tokens - 1`` ids
    and the final ``[SEP]``. ``max_tokens=None`` keeps everything."""
    if max_tokens is not None and max_tokens < 2:
        raise ValueError(f"max_tokens must be >= 2 or None, got {max_tokens!r}")
    out = []
    for enc in tokenizer.encode_batch(list(texts)):
        ids = list(enc.ids)
        if max_tokens is not None and len(ids) > max_tokens:
            ids = [*ids[: max_tokens - 1], ids[-1]]
        out.append(ids)
    return out


def tiled_position_ids(attention_mask: Tensor, max_positions: int) -> Tensor:
    """Position ids [B, T]: real tokens counted from 0, modulo ``max_positions`` (pads get 0).

    Args:
        attention_mask: [B, T] bool or 0/1, True for real tokens.
        max_positions: Size of the position table.
    """
    mask = attention_mask.bool()
    pos = (mask.long().cumsum(dim=1) - 1).clamp(min=0)
    return torch.where(mask, pos % max_positions, torch.zeros_like(pos))


def make_batch(sequences: Sequence[Sequence[int]], pad_id: int = PAD_ID) -> tuple[Tensor, Tensor]:
    """Right-pad token id lists into ``input_ids`` [B, T] int64 and ``attention_mask`` [B, T] bool."""
    if not sequences:
        raise ValueError("make_batch needs at least one sequence")
    length = max(1, max(len(s) for s in sequences))
    ids = torch.full((len(sequences), length), pad_id, dtype=torch.long)
    mask = torch.zeros(len(sequences), length, dtype=torch.bool)
    for row, seq in enumerate(sequences):
        ids[row, : len(seq)] = torch.tensor(list(seq), dtype=torch.long)
        mask[row, : len(seq)] = True
    return ids, mask


def read_text_files(paths: Iterable[str | Path]) -> str:
    """Concatenate UTF-8 text files (a folder contributes its ``*.txt`` files, sorted)."""
    parts = []
    for p in paths:
        p = Path(p)
        files = sorted(p.glob("*.txt")) if p.is_dir() else [p]
        if not files or not all(f.is_file() for f in files):
            raise FileNotFoundError(f"text path {str(p)!r} is not a file or a folder with *.txt files")
        parts += [f.read_text(encoding="utf-8") for f in files]
    return "\n".join(parts)


def split_passages(text: str, words_per_passage: int, dev_fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """Cut a text into passages of ``words_per_passage`` words; shuffle with ``seed``; hold out ``dev_fraction``.

    Returns:
        ``(train, dev)`` lists of passages (``dev`` has at least one when there are two or more passages).
    """
    words = text.split()
    passages = [" ".join(words[i : i + words_per_passage]) for i in range(0, len(words), words_per_passage)]
    passages = [p for p in passages if p]
    if len(passages) < 2:
        raise ValueError(f"the text has {len(words)} words: too few for two passages of {words_per_passage}")
    random.Random(seed).shuffle(passages)
    n_dev = min(max(1, round(len(passages) * dev_fraction)), len(passages) - 1)
    return passages[n_dev:], passages[:n_dev]
