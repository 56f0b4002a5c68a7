"""The task-agnostic training loop.

AdamW with linear warm-up and cosine decay (stepped per optimiser step), gradient clipping, optional bf16
autocast, deterministic seeding, evaluation every epoch or every N steps, a progress bar, a metrics log
and a plot, atomic ``last``/``best`` checkpoints, exact resumption, clean stops on SIGINT/SIGTERM or a
time budget, and data parallelism through ``torch.distributed``.

Exact resumption rests on three things: the data order of an epoch depends only on ``(seed, epoch)``
(:mod:`lion_attn.train.sampler`), the checkpoint stores the position within the epoch, and every RNG
(torch, numpy, python) is saved and restored; DataLoaders get their own generator so that creating one
mid-epoch does not consume the global RNG.
"""

from __future__ import annotations

import contextlib
import logging
import math
import random
import shutil
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from lion_attn.train import checkpoint as ckpt
from lion_attn.train.config import TrainConfig
from lion_attn.train.distributed import DistInfo, all_reduce_sums, barrier, broadcast_flag
from lion_attn.train.metrics import MetricsLog, plot_curves
from lion_attn.train.sampler import ShardedBatchSampler, ShardedEvalSampler
from lion_attn.train.tasks.base import Task

logger = logging.getLogger(__name__)

# Files a run writes at the top of OUT; their presence means OUT "holds a run".
RUN_FILES = ("config.json", "metrics.jsonl", "metrics.csv", "summary.json", "curves.png", ckpt.CKPT_DIR)


class RunError(ValueError):
    """A run cannot start (output directory in use, incompatible resume, ...)."""


@dataclass
class FitResult:
    """What :meth:`Trainer.fit` did.

    Attributes:
        status: ``"completed"``, ``"time_budget"``, ``"stopped"`` (``stop_after``) or ``"signal"``.
        summary: The content of ``summary.json``.
        signum: The signal that stopped the run, if any.
    """

    status: str
    summary: dict[str, Any]
    signum: int | None = None


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def cosine_lr_factor(step: int, total: int, warmup: int, min_ratio: float) -> float:
    """Multiplier of the peak learning rate at ``step``: linear warm-up, then cosine decay to ``min_ratio``."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    if total <= warmup:
        return 1.0
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Decay matrices only; biases, norm gains and 1-d parameters (decay logits, tokens) are not decayed."""
    decay, no_decay = [], []
    for _, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (decay if p.ndim >= 2 else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def check_out_dir(out: Path, resume: bool, overwrite: bool) -> None:
    """Refuse to start a fresh run in a directory that holds another run unless ``overwrite`` is set.

    Raises:
        RunError: ``out`` exists, holds run files and neither ``resume`` nor ``overwrite`` is set.
    """
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
    if present:
        for name in present:
            path = out / name
            shutil.rmtree(path) if path.is_dir() else path.unlink()


class Trainer:
    """Trains ``task``'s model according to ``config``.

    Args:
        config: The resolved run configuration.
        task: The task (data, model, metric).
        dist_info: Data-parallel placement (default: a single process on CPU/GPU).
    """

    def __init__(self, config: TrainConfig, task: Task, dist_info: DistInfo | None = None) -> None:
        self.config = config
        self.task = task
        self.dist = dist_info or DistInfo()
        self.out = Path(config.out)
        self.ckpt_dir = self.out / ckpt.CKPT_DIR
        self._signal: int | None = None
        self._running: tuple[float, int] = (0.0, 0)

    def _loader(self, sampler: Any, epoch: int, start: int) -> DataLoader:
        gen = torch.Generator()
        gen.manual_seed(self.config.seed * 1_000_003 + epoch * 1009 + start)
        return DataLoader(
            self.task.train_dataset if isinstance(sampler, ShardedBatchSampler) else self.task.eval_dataset,
            batch_sampler=sampler,
            collate_fn=self.task.collate,
            num_workers=self.config.num_workers,
            generator=gen,
            persistent_workers=False,
        )

    def _to_device(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {k: v.to(self.dist.device) if torch.is_tensor(v) else v for k, v in batch.items()}

    def _autocast(self) -> contextlib.AbstractContextManager:
        if not self.config.bf16:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.dist.device.type, dtype=torch.bfloat16)

    @torch.no_grad()
    def evaluate(self, model: nn.Module) -> dict[str, float]:
        """Metrics of ``model`` on the task's evaluation set, summed over all processes."""
        was_training = model.training
        model.eval()
        bs = self.config.eval_batch_size or 2 * self.config.batch_size
        sampler = ShardedEvalSampler(len(self.task.eval_dataset), bs, self.dist.rank, self.dist.world_size)
        sums: dict[str, float] = {}
        for index, batch in enumerate(self._loader(sampler, 0, 0)):
            batch = self.task.prepare_eval_batch(batch, index * self.dist.world_size + self.dist.rank)
            with self._autocast():
                part = self.task.eval_sums(model, self._to_device(batch))
            for k, v in part.items():
                sums[k] = sums.get(k, 0.0) + float(v)
        sums = all_reduce_sums(sums, self.dist.device)
        model.train(was_training)
        return self.task.compute_metrics(sums)

    def _install_signals(self) -> dict[int, Any]:
        if threading_main() is False:
            return {}

        def handler(signum: int, _frame: Any) -> None:
            if self._signal is not None and signum == signal.SIGINT:
                # A second Ctrl-C means "now": abandon the step (the last checkpoint on disk is intact).
                raise KeyboardInterrupt
            self._signal = signum
            logger.warning("received %s: finishing the current step, then saving", signal.Signals(signum).name)

        previous = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, handler)
        return previous

    def fit(self) -> FitResult:
        """Run training to completion, to the time budget, to ``stop_after`` or to a signal."""
        cfg, task, is_main = self.config, self.task, self.dist.is_main
        resume_dir: Path | None = None
        state: dict[str, Any] | None = None
        if cfg.resume:
            resume_dir = ckpt.resolve_checkpoint(cfg.resume)
            state = ckpt.load_trainer_state(resume_dir)
            self._check_compatible(state)
        if is_main:
            check_out_dir(self.out, resume=state is not None, overwrite=cfg.overwrite)
            self.out.mkdir(parents=True, exist_ok=True)
            cfg.to_json(self.out / "config.json")
        barrier()

        seed_everything(cfg.seed)
        model = task.build_model().to(self.dist.device)
        train_sampler = ShardedBatchSampler(
            len(task.train_dataset), cfg.batch_size, cfg.seed, self.dist.rank, self.dist.world_size
        )
        steps_per_epoch = train_sampler.num_batches()
        total = cfg.max_steps or cfg.epochs * steps_per_epoch
        warmup = min(cfg.warmup_steps(total), total)
        optimizer = torch.optim.AdamW(param_groups(model, cfg.weight_decay), lr=cfg.lr, betas=(0.9, 0.999))
        min_ratio = cfg.min_lr / cfg.lr
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda s: cosine_lr_factor(s, total, warmup, min_ratio)
        )

        step, epoch, batch_in_epoch, elapsed_before = 0, 0, 0, 0.0
        best, best_step, last_eval_step = None, 0, -1
        log = MetricsLog(self.out)
        if state is not None and resume_dir is not None:
            loaded = task.load_model(resume_dir)
            try:
                model.load_state_dict(ckpt.unwrap(loaded).state_dict())
            except RuntimeError as exc:
                raise RunError(f"cannot resume from {resume_dir}: its model does not match this run's ({exc})") from exc
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            step, epoch, batch_in_epoch = state["step"], state["epoch"], state["batch_in_epoch"]
            best, best_step = state.get("best"), state.get("best_step", 0)
            last_eval_step = state.get("last_eval_step", -1)
            self._running = tuple(state.get("running_loss", (0.0, 0)))
            elapsed_before = state.get("elapsed_min", 0.0)
            ckpt.set_rng_state(state["rng"])
            if is_main:
                log.load(up_to_step=step)
            logger.info("resumed from %s at step %d (epoch %d, batch %d)", resume_dir, step, epoch, batch_in_epoch)
        elif is_main:
            log.load(up_to_step=-1)

        train_model: nn.Module = model
        if self.dist.enabled:
            train_model = nn.parallel.DistributedDataParallel(
                model, device_ids=[self.dist.local_rank] if self.dist.device.type == "cuda" else None
            )
        n_params = sum(p.numel() for p in model.parameters())
        if is_main:
            logger.info("%s; model %s (%.2fM parameters)", task.describe(), cfg.model, n_params / 1e6)
            logger.info(
                "%d steps (%d per epoch), global batch %d over %d process(es), warm-up %d, lr %g",
                total,
                steps_per_epoch,
                cfg.batch_size,
                self.dist.world_size,
                warmup,
                cfg.lr,
            )

        start_time = time.monotonic()
        budget_s = cfg.max_minutes * 60.0
        previous_handlers = self._install_signals()
        status = "completed"
        running_loss, running_n = self._running
        show_bar = cfg.progress and is_main and sys.stderr.isatty()
        bar = None
        if show_bar:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, initial=step, dynamic_ncols=True, desc=f"train {task.name}")
        seen_samples, window_start = 0, time.monotonic()

        def minutes() -> float:
            return elapsed_before + (time.monotonic() - start_time) / 60.0

        def do_eval_and_save() -> None:
            nonlocal best, best_step, last_eval_step, running_loss, running_n
            metrics = self.evaluate(model)
            last_eval_step = step
            value = metrics.get(task.metric)
            improved = value is not None and (
                best is None or (value > best if task.greater_is_better else value < best)
            )
            if improved:
                best, best_step = value, step
            row = {
                "step": step,
                "epoch": round(epoch + batch_in_epoch / max(1, steps_per_epoch), 4),
                "lr": optimizer.param_groups[0]["lr"],
                "train_loss": running_loss / running_n if running_n else None,
                **metrics,
                "elapsed_min": round(minutes(), 4),
            }
            running_loss, running_n = 0.0, 0
            self._running = (running_loss, running_n)
            if is_main:
                log.append(row)
                shown = ", ".join(f"{k} {v:.4f}" for k, v in metrics.items())
                msg = f"step {step}/{total} epoch {row['epoch']:.2f}: {shown}"
                (bar.write(msg) if bar is not None else logger.info(msg))
            self._save(
                "last",
                model,
                optimizer,
                scheduler,
                step,
                epoch,
                batch_in_epoch,
                best,
                best_step,
                last_eval_step,
                minutes(),
            )
            if improved and is_main:
                ckpt.copy_checkpoint(self.ckpt_dir / "last", self.ckpt_dir / "best")
            barrier()

        train_model.train()
        try:
            while step < total and status == "completed":
                train_sampler.set_epoch(epoch, batch_in_epoch)
                for batch in self._loader(train_sampler, epoch, batch_in_epoch):
                    batch = task.prepare_batch(batch, step, cfg.seed)
                    batch = self._to_device(batch)
                    with self._autocast():
                        loss = task.train_loss(train_model, batch)
                    if not torch.isfinite(loss):
                        raise FloatingPointError(f"loss is {loss.item()} at step {step}; lower --lr or disable --bf16")
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    if cfg.grad_clip > 0:
                        nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                    optimizer.step()
                    scheduler.step()
                    step += 1
                    batch_in_epoch += 1
                    loss_value = loss.detach()
                    if self.dist.enabled:
                        loss_value = torch.tensor(
                            all_reduce_sums({"l": float(loss_value)}, self.dist.device)["l"] / self.dist.world_size
                        )
                    running_loss += float(loss_value)
                    running_n += 1
                    self._running = (running_loss, running_n)
                    seen_samples += task.batch_size_of(batch) * self.dist.world_size
                    if bar is not None:
                        rate = seen_samples / max(1e-9, time.monotonic() - window_start)
                        bar.set_postfix(loss=f"{float(loss_value):.4f}", samples_s=f"{rate:.0f}", refresh=False)
                        bar.update(1)
                    elif is_main and step % cfg.log_every == 0:
                        rate = seen_samples / max(1e-9, time.monotonic() - window_start)
                        logger.info("step %d/%d loss %.4f (%.0f samples/s)", step, total, float(loss_value), rate)
                    epoch_done = batch_in_epoch >= steps_per_epoch
                    if epoch_done:
                        epoch, batch_in_epoch = epoch + 1, 0
                    every = cfg.eval_every_steps
                    if step < total and ((every and step % every == 0) or (every is None and epoch_done)):
                        do_eval_and_save()
                    stop = self._signal is not None
                    stop = broadcast_flag(stop, self.dist.device) if self.dist.enabled else stop
                    if stop:
                        status = "signal"
                    elif budget_s and (time.monotonic() - start_time) >= budget_s:
                        status = "time_budget"
                    elif cfg.stop_after and step >= cfg.stop_after and step < total:
                        status = "stopped"
                    if status != "completed" or step >= total or epoch_done:
                        break
            if status in ("completed", "time_budget") and last_eval_step != step:
                do_eval_and_save()
            elif status in ("signal", "stopped"):
                self._save(
                    "last",
                    model,
                    optimizer,
                    scheduler,
                    step,
                    epoch,
                    batch_in_epoch,
                    best,
                    best_step,
                    last_eval_step,
                    minutes(),
                )
                barrier()
        finally:
            if bar is not None:
                bar.close()
            for sig, handler in previous_handlers.items():
                signal.signal(sig, handler)

        final = log.rows[-1].get(task.metric) if (is_main and log.rows) else None
        summary = {
            "metric": task.metric,
            "final": final,
            "best": best,
            "best_step": best_step,
            "steps": step,
            "total_steps": total,
            "epochs": round(epoch + batch_in_epoch / max(1, steps_per_epoch), 4),
            "minutes": round(minutes(), 3),
            "status": status,
            "parameters": n_params,
        }
        if is_main:
            ckpt.atomic_write_text(self.out / "summary.json", _json(summary))
            if log.rows:
                plot_curves(log.rows, self.out / "curves.png", title=f"{task.name} - {cfg.model}")
            logger.info("%s after %d steps (%.1f min): %s", status, step, summary["minutes"], summary)
        barrier()
        return FitResult(status=status, summary=summary, signum=self._signal)

    def _save(
        self,
        name: str,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler: Any,
        step: int,
        epoch: int,
        batch_in_epoch: int,
        best: float | None,
        best_step: int,
        last_eval_step: int,
        elapsed_min: float,
    ) -> None:
        if not self.dist.is_main:
            return
        state = {
            "format": 1,
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "step": step,
            "epoch": epoch,
            "batch_in_epoch": batch_in_epoch,
            "best": best,
            "best_step": best_step,
            "metric": self.task.metric,
            "last_eval_step": last_eval_step,
            "elapsed_min": elapsed_min,
            # The mean training loss since the last evaluation is logged at the next one: keep its sum.
            "running_loss": getattr(self, "_running", (0.0, 0)),
            "rng": ckpt.rng_state(),
            "config": self.config.to_dict(),
            "task": self.task.name,
            "task_state": self.task.state_dict(),
            "world_size": self.dist.world_size,
        }
        folder = self.ckpt_dir / name

        class _WithArtifacts:
            # save_pretrained plus the task's artifacts (tokenizer, label names) in the same temp folder.
            def __init__(self, inner: nn.Module, task: Task) -> None:
                self.inner, self.task = inner, task

            def save_pretrained(self, path: str) -> None:
                self.inner.save_pretrained(path)
                self.task.save_artifacts(Path(path))

        ckpt.save_checkpoint(folder, _WithArtifacts(ckpt.unwrap(model), self.task), state)  # type: ignore[arg-type]

    def _check_compatible(self, state: dict[str, Any]) -> None:
        old = TrainConfig.from_dict(state.get("config", {}))
        if state.get("task") != self.task.name:
            raise RunError(
                f"cannot resume: the checkpoint is from a '{state.get('task')}' run, this is a '{self.task.name}' run"
            )
        diffs = self.config.differences(old)
        if diffs:
            raise RunError("cannot resume with an incompatible config:\n  " + "\n  ".join(diffs))


def threading_main() -> bool:
    """Whether this is the main thread (only it may install signal handlers)."""
    import threading

    return threading.current_thread() is threading.main_thread()


def _json(obj: Any) -> str:
    import json

    return json.dumps(obj, indent=2) + "\n"


__all__ = ["FitResult", "RunError", "Trainer", "cosine_lr_factor", "seed_everything"]
