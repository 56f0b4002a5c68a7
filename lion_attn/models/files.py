"""The files of a checkpoint directory: their names, reading ``config.json``, and writing atomically."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["CONFIG_NAME", "WEIGHTS_NAME", "atomic_write", "read_config"]

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


def atomic_write(path: Path, write: Callable[[str], Any]) -> None:
    """Write through ``write(tmp_path)`` into a temporary file next to ``path``, then rename it over ``path``.

    A reader sees either the old file or the complete new one, never a partial write; the temporary file is
    removed if ``write`` fails.
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def read_config(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """Read ``config.json`` from a checkpoint directory.

    Raises:
        FileNotFoundError: If the directory has no ``config.json``.
    """
    path = Path(directory) / CONFIG_NAME
    if not path.is_file():
        raise FileNotFoundError(
            f"no {CONFIG_NAME} in {str(directory)!r}; expected a directory written by save_pretrained"
        )
    with path.open(encoding="utf-8") as f:
        data: dict[str, Any] = json.load(f)
    return data
