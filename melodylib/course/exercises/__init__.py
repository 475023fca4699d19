"""The course's exercises: one checker per exercise that tells a learner whether an answer is right.

Each `check_<name>(answer, ...)` prints a verdict ("Correct! ..." or what is wrong, with a hint) and
returns True or False. A checker never raises for a wrong or malformed answer, so a learner can try
anything. It works the truth out from the data or the rules and accepts every correct answer, not
only the one in the solution. Teachers get a model answer from `solution_<name>()`, or all the
answers of a notebook from `solution("03_event_encoding")`.

The package has one module per notebook (`nb03_event_encoding` for 03_event_encoding), holding
that notebook's constants, checkers and solutions and ending with its registry entry, `EXERCISES`.
`common` reads answers and prints verdicts; `tunes` compares a tune written as events with the
expected one; `registry` defines `Exercise`. Every public name of the notebook modules is
reachable here, so a notebook writes `from melodylib.course import exercises` and then
`exercises.check_twinkle(...)`.

To add an exercise to a notebook, in its module: write `check_<name>` and `solution_<name>`, add
both to `__all__` and `Exercise(check_<name>, solution_<name>)` to `EXERCISES`, and test them in
tests/test_exercises*.py (tests/test_exercises.py checks that every checker a notebook calls is
registered and that every solution passes its checker). A "build" exercise, where the learner
writes a function or a Keras model, follows the same shape: its checker receives the learner's
function, calls it on inputs made with the library (inside try/except, turning any error into a
verdict) and compares with the library's own result; its solution returns a working function.
A new notebook gets a module of its own and a line in `NOTEBOOK_MODULES`.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

from melodylib.course.exercises import (
    nb00_tour,
    nb01_data_conversion,
    nb02_melody_extraction,
    nb03_event_encoding,
    nb04_basic_rnn,
    nb05_mono_rnn,
    nb06_lookback_rnn,
    nb07_attention_rnn,
    nb08_training,
    nb09_generation,
    nb10_evaluation,
)
from melodylib.course.exercises.common import STEPS_PER_BAR as STEPS_PER_BAR
from melodylib.course.exercises.nb00_tour import *  # noqa: F403
from melodylib.course.exercises.nb01_data_conversion import *  # noqa: F403
from melodylib.course.exercises.nb02_melody_extraction import *  # noqa: F403
from melodylib.course.exercises.nb03_event_encoding import *  # noqa: F403
from melodylib.course.exercises.nb04_basic_rnn import *  # noqa: F403
from melodylib.course.exercises.nb05_mono_rnn import *  # noqa: F403
from melodylib.course.exercises.nb06_lookback_rnn import *  # noqa: F403
from melodylib.course.exercises.nb07_attention_rnn import *  # noqa: F403
from melodylib.course.exercises.nb08_training import *  # noqa: F403
from melodylib.course.exercises.nb09_generation import *  # noqa: F403
from melodylib.course.exercises.nb10_evaluation import *  # noqa: F403
from melodylib.course.exercises.registry import Exercise, notebook_key

# The notebooks with exercises, in course order.
NOTEBOOK_MODULES: tuple[ModuleType, ...] = (
    nb00_tour,
    nb01_data_conversion,
    nb02_melody_extraction,
    nb03_event_encoding,
    nb04_basic_rnn,
    nb05_mono_rnn,
    nb06_lookback_rnn,
    nb07_attention_rnn,
    nb08_training,
    nb09_generation,
    nb10_evaluation,
)

# The registry, built once: notebook name -> its exercises, in the order the notebook asks them.
EXERCISES_BY_NOTEBOOK: dict[str, tuple[Exercise, ...]] = {
    module.NOTEBOOK: tuple(module.EXERCISES) for module in NOTEBOOK_MODULES
}

# The same registry as notebook name -> {exercise name: solution function}, for teachers.
SOLUTIONS: dict[str, dict[str, Callable[..., Any]]] = {
    notebook: {exercise.name: exercise.solution for exercise in exercises}
    for notebook, exercises in EXERCISES_BY_NOTEBOOK.items()
}


def solution(notebook: str, *, show: bool = True, **data: Any) -> dict[str, Any]:
    """The model answers of a notebook's exercises ("03_event_encoding", "03" or the file name),
    printed when `show`. Data an exercise works on (e.g. `sequences=` for 01, `weights=` for 07)
    is passed to its solution; without it 01 reads the course corpus."""
    answers = {}
    for exercise in EXERCISES_BY_NOTEBOOK[notebook_key(notebook, EXERCISES_BY_NOTEBOOK)]:
        answers[exercise.name] = exercise.model_answer(**data)
        if show:
            print(f"{exercise.name}: {answers[exercise.name]!r}")
    return answers
