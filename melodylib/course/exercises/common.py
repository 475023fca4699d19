"""What every checker shares: reading a learner's answer and printing a verdict.

A checker never raises for a wrong or malformed answer. The readers here (`as_int_list`,
`as_events`, `as_number`, `as_whole_number`) therefore return either the answer in a clean form
or a message saying what is wrong with it, and the checker turns that message into a verdict
with `verdict(False, message, hint)`.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from melodylib.music.events import NO_EVENT, NOTE_OFF, event_problem

STEPS_PER_BAR = 16  # 4/4 at 4 steps per quarter, the grid of every exercise melody


def verdict(correct: bool, message: str, hint: str = "") -> bool:
    """Print a friendly verdict ("Correct! ..." or "Not yet: ..." and a hint); return `correct`."""
    if correct:
        print(f"Correct! {message}".rstrip())
    else:
        print(f"Not yet: {message}".rstrip())
        if hint:
            print(f"Hint: {hint}")
    return correct


def as_int_list(answer: Any, what: str) -> list[int] | str:
    """The answer as a list of Python ints, or a message saying why it is not one.

    Accepts a list, tuple, numpy array or anything with an `events` list (a Melody).
    """
    values = getattr(answer, "events", answer)
    example = "e.g. [60, -2, -1]"
    if isinstance(values, (str, bytes)) or values is None or isinstance(values, numbers.Number):
        return f"give {what} as a list of whole numbers, {example}; got {answer!r:.60}"
    if isinstance(values, np.ndarray) and values.ndim != 1:
        return f"give {what} as a flat list of whole numbers; got an array of shape {values.shape}"
    try:
        items = list(values)
    except TypeError:
        return f"give {what} as a list of whole numbers, {example}; got a {type(answer).__name__}"
    result = []
    for position, item in enumerate(items):
        if isinstance(item, (bool, np.bool_)) or not isinstance(item, numbers.Real):
            return f"position {position} of {what} is {item!r:.30}, not a whole number"
        if not float(item).is_integer():
            return f"position {position} of {what} is {item}, not a whole number"
        result.append(int(item))
    if not result:
        return f"{what} is empty"
    return result


def as_events(answer: Any) -> list[int] | str:
    """The answer as a list of melody events (-2, -1, 0..127), or a message saying what is wrong."""
    events = as_int_list(answer, "the melody")
    if isinstance(events, str):
        return events
    return event_problem(events, "the melody")


def as_number(answer: Any, what: str) -> float | str:
    """The answer as a finite float, or a message saying why it is not a number.

    Accepts ints, floats, numpy scalars, one-element arrays and text such as "61,862", "2.28" or
    "42%" (a trailing % divides by 100).
    """
    value = answer
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.reshape(()).item()
    if isinstance(value, str):
        text = value.strip().replace(",", "").replace("_", "").replace(" ", "")
        percent = text.endswith("%")
        try:
            number = float(text[:-1] if percent else text)
        except ValueError:
            return f"give {what} as a number; got the text {answer!r:.40}"
        value = number / 100.0 if percent else number
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        return f"give {what} as a number; got {answer!r:.60}"
    value = float(value)
    if not np.isfinite(value):
        return f"{what} is {value}, not a finite number"
    return value


def as_whole_number(answer: Any, what: str) -> int | str:
    """The answer as an int (a whole-valued number or text like "61,862"), or why it is not one."""
    value = as_number(answer, what)
    if isinstance(value, str):
        return value
    if not value.is_integer():
        return f"{what} is a whole number; got {value:g}"
    return int(value)


def event_name(event: int) -> str:
    """An event as a learner reads it in a message: "-2 (no event)", "-1 (note off)", "60 (C4)"."""
    from melodylib.course.display import pitch_name

    if event == NO_EVENT:
        return "-2 (no event)"
    if event == NOTE_OFF:
        return "-1 (note off)"
    return f"{event} ({pitch_name(event)})"


def note_spans(events: Sequence[int]) -> list[tuple[int, int, int]]:
    """The notes of a list of events as (pitch, start step, end step)."""
    from melodylib.music.events import event_note_spans

    return event_note_spans(events)


def config_encoder(name: str) -> Any:
    """The encoder of a config ("basic_rnn", "lookback_rnn"): the truth that label exercises use."""
    from melodylib.encoding.configs import get_config

    return get_config(name).encoder


def softmax(logits: np.ndarray) -> np.ndarray:
    """Probabilities from logits along the last axis (shifted first, so large logits cannot
    overflow)."""
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)
