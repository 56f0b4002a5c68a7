"""The run configuration shared by every training task.

One dataclass holds the flags common to all tasks (optimisation, schedule, evaluation cadence, output,
budget); task-specific options live in ``task_args`` so the trainer stays task-agnostic. The resolved
config is written to ``OUT/config.json`` at the start of a run and stored in every checkpoint, which is
how ``--resume`` decides whether a new invocation is compatible with the run it continues.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lion_attn.ops import MODES as ATTN_MODES
from lion_attn.train.placement import DEVICES

# Fields that may change between an interrupted run and its resumption without changing the result:
# where things go, how long this invocation may run, how data is loaded, and how chatty it is.
# The device is among them: the same run continues on another device (with that device's rounding).
RUNTIME_FIELDS = frozenset(
    {"out", "max_minutes", "num_workers", "resume", "overwrite", "stop_after", "progress", "log_every", "device"}
)


@dataclass
class TrainConfig:
    """Flags common to every task.

    Attributes:
        task: Task name (``image``, ``mlm``, ``text-cls``, ``lra``).
        model: Registry name of the model preset.
        epochs: Number of passes over the training set (the schedule's length unless ``max_steps`` is set);
            0 with ``max_steps`` 0 plans the schedule from the time budget ``max_minutes`` instead.
        max_steps: If > 0, the total number of optimiser steps (overrides ``epochs`` for the schedule).
        batch_size: Global batch size (split evenly across data-parallel processes).
        eval_batch_size: Batch size for evaluation (0: twice ``batch_size``).
        lr: Peak learning rate.
        weight_decay: AdamW decoupled weight decay (not applied to biases, norms and embeddings' gains).
        warmup: Linear warm-up length: a fraction of the total steps if < 1, else a number of steps.
        min_lr: Learning rate at the end of the decay.
        schedule: Decay after the warm-up: ``"cosine"`` or ``"linear"`` (both end at ``min_lr``).
        grad_clip: Max global gradient norm (0 disables clipping).
        bf16: Run forward passes under bf16 autocast.
        seed: Seed of every random source (model init, data order, masking, dropout).
        eval_every: ``"epoch"`` or a number of steps between evaluations.
        out: Output directory.
        max_minutes: Time budget. With ``epochs`` or ``max_steps`` it is a cap on this invocation: when reached
            the run stops cleanly, evaluates and saves. Without them (``epochs`` 0) the learning-rate schedule
            is planned to end at the budget, counted over every invocation of the run (0: no budget).
        num_workers: DataLoader worker processes.
        resume: Checkpoint folder or output directory to continue from ("" for a fresh run).
        overwrite: Allow starting a fresh run in a non-empty output directory that holds another run.
        stop_after: Stop (as if interrupted) once this many steps are done in total, without changing the
            schedule; for splitting a run over several invocations (0: never).
        progress: Show a progress bar when stderr is a terminal.
        log_every: Steps between training-loss log lines when no progress bar is shown.
        device: ``"auto"`` (CUDA if visible, else CPU), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        attn_mode: Attention form used for training: ``"parallel"``, ``"chunk"`` or ``"recurrent"``.
        ema_decay: Keep an exponential moving average of the weights with this decay, evaluated and saved
            beside the raw weights (0: none).
        test_limit: Evaluate the task's test set (if it has one) on a seeded subset of this many samples (0: all).
        task_args: Task-specific options (data paths, tokenizer, sequence length, ...).
    """

    task: str = ""
    model: str = ""
    epochs: int = 1
    max_steps: int = 0
    batch_size: int = 32
    eval_batch_size: int = 0
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup: float = 0.05
    min_lr: float = 1e-5
    schedule: str = "cosine"
    grad_clip: float = 1.0
    bf16: bool = False
    seed: int = 0
    eval_every: str = "epoch"
    out: str = "runs/run"
    max_minutes: float = 0.0
    num_workers: int = 0
    resume: str = ""
    overwrite: bool = False
    stop_after: int = 0
    progress: bool = True
    log_every: int = 50
    device: str = "auto"
    attn_mode: str = "parallel"
    ema_decay: float = 0.0
    test_limit: int = 0
    task_args: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check ranges; raise ValueError naming the offending flag."""
        checks = [
            ("epochs", self.epochs >= 0, "an integer >= 1 (or 0 to schedule by --max-minutes)"),
            ("max_steps", self.max_steps >= 0, "an integer >= 0"),
            ("batch_size", self.batch_size >= 1, "an integer >= 1"),
            ("eval_batch_size", self.eval_batch_size >= 0, "an integer >= 0"),
            ("lr", self.lr > 0, "a positive number"),
            ("weight_decay", self.weight_decay >= 0, "a number >= 0"),
            ("warmup", self.warmup >= 0, "a number >= 0 (fraction < 1 or steps >= 1)"),
            ("min_lr", 0 <= self.min_lr <= self.lr, "a number in [0, lr]"),
            ("grad_clip", self.grad_clip >= 0, "a number >= 0"),
            ("max_minutes", self.max_minutes >= 0, "a number >= 0"),
            ("num_workers", self.num_workers >= 0, "an integer >= 0"),
            ("stop_after", self.stop_after >= 0, "an integer >= 0"),
            ("log_every", self.log_every >= 1, "an integer >= 1"),
            ("attn_mode", self.attn_mode in ATTN_MODES, "one of " + ", ".join(ATTN_MODES)),
            ("ema_decay", self.ema_decay == 0 or 0 < self.ema_decay < 1, "0 (off) or a number in (0, 1)"),
            ("test_limit", self.test_limit >= 0, "an integer >= 0"),
        ]
        for name, ok, expected in checks:
            if not ok:
                raise ValueError(f"--{name.replace('_', '-')} must be {expected}, got {getattr(self, name)!r}")
        if self.epochs == 0 and self.max_steps == 0 and self.max_minutes <= 0:
            raise ValueError("give --epochs, --max-steps or --max-minutes: the run needs a length")
        if not (self.device in DEVICES or str(self.device).startswith("cuda:")):
            raise ValueError(f"--device must be one of {', '.join(DEVICES)} (or cuda:N), got {self.device!r}")
        if self.schedule not in ("cosine", "linear"):
            raise ValueError(f"--schedule must be 'cosine' or 'linear', got {self.schedule!r}")
        self.eval_every = str(self.eval_every)
        if self.eval_every != "epoch" and not (self.eval_every.isdigit() and int(self.eval_every) > 0):
            raise ValueError(f"--eval-every must be 'epoch' or a positive number of steps, got {self.eval_every!r}")

    @property
    def budget_scheduled(self) -> bool:
        """Whether the schedule is planned from the time budget (no epochs or steps given)."""
        return self.epochs == 0 and self.max_steps == 0 and self.max_minutes > 0

    @property
    def eval_every_steps(self) -> int | None:
        """Steps between evaluations, or None for once per epoch."""
        return None if self.eval_every == "epoch" else int(self.eval_every)

    def warmup_steps(self, total_steps: int) -> int:
        """Warm-up length in steps for a schedule of ``total_steps``."""
        if self.warmup < 1:
            return round(self.warmup * total_steps)
        return int(self.warmup)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self, path: str | Path | None = None) -> str:
        """Serialise to JSON; also write it (atomically) to ``path`` if given."""
        text = json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"
        if path is not None:
            from lion_attn.train.checkpoint import atomic_write_text

            atomic_write_text(Path(path), text)
        return text

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Build from a dict, ignoring unknown keys (configs written by newer versions still load)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    @classmethod
    def from_json(cls, path_or_text: str | Path) -> TrainConfig:
        """Read a config from a JSON file path or a JSON string."""
        text = str(path_or_text)
        if not text.lstrip().startswith("{"):
            text = Path(path_or_text).read_text()
        return cls.from_dict(json.loads(text))

    def differences(self, other: TrainConfig) -> list[str]:
        """Fields (other than runtime ones) whose values differ, as ``name: mine != theirs`` strings."""
        mine, theirs = self.to_dict(), other.to_dict()
        diffs = []
        for key in sorted(mine):
            if key in RUNTIME_FIELDS or key == "task_args":
                continue
            if mine[key] != theirs.get(key):
                diffs.append(f"{key}: {theirs.get(key)!r} in the checkpoint, {mine[key]!r} now")
        ta, tb = mine["task_args"], theirs.get("task_args", {})
        for key in sorted(set(ta) | set(tb)):
            if ta.get(key) != tb.get(key):
                diffs.append(f"{key}: {tb.get(key)!r} in the checkpoint, {ta.get(key)!r} now")
        return diffs
