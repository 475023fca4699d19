"""Splitting a NoteSequence where its tempo or meter changes, and quantizing it onto a step grid.

These are Magenta's TimeChangeSplitter and Quantizer (magenta-behaviour.md: "Time-change splitting", "Quantization"), rebuilt on numpy arrays:
a melody is only defined on a grid of steps with one tempo and one time signature, so a piece is
first cut wherever either changes, then each part's note times (seconds) become whole steps.
Every rounding and ordering rule follows note_seq, so the steps come out identical.
"""

from __future__ import annotations

import bisect
import collections
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from melodylib.errors import MelodylibError
from melodylib.music.notesequence import (
    DEFAULT_QPM,
    KeySignature,
    NoteSequence,
    Tempo,
    TimeSignature,
)

DEFAULT_STEPS_PER_QUARTER = 4
QUANTIZE_CUTOFF = 0.5

# Counter names of Magenta's Quantizer unit (magenta-behaviour.md: "Pipeline statistics").
MULTIPLE_TIME_SIGNATURES_COUNTER = "sequences_discarded_because_multiple_time_signatures"
MULTIPLE_TEMPOS_COUNTER = "sequences_discarded_because_multiple_tempos"
BAD_TIME_SIGNATURE_COUNTER = "sequences_discarded_because_bad_time_signature"
# Not in Magenta (its pipeline crashes on this error instead); see split_and_quantize.
NEGATIVE_TIME_COUNTER = "sequences_discarded_because_negative_time"


class QuantizationError(MelodylibError):
    """A NoteSequence that cannot be put on a single step grid."""


class MultipleTimeSignatureError(QuantizationError):
    """The sequence changes its time signature (split it with `split_on_time_changes` first)."""


class MultipleTempoError(QuantizationError):
    """The sequence changes its tempo (split it with `split_on_time_changes` first)."""


class BadTimeSignatureError(QuantizationError):
    """A time signature whose numerator is 0 or whose denominator is not a power of two."""


class NegativeTimeError(QuantizationError):
    """A note that would start or end before step 0."""


@dataclass
class QuantizedSequence:
    """Notes on a grid of `steps_per_quarter` steps per quarter note, as parallel numpy arrays.

    One tempo (`qpm`) and one time signature (`numerator`/`denominator`) hold for the whole
    sequence; `total_steps` is the quantized length (at least the last note end).
    """

    pitch: np.ndarray
    velocity: np.ndarray
    start_step: np.ndarray
    end_step: np.ndarray
    instrument: np.ndarray
    program: np.ndarray
    is_drum: np.ndarray
    steps_per_quarter: int = DEFAULT_STEPS_PER_QUARTER
    qpm: float = DEFAULT_QPM
    numerator: int = 4
    denominator: int = 4
    total_steps: int = 0
    id: str = ""
    filename: str = ""
    collection_name: str = ""

    @property
    def steps_per_bar(self) -> float:
        """Steps in one bar, as a float (3/8 at 1 step per quarter is 1.5); callers check it is whole."""
        # Same float operations as note_seq's steps_per_bar_in_quantized_sequence.
        quarters_per_bar = (4.0 / self.denominator) * self.numerator
        return self.steps_per_quarter * quarters_per_bar

    @property
    def steps_per_second(self) -> float:
        """Steps per second at this sequence's tempo."""
        return steps_per_quarter_to_steps_per_second(self.steps_per_quarter, self.qpm)

    @property
    def num_notes(self) -> int:
        """The number of notes."""
        return int(self.pitch.shape[0])


@dataclass
class _Piece:
    """One stretch of a sequence between two time changes: its notes (as indices) and events."""

    start_time: float
    end_time: float
    note_index: np.ndarray  # into the original notes, ordered by start time (stable)
    time_signatures: list[TimeSignature] = field(default_factory=list)
    tempos: list[Tempo] = field(default_factory=list)
    key_signatures: list[KeySignature] = field(default_factory=list)


def steps_per_quarter_to_steps_per_second(steps_per_quarter: int, qpm: float) -> float:
    """Steps per second at `qpm` quarter notes per minute."""
    return steps_per_quarter * qpm / 60.0


def quantize_to_step(
    seconds: float, steps_per_second: float, quantize_cutoff: float = QUANTIZE_CUTOFF
) -> int:
    """The step a time in seconds falls on: int(seconds * steps_per_second + (1 - cutoff)).

    With the default cutoff 0.5 this rounds to the nearest step. Like note_seq, it truncates
    towards zero (`int`), so slightly negative times round to step 0 rather than -1.
    """
    return int(seconds * steps_per_second + (1.0 - quantize_cutoff))


def _quantize_times(seconds: np.ndarray, steps_per_second: float) -> np.ndarray:
    """Vectorised `quantize_to_step` with the default cutoff (same float operations, same truncation)."""
    return np.trunc(seconds * steps_per_second + (1.0 - QUANTIZE_CUTOFF)).astype(np.int64)


# --- splitting ---------------------------------------------------------------------------------


def _split_times(sequence: NoteSequence) -> list[float]:
    """0, the times where the tempo or time signature really changes, then total_time (magenta-behaviour.md: "Time-change splitting")."""
    total_time = sequence.total_time
    change_times: set[float] = set()
    kinds = (
        (sequence.time_signatures, lambda event: (event.numerator, event.denominator), (4, 4)),
        (sequence.tempos, lambda event: event.qpm, DEFAULT_QPM),
    )
    for events, value_of, current in kinds:
        for event in sorted(events, key=lambda event: event.time):
            if event.time >= total_time:
                break  # sorted, so every later event is at or after the end too
            value = value_of(event)
            if value == current:  # plain equality, as note_seq (qpm floats included)
                continue
            # A change at a time already split on (or at/before 0) adds no split point.
            if event.time > 0.0:
                change_times.add(event.time)
            current = value
    split_times = [0.0] + sorted(change_times)
    if total_time > split_times[-1]:
        split_times.append(total_time)
    return split_times


def _events_per_piece(events: Sequence, split_times: list[float]) -> list[list]:
    """For each piece: the last event at or before its start (moved to time 0), then its inner events.

    Events exactly on a split time only carry over as the next piece's starting state; events at
    or after the last split time (total_time) are dropped.
    """
    ordered = sorted(events, key=lambda event: event.time)
    times = [event.time for event in ordered]
    pieces = []
    for piece_start, piece_end in zip(split_times[:-1], split_times[1:]):
        first_inside = bisect.bisect_right(times, piece_start)
        first_after = bisect.bisect_left(times, piece_end)
        piece_events = []
        if first_inside > 0:
            piece_events.append(dataclasses.replace(ordered[first_inside - 1], time=0.0))
        for event in ordered[first_inside:first_after]:
            piece_events.append(dataclasses.replace(event, time=event.time - piece_start))
        pieces.append(piece_events)
    return pieces


def _split_pieces(sequence: NoteSequence, start_times: np.ndarray) -> list[_Piece]:
    """Cut the sequence at its time changes (note_seq's skip_splits_inside_notes=False)."""
    split_times = _split_times(sequence)
    if len(split_times) < 2:
        return []
    order = np.argsort(start_times, kind="stable")
    sorted_starts = start_times[order]
    bounds = np.searchsorted(sorted_starts, np.asarray(split_times, dtype=np.float64), side="left")
    time_signatures = _events_per_piece(sequence.time_signatures, split_times)
    tempos = _events_per_piece(sequence.tempos, split_times)
    key_signatures = _events_per_piece(sequence.key_signatures, split_times)
    return [
        _Piece(
            start_time=split_times[index],
            end_time=split_times[index + 1],
            note_index=order[bounds[index] : bounds[index + 1]],
            time_signatures=time_signatures[index],
            tempos=tempos[index],
            key_signatures=key_signatures[index],
        )
        for index in range(len(split_times) - 1)
    ]


def _piece_times(
    piece: _Piece, start_times: np.ndarray, end_times: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float]:
    """The piece's note start and end times relative to its start, ends cut at its end; and its total time."""
    starts = start_times[piece.note_index] - piece.start_time
    ends = np.minimum(end_times[piece.note_index], piece.end_time) - piece.start_time
    total_time = max(0.0, float(ends.max())) if ends.size else 0.0
    return starts, ends, total_time


def split_on_time_changes(sequence: NoteSequence) -> list[NoteSequence]:
    """Split a sequence wherever its tempo or time signature changes (Magenta's TimeChangeSplitter).

    Each piece keeps the notes that start inside it, shifted to start at 0 with their ends cut at
    the piece's end, and gets the time signature, tempo and key in force at its start at time 0.
    Events that repeat the current value do not split; events at or after total_time are ignored.
    An empty sequence (total_time 0) gives an empty list.
    """
    columns = sequence.note_arrays()
    pieces = _split_pieces(sequence, columns["start_time"])
    result = []
    for piece in pieces:
        starts, ends, total_time = _piece_times(piece, columns["start_time"], columns["end_time"])
        notes = [
            dataclasses.replace(
                sequence.notes[int(index)], start_time=float(start), end_time=float(end)
            )
            for index, start, end in zip(piece.note_index, starts, ends)
        ]
        result.append(
            sequence.replace(
                notes=notes,
                time_signatures=piece.time_signatures,
                tempos=piece.tempos,
                key_signatures=piece.key_signatures,
                total_time=total_time,
            )
        )
    return result


# --- quantizing --------------------------------------------------------------------------------


def _is_power_of_two(value: int) -> bool:
    return value > 0 and (value & (value - 1)) == 0


def _check_time_signatures(time_signatures: Sequence[TimeSignature], where: str) -> tuple[int, int]:
    """The one time signature in force, or an error if it changes or is malformed (magenta-behaviour.md: "Quantization")."""
    if not time_signatures:
        numerator, denominator = 4, 4
    else:
        ordered = sorted(time_signatures, key=lambda event: event.time)
        first = ordered[0]
        if first.time != 0 and not (first.numerator == 4 and first.denominator == 4):
            raise MultipleTimeSignatureError(
                f"{where}: the implicit 4/4 at the start changes to {first.numerator}/{first.denominator} "
                f"at {first.time:.2f} s; split the sequence with split_on_time_changes first"
            )
        # note_seq compares against (and keeps) the first signature *as listed*, not the earliest
        # one; the two only differ for an unsorted list, which our readers and the splitter never make.
        kept = time_signatures[0]
        for event in ordered[1:]:
            if (event.numerator, event.denominator) != (kept.numerator, kept.denominator):
                raise MultipleTimeSignatureError(
                    f"{where}: the time signature changes from {kept.numerator}/{kept.denominator} to "
                    f"{event.numerator}/{event.denominator} at {event.time:.2f} s; split the sequence "
                    "with split_on_time_changes first"
                )
        numerator, denominator = kept.numerator, kept.denominator
    if not _is_power_of_two(denominator):
        raise BadTimeSignatureError(
            f"{where}: time signature {numerator}/{denominator} has a denominator that is not a power of 2"
        )
    if numerator == 0:
        raise BadTimeSignatureError(
            f"{where}: time signature {numerator}/{denominator} has numerator 0"
        )
    return numerator, denominator


def _check_tempos(tempos: Sequence[Tempo], where: str) -> float:
    """The one tempo in force, or an error if it changes (plain float equality, as note_seq)."""
    if not tempos:
        return DEFAULT_QPM
    ordered = sorted(tempos, key=lambda event: event.time)
    first = ordered[0]
    if first.time != 0 and first.qpm != DEFAULT_QPM:
        raise MultipleTempoError(
            f"{where}: the implicit {DEFAULT_QPM} qpm at the start changes to {first.qpm} qpm at "
            f"{first.time:.2f} s; split the sequence with split_on_time_changes first"
        )
    kept = tempos[0]  # as for time signatures: the first as listed
    for event in ordered[1:]:
        if event.qpm != kept.qpm:
            raise MultipleTempoError(
                f"{where}: the tempo changes from {kept.qpm} qpm to {event.qpm} qpm at {event.time:.2f} s; "
                "split the sequence with split_on_time_changes first"
            )
    return kept.qpm


def _check_steps_per_quarter(steps_per_quarter: int) -> int:
    if (
        isinstance(steps_per_quarter, bool)
        or int(steps_per_quarter) != steps_per_quarter
        or steps_per_quarter < 1
    ):
        raise MelodylibError(
            f"steps_per_quarter must be a whole number >= 1, got {steps_per_quarter!r}"
        )
    return int(steps_per_quarter)


def _quantize_columns(
    columns: dict[str, np.ndarray],
    start_times: np.ndarray,
    end_times: np.ndarray,
    time_signatures: Sequence[TimeSignature],
    tempos: Sequence[Tempo],
    total_time: float,
    steps_per_quarter: int,
    sequence: NoteSequence,
) -> QuantizedSequence:
    """Quantize notes given as columns (already selected and ordered) with the given events."""
    where = sequence.filename or sequence.id or "NoteSequence"
    numerator, denominator = _check_time_signatures(time_signatures, where)
    qpm = _check_tempos(tempos, where)
    steps_per_second = steps_per_quarter_to_steps_per_second(steps_per_quarter, qpm)
    start_steps = _quantize_times(start_times, steps_per_second)
    end_steps = _quantize_times(end_times, steps_per_second)
    end_steps = np.where(end_steps == start_steps, end_steps + 1, end_steps)
    negative = (start_steps < 0) | (end_steps < 0)
    if negative.any():
        index = int(np.flatnonzero(negative)[0])
        raise NegativeTimeError(
            f"{where}: a note would start at step {int(start_steps[index])} and end at step "
            f"{int(end_steps[index])}; times must not be negative"
        )
    total_steps = quantize_to_step(total_time, steps_per_second)
    if end_steps.size:
        total_steps = max(total_steps, int(end_steps.max()))
    return QuantizedSequence(
        pitch=columns["pitch"],
        velocity=columns["velocity"],
        start_step=start_steps,
        end_step=end_steps,
        instrument=columns["instrument"],
        program=columns["program"],
        is_drum=columns["is_drum"],
        steps_per_quarter=steps_per_quarter,
        qpm=qpm,
        numerator=numerator,
        denominator=denominator,
        total_steps=total_steps,
        id=sequence.id,
        filename=sequence.filename,
        collection_name=sequence.collection_name,
    )


def quantize_note_sequence(
    sequence: NoteSequence, steps_per_quarter: int = DEFAULT_STEPS_PER_QUARTER
) -> QuantizedSequence:
    """Put a sequence with one tempo and one time signature on a grid of `steps_per_quarter` steps.

    A note's steps are the nearest steps to its start and end (an end equal to the start moves one
    step later). Raises MultipleTimeSignatureError, MultipleTempoError, BadTimeSignatureError or
    NegativeTimeError (all QuantizationError) as note_seq does (magenta-behaviour.md: "Quantization").
    """
    steps_per_quarter = _check_steps_per_quarter(steps_per_quarter)
    columns = sequence.note_arrays()
    return _quantize_columns(
        columns,
        columns["start_time"],
        columns["end_time"],
        sequence.time_signatures,
        sequence.tempos,
        sequence.total_time,
        steps_per_quarter,
        sequence,
    )


_NOTE_COLUMNS = ("pitch", "velocity", "instrument", "program", "is_drum")


def split_and_quantize(
    sequence: NoteSequence, steps_per_quarter: int = DEFAULT_STEPS_PER_QUARTER
) -> tuple[list[QuantizedSequence], collections.Counter]:
    """Magenta's TimeChangeSplitter followed by its Quantizer, for building datasets.

    Returns the quantized pieces and a Counter with Magenta's three discard counters (always
    present, possibly 0). Pieces that cannot be quantized are dropped and counted. This works on
    the note arrays directly: no per-piece NoteSequence is built.
    """
    steps_per_quarter = _check_steps_per_quarter(steps_per_quarter)
    counters: collections.Counter = collections.Counter(
        {
            MULTIPLE_TIME_SIGNATURES_COUNTER: 0,
            MULTIPLE_TEMPOS_COUNTER: 0,
            BAD_TIME_SIGNATURE_COUNTER: 0,
        }
    )
    columns = sequence.note_arrays()
    start_times, end_times = columns["start_time"], columns["end_time"]
    quantized_pieces = []
    for piece in _split_pieces(sequence, start_times):
        starts, ends, total_time = _piece_times(piece, start_times, end_times)
        piece_columns = {name: columns[name][piece.note_index] for name in _NOTE_COLUMNS}
        try:
            quantized = _quantize_columns(
                piece_columns,
                starts,
                ends,
                piece.time_signatures,
                piece.tempos,
                total_time,
                steps_per_quarter,
                sequence,
            )
        except MultipleTimeSignatureError:
            counters[MULTIPLE_TIME_SIGNATURES_COUNTER] += 1
            continue
        except MultipleTempoError:
            counters[MULTIPLE_TEMPOS_COUNTER] += 1
            continue
        except BadTimeSignatureError:
            counters[BAD_TIME_SIGNATURE_COUNTER] += 1
            continue
        except NegativeTimeError:
            # Magenta's pipeline does not catch this and stops the whole run; we drop the piece and
            # count it. After splitting it needs a note ending before it starts, which MIDI never gives.
            counters[NEGATIVE_TIME_COUNTER] += 1
            continue
        quantized_pieces.append(quantized)
    return quantized_pieces, counters


__all__ = [
    "BadTimeSignatureError",
    "DEFAULT_STEPS_PER_QUARTER",
    "MultipleTempoError",
    "MultipleTimeSignatureError",
    "NegativeTimeError",
    "QuantizationError",
    "QuantizedSequence",
    "quantize_note_sequence",
    "quantize_to_step",
    "split_and_quantize",
    "split_on_time_changes",
    "steps_per_quarter_to_steps_per_second",
]
