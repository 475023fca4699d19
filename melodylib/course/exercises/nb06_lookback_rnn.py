"""Exercise of notebook 06_lookback_rnn: the labels lookback_rnn is trained on, for a bar played
three times.

Unlike 03's round trip, only the encoder's own labels are right here: they are the training
targets. An answer that decodes to the melody but is not those labels gets its own explanation.
"""

from __future__ import annotations

from typing import Any

from melodylib.course.exercises.common import as_int_list, config_encoder, event_name, verdict
from melodylib.course.exercises.registry import Exercise
from melodylib.music.events import NO_EVENT, NOTE_OFF

__all__ = [
    "LOOKBACK_TRAINING_MELODY",
    "check_lookback_training_labels",
    "solution_lookback_training_labels",
]

NOTEBOOK = "06_lookback_rnn"

_LOOKBACK_REPEAT_BAR = [60, -2, 62, -2, 64, -2, 65, -2, 67, -2, -2, -2, 67, -2, -1, -2]
LOOKBACK_TRAINING_MELODY = tuple(_LOOKBACK_REPEAT_BAR * 3)


def check_lookback_training_labels(answer: Any) -> bool:
    """06_lookback_rnn: the labels the lookback encoder gives LOOKBACK_TRAINING_MELODY (one bar,
    three times).

    These are the targets the network is trained on, so exactly one answer is right: a label for
    every event, or the training labels (all but the first, as `encoder.encode` gives them).
    """
    melody = list(LOOKBACK_TRAINING_MELODY)
    encoder = config_encoder("lookback_rnn")
    truth = encoder.labels(melody).tolist()
    hint = (
        "for each event, in this order: 39 if it equals the event 32 steps back, else 38 if "
        "it equals the event 16 steps back, else its own class (0 no event, 1 note off, "
        "pitch - 46); and, Magenta's quirk, every no event in the first two bars is 39."
    )
    labels = as_int_list(answer, "the labels")
    if isinstance(labels, str):
        return verdict(False, labels, hint)
    if labels == truth or labels == truth[1:]:
        share = sum(label >= 38 for label in truth) / len(truth)
        return verdict(
            True,
            f"{share:.0%} of the labels are repeat classes: after the first bar "
            "the network mostly has to say 'the same as before'.",
        )
    if len(labels) not in (len(truth), len(truth) - 1):
        return verdict(
            False,
            f"give one label per event ({len(truth)} labels, or {len(truth) - 1} "
            "without the first).",
            hint,
        )
    offset = len(truth) - len(labels)
    decoded = list(melody[:offset])
    decodes = True
    for label in labels:
        if not 0 <= label < encoder.num_classes:
            decodes = False
            break
        decoded.append(encoder.class_index_to_event(label, decoded))
    if decodes and decoded == melody:
        pairs = zip(labels, truth[offset:], strict=True)
        first = next(
            position for position, (got, want) in enumerate(pairs, start=offset) if got != want
        )
        return verdict(
            False,
            f"these labels decode to the melody (that was 03's exercise), but "
            f"the encoder writes position {first} as {truth[first]}, not "
            f"{labels[first - offset]}: it always prefers a repeat class, two "
            "bars back first.",
            hint,
        )
    for position, (label, expected) in enumerate(
        zip(labels, truth[offset:], strict=True), start=offset
    ):
        if label == expected:
            continue
        event = melody[position]
        why = {
            39: (
                "it repeats the event 32 steps back"
                if position >= 32
                else "it is a no event in the first two bars (Magenta's quirk)"
            ),
            38: "it repeats the event 16 steps back (and not the one 32 steps back)",
        }.get(expected, "it repeats nothing one or two bars back, so it gets its own class")
        return verdict(
            False,
            f"position {position} ({event_name(event)}) is labelled {expected}, "
            f"not {label}: {why}.",
            hint,
        )
    return verdict(False, "some labels are wrong.", hint)  # not reached


def solution_lookback_training_labels() -> list[int]:
    """A model answer to check_lookback_training_labels, by the rule (bar 1 own classes, bar 2 38,
    bar 3 39)."""
    first_bar = [
        event - 46 if event >= 0 else (1 if event == NOTE_OFF else 39)
        for event in _LOOKBACK_REPEAT_BAR
    ]
    second_bar = [38 if event != NO_EVENT else 39 for event in _LOOKBACK_REPEAT_BAR]
    return first_bar + second_bar + [39] * len(_LOOKBACK_REPEAT_BAR)


EXERCISES = (Exercise(check_lookback_training_labels, solution_lookback_training_labels),)
