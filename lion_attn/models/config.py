"""The base of the per-family model configs: a dataclass that validates itself, round-trips through JSON, and
accepts the flat attention fields of older checkpoints and code."""

from __future__ import annotations

import dataclasses
import json
from typing import Any, ClassVar, TypeVar

from lion_attn.models.attention_config import (
    LEGACY_ATTENTION_FIELDS,
    LionAttentionConfig,
    fold_legacy_attention_fields,
)
from lion_attn.models.checkpoint_keys import HF_KEYS, META_KEYS

__all__ = ["ModelConfig"]

C = TypeVar("C", bound="ModelConfig")


class _AcceptsLegacyFields(type):
    """Metaclass folding legacy flat attention keywords (``variant=``, ``attn_mode=``, ...) into ``attention``
    before the dataclass constructor sees them, so ``LionViTConfig(variant="d")`` keeps working."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        return super().__call__(*args, **fold_legacy_attention_fields(kwargs))


@dataclasses.dataclass
class ModelConfig(metaclass=_AcceptsLegacyFields):
    """Base of the per-family configs: validation in ``__post_init__``, JSON round trip, overrides.

    Subclasses set the class variables ``family`` (``"vit"``, ``"bert"``, ``"lra"``) and ``model_type`` (the name
    written to ``config.json``, e.g. ``"lion_bert"``), and hold their attention options in a field
    ``attention: LionAttentionConfig``. The older flat spellings of those options (:data:`LEGACY_ATTENTION_FIELDS`,
    e.g. ``attn_mode`` or BERT's ``lion_variant``) are accepted as constructor keywords, by :meth:`from_dict`, by
    :meth:`replace`, and for reading and setting attributes.
    """

    family: ClassVar[str] = ""
    model_type: ClassVar[str] = ""
    # Whether the two-scan image variant makes sense for this family (it needs a patch grid).
    supports_two_scan: ClassVar[bool] = False

    attention: LionAttentionConfig = dataclasses.field(default_factory=LionAttentionConfig)

    def _check_attention(self) -> None:
        """Checks of the attention that depend on the family (the attention config validated itself).

        Also gives this config its own copy of ``attention``: presets share one, and ``set_attn_mode`` changes
        the copy of the model it is called on.
        """
        if not isinstance(self.attention, LionAttentionConfig):
            raise TypeError(f"attention must be a LionAttentionConfig or a dict, got {type(self.attention).__name__}")
        self.attention = dataclasses.replace(self.attention)
        if self.attention.two_scan and not self.supports_two_scan:
            raise ValueError(f"two_scan is the image variant; {type(self).__name__} has no patch grid")

    @classmethod
    def field_names(cls) -> list[str]:
        """Names of the config fields."""
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def _check_names(cls, names: Any) -> None:
        unknown = sorted(set(names) - set(cls.field_names()) - set(LEGACY_ATTENTION_FIELDS))
        if unknown:
            raise ValueError(f"unknown {cls.__name__} field(s) {unknown}; valid fields are {cls.field_names()}")

    def to_dict(self) -> dict[str, Any]:
        """The config fields as a JSON-serialisable dict (``attention`` nested; tuples become lists)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_dict(cls: type[C], data: dict[str, Any]) -> C:
        """Build a config from a dict of fields, ignoring the checkpoint metadata keys.

        Flat attention fields of older checkpoints (``lion_variant``, ``attn_mode``, ...) are folded into
        ``attention``.

        Raises:
            ValueError: On a field this config does not have.
        """
        fields = {k: v for k, v in data.items() if k not in META_KEYS and k not in HF_KEYS}
        if "num_labels" in cls.field_names() and "num_labels" not in fields and data.get("id2label"):
            fields["num_labels"] = len(data["id2label"])
        cls._check_names(fields)
        return cls(**fields)

    def replace(self: C, **overrides: Any) -> C:
        """A copy with some fields changed (validated again); flat attention names change ``attention``.

        Raises:
            ValueError: On a field this config does not have.
        """
        self._check_names(overrides)
        if "attention" not in overrides and any(name in LEGACY_ATTENTION_FIELDS for name in overrides):
            overrides["attention"] = self.attention
        return dataclasses.replace(self, **fold_legacy_attention_fields(overrides))

    def __getattr__(self, name: str) -> Any:
        # Only reached when normal lookup fails: read a legacy flat name from the nested attention config.
        field = LEGACY_ATTENTION_FIELDS.get(name)
        attention = self.__dict__.get("attention")
        if field is None or attention is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return getattr(attention, field)

    def __setattr__(self, name: str, value: Any) -> None:
        field = LEGACY_ATTENTION_FIELDS.get(name)
        if field is not None and "attention" in self.__dict__:
            # Through replace, so the new value is validated like any other.
            self.attention = self.attention.replace(**{field: value})
        else:
            super().__setattr__(name, value)
