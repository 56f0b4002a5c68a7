"""Process-level settings that make long-sequence CPU work faster: keeping freed memory for reuse.

PyTorch's CPU tensors come from the C library's ``malloc``. With glibc's defaults, an allocation of 32 MiB or more
is mapped afresh from the kernel on every call and unmapped when freed, and free memory at the top of the heap is
handed back as soon as a few MB collect. Every page of such memory then faults again on its next use. On the
machines this project is benchmarked on a page fault costs about 3 us, so a LION call at T = 16384 (8 heads of
width 64) that touches ~170 MB of fresh memory spent more time faulting (~140 ms) than computing (~90 ms).

:func:`keep_freed_memory` raises glibc's two thresholds, so freed memory stays in the process and is reused. It is
opt-in, because it changes the whole process: the resident size then stays at its high-water mark instead of
shrinking after a peak. ``jemalloc`` or ``tcmalloc`` preloaded with ``LD_PRELOAD`` have the same effect.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

__all__ = ["keep_freed_memory"]

log = logging.getLogger(__name__)

# mallopt parameter numbers from glibc's <malloc.h>.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def keep_freed_memory(threshold_bytes: int = 1 << 30) -> bool:
    """Make glibc keep freed memory for reuse instead of returning it to the kernel.

    Allocations below ``threshold_bytes`` come from the heap instead of fresh mappings, and free heap memory is
    only returned once more than ``threshold_bytes`` of it collects at the top. Call once, early; it affects
    every allocation of the process from then on.

    Args:
        threshold_bytes: the new mmap and trim thresholds (default 1 GiB).

    Returns:
        True if both settings were applied; False when the C library is not glibc (nothing is changed).

    Raises:
        ValueError: ``threshold_bytes`` is not a positive int below 2**31.
    """
    if isinstance(threshold_bytes, bool) or not isinstance(threshold_bytes, int) or not 0 < threshold_bytes < 2**31:
        raise ValueError(f"threshold_bytes must be a positive int below 2**31, got {threshold_bytes!r}")
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        log.info("keep_freed_memory: no glibc mallopt here; allocator left unchanged")
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    applied = bool(mallopt(_M_MMAP_THRESHOLD, threshold_bytes)) and bool(mallopt(_M_TRIM_THRESHOLD, threshold_bytes))
    if not applied:
        log.warning("keep_freed_memory: mallopt refused %d; the allocator may be partly unchanged", threshold_bytes)
    return applied
