"""Attention transfer: train a converted LION encoder to reproduce its softmax teacher.

Two losses, summed (after Hedgehog, Zhang et al., ICLR 2024, and LoLCATs, Zhang et al., 2024):

- *layer by layer*: each student attention layer reads the teacher's input to that layer and must give the
  teacher's attention output (squared error relative to the teacher's, over real tokens). Layers learn in
  parallel and errors do not compound while they learn.
- *end to end*: ``1 - cos`` between the student's and the teacher's mean-pooled sentence embeddings.

Stage 1 trains only what conversion added (learnable feature maps and decays; the q/k/v projections when
nothing was added). Stage 2 (``stage2="all"``, from ``stage2_start`` of the step or time budget) also trains every
pretrained weight, at a small learning rate. Runs write what ``lion train`` writes: ``OUT/config.json``,
``metrics.jsonl`` (+ ``.csv``), ``curves.png``, ``summary.json`` and ``checkpoints/{last,best}`` (model folders
with the tokenizer and sentence-transformers files, plus ``trainer_state.pt``); ``resume=True`` continues a run
exactly, and Ctrl-C or SIGTERM saves ``last`` first.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import signal
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lion_attn.convert.bert_checkpoint import load_hf_bert
from lion_attn.convert.convert import copy_extra_files
from lion_attn.convert.data import DistillTexts, distill_texts
from lion_attn.convert.embed import mean_pool
from lion_attn.convert.text import load_wordpiece, make_batch, tiled_position_ids, tokenize
from lion_attn.models import LionBertModel, load_pretrained
from lion_attn.train import checkpoint as ckpt
from lion_attn.train.metrics import MetricsLog, plot_curves

__all__ = ["DistillConfig", "added_parameter_names", "distill", "distill_loss"]

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class DistillConfig:
    """Settings of a distillation run (the defaults are the documented recipe).

    Attributes:
        teacher: HF BERT folder of the softmax teacher.
        student: Converted model folder (``lion convert``).
        out: Output directory.
        text: Text files or folders to distil on; ``None`` for Austen's novels.
        max_tokens: Tokens per passage (the teacher's sentence-embedding limit).
        words_per_passage: Passage length in words.
        batch_size: Passages per step.
        max_steps: Step budget (stage boundary and schedule refer to it).
        max_minutes: Stop after this many minutes (saving and evaluating first); ``None`` for no limit.
        lr: Learning rate of what conversion added.
        stage2: ``"all"`` (also train every pretrained weight in stage 2) or ``"none"``.
        stage2_start: Stage 2 starts at this fraction of ``max_steps`` or of ``max_minutes``, whichever first.
        stage2_lr: Learning rate of the pretrained weights in stage 2.
        e2e_weight: Weight of the end-to-end loss.
        warmup: Linear warm-up steps at the start of each stage.
        eval_every: Steps between dev evaluations (and checkpoints).
        dev_size: Held-out passages used to choose the best checkpoint.
        seed: Seed of the data order and the split.
        stop_after: Stop after this many steps in total without changing the schedule (resume later).
    """

    teacher: str
    student: str
    out: str
    text: list[str] | None = None
    max_tokens: int = 256
    words_per_passage: int = 128
    batch_size: int = 16
    max_steps: int = 3000
    max_minutes: float | None = None
    lr: float = 1e-2
    stage2: str = "all"
    stage2_start: float = 0.5
    stage2_lr: float = 5e-5
    e2e_weight: float = 1.0
    warmup: int = 20
    eval_every: int = 50
    dev_size: int = 128
    seed: int = 0
    stop_after: int | None = None

    def __post_init__(self) -> None:
        for name in ("max_tokens", "words_per_passage", "batch_size", "max_steps", "eval_every", "dev_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if self.stage2 not in ("all", "none"):
            raise ValueError(f"stage2 must be 'all' or 'none', got {self.stage2!r}")
        if not 0.0 <= self.stage2_start <= 1.0:
            raise ValueError(f"stage2_start must be in [0, 1], got {self.stage2_start!r}")
        if self.max_minutes is not None and self.max_minutes <= 0:
            raise ValueError(f"max_minutes must be > 0, got {self.max_minutes!r}")


def added_parameter_names(model: nn.Module) -> list[str]:
    """Names of the parameters conversion added (feature maps, decays) or, if none, of the q/k/v projections."""
    names = [n for n, _ in model.named_parameters() if ".attn.feature_map." in n or ".attn.decay" in n]
    return names or [n for n, _ in model.named_parameters() if ".attn.qkv." in n]


def _attention_io(teacher: LionBertModel) -> tuple[list[tuple[Tensor, Tensor]], list[Any]]:
    """Hooks that record each teacher attention layer's (input, output)."""
    records: list[tuple[Tensor, Tensor]] = []

    def hook(_module: nn.Module, args: tuple[Any, ...], output: Tensor) -> None:
        records.append((args[0], output))

    handles = [block.attn.register_forward_hook(hook) for block in teacher.encoder.blocks]
    return records, handles


def distill_loss(
    student: LionBertModel, teacher: LionBertModel, ids: Tensor, mask: Tensor, e2e_weight: float = 1.0
) -> tuple[Tensor, dict[str, float]]:
    """The attention-transfer loss of one batch.

    Args:
        student: The LION student (post-norm).
        teacher: The softmax teacher (post-norm, same sizes).
        ids: [B, T] token ids.
        mask: [B, T] bool, True for real tokens.
        e2e_weight: Weight of ``1 - cos`` of the pooled embeddings.

    Returns:
        The scalar loss and its parts (``layer_loss``, ``e2e_loss``) as floats.
    """
    pos = tiled_position_ids(mask, student.config.max_position_embeddings)
    records, handles = _attention_io(teacher)
    try:
        with torch.no_grad():
            t_hidden = teacher(ids, mask, position_ids=pos).last_hidden_state
    finally:
        for h in handles:
            h.remove()
    weights = mask.unsqueeze(-1).to(t_hidden.dtype)
    layer_losses = []
    for block, (x_in, y_teacher) in zip(student.encoder.blocks, records, strict=True):
        y_student = block.attn(x_in, mask)
        err = ((y_student - y_teacher) ** 2 * weights).sum()
        layer_losses.append(err / ((y_teacher**2) * weights).sum().clamp_min(1e-12))
    layer_loss = torch.stack(layer_losses).mean()
    s_hidden = student(ids, mask, position_ids=pos).last_hidden_state
    cos = F.cosine_similarity(mean_pool(s_hidden, mask), mean_pool(t_hidden, mask), dim=-1)
    e2e_loss = (1 - cos).mean()
    loss = layer_loss + e2e_weight * e2e_loss
    return loss, {"layer_loss": float(layer_loss.detach()), "e2e_loss": float(e2e_loss.detach())}


def _optimizer(student: nn.Module, cfg: DistillConfig, stage: int) -> torch.optim.Optimizer:
    added = set(added_parameter_names(student))
    groups: list[dict[str, Any]] = [{"params": [], "lr": cfg.lr}, {"params": [], "lr": cfg.stage2_lr}]
    for name, param in student.named_parameters():
        train = name in added or stage == 2
        param.requires_grad_(train)
        if train:
            groups[0 if name in added else 1]["params"].append(param)
    for g in groups:
        g["base_lr"] = g["lr"]
    return torch.optim.AdamW([g for g in groups if g["params"]], weight_decay=0.0)


@torch.no_grad()
def _dev_cosine(student: LionBertModel, dev: list[tuple[Tensor, Tensor]], teacher_emb: Tensor) -> float:
    out = []
    for ids, mask in dev:
        pos = tiled_position_ids(mask, student.config.max_position_embeddings)
        out.append(F.normalize(mean_pool(student(ids, mask, position_ids=pos).last_hidden_state, mask), dim=-1))
    return float((torch.cat(out) * teacher_emb).sum(-1).mean())


def _batches(seqs: list[list[int]], size: int) -> list[tuple[Tensor, Tensor]]:
    return [make_batch(seqs[i : i + size]) for i in range(0, len(seqs), size)]


def _prepare_out(out: Path, resume: bool, overwrite: bool) -> None:
    if resume:
        if not (out / ckpt.CKPT_DIR / "last").is_dir():
            raise ValueError(f"nothing to resume in {out}: no {ckpt.CKPT_DIR}/last")
        return
    if (out / ckpt.CKPT_DIR).exists() or (out / "metrics.jsonl").exists():
        if not overwrite:
            raise ValueError(f"{out} already holds a run; pass resume to continue it or overwrite to replace it")
        import shutil

        for name in ("metrics.jsonl", "metrics.csv", "summary.json", "curves.png", "config.json"):
            (out / name).unlink(missing_ok=True)
        shutil.rmtree(out / ckpt.CKPT_DIR, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)


def distill(cfg: DistillConfig, resume: bool = False, overwrite: bool = False, progress: bool = True) -> dict[str, Any]:
    """Run (or resume) a distillation; returns the summary written to ``OUT/summary.json``.

    Raises:
        ValueError: On a bad teacher/student pair, an occupied ``out`` or nothing to resume.
    """
    out = Path(cfg.out)
    _prepare_out(out, resume, overwrite)
    teacher = load_hf_bert(cfg.teacher).eval()
    student_dir = ckpt.resolve_checkpoint(out, "last") if resume else Path(cfg.student)
    student = load_pretrained(student_dir)
    if not isinstance(student, LionBertModel) or student.config.norm_layout != "post":
        raise ValueError(f"{cfg.student!r} is not a converted encoder (run `lion convert` first)")
    if student.config.attn_type != "lion":
        raise ValueError(f"{cfg.student!r} has {student.config.attn_type} attention; the student must be LION")
    for field in ("hidden_size", "num_hidden_layers", "num_attention_heads", "vocab_size"):
        if getattr(student.config, field) != getattr(teacher.config, field):
            raise ValueError(f"student and teacher differ in {field}; distil a student converted from this teacher")
    student.set_attn_mode("parallel")
    student.eval()  # no dropout: the student must match the teacher's deterministic outputs
    ckpt.atomic_write_text(out / "config.json", json.dumps(dataclasses.asdict(cfg), indent=2) + "\n")

    texts: DistillTexts = distill_texts(cfg.text, cfg.words_per_passage, cfg.dev_size, cfg.seed)
    tokenizer = load_wordpiece(cfg.student)
    train_seqs = tokenize(tokenizer, texts.train, cfg.max_tokens)
    dev = _batches(tokenize(tokenizer, texts.dev, cfg.max_tokens), 32)
    with torch.no_grad():
        teacher_dev = torch.cat([F.normalize(mean_pool(teacher(i, m).last_hidden_state, m), dim=-1) for i, m in dev])

    state: dict[str, Any] = {"step": 0, "stage": 1, "epoch": 0, "pos": 0, "best": -1.0, "elapsed": 0.0, "tokens": 0}
    log = MetricsLog(out)
    if resume:
        saved = ckpt.load_trainer_state(student_dir)
        state.update(saved["progress"])
        optimizer = _optimizer(student, cfg, state["stage"])
        optimizer.load_state_dict(saved["optimizer"])
        ckpt.set_rng_state(saved["rng"])
        log.load(up_to_step=state["step"])
        logger.info("resumed %s at step %d (stage %d)", out, state["step"], state["stage"])
    else:
        optimizer = _optimizer(student, cfg, 1)
        torch.manual_seed(cfg.seed)

    stop = {"signal": 0}

    def on_signal(signum: int, _frame: Any) -> None:
        stop["signal"] = signum

    previous = signal.signal(signal.SIGTERM, on_signal)
    start = time.monotonic() - state["elapsed"]
    order = torch.randperm(len(train_seqs), generator=torch.Generator().manual_seed(cfg.seed * 1000 + state["epoch"]))
    running: dict[str, float] = {}
    n_running = 0
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=cfg.max_steps, initial=state["step"], desc="distill", dynamic_ncols=True)

    def save_and_eval() -> None:
        nonlocal running, n_running
        state["elapsed"] = time.monotonic() - start
        cos = _dev_cosine(student, dev, teacher_dev)
        row = {"step": state["step"], "stage": state["stage"], "elapsed_min": round(state["elapsed"] / 60, 3)}
        row["tokens"] = state["tokens"]
        row.update({k: v / max(n_running, 1) for k, v in running.items()})
        row["dev_cosine"] = cos
        log.append(row)
        running, n_running = {}, 0
        payload = {
            "format": ckpt.STATE_FORMAT,
            "progress": dict(state),
            "optimizer": optimizer.state_dict(),
            "rng": ckpt.rng_state(),
        }
        # The tokenizer and sentence-transformers files make every checkpoint a complete model folder.
        extras = lambda tmp: copy_extra_files(cfg.student, tmp)  # noqa: E731
        last = ckpt.save_checkpoint(out / ckpt.CKPT_DIR / "last", student, payload, extra=extras)
        if cos > state["best"]:
            state["best"] = cos
            ckpt.copy_checkpoint(last, out / ckpt.CKPT_DIR / "best")
        plot_curves(log.rows, out / "curves.png", title="lion distill")
        if bar is not None:
            bar.set_postfix(dev_cos=f"{cos:.4f}", stage=state["stage"])

    try:
        while state["step"] < cfg.max_steps and not stop["signal"]:
            minutes = (time.monotonic() - start) / 60
            if cfg.max_minutes is not None and minutes >= cfg.max_minutes:
                break
            if cfg.stop_after is not None and state["step"] >= cfg.stop_after:
                break
            late = state["step"] >= cfg.stage2_start * cfg.max_steps or (
                cfg.max_minutes is not None and minutes >= cfg.stage2_start * cfg.max_minutes
            )
            if cfg.stage2 == "all" and state["stage"] == 1 and late:
                state["stage"], state["stage2_step"] = 2, state["step"]
                optimizer = _optimizer(student, cfg, 2)
                logger.info("stage 2 from step %d: every weight trains", state["step"])
            if state["pos"] + cfg.batch_size > len(order):
                state["epoch"], state["pos"] = state["epoch"] + 1, 0
                gen = torch.Generator().manual_seed(cfg.seed * 1000 + state["epoch"])
                order = torch.randperm(len(train_seqs), generator=gen)
            idx = order[state["pos"] : state["pos"] + cfg.batch_size].tolist()
            ids, mask = make_batch([train_seqs[i] for i in idx])
            stage_step = state["step"] - state.get("stage2_step", 0) if state["stage"] == 2 else state["step"]
            for g in optimizer.param_groups:
                g["lr"] = g["base_lr"] * min(1.0, (stage_step + 1) / max(cfg.warmup, 1))
            loss, parts = distill_loss(student, teacher, ids, mask, cfg.e2e_weight)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            state["step"] += 1
            state["pos"] += cfg.batch_size
            state["tokens"] += int(mask.sum())
            for k, v in {"train_loss": float(loss.detach()), **parts}.items():
                running[k] = running.get(k, 0.0) + v
            n_running += 1
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{float(loss.detach()):.4f}", stage=state["stage"])
            if state["step"] % cfg.eval_every == 0:
                save_and_eval()
    except KeyboardInterrupt:
        stop["signal"] = signal.SIGINT
    finally:
        signal.signal(signal.SIGTERM, previous)
    if n_running or not log.rows or log.rows[-1]["step"] != state["step"]:
        save_and_eval()
    if bar is not None:
        bar.close()
    summary = {
        "steps": state["step"],
        "stage": state["stage"],
        "minutes": round(state["elapsed"] / 60, 2),
        "tokens_seen": state["tokens"],
        "best_dev_cosine": state["best"],
        "last_dev_cosine": log.rows[-1]["dev_cosine"],
        "stopped_by_signal": stop["signal"],
        "best_checkpoint": str(out / ckpt.CKPT_DIR / "best"),
    }
    ckpt.atomic_write_text(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    if stop["signal"]:
        raise KeyboardInterrupt(f"stopped by signal {stop['signal']}; continue with resume")
    return summary
