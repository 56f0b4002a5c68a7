"""keep_freed_memory: after it, re-allocating a large tensor no longer faults its pages in afresh."""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path

import pytest

from lion_attn.runtime import keep_freed_memory

_SCRIPT = """
import resource, sys, torch
from lion_attn.runtime import keep_freed_memory
applied = keep_freed_memory() if sys.argv[1] == "tuned" else None
torch.empty(64 * 2**20 // 4).fill_(1.0)  # first use of the memory faults in any case
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    torch.empty(64 * 2**20 // 4).fill_(1.0)  # 64 MiB, freed at once
print(applied, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _huge_pages_always() -> bool:
    """With transparent huge pages always on, fresh memory faults in 2 MiB at a time: too few faults to count."""
    try:
        return "[always]" in Path("/sys/kernel/mm/transparent_hugepage/enabled").read_text()
    except OSError:
        return False


def _faults(setting: str) -> tuple[str, int]:
    out = subprocess.run([sys.executable, "-c", _SCRIPT, setting], capture_output=True, text=True, check=True)
    applied, faults = out.stdout.split()
    return applied, int(faults)


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only")
@pytest.mark.skipif(_huge_pages_always(), reason="page faults are counted in 4 KiB pages")
def test_keep_freed_memory_stops_refaulting() -> None:
    _, default_faults = _faults("default")
    applied, tuned_faults = _faults("tuned")
    assert applied == "True"
    # Ten fresh 64 MiB mappings fault in ~160k pages by default; reused heap memory at most one tensor's worth.
    assert default_faults > 10 * 8000, default_faults
    assert tuned_faults < default_faults / 4, (tuned_faults, default_faults)


@pytest.mark.parametrize("bad", [0, -1, 2**31, 1.5, True, "1G"])
def test_keep_freed_memory_rejects_bad_threshold(bad) -> None:
    with pytest.raises(ValueError, match="threshold_bytes"):
        keep_freed_memory(bad)
