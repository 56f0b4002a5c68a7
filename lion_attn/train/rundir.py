"""The output directory of a run: what marks it as holding a run, and the guard against overwriting one."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from lion_attn.train.checkpoint import CKPT_DIR
from lion_attn.train.config import TrainConfig

# Files a run writes at the top of OUT; their presence means OUT "holds a run".
RUN_FILES = ("config.json", "metrics.jsonl", "metrics.csv", "summary.json", "curves.png", "test.json", CKPT_DIR)


class RunError(ValueError):
    """A run cannot start (output directory in use, incompatible resume, ...)."""


def check_out_dir(out: Path, resume: bool, overwrite: bool) -> None:
    """Refuse to start a fresh run in a directory that holds another run unless ``overwrite`` is set.

    Args:
        out: The output directory.
        resume: The run continues the one in ``out`` (nothing is checked or removed).
        overwrite: Remove the previous run's files instead of refusing.

    Raises:
        RunError: ``out`` exists, holds run files and neither ``resume`` nor ``overwrite`` is set.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise RunError(f"--out {out} exists and is not a directory")
    if resume or not out.is_dir():
        return
    present = [name for name in RUN_FILES if (out / name).exists()]
    if present and not overwrite:
        raise RunError(
            f"--out {out} already holds a run ({', '.join(present)}); pass --resume {out} to continue it, "
            "--overwrite to replace it, or choose another --out"
        )
    for name in present:
        path = out / name
        shutil.rmtree(path) if path.is_dir() else path.unlink()


def check_resumable(config: TrainConfig, task_name: str, saved: dict[str, Any]) -> None:
    """Refuse to continue a checkpoint of another task or of an incompatible config.

    Args:
        config: This invocation's config.
        task_name: This invocation's task.
        saved: The checkpoint's trainer state (its ``task`` and ``config``).

    Raises:
        RunError: The task differs, or a field that changes the result differs (each one is listed).
    """
    if saved.get("task") != task_name:
        raise RunError(
            f"cannot resume: the checkpoint is from a '{saved.get('task')}' run, this is a '{task_name}' run"
        )
    diffs = config.differences(TrainConfig.from_dict(saved.get("config", {})))
    if diffs:
        raise RunError("cannot resume with an incompatible config:\n  " + "\n  ".join(diffs))


__all__ = ["RUN_FILES", "RunError", "check_out_dir", "check_resumable"]
