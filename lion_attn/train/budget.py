"""A time budget that schedules: the learning-rate schedule is planned to end when the budget does.

With ``--max-minutes M`` and neither ``--epochs`` nor ``--max-steps``, the run does not know its length in
steps. It measures how long a step takes (evaluations and checkpoints included, averaged since the first
step, whose start-up cost is left out) and plans ``total_steps`` so the cosine decay reaches its floor at
``M`` minutes, keeping back the time of one final evaluation. The plan is made after the first measured
step and then re-made after every step, so that it follows the machine's speed and lands on time
however contended the machine is: far from the end a re-plan moves the end by little, near it the plan
shrinks to the steps that still fit. Once warm-up is over its length is frozen, so re-plans only stretch or
shrink the decay. The plan lives in the run state, which a checkpoint saves for ``--resume``; the budget
then counts the minutes of every invocation of the run.
"""

from __future__ import annotations

import logging
import math

from lion_attn.train.state import RunState

logger = logging.getLogger(__name__)

# Steps of the provisional schedule used before the first measurement (it only sets step 0's warm-up rate).
PROVISIONAL_STEPS = 100


class BudgetPlanner:
    """Plans a run's schedule to end at ``budget_min`` minutes.

    Args:
        budget_min: The time budget in minutes (the run's total, over all invocations).
        warmup: ``--warmup``: a fraction of the planned steps if < 1, else a number of steps.
    """

    def __init__(self, budget_min: float, warmup: float) -> None:
        if budget_min <= 0:
            raise ValueError(f"--max-minutes must be > 0 to schedule by time, got {budget_min!r}")
        self.budget_min = budget_min
        self.warmup = warmup
        self._ref: tuple[int, float] | None = None
        self._announced = False

    def _warmup_steps(self, total: int) -> int:
        steps = round(self.warmup * total) if self.warmup < 1 else int(self.warmup)
        return min(steps, total)

    def start(self, run: RunState) -> None:
        """Set the provisional plan of a fresh run (a resumed run keeps its saved plan)."""
        run.budget_planned = True
        if run.step == 0 and run.total_steps == 0:
            run.total_steps = PROVISIONAL_STEPS
            run.warmup_steps = self._warmup_steps(PROVISIONAL_STEPS)

    def observe(self, run: RunState, minutes: float, reserve_min: float = 0.0) -> None:
        """Re-plan after a step.

        Args:
            run: The run state; ``total_steps`` (and, during warm-up, ``warmup_steps``) are updated in place.
            minutes: Minutes of the run so far (all invocations), the same on every process.
            reserve_min: Minutes kept back at the end (the final evaluation and save).
        """
        planned_before = run.seconds_per_step > 0
        if self._ref is None:
            # The first step of an invocation pays for start-up (allocations, worker processes): measure after it.
            self._ref = (run.step, minutes)
        elif run.step > self._ref[0]:
            ref_step, ref_min = self._ref
            run.seconds_per_step = (minutes - ref_min) * 60.0 / (run.step - ref_step)
        left_s = (self.budget_min - minutes - reserve_min) * 60.0
        if left_s <= 0:
            # Time is up (start-up alone can take it on a busy machine): the schedule ends at this step.
            run.total_steps = run.step
            return
        if run.seconds_per_step <= 0:
            return
        steps_left = math.floor(left_s / run.seconds_per_step)
        total = run.step + steps_left
        # The provisional plan's warm-up is replaced by the first real plan's; later ones only while it lasts.
        if run.step < run.warmup_steps or not planned_before:
            run.warmup_steps = self._warmup_steps(total)
        run.total_steps = total
        if not self._announced:
            self._announced = True
            logger.info(
                "time budget %.2f min: %.3f s per step, planned %d steps (warm-up %d)",
                self.budget_min,
                run.seconds_per_step,
                total,
                run.warmup_steps,
            )


def estimate_eval_minutes(samples: int, batch_size: int, seconds_per_step: float, models: int = 1) -> float:
    """Minutes an evaluation of ``samples`` should take before one was timed.

    A forward pass costs about a third of a training step (forward and backward) per sample.

    Args:
        samples: Evaluation samples.
        batch_size: Training batch size (the one ``seconds_per_step`` was measured with).
        seconds_per_step: Measured time of one training step.
        models: Models evaluated (2 with an EMA).
    """
    batches = samples / max(1, batch_size)
    return models * batches * seconds_per_step / 3 / 60.0


__all__ = ["PROVISIONAL_STEPS", "BudgetPlanner", "estimate_eval_minutes"]
