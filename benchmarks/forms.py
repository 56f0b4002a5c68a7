"""Benchmark of the LION op's three forms against each other and against softmax SDPA (issue 2).

LION (Afzal et al., "Linear Attention for Efficient Bidirectional Sequence Modeling", NeurIPS 2025) computes
bidirectional linear attention in a parallel (full-attention), a chunkwise and a recurrent form. This script sweeps
the sequence length T for every form and decay variant (LIT: none, D: ``g_gamma`` [H], S: ``g`` [B, T, H]) and for
``torch.nn.functional.scaled_dot_product_attention`` on the same shapes, forward (inference mode) and
forward+backward, and reports per case:

* the median wall time over several calls after warm-up;
* memory, measured in a fresh process per case: the RSS once warmed up and idle (``rss_idle``), the RSS with the
  inputs allocated right before the call (``rss_inputs``), the peak RSS during the call (``peak``; the peak mark
  is reset just before it), ``extra = peak - rss_inputs`` (what the call adds) and ``case = peak - rss_idle``
  (inputs plus what the call adds);
* achieved GFLOP/s of useful work against the machine's fp32 matmul rate measured in the same run.

Timing runs with glibc told to keep freed memory (:func:`lion_attn.runtime.keep_freed_memory`, applied after the
memory measurement), unless ``--allocator default``: with glibc's defaults, every call maps its large tensors
afresh and faults every page in again, which on this machine (~3 us a fault) costs more than the arithmetic
from T = 16384 on, for every form and for SDPA alike. Memory is always measured with the defaults.

Useful FLOPs (matrix products only; elementwise mask/exp work is not counted), per batch and head, forward,
with ``V' = V + 1`` for LION (the normaliser is a column of ones next to the values):

* parallel LION-D/-S: ``2 T^2 (K + V')`` (``Q K^T`` and ``A [V, 1]``); SDPA: ``2 T^2 (K + V)``;
* chunk LION-D/-S (spec section 5): ``2 T C (K + V')`` intra-chunk plus ``8 T K V'`` for the two sweeps (query
  reads and state updates of both directions), with ``C = min(chunk_size, T)``;
* recurrent LION-D/-S: ``8 T K V'`` (two scans, each an outer-product update and a query read per token);
* LION-LIT, every form (the global-state closed form): ``4 T K V'``;
* forward+backward counts 3x the forward.

No case is reported unless its output agrees with an independent float64 reference, computed here (not with the
code under test) for a sample of query rows at the full T; forward+backward cases also check the gradients of
every input through a loss on those rows. A disagreeing case is marked ``failed`` and its numbers are dropped.
Cases predicted (by extrapolating the previous T of the same series) to exceed the time or memory budget are
recorded as ``skipped`` with the reason.

Usage::

    python benchmarks/forms.py                       # the full sweep, results in benchmarks/results/
    python benchmarks/forms.py --quick --out /tmp/b  # a toy sweep in one process (smoke test)
    python benchmarks/forms.py --chunk-sizes 16,32,64,128,256 --T 16384   # pick the chunk size
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    fmt_bytes,
    fmt_seconds,
    machine_info,
    matmul_gflops,
    peak_bytes,
    peak_method,
    reset_peak,
    rss_bytes,
    run_fresh,
    setup_logging,
    time_calls,
    worker_main,
    write_json,
)

log = logging.getLogger("benchmarks.forms")

FORMS = ("parallel", "chunk", "recurrent", "sdpa")
VARIANTS = ("lit", "d", "s")
PASSES = ("fwd", "fwdbwd")
DEFAULT_T = (197, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536)
QUICK_T = (128, 197)
GiB = 2**30


def is_quadratic_time(form: str, variant: str) -> bool:
    """Whether a case's time grows as T^2 (full attention), used to extrapolate budgets."""
    return form == "sdpa" or (form == "parallel" and variant != "lit")


def is_quadratic_memory(form: str, variant: str) -> bool:
    """Whether a case's memory grows as T^2 (the parallel form materialises T x T blocks; CPU SDPA does not)."""
    return form == "parallel" and variant != "lit"


def useful_flops(spec: dict[str, Any]) -> float:
    """Useful FLOPs of one call (see the module docstring for the count)."""
    b, t, h, k, v = spec["B"], spec["T"], spec["H"], spec["K"], spec["V"]
    form, variant = spec["form"], spec["variant"]
    v1 = v + 1
    if form == "sdpa":
        per_head = 2.0 * t * t * (k + v)
    elif variant == "lit":
        per_head = 4.0 * t * k * v1
    elif form == "parallel":
        per_head = 2.0 * t * t * (k + v1)
    elif form == "chunk":
        c = min(spec["chunk_size"], t)
        per_head = 2.0 * t * c * (k + v1) + 8.0 * t * k * v1
    else:
        per_head = 8.0 * t * k * v1
    factor = 3.0 if spec["pass"] == "fwdbwd" else 1.0
    return factor * b * h * per_head


def make_inputs(spec: dict[str, Any], length: int, seed: int) -> dict[str, torch.Tensor | None]:
    """Realistic inputs: feature-mapped positive q, k (``elu+1`` for LIT, ``silu_l2`` for D/S), log-decays
    ``logsigmoid(N(4, 1))`` (decays near 0.98), and for SDPA plain Gaussian q, k, v in its [B, H, T, K] layout."""
    from lion_attn.layers.feature_maps import elu1, silu_l2

    gen = torch.Generator().manual_seed(seed)
    b, h, k, v = spec["B"], spec["H"], spec["K"], spec["V"]
    grad = spec["pass"] == "fwdbwd"
    x: dict[str, torch.Tensor | None] = {"g": None, "g_gamma": None}
    if spec["form"] == "sdpa":
        x["q"] = torch.randn(b, h, length, k, generator=gen)
        x["k"] = torch.randn(b, h, length, k, generator=gen)
        x["v"] = torch.randn(b, h, length, v, generator=gen)
    else:
        fmap = elu1 if spec["variant"] == "lit" else silu_l2
        x["q"] = fmap(torch.randn(b, length, h, k, generator=gen))
        x["k"] = fmap(torch.randn(b, length, h, k, generator=gen))
        x["v"] = torch.randn(b, length, h, v, generator=gen)
        if spec["variant"] == "d":
            x["g_gamma"] = F.logsigmoid(4.0 + torch.randn(h, generator=gen))
        elif spec["variant"] == "s":
            x["g"] = F.logsigmoid(4.0 + torch.randn(b, length, h, generator=gen))
    for name, t in x.items():
        if t is not None:
            x[name] = t.contiguous().requires_grad_(grad)
    return x


def leaves(x: dict[str, torch.Tensor | None]) -> dict[str, torch.Tensor]:
    """The input tensors that are given (and differentiated, in forward+backward cases)."""
    return {name: t for name, t in x.items() if t is not None}


def call_op(spec: dict[str, Any], x: dict[str, torch.Tensor | None]) -> torch.Tensor:
    """One call of the op under test; returns [B, T, H, V] (LION) or [B, H, T, V] (SDPA)."""
    if spec["form"] == "sdpa":
        return F.scaled_dot_product_attention(x["q"], x["k"], x["v"])
    from lion_attn.ops import lion_attention

    return lion_attention(
        x["q"], x["k"], x["v"], x["g"], x["g_gamma"], mode=spec["form"], chunk_size=spec["chunk_size"]
    )


def reference_rows(spec: dict[str, Any], x: dict[str, torch.Tensor], rows: torch.Tensor) -> torch.Tensor:
    """Float64 outputs at query ``rows`` [S], written from the spec's definitions; [B, S, H, V].

    LION (spec section 2): ``M[i, j] = exp(-|c_i - c_j|)`` with ``c`` the prefix sum of the log-decays,
    ``A = scale (q_i . k_j) M[i, j]``, ``y_i = sum_j A v_j / (sum_j A + eps)``. SDPA: softmax attention.
    """
    if spec["form"] == "sdpa":
        q, k, v = (x[n].transpose(1, 2) for n in ("q", "k", "v"))  # [B, T, H, *]
        scores = torch.einsum("bshk,bthk->bsth", q[:, rows], k) * q.shape[-1] ** -0.5
        return torch.einsum("bsth,bthv->bshv", scores.softmax(dim=2), v)
    q, k, v = x["q"], x["k"], x["v"]
    batch, length, heads, key_dim = q.shape
    scores = torch.einsum("bshk,bthk->bsth", q[:, rows], k) * key_dim**-0.5  # [B, S, T, H]
    if "g" in x:
        log_decay = x["g"]
    elif "g_gamma" in x:
        log_decay = x["g_gamma"].expand(batch, length, heads)
    else:
        log_decay = None
    if log_decay is not None:
        c = log_decay.cumsum(dim=1)  # [B, T, H]
        scores = scores * torch.exp(-(c[:, rows, None, :] - c[:, None, :, :]).abs())
    num = torch.einsum("bsth,bthv->bshv", scores, v)
    return num / (scores.sum(dim=2)[..., None] + 1e-6)


def _rows_of(spec: dict[str, Any], y: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    return y.transpose(1, 2)[:, rows] if spec["form"] == "sdpa" else y[:, rows]


def _rel_err(got: torch.Tensor, ref: torch.Tensor) -> float:
    scale = ref.abs().max().item()
    return (got.double() - ref).abs().max().item() / max(scale, 1e-30)


def sample_rows(length: int, heads: int, seed: int) -> torch.Tensor:
    """A few query rows, always including the first and last, few enough that [S, T, H] stays small."""
    count = max(4, min(32, 8_000_000 // max(length * heads, 1)))
    gen = torch.Generator().manual_seed(seed + 1)
    picked = torch.randperm(length, generator=gen)[:count]
    return torch.unique(torch.cat([picked, torch.tensor([0, length - 1])]))


def check_case(spec: dict[str, Any], x: dict[str, torch.Tensor | None], y: torch.Tensor) -> dict[str, float]:
    """Relative max errors of the outputs (and, for forward+backward, of every input's gradient) at sampled rows
    against :func:`reference_rows` in float64."""
    rows = sample_rows(spec["T"], spec["H"], spec["seed"])
    given = leaves(x)
    ref_inputs = {n: t.detach().double().requires_grad_(spec["pass"] == "fwdbwd") for n, t in given.items()}
    ref = reference_rows(spec, ref_inputs, rows)
    errors = {"out": _rel_err(_rows_of(spec, y.detach(), rows), ref.detach())}
    if spec["pass"] == "fwdbwd":
        weight = torch.randn(ref.shape, generator=torch.Generator().manual_seed(spec["seed"] + 2), dtype=ref.dtype)
        (ref * weight).sum().backward()
        for t in given.values():
            t.grad = None
        got = _rows_of(spec, call_op(spec, x), rows)
        (got * weight.float()).sum().backward()
        for name, t in given.items():
            errors[f"d{name}"] = _rel_err(t.grad, ref_inputs[name].grad)
            t.grad = None
    return errors


def run_case(spec: dict[str, Any]) -> dict[str, Any]:
    """Measure one case (in the current process): memory, correctness, then time."""
    torch.set_num_threads(spec["threads"])
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

    rss_idle = rss_bytes()
    x = make_inputs(spec, spec["T"], spec["seed"])
    out_shape = (
        (spec["B"], spec["H"], spec["T"], spec["V"])
        if spec["form"] == "sdpa"
        else (spec["B"], spec["T"], spec["H"], spec["V"])
    )
    dy = torch.randn(out_shape) if grad else None
    gc.collect()
    reset_ok = reset_peak()
    # The reset peak mark is the RSS by the same counter that gives the peak, so their difference is exact.
    rss_inputs = peak_bytes() if reset_ok else rss_bytes()
    start = time.perf_counter()
    y = step(x, dy)
    first_call = time.perf_counter() - start
    peak = peak_bytes()
    out_bytes = y.numel() * y.element_size()

    errors = check_case(spec, x, y)
    tol = {name: spec["rtol"] if name == "out" else spec["grad_rtol"] for name in errors}
    bad = {name: err for name, err in errors.items() if not err <= tol[name]}
    record: dict[str, Any] = {"errors": errors, "process": spec.get("process", "fresh")}
    if bad:
        worst = ", ".join(f"{n}={e:.2e} > {tol[n]:.0e}" for n, e in bad.items())
        return {**record, "status": "failed", "reason": f"disagrees with the float64 reference: {worst}"}
    del y
    gc.collect()

    if spec.get("allocator", "tuned") == "tuned":
        from lion_attn.runtime import keep_freed_memory

        record["allocator_tuned"] = keep_freed_memory()
    warmup = 1 if first_call < 2.0 else 0
    for _ in range(warmup):
        step(x, dy)
    repeats = spec["repeats"] if first_call < 10.0 else min(spec["repeats"], 2)
    times = time_calls(lambda: step(x, dy), repeats, min_time=spec["min_time"])
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
        "peak_method": peak_method(reset_ok),
        "flops": flops,
        "gflops": flops / median / 1e9,
    }


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
    }
    cases = []
    for length in sorted(args.T):
        for chunk_size in args.chunk_sizes or [args.chunk_size]:
            for pass_ in args.passes:
                for form in args.forms:
                    for variant in ["softmax"] if form == "sdpa" else args.variants:
                        cases.append(
                            {
                                **base,
                                "T": length,
                                "chunk_size": chunk_size,
                                "pass": pass_,
                                "form": form,
                                "variant": variant,
                            }
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
        label = case_label(spec)
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
                result = run_fresh(__file__, spec, timeout)
            result["wall_s"] = time.perf_counter() - start
        record = {**spec, **result}
        records.append(record)
        last[series_key(spec)] = record
        log.info("[%d/%d] %s: %s", i, len(cases), label, summary(record))
    return records


def case_label(spec: dict[str, Any]) -> str:
    """A short name of a case for logs and tables."""
    return f"{spec['form']}/{spec['variant']} {spec['pass']} T={spec['T']} C={spec['chunk_size']}"


def summary(r: dict[str, Any]) -> str:
    """One line about a record."""
    if r["status"] != "ok":
        return f"{r['status'].upper()} ({r.get('reason', '')})"
    return (
        f"{fmt_seconds(r['median_s'])}, peak {fmt_bytes(r['peak_bytes'])}, extra {fmt_bytes(r['extra_bytes'])}, "
        f"{r['gflops']:.1f} GFLOP/s, max rel err {max(r['errors'].values()):.1e}"
    )


def lookup(records: list[dict[str, Any]], form: str, variant: str, pass_: str, length: int) -> dict | None:
    """The ok record of one case, or None."""
    for r in records:
        if (r["form"], r["variant"], r["pass"], r["T"]) == (form, variant, pass_, length) and r["status"] == "ok":
            return r
    return None


def evaluate_targets(records: list[dict[str, Any]], matmul: float) -> list[dict[str, Any]]:
    """Issue 2's targets as ratios from this run: one row per target and variant (pass / FAIL / n/a / info)."""
    rows: list[dict[str, Any]] = []

    def add(target: str, variant: str, value: float | None, threshold: str, ok: bool | None, note: str = "") -> None:
        status = "n/a" if value is None else ("pass" if ok else "FAIL")
        if note.startswith("info") and value is not None:
            status = "info"
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
        add(
            "chunk fwd+bwd peak RSS at T=65536 (GiB, whole process)",
            variant,
            value,
            "<= 2",
            value is not None and value <= 2,
        )
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
            o = lookup(records, other, "softmax" if other == "sdpa" else variant, "fwd", 16384)
            value = o["median_s"] / c["median_s"] if c and o else None
            note = (
                "info: LIT's parallel form is the same closed form" if other == "parallel" and variant == "lit" else ""
            )
            add(
                f"chunk fwd speed-up over {other} at T=16384 (x)",
                variant,
                value,
                ">= 10",
                value is not None and value >= 10,
                note,
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
            note = "info: closed form, 4TKV FLOPs, memory-bound; " + note
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
    lines = [
        "# LION forms benchmark",
        "",
        f"B={meta['B']}, H={meta['H']}, K=V={meta['K']}, float32, {info['threads']} threads, chunk size "
        f"{meta['chunk_size']}; {info['cpu']} ({info['logical_cpus']} logical CPUs), torch {info['torch']}; "
        f"fp32 matmul {meta['matmul_gflops']:.1f} GFLOP/s; run took {meta['duration_s'] / 60:.1f} min"
        f"{' (shared process: memory not from fresh processes)' if meta['in_process'] else ''}.",
        "",
        "Allocator while timing: "
        + (
            "glibc keeping freed memory (`lion_attn.runtime.keep_freed_memory()`); memory measured with its defaults."
            if meta.get("allocator", "tuned") == "tuned"
            else "glibc defaults (large tensors mapped and faulted in afresh on every call)."
        ),
        "",
        "Memory: `peak` is the whole process's peak RSS during the call; `case` = peak minus the warmed-up idle RSS "
        "(inputs + everything the call allocates). `skip` = over the time/memory budget, `FAILED` = output disagreed "
        "with the float64 reference (not reported).",
        "",
    ]
    for title, field in (
        ("Median time", "median_s"),
        ("Peak RSS (whole process)", "peak_bytes"),
        ("Case memory (peak - idle RSS)", "case_bytes"),
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
                lines.append(f"| {form} | {variant} | " + " | ".join(cells) + " |")
            lines.append("")
    lines += [
        "## Targets (issue 2), ratios from this run",
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
        lines += [f"- {case_label(r)}: {r['status']}: {r.get('reason', '')}" for r in failed]
    return "\n".join(lines) + "\n"


def chunk_markdown(records: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    """Time against chunk size at fixed T."""
    sizes = sorted({r["chunk_size"] for r in records})
    lines = [
        "# Chunk-size sweep of the chunk form",
        "",
        f"B={meta['B']}, H={meta['H']}, K=V={meta['K']}, float32, {meta['machine']['threads']} threads.",
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


def plot(records: list[dict[str, Any]], path: Path) -> None:
    """Time and case memory against T, log-log, one line per form/variant, forward and forward+backward."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {"parallel": "tab:blue", "chunk": "tab:green", "recurrent": "tab:orange", "sdpa": "black"}
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
                pts = [
                    (r["T"], r[field] / div)
                    for r in records
                    if (r["form"], r["variant"], r["pass"]) == (form, variant, p) and r["status"] == "ok"
                ]
                if pts:
                    xs, ys = zip(*pts, strict=True)
                    label = "SDPA" if form == "sdpa" else f"{form} {variant.upper()}"
                    ax.plot(xs, ys, marker="o", ms=3, color=colors[form], ls=styles[variant], label=label)
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.grid(True, which="both", alpha=0.3)
            ax.set_title(f"{'forward' if pass_ == 'fwd' else 'forward+backward'}: {unit.split(' ')[0]}")
            ax.set_ylabel(unit if row == 0 else "peak RSS - idle RSS (MiB)")
            if row == 1:
                ax.set_xlabel("sequence length T")
    if axes[0][0].get_legend_handles_labels()[0]:
        axes[0][0].legend(fontsize=8, ncol=2)
    fig.suptitle("LION forms vs SDPA (B=1, H=8, K=V=64, fp32, CPU)")
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


def _int_list(text: str) -> list[int]:
    return [int(s) for s in text.split(",") if s.strip()]


def _name_list(choices: tuple[str, ...]):
    def parse(text: str) -> list[str]:
        names = [s.strip() for s in text.split(",") if s.strip()]
        bad = [n for n in names if n not in choices]
        if bad:
            raise argparse.ArgumentTypeError(f"unknown {bad}; choose from {', '.join(choices)}")
        return names

    return parse


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help="toy sweep (T=128,197, 1 repeat) in one process: a smoke test")
    p.add_argument("--T", type=_int_list, default=None, help="comma-separated sequence lengths")
    p.add_argument(
        "--forms", type=_name_list(FORMS), default=list(FORMS), help="comma-separated, of " + ",".join(FORMS)
    )
    p.add_argument("--variants", type=_name_list(VARIANTS), default=list(VARIANTS), help="comma-separated, of lit,d,s")
    p.add_argument("--passes", type=_name_list(PASSES), default=list(PASSES), help="comma-separated, of fwd,fwdbwd")
    p.add_argument("--chunk-size", type=int, default=64, help="chunk size of the chunk form")
    p.add_argument("--chunk-sizes", type=_int_list, default=None, help="sweep these chunk sizes (chunk form only)")
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results", help="output directory")
    p.add_argument("--repeats", type=int, default=5, help="timed calls per case (at least)")
    p.add_argument("--min-time", type=float, default=1.0, help="keep timing a case until this many seconds")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default 2; 1 with --quick)")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--heads", type=int, default=8)
    p.add_argument("--dim", type=int, default=64, help="K = V")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rtol", type=float, default=1e-3, help="max relative error of outputs vs float64")
    p.add_argument("--grad-rtol", type=float, default=1e-3, help="max relative error of gradients vs float64")
    p.add_argument("--max-call-seconds", type=float, default=30.0, help="skip cases predicted to take longer per call")
    p.add_argument("--mem-budget-gb", type=float, default=8.0, help="skip cases predicted to need more (GiB)")
    p.add_argument("--in-process", action="store_true", help="run every case in this process (memory not fresh)")
    p.add_argument("--fresh", action="store_true", help="with --quick: still use a fresh process per case")
    p.add_argument(
        "--allocator",
        choices=("tuned", "default"),
        default="tuned",
        help="time with glibc keeping freed memory (lion_attn.runtime.keep_freed_memory), or with its defaults",
    )
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args(argv)
    if args.quick:
        # One thread: a smoke test often shares the machine, and OpenMP barriers under oversubscription turn
        # milliseconds into seconds.
        args.threads = args.threads or 1
        args.T = args.T or list(QUICK_T)
        args.repeats = 1
        args.min_time = 0.0
        args.in_process = not args.fresh
    if args.chunk_sizes:
        args.forms = ["chunk"]
        if args.variants == list(VARIANTS):
            args.variants = ["d", "s"]
        args.T = args.T or [16384]
    args.T = args.T or list(DEFAULT_T)
    args.threads = args.threads or 2
    if any(t < 1 for t in args.T) or any(c < 1 for c in args.chunk_sizes or [args.chunk_size]):
        p.error("--T and chunk sizes must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    if argv is None and sys.argv[1:2] == ["--worker"]:
        worker_main(run_case)
        return 0
    args = parse_args(argv)
    setup_logging(args.verbose)
    started = time.perf_counter()
    load_at_start = os.getloadavg()
    log.info("measuring the fp32 matmul rate at %d threads", args.threads)
    matmul_start = matmul_gflops(args.threads, n=512 if args.quick else 2048)
    log.info("matmul: %.1f GFLOP/s (median)", matmul_start["median_gflops"])
    records = run_sweep(args)
    matmul_end = matmul_gflops(args.threads, n=512 if args.quick else 2048)
    # The machine's capability is the better of the two measurements; a busy moment only lowers a rate.
    matmul = max(matmul_start["median_gflops"], matmul_end["median_gflops"])
    for r in records:
        if r["status"] == "ok":
            r["fraction_of_matmul"] = r["gflops"] / matmul
    meta = {
        "machine": machine_info(args.threads),
        "load_average_at_start": load_at_start,
        "matmul_gflops": matmul,
        "matmul_start": matmul_start,
        "matmul_end": matmul_end,
        "B": args.batch,
        "H": args.heads,
        "K": args.dim,
        "chunk_size": args.chunk_size,
        "in_process": args.in_process,
        "allocator": args.allocator,
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "duration_s": time.perf_counter() - started,
        "flop_count": __doc__.split("Useful FLOPs")[1].split("No case")[0].strip(),
    }
    out = args.out
    if args.chunk_sizes:
        write_json(out / "forms_chunk_sizes.json", {"meta": meta, "records": records})
        (out / "forms_chunk_sizes.md").write_text(chunk_markdown(records, meta))
        plot_chunk_sizes(records, out / "forms_chunk_sizes.png")
        print(chunk_markdown(records, meta))
    else:
        targets = evaluate_targets(records, matmul)
        write_json(out / "forms.json", {"meta": meta, "records": records, "targets": targets})
        text = markdown(records, targets, meta)
        (out / "forms.md").write_text(text)
        plot(records, out / "forms.png")
        print(text[text.index("## Targets") :])
    log.info("wrote %s in %.1f min", out, (time.perf_counter() - started) / 60)
    return 1 if any(r["status"] in ("failed", "error") for r in records) else 0


if __name__ == "__main__":
    sys.exit(main())
