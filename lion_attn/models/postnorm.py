"""The post-norm encoder layout of the original BERT (Devlin et al., NAACL 2019), with LION attention
(Afzal et al., NeurIPS 2025, arXiv 2502.16249) or softmax attention.

Each block is ``x = norm1(x + attn(x))`` then ``x = norm2(x + mlp(x))``, and there is no final LayerNorm, as in
Hugging Face's ``BertModel``. The blocks are :class:`lion_attn.layers.Block`'s parts applied in that order
(``norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2``), so a BERT checkpoint maps onto either layout by renaming
alone.
"""

from __future__ import annotations

from typing import Any, ClassVar

from torch import Tensor

from lion_attn.layers import Block
from lion_attn.models.encoder import LionEncoder

__all__ = ["PostNormBlock", "PostNormEncoder"]


class PostNormBlock(Block):
    """``x = norm1(x + attn(x))``, then ``x = norm2(x + mlp(x))``.

    Takes the arguments of :class:`lion_attn.layers.Block`; ``drop_path`` is not used (BERT has no stochastic
    depth, and :class:`PostNormEncoder` refuses it).

    Shapes:
        ``forward(x [B, T, dim], attention_mask [B, T] bool | None) -> [B, T, dim]``.
    """

    @staticmethod
    def mlp_width(dim: int, mlp_ratio: float) -> int:
        # BERT gives the width as intermediate_size / hidden_size; the product may miss it by an ulp either way.
        return round(dim * mlp_ratio)

    def forward(self, x: Tensor, attention_mask: Tensor | None = None) -> Tensor:
        """Apply the block to [B, T, dim] tokens (``attention_mask`` [B, T] bool, True = real token)."""
        x = self.norm1(x + self.attn(x, attention_mask))
        return self.norm2(x + self.mlp(x))


class PostNormEncoder(LionEncoder):
    """``depth`` post-norm blocks and no final LayerNorm (the embeddings' LayerNorm comes first).

    Takes the arguments of :class:`lion_attn.models.LionEncoder` (``drop_path_rate`` must be 0: BERT has no
    stochastic depth; ``layer_norm_eps`` defaults to BERT's 1e-12).

    Shapes:
        ``forward(x [B, T, dim], attention_mask [B, T] bool | None) -> [B, T, dim]``.
    """

    block_class: ClassVar[type[Block]] = PostNormBlock
    final_norm: ClassVar[bool] = False

    def __init__(self, *args: Any, drop_path_rate: float = 0.0, layer_norm_eps: float = 1e-12, **kwargs: Any) -> None:
        if drop_path_rate:
            raise ValueError(f"drop_path_rate must be 0 for the post-norm layout, got {drop_path_rate!r}")
        super().__init__(*args, layer_norm_eps=layer_norm_eps, **kwargs)
