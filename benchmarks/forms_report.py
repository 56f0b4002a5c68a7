"""The forms benchmark's report: markdown tables and plots of one run's records.

Rows name what ran: LION-LIT appears once, as "closed form (all modes)", because every mode of the op runs the
same global-state closed form for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from common import fmt_bytes, fmt_seconds
from forms_cases import PASSES, form_label


def _series(records: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    seen: list[tuple[str, str, str]] = []
    for r in records:
        key = (r["form"], r["variant"], r["pass"])
        if key not in seen:
            seen.append(key)
    return seen


def _cell(r: dict[str, Any] | None, field: str) -> str:
    if r is None:
        return ""
    if r["status"] != "ok":
        return {"skipped": "skip", "failed": "FAILED", "error": "error"}.get(r["status"], r["status"])
    value = r[field]
    if field.endswith("_s"):
        return fmt_seconds(value)
    if field.endswith("_bytes"):
        return fmt_bytes(value)
    return f"{value:.3g}"


def markdown(records: list[dict[str, Any]], targets: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    """Summary tables: time, memory, GFLOP/s and the targets."""
    lengths = sorted({r["T"] for r in records})
    info = meta["machine"]
    dtype = meta.get("dtype", "float32")
    cuda = meta.get("device", "cpu") == "cuda"
    where = (
        f"{meta.get('device_name', 'GPU')}, torch {info['torch']}"
        if cuda
        else f"{info['threads']} threads; {info['cpu']} ({info['logical_cpus']} logical CPUs), torch {info['torch']}"
    )
    lines = [
        "# LION forms benchmark",
        "",
        f"B={meta['B']}, H={meta['H']}, K=V={meta['K']}, {dtype}, chunk size {meta['chunk_size']}, {where}; "
        f"{dtype} matmul {meta['matmul_gflops']:.1f} GFLOP/s; run took {meta['duration_s'] / 60:.1f} min"
        f"{' (shared process: memory not from fresh processes)' if meta['in_process'] and not cuda else ''}.",
        "",
    ]
    if cuda:
        lines += [
            "Memory: `peak` is `torch.cuda.max_memory_allocated` during the call; `case` = peak minus the tensors "
            "allocated before the inputs. SDPA runs FlashAttention where it exists (CUDA, bfloat16).",
            "",
        ]
    else:
        lines += [
            "Allocator while timing: "
            + (
                "glibc keeping freed memory (`lion_attn.runtime.keep_freed_memory()`); memory measured with its "
                "defaults."
                if meta.get("allocator", "tuned") == "tuned"
                else "glibc defaults (large tensors mapped and faulted in afresh on every call)."
            ),
            "",
            "Memory: `peak` is the whole process's peak RSS during the call; `case` = peak minus the warmed-up idle "
            "RSS (inputs + everything the call allocates).",
            "",
        ]
    lines += [
        "`closed form (all modes)`: LION-LIT, whose parallel, chunk and recurrent modes all run the same global-state "
        "closed form, measured once. `skip` = over the time/memory budget, `FAILED` = output or a gradient disagreed "
        "with the float64 literal reference `lion_attn.ops.naive` (not reported).",
        "",
    ]
    for title, field in (
        ("Median time", "median_s"),
        ("Peak memory", "peak_bytes"),
        ("Case memory (peak - idle)", "case_bytes"),
        ("Achieved GFLOP/s (useful FLOPs)", "gflops"),
    ):
        for pass_ in PASSES:
            keys = [k for k in _series(records) if k[2] == pass_]
            if not keys:
                continue
            lines += [f"## {title}, {'forward' if pass_ == 'fwd' else 'forward+backward'}", ""]
            lines.append("| form | variant | " + " | ".join(f"T={t}" for t in lengths) + " |")
            lines.append("|---|---|" + "---|" * len(lengths))
            for form, variant, _ in keys:
                cells = [
                    _cell(
                        next(
                            (
                                r
                                for r in records
                                if (r["form"], r["variant"], r["pass"], r["T"]) == (form, variant, pass_, t)
                            ),
                            None,
                        ),
                        field,
                    )
                    for t in lengths
                ]
                lines.append(f"| {form_label(form)} | {variant} | " + " | ".join(cells) + " |")
            lines.append("")
    lines += [
        "## Targets, ratios from this run",
        "",
        "| target | variant | value | threshold | status | note |",
        "|---|---|---|---|---|---|",
    ]
    for t in targets:
        value = "-" if t["value"] is None else f"{t['value']:.3g}"
        lines.append(f"| {t['target']} | {t['variant']} | {value} | {t['threshold']} | {t['status']} | {t['note']} |")
    failed = [r for r in records if r["status"] in ("failed", "error")]
    if failed:
        lines += ["", "## Failed or broken cases", ""]
        lines += [
            f"- {form_label(r['form'])}/{r['variant']} {r['pass']} T={r['T']}: {r['status']}: {r.get('reason', '')}"
            for r in failed
        ]
    return "\n".join(lines) + "\n"


def chunk_markdown(records: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    """Time against chunk size at fixed T."""
    sizes = sorted({r["chunk_size"] for r in records})
    lines = [
        "# Chunk-size sweep of the chunk form",
        "",
        f"B={meta['B']}, H={meta['H']}, K=V={meta['K']}, {meta.get('dtype', 'float32')}, "
        f"{meta.get('device', 'cpu')}, {meta['machine']['threads']} threads.",
        "",
        "| variant | pass | T | " + " | ".join(f"C={c}" for c in sizes) + " |",
        "|---|---|---|" + "---|" * len(sizes),
    ]
    keys = sorted({(r["variant"], r["pass"], r["T"]) for r in records})
    for variant, pass_, length in keys:
        cells = []
        for c in sizes:
            r = next(
                (
                    r
                    for r in records
                    if (r["variant"], r["pass"], r["T"], r["chunk_size"]) == (variant, pass_, length, c)
                ),
                None,
            )
            cells.append(_cell(r, "median_s"))
        lines.append(f"| {variant} | {pass_} | {length} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot(records: list[dict[str, Any]], path: Path, title: str = "LION forms vs SDPA") -> None:
    """Time and case memory against T, log-log, one line per form/variant, forward and forward+backward."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {
        "parallel": "tab:blue",
        "chunk": "tab:green",
        "recurrent": "tab:orange",
        "closed": "tab:red",
        "sdpa": "black",
    }
    styles = {"lit": ":", "d": "--", "s": "-", "softmax": "-"}
    fig, axes = plt.subplots(2, 2, figsize=(12, 9), sharex=True)
    for col, pass_ in enumerate(PASSES):
        for row, (field, unit, div) in enumerate(
            (("median_s", "time (s)", 1.0), ("case_bytes", "memory (MiB)", 2**20))
        ):
            ax = axes[row][col]
            for form, variant, p in _series(records):
                if p != pass_:
                    continue
                # A log axis cannot show 0 (a case that allocated nothing measurable): floor at 0.01.
                pts = [
                    (r["T"], max(r[field] / div, 1e-2))
                    for r in records
                    if (r["form"], r["variant"], r["pass"]) == (form, variant, p) and r["status"] == "ok"
                ]
                if pts:
                    xs, ys = zip(*pts, strict=True)
                    label = "SDPA" if form == "sdpa" else f"{form_label(form)} {variant.upper()}"
                    ax.plot(xs, ys, marker="o", ms=3, color=colors[form], ls=styles[variant], label=label)
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.grid(True, which="both", alpha=0.3)
            ax.set_title(f"{'forward' if pass_ == 'fwd' else 'forward+backward'}: {unit.split(' ')[0]}")
            ax.set_ylabel(unit if row == 0 else "peak - idle memory (MiB)")
            if row == 1:
                ax.set_xlabel("sequence length T")
    if axes[0][0].get_legend_handles_labels()[0]:
        axes[0][0].legend(fontsize=8, ncol=2)
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_chunk_sizes(records: list[dict[str, Any]], path: Path) -> None:
    """Median time against chunk size, one line per variant/pass/T."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5))
    for variant, pass_, length in sorted({(r["variant"], r["pass"], r["T"]) for r in records}):
        pts = sorted(
            (r["chunk_size"], r["median_s"])
            for r in records
            if (r["variant"], r["pass"], r["T"]) == (variant, pass_, length) and r["status"] == "ok"
        )
        if pts:
            xs, ys = zip(*pts, strict=True)
            ax.plot(xs, ys, marker="o", label=f"{variant.upper()} {pass_} T={length}")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("chunk size C")
    ax.set_ylabel("median time (s)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
