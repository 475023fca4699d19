"""Exercises of notebook 03_event_encoding: basic_rnn's one-hot `encode` and `decode`, written by
the learner (build exercises); one-hot labels by hand; lookback labels that decode back to a
melody.

The truth comes from the configs' own encoders, so the checkers agree with what training uses.
The build checkers run the learner's functions on real melodies of the course corpus (Aird's Airs,
squashed for basic_rnn) and name the melody, the step, the expected and the given class.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from melodylib.course.exercises.common import as_int_list, config_encoder, event_name, verdict
from melodylib.course.exercises.real_melodies import (
    call_learner,
    given_melodies,
    yours_or_reference,
)
from melodylib.course.exercises.registry import Exercise

__all__ = [
    "check_one_hot_encode",
    "solution_one_hot_encode",
    "check_one_hot_decode",
    "solution_one_hot_decode",
    "one_hot_encode_yours_or_reference",
    "one_hot_decode_yours_or_reference",
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


_ENCODE_HINT = (
    "class 0 is no event (-2), 1 is note off (-1), and a pitch p in 48..83 is class p - 48 + 2; "
    "the row of an event is np.eye(38)[its class]."
)
_DECODE_HINT = (
    "class 0 is no event (-2), 1 is note off (-1), and a class k >= 2 is pitch k - 2 + 48."
)


def _class_name(index: int) -> str:
    """A basic_rnn class as a learner reads it: "class 18 (E4)"."""
    names = config_encoder("basic_rnn").class_names()
    return f"class {index} ({names[index]})" if 0 <= index < len(names) else f"class {index}"


def _describe_row(row: np.ndarray) -> tuple[int | None, str]:
    """(the class a one-hot row stands for, or None; the row in words)."""
    ones = np.flatnonzero(row != 0)
    if len(ones) == 1 and row[ones[0]] == 1:
        return int(ones[0]), f"a 1 in column {ones[0]}, i.e. {_class_name(int(ones[0]))}"
    if len(ones) == 0:
        return None, "a row of zeros (no 1 at all)"
    values = ", ".join(f"{row[column]:g} in column {column}" for column in ones[:4])
    return None, f"{len(ones)} non-zero values ({values}); a one-hot row has a single 1"


def check_one_hot_encode(encode: Any, melodies: Any = None) -> bool:
    """03_event_encoding (build): `encode(events)` gives basic_rnn's one-hot rows, one per event.

    Run on real melodies of the course corpus (or `melodies`), compared with
    `get_config("basic_rnn").encoder.inputs(events)`; any array-like of shape (events, 38) with the
    same 0s and 1s passes.
    """
    if not callable(encode):
        return verdict(
            False,
            f"give the function itself (encode, no brackets); got {encode!r:.60}",
            _ENCODE_HINT,
        )
    encoder = config_encoder("basic_rnn")
    try:
        named = given_melodies(melodies, "basic_rnn")
    except Exception as error:  # malformed test melodies: say so rather than raise
        return verdict(False, f"could not read the melodies to test on: {error}")
    total = 0
    for title, events in named:
        result, problem = call_learner(encode, "encode", list(events))
        if problem == "NOT_WRITTEN":
            return verdict(
                False,
                "encode is not written yet (it still raises NotImplementedError).",
                "look up each event's class, then take that row of np.eye(38). " + _ENCODE_HINT,
            )
        if problem:
            return verdict(False, f"on the melody '{title}': {problem}", _ENCODE_HINT)
        try:
            rows = np.asarray(result, dtype=float)
        except (TypeError, ValueError):
            return verdict(
                False,
                f"encode returned {type(result).__name__}, not an array of numbers.",
                _ENCODE_HINT,
            )
        truth = encoder.inputs(events)
        if rows.ndim == 1 and rows.shape[0] == len(events):
            return verdict(
                False,
                f"encode returned {len(events)} numbers for the {len(events)} events of "
                f"'{title}': class indices, not one-hot rows.",
                "turn the classes into rows with np.eye(38)[classes].",
            )
        if rows.shape != truth.shape:
            return verdict(
                False,
                f"for the {len(events)} events of '{title}' encode should give an array of shape "
                f"{truth.shape} (one row of 38 per event); yours has shape {rows.shape}.",
                _ENCODE_HINT,
            )
        wrong = np.flatnonzero(np.any(rows != truth, axis=1))
        if len(wrong):
            step = int(wrong[0])
            event = events[step]
            expected = int(truth[step].argmax())
            given, row_text = _describe_row(rows[step])
            hint = _ENCODE_HINT
            if given is not None and event >= 0 and given == expected - 2:
                hint = "pitches start at class 2, after the two special events: p - 48 + 2."
            elif given is not None and event >= 0 and given == event:
                hint = "the column is the event's class, not its MIDI pitch: p - 48 + 2."
            return verdict(
                False,
                f"melody '{title}', step {step}: event {event_name(event)} is "
                f"{_class_name(expected)}, but your row has {row_text}.",
                hint,
            )
        total += len(events)
    return verdict(
        True,
        f"Your rows equal basic_rnn's encoder on all {total:,} events of {len(named)} corpus "
        f"melodies ({', '.join(repr(title) for title, _ in named)}).",
    )


def solution_one_hot_encode() -> Callable[[list[int]], np.ndarray]:
    """A model answer to check_one_hot_encode: the function `encode`."""

    def encode(events: list[int]) -> np.ndarray:
        """basic_rnn's one-hot rows of `events`: one row of 38 numbers per event."""
        min_note, num_classes = 48, 38
        classes = [event + 2 if event < 0 else event - min_note + 2 for event in events]
        return np.eye(num_classes)[classes]

    return encode


def check_one_hot_decode(decode: Any, melodies: Any = None) -> bool:
    """03_event_encoding (build): `decode(classes)` turns basic_rnn class indices back into events.

    Run on the classes of real melodies of the course corpus (or `melodies`), as
    `get_config("basic_rnn").encoder.labels(events)` gives them: it must give the events back.
    """
    if not callable(decode):
        return verdict(
            False,
            f"give the function itself (decode, no brackets); got {decode!r:.60}",
            _DECODE_HINT,
        )
    encoder = config_encoder("basic_rnn")
    try:
        named = given_melodies(melodies, "basic_rnn")
    except Exception as error:  # malformed test melodies: say so rather than raise
        return verdict(False, f"could not read the melodies to test on: {error}")
    total = 0
    for title, events in named:
        classes = encoder.labels(events).tolist()
        result, problem = call_learner(decode, "decode", list(classes))
        if problem == "NOT_WRITTEN":
            return verdict(
                False,
                "decode is not written yet (it still raises NotImplementedError).",
                "turn each class back into its event. " + _DECODE_HINT,
            )
        if problem:
            return verdict(False, f"on the classes of '{title}': {problem}", _DECODE_HINT)
        given = as_int_list(result, "decode's result")
        if isinstance(given, str):
            return verdict(False, f"on the classes of '{title}': {given}", _DECODE_HINT)
        if len(given) != len(events):
            return verdict(
                False,
                f"the {len(classes)} classes of '{title}' should give {len(events)} events; "
                f"decode gave {len(given)}.",
                "one event per class.",
            )
        for step, (want, got) in enumerate(zip(events, given, strict=True)):
            if want != got:
                hint = _DECODE_HINT
                if want >= 0 and got == want - 2:
                    hint = "pitches start at class 2: the pitch of class k is k - 2 + 48."
                return verdict(
                    False,
                    f"melody '{title}', step {step}: {_class_name(classes[step])} is the event "
                    f"{event_name(want)}; decode gave {event_name(got)}.",
                    hint,
                )
        total += len(events)
    return verdict(
        True,
        f"decode gives back all {total:,} events of {len(named)} corpus melodies from their "
        "classes.",
    )


def solution_one_hot_decode() -> Callable[[list[int]], list[int]]:
    """A model answer to check_one_hot_decode: the function `decode`."""

    def decode(classes: list[int]) -> list[int]:
        """The basic_rnn events of class indices: the way back from the network's answer."""
        min_note = 48
        return [int(index) - 2 if index < 2 else int(index) - 2 + min_note for index in classes]

    return decode


def one_hot_encode_yours_or_reference(encode: Any) -> Callable[[list[int]], np.ndarray]:
    """Your `encode` if it passes check_one_hot_encode, else the model answer (said in one line)."""
    return yours_or_reference(check_one_hot_encode, encode, solution_one_hot_encode(), "encode")


def one_hot_decode_yours_or_reference(decode: Any) -> Callable[[list[int]], list[int]]:
    """Your `decode` if it passes check_one_hot_decode, else the model answer (said in one line)."""
    return yours_or_reference(check_one_hot_decode, decode, solution_one_hot_decode(), "decode")


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
            " The encoder's own labels differ (it prefers the repeat classes), yet both decode "
            "to the same melody."
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
    Exercise(check_one_hot_encode, solution_one_hot_encode),
    Exercise(check_one_hot_decode, solution_one_hot_decode),
    Exercise(check_one_hot_labels, solution_one_hot_labels),
    Exercise(check_lookback_labels, solution_lookback_labels),
)
