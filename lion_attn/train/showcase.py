"""``lion showcase``: a LION-S two-scan ViT against a same-size softmax ViT on Fashion-MNIST, then the LION model
in all three forms (Afzal et al., NeurIPS 2025, arXiv 2502.16249: the forms compute the same function).

Both models get the same data, seed, hyper-parameters and number of optimiser steps. The step count is
calibrated from the LION model's measured speed so that its run fits the time budget. Each run selects its
best checkpoint on a validation split carved from the training images; the test set is evaluated once, with
that checkpoint, and reported apart.
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


def _test_accuracy(task: Any, run_dir: Path, summary: dict[str, Any]) -> float:
    """Test accuracy of the run's selected checkpoint: the trainer's own test report if it wrote one, else computed
    here once (best checkpoint, else last)."""
    from lion_attn.train import checkpoint as ckpt
    from lion_attn.train.evaluate import find_eval_checkpoint
    from lion_attn.train.sampler import ShardedEvalSampler

    test = summary.get("test")
    if isinstance(test, dict) and "accuracy" in test.get("metrics", {}):
        return float(test["metrics"]["accuracy"])
    folder = find_eval_checkpoint(run_dir)
    model = ckpt.unwrap(task.load_model(folder)).eval()
    loader = torch.utils.data.DataLoader(
        task.test_dataset, batch_sampler=ShardedEvalSampler(len(task.test_dataset), 256), collate_fn=task.collate
    )
    correct = count = 0.0
    with torch.no_grad():
        for batch in loader:
            sums = task.eval_sums(model, batch)
            correct, count = correct + sums["correct"], count + sums["count"]
    return correct / max(count, 1.0)


def _pixels(task: Any, dataset: Any) -> Any:
    """A dataset's images as the model sees them (normalised floats), for the logistic-regression baseline."""
    from torch.utils.data import TensorDataset

    images, labels = task.collate([dataset[i] for i in range(len(dataset))]).values()
    return TensorDataset(task.inputs({"images": images}), labels)


def run_showcase(
    out: str = "runs/showcase", minutes: float = 4.5, quick: bool = False, overwrite: bool = False, seed: int = 0
) -> int:
    """Train both models, compare them, evaluate the LION model in every form; return an exit code."""
    from lion_attn.train.baselines import logistic_regression_accuracy
    from lion_attn.train.evaluate import evaluate_checkpoint, format_table
    from lion_attn.train.tasks.image import ImageTask, subset

    root = Path(out)
    if minutes <= 0:
        raise ValueError(f"--minutes must be > 0, got {minutes}")
    for name in ("lion", "softmax"):
        check_out_dir(root / name, resume=False, overwrite=overwrite)
    probe_cfg = _config(LION_MODEL, root / "lion", seed, quick)
    task = ImageTask(probe_cfg)
    if quick:
        task.test_dataset = subset(task.test_dataset, 256, seed + 2)
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
        results[key] = {**fit.summary, "test_accuracy": _test_accuracy(task, root / key, fit.summary)}
    logger.info("== logistic regression on raw pixels (the linear baseline) ==")
    logreg = logistic_regression_accuracy(
        _pixels(task, task.train_dataset), _pixels(task, task.test_dataset), num_classes=10
    )
    report = evaluate_checkpoint(root / "lion", limit=256 if quick else 2000, batch_size=128)
    lines = [
        "",
        f"Fashion-MNIST after {steps} steps of {probe_cfg.batch_size} images (same seed, data, hyper-parameters); "
        f"test: {len(task.test_dataset)} images, once, with the checkpoint selected on "
        f"{len(task.eval_dataset)} validation images:",
        f"  {'model':<34} {'test acc':>9} {'best val':>9} {'minutes':>8} {'params':>9}",
    ]
    for key, model in (("lion", LION_MODEL), ("softmax", SOFTMAX_MODEL)):
        s = results[key]
        lines.append(
            f"  {model:<34} {s['test_accuracy']:>9.4f} {s['best']:>9.4f} {s['minutes']:>8.2f} {s['parameters']:>9}"
        )
    lines.append(f"  {'logistic regression (raw pixels)':<34} {logreg:>9.4f}")
    gap = results["lion"]["test_accuracy"] - results["softmax"]["test_accuracy"]
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
