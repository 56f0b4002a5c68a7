from __future__ import annotations

import hashlib

import numpy as np
import pytest

from lion_attn.data.fashion_mnist import FASHION_MNIST_FILES
from lion_attn.data.idx import read_idx
from lion_attn.data.paths import SAMPLE_DIR, SYSTEM_FASHION_MNIST_DIR
from lion_attn.data.samples import austen_excerpt, make_samples, stratified_indices


def test_embedded_sample_is_small_and_complete():
    files = [p for p in SAMPLE_DIR.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) < 1_500_000
    names = {p.relative_to(SAMPLE_DIR).as_posix() for p in files}
    for image_stem, label_stem in FASHION_MNIST_FILES.values():
        assert f"fashion-mnist/{image_stem}.gz" in names and f"fashion-mnist/{label_stem}.gz" in names
    assert sum(n.startswith("austen/") and n.endswith(".txt.gz") for n in names) == 6


def test_stratified_indices():
    labels = np.repeat(np.arange(3), [5, 6, 7])
    keep = stratified_indices(labels, 4, seed=1)
    assert np.all(np.diff(keep) > 0)
    np.testing.assert_array_equal(np.bincount(labels[keep]), [4, 4, 4])
    np.testing.assert_array_equal(keep, stratified_indices(labels, 4, seed=1))
    with pytest.raises(ValueError, match="fewer"):
        stratified_indices(labels, 6, seed=0)


def test_excerpt_starts_after_first_chapter_heading_and_ends_at_line():
    text = "TITLE\n\nCHAPTER I\n" + "".join(f"line {i}\n" for i in range(100))
    excerpt = austen_excerpt(text, max_chars=60)
    assert excerpt.startswith("line 0\n") and excerpt.endswith("\n") and len(excerpt) <= 60


@pytest.mark.skipif(not (SYSTEM_FASHION_MNIST_DIR / "train-images-idx3-ubyte.gz").is_file(), reason="no Fashion-MNIST")
def test_make_samples_reproduces_the_committed_files(tmp_path, austen_full):
    written = make_samples(tmp_path, fashion_root=SYSTEM_FASHION_MNIST_DIR, austen_texts=austen_full)
    assert len(written) == 10
    for path in written:
        committed = SAMPLE_DIR / path.relative_to(tmp_path)
        assert hashlib.sha256(path.read_bytes()).digest() == hashlib.sha256(committed.read_bytes()).digest(), path
    assert read_idx(written[0]).shape == (2000, 28, 28)
