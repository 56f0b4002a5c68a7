"""Multi-head softmax attention through ``torch.nn.functional.scaled_dot_product_attention``.

The like-for-like baseline of the project: same projections, same forward signature and the same
``set_mode`` hook as :class:`lion_attn.layers.LionAttention`, so a model swaps one for the other and
every comparison against LION (Afzal et al., NeurIPS 2025) changes only the attention.
"""

from __future__ import annotations

from typing import Any

import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from lion_attn.layers.modes import check_mode
from lion_attn.ops.inputs import check_padding_mask

__all__ = ["LION_ONLY_KWARGS", "SoftmaxAttention"]

# LionAttention keywords that a softmax baseline built from the same config accepts and ignores.
LION_ONLY_KWARGS: frozenset[str] = frozenset(
    {
        "variant",
        "feature_map",
        "chunk_size",
        "decay_init",
        "eps",
        "two_scan",
        "grid_size",
        "num_prefix_tokens",
        "scale",
    }
)


class SoftmaxAttention(nn.Module):
    """Standard bidirectional multi-head softmax attention.

    Args:
        dim: Token width; must be divisible by ``num_heads``.
        num_heads: Number of heads.
        qkv_bias: Bias in the q/k/v projection.
        attn_drop: Dropout on the attention probabilities (training only).
        proj_drop: Dropout after the output projection.
        mode: Validated like LION's and otherwise ignored (softmax attention has a single form).
        **lion_kwargs: LION-only keywords (see :data:`LION_ONLY_KWARGS`), accepted and ignored so that one
            block configuration can build either attention.

    Attributes:
        mode: Always ``"softmax"``; :meth:`set_mode` validates its argument and changes nothing, so that
            ``set_attn_mode`` can be applied to any model and ``get_attn_modes`` reports what really runs.

    Shapes:
        ``forward(x [B, T, dim], attention_mask [B, T] bool | None) -> [B, T, dim]``.
    """

    mode = "softmax"

    def __init__(
        self,
        dim: int,
        num_heads: int = 8,
        qkv_bias: bool = False,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
        mode: str = "parallel",
        **lion_kwargs: Any,
    ) -> None:
        super().__init__()
        unknown = set(lion_kwargs) - LION_ONLY_KWARGS
        if unknown:
            raise TypeError(f"SoftmaxAttention got unexpected keyword arguments {sorted(unknown)}")
        if not isinstance(dim, int) or not isinstance(num_heads, int) or dim <= 0 or num_heads <= 0:
            raise ValueError(f"dim and num_heads must be positive ints, got dim={dim!r}, num_heads={num_heads!r}")
        if dim % num_heads != 0:
            raise ValueError(f"dim ({dim}) must be divisible by num_heads ({num_heads})")
        check_mode(mode)
        self.dim = dim
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.attn_drop = attn_drop
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def set_mode(self, mode: str) -> None:
        """Validate ``mode`` and do nothing else (softmax attention has one form)."""
        check_mode(mode)

    def forward(self, x: Tensor, attention_mask: Tensor | None = None) -> Tensor:
        """Apply softmax attention.

        Args:
            x: Tokens [B, T, dim].
            attention_mask: [B, T] bool (or 0/1 integers), True for real tokens, or ``None``. Padded keys are
                ignored by every query; outputs at padded queries are finite but meaningless.

        Returns:
            [B, T, dim].
        """
        if x.dim() != 3 or x.shape[-1] != self.dim:
            raise ValueError(f"x must have shape [B, T, {self.dim}], got {tuple(x.shape)}")
        batch, length, _ = x.shape
        q, k, v = rearrange(self.qkv(x), "b t (three h d) -> three b h t d", three=3, h=self.num_heads)
        mask = None
        attention_mask = check_padding_mask(attention_mask, batch, length)
        if attention_mask is not None:
            # A sequence with no real token would give softmax over nothing (NaN); let it attend everywhere.
            mask = attention_mask | ~attention_mask.any(dim=-1, keepdim=True)
            mask = mask[:, None, None, :]  # [B, 1, 1, T]
        dropout_p = self.attn_drop if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p)
        y = rearrange(y, "b h t d -> b t (h d)")
        return self.proj_drop(self.proj(y))

    def extra_repr(self) -> str:
        return f"dim={self.dim}, num_heads={self.num_heads}, mode={self.mode!r}"
