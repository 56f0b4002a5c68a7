"""The generic trainer on a toy task: resume equivalence, signals, DDP, checkpoint atomicity, run-dir safety."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from lion_attn.train import checkpoint as ckpt
from lion_attn.train.config import TrainConfig
from lion_attn.train.loop import RunError, Trainer, cosine_lr_factor
from lion_attn.train.sampler import ShardedBatchSampler

sys.path.insert(0, str(Path(__file__).parent))
from toy import ToyTask

TOY = Path(__file__).parent / "toy.py"


def cfg(out: Path, **kw) -> TrainConfig:
    base = {
        "task": "toy",
        "model": "toy",
        "epochs": 3,
        "batch_size": 32,
        "lr": 1e-2,
        "eval_every": "5",
        "out": str(out),
        "progress": False,
    }
    return TrainConfig(**{**base, **kw})


def weights(out: Path) -> dict[str, torch.Tensor]:
    return load_file(str(out / "checkpoints" / "last" / "model.safetensors"))


def rows(out: Path) -> list[dict]:
    return [
        {k: v for k, v in json.loads(line).items() if k != "elapsed_min"}
        for line in (out / "metrics.jsonl").read_text().splitlines()
    ]


def assert_same_weights(a: Path, b: Path) -> None:
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k


def test_config_json_round_trip(tmp_path):
    c = cfg(tmp_path, task_args={"data": "x", "model_args": {"depth": 2}})
    assert TrainConfig.from_json(c.to_json()) == c
    c.to_json(tmp_path / "c.json")
    assert TrainConfig.from_json(tmp_path / "c.json") == c
    with pytest.raises(ValueError, match="--batch-size"):
        TrainConfig(batch_size=0)
    with pytest.raises(ValueError, match="--eval-every"):
        TrainConfig(eval_every="sometimes")


def test_schedule_warmup_then_cosine_to_min():
    f = [cosine_lr_factor(s, 100, 10, 0.01) for s in range(100)]
    assert f[0] == pytest.approx(0.1) and f[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in itertools.pairwise(f[10:]))
    assert cosine_lr_factor(100, 100, 10, 0.01) == pytest.approx(0.01)


def test_sampler_shards_global_batches_and_skips_on_resume():
    full = list(ShardedBatchSampler(100, 8, seed=3))
    halves = [list(ShardedBatchSampler(100, 8, seed=3, rank=r, world_size=2)) for r in range(2)]
    assert [a + b for a, b in zip(*halves, strict=True)] == full
    resumed = ShardedBatchSampler(100, 8, seed=3)
    resumed.set_epoch(0, start_batch=5)
    assert list(resumed) == full[5:]
    other = ShardedBatchSampler(100, 8, seed=3)
    other.set_epoch(1)
    assert list(other) != full


def test_run_writes_every_artifact(tmp_path):
    result = Trainer(cfg(tmp_path / "run"), ToyTask()).fit()
    out = tmp_path / "run"
    for name in ("config.json", "metrics.jsonl", "metrics.csv", "summary.json", "curves.png"):
        assert (out / name).is_file(), name
    for name in ("last", "best"):
        assert (out / "checkpoints" / name / "trainer_state.pt").is_file()
        assert (out / "checkpoints" / name / "model.safetensors").is_file()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["metric"] == "accuracy" and summary["steps"] == 24 == result.summary["steps"]
    assert summary["best"] >= summary["final"] > 0.4
    log = rows(out)
    assert [r["step"] for r in log] == [5, 10, 15, 20, 24]
    assert {"step", "epoch", "accuracy", "loss", "lr"} <= set(log[0])
    assert TrainConfig.from_json(out / "config.json").batch_size == 32


def test_resume_after_stop_is_bit_identical(tmp_path):
    Trainer(cfg(tmp_path / "a"), ToyTask()).fit()
    first = Trainer(cfg(tmp_path / "b", stop_after=11), ToyTask()).fit()
    assert first.status == "stopped" and first.summary["steps"] == 11
    run = ckpt.load_trainer_state(tmp_path / "b" / "checkpoints" / "last")["run"]
    assert (run["step"], run["epoch"], run["batch_in_epoch"]) == (11, 1, 3)
    second = Trainer(cfg(tmp_path / "b", resume=str(tmp_path / "b")), ToyTask()).fit()
    assert second.status == "completed" and second.summary["steps"] == 24
    assert_same_weights(tmp_path / "a", tmp_path / "b")
    assert rows(tmp_path / "a") == rows(tmp_path / "b")


def test_sigterm_saves_and_resume_is_bit_identical(tmp_path):
    spec = {"config": cfg(tmp_path / "sig").to_dict(), "task": {"sleep": 0.05}}
    proc = subprocess.Popen([sys.executable, str(TOY), json.dumps(spec)], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    # Wait for the first evaluation (step 5) so the signal lands mid-run, well before step 24.
    log = tmp_path / "sig" / "metrics.jsonl"
    while not (log.is_file() and log.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err
    state = ckpt.load_trainer_state(tmp_path / "sig" / "checkpoints" / "last")
    assert 5 <= state["run"]["step"] < 24
    assert json.loads((tmp_path / "sig" / "summary.json").read_text())["status"] == "signal"
    Trainer(cfg(tmp_path / "sig", resume=str(tmp_path / "sig")), ToyTask()).fit()
    Trainer(cfg(tmp_path / "ref"), ToyTask()).fit()
    assert_same_weights(tmp_path / "ref", tmp_path / "sig")


def test_two_process_ddp_matches_one_process(tmp_path):
    spec = {"config": cfg(tmp_path / "ddp", eval_every="1", epochs=1).to_dict(), "task": {"dropout": 0.0}}
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env["OMP_NUM_THREADS"] = "1"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            str(TOY),
            json.dumps(spec),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    Trainer(cfg(tmp_path / "one", eval_every="1", epochs=1), ToyTask(dropout=0.0)).fit()
    one, two = rows(tmp_path / "one"), rows(tmp_path / "ddp")
    assert len(one) == len(two) == 8
    for a, b in zip(one, two, strict=True):
        assert a["step"] == b["step"]
        for key in ("train_loss", "loss", "accuracy"):
            assert a[key] == pytest.approx(b[key], rel=1e-5, abs=1e-6), (a, b)
    wa, wb = weights(tmp_path / "one"), weights(tmp_path / "ddp")
    for k in wa:
        torch.testing.assert_close(wa[k], wb[k], rtol=1e-5, atol=1e-6)


def test_refuses_to_overwrite_another_run(tmp_path):
    out = tmp_path / "run"
    Trainer(cfg(out, epochs=1), ToyTask()).fit()
    before = (out / "metrics.jsonl").read_text()
    with pytest.raises(RunError, match="already holds a run"):
        Trainer(cfg(out, epochs=1), ToyTask()).fit()
    assert (out / "metrics.jsonl").read_text() == before
    Trainer(cfg(out, epochs=1, overwrite=True, seed=1), ToyTask()).fit()
    assert (out / "metrics.jsonl").read_text() != before


def test_refuses_incompatible_resume(tmp_path):
    out = tmp_path / "run"
    Trainer(cfg(out, stop_after=3), ToyTask()).fit()
    before = weights(out)
    with pytest.raises(RunError, match="lr"):
        Trainer(cfg(out, lr=0.5, resume=str(out)), ToyTask()).fit()
    with pytest.raises(RunError, match="does not match"):
        Trainer(cfg(out, resume=str(out)), ToyTask(hidden=7)).fit()
    after = weights(out)
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_interrupted_save_keeps_previous_checkpoint(tmp_path, monkeypatch):
    out = tmp_path / "run"
    Trainer(cfg(out, stop_after=3), ToyTask()).fit()
    last = out / "checkpoints" / "last"
    before = weights(out)

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(ckpt.torch, "save", boom)
    model = ToyTask().build_model()
    with pytest.raises(OSError, match="disk full"):
        ckpt.save_checkpoint(last, model, {"run": {"step": 99}})
    monkeypatch.undo()
    assert ckpt.load_trainer_state(last)["run"]["step"] == 3
    assert all(torch.equal(before[k], weights(out)[k]) for k in before)
    assert not list((out / "checkpoints").glob(".tmp-*"))
    # A crash between the two renames of the swap leaves only the .old- copy; it is found and used.
    shutil.move(str(last), str(out / "checkpoints" / ".old-last-1"))
    assert ckpt.resolve_checkpoint(out) == out / "checkpoints" / ".old-last-1"


def test_time_budget_stops_evaluates_and_saves(tmp_path):
    result = Trainer(cfg(tmp_path / "run", max_minutes=0.001), ToyTask(sleep=0.1)).fit()
    assert result.status == "time_budget" and 0 < result.summary["steps"] < 24
    assert rows(tmp_path / "run")[-1]["step"] == result.summary["steps"]
    assert ckpt.load_trainer_state(tmp_path / "run" / "checkpoints" / "last")["run"]["step"] == result.summary["steps"]
