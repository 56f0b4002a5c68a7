"""Read what the runs and probes wrote into one results object (plain dicts, JSON-serialisable)."""

from __future__ import annotations

import json
import logging
import statistics
from pathlib import Path
from typing import Any

from execute import FINISHED
from plan import Run

log = logging.getLogger("benchmarks.paper")


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def headline_value(summary: dict[str, Any]) -> float | None:
    """The number a run is judged by: its held-out test score when the task has one, else its final evaluation."""
    for key in ("test", "final"):
        value = summary.get(key)
        if isinstance(value, dict):
            value = value.get(summary.get("metric", ""))
        if isinstance(value, (int, float)):
            return float(value)
    return None


def curve(folder: Path, metric: str) -> list[tuple[int, float]]:
    """(step, metric) pairs of the run's evaluations, from metrics.jsonl."""
    points = []
    path = folder / "metrics.jsonl"
    if not path.is_file():
        return points
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row.get(metric), (int, float)) and "step" in row:
            points.append((int(row["step"]), float(row[metric])))
    return points


def collect_runs(runs: list[Run], runs_dir: Path) -> dict[str, Any]:
    """Per comparison and model label: per-seed values, the metric's name, minutes, status and seed-0 curves."""
    table: dict[str, dict[str, Any]] = {}
    for run in runs:
        folder = runs_dir / run.key
        summary = _read_json(folder / "summary.json") or {}
        wall = (_read_json(folder / "paper_wall.json") or {}).get("seconds")
        entry = table.setdefault(run.comparison, {}).setdefault(
            run.label, {"values": [], "seeds": [], "minutes": [], "wall_s": [], "failed": [], "capped": []}
        )
        value = headline_value(summary) if summary.get("status") in FINISHED else None
        if value is None:
            entry["failed"].append(run.seed)
            continue
        entry["metric"] = summary.get("metric", "accuracy")
        entry["values"].append(value)
        entry["seeds"].append(run.seed)
        entry["minutes"].append(summary.get("minutes"))
        entry["wall_s"].append(wall)
        entry["steps"] = summary.get("steps")
        if summary.get("status") == "time_budget":
            entry["capped"].append(run.seed)
        if run.seed == min(r.seed for r in runs if r.comparison == run.comparison):
            entry["curve"] = curve(folder, entry["metric"])
    return table


def glue_average(table: dict[str, Any]) -> dict[str, list[float]]:
    """Per model label: the GLUE-layout average over tasks, per seed (seeds missing a task are left out)."""
    tasks = [name for name in table if name.startswith("glue-")]
    out: dict[str, list[float]] = {}
    labels = {label for name in tasks for label in table[name]}
    for label in labels:
        per_seed: dict[int, list[float]] = {}
        for name in tasks:
            entry = table[name].get(label, {})
            for seed, value in zip(entry.get("seeds", []), entry.get("values", []), strict=True):
                per_seed.setdefault(seed, []).append(value)
        out[label] = [statistics.fmean(v) for v in per_seed.values() if len(v) == len(tasks)]
    return out


def lra_average(table: dict[str, Any]) -> dict[str, float]:
    """Per model label: the mean over the LRA tasks run (first seed of each), as LRA's own average is reported."""
    tasks = [name for name in table if name.startswith("lra-")]
    labels = {label for name in tasks for label in table[name]}
    out = {}
    for label in labels:
        values = [table[name][label]["values"][0] for name in tasks if table[name].get(label, {}).get("values")]
        if len(values) == len(tasks):
            out[label] = statistics.fmean(values)
    return out


def collect_probe(models_json: Path) -> dict[str, Any]:
    """Training-step ratios (per round, so their spread is known) and memory growth from benchmarks/models.py."""
    data = _read_json(models_json)
    if not data:
        return {}
    ratios: dict[str, dict[str, list[float]]] = {}
    for group in data.get("train", []):
        times = group.get("times_s", {})
        base = times.get("softmax")
        if not base:
            continue
        kind = "vision" if group.get("kind") == "vision" else group.get("group", "mlm")
        per = ratios.setdefault(kind, {})
        for key, series in times.items():
            if key in ("softmax",):
                continue
            per[key] = [t / b for t, b in zip(series, base, strict=False)]
    return {
        "ratios": ratios,
        "memory_growth": data.get("memory_growth", []),
        "resolution": data.get("resolution", []),
        "groups": [g.get("group") for g in data.get("train", [])],
    }
