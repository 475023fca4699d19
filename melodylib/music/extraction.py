"""Melody extraction: Magenta's rules for cutting monophonic melodies out of quantized music.

Each instrument of a quantized sequence is walked note by note; a melody starts at the bar of its
first note, ends at a gap of silence, is discarded when too short or with too few pitches, and is
truncated when too long. The counters name what was discarded and why (magenta-behaviour.md:
"Melody extraction", "Pipeline statistics").
"""

from __future__ import annotations

import bisect
import collections

import numpy as np

from melodylib.errors import MelodylibError
from melodylib.music.events import (
    NO_EVENT,
    NOTE_OFF,
    NOTES_PER_OCTAVE,
)
from melodylib.music.melodies import MIN_MIDI_PITCH, BadNoteError, Melody
from melodylib.music.quantize import QuantizedSequence

POLYPHONIC_COUNTER = "polyphonic_tracks_discarded"
TOO_SHORT_COUNTER = "melodies_discarded_too_short"
TOO_FEW_PITCHES_COUNTER = "melodies_discarded_too_few_pitches"
TOO_LONG_COUNTER = "melodies_discarded_too_long"
TRUNCATED_COUNTER = "melodies_truncated"
NON_INTEGER_STEPS_PER_BAR_COUNTER = "non_integer_steps_per_bar"
LENGTH_HISTOGRAM_PREFIX = "melody_lengths_in_bars_"


class PolyphonicMelodyError(MelodylibError):
    """Two notes of one track start on the same step while polyphonic notes are not ignored."""


class NonIntegerStepsPerBarError(MelodylibError):
    """The time signature gives a fractional number of steps per bar (e.g. 3/8 at 1 step per quarter)."""


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
