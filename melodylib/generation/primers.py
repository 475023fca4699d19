"""Primers: the melody a generation starts from, as events, from the command line or a MIDI file."""

from __future__ import annotations

import ast
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from melodylib.errors import MelodylibError
from melodylib.music import events as events_module

MIDDLE_C = 60  # the primer when none is given
TYPOGRAPHIC_QUOTES = "\u201c\u201d\u2018\u2019\u00ab\u00bb\u201e\u201a\u2032\u2033"


def parse_primer_melody(text: str) -> list[int]:
    """Parse `--primer_melody`, a Python list of events such as "[60, -2, 60, -2, 67, -2]"."""
    if not isinstance(text, str):
        raise MelodylibError(
            f'--primer_melody must be text such as "[60, -2, 62]", got {type(text).__name__}'
        )
    if any(quote in text for quote in TYPOGRAPHIC_QUOTES):
        # Magenta's generator hung on these: they come from pasting into a word processor.
        raise MelodylibError(
            f"--primer_melody {text!r} contains typographic quotes (“ ” ‘ ’), probably pasted from a "
            'document; use plain quotes or none, e.g. --primer_melody="[60, -2, 60, -2, 67]"'
        )
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise MelodylibError(
            f'--primer_melody {text!r} is not a list of events; write e.g. "[60, -2, 60, -2, 67, -2]" '
            "(-2 = hold, -1 = note off, 0..127 = a new note)"
        ) from None
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        raise MelodylibError(
            f"--primer_melody {text!r} must be a list of whole numbers, e.g. [60, -2, 62]"
        )
    return check_events(list(value), "--primer_melody")


def check_events(events: Sequence[int], what: str = "primer") -> list[int]:
    """Check that a primer is a non-empty list of events -2, -1 or a MIDI pitch 0..127."""
    return events_module.check_events(events, what, allow_empty=False)


@dataclass(frozen=True)
class Primer:
    """A primer as Magenta's generator reads it (magenta-behaviour.md: "Primers from files").

    `events` start at the bar of the first note: that is what the model reads. The empty bars
    before it (`leading_steps` steps) are not fed to the model; they stay in the output's
    timing, so the notes keep their times. `qpm` is a MIDI file's first tempo (None for a
    primer given as events), and `polyphonic` says that simultaneous notes were thinned out.
    """

    events: list[int]
    leading_steps: int = 0
    qpm: float | None = None
    polyphonic: bool = False


def primer_from_events(events: Sequence[int], steps_per_bar: int = 16) -> Primer:
    """A `--primer_melody` as Magenta's generator reads it: its whole empty bars dropped.

    Magenta renders the events as notes and extracts a melody from them, which starts at the
    bar (of 16 steps) of the first note; a primer with no note is kept whole.
    """
    events = check_events(events)
    first_note = next((index for index, event in enumerate(events) if event >= 0), None)
    leading = 0 if first_note is None else (first_note // steps_per_bar) * steps_per_bar
    return Primer(list(events[leading:]), leading_steps=leading)


def primer_from_note_sequence(
    sequence, steps_per_quarter: int = 4
) -> tuple[list[int], float, bool]:
    """A primer melody from a NoteSequence: (events, qpm, was_polyphonic).

    The events start at the bar of the first note, as the model reads them (see `Primer`,
    which `note_sequence_primer` returns with the steps before that bar). All non-drum notes
    are taken as one line; where several start together the highest wins (Magenta's
    ignore_polyphonic_notes). The qpm is the sequence's first tempo (else 120).
    """
    primer = note_sequence_primer(sequence, steps_per_quarter)
    return primer.events, float(primer.qpm), primer.polyphonic


def note_sequence_primer(sequence, steps_per_quarter: int = 4) -> Primer:
    """A NoteSequence as Magenta's generator reads it: a Primer with the qpm of its first tempo
    (else 120) and the steps before the bar of its first note as `leading_steps`."""
    from melodylib.music.extraction import melody_from_quantized_sequence
    from melodylib.music.quantize import quantize_note_sequence

    qpm = sequence.tempos[0].qpm if sequence.tempos and sequence.tempos[0].qpm else 120.0
    merged = sequence.copy()
    for note in merged.notes:
        note.instrument = 0
    merged.tempos = merged.tempos[:1]
    merged.time_signatures = merged.time_signatures[:1]
    quantized = quantize_note_sequence(merged, steps_per_quarter)
    pitched = ~quantized.is_drum.astype(bool)
    starts = (
        np.asarray(quantized.start_step)[pitched]
        if len(quantized.start_step)
        else np.array([], dtype=int)
    )
    polyphonic = len(starts) != len(set(starts.tolist()))
    melody = melody_from_quantized_sequence(
        quantized,
        search_start_step=0,
        instrument=0,
        gap_bars=float("inf"),
        ignore_polyphonic_notes=True,
    )
    events = list(melody.events)
    if not events:
        raise MelodylibError(
            f"{sequence.filename or 'the primer'} has no (non-drum) notes to use as a primer"
        )
    return Primer(events, int(melody.start_step), float(qpm), polyphonic)


def primer_from_midi(path: str | os.PathLike) -> tuple[list[int], float, bool]:
    """A primer melody from a MIDI file: (events from the bar of the first note, the file's
    first tempo, was_polyphonic)."""
    primer = midi_primer(path)
    return primer.events, float(primer.qpm), primer.polyphonic


def midi_primer(path: str | os.PathLike) -> Primer:
    """A MIDI file as Magenta's generator reads it (see `Primer`)."""
    from melodylib.music.readers import read_note_sequence

    if not Path(path).is_file():
        raise MelodylibError(f"--primer_midi {path}: no such file")
    return note_sequence_primer(read_note_sequence(path))
