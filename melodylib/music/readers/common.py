"""What every reader shares: which file types exist, reading a file's bytes, describing an error.

Kept apart from the format modules so that each of them (and the folder converter) can use these
without importing the others.
"""

from __future__ import annotations

import os
from pathlib import Path

from melodylib.errors import UnreadableFileError

MIDI_EXTENSIONS = (".mid", ".midi")
MUSICXML_EXTENSIONS = (".xml", ".mxl", ".musicxml")
ABC_EXTENSIONS = (".abc",)
SUPPORTED_EXTENSIONS = MIDI_EXTENSIONS + MUSICXML_EXTENSIONS + ABC_EXTENSIONS

SkipItem = tuple[
    str, str, str
]  # (path, reason code, detail) of a skipped file, tune or folder entry


def source_type_of(path: str | os.PathLike) -> str | None:
    """'midi', 'musicxml' or 'abc' from the file extension (case-insensitive), or None."""
    suffix = Path(path).suffix.lower()
    if suffix in MIDI_EXTENSIONS:
        return "midi"
    if suffix in MUSICXML_EXTENSIONS:
        return "musicxml"
    if suffix in ABC_EXTENSIONS:
        return "abc"
    return None


def describe_error(error: BaseException) -> str:
    """'ExceptionClass: message' on one line (library messages often hold newlines)."""
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def read_file_bytes(path: str) -> bytes:
    """The bytes of a file; a file that cannot be read becomes UnreadableFileError 'io_error'."""
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise UnreadableFileError(path, "io_error", error.strerror or str(error)) from error
