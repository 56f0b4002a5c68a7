"""``lion showcase``: a LION-S two-scan ViT against a same-size softmax ViT on Fashion-MNIST, then the LION model
in all three forms (Afzal et al., NeurIPS 2025, arXiv 2502.16249: the forms compute the same function).

Both models get the same data, seed, hyper-parameters and number of optimiser steps. The step count is
calibrated from the LION model's measured speed so that its run fits the time budget.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import torch

from lion_attn.train.checkpoint import atomic_write_text
from lion_attn.train.config import TrainConfig
from lion_attn.train.loop import Trainer, check_out_dir

logger = logging.getLogger(__name__)

LION_MODEL = "lion_snat_vit_mini_patch7_28"
SOFTMAX_MODEL = "softmax_vit_mini_patch7_28"


def _config(model: str, out: Path, seed: int, quick: bool, **kw: Any) -> TrainConfig:
    task_args: dict[str, Any] = {"flip": True}
    if quick:
        task_args.update(train_limit=512, val_limit=256, model_args={"depth": 1, "embed_dim": 32})
    return TrainConfig(
        task="image",
        model=model,
        batch_size=128 if not quick else 32,
        lr=2e-3,
        weight_decay=0.05,
        warmup=0.05,
        min_lr=1e-5,
        seed=seed,
        out=str(out),
        eval_every="100" if not quick else "8",
        task_args=task_args,
        **kw,
    )


def _seconds_per_step(cfg: TrainConfig, task: Any) -> float:
    """Time a few training steps of ``cfg.model`` (after one warm-up step)."""
    torch.manual_seed(cfg.seed)
    model = task.build_model()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    batch = task.collate([task.train_dataset[i] for i in range(cfg.batch_size)])
    times = []
    for _ in range(4):
        start = time.perf_counter()
        loss = task.train_loss(model, batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - start)
    return sorted(times[1:])[1]


def run_showcase(
    out: str = "runs/showcase", minutes: float = 4.5, quick: bool = False, overwrite: bool = False, seed: int = 0
) -> int:
    """Train both models, compare them, evaluate the LION model in every form; return an exit code."""
    from lion_attn.train.baselines import logistic_regression_accuracy
    from lion_attn.train.evaluate import evaluate_checkpoint, format_table
    from lion_attn.train.tasks.image import ImageTask

    root = Path(out)
    if minutes <= 0:
        raise ValueError(f"--minutes must be > 0, got {minutes}")
    for name in ("lion", "softmax"):
        check_out_dir(root / name, resume=False, overwrite=overwrite)
    probe_cfg = _config(LION_MODEL, root / "lion", seed, quick)
    task = ImageTask(probe_cfg)
    if quick:
        steps = 16
    else:
        per_step = _seconds_per_step(probe_cfg, task)
        steps = max(20, int(minutes * 60 / (per_step * 1.1)))
        logger.info(
            "LION model: %.2f s per step of %d images -> %d steps (%.2f epochs) in %.1f min",
            per_step,
            probe_cfg.batch_size,
            steps,
            steps * probe_cfg.batch_size / len(task.train_dataset),
            minutes,
        )
    results = {}
    for key, model in (("lion", LION_MODEL), ("softmax", SOFTMAX_MODEL)):
        cfg = _config(
            model,
            root / key,
            seed,
            quick,
            max_steps=steps,
            max_minutes=0 if quick else minutes * 1.5,
            overwrite=overwrite,
        )
        logger.info("== training %s (%s) ==", key, model)
        task.config = cfg
        fit = Trainer(cfg, task).fit()
        if fit.status == "signal" and fit.signum is not None:
            logger.warning("showcase interrupted; %s saved its last checkpoint in %s", key, cfg.out)
            return 128 + fit.signum
        results[key] = fit.summary
    logger.info("== logistic regression on raw pixels (the linear baseline) ==")
    logreg = logistic_regression_accuracy(task.train_dataset, task.eval_dataset, num_classes=10)
    report = evaluate_checkpoint(root / "lion", limit=256 if quick else 2000, batch_size=128)
    lines = [
        "",
        f"Fashion-MNIST test accuracy after {steps} steps of {probe_cfg.batch_size} images (same seed, data, "
        "hyper-parameters):",
        f"  {'model':<34} {'accuracy':>9} {'best':>7} {'minutes':>8} {'params':>9}",
    ]
    for key, model in (("lion", LION_MODEL), ("softmax", SOFTMAX_MODEL)):
        s = results[key]
        lines.append(f"  {model:<34} {s['final']:>9.4f} {s['best']:>7.4f} {s['minutes']:>8.2f} {s['parameters']:>9}")
    lines.append(f"  {'logistic regression (raw pixels)':<34} {logreg:>9.4f}")
    gap = results["lion"]["final"] - results["softmax"]["final"]
    lines.append(f"  LION - softmax: {100 * gap:+.2f} points")
    lines += ["", format_table(report), ""]
    lines.append(f"log:        {root / 'lion' / 'metrics.jsonl'} (and {root / 'softmax' / 'metrics.jsonl'})")
    lines.append(f"plot:       {root / 'lion' / 'curves.png'} (and {root / 'softmax' / 'curves.png'})")
    lines.append(f"checkpoint: {root / 'lion' / 'checkpoints' / 'best'}  (lion eval --checkpoint {root / 'lion'})")
    summary = {
        "steps": steps,
        "lion": results["lion"],
        "softmax": results["softmax"],
        "logistic_regression": logreg,
        "eval": report,
    }
    atomic_write_text(root / "showcase.json", json.dumps(summary, indent=2) + "\n")
    lines.append(f"summary:    {root / 'showcase.json'}")
    print("\n".join(lines))
    return 0
