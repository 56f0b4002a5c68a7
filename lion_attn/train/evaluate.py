"""``lion eval``: a checkpoint's metric in each attention form, with time, peak memory and agreement.

LION's parallel, chunkwise and recurrent forms compute the same function (Afzal et al., NeurIPS 2025,
arXiv 2502.16249), so a model trained in one form must give the same predictions in the others; this
command shows it on real data. Each form runs in a fresh subprocess so that its peak memory is not hidden
by an earlier form's: memory is the peak of the resident set size sampled during the evaluation loop
(``peak_rss_mb``, see :mod:`lion_attn.train.memory`) and its growth over the level once the model and data are
loaded (``peak_rss_delta_mb``), next to the process's lifetime peak (``process_max_rss_mb``). With in-process
evaluation the deltas are not comparable and are reported as null. On a GPU (``--device cuda``, or ``auto``
where one is visible) the model and batches live on the device and each form also reports the device's
peak allocated memory (``device_peak_mb``, ``torch.cuda.max_memory_allocated``).

A checkpoint's ``ema/`` folder (written with ``--ema-decay``) is evaluated like the checkpoint itself:
``lion eval --checkpoint OUT/checkpoints/best/ema``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from lion_attn.ops import MODES
from lion_attn.train import checkpoint as ckpt
from lion_attn.train.config import TrainConfig
from lion_attn.train.ema import EMA_DIR
from lion_attn.train.memory import PeakRSS
from lion_attn.train.placement import peak_memory_mb, reset_peak_memory, resolve_device, to_device

logger = logging.getLogger(__name__)


def _maxrss_mb() -> float:
    # Linux reports ru_maxrss in KiB, macOS in bytes.
    scale = 1.0 / 1024 if sys.platform != "darwin" else 1.0 / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def find_eval_checkpoint(path: str | Path) -> Path:
    """A checkpoint folder from a user path; an output directory gives its ``best`` (else ``last``)."""
    p = Path(path).expanduser()
    if p.name == EMA_DIR and (p.parent / ckpt.STATE_FILE).is_file():
        return ckpt.resolve_checkpoint(p)
    try:
        return ckpt.resolve_checkpoint(path, prefer="best")
    except ckpt.CheckpointError:
        return ckpt.resolve_checkpoint(path, prefer="last")


def load_task(folder: Path, data: str | None = None, limit: int = 0) -> tuple[Any, dict[str, Any]]:
    """Rebuild the evaluation side of a checkpoint's task (its data, or ``data`` instead).

    Returns:
        ``(task, state)`` where ``state`` is the checkpoint's trainer state.
    """
    from lion_attn.train.tasks import get_task_class

    # An EMA folder holds weights only; its run's state sits in the checkpoint folder above it.
    state = ckpt.load_trainer_state(folder.parent if folder.name == EMA_DIR else folder)
    cfg = TrainConfig.from_dict(state["config"])
    task_args = {**cfg.task_args, **state.get("task_state", {})}
    if data:
        if not Path(data).expanduser().exists():
            raise ValueError(f"--data {data} does not exist")
        task_args["eval_data"] = str(Path(data).expanduser().resolve())
    if limit:
        task_args["val_limit"] = limit
    task_args["checkpoint_dir"] = str(folder)
    cfg.task_args = task_args
    task_cls = get_task_class(state["task"])
    known = set(task_cls.arg_defaults) | set(state.get("task_state", {})) | {"eval_data"}
    cfg.task_args = {k: v for k, v in task_args.items() if k in known}
    return task_cls(cfg, for_eval=True), state


def run_mode(
    folder: Path, mode: str, data: str | None, batch_size: int, limit: int, device: str = "auto"
) -> dict[str, Any]:
    """Evaluate one form in this process.

    Returns:
        ``{"mode", "metrics", "seconds", "samples", "peak_rss_mb", "peak_rss_delta_mb", "device",
        "device_peak_mb", "predictions"}`` where ``predictions`` is a 1-d tensor and ``device_peak_mb`` is
        None off CUDA.
    """
    from lion_attn.train.placement import make_loader
    from lion_attn.train.sampler import ShardedEvalSampler

    place = resolve_device(device)
    task, _ = load_task(folder, data, limit)
    model = task.load_model(folder).to(place)
    check = getattr(task, "check_model", None)
    if check is not None:
        check(model)
    set_mode = getattr(model, "set_attn_mode", None)
    if set_mode is None:
        if mode != "parallel":
            raise ValueError(f"the checkpoint's model has no set_attn_mode; it cannot run in {mode!r} form")
    else:
        set_mode(mode)
    model.eval()
    sampler = ShardedEvalSampler(len(task.eval_dataset), batch_size)
    loader = make_loader(task.eval_dataset, sampler, task.collate, place)
    sums: dict[str, float] = {}
    preds = []
    reset_peak_memory(place)
    start = time.perf_counter()
    with PeakRSS() as memory, torch.inference_mode():
        for step, batch in enumerate(loader):
            batch = to_device(task.prepare_eval_batch(batch, step), place)
            for k, v in task.eval_sums(model, batch).items():
                sums[k] = sums.get(k, 0.0) + float(v)
            preds.append(task.predictions(model, batch).reshape(-1).cpu())
    device_peak = peak_memory_mb(place)
    seconds = time.perf_counter() - start
    return {
        "mode": mode,
        "metrics": task.compute_metrics(sums),
        "metric": task.metric,
        "seconds": seconds,
        "samples": len(task.eval_dataset),
        "peak_rss_mb": None if memory.peak_mb is None else round(memory.peak_mb, 1),
        "peak_rss_delta_mb": None if memory.delta_mb is None else round(memory.delta_mb, 1),
        "process_max_rss_mb": round(_maxrss_mb(), 1),
        "device": str(place),
        "device_peak_mb": None if device_peak is None else round(device_peak, 1),
        "predictions": torch.cat(preds) if preds else torch.empty(0, dtype=torch.long),
    }


def _run_mode_subprocess(
    folder: Path, mode: str, data: str | None, batch_size: int, limit: int, device: str
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="lion-eval-") as tmp:
        out = Path(tmp) / "result.pt"
        spec = {
            "folder": str(folder),
            "mode": mode,
            "data": data,
            "batch_size": batch_size,
            "limit": limit,
            "device": device,
            "out": str(out),
        }
        proc = subprocess.run(
            [sys.executable, "-m", "lion_attn.train.evaluate", "--worker", json.dumps(spec)],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
        if proc.returncode != 0 or not out.is_file():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
            raise RuntimeError(f"evaluation in {mode!r} form failed:\n" + "\n".join(tail))
        # The worker writes tensors and plain values only; read them without the code-running unpickler.
        return ckpt.safe_torch_load(out)


def evaluate_checkpoint(
    path: str | Path,
    data: str | None = None,
    modes: list[str] | tuple[str, ...] = MODES,
    batch_size: int = 64,
    limit: int = 0,
    json_path: str | Path | None = None,
    subprocess_per_mode: bool = True,
    device: str = "auto",
) -> dict[str, Any]:
    """Evaluate a checkpoint in each of ``modes`` and compare predictions with the first mode's.

    Args:
        path: Checkpoint folder or output directory.
        data: Optional evaluation data replacing the run's own.
        modes: Forms to run; agreement is measured against ``"parallel"`` if present, else the first.
        batch_size: Evaluation batch size.
        limit: Evaluate the first ``limit`` samples only (0: all).
        json_path: Where to write the report (default ``<checkpoint>/eval.json``).
        subprocess_per_mode: Run each form in a fresh process (per-form peak memory).
        device: ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.

    Returns:
        The report: ``{"checkpoint", "task", "metric", "modes": {mode: {...}}, "json"}``.
    """
    folder = find_eval_checkpoint(path)
    resolve_device(device)
    for mode in modes:
        if mode not in MODES:
            raise ValueError(f"--mode must be one of {MODES} or 'all', got {mode!r}")
    # Validate the data and checkpoint up front so that bad input fails with one clear message.
    task, state = load_task(folder, data, limit)
    results: dict[str, dict[str, Any]] = {}
    for mode in modes:
        logger.info("evaluating %s in %s form", folder, mode)
        if subprocess_per_mode:
            results[mode] = _run_mode_subprocess(folder, mode, data, batch_size, limit, device)
        else:
            results[mode] = run_mode(folder, mode, data, batch_size, limit, device)
            results[mode]["peak_rss_delta_mb"] = None
    ref_mode = "parallel" if "parallel" in results else modes[0]
    ref = results[ref_mode]["predictions"]
    report_modes = {}
    for mode, res in results.items():
        preds = res.pop("predictions")
        agree = float((preds == ref).float().mean()) if preds.numel() else 1.0
        report_modes[mode] = {**res, "agreement_with_" + ref_mode: agree}
    report = {
        "checkpoint": str(folder),
        "task": state["task"],
        "model": state["config"].get("model"),
        "metric": task.metric,
        "reference_mode": ref_mode,
        "memory": "resident set size sampled every 1 ms during the evaluation loop, in a fresh process per form; "
        "delta = its peak growth over the level after loading model and data; on CUDA, device_peak_mb = "
        "torch.cuda.max_memory_allocated during the loop",
        "modes": report_modes,
    }
    out = Path(json_path) if json_path else folder / "eval.json"
    report["json"] = str(out)
    ckpt.atomic_write_text(out, json.dumps(report, indent=2) + "\n")
    return report


def _mb(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def format_table(report: dict[str, Any]) -> str:
    """A fixed-width table of the report's forms."""
    metric, ref = report["metric"], report["reference_mode"]
    gpu = any(r.get("device_peak_mb") is not None for r in report["modes"].values())
    head = f"{'form':<10} {metric:>10} {'seconds':>9} {'samples/s':>10} {'peak MB':>9} {'delta MB':>9} {'= ' + ref:>12}"
    head += f" {'device MB':>10}" if gpu else ""
    lines = [f"{report['model']} ({report['task']}) from {report['checkpoint']}", head, "-" * len(head)]
    for mode, r in report["modes"].items():
        delta = "n/a" if r["peak_rss_delta_mb"] is None else f"{r['peak_rss_delta_mb']:.1f}"
        rate = r["samples"] / max(r["seconds"], 1e-9)
        line = (
            f"{mode:<10} {r['metrics'].get(metric, float('nan')):>10.4f} {r['seconds']:>9.2f} {rate:>10.1f} "
            f"{_mb(r['peak_rss_mb']):>9} {delta:>9} {r['agreement_with_' + ref]:>12.4f}"
        )
        lines.append(line + (f" {_mb(r.get('device_peak_mb')):>10}" if gpu else ""))
    return "\n".join(lines)


def _worker(spec_json: str) -> int:
    spec = json.loads(spec_json)
    torch.manual_seed(0)
    res = run_mode(
        Path(spec["folder"]), spec["mode"], spec["data"], spec["batch_size"], spec["limit"], spec.get("device", "auto")
    )
    torch.save(res, spec["out"])
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="internal: evaluate one form in a fresh process")
    parser.add_argument("--worker", required=True)
    logging.basicConfig(level=logging.WARNING)
    sys.exit(_worker(parser.parse_args().worker))
