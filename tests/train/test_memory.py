import subprocess
import sys

import pytest

from lion_attn.train.memory import current_rss_mb

pytestmark = pytest.mark.skipif(current_rss_mb() is None, reason="needs /proc/self/statm")

# A fresh process: in a long-lived one, the allocator may serve the tensor from memory it already holds.
_PROBE = """
import torch
from lion_attn.train.memory import PeakRSS
with PeakRSS() as memory:
    {body}
print(memory.delta_mb)
"""


def _delta_mb(body: str) -> float:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE.format(body=body)], capture_output=True, text=True, check=True
    ).stdout
    return float(out.strip().splitlines()[-1])


def test_peak_rss_sees_a_transient_allocation_that_is_freed_before_exit():
    delta = _delta_mb("big = torch.ones(32 * 2**20); del big")  # 128 MiB, touched
    assert 100 < delta < 400


def test_peak_rss_reports_little_for_code_that_allocates_nothing():
    assert _delta_mb("sum(range(1000))") < 20
