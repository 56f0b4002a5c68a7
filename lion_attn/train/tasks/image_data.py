"""Data choices of the image task that make any folder work with any ViT preset.

- :func:`choose_sizes`: an image size the model's patch divides (the preset's own, or the nearest multiple of
  its patch to the size asked for).
- :func:`stratified_split`: a seeded validation split carved from the training images, per class.
- :func:`open_folder`: a folder as a data set of uint8 images, from a pre-resized disk cache when it fits,
  else decoded lazily in loader workers.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

logger = logging.getLogger(__name__)

__all__ = ["choose_sizes", "class_counts", "open_folder", "stratified_split"]


def _side(size: Any) -> int:
    if isinstance(size, int):
        return size
    sides = tuple(size)
    if len(sides) != 2 or sides[0] != sides[1]:
        raise ValueError(f"the image task uses square images; the preset's img_size is {size!r}")
    return int(sides[0])


def choose_sizes(model: str, image_size: int = 0, patch_size: int = 0) -> tuple[int, int, str]:
    """Image and patch size for ``model``: those given, else the preset's, made consistent.

    Args:
        model: Registry name of a ViT preset.
        image_size: Requested image side (0: the preset's).
        patch_size: Requested patch side (0: the preset's).

    Returns:
        ``(image_size, patch_size, note)``; ``note`` says what was changed and why ("" if nothing was).

    Raises:
        ValueError: the model is not a vision model, a size is negative, or both sizes were given and the
            patch does not divide the image.
    """
    from lion_attn.models import get_model_config, list_models

    if model not in list_models():
        raise ValueError(f"--model {model!r} is not a registered model; choose from: {', '.join(list_models())}")
    cfg = get_model_config(model)
    if not hasattr(cfg, "patch_size") or not hasattr(cfg, "img_size"):
        raise ValueError(f"--model {model!r} is not an image model (it has no img_size / patch_size)")
    if image_size < 0 or patch_size < 0:
        raise ValueError(
            f"--image-size and --patch-size must be >= 0 (0: the preset's), got {image_size}, {patch_size}"
        )
    patch = patch_size or int(cfg.patch_size)
    side = image_size or _side(cfg.img_size)
    if side % patch == 0:
        return side, patch, ""
    if image_size and patch_size:
        raise ValueError(f"--patch-size {patch_size} does not divide --image-size {image_size}")
    # The nearest multiple of the patch; ties go up (a larger image loses no detail).
    new = patch * max(1, (2 * side + patch) // (2 * patch))
    return new, patch, f"image size {side} -> {new}: the nearest size that patch size {patch} divides"


def stratified_split(targets: Sequence[int], fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Split indices into train and validation, per class, seeded.

    Each class gives ``round(fraction * n)`` of its ``n`` images to validation, but always keeps at least one
    for training; a class with at least two images gives at least one to validation when ``fraction > 0``.

    Returns:
        ``(train_indices, val_indices)``, each sorted.
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"--val-fraction must be in [0, 1), got {fraction}")
    by_class: dict[int, list[int]] = {}
    for i, t in enumerate(targets):
        by_class.setdefault(int(t), []).append(i)
    gen = torch.Generator().manual_seed(seed * 7919 + 17)
    train, val = [], []
    for label in sorted(by_class):
        idx = by_class[label]
        n = len(idx)
        n_val = min(n - 1, max(1 if fraction > 0 and n >= 2 else 0, round(fraction * n)))
        order = torch.randperm(n, generator=gen).tolist()
        val += [idx[j] for j in order[:n_val]]
        train += [idx[j] for j in order[n_val:]]
    return sorted(train), sorted(val)


def class_counts(targets: Sequence[int], names: Sequence[str]) -> str:
    """One line: number of classes and images per class (all of them if few, else the range)."""
    counts = Counter(int(t) for t in targets)
    per = [counts.get(i, 0) for i in range(len(names))]
    if len(names) <= 12:
        shown = ", ".join(f"{n} {c}" for n, c in zip(names, per, strict=True))
    else:
        shown = f"{min(per)}-{max(per)} per class" if min(per) != max(per) else f"{min(per)} per class"
    empty = [n for n, c in zip(names, per, strict=True) if c == 0]
    return f"{len(names)} classes ({shown})" + (f"; no images: {empty[:5]}" if empty else "")


def open_folder(
    root: Path,
    image_size: int,
    channels: int,
    fit: str,
    on_error: str,
    class_names: Sequence[str] | None,
    cache: str,
    cache_dir: Path,
    cache_max_gb: float,
    num_workers: int,
) -> Dataset:
    """``root/<class>/<image>`` as items ``(uint8 [C, H, W], label)``.

    Args:
        cache: ``"on"``, ``"off"`` or ``"auto"`` (on when the uint8 copy needs at most ``cache_max_gb``).
        cache_dir: Where caches live (one sub-folder per folder, size and file list).
        num_workers: Processes that decode while the cache is built.

    The returned data set has ``class_names``, ``targets`` and ``num_skipped``.
    """
    from lion_attn.data.image_cache import cached_image_folder
    from lion_attn.data.image_folder import ImageFolder

    if cache not in ("auto", "on", "off"):
        raise ValueError(f"--cache must be 'auto', 'on' or 'off', got {cache!r}")
    lazy = ImageFolder(
        root, image_size, channels, fit=fit, on_error=on_error, class_names=class_names, lazy=True, output="uint8"
    )
    gigabytes = len(lazy) * channels * image_size * image_size / 1e9
    if cache == "on" or (cache == "auto" and gigabytes <= cache_max_gb):
        return cached_image_folder(lazy, cache_dir, num_workers=num_workers)
    why = (
        "--cache off" if cache == "off" else f"a {gigabytes:.1f} GB cache would exceed --cache-max-gb {cache_max_gb:g}"
    )
    logger.info("%s: %d images decoded on the fly (%s); an unreadable file stops the run", root, len(lazy), why)
    return lazy
