"""The resolution part of the models benchmark: ViT inference time and memory against image size, per form.

On the CPU every case runs in a fresh process (``models.py --worker``) and its memory is the peak RSS during the
forward minus the RSS with model and image allocated; on CUDA it is ``torch.cuda.max_memory_allocated`` minus the
allocated bytes before the call, and cases share one process. LION-LIT's three modes run one closed form, so for
``--res-variant lit`` it is measured once, as "closed form (all modes)".
"""

from __future__ import annotations

import argparse
import gc
import logging
import math
import statistics
import time
from pathlib import Path
from typing import Any

import torch
from common import (
    device_peak,
    device_peak_method,
    fmt_bytes,
    fmt_seconds,
    reset_device_peak,
    run_fresh,
    synchronize,
)
from models_train import MODES, precision

log = logging.getLogger("benchmarks.models")

MODELS_SCRIPT = str(Path(__file__).resolve().with_name("models.py"))
CLOSED = "closed"


def resolution_cases(args: argparse.Namespace) -> list[dict[str, Any]]:
    """One case per (model, form, resolution)."""
    vit = "vit_micro_patch4_28" if args.quick else "vit_tiny_patch16_224"
    patch = 4 if args.quick else 16
    cases = []
    for res in args.resolutions:
        if res % patch:
            raise SystemExit(f"--resolutions: {res} is not divisible by the patch size {patch}")
        # LIT: every mode is the same closed form, measured once.
        modes = [CLOSED] if args.res_variant == "lit" else args.modes
        for mode in modes:
            cases.append({"name": f"lion_{args.res_variant}_{vit}", "mode": mode, "res": res})
        cases.append({"name": f"softmax_{vit}", "mode": "softmax", "res": res})
    for c in cases:
        c.update(
            threads=args.threads,
            repeats=args.repeats,
            seed=args.seed,
            patches=(c["res"] // patch) ** 2,
            process="shared" if args.in_process else "fresh",
            device=args.device,
            dtype=args.dtype,
        )
    return cases


def run_resolution_case(spec: dict[str, Any]) -> dict[str, Any]:
    """Inference time and memory of one model at one resolution (in the current process)."""
    from lion_attn.models import create_model, get_model_config

    torch.set_num_threads(spec["threads"])
    torch.manual_seed(spec["seed"])
    device = torch.device(spec.get("device", "cpu"))
    dtype = spec.get("dtype", "float32")

    def build(res: int) -> torch.nn.Module:
        model = create_model(spec["name"], img_size=res).to(device)
        if spec["mode"] != "softmax":
            # LIT's closed form runs in every mode; "parallel" names one of them.
            model.set_attn_mode("parallel" if spec["mode"] == CLOSED else spec["mode"])
        return model.eval()

    def forward(model: torch.nn.Module, image: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode(), precision(device, dtype):
            return model(image)

    # Warm up on a small image of the same model, so one-off costs are not in the measured call.
    patch = get_model_config(spec["name"]).patch_size
    small = build(2 * patch)
    forward(small, torch.randn(1, small.config.in_chans, 2 * patch, 2 * patch, device=device))
    del small
    model = build(spec["res"])
    image = torch.randn(1, model.config.in_chans, spec["res"], spec["res"]).to(device)
    gc.collect()
    rss_inputs, reset_ok = reset_device_peak(device)
    start = time.perf_counter()
    out = forward(model, image)
    synchronize(device)
    first = time.perf_counter() - start
    peak = device_peak(device)
    if not torch.isfinite(out).all():
        return {"status": "failed", "reason": "non-finite output"}
    times = []
    for _ in range(spec["repeats"] if first < 10 else 1):
        synchronize(device)
        start = time.perf_counter()
        forward(model, image)
        synchronize(device)
        times.append(time.perf_counter() - start)
    return {
        "status": "ok",
        "tokens": spec["patches"] + int(model.config.class_token),
        "times_s": times,
        "median_s": statistics.median(times),
        "first_call_s": first,
        "rss_inputs_bytes": rss_inputs,
        "peak_bytes": peak,
        "extra_bytes": peak - rss_inputs,
        "peak_method": device_peak_method(device, reset_ok),
    }


def run_resolution(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Every resolution case, each in a fresh process unless ``--in-process``."""
    records = []
    cases = resolution_cases(args)
    for i, spec in enumerate(cases, 1):
        start = time.perf_counter()
        if args.in_process:
            try:
                result = run_resolution_case(spec)
            except Exception as exc:
                result = {"status": "error", "reason": f"{type(exc).__name__}: {exc}"}
        else:
            result = run_fresh(MODELS_SCRIPT, spec, timeout=1800)
        record = {**spec, **result, "wall_s": time.perf_counter() - start}
        records.append(record)
        if record["status"] == "ok":
            log.info(
                "[%d/%d] %s %s %d px: %s, +%s",
                i,
                len(cases),
                spec["name"],
                spec["mode"],
                spec["res"],
                fmt_seconds(record["median_s"]),
                fmt_bytes(record["extra_bytes"]),
            )
        else:
            log.info("[%d/%d] %s %s %d px: %s", i, len(cases), spec["name"], spec["mode"], spec["res"], record)
    return records


def memory_growth(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per form: log-log slope of extra memory against patches (least squares) and the end-to-end ratios."""
    rows = []
    for mode in [*MODES, CLOSED, "softmax"]:
        pts = sorted((r["patches"], r["extra_bytes"]) for r in records if r["mode"] == mode and r["status"] == "ok")
        pts = [(n, m) for n, m in pts if m > 0]
        if len(pts) < 2:
            continue
        xs = [math.log(n) for n, _ in pts]
        ys = [math.log(m) for _, m in pts]
        mx, my = statistics.fmean(xs), statistics.fmean(ys)
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)
        row = {
            "mode": mode,
            "slope": slope,
            "patch_ratio": pts[-1][0] / pts[0][0],
            "memory_ratio": pts[-1][1] / pts[0][1],
        }
        if mode in ("chunk", "recurrent"):
            # Linear growth with a constant offset has a log-log slope of at most 1; allow measurement noise. The
            # end-to-end ratio is informative only: its small-image end is a few MiB, within RSS noise.
            row["linear"] = slope <= 1.15
        rows.append(row)
    return rows
