"""Exercise of notebook 09_generation: a primer as the text that `--primer_melody` accepts.

The answer goes through the generator's own flag parser, so whatever the command line reads as
the tune passes; the notes are then compared with the tune like 00's "Twinkle, twinkle".
"""

from __future__ import annotations

from typing import Any

from melodylib.course.exercises.common import as_int_list, note_spans, verdict
from melodylib.course.exercises.registry import Exercise
from melodylib.course.exercises.tunes import WrittenTune
from melodylib.errors import MelodylibError
from melodylib.music.events import NO_EVENT, NOTE_OFF

__all__ = [
    "PRIMER_EXERCISE_PITCHES",
    "PRIMER_EXERCISE_DURATIONS",
    "PRIMER_FLAG",
    "check_primer_melody",
    "solution_primer_melody",
]

NOTEBOOK = "09_generation"

# The end of the first line of "Ode to Joy": C C D E | E. D D, from middle C. Four quarter notes,
# then a dotted quarter, an eighth and a half note, in 16th-note steps.
PRIMER_EXERCISE_PITCHES = (60, 60, 62, 64, 64, 62, 62)
PRIMER_EXERCISE_DURATIONS = (4, 4, 4, 4, 6, 2, 8)
PRIMER_FLAG = "--primer_melody"

_PRIMER = WrittenTune(
    pitches=PRIMER_EXERCISE_PITCHES,
    durations=PRIMER_EXERCISE_DURATIONS,
    subject="the primer",
    pitch_reminder="(middle C is 60, D 62, E 64)",
    start_hint="one step is a 16th note: a quarter note is the pitch and three -2, a dotted "
    "quarter the pitch and five -2, an eighth the pitch and one -2.",
    short_hint="a new note-on ends the note before by itself, so no -1 is needed between notes; "
    "a -1 in the middle of a note cuts it short.",
    long_hint="end the last note with a -1 at step {step}, or stop the list there.",
    extra_hint="the phrase ends with the half note D; leave out anything after it.",
)


def _primer_flag_value(text: str) -> str:
    """The value a shell hands to --primer_melody: without a leading `--primer_melody=` and one
    pair of quotes."""
    value = text.strip()
    for prefix in (PRIMER_FLAG + "=", PRIMER_FLAG + " "):
        if value.startswith(prefix):
            value = value[len(prefix) :].strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1]
    return value


def check_primer_melody(answer: Any) -> bool:
    """09_generation: the text to give `--primer_melody` for C C D E | E. D D (from middle C,
    16th-note steps).

    Any text that Magenta's (and our) flag parser reads as those notes passes: with or without
    spaces, a final note-off or trailing rests, as a list or a tuple, with or without
    `--primer_melody=` and quotes around it, as a shell would pass them.
    """
    from melodylib.generation.generator import parse_primer_melody

    hint = (
        'write the events as a Python list in text, e.g. "[60, -2, -2, -2, 60, ...]"; '
        "str(my_events) turns a list into it."
    )
    if not isinstance(answer, str):
        events = as_int_list(answer, "the primer")
        if not isinstance(events, str):
            return verdict(
                False,
                "this is a list, but the flag receives text.",
                f"put it in quotes, or give str(...) of it: {str(events)[:40]!r} ...",
            )
        return verdict(False, f"give the primer as text; got a {type(answer).__name__}.", hint)
    value = _primer_flag_value(answer)
    if not value:
        return verdict(False, "the text is empty.", hint)
    try:
        events = parse_primer_melody(value)
    except MelodylibError as error:
        return verdict(False, f"the flag parser refuses it: {error}", hint)
    # A note-off before the first note ends nothing; Magenta's Melody turns it into a no-event too.
    first_note = next(
        (position for position, event in enumerate(events) if event >= 0), len(events)
    )
    events = [
        NO_EVENT if event == NOTE_OFF and position < first_note else event
        for position, event in enumerate(events)
    ]
    spans = note_spans(events)
    if not spans:
        return verdict(False, "the primer has no notes.", "notes are MIDI pitches 0..127: C is 60.")
    problem = _PRIMER.problem(spans)
    if problem is not None:
        return verdict(False, *problem)
    return verdict(
        True,
        f"The flag reads it as {len(events)} events, the seven notes on their steps. Try it: "
        f"melody_rnn generate --bundle_file=data/bundles/basic_rnn.bundle "
        f'--primer_melody="{value}"',
    )


def solution_primer_melody() -> str:
    """A model answer to check_primer_melody: the events as the text of a Python list, ending in a
    note-off."""
    return str(_PRIMER.events())


EXERCISES = (Exercise(check_primer_melody, solution_primer_melody),)
