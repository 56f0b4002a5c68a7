"""The one rule for adding to the layers' name registries (decays, feature maps): a non-empty name, a callable,
and no silent replacement."""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import Any, TypeVar

__all__ = ["add_to_registry"]

F = TypeVar("F", bound=Callable[..., Any])


def add_to_registry(table: MutableMapping[str, Any], kind: str, name: str, item: F, overwrite: bool = False) -> F:
    """Put ``item`` into ``table`` under ``name``.

    Args:
        table: The registry.
        kind: What the registry holds, for the error messages (``"decay"``, ``"feature map"``).
        name: The key.
        item: A callable.
        overwrite: Allow replacing an existing entry.

    Returns:
        ``item``, so callers can use this as a decorator body.

    Raises:
        TypeError: If ``name`` is not a non-empty string or ``item`` is not callable.
        ValueError: If ``name`` is taken and ``overwrite`` is False.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"{kind} name must be a non-empty str, got {name!r}")
    if not callable(item):
        raise TypeError(f"{kind} {name!r} must be callable, got {type(item).__name__}")
    if name in table and not overwrite:
        raise ValueError(f"{kind} {name!r} is already registered; pass overwrite=True to replace it")
    table[name] = item
    return item
