"""Validators shared by the model configs: each raises a ``ValueError`` naming the field and what it expected."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["check_choice", "check_divisible", "check_positive_int", "check_probability"]


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``value`` is one of ``choices``."""
    choices = list(choices)
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; expected one of {choices}")


def check_positive_int(name: str, value: Any) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``value`` is a positive int."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


def check_probability(name: str, value: Any) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``0 <= value < 1``."""
    if not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {value!r}")


def check_divisible(dim_name: str, dim: int, heads_name: str, heads: int) -> None:
    """Raise ``ValueError`` unless ``dim`` is divisible by ``heads``."""
    if dim % heads != 0:
        raise ValueError(f"{dim_name} ({dim}) must be divisible by {heads_name} ({heads})")
