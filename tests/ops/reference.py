"""The op tests' names for the literal reference, :mod:`lion_attn.ops.naive` (the parallel form, float64).

``ref_lion(q, k, v, g, g_gamma, *, scale, normalize, eps)`` is full attention from the definition;
``ref_lion_padded(..., attention_mask=)`` runs each row with its pads removed; ``ref_lion_packed(..., cu_seqlens=)``
runs each packed segment alone; ``ref_decay_mask(g)`` is the mask by explicit products of decays.
"""

from __future__ import annotations

from lion_attn.ops.naive import naive_decay_mask as ref_decay_mask
from lion_attn.ops.naive import naive_parallel as ref_lion
from lion_attn.ops.naive import naive_parallel as ref_lion_packed
from lion_attn.ops.naive import naive_parallel as ref_lion_padded

__all__ = ["ref_decay_mask", "ref_lion", "ref_lion_packed", "ref_lion_padded"]
