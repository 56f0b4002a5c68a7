"""Shared fixtures of the training tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def isolated_data_home(tmp_path_factory, monkeypatch) -> Path:
    """Point $LION_DATA at an empty folder so that no run writes caches into the user's data home."""
    home = tmp_path_factory.mktemp("lion_data_home")
    monkeypatch.setenv("LION_DATA", str(home))
    return home
