"""Where data lives: the user's data home, Debian's system locations and the embedded sample."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["SAMPLE_DIR", "SYSTEM_FASHION_MNIST_DIR", "SYSTEM_JANEAUSTENR_DIR", "data_home"]

#: Folder shipped inside the package with small excerpts of every default data set.
SAMPLE_DIR = Path(__file__).resolve().parent / "_sample"
#: Installed by the Debian package ``dataset-fashion-mnist``.
SYSTEM_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
#: Installed by the Debian package ``r-cran-janeaustenr`` (an R lazy-load database).
SYSTEM_JANEAUSTENR_DIR = Path("/usr/lib/R/site-library/janeaustenr/data")


def data_home() -> Path:
    """Return the data folder: ``$LION_DATA`` if set and non-empty, else ``~/.cache/lion-attn/data``."""
    env = os.environ.get("LION_DATA", "").strip()
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "lion-attn" / "data"
