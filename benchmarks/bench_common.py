"""Shared pieces of the benchmark scripts: the machine header, medians and Markdown tables.

Benchmarks print numbers; they never assert on them (tests never time anything). The machine
they run on is often shared, so every script measures the things it compares in the same run,
interleaved, and reports ratios of medians.
"""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PACKAGES = (
    "melodylib",
    "numpy",
    "tensorflow",
    "tensorflow-cpu",
    "keras",
    "pretty_midi",
    "mido",
    "music21",
)


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo ('unknown' elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def package_versions(names: Iterable[str] = DEFAULT_PACKAGES) -> dict[str, str]:
    """Installed versions of the named distributions (read from metadata; nothing is imported)."""
    found = {}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def nproc() -> int:
    """The number of CPUs this process may use (what `nproc` prints)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def machine_header(
    title: str, extra_versions: dict[str, str] | None = None, notes: Sequence[str] = ()
) -> str:
    """Markdown lines naming the date, CPU count and model, load, Python and package versions."""
    versions = package_versions()
    versions.update(extra_versions or {})
    load = (
        " / ".join(f"{value:.1f}" for value in os.getloadavg())
        if hasattr(os, "getloadavg")
        else "n/a"
    )
    lines = [
        f"### {title}",
        "",
        f"- date: {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}",
        f"- machine: nproc {nproc()}, CPU {cpu_model()}, load average at start {load}",
        f"- python {platform.python_version()}; "
        + ", ".join(f"{name} {value}" for name, value in versions.items()),
    ]
    lines.extend(f"- {note}" for note in notes)
    return "\n".join(lines)


def median(values: Sequence[float]) -> float:
    """The median (NaN for no values)."""
    return statistics.median(values) if values else float("nan")


def time_call(function: Callable[[], object]) -> tuple[float, object]:
    """(seconds, result) of one call, by the monotonic high-resolution clock."""
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A GitHub Markdown table; numbers are printed as given (format them before)."""
    rows = [[str(cell) for cell in row] for row in rows]
    widths = [
        max(len(str(header)), *(len(row[index]) for row in rows)) if rows else len(str(header))
        for index, header in enumerate(headers)
    ]

    def line(cells):
        return (
            "| " + " | ".join(str(cell).ljust(width) for cell, width in zip(cells, widths)) + " |"
        )

    separator = "|" + "|".join("-" * (width + 2) for width in widths) + "|"
    return "\n".join([line(headers), separator, *(line(row) for row in rows)])


def ratio(numerator: float, denominator: float) -> str:
    """'3.21x', '0.0123x' (three significant digits; 'n/a' when the denominator is zero)."""
    if not denominator:
        return "n/a"
    value = numerator / denominator
    return f"{value:.2f}x" if value >= 1 else f"{value:.3g}x"


def project_python() -> str:
    """The interpreter running this script (the project's venv when run as documented)."""
    return sys.executable


def run_quiet(command: Sequence[str], **options) -> subprocess.CompletedProcess:
    """Run a command capturing its output; raise with its stderr if it fails."""
    completed = subprocess.run(list(command), capture_output=True, text=True, **options)
    if completed.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} failed ({completed.returncode}):\n{completed.stderr[-3000:]}"
        )
    return completed


def progress(message: str) -> None:
    """A progress line on stderr (stdout carries only the tables)."""
    print(message, file=sys.stderr, flush=True)
