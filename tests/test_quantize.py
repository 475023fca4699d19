"""Time-change splitting and quantization (magenta-behaviour.md: "Time-change splitting", "Quantization"; vectors from magenta-behaviour.md: "Reference test vectors")."""

from __future__ import annotations

import pytest

from melodylib.errors import MelodylibError
from melodylib.music.notesequence import KeySignature, Note, NoteSequence, Tempo, TimeSignature
from melodylib.music.quantize import (
    BAD_TIME_SIGNATURE_COUNTER,
    MULTIPLE_TEMPOS_COUNTER,
    MULTIPLE_TIME_SIGNATURES_COUNTER,
    BadTimeSignatureError,
    MultipleTempoError,
    MultipleTimeSignatureError,
    NegativeTimeError,
    QuantizationError,
    quantize_note_sequence,
    quantize_to_step,
    split_and_quantize,
    split_on_time_changes,
)

UPSTREAM_NOTES = [
    (12, 100, 0.01, 10.0),
    (11, 55, 0.22, 0.50),
    (40, 45, 2.50, 3.50),
    (55, 120, 4.0, 4.01),
    (52, 99, 4.75, 5.0),
]


def make_sequence(
    notes, tempos=((0.0, 60.0),), time_signatures=((0.0, 4, 4),), total_time=None, instrument=0
):
    """Like note_seq's testing_lib.add_track_to_sequence: total_time is the last note end."""
    sequence = NoteSequence(
        notes=[
            Note(pitch, velocity, start, end, instrument) for pitch, velocity, start, end in notes
        ],
        tempos=[Tempo(time, qpm) for time, qpm in tempos],
        time_signatures=[
            TimeSignature(time, numerator, denominator)
            for time, numerator, denominator in time_signatures
        ],
        filename="test.mid",
    )
    sequence.total_time = (
        max([note.end_time for note in sequence.notes] + [0.0])
        if total_time is None
        else total_time
    )
    return sequence


def note_tuples(sequence):
    return [(note.pitch, note.start_time, note.end_time) for note in sequence.notes]


# --- quantization --------------------------------------------------------------------------------


def test_quantizer_vector_60_qpm_4_steps_per_quarter():
    quantized = quantize_note_sequence(make_sequence(UPSTREAM_NOTES), steps_per_quarter=4)
    assert list(zip(quantized.start_step.tolist(), quantized.end_step.tolist())) == [
        (0, 40),
        (1, 2),
        (10, 14),
        (16, 17),
        (19, 20),
    ]
    assert quantized.pitch.tolist() == [12, 11, 40, 55, 52]
    assert quantized.velocity.tolist() == [100, 55, 45, 120, 99]
    assert quantized.total_steps == 40
    assert quantized.steps_per_bar == 16.0
    assert (quantized.qpm, quantized.numerator, quantized.denominator) == (60.0, 4, 4)
    assert quantized.filename == "test.mid"


def test_rounding_is_to_the_nearest_step_with_halves_up():
    # 120 qpm at 4 steps per quarter: 8 steps per second, so 0.0625 s is exactly half a step.
    sequence = make_sequence([(60, 100, 0.0625, 0.1874), (62, 100, 0.0624, 0.5)], tempos=())
    quantized = quantize_note_sequence(sequence)
    assert quantized.start_step.tolist() == [1, 0]
    assert quantized.end_step.tolist() == [
        2,
        4,
    ]  # 0.1874 s -> 1.4992 steps -> 1, equal to the start -> 2


def test_zero_length_note_gets_one_step():
    quantized = quantize_note_sequence(make_sequence([(60, 100, 1.0, 1.0)]))
    assert (int(quantized.start_step[0]), int(quantized.end_step[0])) == (4, 5)
    assert quantized.total_steps == 5  # raised to the last note end


def test_missing_tempo_and_time_signature_default_to_120_qpm_4_4():
    quantized = quantize_note_sequence(
        make_sequence([(60, 100, 0.5, 1.0)], tempos=(), time_signatures=())
    )
    assert (quantized.qpm, quantized.numerator, quantized.denominator) == (120.0, 4, 4)
    assert (int(quantized.start_step[0]), int(quantized.end_step[0])) == (4, 8)


def test_total_steps_from_total_time():
    quantized = quantize_note_sequence(make_sequence([(60, 100, 0.0, 1.0)], total_time=3.0))
    assert quantized.total_steps == 12


@pytest.mark.parametrize(
    "numerator, denominator, steps_per_quarter, expected",
    [
        (4, 4, 4, 16.0),
        (3, 4, 4, 12.0),
        (6, 8, 4, 12.0),
        (7, 8, 4, 14.0),
        (7, 8, 12, 42.0),
        (3, 8, 1, 1.5),
        (2, 2, 4, 16.0),
    ],
)
def test_steps_per_bar(numerator, denominator, steps_per_quarter, expected):
    sequence = make_sequence(
        [(60, 100, 0.0, 1.0)], time_signatures=((0.0, numerator, denominator),)
    )
    assert quantize_note_sequence(sequence, steps_per_quarter).steps_per_bar == expected


def test_quantize_to_step_cutoffs():
    assert quantize_to_step(1.0, 8.0) == 8
    assert quantize_to_step(1.0625, 8.0) == 9  # 8.5 rounds up
    assert quantize_to_step(1.06, 8.0) == 8
    assert quantize_to_step(1.0, 8.0, quantize_cutoff=0.0) == 9  # generation start: floor(x + 1)
    assert quantize_to_step(1.1, 8.0, quantize_cutoff=1.0) == 8  # generation end: floor(x)


def test_slightly_negative_times_truncate_to_step_zero_like_note_seq():
    # note_seq rounds with int(), which truncates towards zero: -0.8 + 0.5 = -0.3 -> step 0.
    quantized = quantize_note_sequence(make_sequence([(60, 100, -0.1, 1.0)], tempos=()))
    assert int(quantized.start_step[0]) == 0


def test_negative_time_error():
    with pytest.raises(NegativeTimeError, match="step -1"):
        quantize_note_sequence(make_sequence([(60, 100, -0.2, 1.0)], tempos=()))


def test_multiple_time_signatures_error():
    sequence = make_sequence(UPSTREAM_NOTES, time_signatures=((0.0, 4, 4), (2.0, 3, 4)))
    with pytest.raises(MultipleTimeSignatureError, match="4/4 to 3/4"):
        quantize_note_sequence(sequence)


def test_first_time_signature_late_and_not_4_4_is_an_implicit_change():
    sequence = make_sequence(UPSTREAM_NOTES, time_signatures=((1.0, 3, 4),))
    with pytest.raises(MultipleTimeSignatureError, match="implicit"):
        quantize_note_sequence(sequence)


def test_first_time_signature_late_but_4_4_is_fine():
    quantized = quantize_note_sequence(
        make_sequence(UPSTREAM_NOTES, time_signatures=((1.0, 4, 4), (3.0, 4, 4)))
    )
    assert (quantized.numerator, quantized.denominator) == (4, 4)


def test_repeated_equal_time_signature_is_fine():
    quantized = quantize_note_sequence(
        make_sequence(UPSTREAM_NOTES, time_signatures=((0.0, 3, 4), (2.0, 3, 4)))
    )
    assert quantized.steps_per_bar == 12.0


def test_multiple_tempos_error():
    with pytest.raises(MultipleTempoError, match="60.0 qpm to 80.0 qpm"):
        quantize_note_sequence(make_sequence(UPSTREAM_NOTES, tempos=((0.0, 60.0), (4.25, 80.0))))


def test_first_tempo_late_and_not_120_is_an_implicit_change():
    with pytest.raises(MultipleTempoError, match="implicit"):
        quantize_note_sequence(make_sequence(UPSTREAM_NOTES, tempos=((1.0, 100.0),)))


def test_first_tempo_late_but_120_is_fine():
    quantized = quantize_note_sequence(
        make_sequence(UPSTREAM_NOTES, tempos=((1.0, 120.0), (2.0, 120.0)))
    )
    assert quantized.qpm == 120.0


def test_tempos_are_compared_with_plain_float_equality():
    with pytest.raises(MultipleTempoError):
        quantize_note_sequence(
            make_sequence(UPSTREAM_NOTES, tempos=((0.0, 120.0), (2.0, 120.00000000000001)))
        )


@pytest.mark.parametrize(
    "numerator, denominator, reason",
    [(3, 3, "power of 2"), (4, 0, "power of 2"), (0, 4, "numerator 0")],
)
def test_bad_time_signature_error(numerator, denominator, reason):
    sequence = make_sequence(UPSTREAM_NOTES, time_signatures=((0.0, numerator, denominator),))
    with pytest.raises(BadTimeSignatureError, match=reason):
        quantize_note_sequence(sequence)


def test_bad_time_signature_is_reported_before_a_tempo_change():
    sequence = make_sequence(
        UPSTREAM_NOTES, time_signatures=((0.0, 3, 3),), tempos=((0.0, 60.0), (1.0, 90.0))
    )
    with pytest.raises(BadTimeSignatureError):
        quantize_note_sequence(sequence)


def test_unsorted_events_keep_the_first_listed_like_note_seq():
    # note_seq compares later signatures with the first one *as listed* and keeps it.
    sequence = make_sequence(UPSTREAM_NOTES, time_signatures=((5.0, 4, 4), (0.0, 3, 4)))
    assert quantize_note_sequence(sequence).steps_per_bar == 16.0


def test_quantization_errors_are_user_errors():
    for error in (
        MultipleTimeSignatureError,
        MultipleTempoError,
        BadTimeSignatureError,
        NegativeTimeError,
    ):
        assert issubclass(error, QuantizationError)
        assert issubclass(error, MelodylibError)


@pytest.mark.parametrize("steps_per_quarter", [0, -4, 2.5])
def test_bad_steps_per_quarter(steps_per_quarter):
    with pytest.raises(MelodylibError, match="steps_per_quarter"):
        quantize_note_sequence(make_sequence(UPSTREAM_NOTES), steps_per_quarter)


# --- splitting -----------------------------------------------------------------------------------


def test_time_change_splitter_vector():
    # note_sequence_pipelines_test: a 3/4 from 2.0 s (with the implicit 4/4 before it) splits in two.
    sequence = make_sequence(UPSTREAM_NOTES, time_signatures=((2.0, 3, 4),))
    first, second = split_on_time_changes(sequence)
    assert note_tuples(first) == [(12, 0.01, 2.0), (11, 0.22, 0.5)]
    assert first.time_signatures == [] and first.tempos == [Tempo(0.0, 60.0)]
    assert note_tuples(second) == [(40, 0.5, 1.5), (55, 2.0, 2.01), (52, 2.75, 3.0)]
    assert second.time_signatures == [TimeSignature(0.0, 3, 4)] and second.tempos == [
        Tempo(0.0, 60.0)
    ]
    assert first.total_time == 2.0
    assert second.total_time == 3.0
    assert second.filename == "test.mid"


def test_split_on_a_meter_change_and_a_tempo_change():
    sequence = make_sequence(
        UPSTREAM_NOTES,
        time_signatures=((0.0, 4, 4), (2.0, 3, 4)),
        tempos=((0.0, 60.0), (4.25, 80.0)),
    )
    pieces = split_on_time_changes(sequence)
    assert [note_tuples(piece) for piece in pieces] == [
        [(12, 0.01, 2.0), (11, 0.22, 0.5)],
        [(40, 0.5, 1.5), (55, 2.0, 2.01)],
        [(52, 0.5, 0.75)],
    ]
    assert [piece.time_signatures for piece in pieces] == [
        [TimeSignature(0.0, 4, 4)],
        [TimeSignature(0.0, 3, 4)],
        [TimeSignature(0.0, 3, 4)],
    ]
    assert [piece.tempos for piece in pieces] == [
        [Tempo(0.0, 60.0)],
        [Tempo(0.0, 60.0)],
        [Tempo(0.0, 80.0)],
    ]
    # A piece's total time is its last note end, not the length of the stretch.
    assert [piece.total_time for piece in pieces] == [2.0, 2.01, 0.75]


def test_events_that_change_nothing_do_not_split_and_stay_inside():
    sequence = make_sequence(
        [(60, 100, 0.5, 4.0), (62, 100, 5.0, 6.0)],
        time_signatures=((0.0, 4, 4), (3.0, 4, 4)),
        tempos=((1.0, 120.0),),
    )
    (piece,) = split_on_time_changes(sequence)
    assert note_tuples(piece) == [(60, 0.5, 4.0), (62, 5.0, 6.0)]
    assert piece.time_signatures == [TimeSignature(0.0, 4, 4), TimeSignature(3.0, 4, 4)]
    assert piece.tempos == [Tempo(1.0, 120.0)]


def test_changes_at_or_after_total_time_are_ignored():
    sequence = make_sequence(
        [(60, 100, 0.0, 2.0), (62, 100, 2.0, 4.0)],
        time_signatures=((0.0, 4, 4), (4.0, 3, 4)),
        tempos=((0.0, 60.0), (9.0, 90.0)),
    )
    (piece,) = split_on_time_changes(sequence)
    assert note_tuples(piece) == [(60, 0.0, 2.0), (62, 2.0, 4.0)]
    assert piece.time_signatures == [TimeSignature(0.0, 4, 4)]
    assert piece.tempos == [Tempo(0.0, 60.0)]


def test_changes_at_the_same_time_make_one_split_and_the_last_one_holds():
    sequence = make_sequence(
        [(60, 100, 0.0, 2.0), (62, 100, 2.0, 4.0), (64, 100, 3.0, 5.0)],
        tempos=((0.0, 60.0), (2.0, 90.0), (2.0, 100.0)),
        time_signatures=((0.0, 4, 4), (2.0, 6, 8)),
    )
    first, second = split_on_time_changes(sequence)
    assert note_tuples(first) == [(60, 0.0, 2.0)]
    assert note_tuples(second) == [(62, 0.0, 2.0), (64, 1.0, 3.0)]
    assert second.tempos == [Tempo(0.0, 100.0)]
    assert second.time_signatures == [TimeSignature(0.0, 6, 8)]


def test_split_drops_notes_starting_at_total_time_and_orders_notes_by_start():
    sequence = make_sequence(
        [(64, 100, 2.0, 3.0), (60, 100, 0.0, 1.0), (67, 100, 3.0, 3.0)], total_time=3.0
    )
    (piece,) = split_on_time_changes(sequence)
    assert note_tuples(piece) == [(60, 0.0, 1.0), (64, 2.0, 3.0)]


def test_key_signature_in_force_is_carried_to_each_piece():
    sequence = make_sequence([(60, 100, 0.0, 4.0)], time_signatures=((0.0, 4, 4), (2.0, 3, 4)))
    sequence.key_signatures = [KeySignature(0.0, 2, 0), KeySignature(1.0, 7, 0)]
    first, second = split_on_time_changes(sequence)
    assert first.key_signatures == [KeySignature(0.0, 2, 0), KeySignature(1.0, 7, 0)]
    assert second.key_signatures == [KeySignature(0.0, 7, 0)]
    assert note_tuples(second) == []


def test_empty_sequence_gives_no_pieces():
    assert split_on_time_changes(NoteSequence()) == []
    quantized, counters = split_and_quantize(NoteSequence())
    assert quantized == [] and sum(counters.values()) == 0


def test_split_and_quantize_quantizes_each_piece_with_its_own_tempo():
    sequence = make_sequence(
        UPSTREAM_NOTES,
        time_signatures=((0.0, 4, 4), (2.0, 3, 4)),
        tempos=((0.0, 60.0), (4.25, 80.0)),
    )
    pieces, counters = split_and_quantize(sequence, steps_per_quarter=4)
    assert [(piece.qpm, piece.numerator, piece.denominator) for piece in pieces] == [
        (60.0, 4, 4),
        (60.0, 3, 4),
        (80.0, 3, 4),
    ]
    assert [list(zip(piece.start_step.tolist(), piece.end_step.tolist())) for piece in pieces] == [
        [(0, 8), (1, 2)],
        [(2, 6), (8, 9)],
        [(3, 4)],  # 0.5 s and 0.75 s at 80 qpm = 5.33 steps/s: 2.67 -> 3, 4.0 -> 4
    ]
    assert counters == {
        MULTIPLE_TIME_SIGNATURES_COUNTER: 0,
        MULTIPLE_TEMPOS_COUNTER: 0,
        BAD_TIME_SIGNATURE_COUNTER: 0,
    }


def test_split_and_quantize_counts_bad_time_signatures():
    sequence = make_sequence(UPSTREAM_NOTES, time_signatures=((0.0, 4, 4), (2.0, 3, 3)))
    pieces, counters = split_and_quantize(sequence)
    assert len(pieces) == 1 and pieces[0].pitch.tolist() == [12, 11]
    assert counters[BAD_TIME_SIGNATURE_COUNTER] == 1


def test_split_and_quantize_matches_split_then_quantize():
    sequence = make_sequence(
        UPSTREAM_NOTES,
        time_signatures=((0.0, 4, 4), (2.0, 7, 8)),
        tempos=((0.0, 60.0), (4.25, 97.3)),
    )
    pieces, _ = split_and_quantize(sequence, steps_per_quarter=3)
    expected = [
        quantize_note_sequence(piece, steps_per_quarter=3)
        for piece in split_on_time_changes(sequence)
    ]
    assert len(pieces) == len(expected) == 3
    for ours, theirs in zip(pieces, expected):
        for name in (
            "pitch",
            "velocity",
            "start_step",
            "end_step",
            "instrument",
            "program",
            "is_drum",
        ):
            assert getattr(ours, name).tolist() == getattr(theirs, name).tolist()
        assert (ours.qpm, ours.numerator, ours.denominator, ours.total_steps) == (
            theirs.qpm,
            theirs.numerator,
            theirs.denominator,
            theirs.total_steps,
        )
