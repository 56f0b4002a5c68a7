"""Short Long Range Arena runs through the command line: every task with LION-LIT, LION-S and softmax.

Each run is ``lion train lra --task T --model M ... --max-minutes MIN`` with a small model (the same size for all
three attentions), followed by ``lion eval --mode all`` on the LION checkpoints. Text and Retrieval use Jane
Austen's novels (the LRA data sets are not available offline): Text classifies a passage of up to ``--max-bytes``
bytes by novel (6 classes), Retrieval says whether two passages come from the same novel. The table goes to
``benchmarks/results/lra_runs.md``.

    python benchmarks/lra_runs.py --minutes 0.75 --out runs/lra_evidence
    python benchmarks/lra_runs.py --only pathfinder --models lion_s lion_lit --minutes 5 --difficulty easy
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TASKS = ("listops", "text", "retrieval", "image", "pathfinder")
MODELS = ("lion_lit", "lion_s", "softmax")


def write_austen_files(folder: Path, max_bytes: int, seed: int = 0) -> dict[str, Path]:
    """Text and Retrieval JSONL files (train/val) cut from the Austen novels; returns their paths."""
    from lion_attn.data import load_austen

    rng = random.Random(seed)
    novels = load_austen()
    passages: dict[str, list[str]] = {}
    for name, text in novels.items():
        words = text.split()
        step = max_bytes // 6
        chunks = [" ".join(words[i : i + step]) for i in range(0, len(words) - step, step)]
        rng.shuffle(chunks)
        passages[name] = chunks[:400]
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for split, (lo, hi) in (("train", (0, 300)), ("val", (300, 400))):
        rows = [{"text": p, "label": name} for name, ps in passages.items() for p in ps[lo:hi]]
        rng.shuffle(rows)
        paths[f"text_{split}"] = _write(folder / f"text_{split}.jsonl", rows)
        pairs = []
        names = list(passages)
        for i in range(len(rows)):
            a = rng.choice(names)
            same = i % 2 == 0
            b = a if same else rng.choice([n for n in names if n != a])
            pairs.append(
                {"text1": rng.choice(passages[a][lo:hi]), "text2": rng.choice(passages[b][lo:hi]), "label": int(same)}
            )
        paths[f"pairs_{split}"] = _write(folder / f"pairs_{split}.jsonl", pairs)
    return paths


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def task_flags(task: str, files: dict[str, Path], args: argparse.Namespace) -> list[str]:
    """The task's data flags."""
    if task == "listops":
        return ["--num-train", "4000", "--num-eval", "300"]
    if task == "text":
        return [
            "--train",
            str(files["text_train"]),
            "--val",
            str(files["text_val"]),
            "--max-bytes",
            str(args.max_bytes),
        ]
    if task == "retrieval":
        pairs = ["--train", str(files["pairs_train"]), "--val", str(files["pairs_val"])]
        return [*pairs, "--max-bytes", str(args.max_bytes)]
    if task == "image":
        return ["--train-limit", "10000", "--val-limit", "300"]
    return [
        "--resolution",
        "32",
        "--difficulty",
        args.difficulty,
        "--num-train",
        str(args.pathfinder_train),
        "--num-eval",
        "500",
        "--cache",
        str(Path(args.out) / "pathfinder-cache"),
        "--workers",
        "2",
    ]


def run(cmd: list[str], log: Path, threads: int) -> int:
    # One intra-op thread per run by default: on a shared 2-core machine, OpenMP threads spinning against other
    # processes made a step several times slower than a single thread.
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    with log.open("w") as handle:
        return subprocess.run(cmd, stdout=handle, stderr=subprocess.STDOUT, cwd=ROOT, env=env).returncode


def write_table(rows: list, path: str) -> str:
    """Write the results table (after every run, so that a stopped sweep keeps what it measured)."""
    lines = [
        "| task | model | steps | train min | val accuracy | parallel / chunk / recurrent (200 val) |",
        "|---|---|---|---|---|---|",
    ]
    for task, model, s, _seconds, agree, code in rows:
        acc = f"{s['final']:.3f}" if s and s.get("final") is not None else f"failed ({code})"
        lines.append(f"| {task} | {model} | {s.get('steps', '')} | {s.get('minutes', 0):.2f} | {acc} | {agree} |")
    text = "\n".join(lines) + "\n"
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(text)
    return text


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="runs/lra_evidence")
    p.add_argument("--minutes", type=float, default=0.75, help="training budget per run")
    p.add_argument("--only", nargs="+", default=list(TASKS), choices=TASKS)
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    p.add_argument("--max-bytes", type=int, default=1024)
    p.add_argument("--difficulty", default="easy", choices=("easy", "intermediate", "hard"))
    p.add_argument("--pathfinder-train", type=int, default=4000)
    p.add_argument("--depth", type=int, default=2)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--threads", type=int, default=1, help="OMP_NUM_THREADS of each run")
    p.add_argument("--results", default=str(ROOT / "benchmarks" / "results" / "lra_runs.md"))
    args = p.parse_args()
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    files = write_austen_files(out / "austen-jsonl", args.max_bytes)
    size = ["--model-arg", f"depth={args.depth}", "--model-arg", f"embed_dim={args.width}"]
    size += ["--model-arg", "num_heads=4"]
    rows = []
    for task in args.only:
        for model in args.models:
            name = f"{model}_lra_{task}"
            run_dir = out / f"{task}-{model}"
            cmd = [sys.executable, "-m", "lion_attn.train.cli", "train", "lra", "--task", task, "--model", name]
            cmd += [*task_flags(task, files, args), *size, "--max-minutes", str(args.minutes), "--epochs", "50"]
            # A short warm-up: the schedule is planned for many epochs and the time budget stops the run early.
            cmd += ["--batch-size", str(args.batch_size), "--lr", str(args.lr), "--warmup", "10"]
            cmd += ["--eval-every", "100000"]
            cmd += ["--no-progress", "--overwrite", "--out", str(run_dir)]
            start = time.perf_counter()
            code = run(cmd, run_dir.with_suffix(".log"), args.threads)
            seconds = time.perf_counter() - start
            summary = json.loads((run_dir / "summary.json").read_text()) if code == 0 else {}
            agree = ""
            if code == 0 and model != "softmax":
                ev = [sys.executable, "-m", "lion_attn.train.cli", "eval", "--checkpoint", str(run_dir)]
                ev += ["--mode", "all", "--in-process", "--limit", "200"]
                if run(ev, run_dir.with_suffix(".eval.log"), args.threads) == 0:
                    report = json.loads((run_dir / "checkpoints" / "best" / "eval.json").read_text())
                    modes = report["modes"]
                    agree = " / ".join(f"{modes[m]['metrics']['accuracy']:.3f}" for m in modes)
            rows.append((task, model, summary, seconds, agree, code))
            print(task, model, summary.get("final"), f"{seconds:.0f}s", agree, flush=True)
            write_table(rows, args.results)
    text = write_table(rows, args.results)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
