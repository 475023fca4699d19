"""Stopping training cleanly on Ctrl-C or SIGTERM (a scheduler, `kill`).

The first signal only asks the loop to stop after the step in progress (the loop then saves a
checkpoint): raising inside TensorFlow's C++ code (an input pipeline, a running step) can leave it
in a broken state. A second signal raises KeyboardInterrupt at once.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator


class StopRequest:
    """Set by a signal handler; the training loop looks at it between steps."""

    def __init__(self) -> None:
        self.requested = False


@contextlib.contextmanager
def stop_on_signals() -> Iterator[StopRequest]:
    """Within the block, SIGINT and SIGTERM set the yielded request (the second raises
    KeyboardInterrupt); the previous handlers are put back on leaving it.

    A background job started by a shell ignores SIGINT, so both are set. Only the main thread can
    set handlers: elsewhere the request is never set.
    """
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request
        return

    def interrupt(signum, frame):
        if request.requested:
            raise KeyboardInterrupt
        request.requested = True

    previous = {
        number: signal.signal(number, interrupt) for number in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield request
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
