"""Decay parametrisations of LION (docs/maths.md, "Variants"): learnable log-decays for LION-D and LION-S.

LION (Afzal et al., NeurIPS 2025, arXiv 2502.16249) weights attention by a symmetric mask built from
per-position decays ``lambda in (0, 1]``. This module turns parameters into *log*-decays ``g <= 0``:

- ``"lit"``: no decay (``lambda = 1``); the factory returns ``None``.
- ``"d"`` (:class:`ScalarDecay`): one learnable logit ``a_h`` per head, ``lambda_h = sigmoid(a_h)``;
  returns ``g_gamma = logsigmoid(a) [H]``.
- ``"s"`` (:class:`SelectiveDecay`): a linear map of the token to one logit per head,
  ``lambda_{i,h} = sigmoid(w_h . x_i + b_h)``; returns ``g = logsigmoid(x W^T + b) [B, T, H]``.

Log-decays are computed in fp32 (fp64 for fp64 inputs) with autocast disabled: in bf16, 0.998 rounds
to 1.0 and a head never forgets. For the same reason the decay parameters stay fp32 when a model is cast
to a 16-bit dtype (``model.to(torch.bfloat16)``, ``.half()``): such a cast moves them to the target device
but leaves their dtype alone (``float64`` casts still apply). Unlike the official code, nothing here is
detached, so the decay parameters train.

Initialisations, by name:

- ``"paper"``: LION-D ``a_h ~ N(0, 1)`` (the paper's code); LION-S uses PyTorch's default ``nn.Linear``
  initialisation (Kaiming-uniform weights, bias uniform in ``+-1/sqrt(dim)``), so every gate starts
  near ``sigmoid(0) = 0.5``.
- ``"long"``: RetNet's per-head schedule ``lambda_h = 1 - 2^(-5-h)`` (Sun et al., 2023), decays close
  to 1 spread over heads, for long-range tasks. LION-D sets ``a_h = logit(lambda_h)``; LION-S sets the
  bias to that logit and draws the weights from ``N(0, long_weight_std^2)`` so the gates start near
  the schedule and can still become selective.
- ``"timescale"``: timescales spread log-uniformly from 1 to ``T_max`` tokens over the heads (HiPPO/S4-style),
  ``tau_h = T_max ** (h / (H - 1))`` and ``lambda_h = exp(-1 / tau_h)`` for h = 0 .. H-1: the first head forgets
  after one token, the last keeps ``exp(-1)`` of a token ``T_max`` tokens away, so with ``T_max`` the sequence
  length some heads span the whole sequence. ``T_max`` is 16,384 (Path-X) here; the LRA models set it to their
  ``max_len``. Applied like ``"long"`` (LION-D logits, LION-S biases and small weights).

The LION-S weights are plain parameters (``weight [H, dim]``, ``bias [H]``), not an ``nn.Linear``, so a
model-wide ``apply(init_fn)`` that re-initialises every ``nn.Linear`` does not overwrite the chosen
decay initialisation; call :meth:`reset_parameters` to re-apply it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lion_attn.layers.registries import add_to_registry

__all__ = [
    "DECAYS",
    "DECAY_INITS",
    "ScalarDecay",
    "SelectiveDecay",
    "build_decay",
    "list_decays",
    "long_memory_decays",
    "register_decay",
    "timescale_decays",
]

DecayInit = Callable[[int], Tensor | None]


def _check_init(init: str) -> str:
    if init not in DECAY_INITS:
        raise ValueError(f"unknown decay_init {init!r}; expected one of {list(DECAY_INITS)}")
    return init


def _compute_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.float64 else torch.float32


def long_memory_decays(num_heads: int) -> Tensor:
    """RetNet's decay schedule ``lambda_h = 1 - 2^(-5-h)``, h = 0 .. H-1, in float64.

    Args:
        num_heads: Number of heads H.

    Returns:
        Decays [H] in (0, 1), increasing with h.
    """
    return 1.0 - torch.pow(2.0, -5.0 - torch.arange(num_heads, dtype=torch.float64))


def timescale_decays(num_heads: int, max_timescale: float = 16384.0) -> Tensor:
    """Decays ``exp(-1 / tau_h)`` for timescales ``tau_h = max_timescale ** (h / (H - 1))``, in float64.

    Args:
        num_heads: Number of heads H (a single head gets ``tau = max_timescale``).
        max_timescale: The longest timescale in tokens (>= 1), e.g. the sequence length.

    Returns:
        Decays [H] in (0, 1), increasing with h.
    """
    if max_timescale < 1:
        raise ValueError(f"max_timescale must be >= 1, got {max_timescale}")
    exponents = torch.arange(num_heads, dtype=torch.float64) / max(num_heads - 1, 1)
    if num_heads == 1:
        exponents = torch.ones(1, dtype=torch.float64)
    return torch.exp(-1.0 / torch.pow(float(max_timescale), exponents))


# Decay initialisations by name: each gives the starting decays [H] in (0, 1) for H heads, or None for the
# paper's random draw. Register another by adding an entry; configs and layers validate against these keys.
DECAY_INITS: dict[str, DecayInit] = {
    "paper": lambda num_heads: None,
    "long": long_memory_decays,
    "timescale": timescale_decays,
}


def _logit(p: Tensor) -> Tensor:
    return torch.log(p) - torch.log1p(-p)


_LOW_PRECISION = (torch.float16, torch.bfloat16)


class KeepFloat32(nn.Module):
    """A module whose parameters refuse 16-bit casts: ``.to(torch.bfloat16)`` moves them but keeps them fp32.

    Decays close to 1 are what make long memory, and bf16 cannot hold them (1 - 2^-9 is its last value below 1),
    so a bf16 cast of these parameters would silently change what the model computes.
    """

    def _apply(self, fn: Any, recurse: bool = True) -> Any:
        probe = fn(torch.zeros(1, dtype=torch.float32))
        if probe.dtype in _LOW_PRECISION:
            device = probe.device
            return super()._apply(lambda t: t.to(device=device), recurse)
        return super()._apply(fn, recurse)


class _HeadDecay(KeepFloat32):
    """What the learnable decays share: H heads, a named initialisation (:data:`DECAY_INITS`) and its re-application."""

    def __init__(self, num_heads: int, init: str) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.init = _check_init(init)

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Re-initialise the parameters according to ``self.init``."""
        self._initialise(DECAY_INITS[self.init](self.num_heads))

    def _initialise(self, start: Tensor | None) -> None:
        """Set the parameters for the starting decays ``start`` [H] (None: the paper's random draw)."""
        raise NotImplementedError


class ScalarDecay(_HeadDecay):
    """LION-D: one learnable decay per head, ``lambda_h = sigmoid(a_h)``.

    Args:
        num_heads: Number of heads H.
        init: ``"paper"`` (``a ~ N(0, 1)``) or ``"long"`` (RetNet schedule).

    Attributes:
        a: Logits [H], stored in fp32.
    """

    op_arg = "g_gamma"

    def __init__(self, num_heads: int, init: str = "paper") -> None:
        super().__init__(num_heads, init)
        self.a = nn.Parameter(torch.empty(num_heads, dtype=torch.float32))
        self.reset_parameters()

    def _initialise(self, start: Tensor | None) -> None:
        if start is None:
            self.a.normal_(0.0, 1.0)
        else:
            self.a.copy_(_logit(start))

    def forward(self, x: Tensor) -> Tensor:
        """Return the per-head log-decays.

        Args:
            x: Tokens [B, T, dim]; only their dtype and device are used.

        Returns:
            ``g_gamma`` [H] in fp32 (fp64 for fp64 inputs), all <= 0.
        """
        with torch.autocast(device_type=x.device.type, enabled=False):
            return F.logsigmoid(self.a.to(_compute_dtype(x.dtype)))

    def extra_repr(self) -> str:
        return f"num_heads={self.num_heads}, init={self.init!r}"


class SelectiveDecay(_HeadDecay):
    """LION-S: per-token, per-head decays ``lambda_{i,h} = sigmoid(w_h . x_i + b_h)``.

    Args:
        dim: Token width.
        num_heads: Number of heads H.
        init: ``"paper"`` (default ``nn.Linear`` init) or ``"long"`` (bias on the RetNet schedule, small
            weights).
        long_weight_std: Standard deviation of the weights under the ``"long"`` init.

    Attributes:
        weight: [H, dim], fp32.
        bias: [H], fp32.
    """

    op_arg = "g"

    def __init__(self, dim: int, num_heads: int, init: str = "paper", long_weight_std: float = 0.02) -> None:
        super().__init__(num_heads, init)
        self.dim = dim
        self.long_weight_std = long_weight_std
        self.weight = nn.Parameter(torch.empty(num_heads, dim, dtype=torch.float32))
        self.bias = nn.Parameter(torch.empty(num_heads, dtype=torch.float32))
        self.reset_parameters()

    def _initialise(self, start: Tensor | None) -> None:
        if start is None:
            # The same draw as nn.Linear.reset_parameters.
            nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
            bound = 1.0 / math.sqrt(self.dim) if self.dim > 0 else 0.0
            nn.init.uniform_(self.bias, -bound, bound)
        else:
            nn.init.normal_(self.weight, 0.0, self.long_weight_std)
            self.bias.copy_(_logit(start))

    def forward(self, x: Tensor) -> Tensor:
        """Return per-token log-decays.

        Args:
            x: Tokens [B, T, dim].

        Returns:
            ``g`` [B, T, H] in fp32 (fp64 for fp64 inputs), all <= 0.
        """
        dtype = _compute_dtype(x.dtype)
        with torch.autocast(device_type=x.device.type, enabled=False):
            logits = F.linear(x.to(dtype), self.weight.to(dtype), self.bias.to(dtype))
            return F.logsigmoid(logits)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, num_heads={self.num_heads}, init={self.init!r}"


DecayFactory = Callable[..., nn.Module | None]


def _no_decay(dim: int, num_heads: int, init: str = "paper") -> None:
    _check_init(init)
    return None


def _scalar_decay(dim: int, num_heads: int, init: str = "paper") -> ScalarDecay:
    return ScalarDecay(num_heads, init=init)


def _selective_decay(dim: int, num_heads: int, init: str = "paper") -> SelectiveDecay:
    return SelectiveDecay(dim, num_heads, init=init)


DECAYS: dict[str, DecayFactory] = {"lit": _no_decay, "d": _scalar_decay, "s": _selective_decay}


def register_decay(name: str, factory: DecayFactory, *, overwrite: bool = False) -> DecayFactory:
    """Register a decay parametrisation under a variant name.

    Args:
        name: Variant name.
        factory: ``factory(dim, num_heads, init) -> nn.Module | None``; the module's ``forward(x [B, T, dim])``
            returns log-decays <= 0 and its class attribute ``op_arg`` names the op keyword they go to
            (``"g"`` for [B, T, H], ``"g_gamma"`` for [H]). ``None`` means no decay.
        overwrite: Allow replacing an existing entry.

    Returns:
        ``factory``.

    Raises:
        TypeError: If ``factory`` is not callable.
        ValueError: If ``name`` is taken and ``overwrite`` is False.
    """
    return add_to_registry(DECAYS, "decay", name, factory, overwrite)


def list_decays() -> list[str]:
    """Return the registered variant names, sorted."""
    return sorted(DECAYS)


def build_decay(variant: str, dim: int, num_heads: int, init: str = "paper") -> nn.Module | None:
    """Build the decay module of a variant.

    Args:
        variant: A registered variant (``"lit"``, ``"d"``, ``"s"``, ...).
        dim: Token width.
        num_heads: Number of heads.
        init: Initialisation name, one of :data:`DECAY_INITS`.

    Returns:
        The decay module, or ``None`` for a variant without decay.

    Raises:
        ValueError: On an unknown variant or initialisation.
    """
    try:
        factory = DECAYS[variant]
    except (KeyError, TypeError):
        raise ValueError(f"unknown variant {variant!r}; expected one of {list_decays()}") from None
    return factory(dim, num_heads, init=init)
