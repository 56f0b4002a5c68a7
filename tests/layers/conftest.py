"""Fixtures of the layer tests."""

from __future__ import annotations

from tests.devices import device  # noqa: F401  (the shared fixture: tests taking ``device`` run on every device)
