"""Peak memory of a stretch of code, measured by sampling the process's resident set size.

``ru_maxrss`` is a lifetime peak: whatever loading the model and data cost hides what the evaluation loop itself
adds. This sampler reads the *current* resident set size (``/proc/self/statm``) from a background thread every
millisecond while the code runs, and reports the peak and its growth over the level just before. Peaks shorter
than the sampling interval can be missed; a forward pass over a batch lasts far longer.
"""

from __future__ import annotations

import os
import threading
from types import TracebackType

_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def current_rss_mb() -> float | None:
    """Current resident set size in MiB, or None where ``/proc`` is unavailable."""
    try:
        with open("/proc/self/statm", encoding="ascii") as handle:
            resident_pages = int(handle.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return resident_pages * _PAGE_BYTES / 2**20


class PeakRSS:
    """Context manager: ``with PeakRSS() as mem: ...`` then ``mem.peak_mb``, ``mem.base_mb``, ``mem.delta_mb``.

    Args:
        interval: seconds between samples.
    """

    def __init__(self, interval: float = 0.001) -> None:
        self.interval = interval
        self.base_mb: float | None = None
        self.peak_mb: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def delta_mb(self) -> float | None:
        """Peak growth over the level when the context was entered (None without ``/proc``)."""
        if self.base_mb is None or self.peak_mb is None:
            return None
        return max(0.0, self.peak_mb - self.base_mb)

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self._record()

    def _record(self) -> None:
        now = current_rss_mb()
        if now is not None and (self.peak_mb is None or now > self.peak_mb):
            self.peak_mb = now

    def __enter__(self) -> PeakRSS:
        self.base_mb = current_rss_mb()
        self.peak_mb = self.base_mb
        if self.base_mb is not None:
            self._thread = threading.Thread(target=self._sample, name="peak-rss", daemon=True)
            self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._record()
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
