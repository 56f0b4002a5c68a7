"""Small helpers for the model tests (shared by nothing in the library)."""

from __future__ import annotations

import torch
from torch import Tensor

from lion_attn.ops import MODES

# Vocabulary sizes of the tiny BERT and LRA configs in conftest.py (the tests draw token ids below them).
BERT_VOCAB = 50
LRA_VOCAB = 20


def rel_err(actual: Tensor, expected: Tensor) -> float:
    """Largest absolute difference relative to the largest magnitude of ``expected``."""
    return ((actual - expected).abs().max() / expected.abs().max().clamp_min(1e-30)).item()


def assert_modes_agree(run, model, tol: float) -> None:
    """Run ``run(model)`` in every form and check each against the parallel form."""
    outputs = {}
    for mode in MODES:
        model.set_attn_mode(mode)
        assert model.attn_modes == {mode}
        outputs[mode] = run(model)
    for mode in MODES[1:]:
        err = rel_err(outputs[mode], outputs["parallel"])
        assert err < tol, f"{mode} vs parallel: relative error {err:.3e} >= {tol:.0e}"
    model.set_attn_mode("parallel")


def padded_batch(vocab: int, lengths: list[int], total: int, side: list[str], seed: int = 0):
    """Token ids [B, total] with real tokens in ids 1..vocab-1 and pads (0) placed left, right or in the middle."""
    gen = torch.Generator().manual_seed(seed)
    ids = torch.zeros(len(lengths), total, dtype=torch.long)
    mask = torch.zeros(len(lengths), total, dtype=torch.bool)
    for b, (n, where) in enumerate(zip(lengths, side, strict=True)):
        real = torch.randint(1, vocab, (n,), generator=gen)
        if where == "left":
            positions = torch.arange(total - n, total)
        elif where == "right":
            positions = torch.arange(n)
        else:
            half = n // 2
            positions = torch.cat([torch.arange(half), torch.arange(total - (n - half), total)])
        ids[b, positions] = real
        mask[b, positions] = True
    return ids, mask
