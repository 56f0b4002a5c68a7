"""The attention part of every model config, in one dataclass validated once: which attention (LION or the
softmax baseline), which LION variant (Afzal et al., NeurIPS 2025, arXiv 2502.16249), which form, and its options.

The ViT, BERT and LRA configs each hold one :class:`LionAttentionConfig` in their ``attention`` field. Checkpoints
and code written before it existed spelled these options as flat fields of the model config (``attn_type``,
``variant`` or BERT's ``lion_variant``, ``attn_mode``, ``chunk_size``, ...); :data:`LEGACY_ATTENTION_FIELDS` maps
those names onto this config, and the model configs accept them when built or loaded.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from lion_attn.layers import ATTN_LAYERS, DECAY_INITS, list_decays, list_feature_maps
from lion_attn.layers.learned_feature_maps import LEARNED_FEATURE_MAPS
from lion_attn.models.checks import check_choice
from lion_attn.ops.inputs import check_chunk_size, check_mode

__all__ = ["LEGACY_ATTENTION_FIELDS", "LionAttentionConfig", "fold_legacy_attention_fields"]


@dataclasses.dataclass
class LionAttentionConfig:
    """How every block of a model attends.

    Attributes:
        kind: ``"lion"`` or ``"softmax"`` (the like-for-like baseline); a key of
            :data:`lion_attn.layers.ATTN_LAYERS`. The fields below except ``qkv_bias`` only matter for LION.
        variant: LION variant, ``"lit"``, ``"d"`` or ``"s"`` (a name of :func:`lion_attn.layers.list_decays`).
        mode: Initial form, one of :data:`lion_attn.ops.MODES`; models switch it with ``set_attn_mode``.
        two_scan: The two-scan image variant (vision models only; LION-D or LION-S).
        chunk_size: Chunk length of the chunkwise form.
        decay_init: A key of :data:`lion_attn.layers.DECAY_INITS` (``"paper"``, ``"long"``, ...).
        feature_map: Feature map name, or ``None`` for the variant's default.
        eps: Added to LION's normaliser.
        qkv_bias: Bias in the q/k/v projection.
    """

    kind: str = "lion"
    variant: str = "s"
    mode: str = "parallel"
    two_scan: bool = False
    chunk_size: int = 64
    decay_init: str = "paper"
    feature_map: str | None = None
    eps: float = 1e-6
    qkv_bias: bool = True

    def __post_init__(self) -> None:
        check_choice("attention kind", self.kind, ATTN_LAYERS)
        check_choice("variant", self.variant, list_decays())
        check_mode(self.mode)
        check_chunk_size(self.chunk_size)
        check_choice("decay_init", self.decay_init, DECAY_INITS)
        if self.feature_map is not None:
            check_choice("feature_map", self.feature_map, [*list_feature_maps(), *LEARNED_FEATURE_MAPS])
        if isinstance(self.eps, bool) or not isinstance(self.eps, (int, float)) or self.eps < 0:
            raise ValueError(f"eps must be a number >= 0, got {self.eps!r}")
        for name in ("two_scan", "qkv_bias"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be a bool, got {getattr(self, name)!r}")
        if self.two_scan and (self.kind != "lion" or self.variant == "lit"):
            raise ValueError(
                "two_scan needs LION attention with variant 'd' or 's' (without decay both scans are identical)"
            )

    @property
    def is_lion(self) -> bool:
        """Whether the blocks use LION attention (rather than the softmax baseline)."""
        return self.kind == "lion"

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-serialisable dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LionAttentionConfig:
        """Build from a dict of fields (missing ones take their defaults).

        Raises:
            ValueError: On a name that is not a field.
        """
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise ValueError(f"unknown LionAttentionConfig field(s) {unknown}; valid fields are {names}")
        return cls(**data)

    def replace(self, **changes: Any) -> LionAttentionConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def block_kwargs(self, **lion_extra: Any) -> dict[str, Any]:
        """Keywords for :class:`lion_attn.layers.Block` (and through it for the attention layer).

        Args:
            **lion_extra: Further LION-only keywords (e.g. the two-scan grid), dropped for the softmax baseline.

        Returns:
            ``attn_type`` and ``qkv_bias``, plus, for LION, ``variant, mode, chunk_size, decay_init, feature_map,
            eps, two_scan`` and ``lion_extra``.
        """
        kwargs: dict[str, Any] = {"attn_type": self.kind, "qkv_bias": self.qkv_bias}
        if self.is_lion:
            kwargs.update(
                variant=self.variant,
                mode=self.mode,
                chunk_size=self.chunk_size,
                decay_init=self.decay_init,
                feature_map=self.feature_map,
                eps=self.eps,
                two_scan=self.two_scan,
                **lion_extra,
            )
        return kwargs


# Flat model-config field names used before the nested config -> the LionAttentionConfig field they mean.
LEGACY_ATTENTION_FIELDS: dict[str, str] = {
    "attn_type": "kind",
    "variant": "variant",
    "lion_variant": "variant",
    "attn_mode": "mode",
    "two_scan": "two_scan",
    "chunk_size": "chunk_size",
    "decay_init": "decay_init",
    "feature_map": "feature_map",
    "attn_eps": "eps",
    "qkv_bias": "qkv_bias",
}


def fold_legacy_attention_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Turn a model config's keyword fields with legacy flat attention names into ones with ``attention`` only.

    ``attention`` may be given as a :class:`LionAttentionConfig` or as a dict (as read from ``config.json``); flat
    names are applied on top of it (or of the defaults).

    Args:
        fields: Keyword fields of a model config.

    Returns:
        A new dict without flat attention names, whose ``attention`` (if any was given) is a LionAttentionConfig.

    Raises:
        ValueError: If two flat names set the same field (``variant`` and ``lion_variant``) to different values.
    """
    out = dict(fields)
    flat: dict[str, Any] = {}
    for old, new in LEGACY_ATTENTION_FIELDS.items():
        if old not in out:
            continue
        value = out.pop(old)
        if new in flat and flat[new] != value:
            raise ValueError(f"conflicting values for attention.{new}: {flat[new]!r} and {old}={value!r}")
        flat[new] = value
    attention = out.get("attention")
    if isinstance(attention, dict):
        attention = LionAttentionConfig.from_dict(attention)
    if flat:
        attention = (attention if attention is not None else LionAttentionConfig()).replace(**flat)
    if attention is not None:
        out["attention"] = attention
    return out
