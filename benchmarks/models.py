"""Benchmark of whole LION models against softmax baselines of the same size (issue 3).

LION (Afzal et al., "Linear Attention for Efficient Bidirectional Sequence Modeling", NeurIPS 2025) reports the
training time of its variants relative to a softmax Transformer of the same size (GPU): vision LIT x0.73,
D x1.39, S x1.46, D-natural x1.48, S-natural x1.68; MLM LIT x0.95, D x1.10, S x1.32. This script measures the
same ratios on this CPU:

* ``train``: training-step time (forward + backward + AdamW step) of ViT-tiny at 224 px (T = 197) and BERT-base
  (MLM) at T = 128 and 512, every LION variant and the two-scan vision variants against the softmax model of the
  same size; all models of a group are alive in one process and timed in interleaved rounds, so a busy moment of
  the machine hits every model alike. Ratio = median step time / softmax median step time. Each group also times
  ``no-mix``: the softmax model with its attention core removed (every token keeps its own value; projections,
  MLPs, norms and the optimiser stay). Its ratio is the floor no attention op can beat in that model, which tells
  whether a paper ratio below 1 is reachable on this machine at all.
* ``resolution``: inference (batch 1) time and peak memory of a ViT-tiny against image resolution for the three
  LION forms and the softmax baseline, memory measured in a fresh process per case as the peak RSS during the
  forward minus the RSS with model and image allocated. The chunk and recurrent forms' memory must grow linearly
  in the number of patches: the script fits the log-log slope of memory against patches.

Usage::

    python benchmarks/models.py                          # both parts, results in benchmarks/results/
    python benchmarks/models.py --parts resolution       # one part
    python benchmarks/models.py --quick --out /tmp/m     # toy sizes in one process (smoke test)
"""

from __future__ import annotations

import argparse
import gc
import logging
import math
import os
import statistics
import sys
import time
import types
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    fmt_bytes,
    fmt_seconds,
    machine_info,
    peak_bytes,
    peak_method,
    reset_peak,
    rss_bytes,
    run_fresh,
    setup_logging,
    worker_main,
    write_json,
)

log = logging.getLogger("benchmarks.models")

# Paper ratios (training time / softmax, GPU), spec section 8.
PAPER_RATIOS = {
    "vision": {"lit": 0.73, "d": 1.39, "s": 1.46, "dnat": 1.48, "snat": 1.68},
    "mlm": {"lit": 0.95, "d": 1.10, "s": 1.32},
}
VISION_VARIANTS = ("lit", "d", "s", "dnat", "snat")
MLM_VARIANTS = ("lit", "d", "s")
MODES = ("parallel", "chunk", "recurrent")
DEFAULT_RESOLUTIONS = (224, 448, 640, 896, 1024)
PARTS = ("train", "resolution")


def train_groups(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The groups of models timed side by side: name, kind, sequence length, batch, registry names."""
    if args.quick:
        vit, bert, lengths, res = "vit_micro_patch4_28", "bert_tiny", (32,), 28
    else:
        vit, bert, lengths, res = "vit_tiny_patch16_224", "bert_base", (128, 512), 224
    groups = [
        {
            "group": f"vision {vit}",
            "kind": "vision",
            "res": res,
            "batch": args.batch_vision,
            "models": {
                "softmax": f"softmax_{vit}",
                NO_MIX: f"softmax_{vit}",
                **{v: f"lion_{v}_{vit}" for v in VISION_VARIANTS},
            },
        }
    ]
    for length in lengths:
        groups.append(
            {
                "group": f"mlm {bert} T={length}",
                "kind": "mlm",
                "length": length,
                # Same tokens per step at every length: BERT-base at T=512 with batch 8 takes minutes per step here.
                "batch": max(1, args.batch_mlm * 128 // max(length, 128)) if not args.quick else 2,
                "models": {
                    "softmax": f"softmax_{bert}",
                    NO_MIX: f"softmax_{bert}",
                    **{v: f"lion_{v}_{bert}" for v in MLM_VARIANTS},
                },
            }
        )
    return groups


NO_MIX = "no-mix"


def _no_mixing_forward(
    self: torch.nn.Module, x: torch.Tensor, attention_mask: torch.Tensor | None = None
) -> torch.Tensor:
    """A softmax layer's forward without the attention core: the q/k/v and output projections only."""
    values = self.qkv(x)[..., 2 * self.dim :]
    return self.proj_drop(self.proj(values))


def without_token_mixing(model: torch.nn.Module) -> torch.nn.Module:
    """Replace every softmax attention core of ``model`` by the identity on the values (in place)."""
    from lion_attn.layers import SoftmaxAttention

    layers = [m for m in model.modules() if isinstance(m, SoftmaxAttention)]
    if not layers:
        raise ValueError("without_token_mixing needs a model with SoftmaxAttention layers")
    for layer in layers:
        layer.forward = types.MethodType(_no_mixing_forward, layer)
    return model


def make_batch(group: dict[str, Any], model: torch.nn.Module, gen: torch.Generator) -> dict[str, torch.Tensor]:
    """Random inputs and targets for one training step."""
    b = group["batch"]
    if group["kind"] == "vision":
        cfg = model.config
        images = torch.randn(b, cfg.in_chans, group["res"], group["res"], generator=gen)
        return {"images": images, "labels": torch.randint(0, max(cfg.num_classes, 1), (b,), generator=gen)}
    cfg = model.config
    ids = torch.randint(5, cfg.vocab_size, (b, group["length"]), generator=gen)
    labels = torch.where(torch.rand(ids.shape, generator=gen) < 0.15, ids, torch.full_like(ids, -100))
    return {"input_ids": ids, "labels": labels}


def train_step(model: torch.nn.Module, opt: torch.optim.Optimizer, batch: dict[str, torch.Tensor], kind: str) -> float:
    """Forward, backward and an AdamW step; returns the loss."""
    opt.zero_grad(set_to_none=True)
    if kind == "vision":
        loss = F.cross_entropy(model(batch["images"]), batch["labels"])
    else:
        loss = model(batch["input_ids"], labels=batch["labels"]).loss
    loss.backward()
    opt.step()
    return loss.item()


def run_train_group(group: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """Time every model of a group in interleaved rounds; returns per-model times and ratios to softmax."""
    from lion_attn.models import create_model

    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    models, opts, batches = {}, {}, {}
    for key, name in group["models"].items():
        model = create_model(name)
        if key == NO_MIX:
            without_token_mixing(model)
        model.train()
        models[key] = model
        opts[key] = torch.optim.AdamW(model.parameters(), lr=1e-4)
        batches[key] = make_batch(group, model, gen)
    params = {key: sum(p.numel() for p in m.parameters()) for key, m in models.items()}
    times: dict[str, list[float]] = {key: [] for key in models}
    losses: dict[str, float] = {}
    # BERT-base steps take seconds and vary by a few percent from round to round on this machine; more rounds
    # keep the median's noise below the differences the paper's ratios ask about.
    repeats = args.repeats_mlm if group["kind"] == "mlm" else args.repeats
    rounds = args.warmup + repeats
    for r in range(rounds):
        # Rotate the order every round, so no model always runs first (right after another's cache churn).
        keys = list(models)
        keys = keys[r % len(keys) :] + keys[: r % len(keys)]
        for key in keys:
            start = time.perf_counter()
            losses[key] = train_step(models[key], opts[key], batches[key], group["kind"])
            elapsed = time.perf_counter() - start
            if r >= args.warmup:
                times[key].append(elapsed)
        log.info("%s: round %d/%d done", group["group"], r + 1, rounds)
    medians = {key: statistics.median(t) for key, t in times.items()}
    base = medians["softmax"]
    finite = {key: math.isfinite(loss) for key, loss in losses.items()}
    return {
        **{k: v for k, v in group.items() if k != "models"},
        "models": group["models"],
        "params": params,
        "times_s": times,
        "median_s": medians,
        "ratio_to_softmax": {key: m / base for key, m in medians.items()},
        "loss_finite": finite,
    }


def resolution_cases(args: argparse.Namespace) -> list[dict[str, Any]]:
    """One case per (model, form, resolution)."""
    vit = "vit_micro_patch4_28" if args.quick else "vit_tiny_patch16_224"
    patch = 4 if args.quick else 16
    cases = []
    for res in args.resolutions:
        if res % patch:
            raise SystemExit(f"--resolutions: {res} is not divisible by the patch size {patch}")
        for mode in args.modes:
            cases.append({"name": f"lion_{args.res_variant}_{vit}", "mode": mode, "res": res})
        cases.append({"name": f"softmax_{vit}", "mode": "softmax", "res": res})
    for c in cases:
        c.update(
            threads=args.threads,
            repeats=args.repeats,
            seed=args.seed,
            patches=(c["res"] // patch) ** 2,
            process="shared" if args.in_process else "fresh",
        )
    return cases


def run_resolution_case(spec: dict[str, Any]) -> dict[str, Any]:
    """Inference time and memory of one model at one resolution (in the current process)."""
    from lion_attn.models import create_model, get_model_config

    torch.set_num_threads(spec["threads"])
    torch.manual_seed(spec["seed"])

    def build(res: int) -> torch.nn.Module:
        model = create_model(spec["name"], img_size=res)
        if spec["mode"] != "softmax":
            model.set_attn_mode(spec["mode"])
        return model.eval()

    # Warm up on a small image of the same model, so one-off costs are not in the measured call.
    patch = get_model_config(spec["name"]).patch_size
    small = build(2 * patch)
    with torch.inference_mode():
        small(torch.randn(1, small.config.in_chans, 2 * patch, 2 * patch))
    del small
    model = build(spec["res"])
    image = torch.randn(1, model.config.in_chans, spec["res"], spec["res"])
    gc.collect()
    reset_ok = reset_peak()
    rss_inputs = peak_bytes() if reset_ok else rss_bytes()
    with torch.inference_mode():
        start = time.perf_counter()
        out = model(image)
        first = time.perf_counter() - start
    peak = peak_bytes()
    if not torch.isfinite(out).all():
        return {"status": "failed", "reason": "non-finite output"}
    times = []
    with torch.inference_mode():
        for _ in range(spec["repeats"] if first < 10 else 1):
            start = time.perf_counter()
            model(image)
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
        "peak_method": peak_method(reset_ok),
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
            result = run_fresh(__file__, spec, timeout=1800)
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
    for mode in [*MODES, "softmax"]:
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


def train_markdown(groups: list[dict[str, Any]]) -> list[str]:
    lines = [
        "## Training-step time relative to softmax (forward + backward + AdamW)",
        "",
        "| group | batch | model | params | median step | ratio | paper (GPU) | within paper |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for g in groups:
        paper = PAPER_RATIOS[g["kind"]]
        floor = g["ratio_to_softmax"].get(NO_MIX)
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
                f"{fmt_seconds(g['median_s'][key])} | x{ratio:.2f} | {paper_cell} | {within} |"
            )
    return [*lines, ""]


def resolution_markdown(records: list[dict[str, Any]], growth: list[dict[str, Any]]) -> list[str]:
    res_list = sorted({r["res"] for r in records})
    lines = ["## Inference (batch 1) against resolution", ""]
    for title, field in (
        ("median time", "median_s"),
        ("extra memory (peak RSS - RSS with model and image)", "extra_bytes"),
    ):
        lines += [
            f"### {title}",
            "",
            "| form | " + " | ".join(f"{r} px" for r in res_list) + " |",
            "|---|" + "---|" * len(res_list),
        ]
        for mode in [*MODES, "softmax"]:
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
                lines.append(f"| {mode} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += [
        "### Memory growth in the number of patches",
        "",
        "| form | log-log slope | patches ratio | memory ratio | linear |",
        "|---|---|---|---|---|",
    ]
    for g in growth:
        linear = {True: "yes", False: "NO"}.get(g.get("linear"), "")
        lines.append(
            f"| {g['mode']} | {g['slope']:.2f} | {g['patch_ratio']:.1f} | {g['memory_ratio']:.1f} | {linear} |"
        )
    return [*lines, ""]


def plot_resolution(records: list[dict[str, Any]], path: Path) -> None:
    """Inference time and extra memory against patches, log-log, one line per form."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for mode in [*MODES, "softmax"]:
        pts = sorted(
            (r["patches"], r["median_s"], r["extra_bytes"] / 2**20)
            for r in records
            if r["mode"] == mode and r["status"] == "ok"
        )
        if not pts:
            continue
        xs, ts, ms = zip(*pts, strict=True)
        axes[0].plot(xs, ts, marker="o", label=mode)
        axes[1].plot(xs, [max(m, 1e-2) for m in ms], marker="o", label=mode)
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
    p.add_argument("--batch-mlm", type=int, default=8, help="batch at T=128; longer T keeps the tokens per step")
    p.add_argument("--resolutions", type=_int_list, default=None, help="comma-separated image sizes")
    p.add_argument("--modes", default=",".join(MODES), help="LION forms of the resolution sweep")
    p.add_argument("--res-variant", default="s", choices=("lit", "d", "s"), help="LION variant of the resolution sweep")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default 2; 1 with --quick)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--in-process", action="store_true", help="resolution cases in this process (memory not fresh)")
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
            ok = ok and all(groups[-1]["loss_finite"].values())
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
    lines[1:1] = [
        "",
        f"{info['cpu']} ({info['logical_cpus']} logical CPUs), {args.threads} threads, torch {info['torch']}, "
        f"float32; run took {meta['duration_s'] / 60:.1f} min; "
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
