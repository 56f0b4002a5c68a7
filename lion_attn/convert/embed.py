"""Sentence and document embeddings from a (converted) BERT-style encoder: mean pooling over real tokens, then L2
normalisation, as all-MiniLM-L6-v2 and most sentence-transformers models do.

Inputs are batched by length (sorted, then cut into batches of at most ``batch_tokens`` padded tokens), so short
texts are not padded to the longest document. With LION attention in chunk or recurrent form, memory grows
linearly with a document's length and nothing is cut at 512 tokens: positions past the position table are tiled
(see :mod:`lion_attn.convert.text`). A softmax model (the teacher) is limited to its position table, so its
documents are truncated to ``max_position_embeddings`` tokens.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lion_attn.convert.text import make_batch, tiled_position_ids, tokenize
from lion_attn.models.encoder import masked_mean

__all__ = ["embed_ids", "embed_texts", "length_batches", "mean_pool", "read_documents"]

logger = logging.getLogger(__name__)


#: Mean of [B, T, D] hidden states over real tokens (``mask`` [B, T], True = real) -> [B, D]; an all-pad row gives
#: zeros (the models' own mean pooling, so ``lion embed`` pools exactly as a mean-pooled classifier does).
mean_pool = masked_mean


def read_documents(path: str | Path, field: str = "text") -> list[str]:
    """Documents of a ``.jsonl`` file (its ``field``) or of any other text file (one per line, empty lines kept).

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: On a JSONL line that is not an object with a string ``field``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"input file {str(path)!r} does not exist")
    lines = path.read_text(encoding="utf-8").splitlines()
    if path.suffix != ".jsonl":
        return lines
    docs = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        record = json.loads(line)
        if not isinstance(record, dict) or not isinstance(record.get(field), str):
            raise ValueError(f"{path}:{number}: expected a JSON object with a string {field!r} field")
        docs.append(record[field])
    return docs


def length_batches(lengths: Sequence[int], batch_tokens: int, max_batch: int = 64) -> list[list[int]]:
    """Group indices by length: sorted longest first, each batch at most ``batch_tokens`` padded tokens (a longer
    single document gets a batch of its own) and ``max_batch`` items."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    for i in order:
        fits = batches and (len(batches[-1]) + 1) * lengths[batches[-1][0]] <= batch_tokens
        if fits and len(batches[-1]) < max_batch:
            batches[-1].append(i)
        else:
            batches.append([i])
    return batches


@torch.no_grad()
def embed_ids(
    model: nn.Module, sequences: Sequence[Sequence[int]], batch_tokens: int = 16384, progress: bool = False
) -> np.ndarray:
    """L2-normalised mean-pooled embeddings [N, D] (float32) of token id lists, in input order.

    Args:
        model: A :class:`lion_attn.models.LionBertModel` (any attention form).
        sequences: Token ids per document (with ``[CLS]``/``[SEP]``); an empty list gives a zero vector.
        batch_tokens: Padded tokens per batch.
        progress: Show a progress bar.
    """
    config = model.config  # type: ignore[attr-defined]
    dim = config.hidden_size
    out = np.zeros((len(sequences), dim), dtype=np.float32)
    todo = [i for i, s in enumerate(sequences) if len(s) > 0]
    batches = length_batches([len(sequences[i]) for i in todo], batch_tokens)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(todo), desc="embed", unit="doc", dynamic_ncols=True)
    for batch in batches:
        rows = [todo[j] for j in batch]
        ids, mask = make_batch([sequences[r] for r in rows])
        pos = tiled_position_ids(mask, config.max_position_embeddings)
        hidden = model(ids, mask, position_ids=pos).last_hidden_state
        out[rows] = F.normalize(mean_pool(hidden.float(), mask), dim=-1).numpy()
        if bar is not None:
            bar.update(len(rows))
    if bar is not None:
        bar.close()
    return out


def embed_texts(
    model: nn.Module,
    tokenizer,
    texts: Sequence[str],
    max_tokens: int | None = None,
    batch_tokens: int = 16384,
    progress: bool = False,
) -> np.ndarray:
    """Tokenise and embed texts: [N, D] float32, unit rows (zero rows for empty texts).

    Args:
        model: A :class:`lion_attn.models.LionBertModel`.
        tokenizer: A ``tokenizers.Tokenizer`` (see :func:`lion_attn.convert.text.load_wordpiece`).
        texts: The documents (an empty one gives the embedding of ``[CLS] [SEP]``, as in sentence-transformers).
        max_tokens: Keep at most this many tokens per document; ``None`` keeps all for LION and cuts softmax
            models at their position table.
        batch_tokens: Padded tokens per batch.
        progress: Show a progress bar.
    """
    config = model.config  # type: ignore[attr-defined]
    if max_tokens is None and config.attn_type != "lion":
        max_tokens = config.max_position_embeddings
    # An empty text still has [CLS] and [SEP], and is embedded from them as sentence-transformers does.
    return embed_ids(model, tokenize(tokenizer, texts, max_tokens), batch_tokens=batch_tokens, progress=progress)
