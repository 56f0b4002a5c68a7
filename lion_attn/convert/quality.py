"""How close a distilled LION encoder is to its softmax teacher, on held-out text the distillation never read.

Three measures on the test passages of :func:`lion_attn.convert.data.austen_texts` (both models cut at
``max_tokens``, the teacher's sentence-embedding limit):

- mean cosine similarity between the student's and the teacher's embedding of each passage;
- nearest-neighbour agreement: the fraction of passages whose nearest other passage (cosine) is the same under
  both models;
- a downstream task: which of the six novels a passage comes from, by a logistic regression on the embeddings
  (scikit-learn, stratified 5-fold cross-validated accuracy), teacher against student.

Run ``python -m lion_attn.convert.quality --teacher HF_DIR --student DIR [DIR ...] --json OUT.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lion_attn.convert.bert_checkpoint import load_hf_bert
from lion_attn.convert.data import austen_texts
from lion_attn.convert.embed import embed_texts
from lion_attn.convert.text import load_wordpiece
from lion_attn.models import load_pretrained
from lion_attn.train.checkpoint import atomic_write_text

__all__ = ["compare_embeddings", "linear_probe_accuracy", "main", "nearest_neighbour_agreement"]

logger = logging.getLogger(__name__)


def nearest_neighbour_agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Fraction of rows whose nearest other row (by cosine; rows are unit vectors [N, D]) is the same in ``a``
    and ``b``."""
    if a.shape[0] != b.shape[0] or a.shape[0] < 2:
        raise ValueError(f"need two embedding sets of the same N >= 2 rows, got {a.shape} and {b.shape}")
    nn_a = _nearest(a)
    nn_b = _nearest(b)
    return float((nn_a == nn_b).mean())


def _nearest(x: np.ndarray) -> np.ndarray:
    sim = x @ x.T
    np.fill_diagonal(sim, -np.inf)
    return sim.argmax(axis=1)


def linear_probe_accuracy(emb: np.ndarray, labels: Sequence[str], seed: int = 0) -> float:
    """Stratified 5-fold cross-validated accuracy of a logistic regression on embeddings [N, D]."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    clf = LogisticRegression(max_iter=2000, C=10.0)
    return float(cross_val_score(clf, emb, np.asarray(labels), cv=folds).mean())


def compare_embeddings(teacher: np.ndarray, student: np.ndarray, labels: Sequence[str]) -> dict[str, float]:
    """The three measures for one student (embeddings [N, D], unit rows, the same passages in the same order)."""
    return {
        "mean_cosine": float((teacher * student).sum(axis=1).mean()),
        "nn_agreement": nearest_neighbour_agreement(teacher, student),
        "probe_teacher": linear_probe_accuracy(teacher, labels),
        "probe_student": linear_probe_accuracy(student, labels),
    }


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; writes a JSON report and prints one line per student."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--teacher", required=True)
    p.add_argument("--student", nargs="+", required=True, help="model folders (e.g. OUT/checkpoints/best)")
    p.add_argument("--limit", type=int, default=600, help="test passages used (0: all)")
    p.add_argument("--max-tokens", type=int, default=256)
    p.add_argument("--words-per-passage", type=int, default=128)
    p.add_argument("--dev-size", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", required=True)
    ns = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    test = austen_texts(ns.words_per_passage, ns.dev_size, ns.seed).test
    if ns.limit:
        test = test[: ns.limit]
    texts, labels = [t for t, _ in test], [lab for _, lab in test]
    tokenizer = load_wordpiece(ns.teacher)
    start = time.monotonic()
    teacher_emb = embed_texts(load_hf_bert(ns.teacher), tokenizer, texts, ns.max_tokens, progress=True)
    report: dict[str, Any] = {"passages": len(texts), "teacher_seconds": round(time.monotonic() - start, 1)}
    for folder in ns.student:
        model = load_pretrained(folder).eval()
        student_emb = embed_texts(model, load_wordpiece(folder), texts, ns.max_tokens, progress=True)
        result = compare_embeddings(teacher_emb, student_emb, labels)
        report[str(folder)] = result
        logger.info("%s %s", folder, json.dumps(result))
    atomic_write_text(Path(ns.json), json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
