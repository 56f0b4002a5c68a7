"""Tokenized shards equal in-memory tokenisation; the shard sampler splits shards over ranks; memory stays flat."""

from __future__ import annotations

import gzip
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from lion_attn.data import ByteTokenizer, WordPieceTokenizer, pack_sequences
from lion_attn.data.shards import (
    ShardBatchSampler,
    ShardBlocks,
    read_index,
    read_shard,
    tokenize_corpus,
)

WORDS = [
    "emma",
    "harriet",
    "knightley",
    "elton",
    "anne",
    "wentworth",
    "elizabeth",
    "darcy",
    "bingley,",
    "jane.",
    "marianne!",
    "elinor",
    "fanny",
]


def _write_corpus(folder: Path, n_files: int = 3, seed: int = 0) -> dict[str, str]:
    rng = random.Random(seed)
    texts = {}
    for i in range(n_files):
        paras = []
        for _ in range(rng.randint(15, 30)):
            lines = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 12))) for _ in range(rng.randint(1, 4))]
            paras.append("\n".join(lines))
        text = "\n\n".join(paras) + "\n"
        name = f"book{i}.txt" + (".gz" if i % 2 else "")
        if i % 2:
            with gzip.open(folder / name, "wt", encoding="utf-8") as fh:
                fh.write(text)
        else:
            (folder / name).write_text(text, encoding="utf-8")
        texts[name] = text
    return texts


def _reference_docs(text: str, mode: str) -> list[str]:
    # Independent of the module's reader: split the whole text at once.
    if mode == "file":
        return [text]
    if mode == "line":
        return [line for line in text.split("\n") if line.strip()]
    return [" ".join(p.split("\n")).strip() for p in text.split("\n\n") if p.strip()]


@pytest.fixture(scope="module")
def wordpiece():
    return WordPieceTokenizer.train([" ".join(WORDS)] * 50, vocab_size=60)


@pytest.mark.parametrize("mode", ["line", "paragraph", "file"])
@pytest.mark.parametrize("kind", ["bytes", "wordpiece"])
def test_shards_equal_in_memory_tokenisation(tmp_path, wordpiece, mode, kind):
    tok = ByteTokenizer() if kind == "bytes" else wordpiece
    (tmp_path / "corpus").mkdir()
    texts = _write_corpus(tmp_path / "corpus")
    index = tokenize_corpus([tmp_path / "corpus"], tok, tmp_path / "out", doc_mode=mode, workers=1, progress=False)
    assert index == json.loads((tmp_path / "out" / "index.json").read_text())
    assert [Path(s["source"]).name for s in index["shards"]] == sorted(texts)
    seq_len = 16
    for k, shard in enumerate(index["shards"]):
        docs = [tok.encode(d) for d in _reference_docs(texts[Path(shard["source"]).name], mode)]
        stream = [t for d in docs for t in [*d, tok.sep_id]]
        assert read_shard(tmp_path / "out", shard, index["dtype"]).tolist() == stream
        assert shard["documents"] == len(docs)
        blocks = ShardBlocks(tmp_path / "out", [k], seq_len, tok.cls_id)
        served = torch.stack([blocks[i][0] for i in range(len(blocks))]) if len(blocks) else torch.empty(0, seq_len)
        assert torch.equal(served.long(), pack_sequences(docs, seq_len, tok.cls_id, tok.sep_id))
    with pytest.raises(ValueError, match="already holds a tokenized corpus"):
        tokenize_corpus([tmp_path / "corpus"], tok, tmp_path / "out", progress=False)


def test_parallel_workers_and_shard_rollover(tmp_path, wordpiece):
    (tmp_path / "c").mkdir()
    texts = _write_corpus(tmp_path / "c", n_files=3, seed=1)
    one = tokenize_corpus([tmp_path / "c"], wordpiece, tmp_path / "one", workers=1, progress=False)
    many = tokenize_corpus(
        [tmp_path / "c"], wordpiece, tmp_path / "many", workers=2, max_shard_tokens=50, progress=False
    )
    assert many["total_tokens"] == one["total_tokens"] and len(many["shards"]) > len(one["shards"])
    for name in texts:

        def stream(folder, index, name=name):
            parts = [s for s in index["shards"] if Path(s["source"]).name == name]
            return [t for s in parts for t in read_shard(folder, s, index["dtype"]).tolist()]

        assert stream(tmp_path / "many", many) == stream(tmp_path / "one", one)
    for shard in many["shards"]:
        data = read_shard(tmp_path / "many", shard, many["dtype"])
        assert data[-1] == wordpiece.sep_id and (shard["tokens"] <= 50 or shard["documents"] == 1)


def test_read_index_detects_truncated_shards(tmp_path):
    (tmp_path / "c").mkdir()
    _write_corpus(tmp_path / "c", n_files=1)
    index = tokenize_corpus([tmp_path / "c"], ByteTokenizer(), tmp_path / "o", workers=1, progress=False)
    f = tmp_path / "o" / index["shards"][0]["file"]
    f.write_bytes(f.read_bytes()[:-2])
    with pytest.raises(ValueError, match=r"not .* tokens long"):
        read_index(tmp_path / "o")
    with pytest.raises(ValueError, match="lion data tokenize"):
        read_index(tmp_path)


class _FakeBlocks:
    """Stands in for ShardBlocks: only the per-shard block counts matter to the sampler."""

    def __init__(self, counts: list[int]) -> None:
        self.blocks_per_shard = counts
        self.starts = np.concatenate([[0], np.cumsum(counts)]).tolist()

    def shard_range(self, k: int) -> range:
        return range(self.starts[k], self.starts[k + 1])


def test_shard_sampler_gives_ranks_disjoint_shards_and_resumes():
    ds = _FakeBlocks([37, 20, 55, 41, 8])
    owner = {i: k for k in range(5) for i in ds.shard_range(k)}
    world, batch = 2, 8
    for epoch in range(3):
        per_rank = []
        for rank in range(world):
            sampler = ShardBatchSampler(ds, batch, seed=3, rank=rank, world_size=world)
            sampler.set_epoch(epoch)
            batches = list(sampler)
            assert len(batches) == sampler.num_batches() == len(sampler)
            assert all(len(b) == batch // world for b in batches)
            flat = [i for b in batches for i in b]
            assert len(flat) == len(set(flat))  # no block twice in an epoch
            per_rank.append({owner[i] for i in flat})
            sampler.set_epoch(epoch, 2)
            assert list(sampler) == batches[2:]
        assert not per_rank[0] & per_rank[1]
    counts = {ShardBatchSampler(ds, batch, 3, r, world).num_batches() for r in range(world)}
    assert len(counts) == 1
    with pytest.raises(ValueError, match="cannot be split"):
        ShardBatchSampler(_FakeBlocks([5]), 4, 0, 0, 2)


@pytest.mark.slow
def test_memory_stays_flat_on_a_corpus_larger_than_the_rss_cap(tmp_path):
    """Tokenize and train on a corpus of a few GB; every process's peak RSS stays under a cap below its size."""
    gib = float(os.environ.get("LION_RSS_TEST_GB", "2"))
    cap_mb = 900
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    rng = random.Random(0)
    chunk = "\n".join(" ".join(rng.choice(WORDS) for _ in range(150)) for _ in range(2000)) + "\n"
    per_file = int(gib * 2**30 / 4)
    for i in range(4):
        with (corpus / f"part{i}.txt").open("w") as fh:
            written = 0
            while written < per_file:
                fh.write(chunk)
                written += len(chunk)
    size_mb = sum(f.stat().st_size for f in corpus.iterdir()) / 2**20
    assert size_mb > 2 * cap_mb
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[2]), *sys.path])}
    wrapper = (
        "import resource, subprocess, sys; rc = subprocess.run(sys.argv[1:]).returncode; "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024); sys.exit(rc)"
    )
    cli = [sys.executable, "-m", "lion_attn.train.cli"]
    steps = [
        [
            *cli,
            "data",
            "tokenize",
            "--text",
            str(corpus),
            "--tokenizer",
            "bytes",
            "--out",
            str(tmp_path / "shards"),
            "--workers",
            "2",
            "--no-progress",
        ],
        [
            *cli,
            "train",
            "mlm",
            "--data",
            str(tmp_path / "shards"),
            "--max-steps",
            "30",
            "--batch-size",
            "8",
            "--val-limit",
            "64",
            "--model-arg",
            "num_hidden_layers=1",
            "--model-arg",
            "hidden_size=32",
            "--model-arg",
            "num_attention_heads=2",
            "--model-arg",
            "intermediate_size=64",
            "--no-progress",
            "--out",
            str(tmp_path / "run"),
        ],
    ]
    for argv in steps:
        proc = subprocess.run([sys.executable, "-c", wrapper, *argv], capture_output=True, text=True, env=env)
        assert proc.returncode == 0, proc.stderr[-2000:]
        peak_mb = int(proc.stdout.strip().splitlines()[-1])
        print(f"{' '.join(argv[3:5])}: peak RSS {peak_mb} MB on a {size_mb:.0f} MB corpus")  # shown with -s
        assert peak_mb < cap_mb, f"{argv[3:5]}: peak RSS {peak_mb} MB on a {size_mb:.0f} MB corpus"
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["steps"] == 30


def _cli_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[2]), *sys.path])
    env["OMP_NUM_THREADS"] = "1"
    return env


MLM_TINY = [
    *("--model-arg", "num_hidden_layers=1", "--model-arg", "hidden_size=32"),
    *("--model-arg", "num_attention_heads=2", "--model-arg", "intermediate_size=64"),
    *("--seq-len", "16", "--batch-size", "8", "--val-limit", "16", "--no-progress"),
]


def test_cli_tokenize_then_mlm_streams_shards_and_resumes_exactly(tmp_path):
    from safetensors.torch import load_file

    from lion_attn.train.cli import main

    (tmp_path / "c").mkdir()
    _write_corpus(tmp_path / "c", n_files=4, seed=2)
    shards = tmp_path / "shards"
    argv = ["data", "tokenize", "--text", str(tmp_path / "c"), "--vocab-size", "60", "--out", str(shards)]
    assert main([*argv, "--doc-mode", "paragraph", "--workers", "1", "--no-progress"]) == 0
    assert len(read_index(shards)["shards"]) == 4
    base = ["train", "mlm", "--data", str(shards), "--recipe", "paper", *MLM_TINY, "--max-steps", "6"]
    assert main([*base, "--out", str(tmp_path / "full")]) == 0
    s = json.loads((tmp_path / "full" / "summary.json").read_text())
    assert s["metric"] == "mlm_accuracy" and set(s["final_metrics"]) == {"mlm_accuracy", "loss"}
    config = json.loads((tmp_path / "full" / "config.json").read_text())
    recipe = (config["schedule"], config["bf16"], config["task_args"]["mask_prob"], config["task_args"]["seq_len"])
    assert recipe == ("linear", True, 0.3, 16)
    assert main([*base, "--stop-after", "3", "--out", str(tmp_path / "split")]) == 0
    assert main([*base, "--resume", str(tmp_path / "split")]) == 0
    a = load_file(str(tmp_path / "full" / "checkpoints" / "last" / "model.safetensors"))
    b = load_file(str(tmp_path / "split" / "checkpoints" / "last" / "model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    bad = ["train", "mlm", "--data", str(shards), "--val-shards", "4", "--out", str(tmp_path / "x")]
    assert main(bad) == 2  # every shard held out: nothing left to train on


def test_mlm_shards_under_torchrun(tmp_path):
    (tmp_path / "c").mkdir()
    _write_corpus(tmp_path / "c", n_files=4, seed=3)
    shards = tmp_path / "shards"
    tokenize_corpus([tmp_path / "c"], ByteTokenizer(), shards, workers=1, progress=False)
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m",
         "lion_attn.train.cli", "train", "mlm", "--data", str(shards), *MLM_TINY, "--max-steps", "4",
         "--out", str(tmp_path / "ddp")],
        capture_output=True, text=True, timeout=300, env=_cli_env(),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    s = json.loads((tmp_path / "ddp" / "summary.json").read_text())
    assert s["steps"] == 4 and s["status"] == "completed"


def test_lion_data_without_subcommand_still_prepares_the_default_sets(monkeypatch, tmp_path, capsys):
    import lion_attn.data as data
    from lion_attn.train.cli import main

    calls = []
    monkeypatch.setattr(data, "prepare", lambda dest, what, force: calls.append((dest, what, force)) or {"ok": 1})
    assert main(["data", "--dest", str(tmp_path), "--what", "austen"]) == 0
    assert calls == [(str(tmp_path), ["austen"], False)]
    assert main(["data"]) == 0 and calls[-1][1] == list(data.DATASETS)
    assert main(["data", "tokenize", "--text", str(tmp_path / "none.txt"), "--out", str(tmp_path / "o")]) == 2
    assert "does not exist" in capsys.readouterr().err
