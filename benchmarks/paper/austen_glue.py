"""Two offline fine-tuning tasks in GLUE's own file layouts, cut from Jane Austen's novels (the offline corpus).

GLUE itself cannot be had offline here, so the language comparison fine-tunes on tasks of the same shapes:

* ``sst2`` layout (one sentence, binary label): is this 48-word passage from *Emma* or from *Persuasion*?
* ``rte`` layout (a sentence pair, ``entailment`` / ``not_entailment``): is the second passage the words that
  directly follow the first, or words from elsewhere in the same novel? Solving it needs the two segments to
  interact, which is what pair tasks test.

Both are balanced and deterministic by seed; the dev split draws from passages disjoint from train.
"""

from __future__ import annotations

import csv
import json
import os
import random
from pathlib import Path

from lion_attn.data.austen import load_austen, prose_words

WORDS_FIRST, WORDS_SECOND = 48, 24


def _write_tsv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.writer(f, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\", lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    os.replace(tmp, path)


def _split(items: list, n_dev: int) -> tuple[list, list]:
    return items[n_dev:], items[:n_dev]


def make_sst2_layout(out: Path, examples: int, seed: int = 0, texts: dict[str, str] | None = None) -> Path:
    """Write ``out/{train,dev,test}.tsv`` (SST-2 columns) with ``examples`` training rows (0: all passages)."""
    texts = texts or load_austen()
    pair = [slug for slug in ("emma", "persuasion") if slug in texts] or list(texts)[:2]
    rng = random.Random(seed)
    rows = []
    for label, slug in enumerate(pair):
        words = prose_words(texts[slug])
        for i in range(0, len(words) - WORDS_FIRST + 1, WORDS_FIRST):
            rows.append([" ".join(words[i : i + WORDS_FIRST]), str(label)])
    rng.shuffle(rows)
    n_dev = max(2, len(rows) // 10)
    train, dev = _split(rows, n_dev)
    if examples:
        train = train[:examples]
    out.mkdir(parents=True, exist_ok=True)
    _write_tsv(out / "train.tsv", ["sentence", "label"], train)
    _write_tsv(out / "dev.tsv", ["sentence", "label"], dev)
    _write_tsv(out / "test.tsv", ["index", "sentence"], [[str(i), r[0]] for i, r in enumerate(dev)])
    return out


def make_rte_layout(out: Path, examples: int, seed: int = 0, texts: dict[str, str] | None = None) -> Path:
    """Write ``out/{train,dev,test}.tsv`` (RTE columns) with ``examples`` training rows (0: all)."""
    texts = texts or load_austen()
    rng = random.Random(seed)
    span = WORDS_FIRST + WORDS_SECOND
    rows = []
    for slug, text in texts.items():
        words = prose_words(text)
        starts = list(range(0, len(words) - span + 1, span))
        for n, start in enumerate(starts):
            first = " ".join(words[start : start + WORDS_FIRST])
            if n % 2 == 0:
                second, label = " ".join(words[start + WORDS_FIRST : start + span]), "entailment"
            else:
                # Words from another place of the same novel: style alone cannot tell them apart.
                other = rng.choice([s for s in starts if abs(s - start) > span] or [start])
                second, label = " ".join(words[other + WORDS_FIRST : other + span]), "not_entailment"
            rows.append([first, second, label, slug])
    rng.shuffle(rows)
    n_dev = max(2, len(rows) // 10)
    train, dev = _split(rows, n_dev)
    if examples:
        train = train[:examples]
    out.mkdir(parents=True, exist_ok=True)
    header = ["index", "sentence1", "sentence2", "label"]
    _write_tsv(out / "train.tsv", header, [[str(i), *r[:3]] for i, r in enumerate(train)])
    _write_tsv(out / "dev.tsv", header, [[str(i), *r[:3]] for i, r in enumerate(dev)])
    _write_tsv(out / "test.tsv", ["index", "sentence1", "sentence2"], [[str(i), *r[:2]] for i, r in enumerate(dev)])
    return out


def make_lra_text(root: Path, max_bytes: int, seed: int = 0, texts: dict[str, str] | None = None) -> tuple[str, str]:
    """Byte-level document classification for the LRA Text task: which of two novels a ``max_bytes`` excerpt is from.

    LRA uses IMDb reviews at 4K bytes, which cannot be had offline; this keeps the task's shape (long byte
    sequences, a binary label). Writes ``root/lra-text-<max_bytes>b-s<seed>/{train,val}.jsonl`` (fields ``text``,
    ``label``), kept if already written (named by its settings, so changed ones write new data); returns the paths.
    """
    out = root / f"lra-text-{max_bytes}b-s{seed}"
    train_path, val_path = out / "train.jsonl", out / "val.jsonl"
    if val_path.is_file():
        return str(train_path), str(val_path)
    texts = texts or load_austen()
    pair = [slug for slug in ("emma", "persuasion") if slug in texts] or list(texts)[:2]
    rng = random.Random(seed)
    docs = []
    for slug in pair:
        body = " ".join(prose_words(texts[slug]))
        step = max(1, max_bytes // 2)
        docs += [{"text": body[i : i + max_bytes], "label": slug} for i in range(0, len(body) - max_bytes, step)]
    rng.shuffle(docs)
    n_val = max(2, len(docs) // 10)
    out.mkdir(parents=True, exist_ok=True)
    for path, rows in ((val_path, docs[:n_val]), (train_path, docs[n_val:])):
        tmp = path.with_suffix(".tmp")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))
        os.replace(tmp, path)
    return str(train_path), str(val_path)


def make_tasks(root: Path, examples: int, seed: int = 0) -> dict[str, str]:
    """Both tasks under ``root``; returns GLUE task name (the layout) -> folder.

    A folder is named by its size and seed (``austen-sst2-n2000-s0``) and kept if already written, so a changed
    size writes new data instead of silently reusing the old.
    """
    texts = None
    folders = {}
    for name, make in (("sst2", make_sst2_layout), ("rte", make_rte_layout)):
        folder = root / f"austen-{name}-n{examples}-s{seed}"
        if not (folder / "test.tsv").is_file():
            texts = texts or load_austen()
            make(folder, examples, seed, texts)
        folders[name] = str(folder)
    return folders
