"""Every LRA task trains a few steps through ``lion train lra`` and evaluates in all three forms."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from lion_attn.train.cli import main

TINY = ["--model-arg", "depth=1", "--model-arg", "embed_dim=16", "--model-arg", "num_heads=2"]
STEPS = ["--batch-size", "4", "--max-steps", "2", "--no-progress"]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def text_files(tmp_path: Path) -> list[str]:
    rows = [{"text": f"document {i} " * (i % 5 + 1), "label": ["neg", "pos"][i % 2]} for i in range(12)]
    train = write_jsonl(tmp_path / "text_train.jsonl", rows[:8])
    val = write_jsonl(tmp_path / "text_val.jsonl", rows[8:])
    return ["--train", str(train), "--val", str(val), "--max-bytes", "48"]


def pair_files(tmp_path: Path) -> list[str]:
    rows = [{"text1": f"paper {i}", "text2": f"paper {i // 2}", "label": i % 2} for i in range(12)]
    train = write_jsonl(tmp_path / "pairs_train.jsonl", rows[:8])
    val = write_jsonl(tmp_path / "pairs_val.jsonl", rows[8:])
    return ["--train", str(train), "--val", str(val), "--max-bytes", "40"]


def image_folder(tmp_path: Path) -> list[str]:
    root = tmp_path / "images"
    for split in ("train", "val"):
        for label in ("dark", "light"):
            folder = root / split / label
            folder.mkdir(parents=True)
            for i in range(3):
                value = 40 + 20 * i if label == "dark" else 200 - 10 * i
                Image.new("RGB", (20, 12), (value, value, value)).save(folder / f"{i}.png")
    return ["--data", str(root), "--image-size", "8"]


TASKS = {
    "listops": lambda tmp: ["--num-train", "8", "--num-eval", "4", "--min-length", "10", "--max-length", "30"],
    "text": text_files,
    "retrieval": pair_files,
    "image-fashion-mnist": lambda tmp: ["--train-limit", "8", "--val-limit", "4", "--pad-to", "1024"],
    "image-folder": image_folder,
    "pathfinder": lambda tmp: ["--num-train", "8", "--num-eval", "4", "--difficulty", "easy", "--cache", str(tmp)],
}


# LION-S on every task; LION-LIT and LION-D on one each (the forms are tested per variant elsewhere).
CASES = [(case, "lion_s") for case in TASKS] + [("pathfinder", "lion_lit"), ("listops", "lion_d")]


@pytest.mark.parametrize(("case", "model"), CASES)
def test_task_trains_and_evaluates_in_every_form(tmp_path, case, model):
    task = case.split("-")[0]
    out = tmp_path / "run"
    flags = TASKS[case](tmp_path)
    args = ["train", "lra", "--task", task, "--model", f"{model}_lra_{task}", *flags, *TINY, *STEPS]
    assert main([*args, "--attn-mode", "chunk", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 2
    report = tmp_path / "eval.json"
    assert main(["eval", "--checkpoint", str(out), "--mode", "all", "--in-process", "--json", str(report)]) == 0
    modes = json.loads(report.read_text())["modes"]
    assert set(modes) == {"parallel", "chunk", "recurrent"}
    accuracies = {m["metrics"]["accuracy"] for m in modes.values()}
    assert len(accuracies) == 1
    assert all(m["agreement_with_parallel"] == 1.0 for m in modes.values())


def test_softmax_baseline_trains(tmp_path):
    out = tmp_path / "run"
    args = ["train", "lra", "--task", "text", "--model", "softmax_lra_text", *text_files(tmp_path), *TINY, *STEPS]
    assert main([*args, "--out", str(out)]) == 0
    assert json.loads((out / "summary.json").read_text())["steps"] == 2


def test_retrieval_uses_the_two_tower_model(tmp_path):
    from lion_attn.models import LionLRADualClassifier, load_pretrained

    out = tmp_path / "run"
    args = ["train", "lra", "--task", "retrieval", *pair_files(tmp_path), *TINY, *STEPS, "--out", str(out)]
    assert main(args) == 0
    assert isinstance(load_pretrained(str(out / "checkpoints" / "last")), LionLRADualClassifier)


def test_listops_lra_preset_lengths(tmp_path):
    from lion_attn.train.config import TrainConfig
    from lion_attn.train.tasks.lra import LRATask

    cfg = TrainConfig(task="lra", task_args={"task": "listops", "preset": "lra", "num_train": 2, "num_eval": 2})
    task = LRATask(cfg)
    assert task.max_len == 2001
    assert all(501 <= len(ids) <= 2001 for ids, _ in task.train_dataset)
    assert cfg.model == "lion_s_lra_listops"


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--task", "text"], "needs --train FILE and --val FILE"),
        (["--task", "pathfinder", "--resolution", "48"], "--resolution must be one of"),
        (["--task", "image", "--data", "/nonexistent/folder"], "train/ and val/"),
    ],
)
def test_bad_input_is_a_usage_error(tmp_path, capsys, flags, message):
    assert main(["train", "lra", *flags, *TINY, *STEPS, "--out", str(tmp_path / "run")]) == 2
    assert message in capsys.readouterr().err


def test_bad_row_is_reported_with_file_and_line(tmp_path, capsys):
    flags = text_files(tmp_path)
    bad = tmp_path / "text_val.jsonl"
    bad.write_text(bad.read_text() + '{"text": "no label"}\n')
    assert main(["train", "lra", "--task", "text", *flags, *TINY, *STEPS, "--out", str(tmp_path / "run")]) == 2
    assert f"{bad}, line 5: missing field 'label'" in capsys.readouterr().err
