"""Model classes by architecture name, so a checkpoint's ``config.json`` names the class that rebuilds it."""

from __future__ import annotations

from typing import Any

__all__ = ["get_architecture", "known_architectures", "register_architecture", "register_architecture_alias"]

# architecture (class) name -> model class; filled by LionModelMixin.__init_subclass__ and by adapters.
_ARCHITECTURES: dict[str, Any] = {}


def register_architecture(model_class: type) -> None:
    """Record ``model_class`` under its class name (done for every concrete model class)."""
    _ARCHITECTURES[model_class.__name__] = model_class


def register_architecture_alias(name: str, model_class: type) -> None:
    """Let checkpoints whose ``architectures`` say ``name`` load as ``model_class`` (used by adapters)."""
    _ARCHITECTURES.setdefault(name, model_class)


def get_architecture(name: str) -> Any:
    """The model class recorded under ``name``, or None."""
    return _ARCHITECTURES.get(name)


def known_architectures() -> list[str]:
    """Sorted names of every recorded architecture."""
    return sorted(_ARCHITECTURES)
