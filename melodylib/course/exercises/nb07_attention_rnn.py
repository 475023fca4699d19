"""Exercise of notebook 07_attention_rnn: at the last step, which step does the attention weigh
most?

It works on the attention weights the notebook computed (`attention_weights(model, inputs)`), so
the checker and the solution both take them as `weights`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from melodylib.course.exercises.common import as_whole_number, verdict
from melodylib.course.exercises.registry import Exercise
from melodylib.errors import MelodylibError

__all__ = ["check_attention_peak", "solution_attention_peak"]

NOTEBOOK = "07_attention_rnn"


def _attention_matrix(weights: Any) -> np.ndarray | str:
    """`weights` as a [steps, attn_length] array of attention weights, or why it is not one."""
    try:
        matrix = np.asarray(weights, dtype=float)
    except (TypeError, ValueError):
        return (
            "the weights must be the array that melodylib.attention_weights(model, inputs) returns"
        )
    if matrix.ndim != 2 or 0 in matrix.shape or not np.all(np.isfinite(matrix)):
        return (
            "the weights must be a [steps, attn_length] array from "
            f"melodylib.attention_weights; got shape {matrix.shape}"
        )
    return matrix


def check_attention_peak(answer: Any, weights: Any) -> bool:
    """07_attention_rnn: at the last step of the melody, which step does the attention weigh most?

    `weights` is `attention_weights(model, inputs)` ([steps, attn_length]); row t holds the weights
    over the outputs of steps t - attn_length .. t - 1 (column attn_length - 1 is the step before
    t). The answer is a step number of the melody (0 is its first step); ties all count as right.
    """
    matrix = _attention_matrix(weights)
    if isinstance(matrix, str):
        return verdict(
            False,
            matrix,
            "pass the weights of the notebook: check_attention_peak(my_step, weights).",
        )
    step = as_whole_number(answer, "the step")
    last = matrix.shape[0] - 1
    length = matrix.shape[1]
    row = matrix[last]
    best = row.max()
    peaks = [last - length + column for column in range(length) if row[column] >= best - 1e-6]
    hint = (
        f"row {last} of weights is the last step; its column j is the output of step {last} - "
        f"{length} + j, so the last column ({length - 1}) is step {last - 1}. Find the column "
        "with the largest weight (np.argmax)."
    )
    if isinstance(step, str):
        return verdict(False, step, hint)
    if step in peaks:
        back = last - step
        return verdict(
            True,
            f"At step {last} the network weighs step {step} most ({back} "
            f"step{'s' if back != 1 else ''} back, weight {best:.3f}; an even "
            f"spread would give each slot {1 / length:.3f}).",
        )
    columns = [peak - last + length for peak in peaks]
    if step in columns:
        return verdict(False, f"{step} is the column; turn it into a step of the melody.", hint)
    if step in [last - peak for peak in peaks]:
        return verdict(
            False, f"{step} is how many steps back it looks; give the step number itself.", hint
        )
    if 0 <= step <= last and last - length <= step < last:
        weight = row[step - last + length]
        return verdict(
            False, f"step {step} has weight {weight:.3f}, but another step has {best:.3f}.", hint
        )
    return verdict(
        False,
        f"at step {last} the network can only look at steps {max(0, last - length)}..{last - 1}.",
        hint,
    )


def solution_attention_peak(weights: Any = None) -> int:
    """A model answer to check_attention_peak for the notebook's `weights` (pass weights=...)."""
    matrix = _attention_matrix(weights) if weights is not None else "no weights were given"
    if isinstance(matrix, str):
        raise MelodylibError(
            f"solution_attention_peak needs the notebook's weights ({matrix}); "
            "call exercises.solution('07', weights=weights)"
        )
    last, length = matrix.shape[0] - 1, matrix.shape[1]
    return int(last - length + int(np.argmax(matrix[last])))


EXERCISES = (Exercise(check_attention_peak, solution_attention_peak),)
