"""The task-agnostic training loop.

AdamW with linear warm-up and cosine decay (set per optimiser step), gradient clipping, optional bf16
autocast, deterministic seeding, evaluation every epoch or every N steps, a progress bar, a metrics log
and a plot, atomic ``last``/``best`` checkpoints, exact resumption, clean stops on SIGINT/SIGTERM or a
time budget (a cap, or the schedule's length when no epochs or steps are given), an EMA of the weights,
a test set evaluated once at the end, any device, and data parallelism through ``torch.distributed``.

:meth:`Trainer.fit` is four steps around one :class:`~lion_attn.train.state.RunState`: restore (or start)
the run, take training steps, evaluate and save when due, and decide whether to stop. Exact resumption
rests on three things: the data order of an epoch depends only on ``(seed, epoch)``
(:mod:`lion_attn.train.sampler`), the run state stores the position within the epoch, and every RNG is
saved and restored; DataLoaders get their own generator so that creating one mid-epoch does not consume
the global RNG.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset, Subset

from lion_attn.train import checkpoint as ckpt
from lion_attn.train.budget import BudgetPlanner, estimate_eval_minutes
from lion_attn.train.config import TrainConfig
from lion_attn.train.distributed import DistInfo, all_reduce_sums, any_rank, barrier, max_over_ranks
from lion_attn.train.ema import EMA_DIR, WeightEMA
from lion_attn.train.metrics import MetricsLog
from lion_attn.train.optim import build_optimizer, seed_everything, set_lr
from lion_attn.train.placement import autocast, make_loader, resolve_device, set_model_attn_mode, to_device
from lion_attn.train.report import build_summary, write_summary
from lion_attn.train.rundir import RunError, check_out_dir, check_resumable
from lion_attn.train.sampler import ShardedBatchSampler, ShardedEvalSampler
from lion_attn.train.signals import StopSignals
from lion_attn.train.state import RunState, cosine_lr_factor
from lion_attn.train.tasks.base import Task

logger = logging.getLogger(__name__)


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
        self.dist = dist_info or DistInfo(device=resolve_device(config.device))
        self.out = Path(config.out)
        self.ckpt_dir = self.out / ckpt.CKPT_DIR
        self.run = RunState()
        self._stop = StopSignals()
        self._start_time = self._loop_start = time.monotonic()
        self._elapsed_before = 0.0
        self._bar: Any = None
        self._samples_seen = 0
        self.ema: WeightEMA | None = None
        self.planner: BudgetPlanner | None = None
        # Minutes the last evaluation and save took: kept back at the end of a time-planned schedule.
        self._eval_min: float | None = None

    # Restore (or start) -------------------------------------------------------------------------------

    def _prepare(self) -> None:
        """Check the output directory, build the model and optimiser, and restore the checkpoint if resuming."""
        cfg, task = self.config, self.task
        resume_dir: Path | None = None
        saved: dict[str, Any] | None = None
        if cfg.resume:
            resume_dir = ckpt.resolve_checkpoint(cfg.resume)
            saved = ckpt.load_trainer_state(resume_dir)
            check_resumable(cfg, task.name, saved)
        if self.dist.is_main:
            check_out_dir(self.out, resume=saved is not None, overwrite=cfg.overwrite)
            self.out.mkdir(parents=True, exist_ok=True)
            cfg.to_json(self.out / "config.json")
        barrier()

        seed_everything(cfg.seed)
        self.model = task.build_model().to(self.dist.device)
        set_model_attn_mode(self.model, cfg.attn_mode)
        # A task may bring its own batch order (e.g. MLM shards: each rank reads its own files).
        place = (cfg.batch_size, cfg.seed, self.dist.rank, self.dist.world_size)
        sampler = task.train_batch_sampler(*place)
        self.sampler = ShardedBatchSampler(len(task.train_dataset), *place) if sampler is None else sampler
        self.steps_per_epoch = self.sampler.num_batches()
        self.optimizer = build_optimizer(self.model, cfg.lr, cfg.weight_decay)
        total = cfg.max_steps or cfg.epochs * self.steps_per_epoch
        self.run = RunState(total_steps=total, warmup_steps=min(cfg.warmup_steps(total), total))
        if cfg.ema_decay:
            self.ema = WeightEMA(self.model, cfg.ema_decay)
        self.log = MetricsLog(self.out)
        if saved is not None and resume_dir is not None:
            self._restore(resume_dir, saved)
        elif self.dist.is_main:
            self.log.load(up_to_step=-1)
        if cfg.budget_scheduled:
            self.planner = BudgetPlanner(cfg.max_minutes, cfg.warmup)
            self.planner.start(self.run)
        self._set_lr()
        self.train_model: nn.Module = self.model
        if self.dist.enabled:
            self.train_model = nn.parallel.DistributedDataParallel(
                self.model, device_ids=[self.dist.local_rank] if self.dist.device.type == "cuda" else None
            )

    def _restore(self, folder: Path, saved: dict[str, Any]) -> None:
        loaded = self.task.load_model(folder)
        try:
            self.model.load_state_dict(ckpt.unwrap(loaded).state_dict())
        except RuntimeError as exc:
            raise RunError(f"cannot resume from {folder}: its model does not match this run's ({exc})") from exc
        self.optimizer.load_state_dict(saved["optimizer"])
        self.run = RunState.from_dict(saved["run"])
        if self.ema is not None:
            if not (folder / EMA_DIR).is_dir():
                raise RunError(f"cannot resume with --ema-decay: {folder} has no {EMA_DIR}/ weights")
            self.ema.load(self.task.load_model(folder / EMA_DIR), int(saved.get("ema_updates", 0)))
        self._elapsed_before = self.run.elapsed_min
        ckpt.set_rng_state(saved["rng"], self.dist.device)
        if self.dist.is_main:
            self.log.load(up_to_step=self.run.step)
        run = self.run
        logger.info("resumed from %s at step %d (epoch %d, batch %d)", folder, run.step, run.epoch, run.batch_in_epoch)

    def _announce(self) -> None:
        if not self.dist.is_main:
            return
        cfg, run = self.config, self.run
        n_params = sum(p.numel() for p in self.model.parameters())
        logger.info("%s; model %s (%.2fM parameters)", self.task.describe(), cfg.model, n_params / 1e6)
        planned = f"steps planned to fill {cfg.max_minutes:g} min" if self.planner else f"{run.total_steps} steps"
        where = f"{self.dist.world_size} process(es) on {self.dist.device}"
        ema = f", EMA {cfg.ema_decay:g}" if self.ema else ""
        logger.info(
            f"{planned} ({self.steps_per_epoch} per epoch), global batch {cfg.batch_size} over {where}, "
            f"warm-up {run.warmup_steps}, lr {cfg.lr:g}, {cfg.attn_mode} form{ema}"
        )

    # Steps ----------------------------------------------------------------------------------------------

    def _set_lr(self) -> None:
        """Apply the schedule's learning rate for the next step (a pure function of the run state)."""
        set_lr(
            self.optimizer,
            self.config.lr * self.run.lr_factor(self.config.min_lr / self.config.lr, self.config.schedule),
        )

    def _loader(self, dataset: Dataset, sampler: Any, seed: int) -> Any:
        return make_loader(
            dataset, sampler, self.task.collate, self.dist.device, num_workers=self.config.num_workers, seed=seed
        )

    def _train_step(self, batch: dict[str, torch.Tensor]) -> None:
        """One optimiser step on ``batch``; advances the run state's counters."""
        cfg, run = self.config, self.run
        batch = to_device(self.task.prepare_batch(batch, run.step, cfg.seed), self.dist.device)
        with autocast(self.dist.device, cfg.bf16):
            loss = self.task.train_loss(self.train_model, batch)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"loss is {loss.item()} at step {run.step}; lower --lr or disable --bf16")
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip > 0:
            nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        self.optimizer.step()
        if self.ema is not None:
            self.ema.update(self.model)
        run.step += 1
        run.batch_in_epoch += 1
        self._replan()
        self._set_lr()
        loss_value = float(loss.detach())
        if self.dist.enabled:
            loss_value = all_reduce_sums({"l": loss_value}, self.dist.device)["l"] / self.dist.world_size
        run.running_loss += loss_value
        run.running_n += 1
        self._samples_seen += self.task.batch_size_of(batch) * self.dist.world_size
        self._report_step(loss_value)

    def _report_step(self, loss_value: float) -> None:
        run = self.run
        rate = self._samples_seen / max(1e-9, time.monotonic() - self._loop_start)
        if self._bar is not None:
            # A schedule planned from the time budget changes length as it goes.
            self._bar.total = run.total_steps
            self._bar.set_postfix(loss=f"{loss_value:.4f}", samples_s=f"{rate:.0f}", refresh=False)
            self._bar.update(1)
        elif self.dist.is_main and run.step % self.config.log_every == 0:
            logger.info("step %d/%d loss %.4f (%.0f samples/s)", run.step, run.total_steps, loss_value, rate)

    def _train_loop(self) -> str:
        """Train until the schedule ends or a stop condition holds; returns the status."""
        run = self.run
        self.train_model.train()
        while run.step < run.total_steps:
            self.sampler.set_epoch(run.epoch, run.batch_in_epoch)
            seed = self.config.seed * 1_000_003 + run.epoch * 1009 + run.batch_in_epoch
            for batch in self._loader(self.task.train_dataset, self.sampler, seed):
                self._train_step(batch)
                epoch_done = run.batch_in_epoch >= self.steps_per_epoch
                if epoch_done:
                    run.epoch, run.batch_in_epoch = run.epoch + 1, 0
                if self._eval_due(epoch_done):
                    self._evaluate_and_save()
                    # The evaluation took time from the budget: fit the rest of the schedule to what is left.
                    self._replan()
                    self._set_lr()
                    if run.step >= run.total_steps:
                        # Time ran out during that evaluation, so the schedule ends at this step: the checkpoint
                        # just written still holds the longer plan, and resuming it would train past a completed run.
                        self._save("last")
                        barrier()
                status = self._should_stop()
                if status is not None:
                    return status
                if run.step >= run.total_steps or epoch_done:
                    break
        return "completed"

    # Evaluate and save ------------------------------------------------------------------------------------

    @torch.no_grad()
    def evaluate(self, model: nn.Module, dataset: Dataset | None = None) -> dict[str, float]:
        """Metrics of ``model`` on ``dataset`` (default: the task's evaluation set), summed over all processes."""
        dataset = self.task.eval_dataset if dataset is None else dataset
        was_training = model.training
        model.eval()
        bs = self.config.eval_batch_size or 2 * self.config.batch_size
        sampler = ShardedEvalSampler(len(dataset), bs, self.dist.rank, self.dist.world_size)
        sums: dict[str, float] = {}
        for index, batch in enumerate(self._loader(dataset, sampler, self.config.seed * 1_000_003)):
            batch = self.task.prepare_eval_batch(batch, index * self.dist.world_size + self.dist.rank)
            with autocast(self.dist.device, self.config.bf16):
                part = self.task.eval_sums(model, to_device(batch, self.dist.device))
            for k, v in part.items():
                sums[k] = sums.get(k, 0.0) + float(v)
        sums = all_reduce_sums(sums, self.dist.device)
        model.train(was_training)
        return self.task.compute_metrics(sums)

    def _eval_due(self, epoch_done: bool) -> bool:
        every, step = self.config.eval_every_steps, self.run.step
        if step >= self.run.total_steps:
            # The end of the schedule is evaluated once, after the loop.
            return False
        return bool(every and step % every == 0) or (every is None and epoch_done)

    def _evaluate_and_save(self) -> None:
        """Evaluate, log a row, save ``last`` and copy it to ``best`` when the metric improved."""
        run, task = self.run, self.task
        started = time.monotonic()
        metrics = self.evaluate(self.model)
        if self.ema is not None:
            metrics.update({f"ema_{k}": v for k, v in self.evaluate(self.ema.module).items()})
        run.last_eval_step = run.step
        value = metrics.get(task.metric)
        improved = run.improves(value, task.greater_is_better)
        if improved:
            run.best, run.best_step = value, run.step
        row = {
            "step": run.step,
            "epoch": self._epoch_float(),
            "lr": self.optimizer.param_groups[0]["lr"],
            "train_loss": run.take_running_loss(),
            **metrics,
            "elapsed_min": round(self.minutes(), 4),
        }
        if self.dist.is_main:
            self.log.append(row)
            shown = ", ".join(f"{k} {v:.4f}" for k, v in metrics.items())
            msg = f"step {run.step}/{run.total_steps} epoch {row['epoch']:.2f}: {shown}"
            (self._bar.write(msg) if self._bar is not None else logger.info(msg))
        self._save("last")
        if improved and self.dist.is_main:
            ckpt.copy_checkpoint(self.ckpt_dir / "last", self.ckpt_dir / "best")
        barrier()
        self._eval_min = (time.monotonic() - started) / 60.0

    def _replan(self) -> None:
        """Fit a time-planned schedule to the time left (every process gets the same plan)."""
        if self.planner is not None:
            # Every input of the plan is agreed, or the processes would end at different steps.
            minutes = max_over_ranks(self.minutes(), self.dist.device)
            self.planner.observe(self.run, minutes, max_over_ranks(self._reserve_min(), self.dist.device))

    def _reserve_min(self) -> float:
        """Minutes a time-planned schedule keeps back for its final evaluation and save."""
        if self._eval_min is not None:
            return self._eval_min
        models = 2 if self.ema is not None else 1
        samples, batch = len(self.task.eval_dataset), self.config.batch_size
        return estimate_eval_minutes(samples, batch, self.run.seconds_per_step, models)

    def _save(self, name: str) -> None:
        """Write the model and the trainer state (run state, optimiser, RNGs, config) to ``checkpoints/<name>``."""
        if not self.dist.is_main:
            return
        state = {
            "format": ckpt.STATE_FORMAT,
            "run": {**self.run.to_dict(), "elapsed_min": self.minutes()},
            "optimizer": self.optimizer.state_dict(),
            "rng": ckpt.rng_state(),
            "config": self.config.to_dict(),
            "task": self.task.name,
            "metric": self.task.metric,
            "task_state": self.task.state_dict(),
            "world_size": self.dist.world_size,
            "ema_updates": self.ema.updates if self.ema is not None else 0,
        }
        ckpt.save_checkpoint(self.ckpt_dir / name, self.model, state, extra=self._write_extra)

    def _write_extra(self, folder: Path) -> None:
        self.task.save_artifacts(folder)
        if self.ema is not None:
            self.ema.save(folder)
            self.task.save_artifacts(folder / EMA_DIR)

    # Stop --------------------------------------------------------------------------------------------------

    def minutes(self) -> float:
        """Training minutes of this run so far, earlier invocations included."""
        return self._elapsed_before + (time.monotonic() - self._start_time) / 60.0

    def _should_stop(self) -> str | None:
        """The reason to stop now (agreed by every process), or None to go on."""
        cfg, run = self.config, self.run
        if any_rank(self._stop.received is not None, self.dist.device):
            return "signal"
        # A planned schedule's budget counts every invocation of the run; a cap counts this one. A schedule
        # that has just ended (a plan shrinks to the current step when time is up) completes instead.
        spent = self.minutes() if self.planner else (time.monotonic() - self._start_time) / 60.0
        over = run.step < run.total_steps and spent >= cfg.max_minutes
        if cfg.max_minutes and any_rank(over, self.dist.device):
            return "time_budget"
        if cfg.stop_after and cfg.stop_after <= run.step < run.total_steps:
            return "stopped"
        return None

    def _finish(self, status: str) -> None:
        """The last evaluation of a finished run, or the checkpoint of an interrupted one."""
        if status in ("completed", "time_budget") and self.run.last_eval_step != self.run.step:
            self._evaluate_and_save()
        elif status in ("signal", "stopped"):
            self._save("last")
            barrier()

    def _epoch_float(self) -> float:
        return round(self.run.epoch + self.run.batch_in_epoch / max(1, self.steps_per_epoch), 4)

    def _evaluate_test(self, status: str) -> dict[str, Any] | None:
        """Evaluate the task's test set once, with the checkpoint selected on the validation set."""
        dataset = getattr(self.task, "test_dataset", None)
        if dataset is None or status not in ("completed", "time_budget"):
            return None
        limit = self.config.test_limit
        if 0 < limit < len(dataset):
            order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(self.config.seed + 11))
            dataset = Subset(dataset, order[:limit].sort().values.tolist())
        best = self.ckpt_dir / "best"
        source = best if (best / ckpt.STATE_FILE).is_file() else self.ckpt_dir / "last"
        path = self.out / "test.json"
        step = self.run.best_step if source == best else self.run.step
        if path.is_file():
            previous = json.loads(path.read_text())
            same = (previous.get("step"), previous.get("checkpoint"), previous.get("samples"))
            if same == (step, source.name, len(dataset)):
                return previous
        started = time.monotonic()
        report: dict[str, Any] = {"checkpoint": source.name, "step": step, "samples": len(dataset)}
        folders = {"metrics": source, "ema_metrics": source / EMA_DIR} if self.ema else {"metrics": source}
        for key, folder in folders.items():
            model = ckpt.unwrap(self.task.load_model(folder)).to(self.dist.device)
            set_model_attn_mode(model, self.config.attn_mode)
            report[key] = self.evaluate(model, dataset)
        report["seconds"] = round(time.monotonic() - started, 3)
        if self.dist.is_main:
            ckpt.atomic_write_text(path, json.dumps(report, indent=2) + "\n")
            shown = ", ".join(f"{k} {v:.4f}" for k, v in report["metrics"].items())
            logger.info("test set (%d samples, %s checkpoint, step %d): %s", len(dataset), source.name, step, shown)
        return report

    def _summarise(self, status: str, minutes: float, test: dict[str, Any] | None) -> dict[str, Any]:
        rows = self.log.rows if self.dist.is_main else []
        extra = {
            "epochs": self._epoch_float(),
            "minutes": round(minutes, 3),
            "final_lr": self.optimizer.param_groups[0]["lr"],
            "status": status,
            "parameters": sum(p.numel() for p in self.model.parameters()),
        }
        summary = build_summary(self.config, self.run, self.task.metric, rows, extra, test)
        if self.dist.is_main:
            write_summary(self.out, summary, rows, title=f"{self.task.name} - {self.config.model}")
        return summary

    def fit(self) -> FitResult:
        """Run training to completion, to the time budget, to ``stop_after`` or to a signal."""
        # The clock includes building and restoring the model, so that a time budget covers them.
        self._start_time = time.monotonic()
        self._prepare()
        self._announce()
        self._loop_start = time.monotonic()
        if self.config.progress and self.dist.is_main and sys.stderr.isatty():
            from tqdm.auto import tqdm

            self._bar = tqdm(
                total=self.run.total_steps, initial=self.run.step, dynamic_ncols=True, desc=f"train {self.task.name}"
            )
        try:
            with self._stop:
                status = self._train_loop()
                self._finish(status)
        finally:
            if self._bar is not None:
                self._bar.close()
        # The training time; the test evaluation after it is reported apart, in test.json.
        minutes = self.minutes()
        summary = self._summarise(status, minutes, self._evaluate_test(status))
        barrier()
        return FitResult(status=status, summary=summary, signum=self._stop.received)


__all__ = ["FitResult", "RunError", "Trainer", "check_out_dir", "cosine_lr_factor", "seed_everything"]
