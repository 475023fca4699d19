"""Reading any bundle file into a Bundle: ours (a zip, `melodylib.bundles.bundle`) or Magenta's
`.mag` (a GeneratorBundle protobuf, `melodylib.bundles.magenta`), told apart by their first bytes.

It sits apart from both formats so that neither imports the other.
"""

from __future__ import annotations

import os
from pathlib import Path

from melodylib.bundles.bundle import Bundle, read_bundle_zip
from melodylib.errors import MelodylibError


def _head(path: Path) -> bytes:
    """The first bytes of the bundle file `path`, or a MelodylibError naming it."""
    if not path.exists():
        raise MelodylibError(f"--bundle_file {path}: no such file")
    if not path.is_file():
        raise MelodylibError(f"--bundle_file {path}: not a file")
    try:
        with open(path, "rb") as handle:
            return handle.read(4)
    except OSError as error:
        raise MelodylibError(
            f"--bundle_file {path}: cannot read it ({error.strerror or error})"
        ) from None


def is_melodylib_bundle_file(path: str | os.PathLike) -> bool:
    """Whether `path` holds our zip bundle (readable without TensorFlow), not a Magenta `.mag`.

    Only the first bytes are read; a missing or unreadable file raises as `load_bundle` does.
    """
    return _head(Path(path)).startswith(b"PK")


def load_bundle(path: str | os.PathLike) -> Bundle:
    """Read a bundle: ours (a zip) or Magenta's `.mag` (a GeneratorBundle protobuf).

    Ours is read with zipfile and numpy only, never TensorFlow or Keras.
    """
    path = Path(path)
    if _head(path).startswith(b"PK"):
        return read_bundle_zip(path)
    from melodylib.bundles.magenta import load_magenta_bundle

    return load_magenta_bundle(path)
