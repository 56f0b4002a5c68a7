"""Benchmark of the LION op's three forms against each other and against softmax SDPA.

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
* chunk LION-D/-S (the state-passing chunkwise form): ``2 T C (K + V')`` intra-chunk plus ``8 T K V'`` for the two
  sweeps (query reads and state updates of both directions), with ``C = min(chunk_size, T)``;
* recurrent LION-D/-S: ``8 T K V'`` (two scans, each an outer-product update and a query read per token);
* LION-LIT (the global-state closed form, which every mode runs; measured once, as ``closed``): ``4 T K V'``;
* forward+backward counts 3x the forward.

No case is reported unless its output agrees with the float64 literal reference (``lion_attn.ops.naive``; softmax
written out for SDPA) at a sample of query rows at the full T; forward+backward cases also check the gradients of
every input through a loss on those rows. A disagreeing case is marked ``failed`` and its numbers are dropped.
Cases predicted (by extrapolating the previous T of the same series) to exceed the time or memory budget are
recorded as ``skipped`` with the reason.

Usage::

    python benchmarks/forms.py                       # the full sweep, results in benchmarks/results/
    python benchmarks/forms.py --quick --out /tmp/b  # a toy sweep in one process (smoke test)
    python benchmarks/forms.py --chunk-sizes 16,32,64,128,256 --T 16384   # pick the chunk size
    python benchmarks/forms.py --device cuda --dtype bfloat16 --T 1024,4096,16384,65536   # on a GPU

``--device cuda`` measures memory with ``torch.cuda.max_memory_allocated`` (cases share one process there),
synchronises around every timed call and runs SDPA with FlashAttention in bfloat16. The jobs live in
``forms_cases.py`` (inputs, call, FLOPs, correctness gate), ``forms_runner.py`` (sweep and measurement),
``forms_targets.py`` and ``forms_report.py``; this file is the command line.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import device_name, machine_info, matmul_gflops, resolve_device, setup_logging, worker_main, write_json
from forms_cases import (  # noqa: F401 (re-exported: the benchmark's tests and users call them as forms.*)
    CLOSED,
    DTYPE_NAMES,
    FORMS,
    PASSES,
    VARIANTS,
    call_op,
    check_case,
    make_inputs,
    useful_flops,
)
from forms_report import chunk_markdown, markdown, plot, plot_chunk_sizes
from forms_runner import run_case, run_sweep
from forms_targets import evaluate_targets

log = logging.getLogger("benchmarks.forms")

DEFAULT_T = (197, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536)
QUICK_T = (128, 197)


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
        "--forms",
        type=_name_list(FORMS),
        default=list(FORMS),
        help="comma-separated, of " + ",".join(FORMS) + " (LIT runs once, as its closed form, for any LION form)",
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
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"), help="where to run (auto: CUDA if any)")
    p.add_argument("--dtype", default="float32", choices=tuple(DTYPE_NAMES), help="dtype of q, k, v")
    p.add_argument(
        "--rtol", type=float, default=None, help="max relative error of outputs vs float64 (1e-3; bf16 3e-2)"
    )
    p.add_argument("--grad-rtol", type=float, default=None, help="max relative error of gradients (1e-3; bf16 3e-2)")
    p.add_argument("--max-call-seconds", type=float, default=30.0, help="skip cases predicted to take longer per call")
    p.add_argument("--mem-budget-gb", type=float, default=8.0, help="skip cases predicted to need more (GiB)")
    p.add_argument("--in-process", action="store_true", help="run every case in this process (CPU memory not fresh)")
    p.add_argument("--fresh", action="store_true", help="with --quick or on CUDA: still use a fresh process per case")
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
    args.device = resolve_device(args.device).type
    if args.device == "cuda" and not args.fresh:
        # The CUDA allocator's peak is reset per case, so a fresh process per case buys nothing there.
        args.in_process = True
    # bf16 keeps 8 mantissa bits: its error against float64 is ~2^-8 per rounding, not fp32's 1e-6.
    default_tol = 3e-2 if args.dtype == "bfloat16" else 1e-3
    args.rtol = default_tol if args.rtol is None else args.rtol
    args.grad_rtol = default_tol if args.grad_rtol is None else args.grad_rtol
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
    dtype = DTYPE_NAMES[args.dtype]
    size = 512 if args.quick else (8192 if args.device == "cuda" else 2048)
    log.info("measuring the %s matmul rate on %s", args.dtype, args.device)
    matmul_start = matmul_gflops(args.threads, n=size, device=args.device, dtype=dtype)
    log.info("matmul: %.1f GFLOP/s (median)", matmul_start["median_gflops"])
    records = run_sweep(args)
    matmul_end = matmul_gflops(args.threads, n=size, device=args.device, dtype=dtype)
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
        "device": args.device,
        "device_name": device_name(args.device),
        "dtype": args.dtype,
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
        title = f"LION forms vs SDPA (B={args.batch}, H={args.heads}, K=V={args.dim}, {args.dtype}, {args.device})"
        plot(records, out / "forms.png", title)
        print(text[text.index("## Targets") :])
    log.info("wrote %s in %.1f min", out, (time.perf_counter() - started) / 60)
    return 1 if any(r["status"] in ("failed", "error") for r in records) else 0


if __name__ == "__main__":
    sys.exit(main())
