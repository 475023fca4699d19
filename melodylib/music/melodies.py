"""Melodies as one event per step, extracted from quantized sequences, squashed and transposed.

A melody is the representation every Melody RNN config is trained on (magenta-behaviour.md: "Melody events", "Melody extraction", "Squash and transposition"):
a list with one event per 16th-note step, where -2 holds (NO_EVENT), -1 ends the sounding note
(NOTE_OFF) and 0..127 starts a note of that MIDI pitch. Extraction follows note_seq's
Melody.from_quantized_sequence and Magenta's extract_melodies rule for rule, so the same MIDI
file gives the same melodies and the same counters.
"""

from __future__ import annotations

import bisect
import collections
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
from melodylib.music.quantize import QuantizedSequence

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
POLYPHONIC_COUNTER = "polyphonic_tracks_discarded"
TOO_SHORT_COUNTER = "melodies_discarded_too_short"
TOO_FEW_PITCHES_COUNTER = "melodies_discarded_too_few_pitches"
TOO_LONG_COUNTER = "melodies_discarded_too_long"
TRUNCATED_COUNTER = "melodies_truncated"
NON_INTEGER_STEPS_PER_BAR_COUNTER = "non_integer_steps_per_bar"
LENGTH_HISTOGRAM_PREFIX = "melody_lengths_in_bars_"


class PolyphonicMelodyError(MelodylibError):
    """Two notes of one track start on the same step while polyphonic notes are not ignored."""


class BadNoteError(MelodylibError):
    """A note whose end step is not after its start step."""


class NonIntegerStepsPerBarError(MelodylibError):
    """The time signature gives a fractional number of steps per bar (e.g. 3/8 at 1 step per quarter)."""


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


# --- extraction ---------------------------------------------------------------------------------


def _integer_steps_per_bar(quantized: QuantizedSequence) -> int:
    steps_per_bar = quantized.steps_per_bar
    if steps_per_bar % 1 != 0:
        raise NonIntegerStepsPerBarError(
            f"{quantized.filename or quantized.id or 'sequence'}: time signature "
            f"{quantized.numerator}/{quantized.denominator} at {quantized.steps_per_quarter} steps per quarter "
            f"gives {steps_per_bar} steps per bar, which is not a whole number"
        )
    return int(steps_per_bar)


class _SortedNotes:
    """The notes as Python lists ordered by (instrument, start step, pitch descending), ties stable."""

    __slots__ = ("starts", "ends", "pitches", "velocities", "drums", "bounds")

    def __init__(self, quantized: QuantizedSequence, only_instrument: int | None = None) -> None:
        instrument = quantized.instrument
        index = (
            np.arange(instrument.shape[0])
            if only_instrument is None
            else np.flatnonzero(instrument == only_instrument)
        )
        order = index[
            np.lexsort((-quantized.pitch[index], quantized.start_step[index], instrument[index]))
        ]
        self.starts = quantized.start_step[order].tolist()
        self.ends = quantized.end_step[order].tolist()
        self.pitches = quantized.pitch[order].tolist()
        self.velocities = quantized.velocity[order].tolist()
        self.drums = quantized.is_drum[order].tolist()
        instruments, first = np.unique(instrument[order], return_index=True)
        edges = first.tolist() + [len(self.starts)]
        # instrument -> (first index, end index); in sorted instrument order.
        self.bounds = {
            int(value): (edges[k], edges[k + 1]) for k, value in enumerate(instruments.tolist())
        }


def _melody_from_sorted(
    notes: _SortedNotes,
    first_index: int,
    end_index: int,
    search_start_step: int,
    steps_per_bar: int,
    steps_per_quarter: int,
    gap_bars: float,
    ignore_polyphonic_notes: bool,
    pad_end: bool,
    filter_drums: bool,
    instrument: int,
    max_events: int | None = None,
) -> tuple[Melody, int]:
    """note_seq's Melody.from_quantized_sequence on one instrument's sorted notes (magenta-behaviour.md: "Melody extraction").

    Returns the melody and its length. With `max_events`, only the first max_events events are
    built (the melody is a prefix of the full one) while the length is still the full length: a
    caller that truncates to max_events anyway then needs memory for max_events steps, not for
    a note lasting a billion steps in a corrupt file.
    """
    starts = notes.starts
    first = bisect.bisect_left(starts, search_start_step, first_index, end_index)
    if first == end_index:
        return Melody._trusted([], 0, steps_per_bar, steps_per_quarter), 0
    # The melody starts at a bar boundary (counted from search_start_step) at or before the first
    # note, even if that note is a drum or silent and gets skipped below, as in note_seq.
    first_start = starts[first]
    melody_start = first_start - (first_start - search_start_step) % steps_per_bar
    gap_steps = gap_bars * steps_per_bar
    ends, pitches, velocities, drums = notes.ends, notes.pitches, notes.velocities, notes.drums
    onsets: list[int] = []
    offsets: list[int] = []
    note_pitches: list[int] = []
    last_on = last_off = 0
    for index in range(first, end_index):
        if filter_drums and drums[index]:
            continue
        if not velocities[index]:
            continue
        start = starts[index] - melody_start
        end = ends[index] - melody_start
        if onsets:
            if start == last_on:
                if ignore_polyphonic_notes:
                    continue  # sorted by pitch descending, so the highest pitch is already in
                raise PolyphonicMelodyError(
                    f"instrument {instrument}: two notes start at step {starts[index]}; "
                    "set ignore_polyphonic_notes to keep the highest one"
                )
            # (start < last_on cannot happen: the notes are sorted by start step.)
            if start - last_off >= gap_steps:
                break  # a silence of gap_bars bars or more ends the melody
        if start >= end:
            raise BadNoteError(
                f"instrument {instrument}: a note of pitch {pitches[index]} starts at step {starts[index]} "
                f"but ends at step {ends[index]}"
            )
        onsets.append(start)
        offsets.append(end)
        note_pitches.append(pitches[index])
        last_on, last_off = start, end
    if not onsets:
        return Melody._trusted([], 0, steps_per_bar, steps_per_quarter), 0
    # Adding a note sets the length to end + 1 and writes pitch, NO_EVENTs and a NOTE_OFF; so a
    # later note that starts before an earlier one ends cuts it (and anything after) off. What
    # survives: every note-on, and a note's NOTE_OFF only if it comes before the next note-on.
    # The final NOTE_OFF is dropped, so the length is the last note's end.
    length = last_off
    full_length = length + (-length % steps_per_bar) if pad_end else length
    kept = full_length if max_events is None else max(0, min(full_length, max_events))
    events = [NO_EVENT] * min(length, kept)
    count = len(onsets)
    for position in range(count):
        if onsets[position] >= kept:
            break
        events[onsets[position]] = note_pitches[position]
        if (
            position + 1 < count
            and offsets[position] < onsets[position + 1]
            and offsets[position] < kept
        ):
            events[offsets[position]] = NOTE_OFF
    melody = Melody._trusted(events, melody_start, steps_per_bar, steps_per_quarter)
    if kept > len(events):
        melody.set_length(
            kept
        )  # pad_end: NO_EVENTs up to the bar line (a NOTE_OFF ends the last note)
    return melody, full_length


def melody_from_quantized_sequence(
    quantized: QuantizedSequence,
    search_start_step: int = 0,
    instrument: int = 0,
    gap_bars: float = 1.0,
    ignore_polyphonic_notes: bool = False,
    pad_end: bool = False,
    filter_drums: bool = True,
) -> Melody:
    """The first melody of one instrument at or after search_start_step (note_seq's from_quantized_sequence).

    It starts on the bar (counted from search_start_step) of its first note and ends before a
    silence of gap_bars bars. Raises PolyphonicMelodyError when two notes start together (unless
    ignore_polyphonic_notes, which keeps the highest) and NonIntegerStepsPerBarError.
    Returns an empty melody when there is no note.
    """
    steps_per_bar = _integer_steps_per_bar(quantized)
    notes = _SortedNotes(quantized, only_instrument=instrument)
    first_index, end_index = notes.bounds.get(int(instrument), (0, 0))
    melody, _ = _melody_from_sorted(
        notes,
        first_index,
        end_index,
        search_start_step,
        steps_per_bar,
        quantized.steps_per_quarter,
        gap_bars,
        ignore_polyphonic_notes,
        pad_end,
        filter_drums,
        instrument,
    )
    return melody


def length_histogram_buckets(min_bars: int) -> list[float]:
    """Lower edges of Magenta's melody-length histogram (in bars), from -inf up."""
    edges = [
        0,
        1,
        10,
        20,
        30,
        40,
        50,
        100,
        200,
        500,
        min_bars // 2,
        min_bars,
        min_bars + 1,
        min_bars - 1,
    ]
    return [float("-inf")] + sorted(set(edges))


def length_histogram_labels(min_bars: int) -> list[str]:
    """Counter keys of the histogram buckets in order, e.g. 'melody_lengths_in_bars_[10,20)'."""
    lowers = length_histogram_buckets(min_bars)
    uppers = lowers[1:] + [float("inf")]
    return [f"{LENGTH_HISTOGRAM_PREFIX}[{lower},{upper})" for lower, upper in zip(lowers, uppers)]


def extract_melodies(
    quantized: QuantizedSequence,
    search_start_step: int = 0,
    min_bars: int = 7,
    max_steps_truncate: int | None = None,
    max_steps_discard: int | None = None,
    gap_bars: float = 1.0,
    min_unique_pitches: int = 5,
    ignore_polyphonic_notes: bool = True,
    pad_end: bool = False,
    filter_drums: bool = True,
) -> tuple[list[Melody], collections.Counter]:
    """All melodies of every instrument, filtered as Magenta's extract_melodies (magenta-behaviour.md: "Melody extraction").

    Returns the melodies and a Counter with Magenta's counter names: the five discard/truncate
    counters (always present) and one key per non-empty histogram bucket of melody lengths in bars,
    named 'melody_lengths_in_bars_[lower,upper)' (see `length_histogram_labels`).
    Instruments are visited in ascending order (Magenta iterates a Python set). Raises
    NonIntegerStepsPerBarError for a sequence with notes whose bars are not whole steps.
    """
    counters: collections.Counter = collections.Counter(
        {
            POLYPHONIC_COUNTER: 0,
            TOO_SHORT_COUNTER: 0,
            TOO_FEW_PITCHES_COUNTER: 0,
            TOO_LONG_COUNTER: 0,
            TRUNCATED_COUNTER: 0,
        }
    )
    melodies: list[Melody] = []
    if quantized.num_notes == 0:
        return melodies, counters
    steps_per_bar = _integer_steps_per_bar(quantized)
    steps_per_quarter = quantized.steps_per_quarter
    bucket_lowers = length_histogram_buckets(min_bars)
    bucket_labels = length_histogram_labels(min_bars)
    notes = _SortedNotes(quantized)
    for instrument, (first_index, end_index) in notes.bounds.items():
        instrument_search_start = search_start_step
        while True:
            try:
                # Events past max_steps_truncate would be cut off below, so they are never built.
                melody, length = _melody_from_sorted(
                    notes,
                    first_index,
                    end_index,
                    instrument_search_start,
                    steps_per_bar,
                    steps_per_quarter,
                    gap_bars,
                    ignore_polyphonic_notes,
                    pad_end,
                    filter_drums,
                    instrument,
                    max_events=max_steps_truncate,
                )
            except PolyphonicMelodyError:
                counters[POLYPHONIC_COUNTER] += 1
                break  # the rest of this instrument is given up; melodies already taken are kept
            # The next search starts at the first bar boundary (counted from search_start_step)
            # at or after this melody's end.
            end_step = melody.start_step + length  # the full melody's end_step
            instrument_search_start = end_step + (search_start_step - end_step) % steps_per_bar
            if not length:
                break
            if length < steps_per_bar * min_bars:
                counters[TOO_SHORT_COUNTER] += 1
                continue
            if max_steps_discard is not None and length > max_steps_discard:
                counters[TOO_LONG_COUNTER] += 1
                continue
            if max_steps_truncate is not None and length > max_steps_truncate:
                truncated_length = max_steps_truncate
                if pad_end:
                    truncated_length -= max_steps_truncate % steps_per_bar
                melody.set_length(truncated_length)
                counters[TRUNCATED_COUNTER] += 1
            pitch_classes = {
                event % NOTES_PER_OCTAVE for event in melody.events if event >= MIN_MIDI_PITCH
            }
            if len(pitch_classes) < min_unique_pitches:
                counters[TOO_FEW_PITCHES_COUNTER] += 1
                continue
            bucket = bisect.bisect_right(bucket_lowers, len(melody.events) // steps_per_bar) - 1
            counters[bucket_labels[bucket]] += 1
            melodies.append(melody)
    return melodies, counters


def extract_melodies_with_statistics(
    quantized: QuantizedSequence,
    min_bars: int = 7,
    max_steps: int = 512,
    min_unique_pitches: int = 5,
    gap_bars: float = 1.0,
    ignore_polyphonic_notes: bool = False,
    filter_drums: bool = True,
) -> tuple[list[Melody], collections.Counter]:
    """Magenta's MelodyExtractor unit, with melody_rnn's defaults: extract_melodies with truncation
    to max_steps; a sequence whose bars are not whole steps gives no melody and the counter
    'non_integer_steps_per_bar' = 1 instead of an error.
    """
    try:
        return extract_melodies(
            quantized,
            min_bars=min_bars,
            max_steps_truncate=max_steps,
            min_unique_pitches=min_unique_pitches,
            gap_bars=gap_bars,
            ignore_polyphonic_notes=ignore_polyphonic_notes,
            filter_drums=filter_drums,
        )
    except NonIntegerStepsPerBarError:
        return [], collections.Counter({NON_INTEGER_STEPS_PER_BAR_COUNTER: 1})


__all__ = [
    "BadNoteError",
    "MAX_MIDI_PITCH",
    "MIN_MIDI_PITCH",
    "Melody",
    "NO_EVENT",
    "NOTE_OFF",
    "NonIntegerStepsPerBarError",
    "PolyphonicMelodyError",
    "extract_melodies",
    "extract_melodies_with_statistics",
    "length_histogram_buckets",
    "length_histogram_labels",
    "melody_from_quantized_sequence",
    "melody_to_note_sequence",
]
