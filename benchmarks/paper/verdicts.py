"""Verdicts on the paper's claims from repeated measurements: reproduced, not reproduced or inconclusive.

The spread over seeds decides "inconclusive": a difference counts only when it is larger than twice its
standard error (Welch's, from the per-seed values of both sides). With a single seed there is no spread, so
no comparison can be called; the verdict says so instead of guessing.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE = "reproduced", "not reproduced", "inconclusive"
# Two standard errors: a difference smaller than that is within what reseeding alone moves.
Z = 2.0


@dataclass(frozen=True)
class Verdict:
    """The outcome of one claim: ``status`` is one of the three constants above; ``reason`` says why."""

    status: str
    reason: str


def mean_and_spread(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    if not values:
        raise ValueError("values must not be empty")
    mean = statistics.fmean(values)
    return mean, statistics.stdev(values) if len(values) > 1 else 0.0


def standard_error(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Welch standard error of ``mean(a) - mean(b)``; None when either side has fewer than two values."""
    if len(a) < 2 or len(b) < 2:
        return None
    return math.sqrt(statistics.variance(a) / len(a) + statistics.variance(b) / len(b))


def greater(a: Sequence[float], b: Sequence[float], name_a: str, name_b: str, margin: float = 0.0) -> Verdict:
    """Claim: ``a`` exceeds ``b`` by more than ``margin`` (e.g. "LION-S beats LION-LIT").

    Args:
        a: Per-seed values of the side claimed larger.
        b: Per-seed values of the other side.
        name_a: Label of ``a`` in the reason.
        name_b: Label of ``b`` in the reason.
        margin: Difference the claim needs (0: any).
    """
    diff = statistics.fmean(a) - statistics.fmean(b) - margin
    se = standard_error(a, b)
    text = f"{name_a} - {name_b} = {statistics.fmean(a) - statistics.fmean(b):+.4f}"
    if se is None:
        return Verdict(INCONCLUSIVE, f"{text} from {min(len(a), len(b))} seed(s): no spread to judge it by")
    if se == 0.0:
        se = 1e-12
    text += f" (2 s.e. = {Z * se:.4f}, {min(len(a), len(b))} seeds)"
    if diff > Z * se:
        return Verdict(REPRODUCED, text)
    if diff < -Z * se:
        return Verdict(NOT_REPRODUCED, text)
    return Verdict(INCONCLUSIVE, text + ": within the spread over seeds")


def close_to(a: Sequence[float], b: Sequence[float], name_a: str, name_b: str, tolerance: float) -> Verdict:
    """Claim: ``a`` matches or approaches ``b``, i.e. ``mean(a) >= mean(b) - tolerance``.

    Reproduced when even ``mean(a) - mean(b)`` minus two standard errors clears ``-tolerance``; not reproduced
    when plus two standard errors still falls short; inconclusive in between.
    """
    diff = statistics.fmean(a) - statistics.fmean(b)
    se = standard_error(a, b)
    text = f"{name_a} - {name_b} = {diff:+.4f}, tolerance {tolerance:.4f}"
    if se is None:
        return Verdict(INCONCLUSIVE, f"{text} from {min(len(a), len(b))} seed(s): no spread to judge it by")
    text += f" (2 s.e. = {Z * se:.4f})"
    if diff - Z * se >= -tolerance:
        return Verdict(REPRODUCED, text)
    if diff + Z * se < -tolerance:
        return Verdict(NOT_REPRODUCED, text)
    return Verdict(INCONCLUSIVE, text + ": the spread over seeds straddles the tolerance")


def chance_band(chance: float, n_eval: int) -> float:
    """Upper edge of accuracy a guessing model reaches with about 2.5% probability on ``n_eval`` examples."""
    if not 0 < chance < 1 or n_eval < 1:
        raise ValueError(f"chance must be in (0, 1) and n_eval >= 1, got {chance}, {n_eval}")
    return chance + Z * math.sqrt(chance * (1 - chance) / n_eval)


def learns(values: Sequence[float], chance: float, n_eval: int, name: str) -> Verdict:
    """Claim: the model learns the task (every seed above the chance band)."""
    edge = chance_band(chance, n_eval)
    text = f"{name}: {', '.join(f'{v:.4f}' for v in values)}; chance band <= {edge:.4f} ({n_eval} eval examples)"
    if all(v > edge for v in values):
        return Verdict(REPRODUCED, text)
    if all(v <= edge for v in values):
        return Verdict(NOT_REPRODUCED, text)
    return Verdict(INCONCLUSIVE, text + ": seeds disagree")


def stays_at_chance(values: Sequence[float], chance: float, n_eval: int, name: str) -> Verdict:
    """Claim: the model fails the task (every seed inside the chance band)."""
    learned = learns(values, chance, n_eval, name)
    flipped = {REPRODUCED: NOT_REPRODUCED, NOT_REPRODUCED: REPRODUCED}.get(learned.status, INCONCLUSIVE)
    return Verdict(flipped, learned.reason)


def ratio_order(ratios: dict[str, Sequence[float]], order: Sequence[str]) -> Verdict:
    """Claim: the cost ratios rise in ``order`` (e.g. LIT < D < S), each step beyond the spread of repeats."""
    missing = [name for name in order if not ratios.get(name)]
    if missing:
        return Verdict(INCONCLUSIVE, f"not measured: {', '.join(missing)}")
    steps = [greater(ratios[hi], ratios[lo], hi, lo) for lo, hi in itertools.pairwise(order)]
    means = ", ".join(f"{name} x{statistics.fmean(ratios[name]):.2f}" for name in order)
    statuses = {s.status for s in steps}
    if statuses == {REPRODUCED}:
        return Verdict(REPRODUCED, means)
    if NOT_REPRODUCED in statuses:
        bad = "; ".join(s.reason for s in steps if s.status == NOT_REPRODUCED)
        return Verdict(NOT_REPRODUCED, f"{means}; reversed: {bad}")
    return Verdict(INCONCLUSIVE, f"{means}; some steps within the spread of repeats")


def linear_memory(slope: float | None, name: str, limit: float = 1.15) -> Verdict:
    """Claim: memory grows at most linearly in tokens (log-log slope of extra memory against tokens)."""
    if slope is None or not math.isfinite(slope):
        return Verdict(INCONCLUSIVE, f"{name}: no slope measured")
    text = f"{name}: log-log slope {slope:.2f} (linear <= {limit})"
    return Verdict(REPRODUCED if slope <= limit else NOT_REPRODUCED, text)
