"""The keywords timm's ViT ``Block`` passes to its attention layer, checked for what LION attention can honour.

timm builds attention as ``attn_layer(dim, num_heads=, qkv_bias=, qk_norm=, scale_norm=, proj_bias=, attn_drop=,
proj_drop=, norm_layer=, device=, dtype=)`` and calls it as ``attn(x, attn_mask=..., is_causal=...)``.
:class:`~lion_attn.layers.LionAttention` takes all of these; the options LION has no counterpart for are refused
here with the reason, rather than silently ignored.
"""

from __future__ import annotations

from torch import Tensor

__all__ = ["check_timm_call", "check_timm_options"]


def check_timm_options(qk_norm: bool, scale_norm: bool) -> None:
    """Refuse timm's normalisation options, which LION attention does not have.

    Raises:
        ValueError: If ``qk_norm`` or ``scale_norm`` is set.
    """
    if qk_norm:
        raise ValueError(
            "qk_norm=True is not supported by LionAttention: its feature maps already shape q and k (silu_l2 "
            "normalises them to unit length); leave qk_norm=False"
        )
    if scale_norm:
        raise ValueError("scale_norm=True is not supported by LionAttention (no norm before the output projection)")


def check_timm_call(attn_mask: Tensor | None, is_causal: bool) -> None:
    """Refuse timm's per-call options that LION attention cannot honour.

    Args:
        attn_mask: timm's attention mask (boolean or additive, [.., T, T]); LION takes a padding mask
            ``attention_mask`` [B, T] instead, so only ``None`` is accepted.
        is_causal: Causal masking; LION is bidirectional, so only ``False`` is accepted.

    Raises:
        ValueError: If either asks for something LION does not do.
    """
    if attn_mask is not None:
        raise ValueError(
            "attn_mask (a [.., T, T] mask over token pairs) is not supported by LionAttention; pass a padding "
            "mask as attention_mask [B, T] (True = real token) instead"
        )
    if is_causal:
        raise ValueError("is_causal=True is not supported: LION attention is bidirectional")
