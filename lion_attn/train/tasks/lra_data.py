"""The data of each Long Range Arena task (Tay et al., ICLR 2021) as token datasets for ``lion train lra``.

Each builder returns an :class:`LRAData`: the evaluation set, the training set (None when only evaluating), the
sequence length the model must accept, the number of classes, the label names and a one-line description.
Pixel and byte values become ids ``value + 4`` so that id 0 stays the padding id of the LRA models.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from lion_attn.train.tasks.sequence import TokenDataset

logger = logging.getLogger(__name__)

# Pixel value v becomes token v + PIXEL_OFFSET, so id 0 stays the padding id of the LRA models.
PIXEL_OFFSET = 4
#: ListOps length windows: the CPU-sized default and LRA's own setting.
LISTOPS_PRESETS: dict[str, dict[str, int]] = {
    "short": {"min_length": 100, "max_length": 256},
    "lra": {"min_length": 500, "max_length": 2000, "max_depth": 10, "max_args": 10},
}


@dataclasses.dataclass
class LRAData:
    """One task's data; ``train`` is None when only evaluating."""

    eval: Dataset
    train: Dataset | None
    max_len: int
    num_classes: int
    label_names: list[str]
    source: str
    pad_id: int = 0


class PairDataset(Dataset):
    """Pairs of token sequences with labels: items are ``((ids1 [T1], ids2 [T2]), label)``."""

    def __init__(self, pairs: list[tuple[list[int], list[int]]], labels: list[int]) -> None:
        if len(pairs) != len(labels):
            raise ValueError(f"{len(pairs)} pairs but {len(labels)} labels")
        self.pairs = [(torch.as_tensor(a, dtype=torch.long), torch.as_tensor(b, dtype=torch.long)) for a, b in pairs]
        self.labels = list(labels)

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> tuple[tuple[torch.Tensor, torch.Tensor], int]:
        return self.pairs[index], self.labels[index]


def _check_counts(a: dict[str, Any]) -> None:
    for key in ("num_train", "num_eval"):
        if a[key] < 1:
            raise ValueError(f"--{key.replace('_', '-')} must be >= 1, got {a[key]}")


def listops_data(a: dict[str, Any], seed: int, for_eval: bool) -> LRAData:
    """Generated ListOps (``--preset short|lra``; explicit lengths override the preset)."""
    from lion_attn.data import LISTOPS_PAD_ID, encode_listops, generate_listops

    _check_counts(a)
    if a["preset"] not in LISTOPS_PRESETS:
        raise ValueError(f"--preset must be one of {list(LISTOPS_PRESETS)}, got {a['preset']!r}")
    gen = {"max_depth": a["max_depth"], "max_args": a["max_args"], **LISTOPS_PRESETS[a["preset"]]}
    for key in ("min_length", "max_length"):
        if a[key]:
            gen[key] = a[key]

    # Separate seeds for the two splits; the data depend on the run seed so --seed changes everything.
    def make(n: int, split_seed: int) -> TokenDataset:
        pairs = generate_listops(n, split_seed, **gen)
        return TokenDataset([encode_listops(t) for t, _ in pairs], [y for _, y in pairs])

    return LRAData(
        eval=make(a["num_eval"], 10_000 + seed),
        train=None if for_eval else make(a["num_train"], seed),
        max_len=gen["max_length"] + 1,
        num_classes=10,
        label_names=[str(d) for d in range(10)],
        source=f"ListOps {gen['min_length']}-{gen['max_length']} tokens, depth <= {gen['max_depth']}",
        pad_id=LISTOPS_PAD_ID,
    )


def _byte_documents(a: dict[str, Any], for_eval: bool, kind: str) -> LRAData:
    """Byte-level documents of the Text task (single) or the Retrieval task (pairs) from the files of ``a``."""
    from lion_attn.data.lra_text import read_lra_pairs, read_lra_text

    if not a["train"] or not a["val"]:
        raise ValueError(f"--task {kind} needs --train FILE and --val FILE (LRA's own data is not available offline)")
    train_path = a["train"]
    val_path = a["eval_data"] if for_eval and a["eval_data"] else a["val"]
    read: Callable[..., tuple[Any, list[int], list[str]]] = read_lra_pairs if kind == "retrieval" else read_lra_text
    dataset: Callable[[Any, list[int]], Dataset] = PairDataset if kind == "retrieval" else TokenDataset
    names = list(a["label_names"]) if for_eval and a["label_names"] else None
    train = None
    if names is None:
        docs, labels, names = read(train_path, a["max_bytes"])
        train = None if for_eval else dataset(docs, labels)
    docs, labels, _ = read(val_path, a["max_bytes"], label_names=names)
    what = "document pairs" if kind == "retrieval" else "documents"
    each = " each" if kind == "retrieval" else ""
    return LRAData(
        eval=dataset(docs, labels),
        train=train,
        max_len=a["max_bytes"],
        num_classes=len(names),
        label_names=names,
        source=f"byte-level {what} from {Path(train_path).name}, <= {a['max_bytes']} bytes{each}",
    )


def text_data(a: dict[str, Any], seed: int, for_eval: bool) -> LRAData:
    """Byte-level documents from JSONL/CSV (``text``, ``label``)."""
    return _byte_documents(a, for_eval, "text")


def retrieval_data(a: dict[str, Any], seed: int, for_eval: bool) -> LRAData:
    """Byte-level document pairs from JSONL (``text1``, ``text2``, ``label``)."""
    return _byte_documents(a, for_eval, "retrieval")


def _seeded_rows(n: int, limit: int, seed: int) -> np.ndarray | None:
    if not limit or limit >= n:
        return None
    return np.sort(np.random.default_rng(seed).permutation(n)[:limit])


def image_data(a: dict[str, Any], seed: int, for_eval: bool) -> LRAData:
    """Grey pixel sequences: Fashion-MNIST (padded to 32 x 32 by default) or an image folder (``--data DIR``)."""
    if a["data"]:
        return _image_folder_data(a, seed, for_eval)
    from lion_attn.data import FASHION_MNIST_CLASSES, load_fashion_mnist, pixel_sequences

    pad_to = a["pad_to"] or None

    def make(split: str, limit: int, split_seed: int) -> TokenDataset:
        images, labels = load_fashion_mnist(split, a["fashion_mnist"] or None)
        rows = _seeded_rows(len(labels), limit, split_seed)
        if rows is not None:
            images, labels = images[rows], labels[rows]
        seqs = pixel_sequences(images, pad_to).astype("int64") + PIXEL_OFFSET
        return TokenDataset(list(seqs), labels.tolist())

    max_len = pad_to or 784
    return LRAData(
        eval=make("test", a["val_limit"], seed + 1),
        train=None if for_eval else make("train", a["train_limit"], seed),
        max_len=max_len,
        num_classes=10,
        label_names=list(FASHION_MNIST_CLASSES),
        source=f"Fashion-MNIST pixel sequences of {max_len}",
    )


def _folder_tokens(root: Path, size: int, names: list[str] | None) -> tuple[TokenDataset, list[str]]:
    from lion_attn.data import ImageFolder

    folder = ImageFolder(root, size, channels=1, fit="resize", class_names=names, cache=True)
    seqs = [(torch.round(folder[i][0].reshape(-1) * 255).long() + PIXEL_OFFSET) for i in range(len(folder))]
    return TokenDataset([s.tolist() for s in seqs], list(folder.targets)), list(folder.class_names)


def _image_folder_data(a: dict[str, Any], seed: int, for_eval: bool) -> LRAData:
    root = Path(a["data"])
    size = a["image_size"]
    if size < 1:
        raise ValueError(f"--image-size must be >= 1, got {size}")
    for split in ("train", "val"):
        if not (root / split).is_dir():
            raise ValueError(f"--data {root} must hold train/ and val/ folders of class sub-folders")
    names = list(a["label_names"]) if for_eval and a["label_names"] else None
    train = None
    if names is None:
        train, names = _folder_tokens(root / "train", size, None)
    eval_root = Path(a["eval_data"]) if for_eval and a["eval_data"] else root / "val"
    evaluation, _ = _folder_tokens(eval_root, size, names)
    return LRAData(
        eval=evaluation,
        train=None if for_eval else train,
        max_len=size * size,
        num_classes=len(names),
        label_names=names,
        source=f"grey {size}x{size} pixel sequences from {root}",
    )


def pathfinder_data(a: dict[str, Any], seed: int, for_eval: bool) -> LRAData:
    """Generated Pathfinder at ``--resolution`` (128 is Path-X), cached under ``--cache``."""
    from lion_attn.data import data_home
    from lion_attn.data.pathfinder import PATHFINDER_RESOLUTIONS, pathfinder_config
    from lion_attn.data.pathfinder_cache import load_or_generate_pathfinder

    _check_counts(a)
    if a["resolution"] not in PATHFINDER_RESOLUTIONS:
        raise ValueError(f"--resolution must be one of {PATHFINDER_RESOLUTIONS}, got {a['resolution']}")
    config = pathfinder_config(a["resolution"], a["difficulty"])
    cache = Path(a["cache"]) if a["cache"] else data_home() / "pathfinder"

    def make(n: int, split_seed: int) -> TokenDataset:
        images, labels = load_or_generate_pathfinder(
            cache, config, n, split_seed, workers=a["workers"], progress=a["progress"]
        )
        seqs = images.reshape(n, -1).astype(np.int64) + PIXEL_OFFSET
        return TokenDataset(list(seqs), labels.tolist())

    res = a["resolution"]
    return LRAData(
        eval=make(a["num_eval"], 10_000 + seed),
        train=None if for_eval else make(a["num_train"], seed),
        max_len=res * res,
        num_classes=2,
        label_names=["not connected", "connected"],
        source=f"{'Path-X' if res == 128 else 'Pathfinder'} {res}x{res} ({a['difficulty']}) = {res * res} tokens",
    )


BUILDERS = {
    "listops": listops_data,
    "text": text_data,
    "retrieval": retrieval_data,
    "image": image_data,
    "pathfinder": pathfinder_data,
}
