"""Exercises of notebook 08_training: perplexity and event accuracy from the sums of an evaluation.

The evaluation is given as the sums a training loop adds up (EVAL_EXERCISE_SUMS); the checkers
work the metrics out from them and name the usual slips (the loss itself, the wrong base, the
wrong denominator).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from melodylib.course.exercises.common import as_number, verdict
from melodylib.course.exercises.registry import Exercise

__all__ = [
    "EVAL_EXERCISE_SUMS",
    "check_eval_perplexity",
    "solution_eval_perplexity",
    "check_eval_event_accuracy",
    "solution_eval_event_accuracy",
]

NOTEBOOK = "08_training"

# One evaluation, as sums over its labels (what melodylib.training.loop.MetricSums adds up).
EVAL_EXERCISE_SUMS = {
    "labels": 2000,  # real (unpadded) steps
    "no_event_labels": 1500,  # of them, labels that are the no-event class
    "no_event_correct": 1410,  # no-event labels the network predicted right
    "event_correct": 210,  # the other 500 labels (note-ons, note-offs) predicted right
    "cross_entropy_sum": 1650.0,  # sum of -ln p(label) over the 2000 labels, in nats
}


def _eval_exercise_values() -> dict[str, float]:
    """The metrics of the evaluation in EVAL_EXERCISE_SUMS, worked out from its sums."""
    sums = EVAL_EXERCISE_SUMS
    loss = sums["cross_entropy_sum"] / sums["labels"]
    event_labels = sums["labels"] - sums["no_event_labels"]
    return {
        "loss": loss,
        "perplexity": float(np.exp(loss)),
        "accuracy": (sums["no_event_correct"] + sums["event_correct"]) / sums["labels"],
        "event_accuracy": sums["event_correct"] / event_labels,
        "no_event_accuracy": sums["no_event_correct"] / sums["no_event_labels"],
    }


def _close(value: float, target: float, tolerance: float) -> bool:
    return abs(value - target) <= tolerance * max(1.0, abs(target))


def check_eval_perplexity(answer: Any) -> bool:
    """08_training (a): the perplexity of the evaluation in EVAL_EXERCISE_SUMS (e to the mean
    cross-entropy).

    Any value within 0.01 of the truth passes (two decimals are enough).
    """
    value = as_number(answer, "the perplexity")
    hint = (
        "the loss is the mean cross-entropy per label (sum / number of labels), and "
        "perplexity = e ** loss."
    )
    if isinstance(value, str):
        return verdict(False, value, hint)
    truth = _eval_exercise_values()
    sums = EVAL_EXERCISE_SUMS
    if abs(value - truth["perplexity"]) <= 0.01:
        return verdict(
            True,
            f"loss {truth['loss']:.3f} nats, perplexity "
            f"{truth['perplexity']:.3f}: the network is as unsure as a fair "
            f"choice among {truth['perplexity']:.1f} classes (a network that "
            "knows nothing, with every class equally likely, has basic_rnn's 38).",
        )
    if _close(value, truth["perplexity"], 0.05):
        return verdict(False, f"{value:g} is close; give two decimals.", hint)
    loss = truth["loss"]
    use_e = "the loss is in nats (natural logarithms), so use e: np.exp(loss)."
    mistakes = [
        (loss, "that is the loss; perplexity is e raised to it."),
        (2.0**loss, f"that is 2 ** loss; {use_e}"),
        (10.0**loss, f"that is 10 ** loss; {use_e}"),
        (
            float(np.exp(sums["cross_entropy_sum"] / sums["no_event_labels"])),
            "divide the sum by all the labels, not only the no-event ones.",
        ),
        (
            float(np.exp(sums["cross_entropy_sum"] / (sums["labels"] - sums["no_event_labels"]))),
            "divide the sum by all the labels, not only the events.",
        ),
        (
            1.0 / truth["accuracy"],
            "perplexity comes from the cross-entropy, not from the accuracy.",
        ),
    ]
    for target, message in mistakes:
        if _close(value, target, 0.01):
            return verdict(False, message, hint)
    if value > 1e6:
        return verdict(False, "that is e to the whole sum; average it over the labels first.", hint)
    return verdict(False, f"{value:g} is not it.", hint)


def solution_eval_perplexity() -> float:
    """A model answer to check_eval_perplexity: e ** (cross-entropy sum / labels)."""
    return float(np.exp(EVAL_EXERCISE_SUMS["cross_entropy_sum"] / EVAL_EXERCISE_SUMS["labels"]))


def check_eval_event_accuracy(answer: Any) -> bool:
    """08_training (b): the event accuracy of the evaluation in EVAL_EXERCISE_SUMS.

    A fraction (0.42) or a percentage (42, or the text "42%") passes, within 0.005.
    """
    value = as_number(answer, "the event accuracy")
    hint = (
        "event accuracy counts only the labels that are not the no-event class: the right ones "
        "among them divided by how many there are."
    )
    if isinstance(value, str):
        return verdict(False, value, hint)
    truth = _eval_exercise_values()
    as_percentage = 1.0 < value <= 100.0
    fraction = value / 100.0 if as_percentage else value
    if abs(fraction - truth["event_accuracy"]) <= 0.005:
        return verdict(
            True,
            f"{truth['event_accuracy']:.0%} of the events, while accuracy over "
            f"all labels is {truth['accuracy']:.0%}: holding notes is easy, the "
            "notes themselves are the hard part.",
        )
    sums = EVAL_EXERCISE_SUMS
    mistakes = [
        (
            truth["accuracy"],
            "that is the accuracy over all labels; event accuracy leaves out the no-event labels.",
        ),
        (
            sums["event_correct"] / sums["labels"],
            "divide by the number of event labels (2000 - 1500), not by all labels.",
        ),
        (
            truth["no_event_accuracy"],
            "that is the no-event accuracy; event accuracy is about the other labels.",
        ),
        (1.0 - truth["event_accuracy"], "that is the share of events the network got wrong."),
    ]
    for target, message in mistakes:
        if abs(fraction - target) <= 0.005:
            return verdict(False, message, hint)
    return verdict(False, f"{value:g} is not it.", hint)


def solution_eval_event_accuracy() -> float:
    """A model answer to check_eval_event_accuracy: right events / event labels."""
    sums = EVAL_EXERCISE_SUMS
    return sums["event_correct"] / (sums["labels"] - sums["no_event_labels"])


EXERCISES = (
    Exercise(check_eval_perplexity, solution_eval_perplexity),
    Exercise(check_eval_event_accuracy, solution_eval_event_accuracy),
)
