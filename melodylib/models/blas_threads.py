"""One BLAS thread for the numpy engine's small matrix products.

numpy's OpenBLAS splits a product such as [80, 128] x [128, 512] (a beam search step) over every
core. On a quiet machine that gains nothing at this size, and on a busy one the threads wait for
each other: measured here with a load average of 10 on 2 cores, 21 ms per product instead of
0.2 ms single-threaded, which made beam search a hundred times slower. `one_blas_thread` sets
OpenBLAS to one thread for the duration of a block and restores the previous count, through the
library's own ``*_set_num_threads`` function (found with ctypes among the loaded libraries). Where
numpy uses another BLAS (Accelerate, MKL) or none is found, it does nothing.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import glob
import os
import threading
from collections.abc import Iterator
from pathlib import Path

__all__ = ["one_blas_thread"]

# (get, set) function names of the OpenBLAS builds numpy wheels ship, newest first.
_FUNCTION_NAMES = (
    ("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
    ("scipy_openblas_get_num_threads", "scipy_openblas_set_num_threads"),
    ("openblas_get_num_threads64_", "openblas_set_num_threads64_"),
    ("openblas_get_num_threads", "openblas_set_num_threads"),
)


def _candidate_libraries() -> list[str]:
    """Paths of loaded (Linux) or bundled (numpy's own folder) libraries named like OpenBLAS."""
    found: list[str] = []
    maps = Path("/proc/self/maps")
    if maps.exists():
        for line in maps.read_text(errors="replace").splitlines():
            path = line.split(" ", 5)[-1].strip()
            if "openblas" in os.path.basename(path).lower() and path not in found:
                found.append(path)
    import numpy

    package = Path(numpy.__file__).resolve().parent
    for folder in (package.parent / "numpy.libs", package / ".libs", package / ".dylibs"):
        found.extend(path for path in glob.glob(str(folder / "*openblas*")) if path not in found)
    return found


@functools.lru_cache(maxsize=1)
def _thread_functions() -> tuple | None:
    """OpenBLAS's (get, set) thread-count functions, or None where there are none."""
    for path in _candidate_libraries():
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for get_name, set_name in _FUNCTION_NAMES:
            if hasattr(library, get_name) and hasattr(library, set_name):
                get_threads, set_threads = getattr(library, get_name), getattr(library, set_name)
                get_threads.restype = ctypes.c_int
                set_threads.argtypes = [ctypes.c_int]
                set_threads.restype = None
                return get_threads, set_threads
    return None


_LOCK = threading.Lock()
_INSIDE = 0  # how many callers are inside one_blas_thread now
_RESTORE_TO = 0  # the thread count to restore when the last of them leaves


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run the block with numpy's OpenBLAS on one thread, then restore its thread count.

    OpenBLAS's thread count belongs to the whole process, so while any caller (from any thread)
    is inside, every numpy product runs on one thread; the count comes back when the last caller
    leaves, not when the first one does.
    """
    global _INSIDE, _RESTORE_TO
    functions = _thread_functions()
    if functions is None:
        yield
        return
    get_threads, set_threads = functions
    with _LOCK:
        if _INSIDE == 0:
            _RESTORE_TO = int(get_threads())
            if _RESTORE_TO > 1:
                set_threads(1)
        _INSIDE += 1
    try:
        yield
    finally:
        with _LOCK:
            _INSIDE -= 1
            if _INSIDE == 0 and _RESTORE_TO > 1:
                set_threads(_RESTORE_TO)
