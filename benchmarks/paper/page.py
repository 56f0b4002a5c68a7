"""Write the results page (markdown) and its plots from the collected results."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import verdicts as v
from claims import Claim
from collect import glue_average, lra_average

log = logging.getLogger("benchmarks.paper")

PART_TITLES = {"vision": "Vision", "language": "Language", "lra": "Long Range Arena", "cost": "Cost"}
MARK = {v.REPRODUCED: "reproduced", v.NOT_REPRODUCED: "**not reproduced**", v.INCONCLUSIVE: "inconclusive"}


def _cell(entry: dict[str, Any]) -> str:
    values = entry.get("values", [])
    if not values:
        return "failed" if entry.get("failed") else "not run"
    mean, spread = v.mean_and_spread(values)
    text = f"{mean:.4f} ± {spread:.4f}" if len(values) > 1 else f"{mean:.4f}"
    if entry.get("failed"):
        text += f" ({len(entry['failed'])} failed)"
    if entry.get("capped"):
        text += " (time cap)"
    return text


def accuracy_table(table: dict[str, Any], comparisons: list[str]) -> list[str]:
    """One row per comparison, one column per model label: mean ± spread over seeds."""
    labels: list[str] = []
    for name in comparisons:
        labels += [label for label in table[name] if label not in labels]
    lines = ["| comparison | metric | " + " | ".join(labels) + " |", "|---|---|" + "---|" * len(labels)]
    for name in comparisons:
        metric = next((e.get("metric") for e in table[name].values() if e.get("metric")), "")
        cells = [_cell(table[name].get(label, {})) for label in labels]
        lines.append(f"| {name} | {metric} | " + " | ".join(cells) + " |")
    return lines


def claims_table(claims: list[Claim]) -> list[str]:
    lines = ["| part | claim | paper | ours | verdict | why |", "|---|---|---|---|---|---|"]
    for c in claims:
        reason = c.verdict.reason.replace("|", "/")
        lines.append(f"| {c.part} | {c.claim} | {c.paper} | {c.ours} | {MARK[c.verdict.status]} | {reason} |")
    return lines


def _save(fig: Any, path: Path) -> None:
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
    os.replace(tmp, path)


def plot_accuracy(table: dict[str, Any], comparisons: list[str], path: Path) -> bool:
    """Bar chart: one panel per comparison, mean with the spread over seeds as error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [c for c in comparisons if any(e.get("values") for e in table[c].values())]
    if not shown:
        return False
    fig, axes = plt.subplots(1, len(shown), figsize=(3.6 * len(shown), 3.2), squeeze=False)
    for ax, name in zip(axes[0], shown, strict=True):
        labels = [label for label, e in table[name].items() if e.get("values")]
        stats = [v.mean_and_spread(table[name][label]["values"]) for label in labels]
        ax.bar(range(len(labels)), [m for m, _ in stats], yerr=[s for _, s in stats], capsize=3, color="#4c72b0")
        ax.set_xticks(range(len(labels)), labels, rotation=40, ha="right", fontsize=8)
        low = min(m - s for m, s in stats)
        ax.set_ylim(max(0.0, low - 0.05), None)
        metric = next((e.get("metric") for e in table[name].values() if e.get("metric")), "")
        ax.set_title(f"{name} ({metric})", fontsize=9)
    _save(fig, path)
    plt.close(fig)
    return True


def plot_curves(table: dict[str, Any], comparisons: list[str], path: Path) -> bool:
    """Evaluation metric against step for the first seed of each model, one panel per comparison."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [c for c in comparisons if any(e.get("curve") for e in table[c].values())]
    if not shown:
        return False
    fig, axes = plt.subplots(1, len(shown), figsize=(3.8 * len(shown), 3.0), squeeze=False)
    for ax, name in zip(axes[0], shown, strict=True):
        for label, entry in table[name].items():
            points = entry.get("curve") or []
            if points:
                ax.plot([p[0] for p in points], [p[1] for p in points], marker=".", label=label)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.legend(fontsize=7)
    _save(fig, path)
    plt.close(fig)
    return True


def plot_costs(probe: dict[str, Any], path: Path) -> bool:
    """Training-step ratios to softmax per group, and extra inference memory against patches per form."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ratios, records = probe.get("ratios", {}), probe.get("resolution", [])
    if not ratios and not records:
        return False
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2))
    ticks: list[float] = []
    tick_labels: list[str] = []
    start = 0
    for group, per in ratios.items():
        keys = [k for k in per if per[k]]
        means = [v.mean_and_spread(per[k]) for k in keys]
        xs = [start + j for j in range(len(keys))]
        start += len(keys) + 1  # a gap between groups
        left.bar(xs, [m for m, _ in means], yerr=[s for _, s in means], capsize=2, label=group)
        ticks += xs
        tick_labels += keys
    # One call for every group's ticks (a call per group would keep only the last group's labels).
    left.set_xticks(ticks, tick_labels, rotation=45, fontsize=7)
    left.axhline(1.0, color="k", lw=0.8)
    left.set_title("training step / softmax", fontsize=9)
    left.legend(fontsize=7)
    modes = sorted({r["mode"] for r in records if r.get("status") == "ok"})
    for mode in modes:
        pts = sorted(
            (r["patches"], r["extra_bytes"] / 2**20) for r in records if r["mode"] == mode and r.get("status") == "ok"
        )
        right.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=mode)
    right.set_xscale("log")
    right.set_yscale("log")
    # Tick at the measured patch counts: matplotlib's minor log labels overlap over one decade.
    measured = sorted({r["patches"] for r in records if r.get("status") == "ok"})
    right.set_xticks(measured, [str(p) for p in measured], rotation=45, fontsize=7)
    right.xaxis.set_minor_formatter(plt.NullFormatter())
    right.set_xlabel("patches", fontsize=8)
    right.set_title("extra inference memory (MiB)", fontsize=9)
    if modes:
        right.legend(fontsize=7)
    _save(fig, path)
    plt.close(fig)
    return True


def write_page(
    page: Path,
    tier: str,
    table: dict[str, Any],
    probe: dict[str, Any],
    claims: list[Claim],
    commands: list[str],
    walls: dict[str, float],
    notes: list[str],
) -> Path:
    """Write the markdown page and its plots (in ``<page stem>/`` beside it); returns the page path."""
    plots = page.parent / page.stem
    plots.mkdir(parents=True, exist_ok=True)
    comparisons = list(table)
    lines = [
        "# Reproducing the paper's claims at this machine's scale",
        "",
        f"Tier `{tier}`. Written by `benchmarks/paper/run.py`; regenerate it with the commands at the end. "
        "Numbers are mean ± sample standard deviation over seeds; a comparison counts only when the difference "
        f"exceeds {v.Z:g} standard errors of the difference (otherwise *inconclusive*).",
        "",
        "## Claims",
        "",
        *claims_table(claims),
        "",
        "## Accuracy per model",
        "",
        *accuracy_table(table, comparisons),
        "",
    ]
    glue = glue_average(table)
    if glue:
        lines += [
            "GLUE-layout average per model: "
            + ", ".join(f"{k} {_cell({'values': x})}" for k, x in sorted(glue.items())),
            "",
        ]
    lra = lra_average(table)
    if lra:
        lines += ["LRA average (first seed): " + ", ".join(f"{k} {x:.4f}" for k, x in sorted(lra.items())), ""]
    if plot_accuracy(table, comparisons, plots / "accuracy.png"):
        lines += [f"![accuracy per model]({plots.name}/accuracy.png)", ""]
    if plot_curves(table, comparisons, plots / "curves.png"):
        lines += ["Training curves (first seed):", "", f"![training curves]({plots.name}/curves.png)", ""]
    if plot_costs(probe, plots / "costs.png"):
        lines += ["## Time and memory", "", f"![time and memory]({plots.name}/costs.png)", ""]
    lines += ["## Notes", "", *[f"- {n}" for n in notes], ""]
    lines += ["## How this page was made", "", "```bash", *commands, "```", ""]
    lines += ["| part | wall time |", "|---|---|", *[f"| {k} | {s / 60:.1f} min |" for k, s in walls.items()], ""]
    tmp = page.with_suffix(".tmp")
    tmp.write_text("\n".join(lines))
    os.replace(tmp, page)
    log.info("wrote %s", page)
    return page
