"""The one family of user-facing errors: each message names the file, flag or value and a fix."""

from __future__ import annotations

import os


class MelodylibError(ValueError):
    """A problem with the user's input (a file, a flag, an hparam); the CLI prints it and exits 1."""


class UnreadableFileError(MelodylibError):
    """A music file that cannot be read; `reason` is a short code used to count skipped files."""

    def __init__(self, path: str | os.PathLike, reason: str, detail: str = "") -> None:
        self.path = str(path)
        self.reason = reason
        self.detail = detail
        message = f"{self.path}: {reason}" + (f" ({detail})" if detail else "")
        super().__init__(message)

    def __reduce__(self):
        """Rebuild from (path, reason, detail), so the error can cross process boundaries."""
        return (type(self), (self.path, self.reason, self.detail))
