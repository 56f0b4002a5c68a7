"""Shared fixtures for the data tests: an isolated data home and the janeaustenr package."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from lion_attn.data.austen import extract_janeaustenr_deb, read_janeaustenr_rdata


@pytest.fixture(autouse=True)
def isolated_data_home(tmp_path_factory, monkeypatch) -> Path:
    """Point $LION_DATA at an empty folder so that no test reads or writes the user's data."""
    home = tmp_path_factory.mktemp("lion_data_home")
    monkeypatch.setenv("LION_DATA", str(home))
    return home


def _find_deb(workdir: Path) -> Path | None:
    env = os.environ.get("LION_TEST_JANEAUSTENR_DEB")
    if env and Path(env).is_file():
        return Path(env)
    local = sorted(Path("/tmp").glob("r-cran-janeaustenr_*.deb"))
    if local:
        return local[-1]
    apt_get = shutil.which("apt-get")
    if apt_get is None:
        return None
    try:
        subprocess.run([apt_get, "download", "r-cran-janeaustenr"], cwd=workdir, capture_output=True, timeout=120)
    except (subprocess.TimeoutExpired, OSError):
        return None
    found = sorted(workdir.glob("r-cran-janeaustenr_*.deb"))
    return found[-1] if found else None


@pytest.fixture(scope="session")
def janeaustenr_deb(tmp_path_factory) -> Path:
    """The r-cran-janeaustenr .deb ($LION_TEST_JANEAUSTENR_DEB, /tmp, or apt-get download); skip if unavailable."""
    deb = _find_deb(tmp_path_factory.mktemp("deb"))
    if deb is None:
        pytest.skip("r-cran-janeaustenr .deb not available (no apt-get download)")
    return deb


@pytest.fixture(scope="session")
def austen_full(janeaustenr_deb, tmp_path_factory) -> dict[str, str]:
    """The six complete novels extracted from the .deb (once per session)."""
    rdata_dir = extract_janeaustenr_deb(janeaustenr_deb, tmp_path_factory.mktemp("janeaustenr"))
    return read_janeaustenr_rdata(rdata_dir)
