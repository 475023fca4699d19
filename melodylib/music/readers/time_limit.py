"""A time limit on reading one file or one ABC tune, so a hostile file cannot stall a conversion.

music21 can take minutes (or loop for good) on some damaged MusicXML and ABC, e.g. a key of a
million sharps. `time_limit` interrupts the reading with an alarm signal after the limit; the
reader then skips the piece with reason `timeout`. The alarm is the POSIX interval timer (Linux and
macOS), which works only in a process's main thread: elsewhere `can_limit_time()` is False and the
folder converter reads in worker processes instead, where the main thread is the reader's own.
A reading stuck where Python cannot interrupt it (inside C code) is the worker pool's business: it
kills the worker (see `reader_pool`).

`ReadingTimedOut` derives from BaseException, not Exception, so the `except Exception` clauses
inside music21 and our readers do not swallow it; and the timer fires again every second after
the limit, in case a bare `except:` does.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator

# How often the alarm fires again once the limit has passed (in case something swallowed it).
REPEAT_SECONDS = 1.0


class ReadingTimedOut(BaseException):
    """Raised inside a reading that ran past its time limit."""


def can_limit_time() -> bool:
    """Whether `time_limit` works here: an interval timer exists and this is the main thread."""
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


class _Alarm:
    """Whether our alarm is armed (the handler raises only then: no stray raise after disarming)."""

    armed = False


def _on_alarm(signal_number, frame) -> None:
    if _Alarm.armed:
        raise ReadingTimedOut


@contextlib.contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise ReadingTimedOut inside the block once it has run `seconds`.

    No limit when `seconds` is None or 0, when `can_limit_time()` is False, or when an alarm of
    someone else's is already set to fire sooner (it is kept, and put back afterwards otherwise).
    """
    if not seconds or seconds <= 0 or not can_limit_time() or _Alarm.armed:
        yield
        return
    earlier_delay, earlier_interval = signal.getitimer(signal.ITIMER_REAL)
    if earlier_delay and earlier_delay <= seconds:
        yield  # someone else's alarm comes first: leave it alone
        return
    earlier_handler = signal.signal(signal.SIGALRM, _on_alarm)
    started = time.monotonic()
    _Alarm.armed = True
    signal.setitimer(signal.ITIMER_REAL, seconds, REPEAT_SECONDS)
    try:
        yield
    finally:
        _Alarm.armed = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, earlier_handler)
        if earlier_delay:
            remaining = max(earlier_delay - (time.monotonic() - started), 0.001)
            signal.setitimer(signal.ITIMER_REAL, remaining, earlier_interval)


def timeout_detail(seconds: float) -> str:
    """The detail of a `timeout` skip."""
    return f"reading took longer than {seconds:g} s (--file_timeout_secs)"
