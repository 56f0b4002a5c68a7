"""The run state: everything about a run's progress that a checkpoint must carry to continue it exactly.

One object, :class:`RunState`, holds the counters (step, epoch, position within the epoch), the schedule's
plan (total and warm-up steps, which a time budget may re-plan), the best metric so far, the running
training loss and the time spent. The trainer reads and writes only this object; a checkpoint stores it as
plain JSON-compatible values so the weights-only loader reads it back.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any


def cosine_lr_factor(step: int, total: int, warmup: int, min_ratio: float) -> float:
    """Multiplier of the peak learning rate at ``step``: linear warm-up, then cosine decay to ``min_ratio``.

    Args:
        step: Optimiser steps already taken (the factor applies to the next one).
        total: Length of the schedule in steps; at and beyond it the factor is ``min_ratio``.
        warmup: Steps of linear warm-up from ``1 / warmup`` to 1.
        min_ratio: Final learning rate divided by the peak.
    """
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    if total <= warmup:
        return 1.0
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def linear_lr_factor(step: int, total: int, warmup: int, min_ratio: float) -> float:
    """Multiplier of the peak learning rate at ``step``: linear warm-up, then linear decay to ``min_ratio``."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    if total <= warmup:
        return 1.0
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return 1.0 - (1.0 - min_ratio) * progress


@dataclass
class RunState:
    """Progress of a run; saved in every checkpoint and restored on ``--resume``.

    Attributes:
        step: Optimiser steps taken.
        epoch: Current epoch (passes over the training set completed).
        batch_in_epoch: Batches of the current epoch already used.
        total_steps: Planned length of the schedule (fixed by epochs/steps, or planned from a time budget).
        warmup_steps: Warm-up length of the schedule in steps.
        best: Best value of the task's metric so far (None before the first evaluation).
        best_step: Step at which ``best`` was reached.
        last_eval_step: Step of the last evaluation (-1: none yet).
        elapsed_min: Training minutes spent by earlier invocations of this run (this one's are added on save).
        running_loss: Sum of the training losses since the last evaluation (logged as their mean there).
        running_n: Number of losses in ``running_loss``.
        budget_planned: Whether ``total_steps`` was planned from the time budget (else it is fixed).
        seconds_per_step: The measured time of one step (evaluations included) behind the last plan.
    """

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    total_steps: int = 0
    warmup_steps: int = 0
    best: float | None = None
    best_step: int = 0
    last_eval_step: int = -1
    elapsed_min: float = 0.0
    running_loss: float = 0.0
    running_n: int = 0
    budget_planned: bool = False
    seconds_per_step: float = 0.0

    def lr_factor(self, min_ratio: float, schedule: str = "cosine") -> float:
        """The schedule's multiplier of the peak learning rate for the next step (``"cosine"`` or ``"linear"``)."""
        factor = linear_lr_factor if schedule == "linear" else cosine_lr_factor
        return factor(self.step, self.total_steps, self.warmup_steps, min_ratio)

    def improves(self, value: float | None, greater_is_better: bool) -> bool:
        """Whether ``value`` beats the best metric so far."""
        if value is None:
            return False
        if self.best is None:
            return True
        return value > self.best if greater_is_better else value < self.best

    def take_running_loss(self) -> float | None:
        """The mean training loss since the last call (None if no step was taken), and reset it."""
        mean = self.running_loss / self.running_n if self.running_n else None
        self.running_loss, self.running_n = 0.0, 0
        return mean

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-compatible values."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunState:
        """Rebuild from :meth:`to_dict`'s output, ignoring unknown keys.

        Raises:
            ValueError: A counter is missing.
        """
        missing = [k for k in ("step", "epoch", "batch_in_epoch", "total_steps") if k not in data]
        if missing:
            raise ValueError(f"the run state lacks {', '.join(missing)}")
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


__all__ = ["RunState", "cosine_lr_factor", "linear_lr_factor"]
