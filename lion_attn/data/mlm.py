"""Masked-language-model inputs: sequence packing and BERT's dynamic 80/10/10 masking (Devlin et al., 2019)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch

__all__ = ["IGNORE_INDEX", "mask_tokens", "pack_sequences"]

#: Label of positions that are not predicted (the default ``ignore_index`` of ``torch.nn.CrossEntropyLoss``).
IGNORE_INDEX = -100


def pack_sequences(
    token_id_docs: Iterable[Sequence[int]],
    block_size: int,
    cls_id: int,
    sep_id: int,
    *,
    pad_id: int | None = None,
) -> torch.Tensor:
    """Pack documents into fixed-length blocks.

    Documents are concatenated, each followed by ``sep_id``, and the stream is cut into pieces of
    ``block_size - 1`` tokens, each prefixed with ``cls_id``; no padding is wasted and documents may span blocks.

    Args:
        token_id_docs: documents as sequences of token ids (no special tokens). Empty documents are skipped.
        block_size: tokens per block including the leading CLS (>= 2).
        cls_id: id put at position 0 of every block.
        sep_id: id appended after every document.
        pad_id: if None, the final incomplete block is dropped; otherwise it is kept and padded with ``pad_id``.

    Returns:
        LongTensor [N, block_size]; N may be 0 when there are fewer than ``block_size - 1`` tokens in total and
        ``pad_id`` is None.
    """
    if block_size < 2:
        raise ValueError(f"block_size must be >= 2, got {block_size}")
    stream: list[int] = []
    for doc in token_id_docs:
        if len(doc):
            stream.extend(int(t) for t in doc)
            stream.append(sep_id)
    body = block_size - 1
    n_full, rest = divmod(len(stream), body)
    if rest and pad_id is not None:
        stream.extend([pad_id] * (body - rest))
        n_full += 1
    if n_full == 0:
        return torch.empty(0, block_size, dtype=torch.long)
    tokens = torch.tensor(stream[: n_full * body], dtype=torch.long).view(n_full, body)
    cls_column = torch.full((n_full, 1), cls_id, dtype=torch.long)
    return torch.cat([cls_column, tokens], dim=1)


def mask_tokens(
    input_ids: torch.Tensor,
    *,
    mask_id: int,
    vocab_size: int,
    special_ids: Iterable[int],
    mask_prob: float = 0.15,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Choose positions to predict and corrupt them as in BERT.

    Each non-special position is selected with probability ``mask_prob``. Of the selected positions, 80% become
    ``mask_id``, 10% a random non-special token and 10% keep their token. Call it per batch for dynamic masking:
    every call draws anew; a given ``generator`` state gives the same result.

    Args:
        input_ids: LongTensor of any shape, e.g. [B, T]; not modified.
        mask_id: id of [MASK].
        vocab_size: number of token ids; random replacements are drawn from ids not in ``special_ids``.
        special_ids: ids never selected (include the pad id: padding is never predicted).
        mask_prob: selection probability in (0, 1].
        generator: optional torch.Generator on the device of ``input_ids``.

    Returns:
        ``(inputs, labels)``, both shaped like ``input_ids``: corrupted inputs, and labels holding the original id
        at selected positions and ``IGNORE_INDEX`` (-100) elsewhere.
    """
    if input_ids.dtype != torch.long:
        raise TypeError(f"input_ids must be a LongTensor, got {input_ids.dtype}")
    if not 0.0 < mask_prob <= 1.0:
        raise ValueError(f"mask_prob must be in (0, 1], got {mask_prob}")
    device = input_ids.device
    special = torch.tensor(sorted(set(special_ids)), dtype=torch.long, device=device)
    regular = torch.ones(vocab_size, dtype=torch.bool, device=device)
    regular[special[special < vocab_size]] = False
    replacements = regular.nonzero().squeeze(1)
    if replacements.numel() == 0:
        raise ValueError("every id is special: no token can be used as a random replacement")

    def uniform() -> torch.Tensor:
        return torch.rand(input_ids.shape, generator=generator, device=device)

    selected = (uniform() < mask_prob) & ~torch.isin(input_ids, special)
    labels = torch.where(selected, input_ids, torch.full_like(input_ids, IGNORE_INDEX))
    split = uniform()
    to_mask = selected & (split < 0.8)
    to_random = selected & (split >= 0.8) & (split < 0.9)
    random_ids = replacements[torch.randint(replacements.numel(), input_ids.shape, generator=generator, device=device)]
    inputs = torch.where(to_mask, torch.full_like(input_ids, mask_id), input_ids)
    inputs = torch.where(to_random, random_ids, inputs)
    return inputs, labels
