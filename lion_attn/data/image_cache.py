"""A pre-resized uint8 copy of an image folder on disk, decoded once, read back by memory map.

Decoding JPEG/PNG files and resizing them costs far more than a training step of a small model; a folder
that fits on disk at the training size is therefore decoded once (in worker processes) into one
``images.npy`` array [N, C, H, W] uint8 and read back with ``numpy.load(mmap_mode="r")``, which costs a
memory copy per image. The cache is keyed by the folder's absolute path, every file's name, size and
modification time, and the output size, channels and fit, so a changed folder or size builds a new one.
It is written into a temporary folder renamed into place, so an interrupted build leaves nothing that
could be mistaken for a finished cache.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from lion_attn.data.image_folder import ImageFolder, LabelledImages

__all__ = ["CachedImages", "cache_key", "cached_image_folder"]

logger = logging.getLogger(__name__)


def cache_key(folder: ImageFolder) -> str:
    """Hex digest identifying ``folder``'s files (path, size, mtime) and its output size, channels and fit."""
    h = hashlib.sha256()
    h.update(json.dumps([str(folder.root.resolve()), folder.image_size, folder.channels, folder.fit]).encode())
    h.update(json.dumps(folder.class_names).encode())
    for path, label in folder.samples:
        st = path.stat()
        h.update(f"{path.relative_to(folder.root)}\0{st.st_size}\0{st.st_mtime_ns}\0{label}\n".encode())
    return h.hexdigest()[:24]


class _Decode(Dataset):
    """Items ``(index, uint8 pixels or an empty tensor if unreadable, error message)``."""

    def __init__(self, folder: ImageFolder) -> None:
        self.folder = folder

    def __len__(self) -> int:
        return len(self.folder.samples)

    def __getitem__(self, index: int) -> tuple[int, torch.Tensor, str]:
        try:
            return index, self.folder._load(self.folder.samples[index][0]), ""
        except ValueError as err:
            return index, torch.empty(0, dtype=torch.uint8), str(err)


class CachedImages(LabelledImages, Dataset):
    """Items ``(uint8 [C, H, W], label)`` of a finished cache folder (see :func:`cached_image_folder`).

    Attributes:
        class_names: Class names in label order.
        targets: Label of every image.
        skipped_files: Files that could not be decoded when the cache was built.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        meta = json.loads((self.folder / "meta.json").read_text())
        self.class_names: list[str] = meta["class_names"]
        self.skipped_files = [Path(p) for p in meta["skipped"]]
        self.images: np.ndarray | None = np.load(self.folder / "images.npy", mmap_mode="r")
        self.targets: list[int] = np.load(self.folder / "labels.npy").tolist()

    def __getstate__(self) -> dict[str, Any]:
        # Loader workers started by "spawn" receive this object pickled: send the path, not the mapped pixels
        # (a memory map pickles as a full copy); each worker maps the file again on first use.
        return {**self.__dict__, "images": None}

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        if self.images is None:
            self.images = np.load(self.folder / "images.npy", mmap_mode="r")
        return torch.from_numpy(np.array(self.images[index])), self.targets[index]


def cached_image_folder(folder: ImageFolder, cache_dir: str | Path, num_workers: int = 0) -> CachedImages:
    """The cache of ``folder`` under ``cache_dir``, built first if it does not exist yet.

    Args:
        folder: A lazy :class:`ImageFolder` (files listed, nothing decoded).
        cache_dir: Parent folder of the caches (one sub-folder per key).
        num_workers: Decoding worker processes (0: decode in this process).

    Raises:
        ValueError: an image is unreadable and ``folder.on_error == "fail"``, or no image is readable.
    """
    target = Path(cache_dir) / cache_key(folder)
    if (target / "meta.json").is_file():
        cached = CachedImages(target)
        logger.info("image cache %s (%d images)", target, len(cached))
        if cached.skipped_files:
            if folder.on_error == "fail":
                raise ValueError(
                    f"cannot read image {cached.skipped_files[0]} (found when the cache {target} was built)"
                )
            _warn_skipped(folder.root, [str(p) for p in cached.skipped_files])
        return cached
    n = len(folder.samples)
    c, (h, w) = folder.channels, folder.image_size
    tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    logger.info("decoding %d images of %s into a %dx%dx%d uint8 cache at %s", n, folder.root, c, h, w, target)
    try:
        _build(folder, tmp, num_workers)
        try:
            os.replace(tmp, target)
        except OSError:
            # Another process finished the same cache first; its copy is identical.
            if not (target / "meta.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return CachedImages(target)


def _build(folder: ImageFolder, tmp: Path, num_workers: int) -> None:
    n = len(folder.samples)
    c, (h, w) = folder.channels, folder.image_size
    images = np.lib.format.open_memmap(tmp / "partial.npy", mode="w+", dtype=np.uint8, shape=(n, c, h, w))
    ok = np.zeros(n, dtype=bool)
    errors: dict[int, str] = {}
    loader = DataLoader(
        _Decode(folder), batch_size=64, num_workers=num_workers, collate_fn=_keep_list, persistent_workers=False
    )
    bar = _progress(n, f"cache {folder.root.name}")
    for items in loader:
        for index, pixels, error in items:
            if error:
                if folder.on_error == "fail":
                    raise ValueError(error)
                errors[index] = error
                continue
            images[index] = pixels.numpy()
            ok[index] = True
        if bar is not None:
            bar.update(len(items))
    if bar is not None:
        bar.close()
    kept = np.flatnonzero(ok)
    if not len(kept):
        raise ValueError(f"image folder {folder.root} holds no readable images")
    skipped = [str(folder.samples[i][0]) for i in sorted(errors)]
    _warn_skipped(folder.root, skipped)
    final = np.lib.format.open_memmap(tmp / "images.npy", mode="w+", dtype=np.uint8, shape=(len(kept), c, h, w))
    for start in range(0, len(kept), 4096):
        final[start : start + 4096] = images[kept[start : start + 4096]]
    final.flush()
    del images, final
    (tmp / "partial.npy").unlink()
    np.save(tmp / "labels.npy", np.asarray([folder.samples[i][1] for i in kept], dtype=np.int64))
    meta: dict[str, Any] = {
        "root": str(folder.root.resolve()),
        "image_size": list(folder.image_size),
        "channels": c,
        "fit": folder.fit,
        "class_names": folder.class_names,
        "kept": len(kept),
        "skipped": skipped,
    }
    # meta.json last: its presence marks a finished cache.
    (tmp / "meta.json").write_text(json.dumps(meta))


def _warn_skipped(root: Path, skipped: list[str]) -> None:
    if skipped:
        more = f" and {len(skipped) - 3} more" if len(skipped) > 3 else ""
        logger.warning(
            "skipped %d unreadable image(s) under %s: %s%s", len(skipped), root, ", ".join(skipped[:3]), more
        )


def _keep_list(items: list[Any]) -> list[Any]:
    return items


def _progress(total: int, desc: str) -> Any:
    if not sys.stderr.isatty():
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=desc, dynamic_ncols=True)
