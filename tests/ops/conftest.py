"""Fixtures of the op tests: every freshly allocated buffer is poisoned, so a form that reads memory it never
wrote fails loudly instead of passing by luck (fresh pages are usually zeros, which hides the bug)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import torch

from tests.devices import device  # noqa: F401  (the shared fixture: tests taking ``device`` run on every device)

_ORIGINALS = {
    "empty": torch.empty,
    "empty_like": torch.empty_like,
    "empty_strided": torch.empty_strided,
    "new_empty": torch.Tensor.new_empty,
    "new_empty_strided": torch.Tensor.new_empty_strided,
}


def poison(t: torch.Tensor) -> torch.Tensor:
    """Fill ``t`` in place with NaN (floating dtypes) or the dtype's minimum (integers); bool is left alone."""
    with torch.no_grad():
        if t.dtype.is_floating_point or t.dtype.is_complex:
            t.fill_(float("nan"))
        elif t.dtype != torch.bool:
            t.fill_(torch.iinfo(t.dtype).min)
    return t


def _poisoned(alloc: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    def wrapper(*args: object, **kwargs: object) -> torch.Tensor:
        return poison(alloc(*args, **kwargs))

    wrapper.__wrapped__ = alloc  # type: ignore[attr-defined]
    return wrapper


@pytest.fixture(autouse=True)
def poison_empty(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Make ``torch.empty``, ``torch.empty_like``, ``torch.empty_strided``, ``Tensor.new_empty`` and
    ``Tensor.new_empty_strided`` return NaN-filled tensors for the duration of each op test."""
    for name in ("empty", "empty_like", "empty_strided"):
        monkeypatch.setattr(torch, name, _poisoned(_ORIGINALS[name]))
    for name in ("new_empty", "new_empty_strided"):
        monkeypatch.setattr(torch.Tensor, name, _poisoned(_ORIGINALS[name]))
    yield
