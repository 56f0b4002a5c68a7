"""`lion train glue` on the nine tasks' layouts, the official metrics, `lion eval` with GLUE prediction files, and
`lion train text-cls` with pairs, regression and its default data, all through the command line."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from lion_attn.train.cli import main
from lion_attn.train.tasks.text_metrics import compute_text_metrics

sys.path.insert(0, str(Path(__file__).resolve().parent))
from glue_fixtures import ALL_TASKS, write_task

TINY = [
    *("--model-arg", "num_hidden_layers=1", "--model-arg", "hidden_size=32"),
    *("--model-arg", "num_attention_heads=2", "--model-arg", "intermediate_size=64"),
    *("--seq-len", "40", "--epochs", "1", "--batch-size", "16", "--no-progress", "--seed", "0"),
]
MAIN_METRIC = {"cola": "mcc", "mrpc": "f1", "qqp": "f1", "stsb": "pearson", "mnli": "accuracy_matched"}
ALL_METRICS = {
    "cola": {"mcc", "accuracy"},
    "mrpc": {"f1", "accuracy"},
    "qqp": {"f1", "accuracy"},
    "stsb": {"pearson", "spearman"},
    "mnli": {"accuracy_matched", "accuracy_mismatched"},
}


def _summary(out: Path) -> dict:
    return json.loads((out / "summary.json").read_text())


def _ranks(x: np.ndarray) -> np.ndarray:
    # Average ranks of ties, written out (the reference for Spearman's rho).
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x))
    i = 0
    while i < len(x):
        j = i
        while j + 1 < len(x) and x[order[j + 1]] == x[order[i]]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2
        i = j + 1
    return ranks


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / math.sqrt((a * a).sum() * (b * b).sum()))


def test_metrics_against_literal_formulas():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    p = np.where(rng.random(200) < 0.7, y, 1 - y)
    tp, tn = int(((p == 1) & (y == 1)).sum()), int(((p == 0) & (y == 0)).sum())
    fp, fn = int(((p == 1) & (y == 0)).sum()), int(((p == 0) & (y == 1)).sum())
    got = compute_text_metrics(("mcc", "f1", "accuracy"), p, y)
    mcc = (tp * tn - fp * fn) / math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    assert got["mcc"] == pytest.approx(mcc)
    assert got["f1"] == pytest.approx(2 * tp / (2 * tp + fp + fn))
    assert got["accuracy"] == pytest.approx((tp + tn) / 200)
    score = rng.uniform(0, 5, 100).round(1)  # rounding makes ties, which Spearman must average
    pred = score + rng.normal(0, 1, 100)
    got = compute_text_metrics(("pearson", "spearman"), pred, score)
    assert got["pearson"] == pytest.approx(_pearson(pred, score))
    assert got["spearman"] == pytest.approx(_pearson(_ranks(pred), _ranks(score)))
    groups = np.array([0] * 120 + [1] * 80)
    got = compute_text_metrics(("accuracy_matched", "accuracy_mismatched"), p, y, groups, ("matched", "mismatched"))
    assert got["accuracy_matched"] == pytest.approx(float((p[:120] == y[:120]).mean()))
    assert got["accuracy_mismatched"] == pytest.approx(float((p[120:] == y[120:]).mean()))
    assert compute_text_metrics(("pearson",), np.ones(5), np.arange(5.0))["pearson"] == 0.0


@pytest.mark.parametrize("task", ALL_TASKS)
def test_train_glue_every_task(tmp_path, task):
    folder = write_task(tmp_path / "glue", task)
    out = tmp_path / "run"
    argv = ["train", "glue", "--task", task, "--data", str(folder), "--vocab-size", "80", *TINY, "--out", str(out)]
    assert main(argv) == 0
    s = _summary(out)
    assert s["metric"] == MAIN_METRIC.get(task, "accuracy")
    wanted = ALL_METRICS.get(task, {"accuracy"}) | {"loss"}
    assert set(s["final_metrics"]) == wanted and set(s["best_metrics"]) == wanted
    assert s["final"] == s["final_metrics"][s["metric"]]
    assert all(math.isfinite(v) for v in s["final_metrics"].values())
    ckpt = out / "checkpoints" / "last"
    config = json.loads((ckpt / "config.json").read_text())
    assert config["num_labels"] == (1 if task == "stsb" else len(config["id2label"]))
    assert config["problem_type"] == ("regression" if task == "stsb" else "single_label_classification")
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        assert (ckpt / name).is_file()


def test_glue_eval_forms_and_prediction_files(tmp_path, capsys):
    folder = write_task(tmp_path / "glue", "mnli")
    out = tmp_path / "run"
    assert main(["train", "glue", "--task", "mnli", "--data", str(folder), "--vocab-size", "80", *TINY,
                 "--out", str(out)]) == 0  # fmt: skip
    preds = tmp_path / "preds"
    argv = ["eval", "--checkpoint", str(out), "--in-process", "--glue-predictions", str(preds)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "recurrent: accuracy_matched" in printed and "accuracy_mismatched" in printed
    report = json.loads((out / "checkpoints" / "best" / "eval.json").read_text())
    for mode in ("parallel", "chunk", "recurrent"):
        metrics = report["modes"][mode]["metrics"]
        assert {"accuracy_matched", "accuracy_mismatched", "loss"} <= set(metrics)
        assert report["modes"][mode]["agreement_with_parallel"] == 1.0
    for name in ("MNLI-m", "MNLI-mm"):
        rows = [line.split("\t") for line in (preds / f"{name}.tsv").read_text().splitlines()]
        assert rows[0] == ["index", "prediction"] and len(rows) == 7
        assert {r[1] for r in rows[1:]} <= {"contradiction", "entailment", "neutral"}
        assert [r[0] for r in rows[1:]] == [str(i) for i in range(6)]


def test_glue_bad_rows_fail_or_skip(tmp_path, capsys):
    folder = write_task(tmp_path / "glue", "sst2")
    with (folder / "train.tsv").open("a") as fh:
        fh.write("a sentence without a label\n")
    base = ["train", "glue", "--task", "sst2", "--data", str(folder), "--vocab-size", "80", *TINY]
    assert main([*base, "--out", str(tmp_path / "a")]) == 2
    assert "train.tsv, line 42" in capsys.readouterr().err
    assert main([*base, "--skip-bad-rows", "--out", str(tmp_path / "b")]) == 0
    assert main(["train", "glue", "--task", "sst2", "--out", str(tmp_path / "c")]) == 2
    assert "--data is required" in capsys.readouterr().err


def test_glue_from_mlm_checkpoint_reuses_its_tokenizer(tmp_path):
    text = tmp_path / "book.txt"
    words = ["emma", "harriet", "knightley", "elton", "anne", "wentworth", "elizabeth", "darcy", "bingley", "jane"]
    text.write_text("\n\n".join(" ".join(words[i % 10 :] + words[: i % 10]) for i in range(120)))
    mlm = tmp_path / "mlm"
    assert main(["train", "mlm", "--text", str(text), "--vocab-size", "60", *TINY, "--out", str(mlm)]) == 0
    folder = write_task(tmp_path / "glue", "rte")
    out = tmp_path / "rte"
    assert main(["train", "glue", "--task", "rte", "--data", str(folder), "--init", str(mlm), *TINY,
                 "--out", str(out)]) == 0  # fmt: skip
    a = json.loads((mlm / "checkpoints" / "last" / "tokenizer.json").read_text())
    b = json.loads((out / "checkpoints" / "last" / "tokenizer.json").read_text())
    assert a["model"]["vocab"] == b["model"]["vocab"]
    # A pair task pools with the pair features by default; an explicit --model-arg wins.
    assert json.loads((out / "checkpoints" / "last" / "config.json").read_text())["classifier_pooling"] == "pair"


def _write_table(path: Path, rows: list[dict]) -> None:
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        return
    if path.suffix == ".tsv":
        # GLUE-style TSV: tabs, no quoting at all (the quote characters in the texts stay as they are).
        lines = ["\t".join(rows[0]), *("\t".join(str(v) for v in r.values()) for r in rows)]
        path.write_text("\n".join(lines) + "\n")
        return
    import csv

    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".tsv"])
def test_text_cls_pairs_and_regression(tmp_path, suffix):
    words = ["emma", "harriet", "knightley", "elton", "anne", "wentworth"]
    rows = [
        {"premise": " ".join(words[i % 6 :]), "hypothesis": f'"{words[i % 4]}, said she', "score": i % 5 / 2,
         "label": ["yes", "no"][i % 2]}
        for i in range(48)
    ]  # fmt: skip
    train, val = tmp_path / f"train{suffix}", tmp_path / f"val{suffix}"
    _write_table(train, rows)
    _write_table(val, rows[:16])
    base = ["train", "text-cls", "--train", str(train), "--val", str(val), "--text-fields", "premise,hypothesis",
            "--tokenizer", "bytes", *TINY]  # fmt: skip
    assert main([*base, "--out", str(tmp_path / "cls")]) == 0
    pooling = json.loads((tmp_path / "cls" / "checkpoints" / "last" / "config.json").read_text())["classifier_pooling"]
    assert pooling == "pair"
    s = _summary(tmp_path / "cls")
    assert s["metric"] == "accuracy" and set(s["final_metrics"]) == {"accuracy", "loss"}
    reg = [*base, "--regression", "--label-field", "score", "--model-arg", "classifier_pooling=mean"]
    assert main([*reg, "--out", str(tmp_path / "reg")]) == 0
    pooling = json.loads((tmp_path / "reg" / "checkpoints" / "last" / "config.json").read_text())["classifier_pooling"]
    assert pooling == "mean"  # an explicit --model-arg wins over the pair default
    s = _summary(tmp_path / "reg")
    assert s["metric"] == "pearson" and set(s["final_metrics"]) == {"pearson", "spearman", "loss"}


def test_text_cls_default_austen_data_end_to_end(tmp_path):
    out = tmp_path / "austen"
    argv = ["train", "text-cls", "--tokenizer", "bytes", "--train-limit", "64", "--val-limit", "32", *TINY]
    assert main([*argv, "--out", str(out)]) == 0
    s = _summary(out)
    assert s["status"] == "completed" and s["metric"] == "accuracy"
    assert set(s["final_metrics"]) == {"accuracy", "macro_f1", "loss"}
    config = json.loads((out / "checkpoints" / "last" / "config.json").read_text())
    assert config["num_labels"] == 6 and "emma" in config["label2id"]
    assert config["classifier_pooling"] == "cls"  # single texts keep the first-token pooling


def test_austen_pairs_in_glue_layout(tmp_path, capsys):
    out = tmp_path / "pairs"
    assert main(["data", "austen-pairs", "--out", str(out), "--train", "40", "--dev", "10", "--test", "6"]) == 0
    from lion_attn.data.glue import read_glue_split

    train = read_glue_split("mrpc", out / "train.tsv")
    assert len(train.examples) == 40 and {ex.label for ex in train.examples} == {0, 1}
    assert len(read_glue_split("mrpc", out / "test.tsv", labelled=False).examples) == 6
    dev_passages = {t for ex in read_glue_split("mrpc", out / "dev.tsv").examples for t in (ex.text_a, ex.text_b)}
    assert not dev_passages & {t for ex in train.examples for t in (ex.text_a, ex.text_b)}


def test_glue_with_a_users_vocab_file(tmp_path):
    from glue_fixtures import WORDS

    folder = write_task(tmp_path / "glue", "sst2")
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *sorted(set(WORDS)), '"']) + "\n")
    out = tmp_path / "run"
    assert main(["train", "glue", "--task", "sst2", "--data", str(folder), "--tokenizer", str(vocab), *TINY,
                 "--out", str(out)]) == 0  # fmt: skip
    saved = json.loads((out / "checkpoints" / "last" / "tokenizer.json").read_text())["model"]["vocab"]
    assert saved == {tok: i for i, tok in enumerate(vocab.read_text().split())}
    config = json.loads((out / "checkpoints" / "last" / "config.json").read_text())
    assert config["vocab_size"] == len(saved)


def test_glue_metrics_under_torchrun_equal_one_process_eval(tmp_path):
    import os
    import subprocess

    folder = write_task(tmp_path / "glue", "cola", n_dev=21)
    out = tmp_path / "ddp"
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[2]), *sys.path])
    env["OMP_NUM_THREADS"] = "1"
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m",
         "lion_attn.train.cli", "train", "glue", "--task", "cola", "--data", str(folder), "--vocab-size", "80",
         *TINY, "--out", str(out)],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    final = _summary(out)["final_metrics"]
    assert main(["eval", "--checkpoint", str(out / "checkpoints" / "last"), "--mode", "parallel", "--in-process"]) == 0
    report = json.loads((out / "checkpoints" / "last" / "eval.json").read_text())
    single = report["modes"]["parallel"]["metrics"]
    assert report["modes"]["parallel"]["samples"] == 21
    assert single["accuracy"] == final["accuracy"] and single["mcc"] == pytest.approx(final["mcc"], abs=1e-12)
    # Batches are split differently over two ranks: the padded shapes change float rounding, not predictions.
    assert single["loss"] == pytest.approx(final["loss"], rel=1e-4)


def test_near_duplicate_pairs_need_both_segments(tmp_path):
    import random

    from lion_attn.data import load_austen
    from lion_attn.data.near_duplicates import garble, near_duplicate_pairs

    texts = load_austen()
    sizes = {"train": 300, "dev": 60, "test": 40}
    splits = near_duplicate_pairs(texts, words_per_passage=24, sizes=sizes, seed=3)
    assert splits == near_duplicate_pairs(texts, words_per_passage=24, sizes=sizes, seed=3)
    assert splits != near_duplicate_pairs(texts, words_per_passage=24, sizes=sizes, seed=4)
    for split, n in sizes.items():
        assert len(splits[split]) == n and sum(y for _, _, y in splits[split]) == n // 2
    # Disjoint stretches: no passage A of dev is a passage A of train.
    assert not {a for a, _, _ in splits["dev"]} & {a for a, _, _ in splits["train"]}

    def overlap(a: str, b: str) -> float:
        words_b = set(b.split())
        return sum(w in words_b for w in a.split()) / len(a.split())

    pos = [overlap(a, b) for a, b, y in splits["train"] if y == 1]
    neg = [overlap(a, b) for a, b, y in splits["train"] if y == 0]
    # Positives keep most of A's words; negatives (the next passage) share only common words.
    assert min(pos) > 0.5 and sum(pos) / len(pos) > 0.7 and sum(neg) / len(neg) < 0.45
    # Both classes' B are garbled alike: their lengths (words dropped) have the same distribution.
    len_pos = sum(len(b.split()) for _, b, y in splits["train"] if y == 1) / len(pos)
    len_neg = sum(len(b.split()) for _, b, y in splits["train"] if y == 0) / len(neg)
    assert abs(len_pos - len_neg) < 1.0 and len_pos < 24

    rng = random.Random(0)
    words = ["a", "b", "c", "d", "e", "f", "g", "h"]
    assert garble(words, rng, ["z"], drop=0.0, swaps=0, replace=0.0) == "a b c d e f g h"
    assert len(garble(words, rng, ["z"], drop=0.99, swaps=1, replace=0.0).split()) == 4  # at least half kept
    assert garble(words, rng, ["z"], drop=0.0, swaps=0, replace=0.999) == " ".join(["z"] * 8)
    with pytest.raises(ValueError, match="drop must be in"):
        near_duplicate_pairs(texts, drop=1.0)
    with pytest.raises(ValueError, match="more than the"):
        near_duplicate_pairs(texts, sizes={"dev": 10**6})


def test_austen_pairs_cli_near_duplicate_kind(tmp_path, caplog):
    out = tmp_path / "near"
    argv = ["data", "austen-pairs", "--kind", "near-duplicate", "--out", str(out), "--train", "30", "--dev", "8"]
    assert main([*argv, "--test", "4"]) == 0
    from lion_attn.data.glue import read_glue_split

    train = read_glue_split("mrpc", out / "train.tsv")
    assert len(train.examples) == 30 and sum(ex.label for ex in train.examples) == 15
    assert len(train.examples[0].text_a.split()) == 24
    assert main([*argv, "--test", str(10**7)]) == 2
    assert "more than the" in caplog.text
