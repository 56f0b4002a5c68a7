"""Tokenizers for the text models: raw UTF-8 bytes, or a WordPiece vocabulary trained locally.

Both share one small interface (``encode``, ``decode``, ``vocab_size``, ``pad_id``, ``unk_id``, ``cls_id``,
``sep_id``, ``mask_id``, ``special_ids``, ``save``) and the same special tokens [PAD], [UNK], [CLS], [SEP],
[MASK]; :func:`load_tokenizer` restores either kind from the folder written by ``save``.

``save`` writes a complete Hugging Face tokenizer next to the model: ``tokenizer.json`` (with BERT's
``[CLS] a [SEP] b [SEP]`` template and segment ids), ``tokenizer_config.json`` and ``special_tokens_map.json``,
so ``transformers.AutoTokenizer.from_pretrained(folder)`` gives the same ids. The byte tokenizer is written as an
equivalent byte-level model (byte ``b`` -> id ``b + 5``); the one difference is that the Hugging Face tokenizer
reads a literal ``[MASK]`` (or another special) in the text as that special token, as fill-mask pipelines need,
where :meth:`ByteTokenizer.encode` spells it out in bytes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

__all__ = [
    "SPECIAL_TOKENS",
    "ByteTokenizer",
    "Tokenizer",
    "WordPieceTokenizer",
    "encode_pair",
    "load_tokenizer",
    "resolve_tokenizer",
]

SPECIAL_TOKENS: tuple[str, ...] = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
logger = logging.getLogger(__name__)

_KIND_FILE = "lion_tokenizer.json"
_HF_FILE = "tokenizer.json"
_HF_CONFIG = "tokenizer_config.json"
_HF_SPECIALS = "special_tokens_map.json"
_SPECIAL_ROLES = {"pad_token": "[PAD]", "unk_token": "[UNK]", "cls_token": "[CLS]", "sep_token": "[SEP]"}
_SPECIAL_ROLES["mask_token"] = "[MASK]"


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

    def save(self, directory: str | Path, model_max_length: int | None = None) -> Path: ...


def _write_text(path: Path, text: str) -> None:
    # Temp file + rename: a crash never leaves a half-written tokenizer file.
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _write_kind(directory: Path, kind: str, **extra: object) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    _write_text(directory / _KIND_FILE, json.dumps({"kind": kind, **extra}, indent=2) + "\n")


def _with_bert_template(backend: object, cls_id: int, sep_id: int) -> object:
    """A copy of ``backend`` whose post-processor adds ``[CLS] a [SEP] (b [SEP])`` and segment ids (for HF)."""
    from tokenizers import Tokenizer as HFTokenizer
    from tokenizers import processors

    copy = HFTokenizer.from_str(backend.to_str())
    copy.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    return copy


def _write_hf_files(directory: Path, backend: object, tok: Tokenizer, model_max_length: int | None, **extra) -> None:
    """``tokenizer.json``, ``tokenizer_config.json`` and ``special_tokens_map.json`` for transformers."""
    _write_text(directory / _HF_FILE, _with_bert_template(backend, tok.cls_id, tok.sep_id).to_str(pretty=True))
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        **_SPECIAL_ROLES,
        "model_input_names": ["input_ids", "token_type_ids", "attention_mask"],
        "padding_side": "right",
        "truncation_side": "right",
        "clean_up_tokenization_spaces": False,
        **extra,
    }
    if model_max_length:
        config["model_max_length"] = int(model_max_length)
    _write_text(directory / _HF_CONFIG, json.dumps(config, indent=2) + "\n")
    _write_text(directory / _HF_SPECIALS, json.dumps(_SPECIAL_ROLES, indent=2) + "\n")


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

    def hf_backend(self) -> object:
        """An equivalent ``tokenizers.Tokenizer``: a byte-level model with no merges, byte ``b`` -> ``b + 5``."""
        from tokenizers import AddedToken, decoders, models, pre_tokenizers
        from tokenizers import Tokenizer as HFTokenizer

        vocab = {token: i for i, token in enumerate(SPECIAL_TOKENS)}
        vocab.update({char: b + self._OFFSET for b, char in enumerate(_byte_chars())})
        backend = HFTokenizer(models.BPE(vocab=vocab, merges=[], unk_token="[UNK]"))
        # No regex split and no prefix space: the whole text becomes bytes, one token each, as in ``encode``.
        backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
        backend.decoder = decoders.ByteLevel()
        backend.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIAL_TOKENS])
        return backend

    def save(self, directory: str | Path, model_max_length: int | None = None) -> Path:
        """Write ``lion_tokenizer.json`` and the Hugging Face tokenizer files into ``directory``; return it.

        The Hugging Face files need the ``tokenizers`` package; without it only ``lion_tokenizer.json`` is
        written (with a warning), which is all :func:`load_tokenizer` needs.
        """
        directory = Path(directory)
        _write_kind(directory, self.kind, vocab_size=self.vocab_size)
        try:
            backend = self.hf_backend()
        except ImportError:
            logger.warning("tokenizers is not installed: %s gets no tokenizer.json for transformers", directory)
            return directory
        _write_hf_files(directory, backend, self, model_max_length)
        return directory

    def __repr__(self) -> str:
        return f"ByteTokenizer(vocab_size={self.vocab_size})"


def _byte_chars() -> list[str]:
    """The printable character standing for each byte 0-255 in byte-level tokenizers (GPT-2's table)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars, extra = {}, 0
    for b in range(256):
        if b in printable:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + extra)
            extra += 1
    return [chars[b] for b in range(256)]


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
    def from_tokenizer_file(cls, path: str | Path) -> WordPieceTokenizer:
        """Load a Hugging Face ``tokenizer.json`` (e.g. a BERT checkpoint's) that has the five special tokens."""
        from tokenizers import Tokenizer as HFTokenizer

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"tokenizer file not found: {path}")
        try:
            return cls(HFTokenizer.from_file(str(path)))
        except Exception as err:  # the Rust side raises its own exception type
            if isinstance(err, ValueError) and "special tokens" in str(err):
                raise
            raise ValueError(f"{path} is not a valid tokenizers JSON file: {err}") from None

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

    def save(self, directory: str | Path, model_max_length: int | None = None) -> Path:
        """Write ``lion_tokenizer.json`` and the Hugging Face tokenizer files into ``directory``; return it."""
        directory = Path(directory)
        _write_kind(directory, self.kind, vocab_size=self.vocab_size)
        _write_hf_files(directory, self.backend, self, model_max_length, do_lower_case=_lowercases(self.backend))
        return directory

    def __repr__(self) -> str:
        return f"WordPieceTokenizer(vocab_size={self.vocab_size})"


def _lowercases(backend: object) -> bool:
    """Whether the tokenizer's normaliser lower-cases (BertNormalizer's flag, or a Lowercase step)."""
    norm = json.loads(backend.to_str()).get("normalizer") or {}
    steps = norm.get("normalizers", [norm]) if norm.get("type") == "Sequence" else [norm]
    return any(step.get("type") == "Lowercase" or step.get("lowercase") for step in steps)


def load_tokenizer(directory: str | Path) -> ByteTokenizer | WordPieceTokenizer:
    """Restore a tokenizer saved with ``save(directory)``, whichever kind it is.

    A folder with a ``tokenizer.json`` but no ``lion_tokenizer.json`` (a Hugging Face tokenizer) loads as
    WordPiece if it has the five special tokens.
    """
    directory = Path(directory)
    kind_file = directory / _KIND_FILE
    if not kind_file.is_file():
        if (directory / _HF_FILE).is_file():
            return WordPieceTokenizer.from_tokenizer_file(directory / _HF_FILE)
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


def resolve_tokenizer(spec: str) -> ByteTokenizer | WordPieceTokenizer | None:
    """A tokenizer from a command-line value: ``"bytes"``, a ``vocab.txt``, a ``tokenizer.json`` or a saved folder.

    Returns:
        The tokenizer, or None for ``"wordpiece"`` (meaning: train one on the data).

    Raises:
        ValueError: ``spec`` is none of these.
    """
    if spec == "bytes":
        return ByteTokenizer()
    if spec == "wordpiece":
        return None
    path = Path(spec).expanduser()
    if path.is_dir():
        return load_tokenizer(path)
    if path.is_file() and path.suffix == ".json":
        return WordPieceTokenizer.from_tokenizer_file(path)
    if path.is_file():
        return WordPieceTokenizer.from_vocab_file(path)
    raise ValueError(
        f"--tokenizer {spec!r}: expected 'bytes', 'wordpiece' (trained here), a vocab.txt, a tokenizer.json or a "
        "folder holding a saved tokenizer"
    )


def encode_pair(tok: Tokenizer, text_a: str, text_b: str | None, max_length: int) -> tuple[list[int], list[int]]:
    """BERT's input for one text or a pair: ``[CLS] a [SEP]`` or ``[CLS] a [SEP] b [SEP]``, with segment ids.

    When too long, tokens are removed from the end of the longer text first (ties: from ``b``), one at a time,
    as BERT's GLUE code and Hugging Face's ``truncation="longest_first"`` do.

    Args:
        tok: The tokenizer.
        text_a: First text.
        text_b: Second text, or None for a single text.
        max_length: Length of the result at most, specials included (>= 3 for a pair, >= 2 for one text).

    Returns:
        ``(input_ids, token_type_ids)``: lists of equal length; segment 0 covers ``[CLS] a [SEP]``, 1 the rest.
    """
    a = tok.encode(text_a)
    if text_b is None:
        if max_length < 2:
            raise ValueError(f"max_length must be >= 2 for one text, got {max_length}")
        a = a[: max_length - 2]
        return [tok.cls_id, *a, tok.sep_id], [0] * (len(a) + 2)
    if max_length < 3:
        raise ValueError(f"max_length must be >= 3 for a pair, got {max_length}")
    b = tok.encode(text_b)
    len_a, len_b = len(a), len(b)
    excess = len_a + len_b - (max_length - 3)
    if excess > 0:
        # Trim the longer side down to the shorter one's length, then both alternately (b first on ties).
        cut = min(excess, abs(len_a - len_b))
        if len_a > len_b:
            len_a -= cut
        else:
            len_b -= cut
        excess -= cut
        len_b -= (excess + 1) // 2
        len_a -= excess // 2
    a, b = a[:len_a], b[:len_b]
    return [tok.cls_id, *a, tok.sep_id, *b, tok.sep_id], [0] * (len_a + 2) + [1] * (len_b + 1)
