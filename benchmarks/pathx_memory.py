"""Peak memory of one Path-X training step (16,384 tokens, batch 2) in each attention form.

Each measurement runs in a fresh subprocess: build the Path-X preset (``lion_{variant}_lra_pathx``: 6 blocks of width
128, 4 heads), switch it to the form, run one forward + backward + AdamW step on a random batch of pixel tokens, and
report the process's peak resident set size (``ru_maxrss``) and its growth over the level after building the
model and the batch. The chunkwise form keeps activations linear in the length; the parallel form materialises
``T x T`` masks per head and layer, so it is only attempted with ``--with-parallel`` (it needs tens of GiB here).

    python benchmarks/pathx_memory.py                       # LIT, D, S in chunk form, T = 16384, batch 2
    python benchmarks/pathx_memory.py --lengths 4096 8192 16384 --variants s
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "pathx_memory.md"


def _rss_mb() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def worker(spec: dict) -> dict:
    """One training step in this process; returns the measurements."""
    import torch

    from lion_attn.models import create_model

    torch.manual_seed(0)
    torch.set_num_threads(spec["threads"])
    length, batch = spec["length"], spec["batch"]
    model = create_model(f"lion_{spec['variant']}_lra_pathx", max_len=length)
    model.set_attn_mode(spec["mode"])
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    ids = torch.randint(4, 260, (batch, length))
    labels = torch.randint(0, 2, (batch,))
    base = _rss_mb()
    start = time.perf_counter()
    loss = torch.nn.functional.cross_entropy(model(ids), labels)
    loss.backward()
    optimizer.step()
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    params = sum(p.numel() for p in model.parameters())
    return {**spec, "peak_mb": peak, "base_mb": base, "step_mb": peak - base, "seconds": seconds, "params": params}


def measure(spec: dict) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(spec)], capture_output=True, text=True, cwd=ROOT
    )
    if proc.returncode != 0:
        return {**spec, "error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    p.add_argument("--lengths", type=int, nargs="+", default=[16384])
    p.add_argument("--variants", nargs="+", default=["lit", "d", "s"], choices=("lit", "d", "s"))
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--with-parallel", action="store_true", help="also try the parallel form (quadratic memory)")
    p.add_argument("--out", default=str(RESULTS))
    args = p.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return 0
    modes = ["chunk", "parallel"] if args.with_parallel else ["chunk"]
    rows = []
    for length in args.lengths:
        for variant in args.variants:
            for mode in modes:
                spec = {"length": length, "batch": args.batch, "variant": variant, "mode": mode}
                result = measure({**spec, "threads": args.threads})
                rows.append(result)
                print(json.dumps(result), flush=True)
    lines = [
        "### One Path-X training step (`benchmarks/pathx_memory.py`)",
        "",
        f"Preset `lion_{{variant}}_lra_pathx` (6 blocks, width 128, 4 heads), batch {args.batch}, float32, forward +"
        f" backward + AdamW, fresh process per row; {platform.processor() or platform.machine()},"
        f" {args.threads} threads, torch {__import__('torch').__version__}. `peak` is the process's peak RSS, "
        "`step` its growth over the level after building model and batch.",
        "",
        "| tokens | batch | variant | form | parameters | peak RSS | step memory | step time |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "error" in r:
            head = f"| {r['length']} | {r['batch']} | {r['variant']} | {r['mode']} |"
            lines.append(f"{head} | failed: {r['error']} | | |")
            continue
        lines.append(
            f"| {r['length']} | {r['batch']} | {r['variant']} | {r['mode']} | {r['params'] / 1e6:.2f}M | "
            f"{r['peak_mb'] / 1024:.2f} GiB | {r['step_mb'] / 1024:.2f} GiB | {r['seconds']:.1f} s |"
        )
    text = "\n".join(lines) + "\n"
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
