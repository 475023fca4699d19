"""The teachers' answer sheet is generated from the exercises and kept up to date."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load_tool():
    spec = importlib.util.spec_from_file_location(
        "answer_sheet", ROOT / "tools" / "answer_sheet.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_answer_sheet_is_up_to_date_and_lists_every_exercise():
    from melodylib.course.exercises import EXERCISES_BY_NOTEBOOK

    tool = load_tool()
    text = tool.sheet()
    assert (ROOT / "docs" / "answer-sheet.md").read_text(encoding="utf-8") == text, (
        "docs/answer-sheet.md is out of date: run tools/answer_sheet.py"
    )
    for exercises in EXERCISES_BY_NOTEBOOK.values():
        for exercise in exercises:
            assert f"### `{exercise.check.__name__}`" in text


def test_a_build_answer_shows_the_function_the_learner_writes():
    tool = load_tool()

    def solution_example():
        def encode(events):
            return [event + 2 for event in events]

        return encode

    code = tool.answer_code(solution_example)
    assert code.startswith("def encode(events):") and "solution_example" not in code
