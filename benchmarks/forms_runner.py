"""Runs the forms benchmark's cases: plans the sweep, skips cases over budget, measures one case.

On the CPU each case runs in a fresh process (``forms.py --worker``) so its peak RSS is its own; on CUDA the
allocator's peak statistics are reset per case and the cases share one process. A case's numbers are kept only
if its output and gradients agree with the float64 literal reference (``forms_cases.check_case``).
"""

from __future__ import annotations

import argparse
import gc
import logging
import statistics
import time
from pathlib import Path
from typing import Any

import torch
from common import (
    device_in_use,
    device_peak,
    device_peak_method,
    fmt_bytes,
    fmt_seconds,
    reset_device_peak,
    run_fresh,
    synchronize,
    time_calls,
)
from forms_cases import CLOSED, LION_FORMS, call_op, check_case, form_label, leaves, make_inputs, useful_flops

log = logging.getLogger("benchmarks.forms")

GiB = 2**30
FORMS_SCRIPT = str(Path(__file__).resolve().with_name("forms.py"))


def is_quadratic_time(form: str, variant: str) -> bool:
    """Whether a case's time grows as T^2 (full attention), used to extrapolate budgets."""
    return form == "sdpa" or (form == "parallel" and variant != "lit")


def is_quadratic_memory(form: str, variant: str) -> bool:
    """Whether a case's memory grows as T^2 (the parallel form materialises T x T blocks; CPU SDPA does not)."""
    return form == "parallel" and variant != "lit"


def run_case(spec: dict[str, Any]) -> dict[str, Any]:
    """Measure one case (in the current process): memory, correctness, then time."""
    torch.set_num_threads(spec["threads"])
    device = torch.device(spec.get("device", "cpu"))
    grad = spec["pass"] == "fwdbwd"

    def step(x: dict[str, torch.Tensor | None], dy: torch.Tensor | None) -> torch.Tensor:
        if not grad:
            with torch.inference_mode():
                return call_op(spec, x)
        for t in leaves(x).values():
            t.grad = None
        y = call_op(spec, x)
        y.backward(dy)
        return y

    # Warm up at a tiny size so one-off costs (kernel selection, thread pool, lazy imports) are not measured.
    tiny = make_inputs(spec, min(spec["T"], 64), spec["seed"])
    step(tiny, torch.ones_like(call_op(spec, tiny)) if grad else None)
    del tiny
    gc.collect()
    synchronize(device)

    rss_idle = device_in_use(device)
    x = make_inputs(spec, spec["T"], spec["seed"])
    b, t, h, v = spec["B"], spec["T"], spec["H"], spec["V"]
    out_shape = (b, h, t, v) if spec["form"] == "sdpa" else (b, t, h, v)
    dy = torch.randn(out_shape).to(device=device, dtype=x["q"].dtype) if grad else None
    gc.collect()
    rss_inputs, reset_ok = reset_device_peak(device)
    synchronize(device)
    start = time.perf_counter()
    y = step(x, dy)
    synchronize(device)
    first_call = time.perf_counter() - start
    peak = device_peak(device)
    out_bytes = y.numel() * y.element_size()

    errors = check_case(spec, x, y)
    tol = {name: spec["rtol"] if name == "out" else spec["grad_rtol"] for name in errors}
    bad = {name: err for name, err in errors.items() if not err <= tol[name]}
    record: dict[str, Any] = {"errors": errors, "process": spec.get("process", "fresh")}
    if spec["form"] == "sdpa":
        from forms_cases import sdpa_backend

        record["sdpa_backend"] = sdpa_backend(spec)
    if bad:
        worst = ", ".join(f"{n}={e:.2e} > {tol[n]:.0e}" for n, e in bad.items())
        return {**record, "status": "failed", "reason": f"disagrees with the float64 reference: {worst}"}
    del y
    gc.collect()

    if spec.get("allocator", "tuned") == "tuned" and device.type == "cpu":
        from lion_attn.runtime import keep_freed_memory

        record["allocator_tuned"] = keep_freed_memory()
    warmup = 1 if first_call < 2.0 else 0
    for _ in range(warmup):
        step(x, dy)
    repeats = spec["repeats"] if first_call < 10.0 else min(spec["repeats"], 2)
    times = time_calls(lambda: step(x, dy), repeats, min_time=spec["min_time"], device=device)
    median = statistics.median(times)
    flops = useful_flops(spec)
    return {
        **record,
        "status": "ok",
        "times_s": times,
        "median_s": median,
        "min_s": min(times),
        "first_call_s": first_call,
        "rss_idle_bytes": rss_idle,
        "rss_inputs_bytes": rss_inputs,
        "peak_bytes": peak,
        "extra_bytes": peak - rss_inputs,
        "case_bytes": peak - rss_idle,
        "out_bytes": out_bytes,
        "peak_method": device_peak_method(device, reset_ok),
        "flops": flops,
        "gflops": flops / median / 1e9,
    }


def case_forms(forms: list[str], variant: str) -> list[str]:
    """The forms to run for a variant: LIT's three modes are one closed form, measured once."""
    if variant != "lit":
        return [f for f in forms if f in LION_FORMS]
    return [CLOSED] if any(f in LION_FORMS for f in forms) else []


def plan_cases(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Every case of the sweep, in increasing T per series (so budgets can be extrapolated)."""
    base = {
        "B": args.batch,
        "H": args.heads,
        "K": args.dim,
        "V": args.dim,
        "threads": args.threads,
        "repeats": args.repeats,
        "min_time": args.min_time,
        "seed": args.seed,
        "rtol": args.rtol,
        "grad_rtol": args.grad_rtol,
        "process": "shared" if args.in_process else "fresh",
        "allocator": args.allocator,
        "device": args.device,
        "dtype": args.dtype,
    }
    cases = []
    for length in sorted(args.T):
        for chunk_size in args.chunk_sizes or [args.chunk_size]:
            for pass_ in args.passes:
                pairs = [(form, variant) for variant in args.variants for form in case_forms(args.forms, variant)]
                # Grouped by form, as the tables list them.
                order = [*LION_FORMS, CLOSED]
                pairs.sort(key=lambda fv: order.index(fv[0]))
                if "sdpa" in args.forms:
                    pairs.append(("sdpa", "softmax"))
                for form, variant in pairs:
                    cases.append(
                        {**base, "T": length, "chunk_size": chunk_size, "pass": pass_, "form": form, "variant": variant}
                    )
    return cases


def series_key(spec: dict[str, Any]) -> tuple:
    """Cases that differ only in T."""
    return (spec["form"], spec["variant"], spec["pass"], spec["chunk_size"])


def budget_skip(spec: dict[str, Any], last: dict[tuple, dict[str, Any]], args: argparse.Namespace) -> str | None:
    """Why a case is skipped (predicted from the last case of its series), or None to run it."""
    prev = last.get(series_key(spec))
    if prev is None:
        # First case of a series: the parallel form's autograd graph keeps about six [B, H, T, T] fp32 tensors.
        if spec["pass"] == "fwdbwd" and is_quadratic_memory(spec["form"], spec["variant"]):
            est_mem = 6 * spec["B"] * spec["H"] * spec["T"] ** 2 * 4
            if est_mem > args.mem_budget_gb * GiB:
                return f"predicted {fmt_bytes(est_mem)} > budget {args.mem_budget_gb:g} GiB"
        return None
    if prev["status"] == "skipped":
        return f"a shorter T ({prev['T']}) of this series was skipped"
    if prev["status"] != "ok":
        return None
    growth = spec["T"] / prev["T"]
    time_exp = 2 if is_quadratic_time(spec["form"], spec["variant"]) else 1
    mem_exp = 2 if is_quadratic_memory(spec["form"], spec["variant"]) else 1
    # The fastest call is the least disturbed by other load on the machine; one slow outlier must not skip a series.
    est_time = prev["min_s"] * growth**time_exp
    est_mem = prev["case_bytes"] * growth**mem_exp
    if est_time > args.max_call_seconds:
        return f"predicted {est_time:.0f} s per call > budget {args.max_call_seconds:.0f} s"
    if est_mem > args.mem_budget_gb * GiB:
        return f"predicted {fmt_bytes(est_mem)} > budget {args.mem_budget_gb:g} GiB"
    return None


def run_sweep(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Run (or skip) every planned case; returns one record per case."""
    cases = plan_cases(args)
    last: dict[tuple, dict[str, Any]] = {}
    records = []
    for i, spec in enumerate(cases, 1):
        reason = budget_skip(spec, last, args)
        if reason is not None:
            result = {"status": "skipped", "reason": reason}
        else:
            prev = last.get(series_key(spec))
            guess = prev.get("min_s", 1.0) * 4 if prev and prev["status"] == "ok" else 60.0
            timeout = max(300.0, 40.0 * guess)
            start = time.perf_counter()
            if args.in_process:
                try:
                    result = run_case(spec)
                except Exception as exc:
                    result = {"status": "error", "reason": f"{type(exc).__name__}: {exc}"}
            else:
                result = run_fresh(FORMS_SCRIPT, spec, timeout)
            result["wall_s"] = time.perf_counter() - start
        record = {**spec, **result}
        records.append(record)
        last[series_key(spec)] = record
        log.info("[%d/%d] %s: %s", i, len(cases), case_label(spec), summary(record))
    return records


def case_label(spec: dict[str, Any]) -> str:
    """A short name of a case for logs and tables."""
    form = form_label(spec["form"])
    return f"{form}/{spec['variant']} {spec['pass']} T={spec['T']} C={spec['chunk_size']}"


def summary(r: dict[str, Any]) -> str:
    """One line about a record."""
    if r["status"] != "ok":
        return f"{r['status'].upper()} ({r.get('reason', '')})"
    return (
        f"{fmt_seconds(r['median_s'])}, peak {fmt_bytes(r['peak_bytes'])}, extra {fmt_bytes(r['extra_bytes'])}, "
        f"{r['gflops']:.1f} GFLOP/s, max rel err {max(r['errors'].values()):.1e}"
    )
