"""Checkpoint files: the weights-only loader reads them, crafted pickles are refused, RNG states round-trip."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from lion_attn.train import checkpoint as ckpt

sys.path.insert(0, str(Path(__file__).parent))
from toy import ToyNet


class _WritesMarker:
    """Unpickling this object with the full unpickler calls ``open(marker, "w")``: code run by loading."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def _draws() -> tuple:
    return torch.rand(3).tolist(), np.random.rand(3).tolist(), [random.random() for _ in range(3)], np.random.randn()


def test_rng_state_round_trips_through_the_weights_only_loader(tmp_path):
    torch.manual_seed(1)
    np.random.seed(2)
    random.seed(3)
    np.random.randn()  # leaves a cached gaussian in numpy's state
    state = ckpt.rng_state()
    torch.save(state, tmp_path / "rng.pt")
    expected = _draws()
    ckpt.set_rng_state(ckpt.safe_torch_load(tmp_path / "rng.pt"))
    assert _draws() == expected


def test_rng_state_covers_cuda_devices(monkeypatch):
    saved = [torch.tensor([1, 2, 3], dtype=torch.uint8), torch.tensor([4, 5], dtype=torch.uint8)]
    restored: dict[int, torch.Tensor] = {}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "get_rng_state_all", lambda: [s.clone() for s in saved])
    monkeypatch.setattr(torch.cuda, "set_rng_state", lambda s, device: restored.__setitem__(device, s))
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    state = ckpt.rng_state()
    assert [s.tolist() for s in state["cuda"]] == [s.tolist() for s in saved]
    assert state["cuda_current"] == 0
    ckpt.set_rng_state(state)
    assert sorted(restored) == [0, 1]
    assert all(torch.equal(restored[i], saved[i]) for i in range(2))
    # A data-parallel process on GPU 1 continues the saver's (GPU 0's) stream on its own GPU.
    restored.clear()
    ckpt.set_rng_state(state, torch.device("cuda", 1))
    assert torch.equal(restored[1], saved[0]) and torch.equal(restored[0], saved[0])
    # Without CUDA the CPU streams are restored and the CUDA states are left alone.
    restored.clear()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    ckpt.set_rng_state(state)
    assert restored == {}


def test_crafted_pickle_is_refused_and_nothing_runs(tmp_path):
    folder = tmp_path / "ckpt"
    ckpt.save_checkpoint(folder, ToyNet(), {"format": ckpt.STATE_FORMAT, "run": {"step": 1}})
    assert ckpt.load_trainer_state(folder)["run"]["step"] == 1
    marker = tmp_path / "pwned"
    torch.save({"format": ckpt.STATE_FORMAT, "run": _WritesMarker(marker)}, folder / ckpt.STATE_FILE)
    with pytest.raises(ckpt.CheckpointError, match=r"refused to load .*nothing in it was executed"):
        ckpt.load_trainer_state(folder)
    assert not marker.exists()


def test_cli_resume_from_crafted_checkpoint_exits_2(tmp_path, capsys):
    from lion_attn.train.cli import main

    folder = tmp_path / "run" / "checkpoints" / "last"
    ckpt.save_checkpoint(folder, ToyNet(), {"format": ckpt.STATE_FORMAT})
    marker = tmp_path / "pwned"
    torch.save({"format": ckpt.STATE_FORMAT, "task": "image", "x": _WritesMarker(marker)}, folder / ckpt.STATE_FILE)
    assert main(["train", "image", "--resume", str(tmp_path / "run")]) == 2
    assert "refused to load" in capsys.readouterr().err
    assert not marker.exists()


def test_old_or_foreign_state_format_is_refused(tmp_path):
    folder = tmp_path / "ckpt"
    ckpt.save_checkpoint(folder, ToyNet(), {"format": 1, "step": 3})
    with pytest.raises(ckpt.CheckpointError, match="format 1"):
        ckpt.load_trainer_state(folder)
