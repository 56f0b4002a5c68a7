"""The end of a run: ``summary.json`` and the curves' plot."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from lion_attn.train.checkpoint import atomic_write_text
from lion_attn.train.config import TrainConfig
from lion_attn.train.metrics import plot_curves
from lion_attn.train.state import RunState

logger = logging.getLogger(__name__)


def build_summary(
    config: TrainConfig,
    run: RunState,
    metric: str,
    rows: list[dict[str, Any]],
    extra: dict[str, Any],
    test: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The content of ``summary.json``.

    Args:
        config: The run's config.
        run: The run state at the end.
        metric: The task's main metric.
        rows: The metrics log (one row per evaluation).
        extra: Values known to the trainer only (status, minutes, epochs, final learning rate, parameters).
        test: The test-set report, if the task has a test set.
    """
    last = rows[-1] if rows else {}
    summary: dict[str, Any] = {
        "metric": metric,
        "final": last.get(metric),
        "best": run.best,
        "best_step": run.best_step,
        "steps": run.step,
        "total_steps": run.total_steps,
        **extra,
        "attn_mode": config.attn_mode,
    }
    # Every metric of the task (e.g. GLUE's f1 and accuracy) at the final and at the best evaluation.
    bookkeeping = {"step", "epoch", "lr", "train_loss", "elapsed_min"}
    best_row = next((r for r in reversed(rows) if r.get("step") == run.best_step), {})
    summary["final_metrics"] = {k: v for k, v in last.items() if k not in bookkeeping}
    summary["best_metrics"] = {k: v for k, v in best_row.items() if k not in bookkeeping}
    if config.budget_scheduled:
        summary["budget_minutes"] = config.max_minutes
    if config.ema_decay:
        summary["ema_final"] = last.get(f"ema_{metric}")
    if test is not None:
        summary["test"] = test["metrics"].get(metric)
        if "ema_metrics" in test:
            summary["test_ema"] = test["ema_metrics"].get(metric)
    return summary


def write_summary(out: Path, summary: dict[str, Any], rows: list[dict[str, Any]], title: str) -> None:
    """Write ``OUT/summary.json`` and ``OUT/curves.png`` (when there are rows), and log the summary."""
    atomic_write_text(Path(out) / "summary.json", json.dumps(summary, indent=2) + "\n")
    if rows:
        plot_curves(rows, Path(out) / "curves.png", title=title)
    logger.info("%s after %d steps (%.1f min): %s", summary["status"], summary["steps"], summary["minutes"], summary)


__all__ = ["build_summary", "write_summary"]
