"""Exercise of notebook 00_tour: write the first two bars of "Twinkle, twinkle" as melody events."""

from __future__ import annotations

from typing import Any

from melodylib.course.exercises.common import as_events, note_spans, verdict
from melodylib.course.exercises.registry import Exercise
from melodylib.course.exercises.tunes import WrittenTune

__all__ = ["TWINKLE_PITCHES", "TWINKLE_DURATIONS", "check_twinkle", "solution_twinkle"]

NOTEBOOK = "00_tour"

TWINKLE_PITCHES = (60, 60, 67, 67, 69, 69, 67)  # C C G G A A G
TWINKLE_DURATIONS = (4, 4, 4, 4, 4, 4, 8)  # six quarter notes and a half note, in 16th-note steps

_TWINKLE = WrittenTune(
    pitches=TWINKLE_PITCHES,
    durations=TWINKLE_DURATIONS,
    subject="the melody",
    pitch_reminder="(middle C is 60)",
    start_hint="a quarter note lasts 4 steps: write the pitch, then three -2 (no event) to hold "
    "it.",
    short_hint="a new note-on ends the previous note by itself, so no -1 is needed between notes; "
    "a -1 in the middle of a note cuts it short.",
    long_hint="end the last note with a -1 (note off) at step {step}, or stop the list there.",
    extra_hint="the two bars end with the half note G; leave out anything after it.",
)


def check_twinkle(answer: Any) -> bool:
    """00_tour: the first two bars of "Twinkle, twinkle" (C C G G A A G from middle C, six quarter
    notes and a half note) as melody events starting at step 0.

    Any list that sounds right passes: with or without a final note-off, with or without rests after
    it, as a list, a numpy array or a Melody.
    """
    events = as_events(answer)
    if isinstance(events, str):
        return verdict(False, events, "a melody is a list with one event per 16th-note step.")
    problem = _TWINKLE.problem(note_spans(events))
    if problem is not None:
        return verdict(False, *problem)
    return verdict(
        True,
        "Seven notes, each on its beat and held for the right number of steps. "
        "Listen to it with play().",
    )


def solution_twinkle() -> list[int]:
    """A model answer to check_twinkle: each pitch held by NO_EVENTs, and a final note-off."""
    return _TWINKLE.events()


EXERCISES = (Exercise(check_twinkle, solution_twinkle),)
