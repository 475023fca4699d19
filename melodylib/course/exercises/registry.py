"""What an exercise is for the package: a checker and its model answer; finding a notebook's.

Each notebook module ends with `EXERCISES`, a tuple of `Exercise(check_x, solution_x)`; the
package collects them once into `EXERCISES_BY_NOTEBOOK`. Some exercises work on data the notebook
made (the corpus for 01, the attention weights for 07): that data is passed by keyword, and each
function receives only the keywords it names as parameters.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from melodylib.errors import MelodylibError

CHECK_PREFIX = "check_"
SOLUTION_PREFIX = "solution_"


def _call_with_data(function: Callable[..., Any], *args: Any, data: Mapping[str, Any]) -> Any:
    """Call `function(*args, ...)` with the entries of `data` that it names as parameters."""
    accepted = inspect.signature(function).parameters
    return function(*args, **{key: value for key, value in data.items() if key in accepted})


@dataclass(frozen=True)
class Exercise:
    """One exercise: `check_<name>(answer, ...)` marks an answer; `solution_<name>()` gives one."""

    check: Callable[..., bool]
    solution: Callable[..., Any]

    def __post_init__(self) -> None:
        if not self.check.__name__.startswith(CHECK_PREFIX):
            raise MelodylibError(
                f"a checker's name starts with {CHECK_PREFIX!r}; got {self.check.__name__!r}"
            )
        if self.solution.__name__ != SOLUTION_PREFIX + self.name:
            raise MelodylibError(
                f"the solution to {self.check.__name__} is named "
                f"{SOLUTION_PREFIX + self.name}; got {self.solution.__name__!r}"
            )

    @property
    def name(self) -> str:
        """The exercise's name, e.g. "twinkle" for check_twinkle and solution_twinkle."""
        return self.check.__name__[len(CHECK_PREFIX) :]

    def model_answer(self, **data: Any) -> Any:
        """The model answer, worked out on the notebook's `data` where the exercise needs it."""
        return _call_with_data(self.solution, data=data)

    def is_correct(self, answer: Any, **data: Any) -> bool:
        """Whether the checker accepts `answer` (it prints its verdict, as in the notebook)."""
        return _call_with_data(self.check, answer, data=data)


def notebook_key(notebook: str, known: Mapping[str, Any]) -> str:
    """The key of `known` that `notebook` names: "03_event_encoding", "03", a file name or path."""
    name = str(notebook).strip().split("/")[-1]
    name = name[: -len(".ipynb")] if name.endswith(".ipynb") else name
    matches = [key for key in known if key == name or key.split("_")[0] == name]
    if len(matches) != 1:
        raise MelodylibError(
            f"no exercises for notebook {notebook!r}; choose one of {', '.join(known)}"
        )
    return matches[0]
