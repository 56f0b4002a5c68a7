"""The LION attention layer: projections, feature map, learnable decays, the LION op, output projection.

LION (Afzal et al., "Linear Attention for Efficient Bidirectional Sequence Modeling", NeurIPS 2025,
arXiv 2502.16249) is bidirectional linear attention with a symmetric decay mask, computable in three
equal forms (``"parallel"``, ``"chunk"``, ``"recurrent"``). This layer holds the parameters; the maths
lives in :func:`lion_attn.ops.lion_attention`. Variants (docs/maths.md, "Variants"): ``"lit"`` (no decay,
``elu + 1``), ``"d"`` (one decay per head), ``"s"`` (one decay per token and head); the last two use
``silu + 0.5`` with an L2 normalisation.

For images, ``two_scan=True`` gives the two-scan ("natural") variant (docs/maths.md, "The two-scan image
variant"): the patch grid is read in a row-major snake and in a column-major snake, each with its own decay
parameters; the numerators and denominators of the two scans are added in raster order before dividing. The op
:func:`lion_attn.ops.lion_attention_scans` computes it in all three forms; the layer only chooses the form.

The layer's log-decays come from ``logsigmoid`` (finite, <= 0), so it calls the op with ``validate=False``:
nothing is read back to the host when there is no padding.
"""

from __future__ import annotations

from typing import Any

import torch
from einops import rearrange
from torch import Tensor, nn

from lion_attn.layers.decays import build_decay, list_decays
from lion_attn.layers.drop import check_attention_dropout
from lion_attn.layers.feature_maps import DEFAULT_FEATURE_MAPS, FeatureMap, feature_map_name, get_feature_map
from lion_attn.layers.learned_feature_maps import LEARNED_FEATURE_MAPS, build_learned_feature_map
from lion_attn.layers.modes import check_mode
from lion_attn.layers.patch_embed import positive_pair
from lion_attn.layers.timm_compat import check_timm_call, check_timm_options
from lion_attn.ops import lion_attention, lion_attention_scans
from lion_attn.ops.inputs import check_padding_mask

__all__ = ["LionAttention", "snake_orders"]


def snake_orders(grid_size: tuple[int, int]) -> tuple[Tensor, Tensor]:
    """Raster indices of the patches of an ``h x w`` grid in the two snake scan orders.

    Args:
        grid_size: ``(h, w)``; patches are numbered in raster order ``r = row * w + col``.

    Returns:
        ``(row_snake, col_snake)``, each [h * w] int64: entry ``s`` is the raster index of the patch
        visited at step ``s``. The row snake reads even rows left to right and odd rows right to left;
        the column snake reads even columns top to bottom and odd columns bottom to top.
    """
    h, w = grid_size
    raster = torch.arange(h * w).view(h, w)
    rows = raster.clone()
    rows[1::2] = rows[1::2].flip(-1)
    cols = raster.t().clone()
    cols[1::2] = cols[1::2].flip(-1)
    return rows.reshape(-1), cols.reshape(-1)


def _as_grid(grid_size: Any) -> tuple[int, int]:
    return positive_pair(grid_size, "grid_size", "a pair of positive ints (h, w) when two_scan=True")


class LionAttention(nn.Module):
    """LION multi-head bidirectional linear attention.

    Accepts the keywords timm's ViT ``Block`` builds and calls its attention with (``dim, num_heads, qkv_bias,
    qk_norm, scale_norm, proj_bias, attn_drop, proj_drop, norm_layer, device, dtype``; ``attn_mask``,
    ``is_causal``), so it can be a timm block's ``attn_layer``; options LION has no counterpart for (``qk_norm``,
    ``scale_norm``, a pairwise ``attn_mask``, ``is_causal``, nonzero ``attn_drop``) raise with the reason.

    Args:
        dim: Token width; must be divisible by ``num_heads``.
        num_heads: Number of heads H; head width ``K = V = dim // num_heads``.
        variant: ``"lit"``, ``"d"`` or ``"s"`` (or any name added with
            :func:`lion_attn.layers.register_decay`).
        mode: Form used by ``forward``: ``"parallel"``, ``"chunk"`` or ``"recurrent"``. Change it with
            :meth:`set_mode`; it does not affect the parameters.
        qkv_bias: Bias in the q/k/v projection.
        attn_drop: Must be 0. Kept for timm compatibility: the chunk and recurrent forms never build an
            attention matrix, so there is nothing to drop that all forms could share.
        proj_drop: Dropout after the output projection.
        feature_map: Name in the feature map registry, a callable on [..., K], or ``None`` for the
            variant's default (``"elu1"`` for LIT, ``"silu_l2"`` for D and S); a name of
            :data:`~lion_attn.layers.learned_feature_maps.LEARNED_FEATURE_MAPS` (``"hedgehog"``) builds a learnable
            map with parameters in this layer.
        chunk_size: Chunk length of the chunk form.
        decay_init: ``"paper"`` or ``"long"`` (see :mod:`lion_attn.layers.decays`).
        eps: Added to the normaliser, identically in every form.
        two_scan: Use the two-scan ("natural") image variant; needs ``grid_size``.
        grid_size: ``(h, w)`` patch grid (an int means square); used only with ``two_scan``.
        num_prefix_tokens: Tokens (e.g. a class token) placed before the ``h * w`` patches; used only with
            ``two_scan``. They stay first in both scans with log-decay 0.
        scale: Score scale; ``None`` means ``K ** -0.5`` (it cancels in the normalisation except against
            ``eps``).
        qk_norm: timm's keyword; must be False (the feature maps shape q and k).
        scale_norm: timm's keyword; must be False.
        proj_bias: Bias in the output projection.
        norm_layer: timm's keyword; unused, since ``qk_norm`` and ``scale_norm`` are off.
        device: Device of the parameters (timm passes it).
        dtype: Dtype of the floating-point parameters (timm passes it).

    Shapes:
        ``forward(x [B, T, dim], attention_mask [B, T] bool | None) -> [B, T, dim]``.
    """

    # Declared for the type checker: set through register_module / register_buffer in __init__.
    decay: nn.Module | None
    decay_col: nn.Module | None
    # A plain function from the registry, or a module with parameters of its own (a learned map).
    feature_map: FeatureMap
    _perm_row: Tensor
    _perm_col: Tensor
    _inv_row: Tensor
    _inv_col: Tensor

    def __init__(
        self,
        dim: int,
        num_heads: int = 8,
        variant: str = "s",
        mode: str = "parallel",
        qkv_bias: bool = False,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
        feature_map: str | FeatureMap | None = None,
        chunk_size: int = 64,
        decay_init: str = "paper",
        eps: float = 1e-6,
        two_scan: bool = False,
        grid_size: int | tuple[int, int] | None = None,
        num_prefix_tokens: int = 0,
        scale: float | None = None,
        qk_norm: bool = False,
        scale_norm: bool = False,
        proj_bias: bool = True,
        norm_layer: Any = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        check_timm_options(qk_norm, scale_norm)
        if not isinstance(dim, int) or dim <= 0:
            raise ValueError(f"dim must be a positive int, got {dim!r}")
        if not isinstance(num_heads, int) or num_heads <= 0:
            raise ValueError(f"num_heads must be a positive int, got {num_heads!r}")
        if dim % num_heads != 0:
            raise ValueError(f"dim ({dim}) must be divisible by num_heads ({num_heads})")
        if variant not in list_decays():
            raise ValueError(f"unknown variant {variant!r}; expected one of {list_decays()}")
        check_attention_dropout(attn_drop)
        if not isinstance(chunk_size, int) or isinstance(chunk_size, bool) or chunk_size < 1:
            raise ValueError(f"chunk_size must be a positive int, got {chunk_size!r}")
        if not isinstance(num_prefix_tokens, int) or num_prefix_tokens < 0:
            raise ValueError(f"num_prefix_tokens must be a non-negative int, got {num_prefix_tokens!r}")
        if eps < 0:
            raise ValueError(f"eps must be >= 0, got {eps!r}")

        self.dim = dim
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.variant = variant
        self.mode = check_mode(mode)
        self.chunk_size = chunk_size
        self.decay_init = decay_init
        self.eps = eps
        self.scale = scale
        self.two_scan = bool(two_scan)
        self.num_prefix_tokens = num_prefix_tokens
        self.grid_size: tuple[int, int] | int | None = _as_grid(grid_size) if two_scan else grid_size

        if feature_map is None:
            feature_map = DEFAULT_FEATURE_MAPS.get(variant, "silu_l2")
        if isinstance(feature_map, str) and feature_map in LEARNED_FEATURE_MAPS:
            # A learnable map has parameters of its own in every layer (see learned_feature_maps).
            self.feature_map = build_learned_feature_map(feature_map, num_heads, dim // num_heads)
        else:
            self.feature_map = get_feature_map(feature_map)

        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        # With two scans, `decay` serves the row snake and `decay_col` the column snake.
        self.register_module("decay", build_decay(variant, dim, num_heads, init=decay_init))
        if self.two_scan:
            self.register_module("decay_col", build_decay(variant, dim, num_heads, init=decay_init))
            row, col = snake_orders(_as_grid(grid_size))
            prefix = torch.arange(num_prefix_tokens)
            for name, order in (("row", row), ("col", col)):
                perm = torch.cat([prefix, order + num_prefix_tokens])
                # Non-persistent: the state_dict must not depend on anything but the parameters.
                self.register_buffer(f"_perm_{name}", perm, persistent=False)
                self.register_buffer(f"_inv_{name}", torch.argsort(perm), persistent=False)
        self.proj = nn.Linear(dim, dim, bias=proj_bias)
        self.proj_drop = nn.Dropout(proj_drop)
        if device is not None or dtype is not None:
            self.to(device=device, dtype=dtype)

    def set_mode(self, mode: str) -> None:
        """Switch the computation form.

        Args:
            mode: ``"parallel"``, ``"chunk"`` or ``"recurrent"``.

        Raises:
            ValueError: On an unknown form.
        """
        self.mode = check_mode(mode)

    def _op_options(self, attention_mask: Tensor | None) -> dict[str, Any]:
        """The op's keywords this layer sets (the mask was checked in forward, so the op need not read it back)."""
        return {
            "mode": self.mode,
            "scale": self.scale,
            "eps": self.eps,
            "attention_mask": attention_mask,
            "chunk_size": self.chunk_size,
            "validate": False,
        }

    def _op(self, q: Tensor, k: Tensor, v: Tensor, attention_mask: Tensor | None, **kwargs: Any) -> Tensor:
        return lion_attention(q, k, v, **self._op_options(attention_mask), **kwargs)

    def forward(
        self, x: Tensor, attention_mask: Tensor | None = None, attn_mask: Tensor | None = None, is_causal: bool = False
    ) -> Tensor:
        """Apply LION attention.

        Args:
            x: Tokens [B, T, dim].
            attention_mask: [B, T] bool (or 0/1 integers), True for real tokens, or ``None``. Outputs at real
                tokens equal those of the sequence with its pads removed.
            attn_mask: timm's keyword; must be ``None`` (LION takes padding masks only, as ``attention_mask``).
            is_causal: timm's keyword; must be ``False`` (LION is bidirectional).

        Returns:
            [B, T, dim].
        """
        check_timm_call(attn_mask, is_causal)
        if x.dim() != 3 or x.shape[-1] != self.dim:
            raise ValueError(f"x must have shape [B, T, {self.dim}], got {tuple(x.shape)}")
        batch, length, _ = x.shape
        attention_mask = check_padding_mask(attention_mask, batch, length)
        q, k, v = rearrange(self.qkv(x), "b t (three h d) -> three b t h d", three=3, h=self.num_heads)
        q, k = self.feature_map(q), self.feature_map(k)
        if self.two_scan:
            y = self._two_scan(x, q, k, v, attention_mask)
        else:
            decay_kwargs = {} if self.decay is None else {str(self.decay.op_arg): self.decay(x)}
            y = self._op(q, k, v, attention_mask, **decay_kwargs)
        y = rearrange(y, "b t h d -> b t (h d)")
        return self.proj_drop(self.proj(y))

    def _scan_decay(self, decay: nn.Module | None, x: Tensor, perm: Tensor) -> dict[str, Tensor]:
        """Log-decays of one scan, in that scan's token order, with the prefix tokens' set to 0."""
        if decay is None:
            return {}
        log_decay = decay(x)
        prefix = self.num_prefix_tokens
        if decay.op_arg == "g_gamma":
            # Position 0's own decay never enters the mask, so a single prefix token needs no per-token g.
            if prefix <= 1:
                return {"g_gamma": log_decay}
            batch, length, _ = x.shape
            log_decay = log_decay.expand(batch, length, -1)
        else:
            log_decay = log_decay[:, perm]
        if prefix:
            log_decay = torch.cat([torch.zeros_like(log_decay[:, :prefix]), log_decay[:, prefix:]], dim=1)
        return {"g": log_decay}

    def _two_scan(self, x: Tensor, q: Tensor, k: Tensor, v: Tensor, attention_mask: Tensor | None) -> Tensor:
        """Two-scan attention: both scans' numerators and normalisers added before dividing (the op's job)."""
        length = x.shape[1]
        h, w = _as_grid(self.grid_size)
        expected = self.num_prefix_tokens + h * w
        if length != expected:
            raise ValueError(
                f"two_scan expects num_prefix_tokens + h * w = {self.num_prefix_tokens} + {h} * {w} = {expected} "
                f"tokens, got T = {length}"
            )
        heads = self.num_heads
        gs: list[Tensor | None] = []
        for decay, perm in ((self.decay, self._perm_row), (self.decay_col, self._perm_col)):
            scan = self._scan_decay(decay, x, perm)
            if "g_gamma" in scan:
                gs.append(scan["g_gamma"].view(1, 1, heads).expand(1, length, heads))
            else:
                gs.append(scan.get("g"))  # None without decay (LIT)
        orders = [self._perm_row, self._perm_col]
        return lion_attention_scans(q, k, v, gs, orders, **self._op_options(attention_mask))

    def extra_repr(self) -> str:
        parts = [
            f"dim={self.dim}",
            f"num_heads={self.num_heads}",
            f"variant={self.variant!r}",
            # LION-LIT has no decay: every mode runs the same closed form, and the repr says so.
            f"mode={self.mode!r}" + (" (LIT closed form in every mode)" if self.decay is None else ""),
            f"feature_map={feature_map_name(self.feature_map)!r}",
            f"chunk_size={self.chunk_size}",
            f"two_scan={self.two_scan}",
        ]
        if self.two_scan:
            parts += [f"grid_size={self.grid_size}", f"num_prefix_tokens={self.num_prefix_tokens}"]
        return ", ".join(parts)
