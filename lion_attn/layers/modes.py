"""Run-time switching of the computation form of every attention layer in a network.

LION (Afzal et al., NeurIPS 2025) computes the same attention in three equal forms: ``"parallel"``
(full attention matrix), ``"chunk"`` (chunkwise, linear memory) and ``"recurrent"`` (bidirectional RNN).
A model trains in one form and infers in another; parameters do not depend on the form.
"""

from __future__ import annotations

from torch import nn

# The op owns the list of forms (lion_attn.ops.MODES) and its check; layers and models reuse them.
from lion_attn.ops.inputs import check_mode

__all__ = ["check_mode", "get_attn_modes", "set_attn_mode"]


def set_attn_mode(module: nn.Module, mode: str) -> None:
    """Call ``set_mode(mode)`` on ``module`` and every submodule that has it.

    Args:
        module: Any network.
        mode: One of :data:`lion_attn.ops.MODES`; validated once before anything changes.

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
    return {str(sub.mode) for sub in module.modules() if callable(getattr(sub, "set_mode", None))}
