"""End-to-end ``lion`` runs at tiny sizes, eval across forms, and the bad-input cases of the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lion_attn.train.cli import main

TINY_VIT = ["--model", "lion_snat_vit_nano_patch4_28", "--model-arg", "depth=1", "--model-arg", "embed_dim=32"]
# A seeded 32-sample test pass: the full Fashion-MNIST test set (10k images) would dominate these tiny runs.
COMMON = ["--batch-size", "16", "--epochs", "1", "--no-progress", "--test-limit", "32"]


def summary(out: Path) -> dict:
    return json.loads((out / "summary.json").read_text())


def make_image_folder(root: Path, bad: bool = False) -> Path:
    from PIL import Image

    for split in ("train", "val"):
        for c, colour in (("cat", 30), ("dog", 220)):
            d = root / split / c
            d.mkdir(parents=True)
            for i in range(8):
                Image.new("RGB", (20 + i, 24), (colour, colour, colour)).save(d / f"{i}.png")
    if bad:
        (root / "train" / "cat" / "broken.png").write_bytes(b"not a png")
    return root


@pytest.fixture(scope="module")
def image_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("img") / "run"
    args = ["train", "image", *TINY_VIT, *COMMON, "--train-limit", "64", "--val-limit", "32", "--out", str(out)]
    assert main(args) == 0
    return out


def test_image_fashion_mnist_end_to_end(image_run):
    s = summary(image_run)
    assert s["metric"] == "accuracy" and s["steps"] == 4 and 0 <= s["final"] <= 1
    for name in ("config.json", "metrics.jsonl", "metrics.csv", "curves.png"):
        assert (image_run / name).is_file()


def test_eval_all_forms_agree(image_run, tmp_path, capsys):
    report_path = tmp_path / "eval.json"
    assert main(["eval", "--checkpoint", str(image_run), "--mode", "all", "--json", str(report_path)]) == 0
    report = json.loads(report_path.read_text())
    assert set(report["modes"]) == {"parallel", "chunk", "recurrent"}
    accs = {m: r["metrics"]["accuracy"] for m, r in report["modes"].items()}
    for r in report["modes"].values():
        assert r["agreement_with_parallel"] == 1.0
        assert r["seconds"] > 0 and r["peak_rss_mb"] > 0
    assert len(set(accs.values())) == 1
    assert "recurrent" in capsys.readouterr().out


def test_image_folder_skip_and_fail(tmp_path):
    data = make_image_folder(tmp_path / "data", bad=True)
    out = tmp_path / "run"
    args = ["train", "image", *TINY_VIT, *COMMON, "--data", str(data), "--image-size", "28", "--channels", "1"]
    assert main([*args, "--out", str(out)]) == 0
    assert summary(out)["steps"] == 1
    assert main([*args, "--out", str(tmp_path / "run2"), "--on-bad-image", "fail"]) == 2
    assert not (tmp_path / "run2" / "summary.json").exists()


def test_lra_listops_and_image(tmp_path):
    tiny = ["--model-arg", "depth=1", "--model-arg", "embed_dim=32"]
    out = tmp_path / "listops"
    assert (
        main(
            [
                "train",
                "lra",
                "--task",
                "listops",
                "--num-train",
                "32",
                "--num-eval",
                "16",
                "--min-length",
                "20",
                "--max-length",
                "40",
                *tiny,
                *COMMON,
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert summary(out)["steps"] == 2
    out = tmp_path / "pix"
    assert (
        main(
            [
                "train",
                "lra",
                "--task",
                "image",
                "--train-limit",
                "32",
                "--val-limit",
                "16",
                *tiny,
                *COMMON,
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert summary(out)["steps"] == 2


def test_mlm_then_text_cls_from_it(tmp_path):
    text = tmp_path / "book.txt"
    words = [
        "the",
        "quick",
        "brown",
        "fox",
        "jumps",
        "over",
        "the",
        "lazy",
        "dog",
        "while",
        "emma",
        "reads",
        "a",
        "letter",
        "from",
        "mr",
        "knightley",
    ]
    text.write_text("\n\n".join(" ".join(words[(i % 5) :] + words[: (i % 5)]) for i in range(200)))
    bert = [
        "--model-arg",
        "num_hidden_layers=1",
        "--model-arg",
        "hidden_size=32",
        "--model-arg",
        "num_attention_heads=2",
        "--model-arg",
        "intermediate_size=64",
    ]
    mlm = tmp_path / "mlm"
    assert (
        main(
            [
                "train",
                "mlm",
                "--text",
                str(text),
                "--vocab-size",
                "200",
                "--seq-len",
                "32",
                *bert,
                *COMMON,
                "--out",
                str(mlm),
            ]
        )
        == 0
    )
    assert summary(mlm)["metric"] == "mlm_accuracy"
    assert (mlm / "checkpoints" / "last" / "tokenizer.json").is_file()
    rows = [{"text": " ".join(words[i % 7 :]), "label": ["a", "b"][i % 2]} for i in range(40)]
    train, val, bad = tmp_path / "train.jsonl", tmp_path / "val.jsonl", tmp_path / "bad.jsonl"
    train.write_text("".join(json.dumps(r) + "\n" for r in rows))
    val.write_text("".join(json.dumps(r) + "\n" for r in rows[:10]))
    bad.write_text(json.dumps({"text": "x", "label": "zebra"}) + "\n")
    cls = tmp_path / "cls"
    assert (
        main(
            [
                "train",
                "text-cls",
                "--train",
                str(train),
                "--val",
                str(val),
                "--init",
                str(mlm),
                "--seq-len",
                "32",
                *COMMON,
                "--out",
                str(cls),
            ]
        )
        == 0
    )
    assert summary(cls)["metric"] == "accuracy"
    byte = tmp_path / "bytes"
    assert (
        main(
            [
                "train",
                "text-cls",
                "--train",
                str(train),
                "--val",
                str(val),
                "--tokenizer",
                "bytes",
                "--model",
                "lion_s_bert_tiny",
                *bert,
                "--seq-len",
                "64",
                *COMMON,
                "--out",
                str(byte),
            ]
        )
        == 0
    )
    # A validation label outside the training label set is a clear error.
    assert (
        main(
            [
                "train",
                "text-cls",
                "--train",
                str(train),
                "--val",
                str(bad),
                "--tokenizer",
                "bytes",
                *COMMON,
                "--out",
                str(tmp_path / "x"),
            ]
        )
        == 2
    )
    # A checkpoint from another family cannot initialise text-cls.
    img = tmp_path / "img"
    assert (
        main(["train", "image", *TINY_VIT, *COMMON, "--train-limit", "16", "--val-limit", "16", "--out", str(img)]) == 0
    )
    assert (
        main(
            [
                "train",
                "text-cls",
                "--train",
                str(train),
                "--val",
                str(val),
                "--init",
                str(img),
                *COMMON,
                "--out",
                str(tmp_path / "y"),
            ]
        )
        == 2
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "image", "--data", "/nonexistent/path"],
        ["train", "image", "--fashion-mnist", "/nonexistent/path"],
        ["train", "image", "--batch-size", "0"],
        ["train", "image", "--model", "no_such_model", "--train-limit", "8"],
        ["train", "mlm", "--text", "/nonexistent.txt"],
        ["train", "text-cls", "--train", "/nonexistent.jsonl", "--val", "/nonexistent.jsonl"],
        ["eval", "--checkpoint", "/nonexistent"],
        ["train", "image", "--resume", "/nonexistent"],
    ],
)
def test_bad_input_exits_2_with_message(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "error" in err and "Traceback" not in err


def test_empty_paths(tmp_path, capsys):
    empty_txt = tmp_path / "empty.txt"
    empty_txt.write_text("")
    (tmp_path / "emptydir").mkdir()
    assert main(["train", "mlm", "--text", str(empty_txt), "--out", str(tmp_path / "a")]) == 2
    assert main(["train", "image", "--data", str(tmp_path / "emptydir"), "--out", str(tmp_path / "b")]) == 2
    assert main(["eval", "--checkpoint", str(tmp_path / "emptydir")]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_resume_guards(image_run, tmp_path):
    before = (image_run / "metrics.jsonl").read_text()
    # Same OUT without --resume/--overwrite: refused, nothing touched.
    assert main(["train", "image", *TINY_VIT, *COMMON, "--out", str(image_run)]) == 2
    # Resume with another architecture or task: refused.
    assert main(["train", "image", "--resume", str(image_run), "--model", "softmax_vit_nano_patch4_28"]) == 2
    assert main(["train", "lra", "--resume", str(image_run)]) == 2
    assert (image_run / "metrics.jsonl").read_text() == before
    # A resume of a finished run changes nothing and succeeds.
    assert main(["train", "image", "--resume", str(image_run)]) == 0
    assert (image_run / "metrics.jsonl").read_text() == before


@pytest.mark.parametrize("flag, calls", [([], 1), (["--no-keep-freed-memory"], 0)])
def test_train_keeps_freed_memory_unless_told_not_to(tmp_path, monkeypatch, flag, calls):
    import lion_attn.runtime

    seen = []
    monkeypatch.setattr(lion_attn.runtime, "keep_freed_memory", lambda: seen.append(True) or True)
    args = ["train", "image", *TINY_VIT, *COMMON, "--train-limit", "16", "--val-limit", "16", *flag]
    assert main([*args, "--out", str(tmp_path / "run")]) == 0
    assert len(seen) == calls
