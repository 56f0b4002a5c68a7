from __future__ import annotations

import pytest
import torch

from lion_attn.data.mlm import IGNORE_INDEX, mask_tokens, pack_sequences

CLS, SEP, PAD, MASK = 2, 3, 0, 4
SPECIAL = (0, 1, 2, 3, 4)


def test_pack_sequences_layout():
    docs = [[10, 11, 12], [], [20, 21], [30, 31, 32, 33, 34]]
    blocks = pack_sequences(docs, block_size=4, cls_id=CLS, sep_id=SEP)
    # Stream: 10 11 12 SEP 20 21 SEP 30 31 32 33 34 SEP (13 tokens) -> 4 full pieces of 3.
    assert blocks.dtype == torch.long and blocks.shape == (4, 4)
    assert blocks.tolist() == [
        [CLS, 10, 11, 12],
        [CLS, SEP, 20, 21],
        [CLS, SEP, 30, 31],
        [CLS, 32, 33, 34],
    ]


def test_pack_sequences_keeps_last_block_with_pad():
    blocks = pack_sequences([[10, 11, 12, 13]], block_size=4, cls_id=CLS, sep_id=SEP, pad_id=PAD)
    assert blocks.tolist() == [[CLS, 10, 11, 12], [CLS, 13, SEP, PAD]]


def test_pack_sequences_too_short_and_bad_size():
    assert pack_sequences([[1, 2]], block_size=8, cls_id=CLS, sep_id=SEP).shape == (0, 8)
    with pytest.raises(ValueError, match="block_size"):
        pack_sequences([[1]], block_size=1, cls_id=CLS, sep_id=SEP)


def test_pack_sequences_uses_every_token_once():
    docs = [list(range(100 + 10 * i, 100 + 10 * i + n)) for i, n in enumerate([7, 1, 9, 4, 6])]
    blocks = pack_sequences(docs, block_size=6, cls_id=CLS, sep_id=SEP, pad_id=PAD)
    body = blocks[:, 1:].reshape(-1)
    tokens = body[body >= 100].tolist()
    assert tokens == [t for doc in docs for t in doc]
    assert (blocks[:, 0] == CLS).all() and int((body == SEP).sum()) == len(docs)


def _batch(vocab_size=1000, shape=(200, 512), seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, vocab_size, shape, generator=g)
    ids[:, 0] = CLS
    ids[:, -shape[1] // 8 :] = PAD
    ids[:, shape[1] // 2] = SEP
    return ids


def test_mask_rates_80_10_10():
    vocab_size = 1000
    ids = _batch(vocab_size)
    inputs, labels = mask_tokens(
        ids, mask_id=MASK, vocab_size=vocab_size, special_ids=SPECIAL, generator=torch.Generator().manual_seed(1)
    )
    selected = labels != IGNORE_INDEX
    regular = ~torch.isin(ids, torch.tensor(SPECIAL))
    n_sel = int(selected.sum())
    # ~94k regular tokens: binomial standard deviations are about 0.1 percentage points.
    assert abs(n_sel / int(regular.sum()) - 0.15) < 0.005
    assert torch.equal(labels[selected], ids[selected])
    masked = selected & (inputs == MASK)
    kept = selected & (inputs == ids)
    replaced = selected & (inputs != MASK) & (inputs != ids)
    assert abs(int(masked.sum()) / n_sel - 0.8) < 0.015
    assert abs(int(kept.sum()) / n_sel - 0.1) < 0.01
    assert abs(int(replaced.sum()) / n_sel - 0.1) < 0.01
    assert not torch.isin(inputs[replaced], torch.tensor(SPECIAL)).any()
    assert int(inputs[replaced].max()) < vocab_size
    # Positions not selected are untouched; specials and pads are never selected.
    assert torch.equal(inputs[~selected], ids[~selected])
    assert not selected[~regular].any()


def test_mask_is_dynamic_and_reproducible():
    ids = _batch(shape=(4, 64))
    kwargs = {"mask_id": MASK, "vocab_size": 1000, "special_ids": SPECIAL}
    g = torch.Generator().manual_seed(5)
    first, second = mask_tokens(ids, generator=g, **kwargs), mask_tokens(ids, generator=g, **kwargs)
    assert not torch.equal(first[1], second[1])
    again = mask_tokens(ids, generator=torch.Generator().manual_seed(5), **kwargs)
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])


def test_mask_does_not_modify_input_and_validates():
    ids = _batch(shape=(2, 32))
    copy = ids.clone()
    mask_tokens(ids, mask_id=MASK, vocab_size=1000, special_ids=SPECIAL, mask_prob=1.0)
    assert torch.equal(ids, copy)
    with pytest.raises(TypeError, match="LongTensor"):
        mask_tokens(ids.int(), mask_id=MASK, vocab_size=1000, special_ids=SPECIAL)
    with pytest.raises(ValueError, match="mask_prob"):
        mask_tokens(ids, mask_id=MASK, vocab_size=1000, special_ids=SPECIAL, mask_prob=0.0)
