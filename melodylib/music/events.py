"""Melody event values shared by melodies and encoders: one int per 16th-note step.

See docs/magenta-behaviour.md, "Melody events". `event_problem` and `check_events` are the one
place that says what a valid event list is; the melody class, the generator, the plots and the
course's checkers all ask them.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from typing import Any

from melodylib.errors import MelodylibError

NO_EVENT = -2  # hold: sustain the current note, or continue the silence
NOTE_OFF = -1  # end the sounding note; silence starts
# 0..127 are note-ons at that MIDI pitch (a note-on also ends any previous note).

MIN_MELODY_EVENT = -2
MAX_MELODY_EVENT = 127
DEFAULT_STEPS_PER_BAR = 16
NOTES_PER_OCTAVE = 12

EVENT_VALUES = "-2 (no event: hold), -1 (note off) or a MIDI pitch 0..127 (note on)"


def event_value_problem(event: Any, position: int, what: str = "melody") -> str | None:
    """What is wrong with one event (a sentence naming its position), or None if it is valid."""
    if isinstance(event, bool) or not isinstance(event, numbers.Real):
        return f"{what} event {event!r:.30} at position {position} is not a whole number"
    if not float(event).is_integer():
        return f"{what} event {event} at position {position} is not a whole number"
    if not MIN_MELODY_EVENT <= int(event) <= MAX_MELODY_EVENT:
        return (
            f"{what} event {int(event)} at position {position} is out of range; use {EVENT_VALUES}"
        )
    return None


def event_problem(events: Any, what: str = "melody", allow_empty: bool = True) -> str | list[int]:
    """The events as a list of ints, or a sentence saying what is wrong with them.

    Checkers that report to a learner use this form; code that should stop uses `check_events`.
    """
    events = getattr(events, "events", events)
    if isinstance(events, (str, bytes)) or not isinstance(events, Iterable):
        return f"{what} must be a list of events, got {type(events).__name__}"
    values = list(events)
    for position, event in enumerate(values):
        problem = event_value_problem(event, position, what)
        if problem:
            return problem
    if not values and not allow_empty:
        return f"{what} is empty; give at least one event, e.g. [60]"
    return [int(event) for event in values]


def event_note_spans(events: Any) -> list[tuple[int, int, int]]:
    """The notes of a melody as (pitch, start_step, end_step): a note lasts from its note-on to the
    next note-on, the next note-off or the end of the melody."""
    checked = check_events(events)
    spans: list[tuple[int, int, int]] = []
    sounding: tuple[int, int] | None = None  # (pitch, start_step)
    for step, event in enumerate(checked):
        if event == NO_EVENT:
            continue
        if sounding is not None:
            spans.append((sounding[0], sounding[1], step))
            sounding = None
        if event >= 0:
            sounding = (event, step)
    if sounding is not None:
        spans.append((sounding[0], sounding[1], len(checked)))
    return spans


def check_events(events: Any, what: str = "melody", allow_empty: bool = True) -> list[int]:
    """The events as a list of ints; MelodylibError naming the first bad one."""
    result = event_problem(events, what, allow_empty)
    if isinstance(result, str):
        raise MelodylibError(result)
    return result
