"""Attention transfer lowers the loss, and ``lion distill`` writes and resumes runs like ``lion train``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from lion_attn.convert.bert_checkpoint import load_hf_bert
from lion_attn.convert.convert import convert_bert
from lion_attn.convert.distill import DistillConfig, added_parameter_names, distill, distill_loss
from lion_attn.convert.text import load_wordpiece, make_batch, tokenize
from lion_attn.models import load_pretrained

from .conftest import sentences


@pytest.mark.parametrize("variant", ["lit", "s"])
def test_a_few_steps_lower_the_loss(tiny_bert: Path, variant: str) -> None:
    torch.manual_seed(0)
    teacher = load_hf_bert(tiny_bert)
    student = convert_bert(tiny_bert, variant)
    ids, mask = make_batch(tokenize(load_wordpiece(tiny_bert), sentences(8, 20)))
    names = set(added_parameter_names(student))
    params = [p for n, p in student.named_parameters() if n in names]
    for n, p in student.named_parameters():
        p.requires_grad_(n in names)
    opt = torch.optim.Adam(params, lr=1e-2)
    first, _ = distill_loss(student, teacher, ids, mask)
    for _ in range(15):
        loss, parts = distill_loss(student, teacher, ids, mask)
        opt.zero_grad()
        loss.backward()
        opt.step()
    last, parts = distill_loss(student, teacher, ids, mask)
    assert float(last.detach()) < 0.8 * float(first.detach())
    assert set(parts) == {"layer_loss", "e2e_loss"}


def _run(tiny_bert: Path, student: Path, text: Path, out: Path, **kw) -> dict:
    cfg = DistillConfig(
        teacher=str(tiny_bert),
        student=str(student),
        out=str(out),
        text=[str(text)],
        words_per_passage=12,
        batch_size=4,
        max_steps=6,
        eval_every=2,
        dev_size=4,
        warmup=2,
        stage2_start=0.5,
        **kw,
    )
    return distill(cfg, progress=False, overwrite=not kw.get("stop_after"))


def test_distill_run_writes_and_resumes_exactly(tiny_bert: Path, tmp_path: Path) -> None:
    student = tmp_path / "student"
    convert_bert(tiny_bert, "s", student)
    text = tmp_path / "text.txt"
    text.write_text(" ".join(sentences(1, 1200)[0].split()))
    summary = _run(tiny_bert, student, text, tmp_path / "full")
    full = tmp_path / "full"
    for name in ("config.json", "metrics.jsonl", "metrics.csv", "curves.png", "summary.json"):
        assert (full / name).is_file(), name
    rows = [json.loads(line) for line in (full / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [2, 4, 6] and [r["stage"] for r in rows] == [1, 2, 2]
    assert summary["steps"] == 6 and summary["tokens_seen"] > 0
    for which in ("last", "best"):
        folder = full / "checkpoints" / which
        assert (folder / "vocab.txt").is_file() and (folder / "modules.json").is_file()
        load_pretrained(folder)
    # Stop after 3 steps (mid-way between checkpoints: the stop saves), then resume to the end.
    part = tmp_path / "part"
    _run(tiny_bert, student, text, part, stop_after=3)
    assert json.loads((part / "summary.json").read_text())["steps"] == 3
    cfg = DistillConfig(**{**json.loads((part / "config.json").read_text()), "stop_after": None})
    distill(cfg, resume=True, progress=False)
    a = load_pretrained(full / "checkpoints" / "last").state_dict()
    b = load_pretrained(part / "checkpoints" / "last").state_dict()
    for name in a:
        assert torch.equal(a[name], b[name]), name


def test_distill_rejects_bad_pairs(tiny_bert: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="stage2"):
        DistillConfig(teacher="t", student="s", out="o", stage2="some")
    text = tmp_path / "t.txt"
    text.write_text(" ".join(sentences(1, 200)[0].split()))
    with pytest.raises(FileNotFoundError, match=r"no config\.json"):
        _run(tmp_path / "nothing", tmp_path / "nothing", text, tmp_path / "o1")
    # The student must be a converted model folder, not the HF teacher itself.
    with pytest.raises(ValueError, match="architectures"):
        _run(tiny_bert, tiny_bert, text, tmp_path / "o2")


def test_distill_cli_exit_code_names_the_signal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from lion_attn.train.cli import main

    # The package re-exports the function `distill`, which hides the submodule of that name as an attribute.
    distill_module = sys.modules["lion_attn.convert.distill"]

    def stopped(cfg, resume=False, overwrite=False, progress=True):
        Path(cfg.out).mkdir(parents=True, exist_ok=True)
        (Path(cfg.out) / "summary.json").write_text(json.dumps({"stopped_by_signal": 15}))
        raise KeyboardInterrupt("stopped by signal 15; continue with resume")

    monkeypatch.setattr(distill_module, "distill", stopped)
    args = ["distill", "--teacher", "t", "--student", "s", "--out", str(tmp_path / "o"), "--no-progress"]
    assert main(args) == 143
