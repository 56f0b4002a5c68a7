"""Backend of ``lion data``: put the default data sets under the data home as plain files.

Sources are Debian packages (see the project's ``shared/data.md``): ``dataset-fashion-mnist`` is installed with
``apt-get install`` when missing (needs root); ``r-cran-janeaustenr`` is only downloaded (``apt-get download``)
and unpacked, never installed, because installing it pulls in all of R. Output layout under ``dest``::

    fashion-mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz
    austen/<slug>.txt                       # the six novels, UTF-8
    austen-cls/{train,val}.jsonl            # "which novel" passages, fields "text" and "label"
    austen-cls/meta.json                    # the passage settings used

Running it again does nothing unless ``force`` is set or the passage settings change.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path

from lion_attn.data.austen import (
    AUSTEN_NOVELS,
    austen_passages,
    extract_janeaustenr_deb,
    read_austen_dir,
    read_janeaustenr_rdata,
)
from lion_attn.data.fashion_mnist import FASHION_MNIST_FILES
from lion_attn.data.jsonl import write_jsonl_classification
from lion_attn.data.paths import SYSTEM_FASHION_MNIST_DIR, SYSTEM_JANEAUSTENR_DIR, data_home

__all__ = ["DATASETS", "DataPrepareError", "full_austen_texts", "prepare"]

logger = logging.getLogger(__name__)

DATASETS: tuple[str, ...] = ("fashion-mnist", "austen")
FASHION_MNIST_PACKAGE = "dataset-fashion-mnist"
JANEAUSTENR_PACKAGE = "r-cran-janeaustenr"
_SAMPLE_NOTE = "Until then the small sample embedded in lion-attn is used by default."


class DataPrepareError(RuntimeError):
    """Some data set could not be prepared. ``results`` holds the per-data-set report of :func:`prepare`."""

    def __init__(self, message: str, results: dict):
        super().__init__(message)
        self.results = results


def _apt_get() -> str | None:
    return shutil.which("apt-get")


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _run(cmd: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    logger.info("running: %s", " ".join(cmd))
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)


def _fashion_files(folder: Path) -> list[Path] | None:
    files = [folder / f"{stem}.gz" for pair in FASHION_MNIST_FILES.values() for stem in pair]
    for path in files:
        try:
            with gzip.open(path, "rb") as handle:
                magic = handle.read(4)
        except (OSError, EOFError):
            return None
        if len(magic) != 4 or magic[:3] != b"\x00\x00\x08":
            return None
    return files


def _install_fashion_mnist() -> None:
    apt_get = _apt_get()
    if apt_get is None:
        raise FileNotFoundError(
            f"Fashion-MNIST is not installed ({SYSTEM_FASHION_MNIST_DIR} missing) and apt-get is not available "
            f"on this machine; copy the four *-ubyte.gz files into <data home>/fashion-mnist yourself. {_SAMPLE_NOTE}"
        )
    if not _is_root():
        raise PermissionError(
            f"Fashion-MNIST is not installed; run `sudo apt-get install -y {FASHION_MNIST_PACKAGE}` "
            f"and then `lion data` again. {_SAMPLE_NOTE}"
        )
    result = _run([apt_get, "install", "-y", "--no-install-recommends", FASHION_MNIST_PACKAGE])
    if result.returncode != 0:
        raise RuntimeError(
            f"`apt-get install {FASHION_MNIST_PACKAGE}` failed: {result.stderr.strip()[-500:]}. {_SAMPLE_NOTE}"
        )


def _prepare_fashion_mnist(dest: Path, force: bool) -> dict:
    target = dest / "fashion-mnist"
    if not force and _fashion_files(target):
        return {"status": "present", "path": str(target)}
    if _fashion_files(SYSTEM_FASHION_MNIST_DIR) is None:
        _install_fashion_mnist()
    sources = _fashion_files(SYSTEM_FASHION_MNIST_DIR)
    if sources is None:
        raise FileNotFoundError(f"{FASHION_MNIST_PACKAGE} did not provide the files in {SYSTEM_FASHION_MNIST_DIR}")
    target.mkdir(parents=True, exist_ok=True)
    for source in sources:
        tmp = target / (source.name + ".tmp")
        shutil.copyfile(source, tmp)
        tmp.replace(target / source.name)
    return {"status": "prepared", "path": str(target), "source": str(SYSTEM_FASHION_MNIST_DIR)}


def _download_janeaustenr(workdir: Path) -> Path:
    apt_get = _apt_get()
    if apt_get is None:
        raise FileNotFoundError(f"apt-get is not available to download {JANEAUSTENR_PACKAGE}. {_SAMPLE_NOTE}")
    result = _run([apt_get, "download", JANEAUSTENR_PACKAGE], cwd=workdir)
    if result.returncode != 0 and _is_root():
        # A fresh machine may have no package lists yet.
        _run([apt_get, "update"])
        result = _run([apt_get, "download", JANEAUSTENR_PACKAGE], cwd=workdir)
    debs = sorted(workdir.glob(f"{JANEAUSTENR_PACKAGE}_*.deb"))
    if result.returncode != 0 or not debs:
        raise RuntimeError(
            f"`apt-get download {JANEAUSTENR_PACKAGE}` failed: {result.stderr.strip()[-500:]}. {_SAMPLE_NOTE}"
        )
    return debs[-1]


def full_austen_texts(
    janeaustenr_deb: str | Path | None = None, austen_dir: str | Path | None = None
) -> dict[str, str]:
    """The six complete novels, slug -> text, from the first source that has them.

    Sources: ``janeaustenr_deb`` if given; ``austen_dir`` if given and it holds all six as ``<slug>.txt``; an
    installed ``r-cran-janeaustenr``; else the package is downloaded with ``apt-get download`` into a temporary
    folder (never installed).
    """
    with tempfile.TemporaryDirectory(prefix="lion-austen-") as tmp:
        workdir = Path(tmp)
        if janeaustenr_deb is not None:
            return read_janeaustenr_rdata(extract_janeaustenr_deb(janeaustenr_deb, workdir / "x"))
        texts = read_austen_dir(austen_dir) if austen_dir is not None and Path(austen_dir).is_dir() else {}
        if all(slug in texts for slug in AUSTEN_NOVELS):
            return {slug: texts[slug] for slug in AUSTEN_NOVELS}
        if (SYSTEM_JANEAUSTENR_DIR / "Rdata.rdb").is_file():
            return read_janeaustenr_rdata(SYSTEM_JANEAUSTENR_DIR)
        deb = _download_janeaustenr(workdir)
        return read_janeaustenr_rdata(extract_janeaustenr_deb(deb, workdir / "x"))


def _prepare_austen(dest: Path, force: bool, janeaustenr_deb: str | Path | None) -> dict:
    target = dest / "austen"
    if not force and all((target / f"{slug}.txt").is_file() for slug in AUSTEN_NOVELS):
        return {"status": "present", "path": str(target)}
    texts = full_austen_texts(janeaustenr_deb)
    target.mkdir(parents=True, exist_ok=True)
    for slug, text in texts.items():
        tmp = target / f"{slug}.txt.tmp"
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(target / f"{slug}.txt")
    words = sum(len(text.split()) for text in texts.values())
    return {"status": "prepared", "path": str(target), "novels": len(texts), "words": words}


def _prepare_austen_cls(dest: Path, force: bool, settings: dict) -> dict:
    target = dest / "austen-cls"
    meta_path = target / "meta.json"
    files = {"train": target / "train.jsonl", "val": target / "val.jsonl"}
    if not force and meta_path.is_file() and all(p.is_file() for p in files.values()):
        try:
            if json.loads(meta_path.read_text(encoding="utf-8")).get("settings") == settings:
                return {"status": "present", "path": str(target), **{k: str(v) for k, v in files.items()}}
        except json.JSONDecodeError:
            pass
    texts = read_austen_dir(dest / "austen")
    train, val = austen_passages(texts, **settings)
    counts = {split: write_jsonl_classification(files[split], rows) for split, rows in (("train", train), ("val", val))}
    meta = {"settings": settings, "labels": list(texts), "counts": counts}
    meta_path.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return {"status": "prepared", "path": str(target), **{k: str(v) for k, v in files.items()}, "counts": counts}


def prepare(
    dest: str | Path | None = None,
    what: Iterable[str] = DATASETS,
    force: bool = False,
    *,
    janeaustenr_deb: str | Path | None = None,
    words_per_passage: int = 128,
    seed: int = 0,
    val_fraction: float = 0.1,
) -> dict:
    """Prepare the default data sets under ``dest``.

    Args:
        dest: destination folder; default ``$LION_DATA`` or ``~/.cache/lion-attn/data`` (where the loaders look).
        what: any of ``"fashion-mnist"`` and ``"austen"`` (the latter also writes ``austen-cls``).
        force: redo everything even when the files are present.
        janeaustenr_deb: use this downloaded ``r-cran-janeaustenr`` .deb instead of apt.
        words_per_passage: passage length of the ``austen-cls`` task.
        seed: seed of the ``austen-cls`` split.
        val_fraction: validation fraction of the ``austen-cls`` task.

    Returns:
        ``{"dest": str, <name>: {"status": "prepared" | "present", "path": str, ...}}`` for each prepared item
        (``"fashion-mnist"``, ``"austen"``, ``"austen-cls"``).

    Raises:
        ValueError: an unknown data set name.
        DataPrepareError: some item could not be prepared (e.g. no apt-get, not root, no network); the message
            says why and that the embedded sample stays in use; ``err.results`` has the items that did succeed,
            and the failed ones with ``{"status": "unavailable", "error": ...}``.
    """
    what = tuple(what)
    unknown = [name for name in what if name not in DATASETS]
    if unknown:
        raise ValueError(f"unknown data set(s) {unknown}; choose from {DATASETS}")
    dest = Path(dest).expanduser() if dest is not None else data_home()
    dest.mkdir(parents=True, exist_ok=True)
    results: dict = {"dest": str(dest)}
    errors: list[str] = []
    steps = []
    if "fashion-mnist" in what:
        steps.append(("fashion-mnist", lambda: _prepare_fashion_mnist(dest, force)))
    if "austen" in what:
        settings = {"words_per_passage": words_per_passage, "seed": seed, "val_fraction": val_fraction}
        steps.append(("austen", lambda: _prepare_austen(dest, force, janeaustenr_deb)))
        steps.append(("austen-cls", lambda: _prepare_austen_cls(dest, force, settings)))
    for name, step in steps:
        if name == "austen-cls" and results.get("austen", {}).get("status") == "unavailable":
            results[name] = {"status": "unavailable", "error": "the Austen novels are not available"}
            continue
        try:
            results[name] = step()
            logger.info("%s: %s (%s)", name, results[name]["status"], results[name]["path"])
        except (OSError, RuntimeError, ValueError) as err:
            results[name] = {"status": "unavailable", "error": str(err)}
            errors.append(f"{name}: {err}")
    if errors:
        raise DataPrepareError("could not prepare every data set:\n  " + "\n  ".join(errors), results)
    return results
