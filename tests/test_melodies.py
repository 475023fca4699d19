"""Melody events, extraction, squash and transposition (magenta-behaviour.md: "Melody extraction", "Squash and transposition"; vectors magenta-behaviour.md: "Reference test vectors")."""

from __future__ import annotations

import pytest

from melodylib.errors import MelodylibError
from melodylib.music.extraction import (
    NonIntegerStepsPerBarError,
    PolyphonicMelodyError,
    extract_melodies,
    extract_melodies_with_statistics,
    length_histogram_labels,
    melody_from_quantized_sequence,
)
from melodylib.music.melodies import (
    NO_EVENT,
    NOTE_OFF,
    BadNoteError,
    Melody,
    melody_to_note_sequence,
)
from melodylib.music.notesequence import Note, NoteSequence, Tempo, TimeSignature
from melodylib.music.quantize import quantize_note_sequence, split_and_quantize

NO = NO_EVENT
OFF = NOTE_OFF


def make_sequence(tracks, qpm=60.0, numerator=4, denominator=4):
    """tracks: {instrument: [(pitch, velocity, start, end), ...]}; an instrument key (n, 'drum') marks drums."""
    notes = []
    for key, track in tracks.items():
        instrument, is_drum = (key[0], True) if isinstance(key, tuple) else (key, False)
        notes += [
            Note(pitch, velocity, start, end, instrument, 0, is_drum)
            for pitch, velocity, start, end in track
        ]
    return NoteSequence(
        notes=notes,
        tempos=[Tempo(0.0, qpm)],
        time_signatures=[TimeSignature(0.0, numerator, denominator)],
        total_time=max([note.end_time for note in notes] + [0.0]),
    )


def quantized(tracks, steps_per_quarter=4, **options):
    return quantize_note_sequence(make_sequence(tracks, **options), steps_per_quarter)


def pipeline_quantized(tracks):
    """melody_pipelines_test setup: 60 qpm quantized at 1 step per quarter = 1 step per second, 4 per bar."""
    return quantized(tracks, steps_per_quarter=1)


# --- the Melody class ----------------------------------------------------------------------------


def test_constructor_turns_leading_note_offs_into_no_events():
    melody = Melody([OFF, NO, OFF, 60, OFF, NO], start_step=3)
    assert melody.events == [NO, NO, NO, 60, OFF, NO]
    assert (melody.start_step, melody.end_step, len(melody)) == (3, 9, 6)
    assert list(melody) == melody.events and melody[3] == 60 and melody[-2:] == [OFF, NO]


@pytest.mark.parametrize("bad_event", [-3, 128, 60.5, "C4"])
def test_constructor_rejects_bad_events(bad_event):
    with pytest.raises(MelodylibError, match="melody event"):
        Melody([60, bad_event])


def test_append_checks_and_extends_the_end():
    melody = Melody([60], start_step=2)
    melody.append(NOTE_OFF)
    assert (melody.events, melody.end_step) == ([60, OFF], 4)
    with pytest.raises(MelodylibError):
        melody.append(200)


def test_note_histogram():
    melody = Melody([NO, OFF, 25, 36, 71, 75, 59])
    assert melody.get_note_histogram().tolist() == [1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2]


def test_major_key_histograms():
    assert Melody([60]).get_major_key_histogram().tolist() == [1, 1, 0, 1, 0, 1, 0, 1, 1, 0, 1, 0]
    assert Melody([60, 61]).get_major_key_histogram().tolist() == [
        1,
        2,
        1,
        1,
        1,
        1,
        1,
        1,
        2,
        1,
        1,
        1,
    ]


def test_get_major_key():
    assert Melody([62, NO, 64, 66, 67, OFF, 69, 71, 73, 74]).get_major_key() == 2  # D major
    assert Melody([61, 63, 65, 66, 68, 70, 72, 73]).get_major_key() == 1  # C# major
    assert Melody([NO, 71, OFF]).get_major_key() == 0  # a lone B fits 7 keys; the lowest wins


def test_transpose_folds_into_the_range():
    melody = Melody([64, NO, 65, OFF, 72, NO])
    melody.transpose(-5, 60, 84)
    assert melody.events == [71, NO, 60, OFF, 67, NO]
    melody = Melody([64, NO, 65, OFF, 72, NO])
    melody.transpose(19, 60, 84)
    assert melody.events == [83, NO, 72, OFF, 79, NO]
    melody = Melody([59, 60, 71, OFF, 72, NO])
    melody.transpose(0, 60, 72)
    assert melody.events == [71, 60, 71, OFF, 60, NO]


def test_squash_c_melody():
    melody = Melody([60, NO, 62, OFF, 76, NO])
    assert melody.squash(60, 72, 0) == 0
    assert melody.events == [60, NO, 62, OFF, 64, NO]


def test_squash_d_melody_to_c():
    melody = Melody([62, 64, 79, 78, 61])
    melody.squash(60, 72, 0)
    assert melody.events == [60, 62, 65, 64, 71]


def test_squash_to_key_4():
    melody = Melody([62, 64, 79, 78, 59])
    melody.squash(60, 72, 4)
    assert melody.events == [64, 66, 69, 68, 61]


def test_squash_centres_the_melody():
    events = [48, NO, 50, OFF, 52, NO, 53, 62, 47, OFF]
    melody = Melody(events)
    assert melody.squash(48, 84, 0) == 12
    assert melody.events == [event + 12 if event >= 0 else event for event in events]
    mirror = [72, NO, 74, OFF, 76, NO, 77, 86, 71, OFF]
    melody = Melody(mirror)
    assert melody.squash(48, 84, 0) == -12
    assert melody.events == [event - 12 if event >= 0 else event for event in mirror]


def test_squash_max_note_is_exclusive():
    melody = Melody([60, 62, 64, 65, 71, 72, 73])
    melody.squash(60, 72, 0)
    assert melody.events == [60, 62, 64, 65, 71, 60, 61]


def test_squash_without_notes_changes_nothing():
    melody = Melody([NO] * 5)
    assert melody.squash(48, 84, 0) == 0
    assert melody.events == [NO] * 5


def test_squash_without_key_only_folds():
    melody = Melody([30, 62, 100])
    assert melody.squash(48, 84, None) == 0
    assert melody.events == [54, 62, 76]


def test_squash_rounds_halves_to_even():
    # Centre 33 and target 63 differ by 30 = 2.5 octaves: Python's round gives 2 octaves, not 3.
    melody = Melody([12, 11, 40, 55, 53])
    assert melody.squash(0, 127, 0) == 24


def test_bad_note_range_is_a_user_error():
    with pytest.raises(MelodylibError, match="note range"):
        Melody([60]).squash(60, 70, 0)
    with pytest.raises(MelodylibError, match="transpose_to_key"):
        Melody([60]).squash(48, 84, 12)


def test_set_length():
    melody = Melody([60], start_step=9)
    melody.set_length(5)
    assert (melody.events, melody.start_step, melody.end_step) == ([60, OFF, NO, NO, NO], 9, 14)
    melody = Melody([60], start_step=9)
    melody.set_length(5, from_left=True)
    assert (melody.events, melody.start_step, melody.end_step) == ([NO, NO, NO, NO, 60], 5, 10)
    melody = Melody([60, NO, NO, OFF])
    melody.set_length(3)
    assert (melody.events, melody.start_step) == ([60, NO, NO], 0)
    melody = Melody([60, NO, NO, OFF])
    melody.set_length(3, from_left=True)
    assert (melody.events, melody.start_step, melody.end_step) == ([NO, NO, OFF], 1, 4)


def test_set_length_does_not_add_a_note_off_after_silence():
    melody = Melody([60, OFF, NO])
    melody.set_length(5)
    assert melody.events == [60, OFF, NO, NO, NO]


def test_to_note_sequence():
    melody = Melody([NO, 1, NO, OFF, NO, 2, 3, OFF, NO])
    sequence = melody.to_note_sequence(velocity=10, instrument=1, qpm=60.0, sequence_start_time=2.0)
    assert [
        (note.pitch, note.velocity, note.instrument, note.start_time, note.end_time)
        for note in sequence.notes
    ] == [
        (1, 10, 1, 2.25, 2.75),
        (2, 10, 1, 3.25, 3.5),
        (3, 10, 1, 3.5, 3.75),
    ]
    assert sequence.total_time == 3.75
    assert sequence.tempos == [Tempo(0.0, 60.0)]
    assert sequence.ticks_per_quarter == 220
    assert sequence.time_signatures == []


def test_to_note_sequence_sustains_the_last_note_and_offsets_by_start_step():
    melody = Melody([60, NO, 62, NO], start_step=8)
    sequence = melody_to_note_sequence(melody)  # 120 qpm: 0.125 s per step
    assert [(note.pitch, note.start_time, note.end_time) for note in sequence.notes] == [
        (60, 1.0, 1.25),
        (62, 1.25, 1.5),
    ]
    assert sequence.total_time == 1.5


# --- Melody.from_quantized_sequence ---------------------------------------------------------------

MELODIES_LIB_NOTES = [
    (12, 100, 0.01, 10.0),
    (11, 55, 0.22, 0.50),
    (40, 45, 2.50, 3.50),
    (55, 120, 4.0, 4.01),
    (52, 99, 4.75, 5.0),
]
MELODIES_LIB_EXPECTED = [
    12,
    11,
    OFF,
    NO,
    NO,
    NO,
    NO,
    NO,
    NO,
    NO,
    40,
    NO,
    NO,
    NO,
    OFF,
    NO,
    55,
    OFF,
    NO,
    52,
]


def test_from_quantized_sequence():
    melody = melody_from_quantized_sequence(
        quantized({0: MELODIES_LIB_NOTES}), search_start_step=0, instrument=0
    )
    assert melody.events == MELODIES_LIB_EXPECTED
    assert (melody.steps_per_bar, melody.steps_per_quarter, melody.start_step, melody.end_step) == (
        16,
        4,
        0,
        20,
    )


def test_from_quantized_sequence_in_7_8():
    melody = melody_from_quantized_sequence(
        quantized({0: MELODIES_LIB_NOTES}, numerator=7, denominator=8)
    )
    assert melody.events == MELODIES_LIB_EXPECTED
    assert melody.steps_per_bar == 14


def test_polyphony_raises_and_gives_no_melody():
    with pytest.raises(PolyphonicMelodyError):
        melody_from_quantized_sequence(quantized({0: [(12, 100, 0.0, 10.0), (11, 55, 0.0, 0.5)]}))


def test_ignore_polyphonic_notes_keeps_the_highest():
    notes = [(12, 100, 0.0, 2.0), (19, 100, 0.0, 3.0), (12, 100, 1.0, 3.0), (19, 100, 1.0, 4.0)]
    melody = melody_from_quantized_sequence(quantized({0: notes}), ignore_polyphonic_notes=True)
    assert melody.events == [19] + [NO] * 3 + [19] + [NO] * 11


def test_chord_raises():
    notes = [(12, 100, 1, 1.25), (19, 100, 1, 1.25), (20, 100, 1, 1.25), (25, 100, 1, 1.25)]
    with pytest.raises(PolyphonicMelodyError):
        melody_from_quantized_sequence(quantized({0: notes}))


def test_trim_empty_measures():
    melody = melody_from_quantized_sequence(
        quantized({0: [(12, 100, 1.5, 1.75), (11, 100, 2, 2.25)]})
    )
    assert melody.events == [NO] * 6 + [12, OFF, 11]
    assert melody.start_step == 0


def test_time_overlap_truncates():
    notes = [(12, 100, 1, 2), (11, 100, 3.25, 3.75), (13, 100, 2, 4)]
    melody = melody_from_quantized_sequence(quantized({0: notes}))
    assert melody.events == [NO] * 4 + [12] + [NO] * 3 + [13] + [NO] * 4 + [11, NO]


def test_steps_per_bar_at_12_steps_per_quarter_in_7_8():
    melody = melody_from_quantized_sequence(
        quantized({0: MELODIES_LIB_NOTES}, steps_per_quarter=12, numerator=7, denominator=8)
    )
    assert melody.steps_per_bar == 42


def test_start_and_end_step_with_search_start_step():
    notes = [
        (12, 100, 1, 2),
        (11, 100, 2.25, 2.5),
        (13, 100, 3.25, 3.75),
        (14, 100, 8.75, 9),
        (15, 100, 9.25, 10.75),
    ]
    melody = melody_from_quantized_sequence(quantized({0: notes}), search_start_step=18)
    assert melody.events == [NO, 14, OFF, 15] + [NO] * 5
    assert (melody.start_step, melody.end_step) == (34, 43)


def test_velocity_zero_and_drums_are_skipped_but_still_set_the_start_bar():
    # The melody starts on the bar of the first note (a drum here), as in note_seq.
    tracks = {(0, "drum"): [(36, 100, 1.0, 1.25)]}
    sequence = make_sequence(tracks)
    sequence.notes += [Note(60, 0, 4.5, 5.0, 0), Note(62, 100, 5.0, 5.5, 0)]
    melody = melody_from_quantized_sequence(quantize_note_sequence(sequence))
    assert melody.start_step == 0 and melody.events == [NO] * 20 + [62, NO]
    assert len(melody_from_quantized_sequence(quantize_note_sequence(make_sequence(tracks)))) == 0
    assert melody_from_quantized_sequence(
        quantize_note_sequence(make_sequence(tracks)), filter_drums=False
    ).events == [NO] * 4 + [36]


def test_gap_ends_the_melody():
    notes = [(60, 100, 0.0, 1.0), (62, 100, 5.0, 6.0)]  # 16 steps of silence at 4 steps/s = 1 bar
    assert melody_from_quantized_sequence(quantized({0: notes})).events == [60, NO, NO, NO]
    assert len(melody_from_quantized_sequence(quantized({0: notes}), gap_bars=2)) == 24


def test_note_ending_before_it_starts_is_a_bad_note():
    with pytest.raises(BadNoteError):
        melody_from_quantized_sequence(quantized({0: [(60, 100, 2.0, 1.0)]}))


def test_non_integer_steps_per_bar():
    with pytest.raises(NonIntegerStepsPerBarError, match="3/8"):
        melody_from_quantized_sequence(
            quantized({0: MELODIES_LIB_NOTES}, steps_per_quarter=1, numerator=3, denominator=8)
        )


def test_no_notes_gives_an_empty_melody():
    melody = melody_from_quantized_sequence(quantized({0: MELODIES_LIB_NOTES}), instrument=5)
    assert (len(melody), melody.start_step, melody.end_step) == (0, 0, 0)


def _write_and_read_melody_midi(tmp_path):
    """testdata/melody.mid stand-in: twelve 16th notes at 120 qpm, read back with pretty_midi."""
    pretty_midi = pytest.importorskip("pretty_midi")
    pitches = [60, 62, 64, 66, 68, 70, 72, 70, 68, 66, 64, 62]
    midi = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    piano = pretty_midi.Instrument(program=0)
    piano.notes = [
        pretty_midi.Note(100, pitch, 0.125 * index, 0.125 * (index + 1))
        for index, pitch in enumerate(pitches)
    ]
    midi.instruments.append(piano)
    path = tmp_path / "melody.mid"
    midi.write(str(path))
    return path, pitches


def test_midi_file_to_melody(tmp_path):
    import pretty_midi

    path, pitches = _write_and_read_melody_midi(tmp_path)
    midi = pretty_midi.PrettyMIDI(str(path))
    tempo_times, tempi = midi.get_tempo_changes()
    sequence = NoteSequence(
        notes=[
            Note(
                note.pitch,
                note.velocity,
                note.start,
                note.end,
                index,
                instrument.program,
                instrument.is_drum,
            )
            for index, instrument in enumerate(midi.instruments)
            for note in instrument.notes
        ],
        tempos=[Tempo(float(time), float(qpm)) for time, qpm in zip(tempo_times, tempi)],
        time_signatures=[
            TimeSignature(ts.time, ts.numerator, ts.denominator)
            for ts in midi.time_signature_changes
        ],
        total_time=midi.get_end_time(),
    )
    melody = melody_from_quantized_sequence(
        quantize_note_sequence(sequence), ignore_polyphonic_notes=True
    )
    assert melody.events == pitches


def test_midi_file_to_melody_through_the_reader(tmp_path):
    from melodylib.music import readers

    if not hasattr(readers, "read_note_sequence"):
        pytest.skip("melodylib.music.readers.read_note_sequence not available yet")
    path, pitches = _write_and_read_melody_midi(tmp_path)
    sequence = readers.read_note_sequence(path)
    melody = melody_from_quantized_sequence(
        quantize_note_sequence(sequence), ignore_polyphonic_notes=True
    )
    assert melody.events == pitches


# --- extract_melodies (melody_pipelines_test) -------------------------------------------------------


def sorted_events(melodies):
    return sorted(melody.events for melody in melodies)


def test_melody_extractor_unit():
    sequence = pipeline_quantized(
        {0: [(12, 100, 2, 4), (11, 1, 6, 7)], 1: [(12, 127, 2, 4), (14, 50, 6, 8)]}
    )
    melodies, _ = extract_melodies_with_statistics(
        sequence, min_bars=1, min_unique_pitches=1, gap_bars=1
    )
    assert melodies == [
        Melody([NO, NO, 12, NO, OFF, NO, 11], steps_per_quarter=1, steps_per_bar=4),
        Melody([NO, NO, 12, NO, OFF, NO, 14, NO], steps_per_quarter=1, steps_per_bar=4),
    ]


def test_extract_melodies_simple_filters_drums():
    sequence = pipeline_quantized(
        {
            0: [(12, 100, 2, 4), (11, 1, 6, 7)],
            1: [(12, 127, 2, 4), (14, 50, 6, 9)],
            (9, "drum"): [(13, 100, 2, 4), (15, 25, 6, 8)],
        }
    )
    melodies, _ = extract_melodies(
        sequence, min_bars=1, gap_bars=1, min_unique_pitches=2, ignore_polyphonic_notes=True
    )
    assert len(melodies) == 2 and all(isinstance(melody, Melody) for melody in melodies)
    assert sorted_events(melodies) == [
        [NO, NO, 12, NO, OFF, NO, 11],
        [NO, NO, 12, NO, OFF, NO, 14, NO, NO],
    ]


def test_extract_multiple_melodies_from_the_same_track():
    sequence = pipeline_quantized(
        {
            0: [(12, 100, 2, 4), (11, 1, 6, 11)],
            1: [(12, 127, 2, 4), (14, 50, 6, 8), (50, 100, 33, 37), (52, 100, 34, 37)],
        }
    )
    melodies, _ = extract_melodies(
        sequence, min_bars=1, gap_bars=2, min_unique_pitches=2, ignore_polyphonic_notes=True
    )
    assert sorted_events(melodies) == [
        [NO, NO, 12, NO, OFF, NO, 11, NO, NO, NO, NO],
        [NO, NO, 12, NO, OFF, NO, 14, NO],
        [NO, 50, 52, NO, NO],
    ]
    # The second melody of track 1 starts on the bar boundary at or before its first note (step 32).
    assert sorted((melody.start_step, melody.end_step) for melody in melodies) == [
        (0, 8),
        (0, 11),
        (32, 37),
    ]


def test_extract_melodies_too_short():
    sequence = pipeline_quantized(
        {
            0: [(12, 127, 2, 4), (14, 50, 6, 7)],
            1: [(12, 127, 2, 4), (14, 50, 6, 8)],
            2: [(12, 127, 2, 4), (14, 50, 6, 9)],
        }
    )
    melodies, counters = extract_melodies(
        sequence, min_bars=2, gap_bars=1, min_unique_pitches=2, ignore_polyphonic_notes=True
    )
    assert sorted_events(melodies) == [
        [NO, NO, 12, NO, OFF, NO, 14, NO],
        [NO, NO, 12, NO, OFF, NO, 14, NO, NO],
    ]
    assert counters["melodies_discarded_too_short"] == 1


def test_extract_melodies_pad_end():
    sequence = pipeline_quantized(
        {
            0: [(12, 127, 2, 4), (14, 50, 6, 7)],
            1: [(12, 127, 2, 4), (14, 50, 6, 8)],
            2: [(12, 127, 2, 4), (14, 50, 6, 9)],
        }
    )
    melodies, _ = extract_melodies(
        sequence,
        min_bars=1,
        gap_bars=1,
        min_unique_pitches=2,
        ignore_polyphonic_notes=True,
        pad_end=True,
    )
    assert sorted_events(melodies) == [
        [NO, NO, 12, NO, OFF, NO, 14, NO],
        [NO, NO, 12, NO, OFF, NO, 14, NO, NO, OFF, NO, NO],
        [NO, NO, 12, NO, OFF, NO, 14, OFF],
    ]


def test_extract_melodies_too_long():
    sequence = pipeline_quantized(
        {
            0: [(12, 127, 2, 4), (14, 50, 6, 15)],
            1: [(12, 127, 2, 4), (14, 50, 6, 18)],
            2: [(12, 127, 2, 4), (14, 50, 6, 19)],
        }
    )
    melodies, counters = extract_melodies(
        sequence,
        min_bars=1,
        max_steps_truncate=14,
        max_steps_discard=18,
        gap_bars=1,
        min_unique_pitches=2,
        ignore_polyphonic_notes=True,
    )
    assert sorted_events(melodies) == [[NO, NO, 12, NO, OFF, NO, 14] + [NO] * 7] * 2
    assert (counters["melodies_truncated"], counters["melodies_discarded_too_long"]) == (2, 1)


def test_extract_melodies_too_long_with_pad_end_truncates_to_whole_bars():
    sequence = pipeline_quantized(
        {0: [(12, 127, 2, 4), (14, 50, 6, 15)], 1: [(12, 127, 2, 4), (14, 50, 6, 18)]}
    )
    melodies, counters = extract_melodies(
        sequence,
        min_bars=1,
        max_steps_truncate=14,
        max_steps_discard=18,
        gap_bars=1,
        min_unique_pitches=2,
        ignore_polyphonic_notes=True,
        pad_end=True,
    )
    # Track 0: 15 steps, padded to 16, truncated to 14 - 14 % 4 = 12. Track 1: padded to 20 > 18.
    assert sorted_events(melodies) == [[NO, NO, 12, NO, OFF, NO, 14, NO, NO, NO, NO, NO]]
    assert (counters["melodies_truncated"], counters["melodies_discarded_too_long"]) == (1, 1)


def test_extract_melodies_too_few_pitches_counts_octaves_as_equal():
    sequence = pipeline_quantized(
        {
            0: [
                (12, 100, 0, 1),
                (13, 100, 1, 2),
                (18, 100, 2, 3),
                (24, 100, 3, 4),
                (25, 100, 4, 5),
            ],
            1: [
                (12, 100, 0, 1),
                (13, 100, 1, 2),
                (18, 100, 2, 3),
                (25, 100, 3, 4),
                (26, 100, 4, 5),
            ],
        }
    )
    melodies, counters = extract_melodies(
        sequence, min_bars=1, gap_bars=1, min_unique_pitches=4, ignore_polyphonic_notes=True
    )
    assert sorted_events(melodies) == [[12, 13, 18, 25, 26]]
    assert counters["melodies_discarded_too_few_pitches"] == 1


def test_extract_melodies_late_start():
    sequence = pipeline_quantized(
        {
            0: [(12, 100, 102, 103), (13, 100, 104, 106)],
            1: [(12, 100, 100, 101), (13, 100, 102, 105)],
        }
    )
    melodies, _ = extract_melodies(
        sequence, min_bars=1, gap_bars=1, min_unique_pitches=2, ignore_polyphonic_notes=True
    )
    assert sorted_events(melodies) == [[NO, NO, 12, OFF, 13, NO], [12, OFF, 13, NO, NO]]
    assert sorted(melody.start_step for melody in melodies) == [100, 100]


def test_extract_melodies_statistics():
    sequence = pipeline_quantized(
        {
            0: [
                (12, 100, 2, 4),
                (11, 1, 6, 7),
                (10, 100, 8, 10),
                (9, 100, 11, 14),
                (8, 100, 16, 40),
                (7, 100, 41, 42),
            ],
            1: [(12, 127, 2, 4), (14, 50, 2, 8)],
            2: [(12, 127, 0, 1)],
            3: [(12, 127, 2, 4), (12, 50, 6, 8)],
        }
    )
    melodies, counters = extract_melodies(
        sequence, min_bars=1, gap_bars=1, min_unique_pitches=2, ignore_polyphonic_notes=False
    )
    assert len(melodies) == 1 and len(melodies[0]) == 42
    assert counters == {
        "polyphonic_tracks_discarded": 1,
        "melodies_discarded_too_short": 1,
        "melodies_discarded_too_few_pitches": 1,
        "melodies_discarded_too_long": 0,
        "melodies_truncated": 0,
        "melody_lengths_in_bars_[10,20)": 1,
    }


def test_histogram_labels():
    assert length_histogram_labels(7) == [
        "melody_lengths_in_bars_[-inf,0)",
        "melody_lengths_in_bars_[0,1)",
        "melody_lengths_in_bars_[1,3)",
        "melody_lengths_in_bars_[3,6)",
        "melody_lengths_in_bars_[6,7)",
        "melody_lengths_in_bars_[7,8)",
        "melody_lengths_in_bars_[8,10)",
        "melody_lengths_in_bars_[10,20)",
        "melody_lengths_in_bars_[20,30)",
        "melody_lengths_in_bars_[30,40)",
        "melody_lengths_in_bars_[40,50)",
        "melody_lengths_in_bars_[50,100)",
        "melody_lengths_in_bars_[100,200)",
        "melody_lengths_in_bars_[200,500)",
        "melody_lengths_in_bars_[500,inf)",
    ]


def test_polyphonic_track_keeps_melodies_found_before_the_chord():
    sequence = pipeline_quantized(
        {0: [(60, 100, 0, 1), (62, 100, 1, 2), (64, 100, 20, 21), (67, 100, 20, 21)]}
    )
    melodies, counters = extract_melodies(
        sequence, min_bars=0, min_unique_pitches=1, ignore_polyphonic_notes=False
    )
    assert [melody.events for melody in melodies] == [[60, 62]]
    assert counters["polyphonic_tracks_discarded"] == 1


def test_search_start_step_and_restart_on_the_next_bar_relative_to_it():
    # Bars counted from step 1: the second melody's search restarts at 1 + 4k >= the first melody's end.
    sequence = pipeline_quantized(
        {0: [(60, 100, 1, 2), (62, 100, 2, 3), (64, 100, 9, 10), (65, 100, 10, 11)]}
    )
    melodies, _ = extract_melodies(
        sequence, search_start_step=1, min_bars=0, min_unique_pitches=1, gap_bars=1
    )
    assert [(melody.start_step, melody.events) for melody in melodies] == [
        (1, [60, 62]),
        (9, [64, 65]),
    ]


def test_extract_melodies_with_statistics_counts_non_integer_steps_per_bar():
    sequence = quantized({0: MELODIES_LIB_NOTES}, steps_per_quarter=1, numerator=3, denominator=8)
    with pytest.raises(NonIntegerStepsPerBarError):
        extract_melodies(sequence)
    assert extract_melodies_with_statistics(sequence) == ([], {"non_integer_steps_per_bar": 1})


def test_extract_melodies_without_notes_never_checks_the_bar():
    sequence = quantized({}, steps_per_quarter=1, numerator=3, denominator=8)
    melodies, counters = extract_melodies_with_statistics(sequence)
    assert melodies == [] and sum(counters.values()) == 0


# --- the create_dataset test (magenta-behaviour.md: "Reference test vectors") ----------------------------------------------------------------

CREATE_DATASET_EVENTS = (
    [12]
    + [NO] * 15
    + [OFF]  # steps 0..16
    + [11]
    + [NO] * 22
    + [OFF]  # 17..40 (2.1 s * 8 = 16.8 -> 17; 5.0 s -> 40)
    + [40]
    + [NO] * 22
    + [OFF]  # 41..64
    + [55]
    + [NO] * 22
    + [OFF]  # 65..88
    + [53]
    + [NO] * 23  # 89..112; the final NOTE_OFF at 113 is dropped
)


def test_create_dataset_melody():
    sequence = NoteSequence(
        notes=[
            Note(*note)
            for note in [
                (12, 100, 0.0, 2.0),
                (11, 55, 2.1, 5.0),
                (40, 45, 5.1, 8.0),
                (55, 120, 8.1, 11.0),
                (53, 99, 11.1, 14.1),
            ]
        ],
        tempos=[Tempo(0.0, 120.0)],
        time_signatures=[TimeSignature(0.0, 4, 4)],
        total_time=14.1,
    )
    pieces, quantizer_counters = split_and_quantize(sequence, steps_per_quarter=4)
    assert len(pieces) == 1 and sum(quantizer_counters.values()) == 0
    melodies, counters = extract_melodies_with_statistics(
        pieces[0], min_bars=7, max_steps=512, min_unique_pitches=5, gap_bars=1.0
    )
    assert len(melodies) == 1
    melody = melodies[0]
    assert melody.events == CREATE_DATASET_EVENTS and len(melody) == 113
    assert counters["melody_lengths_in_bars_[7,8)"] == 1
    assert sum(counters.values()) == 1
    # C major already (key 0); pitches 11..55 centre on 33. In 0..128 the target centre is 63.5:
    # 30.5 / 12 rounds to 3 octaves.
    squashed = melody.copy()
    assert squashed.squash(0, 128, 0) == 36
    assert squashed.events == [
        event + 36 if event >= 0 else event for event in CREATE_DATASET_EVENTS
    ]
    # Upstream's test config uses max_note 127: target 63, 30 / 12 = 2.5 rounds to even, 2 octaves.
    squashed = melody.copy()
    assert squashed.squash(0, 127, 0) == 24
    assert [event for event in squashed.events if event >= 0] == [36, 35, 64, 79, 77]


def test_note_of_a_billion_steps_is_truncated_without_building_every_step():
    # Regression: the whole melody was built before truncation to max_steps, so one absurdly long
    # note (a corrupt file, now that MIDI files of up to 1e10 ticks are read as note_seq reads
    # them) needed a list of a billion events. Only the kept steps are built now.
    opening = [(60 + step, 100, step * 0.25, (step + 1) * 0.25) for step in (0, 2, 4, 5)]
    long_note = (67, 100, 1.75, 2.5e8)  # 4 steps per second: from step 7 to step 1e9
    after_gap = (72, 100, 2.5e8 + 8.0, 2.5e8 + 8.25)  # two bars after it: a melody of its own
    sequence = quantized({0: opening + [long_note, after_gap]})
    melodies, counters = extract_melodies(
        sequence,
        min_bars=7,
        max_steps_truncate=512,
        min_unique_pitches=5,
        ignore_polyphonic_notes=False,
    )
    assert [len(melody) for melody in melodies] == [512]
    assert (
        melodies[0].events[:8] == [60, OFF, 62, OFF, 64, 65, OFF, 67]
        and melodies[0].events[8:] == [NO] * 504
    )
    assert counters["melodies_truncated"] == 1
    assert (
        counters["melodies_discarded_too_short"] == 1
    )  # the later note: the search went past the long note


@pytest.mark.parametrize("pad_end", [False, True])
def test_truncated_melodies_are_prefixes_of_the_full_ones(pad_end):
    import random

    generator = random.Random(7)
    tracks = {}
    for instrument in range(6):
        time, notes = 0.0, []
        for _ in range(60):
            time += generator.choice([0.0, 0.25, 0.5, 1.0, 3.0])
            notes.append(
                (
                    generator.randrange(40, 90),
                    100,
                    time,
                    time + generator.choice([0.25, 0.5, 2.0, 7.0]),
                )
            )
            time += 0.25
        tracks[instrument] = notes
    sequence = quantized(tracks, steps_per_quarter=4)
    options = dict(min_bars=0, min_unique_pitches=0, ignore_polyphonic_notes=True, pad_end=pad_end)
    full, _ = extract_melodies(sequence, **options)
    for limit in (1, 13, 16, 40):
        truncated, _ = extract_melodies(sequence, max_steps_truncate=limit, **options)
        kept = limit - limit % 16 if pad_end else limit
        assert [m.start_step for m in truncated] == [m.start_step for m in full]
        assert [m.events for m in truncated] == [
            m.events if len(m) <= limit else m.events[:kept] for m in full
        ]
