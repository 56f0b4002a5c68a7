"""Run-time switching of the computation form of every attention layer in a network.

LION (Afzal et al., NeurIPS 2025) computes the same attention in three equal forms: ``"parallel"``
(full attention matrix), ``"chunk"`` (chunkwise, linear memory) and ``"recurrent"`` (bidirectional RNN).
A model trains in one form and infers in another; parameters do not depend on the form.
"""

from __future__ import annotations

from torch import nn

from lion_attn.ops import MODES

__all__ = ["ATTN_MODES", "check_mode", "get_attn_modes", "set_attn_mode"]

# The op owns the list of forms; re-exported here for layer and model code.
ATTN_MODES: tuple[str, ...] = tuple(MODES)


def check_mode(mode: str) -> str:
    """Validate a form name.

    Args:
        mode: One of :data:`ATTN_MODES`.

    Returns:
        ``mode`` unchanged.

    Raises:
        ValueError: If ``mode`` is not a known form.
    """
    if mode not in ATTN_MODES:
        raise ValueError(f"unknown mode {mode!r}; expected one of {list(ATTN_MODES)}")
    return mode


def set_attn_mode(module: nn.Module, mode: str) -> None:
    """Call ``set_mode(mode)`` on ``module`` and every submodule that has it.

    Args:
        module: Any network.
        mode: One of :data:`ATTN_MODES`; validated once before anything changes.

    Raises:
        ValueError: If ``mode`` is unknown (nothing is changed then).
    """
    check_mode(mode)
    for sub in module.modules():
        set_mode = getattr(sub, "set_mode", None)
        if callable(set_mode):
            set_mode(mode)


def get_attn_modes(module: nn.Module) -> set[str]:
    """Return the set of forms in use by the attention layers in ``module``.

    Args:
        module: Any network.

    Returns:
        The ``mode`` of every submodule that has ``set_mode`` (``"softmax"`` for softmax attention); empty
        if there is none.
    """
    return {sub.mode for sub in module.modules() if callable(getattr(sub, "set_mode", None))}
