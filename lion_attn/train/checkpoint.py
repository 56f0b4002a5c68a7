"""Atomic checkpoints: ``OUT/checkpoints/{last,best}/``.

A checkpoint is a folder holding the model as written by its own ``save_pretrained`` (``config.json`` +
weights), so ``lion_attn.models.load_pretrained`` rebuilds it with no training code, plus
``trainer_state.pt`` with everything needed to continue the run bit for bit: the run state (step, epoch,
position within the epoch, schedule, best metric), the optimiser, the RNG states of torch (CPU and every
CUDA device), numpy and python, the run config and the task's own state (label names, tokenizer folder, ...).

Loading never runs code: the trainer state holds only tensors and plain values (numbers, strings, lists,
dicts), written so that ``torch.load(weights_only=True)`` reads it, and it is read only that way. A file
that needs the full unpickler (a crafted one, or one from an older version) is refused with
:class:`CheckpointError` before anything in it is executed.

Every write goes to a temporary sibling first and is moved into place with ``os.replace``; a folder is
built under a temporary name and swapped in, so an interrupted write never corrupts the previous
checkpoint. If a crash falls between the two renames of the swap, the previous folder survives under a
``.old-`` name and :func:`resolve_checkpoint` recovers it.
"""

from __future__ import annotations

import logging
import os
import pickle
import random
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

logger = logging.getLogger(__name__)

STATE_FILE = "trainer_state.pt"
# Version of the trainer state's layout; 1 was a full pickle (numpy arrays), which is no longer read.
STATE_FORMAT = 2
CKPT_DIR = "checkpoints"


class CheckpointError(ValueError):
    """A checkpoint path is missing, incomplete or incompatible."""


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temp file in the same folder and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Text version of :func:`atomic_write_bytes` (UTF-8)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_torch_save(obj: Any, path: Path) -> None:
    """``torch.save`` through a temp file and ``os.replace``."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def rng_state() -> dict[str, Any]:
    """Capture the torch (CPU and, where present, every CUDA device), numpy and python RNG states.

    Returns:
        Tensors and plain values only, so that the weights-only loader reads them back.
    """
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "kind": str(kind),
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "python": {"version": int(version), "internal": list(internal), "gauss": gauss},
    }
    if torch.cuda.is_available():
        state["cuda"] = [s.cpu() for s in torch.cuda.get_rng_state_all()]
        state["cuda_current"] = int(torch.cuda.current_device())
    return state


def set_rng_state(state: dict[str, Any], device: torch.device | None = None) -> None:
    """Restore states captured by :func:`rng_state`.

    CUDA states are restored when this process sees CUDA devices; a checkpoint written on a GPU machine
    resumes on a CPU-only one without them (the CPU, numpy and python streams are still exact).

    Args:
        state: The captured states.
        device: This process's device. Data-parallel processes seed alike and draw alike, each on its own
            GPU, and only the first one saves: a process on another GPU than the saver's gets the saver's
            own GPU state on its GPU.
    """
    torch.set_rng_state(state["torch"])
    npy = state["numpy"]
    keys = npy["keys"].numpy().astype(np.uint32)
    np.random.set_state((npy["kind"], keys, npy["pos"], npy["has_gauss"], npy["cached_gaussian"]))
    py = state["python"]
    random.setstate((py["version"], tuple(py["internal"]), py["gauss"]))
    cuda = state.get("cuda")
    if cuda and torch.cuda.is_available():
        if len(cuda) != torch.cuda.device_count():
            logger.warning(
                "the checkpoint has CUDA RNG states for %d device(s), this process sees %d: restoring the first %d",
                len(cuda),
                torch.cuda.device_count(),
                min(len(cuda), torch.cuda.device_count()),
            )
        for index, cuda_state in enumerate(cuda[: torch.cuda.device_count()]):
            torch.cuda.set_rng_state(cuda_state, index)
        saver = state.get("cuda_current", 0)
        if device is not None and device.type == "cuda" and device.index not in (None, saver) and saver < len(cuda):
            torch.cuda.set_rng_state(cuda[saver], device.index)


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The underlying model of a DistributedDataParallel wrapper (or the model itself)."""
    return model.module if hasattr(model, "module") and isinstance(model.module, torch.nn.Module) else model


def write_folder(folder: Path, fill: Callable[[Path], None]) -> Path:
    """Replace ``folder`` as a whole with what ``fill(tmp)`` writes into a temporary sibling, atomically.

    The old folder is renamed aside, the new one renamed into place, then the old one removed; a crash
    between the two renames leaves the old one under a ``.old-`` name, which :func:`resolve_checkpoint` finds.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{folder.name}-", dir=folder.parent))
    old = None
    try:
        fill(tmp)
        if folder.exists():
            old = folder.parent / f".old-{folder.name}-{os.getpid()}"
            if old.exists():
                shutil.rmtree(old)
            os.replace(folder, old)
        os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return folder


def save_checkpoint(
    folder: Path,
    model: torch.nn.Module,
    state: dict[str, Any],
    extra: Callable[[Path], None] | None = None,
) -> Path:
    """Write ``model`` (via its ``save_pretrained``) and ``state`` to ``folder``, atomically.

    Args:
        folder: Destination, e.g. ``OUT/checkpoints/last``; replaced as a whole.
        model: Model with a ``save_pretrained(dir)`` method (DDP wrappers are unwrapped).
        state: Trainer state of tensors and plain values (see module docstring).
        extra: Writes more files into the (temporary) folder before it is swapped in (tokenizer, EMA weights).

    Returns:
        The folder.
    """

    def fill(tmp: Path) -> None:
        unwrap(model).save_pretrained(str(tmp))
        if extra is not None:
            extra(tmp)
        torch.save(state, tmp / STATE_FILE)

    return write_folder(folder, fill)


def copy_checkpoint(src: Path, dst: Path) -> Path:
    """Atomically replace ``dst`` with a copy of the checkpoint folder ``src`` (e.g. last -> best)."""
    return write_folder(dst, lambda tmp: shutil.copytree(src, tmp, dirs_exist_ok=True))


def _recover(folder: Path) -> Path | None:
    """Find the surviving ``.old-`` copy of ``folder`` left by a swap interrupted between its renames."""
    candidates = sorted(folder.parent.glob(f".old-{folder.name}-*"), key=lambda p: p.stat().st_mtime)
    for cand in reversed(candidates):
        if (cand / STATE_FILE).is_file():
            return cand
    return None


def resolve_checkpoint(path: str | Path, prefer: str = "last") -> Path:
    """Turn a user path into a checkpoint folder.

    Accepts a checkpoint folder, ``OUT/checkpoints`` or an output directory ``OUT`` (then
    ``OUT/checkpoints/<prefer>`` is used).

    Raises:
        CheckpointError: The path does not exist or holds no checkpoint.
    """
    p = Path(path).expanduser()
    if not p.exists():
        raise CheckpointError(f"checkpoint path does not exist: {p}")
    if p.is_file():
        # A file inside a checkpoint folder (config.json, trainer_state.pt, weights) names its folder.
        p = p.parent
    candidates = [p, p / prefer, p / CKPT_DIR / prefer]
    for cand in candidates:
        if (cand / "config.json").is_file() and any(cand.glob("*.safetensors")):
            return cand
    for cand in candidates[1:]:
        recovered = _recover(cand)
        if recovered is not None:
            logger.warning("recovered checkpoint %s from an interrupted save", recovered)
            return recovered
    raise CheckpointError(
        f"no checkpoint found at {p} (expected a folder with config.json and weights, "
        f"or an output directory containing {CKPT_DIR}/{prefer}/)"
    )


def load_trainer_state(folder: Path) -> dict[str, Any]:
    """Read ``trainer_state.pt`` from a checkpoint folder with the weights-only loader (no code runs).

    Raises:
        CheckpointError: The file is missing, unreadable, or holds objects the weights-only loader refuses.
    """
    path = Path(folder) / STATE_FILE
    if not path.is_file():
        raise CheckpointError(f"{folder} has no {STATE_FILE}: it is a model folder, not a training checkpoint")
    state = safe_torch_load(path)
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        found = state.get("format") if isinstance(state, dict) else type(state).__name__
        raise CheckpointError(f"{path} has trainer-state format {found!r}; this version reads format {STATE_FORMAT}")
    return state


def safe_torch_load(path: Path) -> Any:
    """``torch.load(path, weights_only=True)`` on the CPU, with a clear error for a file that needs more.

    Raises:
        CheckpointError: The file cannot be read, or holds objects other than tensors and plain values
            (the full unpickler could run code from such a file, so it is never used).
    """
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # The loader's message is long; its line naming the refused global is the useful part.
        lines = [line.strip() for line in str(exc).splitlines() if "global" in line.lower()]
        first = lines[0].split(". Please")[0] if lines else type(exc).__name__
        raise CheckpointError(
            f"refused to load {path}: it holds objects other than tensors and plain values, which only the full "
            "unpickler reads, and that can run code hidden in the file (it was crafted, or written by an older "
            f"version of lion-attn); nothing in it was executed. Loader said: {first}"
        ) from exc
    except Exception as exc:
        raise CheckpointError(f"cannot read {path}: {exc}") from exc
