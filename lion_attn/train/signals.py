"""Clean stops: SIGINT and SIGTERM are recorded, the current step finishes, then the run saves and exits.

A second Ctrl-C means "now": it raises KeyboardInterrupt and abandons the step (the last checkpoint on
disk is intact, since every save is atomic).
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType, TracebackType
from typing import Any

logger = logging.getLogger(__name__)


class StopSignals:
    """Context manager: ``with StopSignals() as stop: ...`` then ``stop.received`` (a signal number or None).

    Handlers are installed only in the main thread (Python allows no other) and the previous ones are put
    back on exit.
    """

    def __init__(self) -> None:
        self.received: int | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self.received is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.received = signum
        logger.warning("received %s: finishing the current step, then saving", signal.Signals(signum).name)

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            self._previous = {sig: signal.signal(sig, self._handle) for sig in (signal.SIGINT, signal.SIGTERM)}
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}


__all__ = ["StopSignals"]
