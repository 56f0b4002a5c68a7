"""The interface of a linear-memory form (chunkwise or recurrent), as :class:`lion_attn.ops.autograd.LionFunction`
runs it: forward, and three more times for the gradients."""

from __future__ import annotations

import torch
from torch import Tensor

from lion_attn.ops.inputs import Operands
from lion_attn.ops.parallel import safe_denominator


def with_ones(v: Tensor) -> Tensor:
    """[..., D] -> [..., D + 1]: append the column whose sums are the normalisers."""
    return torch.cat([v, v.new_ones(*v.shape[:-1], 1)], dim=-1)


class LinearForm:
    """A linear-memory form: ``form(x, signed_with, ones) -> (total, signed_dot | None)``.

    ``x`` are the :class:`~lion_attn.ops.inputs.Operands`; nothing is recorded for autograd. ``signed_with`` (a
    ``[B, T, H, D]`` tensor ``w``) asks for ``[B, T, H]`` ``w_i . (earlier_i - later_i)``, the sums over ``j < i``
    minus those over ``j > i``; ``ones`` asks for the sums of an implicit ones column appended to ``v``. The form
    object holds the settings (scale, ...); subclasses write :meth:`sums`.
    """

    def __call__(
        self, x: Operands, signed_with: Tensor | None = None, ones: bool = False
    ) -> tuple[Tensor, Tensor | None]:
        with torch.no_grad():
            return self.sums(x, signed_with, ones)

    def sums(self, x: Operands, signed_with: Tensor | None, ones: bool) -> tuple[Tensor, Tensor | None]:
        """The un-normalised sums: what ``__call__`` returns, computed with autograd off."""
        raise NotImplementedError

    def normalized(self, x: Operands, eps: float) -> tuple[Tensor, Tensor]:
        """``(sums / (den + eps), den)`` for the implicit ones column: [B, T, H, D] and [B, T, H]."""
        sums, _ = self(x, None, True)
        # A copy, not a view: the backward pass keeps den, and a view would keep all of ``sums`` alive with it.
        den = sums[..., -1].clone()
        return sums[..., :-1] / safe_denominator(den + eps)[..., None], den
