"""Quick mode: `MELODYLIB_QUICK=1` shrinks data sizes and step counts, never what code runs.

The test suite sets it so every notebook runs in minutes; a person running a notebook leaves
it unset and gets the full settings. Notebooks take every size from `quick_or_full`.
"""

from __future__ import annotations

import os
from typing import TypeVar

ENVIRONMENT_VARIABLE = "MELODYLIB_QUICK"

Value = TypeVar("Value")


def is_quick_mode() -> bool:
    """True when the environment variable MELODYLIB_QUICK is set to anything but '', '0' or 'false'."""
    return os.environ.get(ENVIRONMENT_VARIABLE, "").strip().lower() not in ("", "0", "false", "no")


def quick_or_full(quick: Value, full: Value) -> Value:
    """`quick` in quick mode, otherwise `full`: e.g. `num_steps = quick_or_full(20, 2000)`."""
    return quick if is_quick_mode() else full
