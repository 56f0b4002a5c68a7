"""The common ``lion train`` options end to end: time-planned budgets, bf16, forms, EMA, devices."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from lion_attn.train.cli import main, resolve_train_config

LIT_VIT = ["--model", "lion_lit_vit_nano_patch4_28", "--model-arg", "depth=1", "--model-arg", "embed_dim=32"]
S_VIT = ["--model", "lion_s_vit_nano_patch4_28", "--model-arg", "depth=1", "--model-arg", "embed_dim=32"]
IMAGES = ["--batch-size", "16", "--no-progress"]
TINY_BERT = [
    *("--model-arg", "num_hidden_layers=1", "--model-arg", "hidden_size=32"),
    *("--model-arg", "num_attention_heads=2", "--model-arg", "intermediate_size=64"),
]


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> list[str]:
    """A small two-class folder of 28 x 28 grey images (no test split, so runs stay short)."""
    from PIL import Image

    root = tmp_path_factory.mktemp("images")
    gen = torch.Generator().manual_seed(0)
    for split, count in (("train", 48), ("val", 16)):
        for label, level in (("dark", 60), ("light", 190)):
            (root / split / label).mkdir(parents=True)
            for i in range(count):
                noise = torch.randint(-40, 40, (28, 28), generator=gen)
                pixels = (noise + level).clamp(0, 255).to(torch.uint8).numpy()
                Image.fromarray(pixels, mode="L").save(root / split / label / f"{i}.png")
    return ["--data", str(root), "--image-size", "28", "--channels", "1"]


def summary(out: Path) -> dict:
    return json.loads((out / "summary.json").read_text())


def weights(out: Path) -> dict[str, torch.Tensor]:
    return load_file(str(out / "checkpoints" / "last" / "model.safetensors"))


def text_cls_files(tmp_path: Path) -> tuple[Path, Path]:
    words = [
        "the",
        "quick",
        "brown",
        "fox",
        "jumps",
        "over",
        "a",
        "lazy",
        "dog",
        "while",
        "emma",
        "reads",
        "letters",
        "from",
        "mr",
        "knightley",
    ]
    rows = [{"text": " ".join(words[i % 7 :] + words[: i % 5]), "label": ["a", "b"][i % 2]} for i in range(64)]
    train, val = tmp_path / "train.jsonl", tmp_path / "val.jsonl"
    train.write_text("".join(json.dumps(r) + "\n" for r in rows))
    val.write_text("".join(json.dumps(r) + "\n" for r in rows[:16]))
    return train, val


def assert_budget_met(out: Path, budget: float) -> None:
    s = summary(out)
    assert s["status"] == "completed" and s["budget_minutes"] == budget, s
    assert abs(s["minutes"] - budget) <= 0.1 * budget, s
    assert s["steps"] == s["total_steps"] > 1, s
    config = json.loads((out / "config.json").read_text())
    assert s["final_lr"] == pytest.approx(config["min_lr"]), s
    assert config["epochs"] == 0 and config["max_steps"] == 0


@pytest.mark.parametrize("budget", [0.25])
def test_image_budget_plans_the_schedule(folder, tmp_path, budget):
    out = tmp_path / "run"
    assert main(["train", "image", *LIT_VIT, *IMAGES, *folder, "--max-minutes", str(budget), "--out", str(out)]) == 0
    assert_budget_met(out, budget)
    # A resumed budget run keeps its budget (the schedule's length), unlike a cap.
    resumed = resolve_train_config("image", {"resume": str(out)})
    assert resumed.budget_scheduled and resumed.max_minutes == budget


def test_text_cls_budget_plans_the_schedule(tmp_path):
    train, val = text_cls_files(tmp_path)
    out = tmp_path / "run"
    args = ["train", "text-cls", "--train", str(train), "--val", str(val), "--tokenizer", "bytes", *TINY_BERT]
    args += ["--seq-len", "48", "--batch-size", "8", "--no-progress", "--max-minutes", "0.25"]
    assert main([*args, "--out", str(out)]) == 0
    assert_budget_met(out, 0.25)


def test_image_bf16_trains_and_resumes_exactly(folder, tmp_path):
    # LION-S in its default (parallel) form: the selective decay's backward under autocast.
    base = ["train", "image", *S_VIT, *IMAGES, *folder, "--bf16", "--epochs", "2", "--eval-every", "3"]
    assert main([*base, "--out", str(tmp_path / "full")]) == 0
    assert summary(tmp_path / "full")["steps"] == 12
    assert main([*base, "--out", str(tmp_path / "split"), "--stop-after", "5"]) == 0
    assert summary(tmp_path / "split")["status"] == "stopped"
    assert main(["train", "image", "--resume", str(tmp_path / "split")]) == 0
    full, split = weights(tmp_path / "full"), weights(tmp_path / "split")
    assert full.keys() == split.keys()
    assert all(torch.equal(full[k], split[k]) for k in full)
    assert json.loads((tmp_path / "split" / "config.json").read_text())["bf16"] is True


@pytest.mark.parametrize("model", ["lion_lit_bert_tiny", "lion_s_bert_tiny", "lion_d_bert_tiny"])
def test_mlm_bf16_end_to_end(tmp_path, model):
    text = tmp_path / "book.txt"
    words = [
        "it",
        "is",
        "a",
        "truth",
        "universally",
        "acknowledged",
        "that",
        "a",
        "single",
        "man",
        "in",
        "possession",
        "of",
        "a",
        "good",
        "fortune",
    ]
    text.write_text("\n\n".join(" ".join(words[i % 5 :] + words[: i % 5]) for i in range(120)))
    out = tmp_path / "mlm"
    args = ["train", "mlm", "--text", str(text), "--vocab-size", "120", "--seq-len", "32", *TINY_BERT]
    args += ["--model", model, "--bf16", "--batch-size", "16", "--epochs", "1", "--no-progress"]
    assert main([*args, "--out", str(out)]) == 0
    s = summary(out)
    assert s["metric"] == "mlm_accuracy" and s["steps"] > 0 and s["final"] is not None


def test_attn_mode_ema_and_eval_device(folder, tmp_path):
    out = tmp_path / "run"
    args = ["train", "image", *LIT_VIT, *IMAGES, *folder, "--epochs", "1", "--attn-mode", "chunk", "--ema-decay", "0.9"]
    assert main([*args, "--out", str(out)]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["attn_mode"] == "chunk" and config["ema_decay"] == 0.9
    assert summary(out)["attn_mode"] == "chunk" and summary(out)["ema_final"] is not None
    report = tmp_path / "eval.json"
    ema = out / "checkpoints" / "best" / "ema"
    argv = ["eval", "--checkpoint", str(ema), "--mode", "all", "--in-process", "--device", "cpu", "--json", str(report)]
    assert main(argv) == 0
    result = json.loads(report.read_text())
    assert result["checkpoint"] == str(ema)
    assert all(r["device"] == "cpu" and r["device_peak_mb"] is None for r in result["modes"].values())
    assert all(r["agreement_with_parallel"] == 1.0 for r in result["modes"].values())


def test_cuda_asked_for_without_one_is_a_clear_error(folder, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["train", "image", *LIT_VIT, *IMAGES, *folder, "--device", "cuda", "--out", str(tmp_path / "x")]) == 2
    assert main(["eval", "--checkpoint", str(tmp_path), "--device", "cuda"]) == 2
    err = capsys.readouterr().err
    assert "no CUDA device" in err and "Traceback" not in err


def test_path_options_become_absolute_but_image_cache_mode_is_kept(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    lra = resolve_train_config("lra", {"task": "pathfinder", "cache": "pf-cache", "train": "t.jsonl"})
    assert lra.task_args["cache"] == str(tmp_path / "pf-cache")
    assert lra.task_args["train"] == str(tmp_path / "t.jsonl")
    image = resolve_train_config("image", {"cache": "off", "cache_dir": "img-cache"})
    assert image.task_args["cache"] == "off"
    assert image.task_args["cache_dir"] == str(tmp_path / "img-cache")
