"""Pathfinder data sets: generated in parallel, cached on disk, and shown as a labelled sheet of examples.

A data set is fixed by its :class:`~lion_attn.data.pathfinder.PathfinderConfig`, its seed and its size; the
cache file's name carries a hash of all three, so changing any of them makes a new file. Example ``i`` is
positive when ``i`` is odd (exactly balanced for an even size; training shuffles anyway). Files are written to a
temporary name and renamed, so an interrupted generation never leaves a half-written cache behind.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import multiprocessing
import os
from pathlib import Path

import numpy as np

from lion_attn.data.pathfinder import PathfinderConfig, generate_pathfinder_example

__all__ = ["load_or_generate_pathfinder", "make_pathfinder", "pathfinder_cache_path", "write_pathfinder_sheet"]

logger = logging.getLogger(__name__)

# Bump when the drawing changes, so that old caches are not reused.
GENERATOR_VERSION = 1
_CHUNK = 64


def _label(index: int) -> bool:
    return index % 2 == 1


def _make_chunk(args: tuple[PathfinderConfig, int, int, int]) -> tuple[int, np.ndarray]:
    config, seed, start, stop = args
    images = np.stack([generate_pathfinder_example(config, seed, i, _label(i)) for i in range(start, stop)])
    return start, images


def make_pathfinder(
    config: PathfinderConfig, num: int, seed: int, workers: int = 0, progress: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Generate ``num`` examples, in ``workers`` processes.

    Args:
        config: The geometry.
        num: Number of examples.
        seed: Data-set seed.
        workers: Processes (0: ``os.cpu_count()``; 1: in this process).
        progress: Show a progress bar (tqdm) on stderr.

    Returns:
        ``images`` [num, R, R] uint8 and ``labels`` [num] int64 (1 = markers on one contour).
    """
    if num < 0:
        raise ValueError(f"num must be >= 0, got {num}")
    size = config.resolution
    images = np.zeros((num, size, size), dtype=np.uint8)
    labels = np.array([int(_label(i)) for i in range(num)], dtype=np.int64)
    jobs = [(config, seed, start, min(start + _CHUNK, num)) for start in range(0, num, _CHUNK)]
    workers = workers or os.cpu_count() or 1
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=num, desc=f"pathfinder {size}px", unit="img", dynamic_ncols=True)
    try:
        if workers == 1 or len(jobs) <= 1:
            results = map(_make_chunk, jobs)
            pool = None
        else:
            # fork starts workers in milliseconds and they need nothing but numpy; spawn elsewhere.
            methods = multiprocessing.get_all_start_methods()
            pool = multiprocessing.get_context("fork" if "fork" in methods else None).Pool(min(workers, len(jobs)))
            results = pool.imap_unordered(_make_chunk, jobs)
        for start, chunk in results:
            images[start : start + len(chunk)] = chunk
            if bar is not None:
                bar.update(len(chunk))
        if pool is not None:
            pool.close()
            pool.join()
    finally:
        if bar is not None:
            bar.close()
    return images, labels


def pathfinder_cache_path(folder: str | Path, config: PathfinderConfig, num: int, seed: int) -> Path:
    """Where a data set is cached: ``folder/pathfinder{R}-c{L}-n{num}-seed{seed}-{hash}.npz``."""
    key = json.dumps({"config": dataclasses.asdict(config), "num": num, "seed": seed, "v": GENERATOR_VERSION})
    digest = hashlib.sha256(key.encode()).hexdigest()[:10]
    name = f"pathfinder{config.resolution}-c{config.contour_length}-n{num}-seed{seed}-{digest}.npz"
    return Path(folder).expanduser() / name


def load_or_generate_pathfinder(
    folder: str | Path,
    config: PathfinderConfig,
    num: int,
    seed: int,
    workers: int = 0,
    progress: bool = True,
    sheet: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Read a cached data set, or generate it, write it atomically and (by default) a sheet beside it.

    Args:
        folder: Cache folder.
        config: The geometry.
        num: Number of examples.
        seed: Data-set seed.
        workers: Processes for generation (0: all CPUs).
        progress: Show a progress bar while generating.
        sheet: Also write ``<cache>.png``, a labelled sheet of the first examples.

    Returns:
        ``images`` [num, R, R] uint8 and ``labels`` [num] int64.
    """
    path = pathfinder_cache_path(folder, config, num, seed)
    if path.is_file():
        with np.load(path) as data:
            images, labels = data["images"], data["labels"]
        if images.shape == (num, config.resolution, config.resolution) and labels.shape == (num,):
            logger.info("pathfinder: read %d cached examples from %s", num, path)
            return images, labels
        logger.warning("pathfinder: %s has the wrong shape; generating it again", path)
    logger.info("pathfinder: generating %d examples of %dpx into %s", num, config.resolution, path)
    images, labels = make_pathfinder(config, num, seed, workers=workers, progress=progress)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            np.savez(handle, images=images, labels=labels)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    if sheet and num:
        write_pathfinder_sheet(images, labels, path.with_suffix(".png"))
    return images, labels


def write_pathfinder_sheet(
    images: np.ndarray, labels: np.ndarray, path: str | Path, count: int = 16, columns: int = 4, scale: int = 0
) -> Path:
    """Write a PNG grid of examples, each framed green (markers connected) or red (not) and captioned.

    Args:
        images: [N, R, R] uint8.
        labels: [N] (1 = connected).
        path: Output PNG.
        count: How many examples (the first ``count``).
        columns: Examples per row.
        scale: Pixel magnification (0: about 160 px per example).

    Returns:
        The path written.
    """
    from PIL import Image, ImageDraw

    count = min(count, len(images))
    if count == 0:
        raise ValueError("write_pathfinder_sheet needs at least one image")
    size = images.shape[-1]
    scale = scale or max(1, 160 // size)
    cell, border, caption = size * scale, 4, 18
    rows = -(-count // columns)
    sheet = Image.new("RGB", (columns * (cell + 2 * border), rows * (cell + 2 * border + caption)), "white")
    draw = ImageDraw.Draw(sheet)
    for i in range(count):
        x = (i % columns) * (cell + 2 * border)
        y = (i // columns) * (cell + 2 * border + caption)
        positive = bool(labels[i])
        colour = (0, 160, 0) if positive else (200, 0, 0)
        draw.rectangle([x, y, x + cell + 2 * border - 1, y + cell + 2 * border - 1], fill=colour)
        tile = Image.fromarray(images[i]).resize((cell, cell), Image.NEAREST).convert("RGB")
        sheet.paste(tile, (x + border, y + border))
        text = f"#{i} {'connected (1)' if positive else 'not connected (0)'}"
        draw.text((x + border, y + cell + 2 * border + 2), text, fill=colour)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    sheet.save(tmp, format="PNG")
    os.replace(tmp, path)
    return path
