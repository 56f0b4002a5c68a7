"""Run the plan resumably: a finished run is never redone, an interrupted one continues from its last checkpoint.

Each run is a ``lion`` subprocess writing to ``OUT/runs/<key>``; its wall time (summed over invocations) goes
to ``OUT/runs/<key>/paper_wall.json`` and its output to ``paper.log`` beside it. A run that fails is recorded
and the others go on: the page reports it instead of a number.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from plan import Run

log = logging.getLogger("benchmarks.paper")

# ``status`` values of summary.json that mean the run ended by design (steps done or its time cap reached).
FINISHED = ("completed", "time_budget")


@dataclass
class Outcome:
    """What happened to a run in this invocation: ``skipped`` (already finished), ``ran``, ``resumed``, ``failed``."""

    key: str
    action: str
    returncode: int
    seconds: float


def run_folder(runs_dir: Path, run: Run) -> Path:
    return runs_dir / run.key


def state_of(folder: Path) -> str:
    """``done`` (summary with a finished status), ``partial`` (a checkpoint to resume) or ``new``."""
    summary = folder / "summary.json"
    if summary.is_file():
        try:
            if json.loads(summary.read_text()).get("status") in FINISHED:
                return "done"
        except json.JSONDecodeError:
            pass
    if (folder / "checkpoints" / "last").is_dir():
        return "partial"
    return "new"


def command(run: Run, folder: Path, runs_dir: Path, python: str = sys.executable) -> tuple[list[str], str]:
    """The subprocess command for ``run`` in its current state, and that state."""
    state = state_of(folder)
    base = [python, "-m", "lion_attn.train.cli"]
    if state == "partial":
        # The checkpoint carries the whole config; only the task name is needed to pick the subcommand.
        return [*base, *run.argv[:2], "--resume", str(folder), "--no-progress"], state
    argv = [*base, *run.argv, "--out", str(folder), "--no-progress"]
    if run.after:
        argv += ["--init", str(runs_dir / run.after)]
    if folder.exists() and any(folder.iterdir()):
        argv.append("--overwrite")
    return argv, state


def _add_wall(folder: Path, seconds: float) -> None:
    path = folder / "paper_wall.json"
    total = json.loads(path.read_text())["seconds"] if path.is_file() else 0.0
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"seconds": total + seconds}) + "\n")
    os.replace(tmp, path)


def execute(runs: list[Run], runs_dir: Path, python: str = sys.executable, threads: int | None = None) -> list[Outcome]:
    """Run every unfinished run in order; a run whose ``after`` dependency failed is skipped as failed."""
    runs_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    outcomes: dict[str, Outcome] = {}
    for i, run in enumerate(runs, 1):
        folder = run_folder(runs_dir, run)
        if run.after and outcomes.get(run.after, Outcome(run.after, "", 0, 0)).returncode != 0:
            log.warning("[%d/%d] %s: skipped, %s failed", i, len(runs), run.key, run.after)
            outcomes[run.key] = Outcome(run.key, "failed", -1, 0.0)
            continue
        cmd, state = command(run, folder, runs_dir, python)
        if state == "done":
            log.info("[%d/%d] %s: finished earlier, kept", i, len(runs), run.key)
            outcomes[run.key] = Outcome(run.key, "skipped", 0, 0.0)
            continue
        folder.mkdir(parents=True, exist_ok=True)
        log.info("[%d/%d] %s: %s", i, len(runs), run.key, " ".join(cmd[2:]))
        start = time.perf_counter()
        with open(folder / "paper.log", "a") as out:
            out.write(f"$ {' '.join(cmd)}\n")
            out.flush()
            proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, check=False)
        seconds = time.perf_counter() - start
        _add_wall(folder, seconds)
        action = "resumed" if state == "partial" else "ran"
        if proc.returncode != 0:
            action = "failed"
            log.error("%s failed with exit code %d; see %s", run.key, proc.returncode, folder / "paper.log")
        outcomes[run.key] = Outcome(run.key, action, proc.returncode, seconds)
    return list(outcomes.values())


def run_probe(name: str, cmd: list[str], out_file: Path, log_dir: Path) -> bool:
    """Run a measuring script once (its result file marks it done); True when the result file exists."""
    if out_file.is_file():
        log.info("probe %s: finished earlier, kept", name)
        return True
    log_dir.mkdir(parents=True, exist_ok=True)
    log.info("probe %s: %s", name, " ".join(cmd))
    start = time.perf_counter()
    with open(log_dir / f"{name}.log", "a") as out:
        proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, check=False)
    seconds = time.perf_counter() - start
    (log_dir / f"{name}.wall.json").write_text(json.dumps({"seconds": seconds, "returncode": proc.returncode}) + "\n")
    if proc.returncode != 0:
        log.error("probe %s failed with exit code %d; see %s", name, proc.returncode, log_dir / f"{name}.log")
    return out_file.is_file()
