"""The bidirectional decay mask of LION (docs/maths.md, "The decay mask"), in log space.

``M[i, j] = prod_{l = min(i,j)+1 .. max(i,j)} lambda_l``. With ``c`` the inclusive prefix sum of the log-decays,
``log M[i, j] = c[max(i,j)] - c[min(i,j)]``: a stable segment sum whose every value is <= 0, so ``exp`` never
overflows. Entries separated by a reset (a decay of exactly 0) are set to ``-inf`` *before* ``exp``, so no
``0 * inf`` ever appears.
"""

from __future__ import annotations

import torch
from torch import Tensor


def log_decay_block(prefix_rows: Tensor, prefix_cols: Tensor) -> Tensor:
    """Log-mask entries between two runs of positions that share one prefix-sum origin.

    Args:
        prefix_rows: [..., R] inclusive prefix sums of the log-decays at the query positions.
        prefix_cols: [..., S] the same at the key positions.

    Returns:
        [..., R, S] ``c[max] - c[min] = -|c_i - c_j|`` (<= 0): prefix sums only decrease along the sequence.
        Rows and columns may be offset by a common origin (only differences matter).
        Built in place, for use without autograd (every form differentiates the mask by hand).
    """
    return (prefix_rows[..., :, None] - prefix_cols[..., None, :]).abs_().neg_()


def mask_resets(log_mask: Tensor, reset_rows: Tensor | None, reset_cols: Tensor | None) -> Tensor:
    """Set to ``-inf`` the log-mask entries whose pair straddles a reset.

    Args:
        log_mask: [..., R, S] log-mask.
        reset_rows: [..., R] count of resets up to each query position (inclusive), or None.
        reset_cols: [..., S] the same at the key positions.

    Returns:
        [..., R, S] the log-mask with ``-inf`` wherever the two counts differ (a reset lies between the two).
    """
    if reset_rows is None or reset_cols is None:
        return log_mask
    apart = reset_rows[..., :, None] != reset_cols[..., None, :]
    return log_mask.masked_fill(apart, float("-inf"))


def reset_counts(reset: Tensor | None, heads_axis: bool = True) -> Tensor | None:
    """Inclusive running count of resets.

    Args:
        reset: [B, T] bool or None.
        heads_axis: return [B, T, 1] (to broadcast against [B, T, H]) when True, else [B, T].

    Returns:
        The counts as int32, or None.
    """
    if reset is None:
        return None
    counts = reset.to(torch.int32).cumsum(dim=1, dtype=torch.int32)
    return counts[..., None] if heads_axis else counts


def signed_tri(size: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    """[size, size] matrix with +1 strictly below the diagonal, -1 strictly above and 0 on it."""
    ones = torch.ones(size, size, dtype=dtype, device=device)
    return ones.tril(-1) - ones.triu(1)
