"""Keep TensorFlow's C++ start-up lines out of notebooks and terminals.

When TensorFlow is imported, its C++ core writes lines such as "oneDNN custom operations are on"
and "All log messages before absl::InitializeLog() ..." straight to file descriptor 2, before its
own log-level setting (TF_CPP_MIN_LOG_LEVEL) is read. JupyterLab shows them in a red box that
looks like an error. `install()` (called when melodylib is imported) wraps the first import of
TensorFlow so that descriptor 2 points at the null device while TensorFlow's modules load, and
only then. Python warnings and errors are not affected: exceptions propagate as usual, and
warnings raised later go where they always go. Set MELODYLIB_TF_STARTUP_LOG=1 to see the lines.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import os
import sys
from collections.abc import Iterator
from typing import Any

QUIET_MODULES = ("tensorflow",)


@contextlib.contextmanager
def file_descriptor_2_silenced() -> Iterator[None]:
    """Point file descriptor 2 (the process's stderr) at the null device for the block."""
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no descriptor 2 (some embedded interpreters): nothing to silence
        yield
        return
    null_device = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null_device, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null_device)


class _QuietLoader(importlib.abc.Loader):
    """The real loader of a module, run with descriptor 2 silenced."""

    def __init__(self, loader: Any) -> None:
        self.loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> Any:
        return self.loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        module.__loader__ = self.loader
        module.__spec__.loader = self.loader
        with file_descriptor_2_silenced():
            self.loader.exec_module(module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.loader, name)


class _QuietFinder(importlib.abc.MetaPathFinder):
    """Finds TensorFlow the usual way and hands back a loader that loads it quietly."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname not in QUIET_MODULES:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _QuietLoader(spec.loader)
                return spec
        return None


def install() -> None:
    """Load TensorFlow quietly when it is first imported (a no-op if it already is)."""
    if os.environ.get("MELODYLIB_TF_STARTUP_LOG") == "1":
        return
    if any(name in sys.modules for name in QUIET_MODULES):
        return
    if not any(isinstance(finder, _QuietFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _QuietFinder())
