"""Fashion-MNIST (Xiao et al., 2017): 70k grey 28x28 images of clothing, 10 balanced classes, MIT licence.

Read from local IDX files only; nothing is downloaded. ``lion data`` (see :mod:`lion_attn.data.preparation`)
places the files under the data home; a 2,500-image stratified sample ships inside the package so that every
default also runs where the full data set cannot be installed.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from lion_attn.data.idx import read_idx
from lion_attn.data.paths import SAMPLE_DIR, SYSTEM_FASHION_MNIST_DIR, data_home

__all__ = [
    "FASHION_MNIST_CLASSES",
    "FASHION_MNIST_FILES",
    "find_fashion_mnist",
    "load_fashion_mnist",
    "pixel_sequences",
]

logger = logging.getLogger(__name__)

FASHION_MNIST_CLASSES: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

#: split -> (images file stem, labels file stem); each may exist raw or with a ``.gz`` suffix.
FASHION_MNIST_FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

_SAMPLE_FASHION_MNIST_DIR = SAMPLE_DIR / "fashion-mnist"


def _resolve(folder: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem):
        if (folder / name).is_file():
            return folder / name
    return None


def _split_files(folder: Path, split: str) -> tuple[Path, Path] | None:
    image_stem, label_stem = FASHION_MNIST_FILES[split]
    images, labels = _resolve(folder, image_stem), _resolve(folder, label_stem)
    if images is None or labels is None:
        return None
    return images, labels


def find_fashion_mnist(split: str = "train", root: str | Path | None = None) -> tuple[Path, Path, bool]:
    """Locate the IDX files of one split.

    Search order: ``root`` (the folder itself or ``root/fashion-mnist``), ``<data home>/fashion-mnist``
    (``$LION_DATA`` or ``~/.cache/lion-attn/data``), ``/usr/share/datasets/fashion-mnist``, the embedded sample.

    Args:
        split: ``"train"`` or ``"test"``.
        root: an explicit folder. When given, it must hold the files: a wrong path is an error rather than a
            silent fallback to other locations.

    Returns:
        ``(images_path, labels_path, is_sample)``.
    """
    if split not in FASHION_MNIST_FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if root is not None:
        root = Path(root).expanduser()
        for folder in (root, root / "fashion-mnist"):
            found = _split_files(folder, split)
            if found is not None:
                return (*found, False)
        names = ", ".join(f"{stem}[.gz]" for stem in FASHION_MNIST_FILES[split])
        raise FileNotFoundError(
            f"Fashion-MNIST {split} files ({names}) not found in {root} or {root / 'fashion-mnist'}"
        )
    for folder in (data_home() / "fashion-mnist", SYSTEM_FASHION_MNIST_DIR):
        found = _split_files(folder, split)
        if found is not None:
            return (*found, False)
    found = _split_files(_SAMPLE_FASHION_MNIST_DIR, split)
    if found is None:
        raise FileNotFoundError(f"Fashion-MNIST not found and the embedded sample is missing from {SAMPLE_DIR}")
    return (*found, True)


def load_fashion_mnist(split: str = "train", root: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Load one split of Fashion-MNIST.

    Args:
        split: ``"train"`` (60,000 images) or ``"test"`` (10,000 images).
        root: optional folder holding the IDX files; see :func:`find_fashion_mnist` for the search order. When
            nothing else is found, the embedded sample (2,000 train / 500 test images) is returned with a warning.

    Returns:
        ``(images, labels)``: images uint8 [N, 28, 28], labels int64 [N] in 0..9 (see ``FASHION_MNIST_CLASSES``).

    Raises:
        ValueError: a file is corrupt, or images and labels disagree.
        FileNotFoundError: ``root`` was given but holds no Fashion-MNIST files.
    """
    images_path, labels_path, is_sample = find_fashion_mnist(split, root)
    if is_sample:
        logger.warning(
            "Fashion-MNIST not found; using the small embedded SAMPLE (%s split) from %s. "
            "Run `lion data` (or `apt-get install dataset-fashion-mnist`) for the full data set.",
            split,
            images_path.parent,
        )
    else:
        logger.info("Fashion-MNIST %s split from %s", split, images_path.parent)
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"{images_path}: expected images of shape [N, 28, 28], got {list(images.shape)}")
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise ValueError(
            f"{labels_path}: expected {images.shape[0]} labels of shape [N] to match {images_path}, "
            f"got shape {list(labels.shape)}"
        )
    if labels.size and int(labels.max()) >= len(FASHION_MNIST_CLASSES):
        raise ValueError(f"{labels_path}: label {int(labels.max())} out of range 0..9")
    return images, labels.astype(np.int64)


def pixel_sequences(images: np.ndarray, pad_to: int | None = None) -> np.ndarray:
    """Flatten images into pixel sequences for the LRA "image" task.

    Args:
        images: uint8 [N, H, W] grey images.
        pad_to: None keeps ``H * W`` pixels (784 for Fashion-MNIST). An integer that is a perfect square ``S*S``
            (e.g. 1024) zero-pads each image centred to S x S before flattening, as for 32x32 CIFAR in LRA.

    Returns:
        [N, H*W] or [N, pad_to] array with the dtype of ``images``.
    """
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"images must have shape [N, H, W], got {list(images.shape)}")
    n, h, w = images.shape
    if pad_to is None:
        return images.reshape(n, h * w)
    side = round(pad_to**0.5)
    if side * side != pad_to:
        raise ValueError(f"pad_to must be a perfect square (e.g. 1024 = 32*32), got {pad_to}")
    if side < h or side < w:
        raise ValueError(f"pad_to={pad_to} ({side}x{side}) is smaller than the images ({h}x{w})")
    top, left = (side - h) // 2, (side - w) // 2
    padded = np.zeros((n, side, side), dtype=images.dtype)
    padded[:, top : top + h, left : left + w] = images
    return padded.reshape(n, pad_to)
