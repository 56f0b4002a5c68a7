"""Tokenizers for the text models: raw UTF-8 bytes, or a WordPiece vocabulary trained locally.

Both share one small interface (``encode``, ``decode``, ``vocab_size``, ``pad_id``, ``unk_id``, ``cls_id``,
``sep_id``, ``mask_id``, ``special_ids``, ``save``) and the same special tokens [PAD], [UNK], [CLS], [SEP],
[MASK]; :func:`load_tokenizer` restores either kind from the folder written by ``save``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

__all__ = [
    "SPECIAL_TOKENS",
    "ByteTokenizer",
    "Tokenizer",
    "WordPieceTokenizer",
    "load_tokenizer",
]

SPECIAL_TOKENS: tuple[str, ...] = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
_KIND_FILE = "lion_tokenizer.json"
_HF_FILE = "tokenizer.json"


@runtime_checkable
class Tokenizer(Protocol):
    """What the training code may rely on, whatever the tokenizer kind."""

    kind: str
    vocab_size: int
    pad_id: int
    unk_id: int
    cls_id: int
    sep_id: int
    mask_id: int
    special_ids: tuple[int, ...]

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]: ...

    def decode(self, ids: Iterable[int]) -> str: ...

    def save(self, directory: str | Path) -> Path: ...


def _write_kind(directory: Path, kind: str, **extra: object) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / _KIND_FILE).write_text(json.dumps({"kind": kind, **extra}, indent=2) + "\n", encoding="utf-8")


class ByteTokenizer:
    """UTF-8 bytes as tokens: ids 0-4 are the specials, byte b has id ``b + 5``; ``vocab_size`` is 261.

    Needs no training and never produces [UNK]; ``decode`` replaces invalid UTF-8 with U+FFFD.
    """

    kind = "bytes"
    _OFFSET = len(SPECIAL_TOKENS)

    def __init__(self) -> None:
        self.vocab_size = 256 + self._OFFSET
        self.pad_id, self.unk_id, self.cls_id, self.sep_id, self.mask_id = range(self._OFFSET)
        self.special_ids = tuple(range(self._OFFSET))

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        """Token ids of ``text``; with ``add_special_tokens``, wrapped as ``[CLS] ... [SEP]``."""
        ids = [b + self._OFFSET for b in text.encode("utf-8")]
        return [self.cls_id, *ids, self.sep_id] if add_special_tokens else ids

    def decode(self, ids: Iterable[int]) -> str:
        """Text of ``ids``; special ids are dropped."""
        data = bytes(i - self._OFFSET for i in ids if self._OFFSET <= i < self.vocab_size)
        return data.decode("utf-8", errors="replace")

    def save(self, directory: str | Path) -> Path:
        """Write ``lion_tokenizer.json`` into ``directory`` and return the folder."""
        directory = Path(directory)
        _write_kind(directory, self.kind, vocab_size=self.vocab_size)
        return directory

    def __repr__(self) -> str:
        return f"ByteTokenizer(vocab_size={self.vocab_size})"


class WordPieceTokenizer:
    """A WordPiece vocabulary (BERT-style: NFD, lower case, accents stripped, BERT pre-tokenizer).

    Build one with :meth:`train` (a few seconds for an 8k vocabulary on the six Austen novels) or
    :meth:`from_vocab_file` (an existing BERT ``vocab.txt``, e.g. the uncased vocab of all-MiniLM-L6-v2).
    Wraps a Hugging Face ``tokenizers.Tokenizer``, available as ``.backend``.
    """

    kind = "wordpiece"

    def __init__(self, backend: object) -> None:
        self.backend = backend
        ids = {token: backend.token_to_id(token) for token in SPECIAL_TOKENS}
        missing = [token for token, i in ids.items() if i is None]
        if missing:
            raise ValueError(f"WordPiece vocabulary lacks the special tokens {missing}")
        self.pad_id, self.unk_id = ids["[PAD]"], ids["[UNK]"]
        self.cls_id, self.sep_id, self.mask_id = ids["[CLS]"], ids["[SEP]"], ids["[MASK]"]
        self.special_ids = tuple(sorted(ids.values()))
        self.vocab_size = backend.get_vocab_size(with_added_tokens=True)

    @staticmethod
    def _pipeline(model: object) -> object:
        from tokenizers import Tokenizer as HFTokenizer
        from tokenizers import decoders, normalizers, pre_tokenizers

        backend = HFTokenizer(model)
        backend.normalizer = normalizers.BertNormalizer(
            clean_text=True, handle_chinese_chars=True, strip_accents=True, lowercase=True
        )
        backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        backend.decoder = decoders.WordPiece(prefix="##")
        return backend

    @classmethod
    def train(
        cls, texts: Iterable[str], vocab_size: int = 8000, min_frequency: int = 2, show_progress: bool = False
    ) -> WordPieceTokenizer:
        """Train a vocabulary on ``texts`` (any iterable of strings, e.g. lines or whole documents).

        The specials get ids 0-4 in the order [PAD], [UNK], [CLS], [SEP], [MASK]. ``vocab_size`` is an upper
        bound: a small corpus can yield fewer tokens.
        """
        from tokenizers import models, trainers

        if vocab_size <= len(SPECIAL_TOKENS) + 1:
            raise ValueError(f"vocab_size must be > {len(SPECIAL_TOKENS) + 1}, got {vocab_size}")
        backend = cls._pipeline(models.WordPiece(unk_token="[UNK]"))
        trainer = trainers.WordPieceTrainer(
            vocab_size=vocab_size,
            min_frequency=min_frequency,
            special_tokens=list(SPECIAL_TOKENS),
            show_progress=show_progress,
        )
        backend.train_from_iterator(texts, trainer=trainer)
        return cls(backend)

    @classmethod
    def from_vocab_file(cls, vocab_file: str | Path) -> WordPieceTokenizer:
        """Build the tokenizer from a BERT ``vocab.txt`` (one token per line, id = line number)."""
        from tokenizers import models

        vocab_file = Path(vocab_file)
        if not vocab_file.is_file():
            raise FileNotFoundError(f"vocabulary file not found: {vocab_file}")
        return cls(cls._pipeline(models.WordPiece.from_file(str(vocab_file), unk_token="[UNK]")))

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        """Token ids of ``text``; with ``add_special_tokens``, wrapped as ``[CLS] ... [SEP]``."""
        ids = self.backend.encode(text, add_special_tokens=False).ids
        return [self.cls_id, *ids, self.sep_id] if add_special_tokens else ids

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of many texts at once (parallel in the Rust backend); no special tokens."""
        return [enc.ids for enc in self.backend.encode_batch(list(texts), add_special_tokens=False)]

    def decode(self, ids: Iterable[int]) -> str:
        """Text of ``ids`` (lower-cased, word pieces joined); special ids are dropped."""
        return self.backend.decode(list(ids), skip_special_tokens=True)

    def save(self, directory: str | Path) -> Path:
        """Write ``tokenizer.json`` and ``lion_tokenizer.json`` into ``directory`` and return the folder."""
        directory = Path(directory)
        _write_kind(directory, self.kind, vocab_size=self.vocab_size)
        self.backend.save(str(directory / _HF_FILE))
        return directory

    def __repr__(self) -> str:
        return f"WordPieceTokenizer(vocab_size={self.vocab_size})"


def load_tokenizer(directory: str | Path) -> ByteTokenizer | WordPieceTokenizer:
    """Restore a tokenizer saved with ``save(directory)``, whichever kind it is."""
    directory = Path(directory)
    kind_file = directory / _KIND_FILE
    if not kind_file.is_file():
        raise FileNotFoundError(f"{kind_file} not found: {directory} does not hold a saved lion-attn tokenizer")
    try:
        kind = json.loads(kind_file.read_text(encoding="utf-8"))["kind"]
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise ValueError(f"{kind_file} is malformed: {err}") from None
    if kind == ByteTokenizer.kind:
        return ByteTokenizer()
    if kind == WordPieceTokenizer.kind:
        from tokenizers import Tokenizer as HFTokenizer

        hf_file = directory / _HF_FILE
        if not hf_file.is_file():
            raise FileNotFoundError(f"{hf_file} not found (WordPiece tokenizer saved in {directory})")
        return WordPieceTokenizer(HFTokenizer.from_file(str(hf_file)))
    raise ValueError(f"{kind_file}: unknown tokenizer kind {kind!r}; expected 'bytes' or 'wordpiece'")
