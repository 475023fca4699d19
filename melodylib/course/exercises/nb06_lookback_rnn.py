"""Exercises of notebook 06_lookback_rnn: the lookback inputs, written by the learner (a build
exercise), and the labels lookback_rnn is trained on, for a bar played three times.

The build checker calls the learner's `lookback_input(events, i)` at every step of real melodies
of the course corpus (Aird's Airs, squashed for lookback_rnn) and compares it with the lookback
encoder, block by block ("1 bar ago", "2 bars ago", "counter", "repeat"), naming the melody, the
step, the block, the expected and the given values.

For the labels, unlike 03's round trip, only the encoder's own labels are right: they are the
training targets. An answer that decodes to the melody but is not those labels gets its own
explanation.
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
from melodylib.music.events import NO_EVENT, NOTE_OFF

__all__ = [
    "lookback_one_hot",
    "check_lookback_input",
    "solution_lookback_input",
    "lookback_input_yours_or_reference",
    "LOOKBACK_TRAINING_MELODY",
    "check_lookback_training_labels",
    "solution_lookback_training_labels",
]

NOTEBOOK = "06_lookback_rnn"

_LOOKBACK_REPEAT_BAR = [60, -2, 62, -2, 64, -2, 65, -2, 67, -2, -2, -2, 67, -2, -1, -2]
LOOKBACK_TRAINING_MELODY = tuple(_LOOKBACK_REPEAT_BAR * 3)


_MAX_STEPS = 96  # steps of each melody the checker tries: six bars, every block at work

_INPUT_HINT = (
    "for position i (it predicts the event at i + 1): 'current' = one_hot(events[i]); "
    "'1 bar ago' = one_hot(events[i + 1 - 16]) and '2 bars ago' = one_hot(events[i + 1 - 32]) "
    "(no event, -2, before the melody starts); 'counter' = the 5 lowest bits of i + 1, lowest "
    "first, +1 for a 1 and -1 for a 0; 'repeat' = 1.0 if events[i] == events[i - 16] (i >= 16), "
    "else 0.0, then the same for 32."
)


def lookback_one_hot(event: int) -> np.ndarray:
    """The 38-number one-hot row of one event in lookback_rnn's range (48..83): the same one-hot
    as basic_rnn's (notebook 03)."""
    encoding = config_encoder("lookback_rnn").encoding
    return np.eye(encoding.num_classes)[encoding.encode_event(event)]


def _block_values(values: np.ndarray, one_hot: bool) -> str:
    """A block's values in words: the event a one-hot block stands for, or the signed numbers."""
    if one_hot:
        ones = np.flatnonzero(values != 0)
        if len(ones) == 1 and values[ones[0]] == 1:
            encoding = config_encoder("lookback_rnn").encoding
            event = int(encoding.decode_event(int(ones[0])))
            return f"the one-hot of {event_name(event)} (a 1 in column {ones[0]} of the block)"
        if len(ones) == 0:
            return "all zeros"
        return f"{len(ones)} non-zero values (a one-hot block has a single 1)"
    return " ".join(f"{value:+g}" if value else "0" for value in values)


def _block_hint(name: str, events: list[int], step: int, given: np.ndarray, distance: int) -> str:
    """A hint aimed at the usual mistake in block `name`."""
    if name == "counter":
        number = step + 1
        bits = (number >> np.arange(len(given))) & 1
        if np.array_equal(given, 2.0 * ((step >> np.arange(len(given))) & 1) - 1):
            return "the counter counts the NEXT step: bits of i + 1, not of i."
        if np.array_equal(given, bits.astype(float)):
            return "a 0 bit is -1, not 0: use 2 * bit - 1."
        if np.array_equal(given, (2.0 * bits - 1)[::-1]):
            return "lowest bit first: bit k is (i + 1) >> k & 1 for k = 0..4."
        return f"step {step} predicts step {number}: {number} in binary, lowest bit first, +1/-1."
    if name == "repeat":
        return (
            "repeat flag d is 1.0 when the CURRENT event events[i] equals events[i - d] "
            "(for i >= d), else 0.0: one flag for d = 16, then one for d = 32."
        )
    looked = step + 1 - distance
    one_too_far = events[step - distance] if step >= distance else NO_EVENT
    if np.array_equal(given, lookback_one_hot(one_too_far)):
        return (
            f"the block shows the event {distance} steps before the NEXT step: "
            f"events[i + 1 - {distance}], not events[i - {distance}]."
        )
    if looked < 0:
        return f"before the melody starts (i + 1 - {distance} < 0) the block is one_hot(-2)."
    return _INPUT_HINT


def check_lookback_input(lookback_input: Any, melodies: Any = None) -> bool:
    """06_lookback_rnn (build): `lookback_input(events, i)` gives lookback_rnn's 121 inputs at
    position i.

    Called at every one of the first 96 steps of real melodies of the course corpus (or
    `melodies`) and compared with `get_config("lookback_rnn").encoder.inputs(events)`, block by
    block: each block is checked on every step before the next block is.
    """
    if not callable(lookback_input):
        return verdict(
            False,
            f"give the function itself (lookback_input, no brackets); got {lookback_input!r:.60}",
            _INPUT_HINT,
        )
    encoder = config_encoder("lookback_rnn")
    try:
        named = given_melodies(melodies, "lookback_rnn")
    except Exception as error:  # malformed test melodies: say so rather than raise
        return verdict(False, f"could not read the melodies to test on: {error}")
    blocks = encoder.feature_blocks()
    distances = dict(zip([block.name for block in blocks[1:-2]], encoder.lookback_distances))
    total = 0
    for title, all_events in named:
        events = all_events[:_MAX_STEPS]
        truth = encoder.inputs(events)
        rows = []
        for step in range(len(events)):
            result, problem = call_learner(lookback_input, "lookback_input", list(events), step)
            if problem == "NOT_WRITTEN":
                return verdict(
                    False,
                    "lookback_input is not written yet (it still raises NotImplementedError).",
                    _INPUT_HINT,
                )
            if problem:
                return verdict(False, f"melody '{title}', step {step}: {problem}", _INPUT_HINT)
            try:
                row = np.asarray(result, dtype=float)
            except (TypeError, ValueError):
                return verdict(
                    False,
                    f"lookback_input returned {type(result).__name__}, not an array of numbers.",
                    _INPUT_HINT,
                )
            if row.shape != (encoder.input_size,):
                sizes = " + ".join(f"{block.size} {block.name}" for block in blocks)
                return verdict(
                    False,
                    f"melody '{title}', step {step}: lookback_input should give "
                    f"{encoder.input_size} numbers ({sizes}); it gave an array of shape "
                    f"{row.shape}.",
                    "join the five blocks with np.concatenate, in that order.",
                )
            rows.append(row)
        given = np.stack(rows)
        for block in blocks:
            wrong = np.flatnonzero(np.any(given[:, block.columns] != truth[:, block.columns], 1))
            if not len(wrong):
                continue
            step = int(wrong[0])
            one_hot = block.size == encoder.encoding.num_classes
            expected = _block_values(truth[step, block.columns], one_hot)
            got = _block_values(given[step, block.columns], one_hot)
            hint = _block_hint(
                block.name, events, step, given[step, block.columns], distances.get(block.name, 0)
            )
            return verdict(
                False,
                f"melody '{title}', step {step}, block '{block.name}': expected {expected}, "
                f"got {got}.",
                hint,
            )
        total += len(events)
    names = ", ".join(f"'{block.name}'" for block in blocks)
    return verdict(
        True,
        f"Every block ({names}) equals lookback_rnn's encoder at all {total} steps of "
        f"{len(named)} corpus melodies.",
    )


def solution_lookback_input() -> Callable[[list[int], int], np.ndarray]:
    """A model answer to check_lookback_input: the function `lookback_input`."""

    def lookback_input(events: list[int], i: int) -> np.ndarray:
        """lookback_rnn's 121 inputs at position i, which predicts the event at i + 1."""
        current = lookback_one_hot(events[i])
        looked_back = []
        for distance in (16, 32):
            source = i + 1 - distance
            looked_back.append(lookback_one_hot(events[source] if source >= 0 else -2))
        counter = [1.0 if (i + 1) >> bit & 1 else -1.0 for bit in range(5)]
        repeat = [
            1.0 if i >= distance and events[i] == events[i - distance] else 0.0
            for distance in (16, 32)
        ]
        return np.concatenate([current, *looked_back, counter, repeat])

    return lookback_input


def lookback_input_yours_or_reference(
    lookback_input: Any,
) -> Callable[[list[int], int], np.ndarray]:
    """Your `lookback_input` if it passes check_lookback_input, else the model answer (said in one
    line)."""
    return yours_or_reference(
        check_lookback_input, lookback_input, solution_lookback_input(), "lookback_input"
    )


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


EXERCISES = (
    Exercise(check_lookback_input, solution_lookback_input),
    Exercise(check_lookback_training_labels, solution_lookback_training_labels),
)
