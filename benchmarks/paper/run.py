"""Reproduce the LION paper's claims at this machine's scale: train, measure, judge, write a page.

LION (Afzal et al., "Linear Attention for Efficient Bidirectional Sequence Modeling", NeurIPS 2025). Every model
of a comparison gets the same data, step budget, seeds and size. The run is resumable: a finished run is never
redone and an interrupted one continues from its last checkpoint, so re-running the same command after a
crash (or Ctrl-C) picks up where it stopped.

Usage::

    python benchmarks/paper/run.py --tier smoke --out runs/paper-smoke    # the whole pipeline, <= 10 minutes
    python benchmarks/paper/run.py --tier small --out runs/paper-small    # the committed page, <= 90 min on 2 cores
    python benchmarks/paper/run.py --tier full --out runs/paper-full      # bigger models and budgets (GPU)

``--tier small`` writes ``docs/results.md`` and its plots in ``docs/results/``; the other tiers write
``OUT/results.md`` unless ``--page`` says otherwise.
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))

from austen_glue import make_lra_text, make_tasks  # noqa: E402
from claims import MLM_LEARNT_FLOOR, best_mlm, cost_claims, language_claims, lra_claims, vision_claims  # noqa: E402
from collect import collect_probe, collect_runs  # noqa: E402
from execute import execute, run_probe  # noqa: E402
from page import write_page  # noqa: E402
from plan import PARTS, TIER_SPECS, TIERS, plan  # noqa: E402

from lion_attn.data.preparation import DataPrepareError, prepare  # noqa: E402

log = logging.getLogger("benchmarks.paper")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--tier", choices=TIERS, required=True, help="smoke (<=10 min), small (<=90 min), full (GPU)")
    p.add_argument("--out", type=Path, default=None, help="where runs and probes go (default runs/paper-<tier>)")
    p.add_argument("--page", type=Path, default=None, help="the results page (default: see above)")
    p.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated subset of {','.join(PARTS)}")
    p.add_argument("--image-folder", default="", help="vision on this image folder instead of Fashion-MNIST")
    p.add_argument("--no-probes", action="store_true", help="skip the time and memory measurements")
    p.add_argument("--threads", type=int, default=None, help="OMP_NUM_THREADS of each run")
    p.add_argument("--plan-only", action="store_true", help="print the runs and exit")
    return p.parse_args(argv)


def prepare_data(parts: tuple[str, ...], image_folder: str) -> list[str]:
    """What ``lion data`` does, for the parts that need it (kept when present); page notes on any data not had.

    Without this a fresh machine would train on the small embedded samples and the page would not say so.
    """
    what = ["fashion-mnist"] if "vision" in parts and not image_folder else []
    what += ["austen"] if {"language", "lra"} & set(parts) else []
    if not what:
        return []
    try:
        prepare(what=what)
    except DataPrepareError as err:
        log.warning("%s", err)
        missing = [name for name, result in err.results.items() if isinstance(result, dict) and "error" in result]
        return [f"Could not prepare {', '.join(missing)} (see the log): those runs used the embedded samples."]
    return []


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    parts = tuple(p.strip() for p in args.parts.split(",") if p.strip())
    out = args.out or REPO / "runs" / f"paper-{args.tier}"
    page = args.page or (REPO / "docs" / "results.md" if args.tier == "small" else out / "results.md")
    spec = TIER_SPECS[args.tier]
    data_notes = [] if args.plan_only else prepare_data(parts, args.image_folder)
    glue_dirs = make_tasks(out / "data", spec.glue_examples) if "language" in parts else {}
    lra_text = ("", "")
    if "lra" in parts:
        lra_text = make_lra_text(out / "data", spec.lra_text_bytes)
    runs = plan(args.tier, parts, glue_dirs=glue_dirs, image_folder=args.image_folder, lra_text=lra_text)
    if args.plan_only:
        for run in runs:
            print(run.key, " ".join(run.argv), f"(init from {run.after})" if run.after else "")
        return 0
    log.info("tier %s: %d runs, expected about %.0f min", args.tier, len(runs), spec.expected_minutes)
    started = time.perf_counter()
    outcomes = execute(runs, out / "runs", threads=args.threads)
    probe: dict = {}
    probe_seconds = 0.0
    if not args.no_probes:
        cmd = [sys.executable, str(REPO / "benchmarks" / "models.py"), *spec.probe_args, "--out", str(out / "probes")]
        t0 = time.perf_counter()
        run_probe("models", cmd, out / "probes" / "models.json", out / "probes")
        probe_seconds = time.perf_counter() - t0
        probe = collect_probe(out / "probes" / "models.json")
    table = collect_runs(runs, out / "runs")
    n_eval = {}
    for task, extra in spec.lra_args.items():
        if "--num-eval" in extra:
            n_eval[f"lra-{task}"] = int(extra[extra.index("--num-eval") + 1])
    claims = []
    if "vision" in parts:
        claims += vision_claims(table)
    if "language" in parts:
        claims += language_claims(table)
    if "lra" in parts:
        claims += lra_claims(table, n_eval)
    if probe:
        claims += cost_claims(probe)
    walls: dict[str, float] = {}
    for run in runs:
        wall_file = out / "runs" / run.key / "paper_wall.json"
        if wall_file.is_file():
            walls[run.part] = walls.get(run.part, 0.0) + json.loads(wall_file.read_text())["seconds"]
    probe_wall = out / "probes" / "models.wall.json"
    if probe_wall.is_file():
        walls["time and memory probes"] = json.loads(probe_wall.read_text())["seconds"]
    elif probe_seconds:
        walls["time and memory probes"] = probe_seconds
    if walls:
        walls["total"] = sum(walls.values())
    failed = [o.key for o in outcomes if o.action == "failed"]
    command = "python benchmarks/paper/run.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    notes = [
        f"{len(runs)} runs; {len(failed)} failed" + (f": {', '.join(failed)}" if failed else "") + ".",
        "Language tasks are Austen passages in GLUE's SST-2 and RTE layouts (benchmarks/paper/austen_glue.py); the "
        "MLM pretraining corpus is the same novels, so these measure fine-tuning, not transfer to unseen text.",
        "LRA runs use one seed per task in the smoke and small tiers: their learn/chance verdicts use the binomial "
        "band of the evaluation set, and differences between models are not judged.",
    ]
    notes += data_notes
    best = best_mlm(table)
    if best is not None and best < MLM_LEARNT_FLOOR:
        notes.append(
            f"Every MLM run is still at the level of guessing frequent tokens (masked-token accuracy <= "
            f"{best:.3f}): the MLM verdicts compare the models this early in training, not what they "
            "converge to, and the fine-tuning runs start from checkpoints that have learnt little."
        )
    write_page(page, args.tier, table, probe, claims, [command], walls, notes)
    log.info("done in %.1f min; page %s", (time.perf_counter() - started) / 60, page)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
