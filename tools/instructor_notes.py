"""Run notebooks at full settings and write what a learner should see: docs/instructor-notes/.

A teacher walking round a room wants to know, for each notebook, what the numbers on a learner's
screen should look like at full settings (quick mode shrinks them) and how long each part takes.
This runs each notebook top to bottom as a learner would (MELODYLIB_QUICK=0, the course corpus
built), times every cell, and writes `docs/instructor-notes/NN_name.md`: the wall time, the slow
cells, and every line the notebook printed, cell by cell (figures and audio are not text; their
numbers are printed next to them by the notebooks).

    .venv/bin/python tools/instructor_notes.py 00 01 09     # some notebooks
    .venv/bin/python tools/instructor_notes.py              # all of them (about an hour)
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTES = ROOT / "docs" / "instructor-notes"
SLOW_CELL_SECONDS = 10.0


def write_text_atomically(path: Path, text: str) -> None:
    from melodylib.atomic import write_text_atomically as write

    write(path, text)


TERMINAL_COLOURS = re.compile(r"\x1b\[[0-9;]*m")  # Keras' model summary colours its table


def text_of(output: dict) -> str:
    """The text a learner reads in one output: printed lines, a value's text, computed markdown."""
    if output.get("output_type") == "stream" and output.get("name") == "stdout":
        return TERMINAL_COLOURS.sub("", output.get("text", ""))
    data = output.get("data", {})
    for kind in ("text/markdown", "text/plain"):
        if kind in data and not str(data[kind]).startswith("<"):
            return TERMINAL_COLOURS.sub("", str(data[kind]))
    return ""


def run(path: Path, timeout: int) -> tuple[object, list[float], float]:
    import nbclient
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=timeout,
        resources={"metadata": {"path": str(path.parent)}},
    )
    durations: list[float] = []
    started = time.perf_counter()
    with client.setup_kernel():
        for index, cell in enumerate(notebook.cells):
            cell_started = time.perf_counter()
            client.execute_cell(cell, index)
            durations.append(time.perf_counter() - cell_started)
    return notebook, durations, time.perf_counter() - started


def notes(path: Path, notebook, durations: list[float], seconds: float) -> str:
    lines = [
        f"# {path.stem}: what a learner sees at full settings",
        "",
        f"Made by `tools/instructor_notes.py` on {datetime.date.today().isoformat()}, on "
        f"{os.cpu_count()} CPU cores ({platform.machine()}), load average at the end "
        f"{os.getloadavg()[0]:.1f}. Whole notebook: **{seconds / 60:.1f} minutes**.",
        "",
    ]
    slow = [
        (number, duration)
        for number, (cell, duration) in enumerate(zip(notebook.cells, durations, strict=True))
        if cell.cell_type == "code" and duration >= SLOW_CELL_SECONDS
    ]
    if slow:
        lines.append("Slow cells: " + ", ".join(f"cell {n + 1} ({d:.0f} s)" for n, d in slow) + ".")
        lines.append("")
    for number, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        printed = "".join(text_of(output) for output in cell.get("outputs", [])).rstrip()
        if not printed:
            continue
        first = next((line for line in cell.source.splitlines() if line.strip()), "")
        lines += [f"## Cell {number + 1}: `{first[:80]}`", "", "```", printed, "```", ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", help="notebook numbers, e.g. 00 09 (default: all)")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per cell")
    arguments = parser.parse_args()
    os.environ["MELODYLIB_QUICK"] = "0"
    paths = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if arguments.notebooks:
        paths = [path for path in paths if path.name[:2] in arguments.notebooks]
    NOTES.mkdir(parents=True, exist_ok=True)
    for path in paths:
        print(f"running {path.name} at full settings ...", flush=True)
        notebook, durations, seconds = run(path, arguments.timeout)
        target = NOTES / f"{path.stem}.md"
        write_text_atomically(target, notes(path, notebook, durations, seconds))
        print(f"  {seconds / 60:.1f} minutes; wrote {target.relative_to(ROOT)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
