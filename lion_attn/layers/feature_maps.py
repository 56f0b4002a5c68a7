"""Feature maps applied to queries and keys before LION attention.

LION (Afzal et al., NeurIPS 2025, arXiv 2502.16249, section 3 of the project spec) uses
``elu(x) + 1`` for LION-LIT (after Katharopoulos et al., 2020) and ``silu(x) + 0.5`` followed by an
L2 normalisation over the head dimension for LION-D and LION-S. The normaliser of linear attention is
``q_i . sum_j k_j``, so a feature map must be non-negative, and strictly positive to keep every
denominator away from zero; every built-in map except ``"relu"`` is strictly positive.

Maps are plain callables on ``[..., K]`` tensors, kept in a small name registry so that models and
configs can name them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from lion_attn.layers.registries import add_to_registry

FeatureMap = Callable[[Tensor], Tensor]

__all__ = [
    "DEFAULT_FEATURE_MAPS",
    "FEATURE_MAPS",
    "FeatureMap",
    "elu1",
    "feature_map_name",
    "get_feature_map",
    "list_feature_maps",
    "register_feature_map",
    "silu_l2",
]


def elu1(x: Tensor) -> Tensor:
    """``elu(x) + 1``: strictly positive, the LION-LIT map.

    Args:
        x: Queries or keys [..., K].

    Returns:
        Tensor of the same shape with entries in ``(0, inf)`` (down to ``exp`` underflow, x < -87 in fp32).
    """
    return _Elu1.apply(x)


class _Elu1(torch.autograd.Function):
    """``elu(x) + 1`` as ``exp(min(x, 0)) + max(x, 0)``, with the backward ``grad * min(y, 1)``.

    ``F.elu(x) + 1`` rounds to exactly 0 in fp32 below x ~ -17; ``exp`` does not. Autograd through a
    ``where`` of the two branches costs several full passes each way; here the forward is two clamps, an
    ``exp`` and an add, and the backward one pass that needs only the output (``y = 1 + x > 1`` where the slope
    is 1, ``y = exp(x) <= 1`` where the slope is ``exp(x)``).
    """

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        y = torch.clamp(x, max=0.0).exp_().add_(torch.clamp(x, min=0.0))
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        (y,) = ctx.saved_tensors
        return grad * torch.clamp(y, max=1.0)


def silu_shift(x: Tensor) -> Tensor:
    """``silu(x) + 0.5``: strictly positive because ``min silu ~ -0.278``.

    Args:
        x: Queries or keys [..., K].

    Returns:
        Tensor of the same shape with entries above 0.22.
    """
    return F.silu(x) + 0.5


def silu_l2(x: Tensor) -> Tensor:
    """``silu(x) + 0.5`` then L2-normalised over the last (head) dimension: the LION-D / LION-S map.

    Args:
        x: Queries or keys [..., K].

    Returns:
        Tensor of the same shape, strictly positive, with unit L2 norm over the last dimension.
    """
    return _SiluL2.apply(x)


class _SiluL2(torch.autograd.Function):
    """``silu(x) + 0.5`` normalised to unit L2 norm, with a hand-written backward.

    Autograd through ``F.normalize`` keeps and revisits several intermediates; this keeps ``x``, the output and
    the inverse norm. With ``s = silu(x) + 0.5`` and ``y = s / |s|``:
    ``ds = (dy - y (dy . y)) / |s|`` and ``dx = ds * sigmoid(x) (1 + x (1 - sigmoid(x)))``.
    """

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        shifted = F.silu(x).add_(0.5)
        inv_norm = torch.linalg.vector_norm(shifted, dim=-1, keepdim=True).clamp_min_(1e-12).reciprocal_()
        out = shifted.mul_(inv_norm)
        ctx.save_for_backward(x, out, inv_norm)
        return out

    @staticmethod
    def backward(ctx: Any, grad_out: Tensor) -> Tensor:
        x, out, inv_norm = ctx.saved_tensors
        grad_shifted = (grad_out - out * (grad_out * out).sum(dim=-1, keepdim=True)).mul_(inv_norm)
        gate = torch.sigmoid(x)
        return grad_shifted.mul_(gate.mul_(x * (1 - gate) + 1))


def softplus(x: Tensor) -> Tensor:
    """``softplus(x)``: strictly positive (up to floating-point underflow for very negative inputs).

    Args:
        x: Queries or keys [..., K].

    Returns:
        Tensor of the same shape.
    """
    return F.softplus(x)


def relu(x: Tensor) -> Tensor:
    """``relu(x)``: only non-negative. A row of zeros gives a zero denominator, so the output there is 0
    (the op's ``eps`` keeps it finite). Provided for ablations, not as a default.

    Args:
        x: Queries or keys [..., K].

    Returns:
        Tensor of the same shape.
    """
    return torch.relu(x)


FEATURE_MAPS: dict[str, FeatureMap] = {
    "elu1": elu1,
    "silu_l2": silu_l2,
    "silu_shift": silu_shift,
    "softplus": softplus,
    "relu": relu,
}

# The paper's choice for each variant.
DEFAULT_FEATURE_MAPS: dict[str, str] = {"lit": "elu1", "d": "silu_l2", "s": "silu_l2"}


def register_feature_map(name: str, fn: FeatureMap, *, overwrite: bool = False) -> FeatureMap:
    """Add a feature map to the registry.

    Args:
        name: Registry key.
        fn: Callable mapping [..., K] to [..., K]; it should be non-negative (strictly positive to be safe).
        overwrite: Allow replacing an existing entry.

    Returns:
        ``fn``, so that this can be used as a decorator body.

    Raises:
        TypeError: If ``name`` is not a string or ``fn`` is not callable.
        ValueError: If ``name`` is already registered and ``overwrite`` is False.
    """
    return add_to_registry(FEATURE_MAPS, "feature map", name, fn, overwrite)


def list_feature_maps() -> list[str]:
    """Return the registered feature map names, sorted."""
    return sorted(FEATURE_MAPS)


def get_feature_map(name_or_fn: str | FeatureMap) -> FeatureMap:
    """Resolve a feature map given by name or as a callable.

    Args:
        name_or_fn: A registered name (see :func:`list_feature_maps`) or a callable, returned unchanged.

    Returns:
        The feature map callable.

    Raises:
        ValueError: If the name is not registered.
        TypeError: If the argument is neither a string nor a callable.
    """
    if isinstance(name_or_fn, str):
        try:
            return FEATURE_MAPS[name_or_fn]
        except KeyError:
            raise ValueError(
                f"unknown feature_map {name_or_fn!r}; expected one of {list_feature_maps()} or a callable"
            ) from None
    if callable(name_or_fn):
        return name_or_fn
    raise TypeError(f"feature_map must be a registered name or a callable, got {type(name_or_fn).__name__}")


def feature_map_name(fn: FeatureMap) -> str:
    """Return the registry name of ``fn``, or its ``__name__`` (or class name) if it is not registered."""
    for name, registered in FEATURE_MAPS.items():
        if registered is fn:
            return name
    return getattr(fn, "__name__", type(fn).__name__)
