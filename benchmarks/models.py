"""Benchmark of whole LION models against softmax baselines of the same size.

LION (Afzal et al., "Linear Attention for Efficient Bidirectional Sequence Modeling", NeurIPS 2025) reports the
training time of its variants relative to a softmax Transformer of the same size (GPU): vision LIT x0.73,
D x1.39, S x1.46, D-natural x1.48, S-natural x1.68; MLM LIT x0.95, D x1.10, S x1.32. This script measures the
same ratios on this CPU:

* ``train``: training-step time (forward + backward + AdamW step) of ViT-tiny at 224 px (T = 197) and BERT-base
  (MLM) at T = 128 and 512, every LION variant and the two-scan vision variants against the softmax model of the
  same size; all models of a group are alive in one process and timed in interleaved rounds, so a busy moment of
  the machine hits every model alike. A LION model is timed only if its parallel, chunk and recurrent forms give
  the same hidden states on the timing batch (``--forms-rtol``); otherwise it is reported as failed.
  Ratio = median step time / softmax median step time. Each group also times ``no-mix``: the softmax model with
  its attention core removed (every token keeps its own value; projections, MLPs, norms and the optimiser stay).
  Its ratio is the floor no attention op can beat in that model, which tells whether a paper ratio below 1 is
  reachable on this machine at all.
* ``resolution``: inference (batch 1) time and peak memory of a ViT-tiny against image resolution for the three
  LION forms and the softmax baseline, memory measured in a fresh process per case as the peak RSS during the
  forward minus the RSS with model and image allocated. The chunk and recurrent forms' memory must grow linearly
  in the number of patches: the script fits the log-log slope of memory against patches.

Usage::

    python benchmarks/models.py                          # both parts, results in benchmarks/results/
    python benchmarks/models.py --parts resolution       # one part
    python benchmarks/models.py --quick --out /tmp/m     # toy sizes in one process (smoke test)
    python benchmarks/models.py --device cuda --dtype bfloat16 --parts train --vision-model vit_base_patch16_224
        --batch-vision 64 --mlm-lengths ''                    # (one command) ViT-B/16 on a GPU, bf16 autocast

The jobs live in ``models_train.py``, ``models_resolution.py`` and ``models_report.py``; this file is the command
line.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DTYPES, device_name, machine_info, resolve_device, setup_logging, worker_main, write_json
from models_report import plot_resolution, resolution_markdown, train_markdown
from models_resolution import memory_growth, resolution_cases, run_resolution, run_resolution_case  # noqa: F401
from models_train import (  # noqa: F401 (re-exported: the benchmark's tests and users call them as models.*)
    MODES,
    NO_MIX,
    forms_agreement,
    run_train_group,
    train_groups,
    without_token_mixing,
)

log = logging.getLogger("benchmarks.models")

DEFAULT_RESOLUTIONS = (224, 448, 640, 896, 1024)
PARTS = ("train", "resolution")


def _int_list(text: str) -> list[int]:
    return [int(s) for s in text.split(",") if s.strip()]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help="toy models and sizes in one process (smoke test)")
    p.add_argument("--parts", default=",".join(PARTS), help="comma-separated, of train,resolution")
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results", help="output directory")
    p.add_argument("--repeats", type=int, default=5, help="timed rounds / calls")
    p.add_argument("--repeats-mlm", type=int, default=9, help="timed training rounds of the BERT groups")
    p.add_argument("--warmup", type=int, default=1, help="untimed training rounds first")
    p.add_argument("--batch-vision", type=int, default=8)
    p.add_argument(
        "--vision-model", default=None, help="ViT of the vision group, e.g. vit_base_patch16_224 (default: vit_tiny)"
    )
    p.add_argument(
        "--mlm-lengths", type=_int_list, default=None, help="BERT group lengths (default 128,512; '' for none)"
    )
    p.add_argument("--batch-mlm", type=int, default=8, help="batch at T=128; longer T keeps the tokens per step")
    p.add_argument("--resolutions", type=_int_list, default=None, help="comma-separated image sizes")
    p.add_argument("--modes", default=",".join(MODES), help="LION forms of the resolution sweep")
    p.add_argument("--res-variant", default="s", choices=("lit", "d", "s"), help="LION variant of the resolution sweep")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default 2; 1 with --quick)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--in-process", action="store_true", help="resolution cases in this process (memory not fresh)")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"), help="where to run (auto: CUDA if any)")
    p.add_argument("--dtype", default="float32", choices=tuple(DTYPES), help="float32, or bfloat16 autocast")
    p.add_argument(
        "--forms-rtol", type=float, default=None, help="max relative disagreement of the forms (1e-3; bf16 5e-2)"
    )
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args(argv)
    args.parts = [s.strip() for s in args.parts.split(",") if s.strip()]
    args.modes = [s.strip() for s in args.modes.split(",") if s.strip()]
    if bad := [s for s in args.parts if s not in PARTS] + [m for m in args.modes if m not in MODES]:
        p.error(f"unknown parts/modes {bad}")
    if args.quick:
        args.threads = args.threads or 1
        args.repeats = min(args.repeats, 2)
        args.repeats_mlm = min(args.repeats_mlm, 2)
        args.warmup = min(args.warmup, 1)
        args.resolutions = args.resolutions or [28, 56]
        args.in_process = True
    args.threads = args.threads or 2
    args.resolutions = args.resolutions or list(DEFAULT_RESOLUTIONS)
    args.device = resolve_device(args.device).type
    if args.device == "cuda":
        # The CUDA allocator's peak is reset per case, so a fresh process per case buys nothing there.
        args.in_process = True
    if args.forms_rtol is None:
        # fp32 forms differ by round-off (~1e-6 through a dozen layers); bf16 autocast rounds each form differently.
        args.forms_rtol = 5e-2 if args.dtype == "bfloat16" else 1e-3
    return args


def main(argv: list[str] | None = None) -> int:
    if argv is None and sys.argv[1:2] == ["--worker"]:
        worker_main(run_resolution_case)
        return 0
    args = parse_args(argv)
    setup_logging(args.verbose)
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    meta = {"machine": machine_info(args.threads), "load_average_at_start": os.getloadavg(), "args": vars(args)}
    meta["args"] = {k: str(v) if isinstance(v, Path) else v for k, v in meta["args"].items()}
    result: dict[str, Any] = {"meta": meta}
    lines = ["# LION models benchmark", ""]
    ok = True
    if "train" in args.parts:
        groups = []
        for group in train_groups(args):
            log.info("training-step timing: %s (batch %d)", group["group"], group["batch"])
            groups.append(run_train_group(group, args))
            ok = ok and all(groups[-1]["loss_finite"].values()) and not groups[-1]["failed"]
        result["train"] = groups
        lines += train_markdown(groups)
    if "resolution" in args.parts:
        records = run_resolution(args)
        growth = memory_growth(records)
        result["resolution"] = records
        result["memory_growth"] = growth
        lines += resolution_markdown(records, growth)
        plot_resolution(records, args.out / "models_resolution.png")
        ok = ok and all(r["status"] == "ok" for r in records)
    meta["duration_s"] = time.perf_counter() - started
    info = meta["machine"]
    where = (
        device_name(args.device)
        if args.device == "cuda"
        else f"{info['cpu']} ({info['logical_cpus']} logical CPUs), {args.threads} threads"
    )
    lines[1:1] = [
        "",
        f"{where}, torch {info['torch']}, {args.dtype}{' autocast' if args.dtype != 'float32' else ''}; "
        f"run took {meta['duration_s'] / 60:.1f} min; "
        f"load average at start {meta['load_average_at_start'][0]:.1f}"
        f"{'; resolution memory measured in one shared process' if args.in_process else ''}.",
    ]
    write_json(args.out / "models.json", result)
    text = "\n".join(lines) + "\n"
    (args.out / "models.md").write_text(text)
    print(text)
    log.info("wrote %s in %.1f min", args.out, meta["duration_s"] / 60)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
