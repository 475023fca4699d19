"""Magenta's stochastic beam search, knowing nothing of models.

It takes a batched step function (events so far, state -> state, log-probabilities), so tests drive
it with a toy whose best answer is known, and the generator drives it with a compiled model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from melodylib.errors import MelodylibError

StepFunction = Callable[[list, Any, np.ndarray], "tuple[Any, np.ndarray]"]
SelectFunction = Callable[[Any, np.ndarray], Any]


def beam_search(
    sequences: Sequence[list],
    state: Any,
    scores: Sequence[float],
    step: StepFunction,
    select: SelectFunction,
    num_steps: int,
    beam_size: int = 1,
    branch_factor: int = 1,
    steps_per_iteration: int = 1,
) -> tuple[list[list], Any, np.ndarray]:
    """Magenta's stochastic beam search (magenta-behaviour.md: "Beam search"), for several independent searches at once.

    `sequences`, `state` (one row per search) and `scores` give each search's start. Every
    search starts with `beam_size` copies of its sequence. The first iteration branches each
    copy `branch_factor` times and extends it ((num_steps - 1) % steps_per_iteration) + 1
    steps; every later iteration keeps each search's `beam_size` best rows (ties: the earlier
    row), branches them and extends them `steps_per_iteration` steps.

    `step(rows, state, scores) -> (state, scores)` extends every row (a list, appended to in
    place) of every search by one event in one call; `select(state, indices)` returns the
    state rows at `indices` (in that order). Returns each search's best sequence, the state
    of those rows and their scores.
    """
    num_searches = len(sequences)
    for name, value in (
        ("beam_size", beam_size),
        ("branch_factor", branch_factor),
        ("steps_per_iteration", steps_per_iteration),
    ):
        if int(value) != value or value < 1:
            raise MelodylibError(f"--{name} must be a whole number of at least 1, got {value}")
    if num_steps < 0:
        raise MelodylibError(f"the number of steps to generate must be 0 or more, got {num_steps}")
    rows = np.repeat(np.arange(num_searches), beam_size)
    histories = [list(sequences[row]) for row in rows]
    state = select(state, rows)
    scores = np.asarray(scores, dtype=np.float64)[rows]
    rows_per_search = beam_size

    def keep(indices: np.ndarray) -> None:
        nonlocal histories, state, scores
        histories = [list(histories[index]) for index in indices]
        state = select(state, indices)
        scores = scores[indices]

    steps_left = num_steps
    steps_now = (num_steps - 1) % steps_per_iteration + 1 if num_steps else 0
    first = True
    while steps_left > 0:
        if not first:
            survivors = []
            for search in range(num_searches):
                block = np.arange(search * rows_per_search, (search + 1) * rows_per_search)
                # A stable sort on -score keeps heapq.nlargest's order: best first, ties by position.
                survivors.append(block[np.argsort(-scores[block], kind="stable")[:beam_size]])
            keep(np.concatenate(survivors))
            rows_per_search = min(rows_per_search, beam_size)
        if branch_factor > 1:
            keep(np.repeat(np.arange(len(histories)), branch_factor))
            rows_per_search *= branch_factor
        for _ in range(steps_now):
            state, scores = step(histories, state, scores)
            scores = np.asarray(scores, dtype=np.float64)
        steps_left -= steps_now
        steps_now = steps_per_iteration
        first = False
    best = np.array(
        [
            search * rows_per_search
            + int(np.argmax(scores[search * rows_per_search : (search + 1) * rows_per_search]))
            for search in range(num_searches)
        ],
        dtype=np.int64,
    )
    return [histories[row] for row in best], select(state, best), scores[best]
