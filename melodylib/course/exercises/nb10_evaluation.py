"""Exercise of notebook 10_evaluation: the perplexity of a unigram model on a few labels.

The checker recomputes the perplexity from the probabilities and names the usual slips (the loss
itself, bits, a sum instead of a mean, the average probability).
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from melodylib.course.exercises.common import verdict
from melodylib.course.exercises.registry import Exercise

__all__ = [
    "UNIGRAM_EXERCISE_PROBABILITIES",
    "UNIGRAM_EXERCISE_LABELS",
    "PERPLEXITY_RELATIVE_TOLERANCE",
    "check_perplexity",
    "solution_perplexity",
]

NOTEBOOK = "10_evaluation"

# A unigram model: the same distribution at every step, over four classes of a tiny one-hot encoding
# (0 no event, 1 note-off, 2 C, 3 G), and the labels to score (every label is scored).
UNIGRAM_EXERCISE_PROBABILITIES = (0.6, 0.1, 0.2, 0.1)
UNIGRAM_EXERCISE_LABELS = (0, 0, 2, 0, 1, 3, 0, 0)
# Accepts the answer rounded to two or three significant digits.
PERPLEXITY_RELATIVE_TOLERANCE = 0.005


def _unigram_exercise_log_probabilities() -> np.ndarray:
    probabilities = np.asarray(UNIGRAM_EXERCISE_PROBABILITIES, dtype=np.float64)
    return np.log(probabilities[list(UNIGRAM_EXERCISE_LABELS)])


def _perplexity_answer_value(answer: Any) -> float | None:
    """The answer as a finite number, else None. Stricter than `as_number`: text is refused, since
    the notebook asks for the number worked out with numpy."""
    if isinstance(answer, (bool, np.bool_)):
        return None
    if isinstance(answer, np.ndarray) and answer.size == 1:
        answer = answer.reshape(-1)[0]
    if isinstance(answer, numbers.Real):
        value = float(answer)
        return value if np.isfinite(value) else None
    return None


def check_perplexity(answer: Any) -> bool:
    """10_evaluation: the perplexity of the unigram model UNIGRAM_EXERCISE_PROBABILITIES on
    UNIGRAM_EXERCISE_LABELS: exp(mean negative log-probability of the labels).

    Any number within 0.5 % passes (2.99, 2.992, ...); the checker recomputes it from the
    probabilities and names the usual slips (the loss itself, bits, a sum instead of a mean).
    """
    log_probabilities = _unigram_exercise_log_probabilities()
    loss = float(-log_probabilities.mean())
    truth = float(np.exp(loss))
    hint = (
        "perplexity = exp(NLL per step), and NLL per step = -mean(log p(label)) with the "
        "natural log."
    )
    value = _perplexity_answer_value(answer)
    if value is None:
        return verdict(False, f"give one number; got {answer!r:.40}.", hint)

    def near(target: float) -> bool:
        return abs(value - target) <= PERPLEXITY_RELATIVE_TOLERANCE * abs(target)

    if near(truth):
        return verdict(
            True,
            f"The NLL is {loss:.3f} nats per step, so the perplexity is e^{loss:.3f} = "
            f"{truth:.3f}: the model is as unsure as a fair choice among about {truth:.0f} classes "
            "at every step.",
        )
    label_count = len(UNIGRAM_EXERCISE_LABELS)
    slips = [
        (
            loss,
            "this is the NLL per step (the loss), not the perplexity.",
            "the perplexity is e to the power of it.",
        ),
        (
            loss / np.log(2.0),
            "this is the NLL per step in bits.",
            "the perplexity is 2 ** bits (the same as e ** nats).",
        ),
        (
            -loss,
            "this is the mean log-probability per step.",
            "negate it and take exp: the perplexity is exp(-mean log p).",
        ),
        (
            float(-log_probabilities.sum()),
            "this is the NLL of the whole sequence (a sum).",
            "divide by the number of labels first: perplexity is per step.",
        ),
        (
            float(np.exp(-log_probabilities.sum())),
            "you took exp of the sum; perplexity uses the mean.",
            f"divide the summed NLL by the {label_count} labels before taking exp.",
        ),
        (
            1.0 / truth,
            "this is the geometric mean of the probabilities.",
            "the perplexity is its inverse.",
        ),
        (
            float(len(UNIGRAM_EXERCISE_PROBABILITIES)),
            "this is the number of classes.",
            "a uniform model would have that perplexity; this one is surer of the no-event class.",
        ),
    ]
    for target, problem, slip_hint in slips:
        if near(target):
            return verdict(False, problem, slip_hint)
    arithmetic_mean = float(np.exp(-np.log(np.mean(np.exp(log_probabilities)))))
    if near(arithmetic_mean):
        return verdict(
            False,
            "this is 1 / (the average probability).",
            "average the log-probabilities, not the probabilities: exp(-mean(log p)).",
        )
    return verdict(False, f"{value:g} is not the perplexity.", hint)


def solution_perplexity() -> float:
    """A model answer to check_perplexity: exp of the mean negative natural-log probability of the
    labels."""
    return float(np.exp(-_unigram_exercise_log_probabilities().mean()))


EXERCISES = (Exercise(check_perplexity, solution_perplexity),)
