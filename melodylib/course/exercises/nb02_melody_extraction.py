"""Exercise of notebook 02_melody_extraction: write a melody that survives extraction whole.

The checker plays the answer at 120 qpm in 4/4 and runs it through create_dataset's own
extraction, then explains from the extraction counters why a melody was dropped or split.
"""

from __future__ import annotations

import collections
from typing import Any

from melodylib.course.exercises.common import (
    STEPS_PER_BAR,
    as_events,
    note_spans,
    verdict,
)
from melodylib.course.exercises.registry import Exercise
from melodylib.errors import MelodylibError
from melodylib.music.events import NO_EVENT, NOTES_PER_OCTAVE

__all__ = ["check_surviving_melody", "solution_surviving_melody"]

NOTEBOOK = "02_melody_extraction"


def _extract(events: list[int]) -> tuple[list, collections.Counter]:
    """Melodies and counters that create_dataset's extraction gives for a melody played at 120 qpm
    in 4/4."""
    from melodylib.data.datasets import ExtractionSettings, melodies_from_note_sequence
    from melodylib.music.melodies import Melody

    counters: collections.Counter = collections.Counter()
    sequence = Melody(events).to_note_sequence()
    melodies = melodies_from_note_sequence(sequence, ExtractionSettings(), counters)
    return melodies, counters


def check_surviving_melody(answer: Any) -> bool:
    """02_melody_extraction: a melody (events, 16 steps per bar) that create_dataset keeps as ONE
    melody.

    The answer is played at 120 qpm in 4/4 and goes through the same splitting, quantization and
    extraction as the training data (at least 7 bars, at least 5 pitch classes, no silence of a
    bar or more inside). Any melody that comes out whole (or cut to 512 steps) passes.
    """
    from melodylib.course.display import PITCH_CLASS_NAMES
    from melodylib.music.extraction import (
        TOO_FEW_PITCHES_COUNTER,
        TOO_SHORT_COUNTER,
        TRUNCATED_COUNTER,
    )

    events = as_events(answer)
    if isinstance(events, str):
        return verdict(False, events, "a melody is a list with one event per 16th-note step.")
    spans = note_spans(events)
    if not spans:
        return verdict(False, "the melody has no notes.", "add note-ons (MIDI pitches 0..127).")
    try:
        melodies, counters = _extract(events)
    except MelodylibError as error:  # not expected for valid events; report rather than raise
        return verdict(False, f"extraction failed: {error}")
    gaps = [
        (end, next_start)
        for (_, _, end), (_, next_start, _) in zip(spans, spans[1:], strict=False)
        if next_start - end >= STEPS_PER_BAR
    ]
    kept_notes = sum(event >= 0 for event in melodies[0]) if len(melodies) == 1 else 0
    if len(melodies) == 1 and (kept_notes == len(spans) or counters[TRUNCATED_COUNTER]):
        truncated = (
            " It was cut to 512 steps (32 bars), as melody_rnn does with longer melodies."
            if counters[TRUNCATED_COUNTER]
            else ""
        )
        return verdict(
            True, f"Extraction keeps it: one melody of {len(melodies[0])} steps.{truncated}"
        )
    if len(melodies) > 1 or gaps:
        first_gap = gaps[0] if gaps else None
        where = (
            f" (the silence from step {first_gap[0]} to step {first_gap[1]})" if first_gap else ""
        )
        kept = (
            f"only {len(melodies)} of the pieces is"
            if len(melodies) == 1
            else f"{len(melodies)} pieces are"
        )
        return verdict(
            False,
            f"a silence of a bar (16 steps) or more{where} splits it, and {kept} long "
            "enough to keep.",
            "keep every rest shorter than 16 steps, so the melody stays in one piece.",
        )
    if counters[TOO_FEW_PITCHES_COUNTER]:
        classes = sorted({pitch % NOTES_PER_OCTAVE for pitch, _, _ in spans})
        names = ", ".join(PITCH_CLASS_NAMES[pitch_class] for pitch_class in classes)
        return verdict(
            False,
            f"it uses {len(classes)} different pitch classes ({names}); extraction needs at "
            "least 5.",
            "pitch classes ignore the octave: C4 and C5 count once. Use five different note names.",
        )
    if counters[TOO_SHORT_COUNTER]:
        first_start = spans[0][1] - spans[0][1] % STEPS_PER_BAR  # melodies start on a bar line
        length = spans[-1][2] - first_start
        bars = f"{length / STEPS_PER_BAR:g} bar{'' if length == STEPS_PER_BAR else 's'}"
        return verdict(
            False,
            f"it is {length} steps long ({bars}, counted from the bar of its first note to "
            "the end of its last note); extraction needs at least 7 bars = 112 steps.",
            "make it longer; trailing rests do not count, only notes do.",
        )
    return verdict(False, f"extraction gave no melody (counters: {dict(counters)}).")


def solution_surviving_melody() -> list[int]:
    """A model answer to check_surviving_melody: eight bars of a C major scale up and down in
    eighth notes."""
    scale = [60, 62, 64, 65, 67, 69, 71, 72, 71, 69, 67, 65, 64, 62]
    pitches = (scale * 5)[:64]  # 64 eighth notes = 8 bars
    events: list[int] = []
    for pitch in pitches:
        events += [pitch, NO_EVENT]
    return events


EXERCISES = (Exercise(check_surviving_melody, solution_surviving_melody),)
