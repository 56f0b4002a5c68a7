"""Dropout rules of the layers: stochastic depth (Huang et al., "Deep Networks with Stochastic Depth", ECCV 2016),
per sample, and the one check that LION attention takes no attention dropout."""

from __future__ import annotations

from torch import Tensor, nn

__all__ = ["DropPath", "check_attention_dropout", "drop_path"]


def check_attention_dropout(value: float, name: str = "attn_drop") -> None:
    """Raise unless ``value`` is 0: LION attention has no attention probabilities to drop.

    The chunk and recurrent forms never build the attention matrix, so dropout on it could not be applied
    identically in every form; ``proj_drop`` or stochastic depth regularise instead. Layers and model configs
    both call this, each naming its own argument.

    Args:
        value: The requested attention dropout probability.
        name: The argument or config field to name in the error.

    Raises:
        ValueError: If ``value`` is not 0.
    """
    if value:
        raise ValueError(
            f"{name} must be 0 for LION attention, got {value!r}: the chunk and recurrent forms never build an "
            "attention matrix, so attention dropout cannot be applied identically in every form "
            "(use proj_drop or drop_path instead)"
        )


def drop_path(x: Tensor, drop_prob: float = 0.0, training: bool = False, scale_by_keep: bool = True) -> Tensor:
    """Zero whole samples of a residual branch with probability ``drop_prob``.

    Args:
        x: Branch output [B, ...].
        drop_prob: Probability of dropping a sample's branch.
        training: Identity unless True.
        scale_by_keep: Divide kept samples by ``1 - drop_prob`` so the expectation is unchanged.

    Returns:
        Tensor shaped like ``x``.
    """
    if drop_prob == 0.0 or not training:
        return x
    keep_prob = 1.0 - drop_prob
    shape = (x.shape[0],) + (1,) * (x.dim() - 1)
    keep = x.new_empty(shape).bernoulli_(keep_prob)
    if scale_by_keep and keep_prob > 0.0:
        keep.div_(keep_prob)
    return x * keep


class DropPath(nn.Module):
    """Module form of :func:`drop_path`; the identity in eval mode.

    Args:
        drop_prob: Probability in ``[0, 1]``.
        scale_by_keep: See :func:`drop_path`.
    """

    def __init__(self, drop_prob: float = 0.0, scale_by_keep: bool = True) -> None:
        super().__init__()
        if not 0.0 <= drop_prob <= 1.0:
            raise ValueError(f"drop_prob must be in [0, 1], got {drop_prob!r}")
        self.drop_prob = drop_prob
        self.scale_by_keep = scale_by_keep

    def forward(self, x: Tensor) -> Tensor:
        """Apply stochastic depth to [B, ...]."""
        return drop_path(x, self.drop_prob, self.training, self.scale_by_keep)

    def extra_repr(self) -> str:
        return f"drop_prob={self.drop_prob}"
