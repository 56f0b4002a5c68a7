"""What every model class shares: run-time switching of the attention form, and ``save_pretrained`` /
``from_pretrained`` on ``config.json`` + ``model.safetensors``.

LION (Afzal et al., NeurIPS 2025, arXiv 2502.16249) computes the same attention in a parallel, a chunkwise and a
recurrent form; parameters do not depend on the form, so a checkpoint trained in one form is loaded and run in any
other. The pieces live in small modules: the config base (:mod:`~lion_attn.models.config`) and its validators
(:mod:`~lion_attn.models.checks`), the attention config (:mod:`~lion_attn.models.attention_config`), file names and
atomic writes (:mod:`~lion_attn.models.files`), safetensors' aliasing rule (:mod:`~lion_attn.models.tensors`), the
classes by architecture name (:mod:`~lion_attn.models.architectures`) and the metadata keys of ``config.json``
(:mod:`~lion_attn.models.checkpoint_keys`).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from lion_attn._version import __version__
from lion_attn.layers import get_attn_modes, set_attn_mode
from lion_attn.models.architectures import (
    get_architecture,
    known_architectures,
    register_architecture,
    register_architecture_alias,
)
from lion_attn.models.checkpoint_keys import family_of

# Names re-exported for code that imported them from here before the split.
from lion_attn.models.checks import check_choice, check_divisible, check_positive_int, check_probability
from lion_attn.models.config import ModelConfig
from lion_attn.models.files import CONFIG_NAME, WEIGHTS_NAME, atomic_write, read_config
from lion_attn.models.tensors import unique_state_dict

__all__ = [
    "CONFIG_NAME",
    "WEIGHTS_NAME",
    "LionModelMixin",
    "ModelConfig",
    "check_choice",
    "check_divisible",
    "check_positive_int",
    "check_probability",
    "load_pretrained",
    "read_config",
    "register_architecture_alias",
]

logger = logging.getLogger(__name__)

M = TypeVar("M", bound="LionModelMixin")


class LionModelMixin:
    """Mixin for every model class: ``config``, ``set_attn_mode``, ``save_pretrained``, ``from_pretrained``.

    Subclasses set ``config_class`` and build everything from ``self.config``. Every concrete subclass is
    recorded by class name, so :func:`load_pretrained` can rebuild any checkpoint.
    """

    config_class: ClassVar[type[ModelConfig]]
    config: ModelConfig

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "config_class" in cls.__dict__:
            register_architecture(cls)

    def checked_config(self, config: Any) -> Any:
        """Return ``config`` if it is an instance of this class's ``config_class``, else raise ``TypeError``."""
        if not isinstance(config, self.config_class):
            raise TypeError(f"config must be a {self.config_class.__name__}, got {type(config).__name__}")
        return config

    def set_attn_mode(self, mode: str) -> None:
        """Switch every LION attention layer to ``mode`` (``"parallel"``, ``"chunk"`` or ``"recurrent"``).

        Parameters and ``state_dict`` are unchanged; softmax layers ignore the call. The config records the
        new mode, so a checkpoint saved afterwards is rebuilt in that form.

        Raises:
            ValueError: If ``mode`` is unknown.
        """
        assert isinstance(self, nn.Module)
        set_attn_mode(self, mode)
        self.config.attention.mode = mode

    @property
    def attn_modes(self) -> set[str]:
        """The forms in use by the attention layers (``{"softmax"}`` for the softmax baseline)."""
        assert isinstance(self, nn.Module)
        return get_attn_modes(self)

    def num_parameters(self, trainable_only: bool = False) -> int:
        """Number of parameters (tied weights counted once)."""
        assert isinstance(self, nn.Module)
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    def save_pretrained(self, directory: str | os.PathLike[str]) -> None:
        """Write ``config.json`` and ``model.safetensors`` into ``directory`` (created if needed).

        Each file is written to a temporary name and renamed into place, weights first, so an interrupted
        save never leaves a config pointing at partial weights. Tied weights are stored once.
        """
        assert isinstance(self, nn.Module)
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        tensors, dropped = unique_state_dict(self)
        if dropped:
            logger.debug("not saving tied aliases %s", dropped)
        meta = {"format": "pt", "family": self.config.family, "architecture": type(self).__name__}
        atomic_write(out / WEIGHTS_NAME, lambda tmp: save_file(tensors, tmp, metadata=meta))
        payload = {
            "family": self.config.family,
            "model_type": self.config.model_type,
            "architectures": [type(self).__name__],
            "lion_attn_version": __version__,
            **self.config.to_dict(),
        }
        text = json.dumps(payload, indent=2, sort_keys=False) + "\n"
        atomic_write(out / CONFIG_NAME, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))

    @classmethod
    def from_pretrained(cls: type[M], directory: str | os.PathLike[str], map_location: str | torch.device = "cpu") -> M:
        """Rebuild a model from a directory written by :meth:`save_pretrained`.

        Loading a checkpoint of another class of the same family (e.g. a ``LionForMaskedLM`` checkpoint into
        ``LionForSequenceClassification``) loads the shared weights and leaves the rest freshly initialised,
        with a log line naming them.

        Args:
            directory: The checkpoint directory.
            map_location: Device for the weights.

        Raises:
            FileNotFoundError: If the directory lacks ``config.json`` or ``model.safetensors``.
            ValueError: If the checkpoint belongs to another model family.
        """
        data = read_config(directory)
        family = family_of(data)
        if family != cls.config_class.family:
            raise ValueError(
                f"{str(directory)!r} holds a {family!r} model ({', '.join(data.get('architectures') or ['?'])}); "
                f"{cls.__name__} loads {cls.config_class.family!r} checkpoints (use lion_attn.models.load_pretrained "
                "to load any family)"
            )
        config = cls.config_class.from_dict(data)
        # Every concrete model class takes its config as the one constructor argument.
        model = cls(config)  # type: ignore[call-arg]
        assert isinstance(model, nn.Module)
        weights = Path(directory) / WEIGHTS_NAME
        if not weights.is_file():
            raise FileNotFoundError(f"no {WEIGHTS_NAME} in {str(directory)!r}")
        state = load_file(str(weights), device=str(map_location))
        _, aliases = unique_state_dict(model)
        same_class = any(get_architecture(n) is cls for n in data.get("architectures") or [])
        result = model.load_state_dict(state, strict=False)
        missing = [k for k in result.missing_keys if k not in aliases]
        if same_class and (missing or result.unexpected_keys):
            raise ValueError(
                f"checkpoint in {str(directory)!r} does not match {cls.__name__}: missing {missing}, "
                f"unexpected {result.unexpected_keys}"
            )
        if missing or result.unexpected_keys:
            logger.warning(
                "loaded %s from a %s checkpoint: newly initialised %s; unused %s",
                cls.__name__,
                data.get("architectures"),
                missing,
                result.unexpected_keys,
            )
        model.to(map_location)
        return model


def load_pretrained(directory: str | os.PathLike[str], map_location: str | torch.device = "cpu") -> nn.Module:
    """Rebuild any lion-attn model from its checkpoint directory, whatever its family and class.

    Raises:
        ValueError: If ``config.json`` names no architecture this library knows.
    """
    data = read_config(directory)
    names = data.get("architectures") or []
    for name in names:
        model_class = get_architecture(name)
        if model_class is not None:
            model: nn.Module = model_class.from_pretrained(directory, map_location=map_location)
            return model
    raise ValueError(
        f"{str(directory)!r} names architectures {names} (family {data.get('family')!r}); "
        f"known: {known_architectures()}"
    )
