"""Atomic file writing: write to a temporary name in the same folder, rename when complete.

A run that is killed half-way never leaves a half-written file under the final name, and a
file written by an earlier run stays intact until the new one is complete.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from melodylib.errors import MelodylibError


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it is renamed to `path`, on error removed.

    Raises MelodylibError naming the folder when it cannot be created or written.
    """
    final = Path(path)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary_name = tempfile.mkstemp(
            prefix=f".{final.name}.", suffix=".tmp", dir=final.parent
        )
    except OSError as error:
        raise MelodylibError(
            f"cannot write {final}: {error.strerror or error}; choose an output path in a folder you can write to"
        ) from error
    os.close(handle)
    temporary = Path(temporary_name)
    # mkstemp creates owner-only files; give the final file the usual permissions instead.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temporary, 0o666 & ~umask)
    try:
        yield temporary
        os.replace(temporary, final)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


def write_bytes_atomically(path: str | os.PathLike, payload: bytes) -> None:
    """Write `payload` to `path` atomically."""
    with atomic_path(path) as temporary:
        temporary.write_bytes(payload)


def write_text_atomically(path: str | os.PathLike, text: str) -> None:
    """Write `text` (UTF-8) to `path` atomically."""
    write_bytes_atomically(path, text.encode("utf-8"))
