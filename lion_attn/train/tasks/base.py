"""The interface between the generic trainer and a task (image, mlm, text-cls, lra).

A task owns its data, its model and its metric; the trainer owns optimisation, the schedule, data order,
evaluation cadence, logging, checkpoints and distribution. Evaluation works on *sums* (correct
predictions, counts, summed losses) so that metrics are exact after an all-reduce across processes.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import nn
from torch.utils.data import Dataset, Sampler

if TYPE_CHECKING:
    from lion_attn.train.config import TrainConfig


def create_model(name: str, **overrides: Any) -> nn.Module:
    """Build a registry model, turning an unknown name into a ValueError that lists the choices."""
    from lion_attn.models import create_model as _create
    from lion_attn.models import list_models

    if name not in list_models():
        raise ValueError(f"--model {name!r} is not a registered model; choose from: {', '.join(list_models())}")
    return _create(name, **overrides)


def add_limit_flags(p: argparse.ArgumentParser, train_what: str, eval_what: str) -> None:
    """Add ``--train-limit`` and ``--val-limit`` (defaults suppressed, so the task's ``arg_defaults`` apply)."""
    s = argparse.SUPPRESS
    p.add_argument("--train-limit", type=int, default=s, help=f"use {train_what}")
    p.add_argument("--val-limit", type=int, default=s, help=f"use {eval_what}")


def model_config_dict(model: nn.Module) -> dict[str, Any]:
    """The model's config as a dict (dataclass or dict configs), or {} if it has none."""
    cfg = getattr(model, "config", None)
    if dataclasses.is_dataclass(cfg) and not isinstance(cfg, type):
        return dataclasses.asdict(cfg)
    return dict(cfg) if isinstance(cfg, dict) else {}


class Task:
    """Base class of training tasks; subclasses fill in the data, the model and the metric.

    Attributes:
        name: Task name as used on the command line.
        metric: Name of the main metric (reported in ``summary.json``, used to pick ``best``).
        greater_is_better: Whether a larger metric is better.
        train_dataset: Map-style training set.
        eval_dataset: Map-style validation set (evaluated during training; picks the ``best`` checkpoint).
        test_dataset: Optional map-style test set, evaluated once at the end of a finished run with the
            ``best`` checkpoint and reported apart (``OUT/test.json``, ``summary["test"]``); None if the task
            has none.
    """

    name: str = "task"
    metric: str = "accuracy"
    greater_is_better: bool = True
    train_dataset: Dataset
    eval_dataset: Dataset
    test_dataset: Dataset | None = None
    #: The task's options and their defaults; ``config.task_args`` (typed flags, a checkpoint's) override them.
    arg_defaults: ClassVar[dict[str, Any]] = {}
    #: Options of this task (beyond the common ones in ``lion_attn.train.cli.PATH_ARGS``) that hold folders or
    #: files: the CLI makes them absolute, so a checkpoint can be resumed or evaluated from any directory.
    path_args: ClassVar[tuple[str, ...]] = ()

    def bind_args(self, config: TrainConfig) -> dict[str, Any]:
        """Keep ``config`` as ``self.config`` and return ``self.args``: the task's defaults under its task args."""
        self.config = config
        self.args: dict[str, Any] = {**self.arg_defaults, **config.task_args}
        return self.args

    def eval_source(self, for_eval: bool, default: str) -> str:
        """The data to evaluate on: ``lion eval --data`` (``args["eval_data"]``) if given there, else ``default``."""
        a = self.args
        return str(a["eval_data"]) if for_eval and a.get("eval_data") else default

    def build_model(self) -> nn.Module:
        """A freshly initialised model (called after the global seed is set)."""
        raise NotImplementedError

    def load_model(self, folder: Path) -> nn.Module:
        """Rebuild a model saved with ``save_pretrained`` in ``folder``."""
        from lion_attn.models import load_pretrained

        return load_pretrained(str(folder))

    def train_batch_sampler(self, batch_size: int, seed: int, rank: int, world_size: int) -> Sampler | None:
        """This rank's training batch sampler, or None for the trainer's seeded global shuffle.

        A sampler must offer ``num_batches()`` (global batches per epoch) and ``set_epoch(epoch, start_batch)``
        (the order of an epoch from ``(seed, epoch)`` alone, skipping ``start_batch`` batches on resume), like
        :class:`lion_attn.train.sampler.ShardedBatchSampler`.
        """
        return None

    def collate(self, items: list[Any]) -> dict[str, torch.Tensor]:
        """Stack dataset items into a batch."""
        raise NotImplementedError

    def prepare_batch(self, batch: dict[str, torch.Tensor], step: int, seed: int) -> dict[str, torch.Tensor]:
        """Per-step randomisation done in the main process (e.g. MLM masking), deterministic in (seed, step)."""
        return batch

    def prepare_eval_batch(self, batch: dict[str, torch.Tensor], index: int) -> dict[str, torch.Tensor]:
        """Deterministic per-batch preparation for evaluation (e.g. fixed MLM masks), same for every form."""
        return batch

    def train_loss(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Scalar mean loss of a training batch."""
        raise NotImplementedError

    def eval_sums(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """Additive statistics of a batch (e.g. ``{"correct": 7, "count": 8, "loss_sum": 3.1}``)."""
        raise NotImplementedError

    def predictions(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Predicted labels of a batch, flattened (used by ``lion eval`` to compare forms)."""
        raise NotImplementedError

    def compute_metrics(self, sums: dict[str, float]) -> dict[str, float]:
        """Metrics from summed statistics; by default accuracy and mean loss."""
        count = max(sums.get("count", 0.0), 1.0)
        out = {"accuracy": sums.get("correct", 0.0) / count}
        if "loss_sum" in sums:
            out["loss"] = sums["loss_sum"] / count
        return out

    def batch_size_of(self, batch: dict[str, torch.Tensor]) -> int:
        """Number of samples in a batch (for throughput)."""
        first = next(iter(batch.values()))
        return int(first.shape[0])

    def state_dict(self) -> dict[str, Any]:
        """Task state stored in checkpoints (label names, tokenizer info, ...)."""
        return {}

    def save_artifacts(self, folder: Path) -> None:
        """Write extra files next to the model in a checkpoint folder (e.g. the tokenizer)."""

    def describe(self) -> str:
        """One line about the data, for the log."""
        test = f" / {len(self.test_dataset)} test" if self.test_dataset is not None else ""
        return f"{self.name}: {len(self.train_dataset)} training / {len(self.eval_dataset)} evaluation{test} samples"
