"""The devices the device-parametrised tests run on: CPU always, CUDA where present or asked for.

``LION_TEST_DEVICE=cuda`` asks for CUDA explicitly (the tests then fail rather than skip if it is missing);
``LION_TEST_DEVICE=cpu`` keeps a machine with a GPU to CPU. Use ``pytest.mark.parametrize("device", DEVICES)``,
or take the :func:`device` fixture (imported by the op, layer and model conftests): one test body, every device.
Inputs are best drawn on the CPU and moved, so every device sees the same numbers, and compared on the CPU.
"""

from __future__ import annotations

import os

import pytest
import torch


def available_devices() -> tuple[str, ...]:
    """``("cpu",)`` plus ``"cuda"`` when CUDA is available or ``LION_TEST_DEVICE=cuda``."""
    wanted = os.environ.get("LION_TEST_DEVICE", "").strip().lower()
    if wanted == "cpu":
        return ("cpu",)
    if wanted == "cuda" or torch.cuda.is_available():
        return ("cpu", "cuda")
    return ("cpu",)


DEVICES: tuple[str, ...] = available_devices()


@pytest.fixture(params=DEVICES)
def device(request: pytest.FixtureRequest) -> str:
    """The device a test runs on: a test that takes ``device`` runs once per entry of :data:`DEVICES`."""
    return request.param
