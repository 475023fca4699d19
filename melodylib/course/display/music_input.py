"""Turning any music the course works with into notes in seconds, for the plots and for audio.

Accepted music: a `NoteSequence`, a melody (a `Melody` or a plain list of events: -2 no event,
-1 note-off, 0..127 note-on) or the path of a MIDI file. `normalise_music` returns the notes
together with the grid (steps per second, per bar, per quarter) they are drawn or played on.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from melodylib.errors import MelodylibError
from melodylib.music.events import DEFAULT_STEPS_PER_BAR, event_note_spans
from melodylib.music.notesequence import DEFAULT_QPM, Note, NoteSequence, Tempo

DEFAULT_STEPS_PER_QUARTER = 4


@dataclass
class Music:
    """Music normalised for display: notes in seconds plus the grid it came from."""

    sequence: NoteSequence
    steps_per_second: float
    steps_per_bar: float
    steps_per_quarter: int
    bar_offset_steps: (
        float  # steps from time 0 to the first bar line (for melodies not starting on a bar)
    )
    duration: float  # seconds, including trailing rests of a melody


def _is_event_list(music: Any) -> bool:
    if isinstance(music, np.ndarray):
        return music.ndim == 1 and np.issubdtype(music.dtype, np.integer)
    return isinstance(music, (list, tuple)) and all(
        isinstance(event, (int, np.integer)) and not isinstance(event, bool) for event in music
    )


def is_melody(music: Any) -> bool:
    return hasattr(music, "events") and hasattr(music, "steps_per_quarter")


def _read_music_file(path: Path) -> NoteSequence:
    from melodylib.music.readers import read_note_sequence  # lazily: readers pulls in music21

    if not path.is_file():
        raise MelodylibError(f"{path}: no such file; give the path of a MIDI or MusicXML file")
    return read_note_sequence(path)


def _events_to_sequence(
    events: Sequence[int], seconds_per_step: float, qpm: float, velocity: int = 100
) -> NoteSequence:
    notes = [
        Note(pitch, velocity, start * seconds_per_step, end * seconds_per_step)
        for pitch, start, end in event_note_spans(events)
    ]
    return NoteSequence(
        notes=notes, tempos=[Tempo(0.0, qpm)], total_time=len(events) * seconds_per_step
    )


def _sequence_qpm(sequence: NoteSequence, fallback_qpm: float) -> float:
    return float(sequence.tempos[0].qpm) if sequence.tempos else float(fallback_qpm)


def _steps_per_bar_from_sequence(sequence: NoteSequence, steps_per_quarter: int) -> float:
    if not sequence.time_signatures:
        return float(DEFAULT_STEPS_PER_BAR * steps_per_quarter / DEFAULT_STEPS_PER_QUARTER)
    signature = sequence.time_signatures[0]
    return signature.numerator * steps_per_quarter * 4.0 / signature.denominator


def normalise_music(
    music: Any, *, qpm: float | None, steps_per_bar: float | None, steps_per_quarter: int | None
) -> Music:
    """Any accepted music -> `Music`. Melodies are laid out from their first event (start_step is
    only used to place the bar lines), so a melody cut from the middle of a piece starts at once.

    Unlike Magenta's Melody.to_sequence, which shifts the notes by start_step and ends the sequence
    at the last note-off, display keeps a melody's trailing rests: its length is len(events) steps.
    """
    fallback_qpm = DEFAULT_QPM if qpm is None else float(qpm)
    if fallback_qpm <= 0:
        raise MelodylibError(f"qpm={qpm!r} must be positive (quarter notes per minute, e.g. 120)")
    if isinstance(music, (str, os.PathLike)):
        music = _read_music_file(Path(music))
    if isinstance(music, NoteSequence):
        quarter = DEFAULT_STEPS_PER_QUARTER if steps_per_quarter is None else int(steps_per_quarter)
        sequence_qpm = _sequence_qpm(music, fallback_qpm)
        bar = (
            _steps_per_bar_from_sequence(music, quarter)
            if steps_per_bar is None
            else float(steps_per_bar)
        )
        end_of_notes = max((note.end_time for note in music.notes), default=0.0)
        return Music(
            sequence=music,
            steps_per_second=sequence_qpm / 60.0 * quarter,
            steps_per_bar=bar,
            steps_per_quarter=quarter,
            bar_offset_steps=0.0,
            duration=max(float(music.total_time), end_of_notes),
        )
    if is_melody(music) or _is_event_list(music):
        events = list(music.events) if is_melody(music) else list(music)
        quarter = int(
            steps_per_quarter or getattr(music, "steps_per_quarter", DEFAULT_STEPS_PER_QUARTER)
        )
        bar = float(steps_per_bar or getattr(music, "steps_per_bar", DEFAULT_STEPS_PER_BAR))
        start_step = int(getattr(music, "start_step", 0) or 0)
        steps_per_second = fallback_qpm / 60.0 * quarter
        sequence = _events_to_sequence(events, 1.0 / steps_per_second, fallback_qpm)
        return Music(
            sequence=sequence,
            steps_per_second=steps_per_second,
            steps_per_bar=bar,
            steps_per_quarter=quarter,
            bar_offset_steps=(-start_step) % bar,
            duration=len(events) / steps_per_second,
        )
    raise MelodylibError(
        f"cannot display a {type(music).__name__}; give a NoteSequence, a Melody, a list of melody "
        "events (-2, -1, 0..127) or the path of a MIDI file"
    )
