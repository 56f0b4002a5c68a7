"""What every model family shares: a dataclass config that round-trips through JSON, run-time switching of
the attention form, and ``save_pretrained`` / ``from_pretrained`` on ``config.json`` + ``model.safetensors``.

LION (Afzal et al., NeurIPS 2025, arXiv 2502.16249) computes the same attention in a parallel, a chunkwise
and a recurrent form; parameters do not depend on the form, so a checkpoint trained in one form is loaded
and run in any other.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from lion_attn._version import __version__
from lion_attn.layers import ATTN_MODES, get_attn_modes, set_attn_mode

__all__ = [
    "ATTN_TYPES",
    "CONFIG_NAME",
    "VARIANTS",
    "WEIGHTS_NAME",
    "LionModelMixin",
    "ModelConfig",
    "load_pretrained",
    "read_config",
    "register_architecture_alias",
]

logger = logging.getLogger(__name__)

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
VARIANTS: tuple[str, ...] = ("lit", "d", "s")
ATTN_TYPES: tuple[str, ...] = ("lion", "softmax")

# Keys written next to the config fields in config.json; they describe the checkpoint, not the model.
_META_KEYS = ("family", "model_type", "architectures", "lion_attn_version", "torch_dtype", "dtype")
# Keys transformers' config base class writes (the optional lion_attn.hf adapter saves through it).
_HF_KEYS = (
    "transformers_version",
    "id2label",
    "label2id",
    "tie_word_embeddings",
    "output_hidden_states",
    "return_dict",
    "chunk_size_feed_forward",
    "is_encoder_decoder",
    "problem_type",
    "_name_or_path",
)

# architecture (class) name -> class, filled by ``LionModelMixin.__init_subclass__``.
_ARCHITECTURES: dict[str, type[LionModelMixin]] = {}

C = TypeVar("C", bound="ModelConfig")
M = TypeVar("M", bound="LionModelMixin")


def _library_version() -> str:
    return __version__


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


@dataclasses.dataclass
class ModelConfig:
    """Base of the per-family configs: validation in ``__post_init__``, JSON round trip, overrides.

    Subclasses set the class variable ``family`` (``"vit"``, ``"bert"``, ``"lra"``) and ``model_type``
    (the name written to ``config.json``, e.g. ``"lion_bert"``).
    """

    family: ClassVar[str] = ""
    model_type: ClassVar[str] = ""

    @classmethod
    def field_names(cls) -> list[str]:
        """Names of the config fields."""
        return [f.name for f in dataclasses.fields(cls)]

    def to_dict(self) -> dict[str, Any]:
        """The config fields as a JSON-serialisable dict (tuples become lists)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_dict(cls: type[C], data: dict[str, Any]) -> C:
        """Build a config from a dict of fields, ignoring the checkpoint metadata keys.

        Raises:
            ValueError: On a field this config does not have.
        """
        fields = {k: v for k, v in data.items() if k not in _META_KEYS and k not in _HF_KEYS}
        if "num_labels" in cls.field_names() and "num_labels" not in fields and data.get("id2label"):
            fields["num_labels"] = len(data["id2label"])
        unknown = sorted(set(fields) - set(cls.field_names()))
        if unknown:
            raise ValueError(f"unknown {cls.__name__} field(s) {unknown}; valid fields are {cls.field_names()}")
        return cls(**fields)

    def replace(self: C, **overrides: Any) -> C:
        """A copy with some fields changed (validated again).

        Raises:
            ValueError: On a field this config does not have.
        """
        unknown = sorted(set(overrides) - set(self.field_names()))
        if unknown:
            raise ValueError(f"unknown {type(self).__name__} field(s) {unknown}; valid fields are {self.field_names()}")
        return dataclasses.replace(self, **overrides)

    def _check_attention(self, variant: str, attn_type: str, attn_mode: str, chunk_size: int) -> None:
        check_choice("variant", variant, VARIANTS)
        check_choice("attn_type", attn_type, ATTN_TYPES)
        check_choice("attn_mode", attn_mode, ATTN_MODES)
        check_positive_int("chunk_size", chunk_size)


def _atomic_write(path: Path, write: Any) -> None:
    """Write through ``write(tmp_path)`` into a temporary file next to ``path``, then rename over it."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _unique_state_dict(module: nn.Module) -> tuple[dict[str, torch.Tensor], list[str]]:
    """The state dict without aliases: safetensors refuses tensors that share memory (tied weights).

    Returns:
        The tensors to save (the first name of each shared tensor, in state-dict order, made contiguous)
        and the names dropped as aliases (re-tied by the model's constructor on load).
    """
    kept: dict[str, torch.Tensor] = {}
    seen: dict[tuple[int, int, tuple[int, ...], torch.dtype], str] = {}
    dropped: list[str] = []
    for name, tensor in module.state_dict().items():
        key = (tensor.untyped_storage().data_ptr(), tensor.storage_offset(), tuple(tensor.shape), tensor.dtype)
        if tensor.numel() > 0 and key in seen:
            dropped.append(name)
            continue
        seen[key] = name
        kept[name] = tensor.detach().contiguous().cpu()
    return kept, dropped


def register_architecture_alias(name: str, model_class: type[LionModelMixin]) -> None:
    """Let checkpoints whose ``architectures`` say ``name`` load as ``model_class`` (used by adapters)."""
    _ARCHITECTURES.setdefault(name, model_class)


def _family_of(data: dict[str, Any]) -> str | None:
    family = data.get("family")
    if family is None and isinstance(data.get("model_type"), str) and data["model_type"].startswith("lion_"):
        # Directories saved through transformers carry model_type only.
        family = data["model_type"][len("lion_") :]
    return family


def read_config(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """Read ``config.json`` from a checkpoint directory.

    Raises:
        FileNotFoundError: If the directory has no ``config.json``.
    """
    path = Path(directory) / CONFIG_NAME
    if not path.is_file():
        raise FileNotFoundError(
            f"no {CONFIG_NAME} in {str(directory)!r}; expected a directory written by save_pretrained"
        )
    with path.open(encoding="utf-8") as f:
        return json.load(f)


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
            _ARCHITECTURES[cls.__name__] = cls

    def set_attn_mode(self, mode: str) -> None:
        """Switch every LION attention layer to ``mode`` (``"parallel"``, ``"chunk"`` or ``"recurrent"``).

        Parameters and ``state_dict`` are unchanged; softmax layers ignore the call. The config records the
        new mode, so a checkpoint saved afterwards is rebuilt in that form.

        Raises:
            ValueError: If ``mode`` is unknown.
        """
        assert isinstance(self, nn.Module)
        set_attn_mode(self, mode)
        self.config.attn_mode = mode  # type: ignore[attr-defined]

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
        tensors, dropped = _unique_state_dict(self)
        if dropped:
            logger.debug("not saving tied aliases %s", dropped)
        meta = {"format": "pt", "family": self.config.family, "architecture": type(self).__name__}
        _atomic_write(out / WEIGHTS_NAME, lambda tmp: save_file(tensors, tmp, metadata=meta))
        payload = {
            "family": self.config.family,
            "model_type": self.config.model_type,
            "architectures": [type(self).__name__],
            "lion_attn_version": _library_version(),
            **self.config.to_dict(),
        }
        text = json.dumps(payload, indent=2, sort_keys=False) + "\n"
        _atomic_write(out / CONFIG_NAME, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))

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
        family = _family_of(data)
        if family != cls.config_class.family:
            raise ValueError(
                f"{str(directory)!r} holds a {family!r} model ({', '.join(data.get('architectures') or ['?'])}); "
                f"{cls.__name__} loads {cls.config_class.family!r} checkpoints (use lion_attn.models.load_pretrained "
                "to load any family)"
            )
        config = cls.config_class.from_dict(data)
        model = cls(config)  # type: ignore[call-arg]
        assert isinstance(model, nn.Module)
        weights = Path(directory) / WEIGHTS_NAME
        if not weights.is_file():
            raise FileNotFoundError(f"no {WEIGHTS_NAME} in {str(directory)!r}")
        state = load_file(str(weights), device=str(map_location))
        _, aliases = _unique_state_dict(model)
        same_class = any(_ARCHITECTURES.get(n) is cls for n in data.get("architectures") or [])
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
        if name in _ARCHITECTURES:
            return _ARCHITECTURES[name].from_pretrained(directory, map_location=map_location)  # type: ignore[return-value]
    raise ValueError(
        f"{str(directory)!r} names architectures {names} (family {data.get('family')!r}); "
        f"known: {sorted(_ARCHITECTURES)}"
    )
