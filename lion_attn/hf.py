"""Optional Hugging Face adapter (extra ``[hf]``): the LION BERT-style models (Afzal et al., NeurIPS 2025,
arXiv 2502.16249) as transformers ``PreTrainedModel`` classes registered with the Auto classes.

Importing this module registers ``model_type = "lion_bert"`` with ``AutoConfig``, ``AutoModel``,
``AutoModelForMaskedLM`` and ``AutoModelForSequenceClassification``, so a directory written by
:meth:`lion_attn.models.LionForMaskedLM.save_pretrained` loads with
``AutoModelForMaskedLM.from_pretrained(directory)``. The wrappers hold the very same submodules as the
pure-PyTorch models (identical parameter names), so checkpoints are shared both ways. Written against
transformers 5.x (dataclass configs, ``_tied_weights_keys`` as a ``{target: source}`` dict).

Nothing else in lion-attn imports this module.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from torch import Tensor, nn
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForMaskedLM,
    AutoModelForSequenceClassification,
    PreTrainedConfig,
    PreTrainedModel,
)
from transformers.modeling_outputs import BaseModelOutput, MaskedLMOutput, SequenceClassifierOutput

from lion_attn.models.attention_config import LEGACY_ATTENTION_FIELDS
from lion_attn.models.base import register_architecture_alias
from lion_attn.models.bert import LionBertConfig, LionBertModel, LionForMaskedLM, LionForSequenceClassification
from lion_attn.models.encoder import init_weights

__all__ = [
    "LionBertHFConfig",
    "LionBertHFForMaskedLM",
    "LionBertHFForSequenceClassification",
    "LionBertHFModel",
    "LionBertHFPreTrainedModel",
    "register",
]

# Fields transformers' base config already owns (``num_labels`` is derived from ``id2label`` there).
_BASE_OWNED = {"num_labels"}


def _hf_config_namespace() -> dict[str, Any]:
    """Class namespace mirroring :class:`LionBertConfig`'s fields and defaults, so the two never drift apart."""
    annotations: dict[str, Any] = {}
    namespace: dict[str, Any] = {"model_type": "lion_bert", "__annotations__": annotations}
    for field in dataclasses.fields(LionBertConfig):
        if field.name in _BASE_OWNED:
            continue
        annotations[field.name] = field.type
        if field.name == "attention":
            # Kept as a plain dict (JSON as written by save_pretrained); LionBertConfig validates it.
            annotations[field.name] = "dict"
            namespace[field.name] = dataclasses.field(default_factory=lambda: LionBertConfig().attention.to_dict())
        else:
            namespace[field.name] = field.default
    annotations["tie_word_embeddings"] = "bool"
    namespace["tie_word_embeddings"] = True
    namespace["__doc__"] = (
        "transformers configuration of the LION BERT-style models: the fields of "
        ":class:`lion_attn.models.LionBertConfig` (validated by it when a model is built)."
    )
    namespace["__module__"] = __name__
    return namespace


LionBertHFConfig: type[PreTrainedConfig] = type("LionBertHFConfig", (PreTrainedConfig,), _hf_config_namespace())


def to_lion_config(config: PreTrainedConfig) -> LionBertConfig:
    """Convert a :data:`LionBertHFConfig` into the pure-PyTorch :class:`LionBertConfig` (validating it)."""
    values = {f.name: getattr(config, f.name) for f in dataclasses.fields(LionBertConfig) if f.name not in _BASE_OWNED}
    # Directories written before the nested attention config carry flat fields (``lion_variant``, ...), which
    # transformers keeps as plain attributes; they override the default attention.
    values.update({name: value for name, value in vars(config).items() if name in LEGACY_ATTENTION_FIELDS})
    return LionBertConfig(**values, num_labels=config.num_labels or 2)


def from_lion_config(config: LionBertConfig) -> PreTrainedConfig:
    """Convert a :class:`LionBertConfig` into a :data:`LionBertHFConfig`."""
    values = {k: v for k, v in dataclasses.asdict(config).items() if k not in _BASE_OWNED}
    return LionBertHFConfig(**values, num_labels=config.num_labels)


class LionBertHFPreTrainedModel(PreTrainedModel):
    """Base of the wrappers: adopts the children of a pure-PyTorch model, so parameter names match."""

    config_class = LionBertHFConfig
    base_model_prefix = "bert"
    supports_gradient_checkpointing = False
    _lion_class: type[nn.Module] = LionBertModel
    # Whether the wrapped model takes ``labels`` (a task head with a loss).
    _has_head = False

    def __init__(self, config: PreTrainedConfig) -> None:
        super().__init__(config)
        lion = self._lion_class(to_lion_config(config))
        # The pure model's children become ours (same objects), so state-dict keys are identical; the pure
        # model is kept outside the module tree to run its forward without registering anything twice.
        for name, child in lion.named_children():
            self.add_module(name, child)
        object.__setattr__(self, "_lion", lion)
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        # Only for modules transformers finds uninitialised (e.g. a new head); LION's decay parameters are
        # not Linear/Embedding modules and keep their own initialisation.
        init_weights(self.config.initializer_range)(module)

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
        position_ids: Tensor | None = None,
        labels: Tensor | None = None,
        **kwargs: Any,
    ) -> BaseModelOutput | MaskedLMOutput | SequenceClassifierOutput:
        """Run the wrapped pure model and return its result in transformers' output class.

        The arguments follow transformers' BERT models (``BertModel``, ``BertForMaskedLM``, ...); keyword arguments
        transformers passes that LION has no use for (``return_dict``, ``output_attentions``, ...) are ignored.

        Args:
            input_ids: [B, T] token ids.
            attention_mask: [B, T], 1 for real tokens; ``None`` means all real.
            token_type_ids: [B, T] segment ids, or ``None`` for all zeros.
            position_ids: [B, T], or ``None`` to count real tokens from 0.
            labels: The task's labels (shapes: the wrapped model's ``forward``); only models with a head take them.

        Returns:
            ``BaseModelOutput`` (``last_hidden_state`` [B, T, hidden_size]) for the base model; ``MaskedLMOutput`` /
            ``SequenceClassifierOutput`` (``logits``, and ``loss`` when ``labels`` are given) for the task models.
        """
        inputs = {"attention_mask": attention_mask, "token_type_ids": token_type_ids, "position_ids": position_ids}
        if labels is not None:
            if not self._has_head:
                raise TypeError(f"labels: {type(self).__name__} has no task head; use a task model for a loss")
            inputs["labels"] = labels
        return self._to_hf_output(self._lion(input_ids, **inputs))

    def _to_hf_output(self, out: Any) -> BaseModelOutput | MaskedLMOutput | SequenceClassifierOutput:
        raise NotImplementedError

    def set_attn_mode(self, mode: str) -> None:
        """Switch every LION attention layer to ``mode`` (``"parallel"``, ``"chunk"`` or ``"recurrent"``)."""
        self._lion.set_attn_mode(mode)
        self.config.attention = {**self.config.attention, "mode": mode}

    def get_input_embeddings(self) -> nn.Module:
        """The word embedding table."""
        return self.get_submodule(self._embeddings_path)

    @property
    def _embeddings_path(self) -> str:
        return (
            "embeddings.word_embeddings" if isinstance(self._lion, LionBertModel) else "bert.embeddings.word_embeddings"
        )

    def to_lion(self) -> nn.Module:
        """The pure-PyTorch model sharing this wrapper's parameters."""
        return self._lion


class LionBertHFModel(LionBertHFPreTrainedModel):
    """:class:`lion_attn.models.LionBertModel` as a transformers model (``AutoModel``)."""

    _lion_class = LionBertModel

    def _to_hf_output(self, out: Any) -> BaseModelOutput:
        return BaseModelOutput(last_hidden_state=out.last_hidden_state)


class _LionBertHFTaskModel(LionBertHFPreTrainedModel):
    """Base of the wrappers with a task head: the pure model's loss and logits in transformers' output class."""

    _output_class: type[MaskedLMOutput] | type[SequenceClassifierOutput]
    _has_head = True

    def _to_hf_output(self, out: Any) -> MaskedLMOutput | SequenceClassifierOutput:
        return self._output_class(loss=out.loss, logits=out.logits)


class LionBertHFForMaskedLM(_LionBertHFTaskModel):
    """:class:`lion_attn.models.LionForMaskedLM` as a transformers model (``AutoModelForMaskedLM``)."""

    _lion_class = LionForMaskedLM
    _output_class = MaskedLMOutput
    # RUF012 wants ClassVar on a mutable class attribute; transformers reads this plain dict by name.
    _tied_weights_keys = {"head.decoder.weight": "bert.embeddings.word_embeddings.weight"}  # noqa: RUF012

    def get_output_embeddings(self) -> nn.Module:
        """The decoder onto the vocabulary (tied to the input embeddings)."""
        return self.head.decoder


class LionBertHFForSequenceClassification(_LionBertHFTaskModel):
    """:class:`lion_attn.models.LionForSequenceClassification` as a transformers model."""

    _lion_class = LionForSequenceClassification
    _output_class = SequenceClassifierOutput


def register() -> None:
    """Register the config and models with transformers' Auto classes (idempotent; runs on import).

    Also lets :func:`lion_attn.models.load_pretrained` rebuild directories written by the wrappers'
    own ``save_pretrained``.
    """
    register_architecture_alias("LionBertHFModel", LionBertModel)
    register_architecture_alias("LionBertHFForMaskedLM", LionForMaskedLM)
    register_architecture_alias("LionBertHFForSequenceClassification", LionForSequenceClassification)
    AutoConfig.register("lion_bert", LionBertHFConfig, exist_ok=True)
    AutoModel.register(LionBertHFConfig, LionBertHFModel, exist_ok=True)
    AutoModelForMaskedLM.register(LionBertHFConfig, LionBertHFForMaskedLM, exist_ok=True)
    AutoModelForSequenceClassification.register(LionBertHFConfig, LionBertHFForSequenceClassification, exist_ok=True)


register()
