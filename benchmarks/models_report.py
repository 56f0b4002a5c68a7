"""The models benchmark's report: the training-ratio and resolution tables and the resolution plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from common import fmt_bytes, fmt_seconds
from models_resolution import CLOSED
from models_train import MODES, NO_MIX, PAPER_RATIOS

MODE_LABELS = {CLOSED: "closed form (all modes)"}


def _agreement_cell(errors: dict[str, float] | None) -> str:
    if errors is None:
        return ""
    return ", ".join(f"{mode} {err:.0e}" for mode, err in errors.items())


def train_markdown(groups: list[dict[str, Any]]) -> list[str]:
    """The training-step table: one row per model, with its forms' agreement (the gate of its numbers)."""
    lines = [
        "## Training-step time relative to softmax (forward + backward + AdamW)",
        "",
        "Every LION model is timed in its parallel form, and only after its chunk and recurrent forms gave the "
        "parallel form's hidden states on the timing batch (`forms agree`: max relative error of each). LIT's modes "
        "are one closed form.",
        "",
        "| group | batch | model | params | median step | ratio | paper (GPU) | within paper | forms agree |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for g in groups:
        paper = PAPER_RATIOS[g["kind"]]
        floor = g["ratio_to_softmax"].get(NO_MIX)
        agreement = g.get("forms_agreement", {})
        for key, reason in g.get("failed", {}).items():
            lines.append(
                f"| {g['group']} | {g['batch']} | {key} | | FAILED | | | {reason} | "
                f"{_agreement_cell(agreement.get(key))} |"
            )
        for key in g["median_s"]:
            ratio = g["ratio_to_softmax"][key]
            ref = paper.get(key)
            within = "" if ref is None else ("yes" if ratio <= ref else "no")
            if within == "no" and floor is not None and floor > ref:
                within = f"no: unreachable here (no-mix floor x{floor:.2f})"
            if key == NO_MIX:
                within = "floor: no attention at all"
            paper_cell = "" if ref is None else f"x{ref:.2f}"
            lines.append(
                f"| {g['group']} | {g['batch']} | {key} | {g['params'][key] / 1e6:.1f}M | "
                f"{fmt_seconds(g['median_s'][key])} | x{ratio:.2f} | {paper_cell} | {within} | "
                f"{_agreement_cell(agreement.get(key))} |"
            )
    return [*lines, ""]


def resolution_markdown(records: list[dict[str, Any]], growth: list[dict[str, Any]]) -> list[str]:
    """The resolution tables (time, memory) and the memory-growth fit."""
    res_list = sorted({r["res"] for r in records})
    lines = ["## Inference (batch 1) against resolution", ""]
    for title, field in (
        ("median time", "median_s"),
        ("extra memory (peak - in use with model and image)", "extra_bytes"),
    ):
        lines += [
            f"### {title}",
            "",
            "| form | " + " | ".join(f"{r} px" for r in res_list) + " |",
            "|---|" + "---|" * len(res_list),
        ]
        for mode in [*MODES, CLOSED, "softmax"]:
            cells = []
            for res in res_list:
                r = next((r for r in records if r["mode"] == mode and r["res"] == res), None)
                if r is None:
                    cells.append("")
                elif r["status"] != "ok":
                    cells.append(r["status"])
                else:
                    cells.append(fmt_seconds(r[field]) if field.endswith("_s") else fmt_bytes(r[field]))
            if any(cells):
                lines.append(f"| {MODE_LABELS.get(mode, mode)} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += [
        "### Memory growth in the number of patches",
        "",
        "| form | log-log slope | patches ratio | memory ratio | linear |",
        "|---|---|---|---|---|",
    ]
    for g in growth:
        linear = {True: "yes", False: "NO"}.get(g.get("linear"), "")
        label = MODE_LABELS.get(g["mode"], g["mode"])
        lines.append(f"| {label} | {g['slope']:.2f} | {g['patch_ratio']:.1f} | {g['memory_ratio']:.1f} | {linear} |")
    return [*lines, ""]


def plot_resolution(records: list[dict[str, Any]], path: Path) -> None:
    """Inference time and extra memory against patches, log-log, one line per form."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for mode in [*MODES, CLOSED, "softmax"]:
        pts = sorted(
            (r["patches"], r["median_s"], r["extra_bytes"] / 2**20)
            for r in records
            if r["mode"] == mode and r["status"] == "ok"
        )
        if not pts:
            continue
        xs, ts, ms = zip(*pts, strict=True)
        label = MODE_LABELS.get(mode, mode)
        axes[0].plot(xs, ts, marker="o", label=label)
        axes[1].plot(xs, [max(m, 1e-2) for m in ms], marker="o", label=label)
    for ax, ylabel in zip(axes, ("median time (s)", "extra memory (MiB)"), strict=True):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("patches")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    name = records[0]["name"] if records else ""
    fig.suptitle(f"ViT inference, batch 1, against resolution ({name} and softmax)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
