"""The course notebooks run top to bottom, in quick mode, and leave a clean page.

A learner reads every line a notebook prints, so a run fails on more than an error: any output on
stderr (JupyterLab shows it in a red box that looks like an error) and any code line longer than
100 characters (a horizontal scroll bar) fail too. The notebooks run on the environment's own
`python3` kernel (they ask for the course kernel "melodylib", which `make setup` registers), so a
plain `pip install -e .` runs these tests as well. conftest.py switches quick mode on.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted(
    (Path(__file__).resolve().parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb")
)
MAX_LINE = 100
CELL_TIMEOUT_SECONDS = 1200


def code_cells(path: Path) -> list[dict]:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return [cell for cell in cells if cell["cell_type"] == "code"]


def long_lines(path: Path) -> list[str]:
    """Where a code line is longer than MAX_LINE: 'cell N, line M (L characters)'."""
    found = []
    for number, cell in enumerate(code_cells(path), start=1):
        for line_number, line in enumerate("".join(cell["source"]).splitlines(), start=1):
            if len(line) > MAX_LINE:
                found.append(f"code cell {number}, line {line_number} ({len(line)} characters)")
    return found


def stderr_outputs(notebook) -> list[str]:
    """The first lines each cell wrote to stderr: 'cell N: text'."""
    found = []
    number = 0
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        number += 1
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                found.append(f"code cell {number}: {output['text'][:300]!r}")
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_code_lines_fit_the_page_and_outputs_are_not_committed(path):
    assert not long_lines(path), (
        f"{path.name}: lines over {MAX_LINE} characters: {long_lines(path)}"
    )
    with_outputs = [cell for cell in code_cells(path) if cell.get("outputs")]
    assert not with_outputs, f"{path.name} is committed with outputs; clear them"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_runs_without_errors_or_stderr(path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=CELL_TIMEOUT_SECONDS,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    problems = stderr_outputs(notebook)
    assert not problems, f"{path.name} wrote to stderr:\n" + "\n".join(problems)
