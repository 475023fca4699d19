"""Test-session set-up for the whole repository (unit tests and notebooks alike).

Quick mode is switched on here, at import time, before any test or notebook kernel starts: the
kernels tests/test_notebooks.py launches inherit this process's environment, so every notebook runs with the small
corpus and few steps (MELODYLIB_QUICK=1 shrinks sizes only, never what code runs). An explicit
MELODYLIB_QUICK=0 in the environment still wins, to run the notebooks at full settings.
"""

from __future__ import annotations

import os

os.environ.setdefault("MELODYLIB_QUICK", "1")

import matplotlib  # noqa: E402  (after the environment is set)

matplotlib.use("Agg")  # headless: no test needs a screen (kernels use their own inline backend)
