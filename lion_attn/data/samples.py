"""Build the small samples embedded in the package (``lion_attn/data/_sample``) from the real data.

Run ``python -m lion_attn.data.samples`` on a machine with the full data (``lion data`` or the Debian packages
``dataset-fashion-mnist`` and ``r-cran-janeaustenr`` extracted). The output is deterministic (fixed seed,
gzip without time stamps), so re-running it leaves the committed files unchanged:

- ``fashion-mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz``: a stratified subset, by default 200 train
  and 50 test images per class, chosen at random with the seed, kept in the original order;
- ``austen/<slug>.txt.gz``: about 40 KB of each novel, from the first chapter on, cut at a line break.
"""

from __future__ import annotations

import argparse
import gzip
import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from lion_attn.data.fashion_mnist import FASHION_MNIST_FILES, find_fashion_mnist, load_fashion_mnist
from lion_attn.data.idx import write_idx
from lion_attn.data.paths import SAMPLE_DIR, data_home
from lion_attn.data.preparation import full_austen_texts

__all__ = ["austen_excerpt", "make_samples", "stratified_indices"]

logger = logging.getLogger(__name__)


def stratified_indices(labels: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """Indices of ``per_class`` random examples of every label, sorted (original order kept)."""
    rng = np.random.default_rng(seed)
    chosen = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        if len(members) < per_class:
            raise ValueError(f"label {label} has {len(members)} examples, fewer than per_class={per_class}")
        chosen.append(rng.choice(members, size=per_class, replace=False))
    return np.sort(np.concatenate(chosen))


def austen_excerpt(text: str, max_chars: int = 40_000) -> str:
    """The first ``max_chars`` characters or fewer of ``text`` from its first chapter, ending at a line break."""
    start = text.find("CHAPTER")
    start = text.find("\n", start) + 1 if start >= 0 else 0
    excerpt = text[start : start + max_chars]
    if len(excerpt) == max_chars and "\n" in excerpt:
        excerpt = excerpt[: excerpt.rfind("\n") + 1]
    return excerpt


def _write_gz_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0))


def make_samples(
    out_dir: str | Path = SAMPLE_DIR,
    fashion_root: str | Path | None = None,
    austen_texts: Mapping[str, str] | None = None,
    train_per_class: int = 200,
    test_per_class: int = 50,
    chars_per_novel: int = 40_000,
    seed: int = 0,
) -> list[Path]:
    """Write the embedded samples.

    Args:
        out_dir: destination (default: the package's ``_sample`` folder).
        fashion_root: folder with the full Fashion-MNIST; default: the normal search (the sample itself is refused).
        austen_texts: the full novels (slug -> text); default: :func:`lion_attn.data.preparation.full_austen_texts`.
        train_per_class: train images per class.
        test_per_class: test images per class.
        chars_per_novel: characters per novel excerpt.
        seed: seed of the image selection.

    Returns:
        The files written.
    """
    out_dir = Path(out_dir)
    written: list[Path] = []
    for split, per_class in (("train", train_per_class), ("test", test_per_class)):
        if find_fashion_mnist(split, fashion_root)[2]:
            raise FileNotFoundError("the full Fashion-MNIST is needed to build the sample (run `lion data` first)")
        images, labels = load_fashion_mnist(split, fashion_root)
        keep = stratified_indices(labels, per_class, seed)
        image_stem, label_stem = FASHION_MNIST_FILES[split]
        written.append(write_idx(out_dir / "fashion-mnist" / f"{image_stem}.gz", images[keep]))
        written.append(write_idx(out_dir / "fashion-mnist" / f"{label_stem}.gz", labels[keep].astype(np.uint8)))
    texts = dict(austen_texts) if austen_texts is not None else full_austen_texts(austen_dir=data_home() / "austen")
    for slug, text in texts.items():
        path = out_dir / "austen" / f"{slug}.txt.gz"
        _write_gz_text(path, austen_excerpt(text, chars_per_novel))
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=SAMPLE_DIR, help="output folder (default: %(default)s)")
    parser.add_argument("--fashion-root", type=Path, default=None, help="folder with the full Fashion-MNIST")
    parser.add_argument("--janeaustenr-deb", type=Path, default=None, help="a downloaded r-cran-janeaustenr .deb")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    texts = full_austen_texts(args.janeaustenr_deb, austen_dir=data_home() / "austen")
    for path in make_samples(args.out, fashion_root=args.fashion_root, austen_texts=texts, seed=args.seed):
        logger.info("%s (%d bytes)", path, path.stat().st_size)


if __name__ == "__main__":
    main()
