import pytest
import torch

from lion_attn.train.memory import PeakRSS, current_rss_mb

pytestmark = pytest.mark.skipif(current_rss_mb() is None, reason="needs /proc/self/statm")


def test_peak_rss_sees_a_transient_allocation_that_is_freed_before_exit():
    with PeakRSS() as memory:
        big = torch.ones(32 * 2**20)  # 128 MiB, touched
        del big
    assert memory.delta_mb is not None
    assert 100 < memory.delta_mb < 400


def test_peak_rss_reports_little_for_code_that_allocates_nothing():
    with PeakRSS() as memory:
        sum(range(1000))
    assert memory.delta_mb is not None and memory.delta_mb < 20
