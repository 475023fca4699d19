"""Reading any bundle file into a Bundle: ours (a zip, `melodylib.bundles.bundle`) or Magenta's
`.mag` (a GeneratorBundle protobuf, `melodylib.bundles.magenta`), told apart by their first bytes.

It sits apart from both formats so that neither imports the other.
"""

from __future__ import annotations

import os
from pathlib import Path

from melodylib.bundles.bundle import Bundle, read_bundle_zip
from melodylib.errors import MelodylibError


def load_bundle(path: str | os.PathLike) -> Bundle:
    """Read a bundle: ours (a zip) or Magenta's `.mag` (a GeneratorBundle protobuf)."""
    path = Path(path)
    if not path.exists():
        raise MelodylibError(f"--bundle_file {path}: no such file")
    if not path.is_file():
        raise MelodylibError(f"--bundle_file {path}: not a file")
    try:
        with open(path, "rb") as handle:
            head = handle.read(4)
    except OSError as error:
        raise MelodylibError(
            f"--bundle_file {path}: cannot read it ({error.strerror or error})"
        ) from None
    if head.startswith(b"PK"):
        return read_bundle_zip(path)
    from melodylib.bundles.magenta import load_magenta_bundle

    return load_magenta_bundle(path)
