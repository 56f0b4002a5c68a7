"""Trainer options on the toy task: time-planned schedules, EMA of weights, the test set, forms, devices."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from lion_attn.train import checkpoint as ckpt
from lion_attn.train import distributed
from lion_attn.train.budget import BudgetPlanner
from lion_attn.train.config import TrainConfig
from lion_attn.train.ema import WeightEMA
from lion_attn.train.loop import Trainer
from lion_attn.train.placement import resolve_device
from lion_attn.train.state import RunState

sys.path.insert(0, str(Path(__file__).parent))
from toy import ToyNet, ToyTask, toy_data


def cfg(out: Path, **kw) -> TrainConfig:
    base = {"task": "toy", "model": "toy", "epochs": 2, "batch_size": 32, "lr": 1e-2, "eval_every": "4"}
    return TrainConfig(**{**base, "out": str(out), "progress": False, **kw})


def tensors(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(str(folder / "model.safetensors"))


# Time budget -------------------------------------------------------------------------------------------


def test_planner_fills_the_budget_and_freezes_warmup_after_it():
    planner = BudgetPlanner(budget_min=1.0, warmup=0.1)
    run = RunState()
    planner.start(run)
    assert run.budget_planned and run.total_steps > 0
    run.step = 1
    planner.observe(run, minutes=0.05)  # start-up step: only sets the reference
    run.step = 11
    planner.observe(run, minutes=0.05 + 10 * 0.5 / 60)  # 0.5 s per step
    assert run.seconds_per_step == pytest.approx(0.5)
    left = (1.0 - 0.05 - 10 * 0.5 / 60) * 60 / 0.5
    assert abs(run.total_steps - (11 + left)) <= 1
    assert run.warmup_steps == round(0.1 * run.total_steps)
    warmup = run.warmup_steps
    # The machine slows down after warm-up: the decay shrinks, warm-up stays.
    run.step = warmup + 5
    planner.observe(run, minutes=0.9, reserve_min=0.05)
    assert run.warmup_steps == warmup
    assert abs(run.total_steps - (run.step + (1.0 - 0.9 - 0.05) * 60 / run.seconds_per_step)) <= 1
    # Time is up: the schedule ends now.
    planner.observe(run, minutes=1.01)
    assert run.total_steps == run.step


@pytest.mark.parametrize("budget", [0.1])
def test_budget_run_ends_on_time_with_lr_at_floor(tmp_path, budget):
    c = cfg(tmp_path / "run", epochs=0, max_minutes=budget, eval_every="epoch", min_lr=1e-4)
    result = Trainer(c, ToyTask(sleep=0.02)).fit()
    s = result.summary
    assert result.status == "completed" and s["budget_minutes"] == budget
    assert abs(s["minutes"] - budget) <= 0.1 * budget, s
    assert s["steps"] == s["total_steps"] >= 2
    assert s["final_lr"] == pytest.approx(1e-4)
    saved = ckpt.load_trainer_state(tmp_path / "run" / "checkpoints" / "last")["run"]
    assert saved["budget_planned"] and saved["total_steps"] == s["steps"] and saved["seconds_per_step"] > 0


class SlowFirstEvalTask(ToyTask):
    """The toy task whose first evaluation outlasts the whole time budget."""

    def __init__(self, eval_seconds: float, **kw) -> None:
        super().__init__(**kw)
        self.eval_seconds, self.evals = eval_seconds, 0

    def eval_sums(self, model, batch):
        self.evals += 1
        if self.evals == 1:
            time.sleep(self.eval_seconds)
        return super().eval_sums(model, batch)


def test_budget_spent_by_an_evaluation_ends_the_schedule_in_the_checkpoint_too(tmp_path):
    # 8 steps per epoch; the evaluation at the first epoch's end spends the 6-second budget (leaving start-up and
    # the 8 steps seconds of slack on a loaded machine), so the plan shrinks to step 8 after that checkpoint was
    # written: the checkpoint must be rewritten with the final plan.
    out = tmp_path / "run"
    c = cfg(out, epochs=0, max_minutes=0.1, eval_every="epoch")
    result = Trainer(c, SlowFirstEvalTask(eval_seconds=6.5, sleep=0.01)).fit()
    s = result.summary
    assert result.status == "completed" and s["steps"] == s["total_steps"] == 8, s
    saved = ckpt.load_trainer_state(out / "checkpoints" / "last")["run"]
    assert saved["step"] == saved["total_steps"] == 8
    resumed = Trainer(cfg(out, epochs=0, max_minutes=0.1, eval_every="epoch", resume=str(out)), ToyTask()).fit()
    assert resumed.summary["steps"] == 8


def test_budget_run_resumes_its_plan_and_counts_every_invocation(tmp_path):
    out = tmp_path / "run"
    c = cfg(out, epochs=0, max_minutes=0.1, eval_every="epoch", stop_after=4)
    first = Trainer(c, ToyTask(sleep=0.02)).fit()
    assert first.status == "stopped" and first.summary["steps"] == 4
    saved = ckpt.load_trainer_state(out / "checkpoints" / "last")["run"]
    assert saved["total_steps"] > 4 and saved["elapsed_min"] > 0 and saved["seconds_per_step"] > 0
    second = Trainer(cfg(out, epochs=0, max_minutes=0.1, eval_every="epoch", resume=str(out)), ToyTask(sleep=0.02))
    s = second.fit().summary
    assert s["status"] == "completed" and s["steps"] == s["total_steps"] > 4
    assert abs(s["minutes"] - 0.1) <= 0.01, s


def test_budget_is_a_cap_when_steps_are_given(tmp_path):
    result = Trainer(cfg(tmp_path / "run", max_minutes=0.001), ToyTask(sleep=0.1)).fit()
    assert result.status == "time_budget" and result.summary["total_steps"] == 16 > result.summary["steps"]
    with pytest.raises(ValueError, match="--epochs, --max-steps or --max-minutes"):
        cfg(tmp_path / "x", epochs=0)


# EMA -----------------------------------------------------------------------------------------------------


def test_weight_ema_follows_its_formula():
    model = torch.nn.Linear(2, 1)
    ema = WeightEMA(model, decay=0.75)
    history = []
    for value in (1.0, 3.0, -2.0):
        with torch.no_grad():
            model.weight.fill_(value)
        ema.update(model)
        history.append(value)
    expected = history[0]
    for value in history[1:]:
        expected = 0.75 * expected + 0.25 * value
    assert torch.allclose(ema.module.weight, torch.full_like(model.weight, expected))
    assert ema.updates == 3
    with pytest.raises(ValueError, match="--ema-decay"):
        WeightEMA(model, decay=1.0)


def test_ema_is_evaluated_saved_and_resumed_exactly(tmp_path):
    full = Trainer(cfg(tmp_path / "a", ema_decay=0.9), ToyTask()).fit()
    rows = [json.loads(x) for x in (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()]
    assert all("ema_accuracy" in r and "ema_loss" in r for r in rows)
    assert full.summary["ema_final"] == rows[-1]["ema_accuracy"]
    for name in ("last", "best"):
        folder = tmp_path / "a" / "checkpoints" / name / "ema"
        assert (folder / "model.safetensors").is_file() and (folder / "config.json").is_file()
    raw, ema = (
        tensors(tmp_path / "a" / "checkpoints" / "last"),
        tensors(tmp_path / "a" / "checkpoints" / "last" / "ema"),
    )
    assert any(not torch.equal(raw[k], ema[k]) for k in raw)
    Trainer(cfg(tmp_path / "b", ema_decay=0.9, stop_after=5), ToyTask()).fit()
    assert ckpt.load_trainer_state(tmp_path / "b" / "checkpoints" / "last")["ema_updates"] == 5
    Trainer(cfg(tmp_path / "b", ema_decay=0.9, resume=str(tmp_path / "b")), ToyTask()).fit()
    resumed = tensors(tmp_path / "b" / "checkpoints" / "last" / "ema")
    assert all(torch.equal(ema[k], resumed[k]) for k in ema)


# Test set ------------------------------------------------------------------------------------------------


class ToyWithTest(ToyTask):
    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.test_dataset = toy_data(48, 3)


def test_test_set_is_evaluated_once_with_the_best_checkpoint(tmp_path):
    out = tmp_path / "run"
    trainer = Trainer(cfg(out, ema_decay=0.5), ToyWithTest())
    summary = trainer.fit().summary
    report = json.loads((out / "test.json").read_text())
    assert report["checkpoint"] == "best" and report["step"] == summary["best_step"] and report["samples"] == 48
    best = ToyNet.from_pretrained(str(out / "checkpoints" / "best"))
    expected = trainer.evaluate(best, trainer.task.test_dataset)
    assert report["metrics"] == expected and summary["test"] == expected["accuracy"]
    assert summary["test_ema"] == report["ema_metrics"]["accuracy"]
    rows = (out / "metrics.jsonl").read_text()
    assert "test" not in rows
    # Continuing the finished run reads the report back instead of evaluating again.
    calls = []
    task = ToyWithTest()
    original = task.eval_sums
    task.eval_sums = lambda *a: calls.append(1) or original(*a)
    again = Trainer(cfg(out, ema_decay=0.5, resume=str(out)), task).fit().summary
    assert calls == [] and again["test"] == summary["test"]

    limited = Trainer(cfg(tmp_path / "limited", test_limit=10), ToyWithTest()).fit()
    report = json.loads((tmp_path / "limited" / "test.json").read_text())
    assert report["samples"] == 10 and limited.summary["test"] == report["metrics"]["accuracy"]


# Forms and devices ---------------------------------------------------------------------------------------


class ModalNet(ToyNet):
    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.mode = "parallel"

    def set_attn_mode(self, mode: str) -> None:
        self.mode = mode


class ModalTask(ToyTask):
    def build_model(self):
        return ModalNet(hidden=self.hidden, dropout=self.dropout)

    def train_loss(self, model, batch):
        assert model.mode == "chunk"
        return super().train_loss(model, batch)


def test_attn_mode_is_used_for_training_and_saved(tmp_path):
    Trainer(cfg(tmp_path / "run", attn_mode="chunk", epochs=1), ModalTask()).fit()
    assert TrainConfig.from_json(tmp_path / "run" / "config.json").attn_mode == "chunk"
    with pytest.raises(ValueError, match="--attn-mode"):
        cfg(tmp_path / "x", attn_mode="sideways")
    with pytest.raises(ValueError, match="no set_attn_mode"):
        Trainer(cfg(tmp_path / "y", attn_mode="recurrent"), ToyTask()).fit()


def test_device_choice(monkeypatch):
    assert resolve_device("cpu").type == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto").type == "cpu"
    with pytest.raises(ValueError, match="no CUDA device"):
        resolve_device("cuda")
    with pytest.raises(ValueError, match="--device"):
        resolve_device("tpu")
    with pytest.raises(ValueError, match="--device"):
        TrainConfig(device="gpu")


@pytest.mark.parametrize(
    "cuda, device, backend", [(True, "auto", "nccl"), (True, "cpu", "gloo"), (False, "auto", "gloo")]
)
def test_ddp_backend_follows_the_device(monkeypatch, cuda, device, backend):
    seen = {}
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "set_device", lambda d: seen.setdefault("gpu", d))
    monkeypatch.setattr(distributed.dist, "is_initialized", lambda: False)
    monkeypatch.setattr(distributed.dist, "init_process_group", lambda backend: seen.setdefault("backend", backend))
    info = distributed.init_distributed(device)
    assert seen["backend"] == backend and info.rank == 1 and info.world_size == 2
    assert info.device == (torch.device("cuda", 1) if backend == "nccl" else torch.device("cpu"))


def test_cuda_batches_are_pinned_and_copied_asynchronously(monkeypatch):
    from torch.utils.data import TensorDataset

    from lion_attn.train.placement import make_loader, to_device
    from lion_attn.train.sampler import ShardedEvalSampler

    data = TensorDataset(torch.arange(6.0))
    collate = lambda items: {"x": torch.stack([i[0] for i in items])}  # noqa: E731
    assert make_loader(data, ShardedEvalSampler(6, 2), collate, torch.device("cuda")).pin_memory
    assert not make_loader(data, ShardedEvalSampler(6, 2), collate, torch.device("cpu")).pin_memory
    calls = []

    class Spy(torch.Tensor):
        def to(self, *args, **kwargs):
            calls.append(kwargs)
            return self

    batch = {"x": torch.zeros(2).as_subclass(Spy), "n": 3}
    assert to_device(batch, torch.device("cuda"))["n"] == 3
    assert calls == [{"non_blocking": True}]


def test_eval_table_shows_device_memory_when_measured():
    from lion_attn.train.evaluate import format_table

    row = {"metrics": {"accuracy": 0.5}, "seconds": 1.0, "samples": 10, "peak_rss_mb": 100.0}
    row |= {"peak_rss_delta_mb": 5.0, "agreement_with_parallel": 1.0}
    report = {"metric": "accuracy", "reference_mode": "parallel", "model": "m", "task": "image", "checkpoint": "c"}
    cpu = format_table({**report, "modes": {"parallel": {**row, "device_peak_mb": None}}})
    gpu = format_table({**report, "modes": {"parallel": {**row, "device_peak_mb": 1234.5}}})
    assert "device MB" not in cpu and "device MB" in gpu and "1234.5" in gpu


def test_two_process_budget_run_plans_alike_and_ends(tmp_path):
    """Every rank must agree on the plan and the stop, or the processes deadlock in a collective."""
    import os
    import subprocess

    config = cfg(tmp_path / "ddp", epochs=0, max_minutes=0.15, eval_every="epoch", ema_decay=0.9).to_dict()
    spec = {"config": config, "task": {"sleep": 0.02}}
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env["OMP_NUM_THREADS"] = "1"
    toy = Path(__file__).parent / "toy.py"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(toy)]
    proc = subprocess.run([*cmd, json.dumps(spec)], capture_output=True, text=True, timeout=180, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    s = json.loads((tmp_path / "ddp" / "summary.json").read_text())
    assert s["status"] == "completed" and s["steps"] == s["total_steps"] >= 1
    assert s["final_lr"] == pytest.approx(config["min_lr"])
