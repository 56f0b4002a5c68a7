"""The forms benchmark's targets, evaluated as ratios of one run's records (pass / FAIL / n/a / info).

LION-LIT has one computation (the global-state closed form) behind every mode, so a LIT row reports that closed
form, and a target comparing two LIT forms with each other has nothing to compare (n/a).
"""

from __future__ import annotations

from typing import Any

from forms_cases import CLOSED, LION_FORMS, PASSES, VARIANTS

GiB = 2**30
LIT_NOTE = "LIT: the closed form, which every mode runs"


def lookup(records: list[dict[str, Any]], form: str, variant: str, pass_: str, length: int) -> dict | None:
    """The ok record of one case, or None. LIT's forms are its closed form."""
    if variant == "lit" and form in LION_FORMS:
        form = CLOSED
    for r in records:
        if (r["form"], r["variant"], r["pass"], r["T"]) == (form, variant, pass_, length) and r["status"] == "ok":
            return r
    return None


def evaluate_targets(records: list[dict[str, Any]], matmul: float) -> list[dict[str, Any]]:
    """The benchmark's targets as ratios from this run: one row per target and variant."""
    rows: list[dict[str, Any]] = []

    def add(target: str, variant: str, value: float | None, threshold: str, ok: bool | None, note: str = "") -> None:
        status = "n/a" if value is None else ("pass" if ok else "FAIL")
        if note.startswith("info") and value is not None:
            status = "info"
        if variant == "lit" and LIT_NOTE not in note:
            note = f"{note}; {LIT_NOTE}" if note else LIT_NOTE
        rows.append(
            {
                "target": target,
                "variant": variant,
                "value": value,
                "threshold": threshold,
                "status": status,
                "note": note,
            }
        )

    lengths = sorted({r["T"] for r in records})
    for variant in VARIANTS:
        r = lookup(records, "chunk", variant, "fwdbwd", 65536)
        value = r["peak_bytes"] / GiB if r else None
        add("chunk fwd+bwd peak memory at T=65536 (GiB)", variant, value, "<= 2", value is not None and value <= 2)
    for variant in VARIANTS:
        for pass_ in PASSES:
            a, b = lookup(records, "chunk", variant, pass_, 65536), lookup(records, "chunk", variant, pass_, 8192)
            value = a["case_bytes"] / b["case_bytes"] if a and b else None
            add(
                f"chunk {pass_} memory growth, case(65536)/case(8192)",
                variant,
                value,
                "<= 9",
                value is not None and value <= 9,
            )
    for variant in VARIANTS:
        c = lookup(records, "chunk", variant, "fwd", 16384)
        for other in ("parallel", "sdpa"):
            if other == "parallel" and variant == "lit":
                add(f"chunk fwd speed-up over {other} at T=16384 (x)", variant, None, ">= 10", None, "one form only")
                continue
            o = lookup(records, other, "softmax" if other == "sdpa" else variant, "fwd", 16384)
            value = o["median_s"] / c["median_s"] if c and o else None
            add(
                f"chunk fwd speed-up over {other} at T=16384 (x)",
                variant,
                value,
                ">= 10",
                value is not None and value >= 10,
            )
    for variant in VARIANTS:
        fracs = [
            (r["gflops"] / matmul, t)
            for t in lengths
            if t >= 4096 and (r := lookup(records, "chunk", variant, "fwd", t))
        ]
        value, worst_t = min(fracs) if fracs else (None, None)
        note = f"worst at T={worst_t}" if worst_t else ""
        if variant == "lit":
            note = "; ".join(filter(None, ("info: closed form, 4TKV FLOPs, memory-bound", note)))
        add(
            "chunk fwd GFLOP/s / matmul GFLOP/s, T >= 4096 (worst)",
            variant,
            value,
            ">= 0.30",
            value is not None and value >= 0.30,
            note,
        )
    for variant in VARIANTS:
        worst = None
        for t in lengths:
            r = lookup(records, "recurrent", variant, "fwd", t)
            if r:
                states = 2 * r["B"] * r["H"] * r["K"] * r["V"] * 4
                ratio = r["extra_bytes"] / (3 * r["out_bytes"] + states)
                if worst is None or ratio > worst[0]:
                    worst = (ratio, t)
        add(
            "recurrent fwd extra memory / (output + 2x output + states), every T (worst)",
            variant,
            worst[0] if worst else None,
            "<= 1",
            worst is not None and worst[0] <= 1,
            f"worst at T={worst[1]}" if worst else "",
        )
    for variant in VARIANTS:
        if variant == "lit":
            add("recurrent fwd time / chunk fwd time, every T (worst)", variant, None, "<= 20", None, "one form only")
            continue
        worst = None
        for t in lengths:
            rec, ch = lookup(records, "recurrent", variant, "fwd", t), lookup(records, "chunk", variant, "fwd", t)
            if rec and ch:
                ratio = rec["median_s"] / ch["median_s"]
                if worst is None or ratio > worst[0]:
                    worst = (ratio, t)
        add(
            "recurrent fwd time / chunk fwd time, every T (worst)",
            variant,
            worst[0] if worst else None,
            "<= 20",
            worst is not None and worst[0] <= 20,
            f"worst at T={worst[1]}" if worst else "",
        )
    sd = lookup(records, "sdpa", "softmax", "fwdbwd", 197)
    for variant, limit in (("lit", 1.0), ("d", 1.5), ("s", 1.5)):
        p = lookup(records, "parallel", variant, "fwdbwd", 197)
        value = p["median_s"] / sd["median_s"] if p and sd else None
        add(
            "parallel fwd+bwd time / SDPA fwd+bwd time at T=197",
            variant,
            value,
            f"<= {limit}",
            value is not None and value <= limit,
        )
    return rows
