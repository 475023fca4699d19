"""Exercises of notebook 03_event_encoding: one-hot labels by hand, and lookback labels that
decode back to a melody.

The truth comes from the configs' own encoders, so the checkers agree with what training uses.
"""

from __future__ import annotations

from typing import Any

from melodylib.course.exercises.common import as_int_list, config_encoder, event_name, verdict
from melodylib.course.exercises.registry import Exercise

__all__ = [
    "ONE_HOT_EXERCISE_MELODY",
    "LOOKBACK_EXERCISE_MELODY",
    "check_one_hot_labels",
    "solution_one_hot_labels",
    "check_lookback_labels",
    "solution_lookback_labels",
]

NOTEBOOK = "03_event_encoding"

ONE_HOT_EXERCISE_MELODY = (60, -2, -2, -2, 64, -2, -1, -2, 55, -2, -2, 67)

# Two bars where the second repeats the first, then a bar that starts like the first.
_LOOKBACK_BAR = [60, -2, 64, -2, 67, -2, 64, -2, 62, -2, 65, -2, 69, -2, 65, -1]
LOOKBACK_EXERCISE_MELODY = tuple(
    _LOOKBACK_BAR + _LOOKBACK_BAR + [60, -2, 64, -2, 67, -2, -2, -2, -1]
)


def check_one_hot_labels(answer: Any) -> bool:
    """03_event_encoding (a): the basic_rnn classes of ONE_HOT_EXERCISE_MELODY, worked out by hand.

    Accepted: a class for every event, or the training labels (every event but the first, as
    `encoder.encode` gives them); a list, tuple or numpy array.
    """
    melody = list(ONE_HOT_EXERCISE_MELODY)
    truth = config_encoder("basic_rnn").labels(melody).tolist()
    hint = (
        "class 0 is no event (-2), 1 is note off (-1) and a pitch p is class p - 48 + 2 "
        "(basic_rnn covers 48..83)."
    )
    labels = as_int_list(answer, "the labels")
    if isinstance(labels, str):
        return verdict(False, labels, hint)
    if labels == truth:
        return verdict(
            True, "One class per event: 0 and 1 for the two special events, pitch - 46 for a note."
        )
    if labels == truth[1:]:
        return verdict(
            True,
            "These are the training labels: every event but the first, which is never predicted.",
        )
    if labels == melody:
        return verdict(False, "these are the events themselves, not their classes.", hint)
    if len(labels) not in (len(truth), len(truth) - 1):
        return verdict(
            False,
            f"give one class per event ({len(truth)} numbers; or {len(truth) - 1} without "
            "the first event).",
            hint,
        )
    offset = len(truth) - len(labels)
    pairs = zip(labels, truth[offset:], strict=True)
    for position, (label, expected) in enumerate(pairs, start=offset):
        if label != expected:
            event = melody[position]
            if event >= 0 and label == event - 48:
                hint = (
                    "the first two classes are the special events, so pitches start at "
                    "class 2: p - 48 + 2."
                )
            problem = (
                f"event {event_name(event)} at position {position} is class {expected}, "
                f"not {label}."
            )
            return verdict(False, problem, hint)
    return verdict(False, "some classes are wrong.", hint)  # not reached: a difference is found


def solution_one_hot_labels() -> list[int]:
    """A model answer to check_one_hot_labels: the classes of ONE_HOT_EXERCISE_MELODY's events."""
    return config_encoder("basic_rnn").labels(list(ONE_HOT_EXERCISE_MELODY)).tolist()


def check_lookback_labels(answer: Any) -> bool:
    """03_event_encoding (b): lookback_rnn classes that decode back to LOOKBACK_EXERCISE_MELODY.

    Decoding starts from an empty history (or, for one label fewer than events, from the first
    event). Several answers are right, because a repeated event can be written as its own class or
    as "repeat the event 1 (or 2) bars back": the checker decodes the answer and compares.
    """
    melody = list(LOOKBACK_EXERCISE_MELODY)
    encoder = config_encoder("lookback_rnn")
    hint = (
        "classes 0..37 are the one-hot classes (0 no event, 1 note off, pitch - 46 for a "
        "note); 38 repeats the event 16 steps back and 39 the event 32 steps back (no event "
        "when there is none yet)."
    )
    labels = as_int_list(answer, "the labels")
    if isinstance(labels, str):
        return verdict(False, labels, hint)
    for position, label in enumerate(labels):
        if not 0 <= label < encoder.num_classes:
            problem = (
                f"label {label} at position {position} is not a class; classes are "
                f"0..{encoder.num_classes - 1}."
            )
            return verdict(False, problem, hint)
    if len(labels) == len(melody):
        history: list[int] = []
    elif len(labels) == len(melody) - 1:
        history = melody[:1]
    else:
        return verdict(
            False, f"give one label per event ({len(melody)} labels); you gave {len(labels)}.", hint
        )
    decoded = list(history)
    for label in labels:
        position = len(decoded)
        event = encoder.class_index_to_event(label, decoded)
        if event != melody[position]:
            what = f"label {label} at position {position} decodes to {event_name(event)}"
            if label >= 38:
                distance = encoder.lookback_distances[label - 38]
                back = "the event" if position >= distance else "nothing"
                what += f" ({back} {distance} steps back{'' if position >= distance else ' yet'})"
            return verdict(
                False, f"{what}, but the melody has {event_name(melody[position])} there.", hint
            )
        decoded.append(event)
    repeats = sum(label >= 38 for label in labels)
    encoder_labels = encoder.labels(melody).tolist()[len(history) :]
    same = (
        " They are exactly the encoder's labels."
        if labels == encoder_labels
        else (
            " The encoder's own labels differ (it prefers the repeat classes), yet both decode to the "
            "same melody."
        )
    )
    return verdict(
        True,
        f"Your {len(labels)} labels decode to the melody, {repeats} of them repeat classes.{same}",
    )


def solution_lookback_labels() -> list[int]:
    """A model answer to check_lookback_labels: the lookback encoder's own labels for the melody."""
    return config_encoder("lookback_rnn").labels(list(LOOKBACK_EXERCISE_MELODY)).tolist()


EXERCISES = (
    Exercise(check_one_hot_labels, solution_one_hot_labels),
    Exercise(check_lookback_labels, solution_lookback_labels),
)
