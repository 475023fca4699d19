"""Melodies as one event per step, extracted from quantized sequences, squashed and transposed.

A melody is the representation every Melody RNN config is trained on (magenta-behaviour.md: "Melody events", "Melody extraction", "Squash and transposition"):
a list with one event per 16th-note step, where -2 holds (NO_EVENT), -1 ends the sounding note
(NOTE_OFF) and 0..127 starts a note of that MIDI pitch. Extraction follows note_seq's
Melody.from_quantized_sequence and Magenta's extract_melodies rule for rule, so the same MIDI
file gives the same melodies and the same counters.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from melodylib.errors import MelodylibError
from melodylib.music.events import (
    DEFAULT_STEPS_PER_BAR,
    NO_EVENT,
    NOTE_OFF,
    NOTES_PER_OCTAVE,
    check_events,
    event_value_problem,
)
from melodylib.music.notesequence import STANDARD_PPQ, Note, NoteSequence, Tempo

MIN_MIDI_PITCH = 0
MAX_MIDI_PITCH = 127
DEFAULT_STEPS_PER_QUARTER = 4

MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
# KEY_MEMBERSHIP[pitch_class, key] is 1 when the pitch class belongs to that major key.
KEY_MEMBERSHIP = np.array(
    [
        [1.0 if (pitch_class - key) % NOTES_PER_OCTAVE in MAJOR_SCALE else 0.0 for key in range(12)]
        for pitch_class in range(12)
    ]
)

# Counter names of Magenta's MelodyExtractor (magenta-behaviour.md: "Pipeline statistics").


class BadNoteError(MelodylibError):
    """A note whose end step is not after its start step."""


def _as_event(event: Any, position: int) -> int:
    problem = event_value_problem(event, position)
    if problem:
        raise MelodylibError(problem)
    return int(event)


class Melody:
    """A monophonic melody: `events` (one per step) starting at `start_step` of some sequence.

    Building one from a list checks every event (-2..127) and turns NOTE_OFFs before the first
    note into NO_EVENTs, as note_seq does. `end_step` is always start_step + len(events).
    """

    __slots__ = ("events", "start_step", "steps_per_bar", "steps_per_quarter")

    def __init__(
        self,
        events: Iterable[int] | None = None,
        start_step: int = 0,
        steps_per_bar: int = DEFAULT_STEPS_PER_BAR,
        steps_per_quarter: int = DEFAULT_STEPS_PER_QUARTER,
    ) -> None:
        cleaned = check_events(events if events is not None else [])
        for index, event in enumerate(cleaned):
            if event >= MIN_MIDI_PITCH:
                break
            cleaned[index] = NO_EVENT  # a NOTE_OFF before the first note ends nothing
        self.events: list[int] = cleaned
        self.start_step = int(start_step)
        self.steps_per_bar = steps_per_bar
        self.steps_per_quarter = steps_per_quarter

    @classmethod
    def _trusted(
        cls, events: list[int], start_step: int, steps_per_bar: int, steps_per_quarter: int
    ) -> Melody:
        """Wrap events already known to be valid, without checking or copying them."""
        melody = cls.__new__(cls)
        melody.events = events
        melody.start_step = start_step
        melody.steps_per_bar = steps_per_bar
        melody.steps_per_quarter = steps_per_quarter
        return melody

    @property
    def end_step(self) -> int:
        """The step just after the last event."""
        return self.start_step + len(self.events)

    def __len__(self) -> int:
        return len(self.events)

    def __iter__(self) -> Iterator[int]:
        return iter(self.events)

    def __getitem__(self, index):
        return self.events[index]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Melody):
            return NotImplemented
        return (
            self.events == other.events
            and self.start_step == other.start_step
            and self.steps_per_bar == other.steps_per_bar
            and self.steps_per_quarter == other.steps_per_quarter
        )

    def __repr__(self) -> str:
        return (
            f"Melody(events={self.events!r}, start_step={self.start_step}, "
            f"steps_per_bar={self.steps_per_bar}, steps_per_quarter={self.steps_per_quarter})"
        )

    def copy(self) -> Melody:
        """An independent copy (squash and transpose change a melody in place)."""
        return Melody._trusted(
            list(self.events), self.start_step, self.steps_per_bar, self.steps_per_quarter
        )

    def append(self, event: int) -> None:
        """Add one event at the end."""
        self.events.append(_as_event(event, len(self.events)))

    def set_length(self, steps: int, from_left: bool = False) -> None:
        """Pad with NO_EVENT or truncate to `steps` events, on the right or (from_left) the left.

        Growing on the right ends a note still sounding at the old end with a NOTE_OFF there.
        Growing or shrinking on the left moves start_step so that end_step stays put.
        """
        if steps < 0:
            raise MelodylibError(f"a melody length must be >= 0, got {steps}")
        events = self.events
        old_length = len(events)
        if steps > old_length:
            padding = [NO_EVENT] * (steps - old_length)
            if from_left:
                events[:0] = padding
                self.start_step -= steps - old_length
            else:
                events.extend(padding)
                for index in range(old_length - 1, -1, -1):
                    if events[index] == NOTE_OFF:
                        break
                    if events[index] != NO_EVENT:
                        events[old_length] = NOTE_OFF
                        break
        elif from_left:
            # note_seq deletes events[0:-steps], which deletes nothing when steps == 0 while it
            # still moves start_step; we empty the melody in that case.
            removed = old_length - steps
            del events[:removed]
            self.start_step += removed
        else:
            del events[steps:]

    # --- pitch statistics ---------------------------------------------------------------------

    def get_note_histogram(self) -> np.ndarray:
        """How many note-ons fall on each pitch class (C=0 .. B=11)."""
        pitch_classes = [
            event % NOTES_PER_OCTAVE for event in self.events if event >= MIN_MIDI_PITCH
        ]
        return np.bincount(np.array(pitch_classes, dtype=np.int64), minlength=NOTES_PER_OCTAVE)

    def get_major_key_histogram(self) -> np.ndarray:
        """For each major key (C=0 .. B=11), how many note-ons belong to its scale."""
        return self.get_note_histogram() @ KEY_MEMBERSHIP

    def get_major_key(self) -> int:
        """The major key whose scale holds the most note-ons; ties go to the lowest key."""
        return int(np.argmax(self.get_major_key_histogram()))

    # --- transposition ------------------------------------------------------------------------

    def transpose(self, amount: int, min_note: int = 0, max_note: int = 128) -> None:
        """Shift every pitch by `amount`, folding pitches outside [min_note, max_note) by octaves.

        A pitch below min_note lands in the lowest octave of the range, one at or above max_note in
        the highest; no note is dropped. NO_EVENT and NOTE_OFF are unchanged.
        """
        _check_note_range(min_note, max_note)
        amount = int(amount)
        pitches = [event for event in self.events if event >= MIN_MIDI_PITCH]
        if not pitches:
            return
        if min(pitches) + amount >= min_note and max(pitches) + amount < max_note:
            # Fast path: nothing to fold.
            self.events = [
                event + amount if event >= MIN_MIDI_PITCH else event for event in self.events
            ]
            return
        top_octave_start = max_note - NOTES_PER_OCTAVE
        transposed = []
        for event in self.events:
            if event >= MIN_MIDI_PITCH:
                event += amount
                if event < min_note:
                    event = min_note + (event - min_note) % NOTES_PER_OCTAVE
                elif event >= max_note:
                    event = top_octave_start + (event - max_note) % NOTES_PER_OCTAVE
            transposed.append(event)
        self.events = transposed

    def squash(self, min_note: int, max_note: int, transpose_to_key: int | None = None) -> int:
        """Move the melody into [min_note, max_note) and to `transpose_to_key`; returns the shift.

        The shift is the key difference plus the whole octaves (Python round, halves to even)
        that best centre the melody's pitch span in the range; what still sticks out is folded
        by octaves. With transpose_to_key None the shift is 0 and only the folding happens.
        """
        _check_note_range(min_note, max_note)
        if transpose_to_key is None:
            amount = 0
        else:
            if not (isinstance(transpose_to_key, numbers.Integral) and 0 <= transpose_to_key <= 11):
                raise MelodylibError(
                    f"transpose_to_key must be None or 0..11, got {transpose_to_key!r}"
                )
            key_difference = int(transpose_to_key) - self.get_major_key()
            pitches = [event for event in self.events if event >= MIN_MIDI_PITCH]
            if not pitches:
                return 0
            melody_center = (min(pitches) + max(pitches)) / 2
            target_center = (min_note + max_note - 1) / 2
            center_difference = target_center - (melody_center + key_difference)
            amount = key_difference + NOTES_PER_OCTAVE * int(
                round(center_difference / float(NOTES_PER_OCTAVE))
            )
        self.transpose(amount, min_note, max_note)
        return amount

    # --- rendering ----------------------------------------------------------------------------

    def to_note_sequence(
        self,
        velocity: int = 100,
        instrument: int = 0,
        program: int = 0,
        qpm: float = 120.0,
        sequence_start_time: float = 0.0,
    ) -> NoteSequence:
        """The melody as notes in seconds at `qpm`, offset by start_step steps and sequence_start_time.

        A note lasts until the next note-on, NOTE_OFF or the end of the melody. The sequence has
        one tempo event and 220 ticks per quarter, as note_seq's Melody.to_sequence.
        """
        if not qpm > 0:
            raise MelodylibError(f"qpm must be > 0, got {qpm!r}")
        seconds_per_step = 60.0 / qpm / self.steps_per_quarter
        start_time = sequence_start_time + self.start_step * seconds_per_step
        notes: list[Note] = []
        sounding: Note | None = None
        for step, event in enumerate(self.events):
            if event >= MIN_MIDI_PITCH:
                time = step * seconds_per_step + start_time
                if sounding is not None:
                    sounding.end_time = time
                sounding = Note(event, velocity, time, time, instrument, program, False)
                notes.append(sounding)
            elif event == NOTE_OFF and sounding is not None:
                sounding.end_time = step * seconds_per_step + start_time
                sounding = None
        if sounding is not None:
            sounding.end_time = len(self.events) * seconds_per_step + start_time
        return NoteSequence(
            notes=notes,
            tempos=[Tempo(0.0, qpm)],
            ticks_per_quarter=STANDARD_PPQ,
            total_time=notes[-1].end_time if notes else 0.0,
        )


def melody_to_note_sequence(melody: Melody, **options) -> NoteSequence:
    """Same as `melody.to_note_sequence(**options)`."""
    return melody.to_note_sequence(**options)


def _check_note_range(min_note: int, max_note: int) -> None:
    if min_note < 0 or max_note > 128 or max_note - min_note < NOTES_PER_OCTAVE:
        raise MelodylibError(
            f"note range [{min_note}, {max_note}) must lie within [0, 128) and span at least 12 pitches"
        )


__all__ = [
    "BadNoteError",
    "MAX_MIDI_PITCH",
    "MIN_MIDI_PITCH",
    "Melody",
    "NO_EVENT",
    "NOTE_OFF",
    "melody_to_note_sequence",
]
