"""BERT-style encoders (Devlin et al., NAACL 2019) with LION attention (Afzal et al., NeurIPS 2025,
arXiv 2502.16249): a bare encoder, masked language modelling and sequence classification.

Config fields carry Hugging Face's BERT names. Two deliberate differences from HF BERT:

- The encoder is *pre-norm* by default (``x + attn(norm(x))``, a final LayerNorm after the last block), the
  same blocks as the vision and LRA models, which trains stably without warm-up tricks. ``norm_layout="post"``
  gives HF BERT's post-norm layout instead (:mod:`lion_attn.models.postnorm`), so its checkpoints load
  (:mod:`lion_attn.convert`).
- Position ids are counted over real tokens only (``cumsum(attention_mask) - 1``), so left or interior
  padding changes nothing at the real tokens, in every form of the attention.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar, Generic, TypeVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lion_attn.layers import check_attention_dropout
from lion_attn.models.base import LionModelMixin
from lion_attn.models.checks import check_choice, check_divisible, check_positive_int, check_probability
from lion_attn.models.config import ModelConfig
from lion_attn.models.encoder import LionEncoder, init_weights, masked_mean
from lion_attn.models.postnorm import PostNormEncoder
from lion_attn.ops.inputs import check_padding_mask

__all__ = [
    "ACTIVATIONS",
    "BaseModelOutput",
    "LionBertConfig",
    "LionBertModel",
    "LionForMaskedLM",
    "LionForSequenceClassification",
    "MaskedLMOutput",
    "SequenceClassifierOutput",
]


class _GeluTanh(nn.GELU):
    def __init__(self) -> None:
        super().__init__(approximate="tanh")


# HF's ``hidden_act`` names -> activation classes.
ACTIVATIONS: dict[str, type[nn.Module]] = {
    "gelu": nn.GELU,
    "gelu_new": _GeluTanh,
    "gelu_pytorch_tanh": _GeluTanh,
    "relu": nn.ReLU,
    "silu": nn.SiLU,
    "swish": nn.SiLU,
}


#: How :class:`LionForSequenceClassification` pools the hidden states (see its docstring).
CLASSIFIER_POOLINGS = ("cls", "mean", "pair")


@dataclasses.dataclass
class LionBertConfig(ModelConfig):
    """Configuration of the BERT-style models, with Hugging Face's field names plus the LION fields.

    Attributes:
        vocab_size: Token vocabulary size.
        hidden_size: Token width.
        num_hidden_layers: Number of blocks.
        num_attention_heads: Heads; must divide ``hidden_size``.
        intermediate_size: MLP hidden width.
        hidden_act: MLP activation, a key of :data:`ACTIVATIONS`.
        hidden_dropout_prob: Dropout on embeddings, after attention and inside the MLP.
        attention_probs_dropout_prob: Attention dropout; softmax baseline only, must be 0 for LION.
        max_position_embeddings: Longest sequence with absolute position embeddings.
        type_vocab_size: Segment (token type) vocabulary; 0 disables segment embeddings.
        layer_norm_eps: Epsilon of every LayerNorm.
        pad_token_id: Padding token id (its embedding starts at zero).
        position_embedding_type: ``"absolute"`` (learned) or ``"none"``; LION-LIT needs ``"absolute"``.
        num_labels: Outputs of :class:`LionForSequenceClassification` (1 means regression).
        classifier_dropout: Dropout before the classifier; ``None`` uses ``hidden_dropout_prob``.
        classifier_pooling: ``"cls"`` (first real token), ``"mean"`` (mean over real tokens) or ``"pair"`` (for
            sentence pairs: the first token, each segment's mean ``u`` and ``v``, ``|u - v|`` and ``u * v``).
        initializer_range: Standard deviation of the truncated-normal initialisation.
        attention: The attention of every block (:class:`LionAttentionConfig`). Older checkpoints spelled its
            fields flat, the variant as ``lion_variant``; both still load.
        norm_layout: ``"pre"`` (pre-norm blocks, final LayerNorm) or ``"post"`` (HF BERT's post-norm blocks).
    """

    family: ClassVar[str] = "bert"
    model_type: ClassVar[str] = "lion_bert"

    vocab_size: int = 30522
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.0
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    pad_token_id: int = 0
    position_embedding_type: str = "absolute"
    num_labels: int = 2
    classifier_dropout: float | None = None
    classifier_pooling: str = "cls"
    initializer_range: float = 0.02
    norm_layout: str = "pre"

    def __post_init__(self) -> None:
        for name in (
            "vocab_size",
            "hidden_size",
            "num_hidden_layers",
            "num_attention_heads",
            "intermediate_size",
            "max_position_embeddings",
            "num_labels",
        ):
            check_positive_int(name, getattr(self, name))
        check_divisible("hidden_size", self.hidden_size, "num_attention_heads", self.num_attention_heads)
        check_choice("hidden_act", self.hidden_act, ACTIVATIONS)
        check_choice("position_embedding_type", self.position_embedding_type, ("absolute", "none"))
        check_choice("classifier_pooling", self.classifier_pooling, CLASSIFIER_POOLINGS)
        check_choice("norm_layout", self.norm_layout, ("pre", "post"))
        if not isinstance(self.type_vocab_size, int) or self.type_vocab_size < 0:
            raise ValueError(f"type_vocab_size must be a non-negative int, got {self.type_vocab_size!r}")
        if not 0 <= self.pad_token_id < self.vocab_size:
            raise ValueError(f"pad_token_id must be in [0, vocab_size={self.vocab_size}), got {self.pad_token_id}")
        check_probability("hidden_dropout_prob", self.hidden_dropout_prob)
        check_probability("attention_probs_dropout_prob", self.attention_probs_dropout_prob)
        if self.classifier_dropout is not None:
            check_probability("classifier_dropout", self.classifier_dropout)
        self._check_attention()
        if self.attention.is_lion:
            check_attention_dropout(self.attention_probs_dropout_prob, "attention_probs_dropout_prob")
        if self.attention.is_lion and self.attention.variant == "lit" and self.position_embedding_type != "absolute":
            raise ValueError(
                "LION-LIT has no positional information of its own: use position_embedding_type='absolute'"
            )


@dataclasses.dataclass
class BaseModelOutput:
    """Output of :class:`LionBertModel`: ``last_hidden_state`` [B, T, hidden_size]."""

    last_hidden_state: Tensor


@dataclasses.dataclass
class MaskedLMOutput:
    """Output of :class:`LionForMaskedLM`: ``loss`` (scalar or ``None``), ``logits`` [B, T, vocab_size],
    ``last_hidden_state`` [B, T, hidden_size]."""

    loss: Tensor | None
    logits: Tensor
    last_hidden_state: Tensor


@dataclasses.dataclass
class SequenceClassifierOutput:
    """Output of :class:`LionForSequenceClassification`: ``loss`` (scalar or ``None``), ``logits``
    [B, num_labels], ``last_hidden_state`` [B, T, hidden_size]."""

    loss: Tensor | None
    logits: Tensor
    last_hidden_state: Tensor


def _check_inputs(input_ids: Tensor, attention_mask: Tensor | None) -> Tensor | None:
    if input_ids.dim() != 2:
        raise ValueError(f"input_ids must have shape [B, T], got {tuple(input_ids.shape)}")
    # HF passes 0/1 integer masks; the attention layers want bool.
    return check_padding_mask(attention_mask, *input_ids.shape)


class LionBertEmbeddings(nn.Module):
    """Word + absolute position + token-type embeddings, then LayerNorm and dropout.

    Shapes:
        ``forward(input_ids [B, T], token_type_ids [B, T] | None, position_ids [B, T] | None) -> [B, T, D]``.
    """

    def __init__(self, config: LionBertConfig) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.position_embeddings = (
            nn.Embedding(config.max_position_embeddings, config.hidden_size)
            if config.position_embedding_type == "absolute"
            else None
        )
        self.token_type_embeddings = (
            nn.Embedding(config.type_vocab_size, config.hidden_size) if config.type_vocab_size > 0 else None
        )
        self.norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.max_positions = config.max_position_embeddings

    def forward(
        self, input_ids: Tensor, token_type_ids: Tensor | None = None, position_ids: Tensor | None = None
    ) -> Tensor:
        """Embed [B, T] token ids into [B, T, D]."""
        x = self.word_embeddings(input_ids)
        if self.position_embeddings is not None:
            if position_ids is None:
                position_ids = torch.arange(input_ids.shape[1], device=input_ids.device).expand_as(input_ids)
            if int(position_ids.max()) >= self.max_positions:
                raise ValueError(
                    f"sequence needs position {int(position_ids.max())} but max_position_embeddings is "
                    f"{self.max_positions}"
                )
            x = x + self.position_embeddings(position_ids)
        if self.token_type_embeddings is not None:
            if token_type_ids is None:
                token_type_ids = torch.zeros_like(input_ids)
            x = x + self.token_type_embeddings(token_type_ids)
        return self.dropout(self.norm(x))


class LionBertModel(LionModelMixin, nn.Module):
    """The bare encoder: embeddings and pre-norm LION blocks (softmax blocks for the baseline).

    Args:
        config: The model configuration.

    Shapes:
        ``forward(input_ids [B, T], attention_mask [B, T] | None, token_type_ids [B, T] | None)``
        -> :class:`BaseModelOutput` with ``last_hidden_state`` [B, T, hidden_size].
    """

    config_class: ClassVar[type[ModelConfig]] = LionBertConfig
    config: LionBertConfig

    def __init__(self, config: LionBertConfig) -> None:
        super().__init__()
        self.config = self.checked_config(config)
        self.embeddings = LionBertEmbeddings(config)
        encoder_class = PostNormEncoder if config.norm_layout == "post" else LionEncoder
        self.encoder = encoder_class(
            config.hidden_size,
            config.num_hidden_layers,
            config.num_attention_heads,
            config.attention,
            mlp_ratio=config.intermediate_size / config.hidden_size,
            proj_drop=config.hidden_dropout_prob,
            attn_drop=config.attention_probs_dropout_prob,
            layer_norm_eps=config.layer_norm_eps,
            act_layer=ACTIVATIONS[config.hidden_act],
        )
        self.apply(init_weights(config.initializer_range))

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
        position_ids: Tensor | None = None,
    ) -> BaseModelOutput:
        """Encode token ids.

        Args:
            input_ids: [B, T] token ids.
            attention_mask: [B, T], True (or 1) for real tokens; ``None`` means all real.
            token_type_ids: [B, T] segment ids, or ``None`` for all zeros.
            position_ids: [B, T], or ``None`` to count real tokens from 0 (padding-independent).

        Returns:
            :class:`BaseModelOutput`.
        """
        mask = _check_inputs(input_ids, attention_mask)
        if position_ids is None and mask is not None:
            position_ids = (mask.long().cumsum(dim=1) - 1).clamp(min=0)
        x = self.embeddings(input_ids, token_type_ids, position_ids)
        return BaseModelOutput(last_hidden_state=self.encoder(x, mask))

    def get_input_embeddings(self) -> nn.Embedding:
        """The word embedding table [vocab_size, hidden_size]."""
        return self.embeddings.word_embeddings


class LionMLMHead(nn.Module):
    """Dense + activation + LayerNorm, then a decoder onto the vocabulary whose weight is tied to the input
    word embeddings (its own bias).

    Shapes:
        ``forward(hidden [B, T, D]) -> logits [B, T, vocab_size]``.
    """

    def __init__(self, config: LionBertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.act = ACTIVATIONS[config.hidden_act]()
        self.norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size)

    def forward(self, hidden: Tensor) -> Tensor:
        """Map [B, T, D] hidden states to [B, T, vocab_size] logits."""
        return self.decoder(self.norm(self.act(self.dense(hidden))))


_Output = TypeVar("_Output")


class _LionBertTaskModel(LionModelMixin, nn.Module, Generic[_Output]):
    """What the task models share: :class:`LionBertModel` as ``self.bert`` and a forward that encodes, then hands
    the hidden states to the task's :meth:`head_output`. Each concrete subclass sets ``config_class`` (which
    registers it for :func:`lion_attn.models.load_pretrained`)."""

    config: LionBertConfig

    def __init__(self, config: LionBertConfig) -> None:
        super().__init__()
        self.config = config
        self.bert = LionBertModel(config)

    def head_output(
        self, hidden: Tensor, attention_mask: Tensor | None, labels: Tensor | None, token_type_ids: Tensor | None
    ) -> _Output:
        """The task's output (and loss with ``labels``) from the [B, T, D] hidden states."""
        raise NotImplementedError

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
        labels: Tensor | None = None,
        position_ids: Tensor | None = None,
    ) -> _Output:
        """Encode [B, T] token ids and apply the head; with ``labels`` the output carries the loss."""
        hidden = self.bert(input_ids, attention_mask, token_type_ids, position_ids).last_hidden_state
        return self.head_output(hidden, attention_mask, labels, token_type_ids)


class LionForMaskedLM(_LionBertTaskModel[MaskedLMOutput]):
    """Masked language model: :class:`LionBertModel` and an MLM head tied to the input embeddings.

    Args:
        config: The model configuration.

    Shapes:
        ``forward(input_ids [B, T], attention_mask, token_type_ids, labels [B, T] | None)``
        -> :class:`MaskedLMOutput`; ``labels`` equal to -100 are ignored by the loss.
    """

    config_class: ClassVar[type[ModelConfig]] = LionBertConfig

    def __init__(self, config: LionBertConfig) -> None:
        super().__init__(config)
        self.head = LionMLMHead(config)
        self.head.apply(init_weights(config.initializer_range))
        nn.init.zeros_(self.head.decoder.bias)
        self.tie_weights()

    def tie_weights(self) -> None:
        """Make the decoder weight the very same parameter as the input word embeddings."""
        self.head.decoder.weight = self.bert.embeddings.word_embeddings.weight

    def head_output(
        self, hidden: Tensor, attention_mask: Tensor | None, labels: Tensor | None, token_type_ids: Tensor | None
    ) -> MaskedLMOutput:
        """Predict every token; with ``labels`` [B, T] (-100 = ignore) also return the mean cross-entropy."""
        logits = self.head(hidden)  # [B, T, vocab]
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits.flatten(0, 1).float(), labels.flatten(), ignore_index=-100)
        return MaskedLMOutput(loss=loss, logits=logits, last_hidden_state=hidden)


class LionForSequenceClassification(_LionBertTaskModel[SequenceClassifierOutput]):
    """Sequence classifier (or regressor, ``num_labels == 1``) on :class:`LionBertModel`.

    The sequence is pooled as its first real token (``classifier_pooling="cls"``; the tokenizer puts
    ``[CLS]`` there), the mean over real tokens (``"mean"``), or, for sentence pairs, ``"pair"``: the first token,
    the mean ``u`` of segment A's real tokens (token type 0), the mean ``v`` of segment B's (type 1), ``|u - v|`` and
    ``u * v`` concatenated (the pair features of InferSent and Sentence-BERT). ``"pair"`` hands the classifier a
    direct measure of how alike the two segments are, which a small encoder trained from scratch on a few thousand
    pairs does not learn to compute through attention alone. Then dropout and a linear layer.

    Args:
        config: The model configuration.

    Shapes:
        ``forward(input_ids [B, T], attention_mask, token_type_ids, labels [B] | None)``
        -> :class:`SequenceClassifierOutput` with ``logits`` [B, num_labels].
    """

    config_class: ClassVar[type[ModelConfig]] = LionBertConfig

    def __init__(self, config: LionBertConfig) -> None:
        super().__init__(config)
        drop = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        self.dropout = nn.Dropout(drop)
        pooled_size = config.hidden_size * (5 if config.classifier_pooling == "pair" else 1)
        self.classifier = nn.Linear(pooled_size, config.num_labels)
        self.classifier.apply(init_weights(config.initializer_range))

    def pool(self, hidden: Tensor, attention_mask: Tensor | None, token_type_ids: Tensor | None = None) -> Tensor:
        """Pool [B, T, D] hidden states into [B, D] over real tokens ([B, 5 D] with ``"pair"``)."""
        mask = torch.ones(hidden.shape[:2], dtype=torch.bool, device=hidden.device)
        if attention_mask is not None:
            mask = attention_mask.bool()
        if self.config.classifier_pooling == "mean":
            return masked_mean(hidden, mask)
        first = mask.int().argmax(dim=1)  # [B] index of the first real token
        cls = hidden[torch.arange(hidden.shape[0], device=hidden.device), first]
        if self.config.classifier_pooling == "cls":
            return cls
        if token_type_ids is None:
            # A single text: v is zero, so the features stay defined and u carries the text.
            u = masked_mean(hidden, mask)
            v = torch.zeros_like(u)
        else:
            second = mask & (token_type_ids == 1)
            u, v = masked_mean(hidden, mask & ~second), masked_mean(hidden, second)
        return torch.cat([cls, u, v, (u - v).abs(), u * v], dim=-1)

    def head_output(
        self, hidden: Tensor, attention_mask: Tensor | None, labels: Tensor | None, token_type_ids: Tensor | None
    ) -> SequenceClassifierOutput:
        """Classify; with ``labels`` ([B] class ids, or [B] floats when ``num_labels == 1``) also return the loss."""
        pooled = self.pool(hidden, attention_mask, token_type_ids)
        logits = self.classifier(self.dropout(pooled))  # [B, num_labels]
        loss = None
        if labels is not None:
            if self.config.num_labels == 1:
                loss = F.mse_loss(logits.squeeze(-1).float(), labels.float())
            else:
                loss = F.cross_entropy(logits.float(), labels.long())
        return SequenceClassifierOutput(loss=loss, logits=logits, last_hidden_state=hidden)
