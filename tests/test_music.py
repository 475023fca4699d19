"""NoteSequence files: TFRecord writing/reading and MIDI output (music/notesequence.py)."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import warnings

import pretty_midi
import pytest

from melodylib.errors import MelodylibError
from melodylib.music.notesequence import (
    KeySignature,
    Note,
    NoteSequence,
    Tempo,
    TimeSignature,
    note_sequence_to_pretty_midi,
    read_note_sequences,
    read_records,
    write_midi,
    write_note_sequences,
    write_records,
)
from melodylib.music.readers import midi_to_note_sequence


def make_sequence(name: str = "a", qpm: float = 120.0) -> NoteSequence:
    return NoteSequence(
        notes=[
            Note(60, 80, 0.0, 0.5, instrument=0, program=0),
            Note(64, 90, 0.5, 1.0, instrument=0, program=0),
            Note(67, 100, 1.0, 2.0, instrument=0, program=0),
            Note(36, 70, 0.0, 2.0, instrument=1, program=33),
            Note(42, 60, 0.25, 0.5, instrument=2, program=0, is_drum=True),
        ],
        tempos=[Tempo(0.0, qpm)],
        time_signatures=[TimeSignature(0.0, 3, 4)],
        key_signatures=[KeySignature(0.0, 9, 1)],
        total_time=2.0,
        id=f"/id/midi/test/{name}",
        filename=f"{name}.mid",
        collection_name="test",
        source_type="midi",
        title=f"Tune {name}",
    )


# --- TFRecord files -------------------------------------------------------------------------------
def test_tfrecord_round_trip_keeps_every_field(tmp_path):
    sequences = [make_sequence("a"), make_sequence("b", qpm=90.0), NoteSequence()]
    path = tmp_path / "out" / "sequences.tfrecord"
    assert write_note_sequences(path, sequences) == 3
    assert list(read_note_sequences(path)) == sequences


def test_tfrecord_file_is_readable_by_tensorflow(tmp_path):
    import tensorflow as tf

    path = tmp_path / "sequences.tfrecord"
    write_note_sequences(path, [make_sequence("a"), make_sequence("b")])
    records = [record.numpy() for record in tf.data.TFRecordDataset(str(path))]
    assert [NoteSequence.from_bytes(record).filename for record in records] == ["a.mid", "b.mid"]


def test_read_note_sequences_accepts_a_glob(tmp_path):
    write_note_sequences(tmp_path / "part-1.tfrecord", [make_sequence("a")])
    write_note_sequences(tmp_path / "part-2.tfrecord", [make_sequence("b"), make_sequence("c")])
    names = [sequence.filename for sequence in read_note_sequences(tmp_path / "part-*.tfrecord")]
    assert names == ["a.mid", "b.mid", "c.mid"]


def test_read_note_sequences_names_a_missing_file(tmp_path):
    missing = tmp_path / "missing.tfrecord"
    with pytest.raises(MelodylibError, match="missing.tfrecord"):
        list(read_note_sequences(missing))


def test_read_note_sequences_names_a_glob_without_matches(tmp_path):
    with pytest.raises(MelodylibError, match=r"no file matches .*nothing-\*"):
        list(read_note_sequences(tmp_path / "nothing-*.tfrecord"))


def test_read_note_sequences_refuses_a_folder(tmp_path):
    with pytest.raises(MelodylibError, match="is a folder"):
        list(read_note_sequences(tmp_path))


def test_a_record_that_is_not_a_note_sequence_names_file_and_index(tmp_path):
    path = tmp_path / "mixed.tfrecord"
    write_records(
        path, [make_sequence("a").to_bytes(), b"\x00not json", make_sequence("b").to_bytes()]
    )
    sequences = read_note_sequences(path)
    assert next(sequences).filename == "a.mid"
    with pytest.raises(MelodylibError, match=r"mixed.tfrecord: record 1 is not a NoteSequence"):
        next(sequences)


def test_a_file_that_is_not_a_tfrecord_is_refused(tmp_path):
    path = tmp_path / "random.tfrecord"
    path.write_bytes(bytes(range(200)))
    with pytest.raises(
        MelodylibError, match=r"random.tfrecord: record 0 has a bad header checksum"
    ):
        list(read_note_sequences(path))


def test_a_truncated_tfrecord_is_refused(tmp_path):
    path = tmp_path / "cut.tfrecord"
    write_note_sequences(path, [make_sequence("a"), make_sequence("b")])
    path.write_bytes(path.read_bytes()[:-10])
    sequences = read_note_sequences(path)
    assert next(sequences).filename == "a.mid"
    with pytest.raises(MelodylibError, match=r"cut.tfrecord: record 1 is truncated"):
        next(sequences)


def test_record_framing_matches_the_tfrecord_format(tmp_path):
    path = tmp_path / "one.tfrecord"
    write_records(path, [b"hello"])
    data = path.read_bytes()
    assert (
        struct.unpack("<Q", data[:8])[0] == 5
        and data[12:17] == b"hello"
        and len(data) == 8 + 4 + 5 + 4
    )
    assert list(read_records(path)) == [b"hello"]


def test_a_failed_write_leaves_the_earlier_file_intact(tmp_path):
    path = tmp_path / "sequences.tfrecord"
    write_note_sequences(path, [make_sequence("old")])

    def failing():
        yield make_sequence("new")
        raise RuntimeError("reader crashed")

    with pytest.raises(RuntimeError):
        write_note_sequences(path, failing())
    assert [sequence.filename for sequence in read_note_sequences(path)] == ["old.mid"]
    assert sorted(os.listdir(tmp_path)) == ["sequences.tfrecord"]  # no temporary file left behind


def test_an_unwritable_output_path_is_named(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(MelodylibError, match="a-file"):
        write_note_sequences(blocker / "out.tfrecord", [make_sequence()])


def test_reading_note_sequences_does_not_import_tensorflow(tmp_path):
    path = tmp_path / "sequences.tfrecord"
    write_note_sequences(path, [make_sequence("a")])
    code = (
        "import sys; from melodylib.music.notesequence import read_note_sequences; "
        f"assert len(list(read_note_sequences({str(path)!r}))) == 1; "
        "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- MIDI output ------------------------------------------------------------------------------------
def test_pretty_midi_has_one_instrument_per_instrument_program_drum():
    sequence = make_sequence()
    sequence.notes.append(
        Note(48, 80, 1.0, 1.5, instrument=0, program=40)
    )  # same track, other program
    midi = note_sequence_to_pretty_midi(sequence)
    keys = [
        (instrument.program, instrument.is_drum, len(instrument.notes))
        for instrument in midi.instruments
    ]
    # sorted by (instrument, program, is_drum): (0,0), (0,40), (1,33), (2,0,drum)
    assert keys == [(0, False, 3), (40, False, 1), (33, False, 1), (0, True, 1)]
    assert midi.resolution == 220
    assert [(ts.numerator, ts.denominator, ts.time) for ts in midi.time_signature_changes] == [
        (3, 4, 0.0)
    ]
    assert [(ks.key_number, ks.time) for ks in midi.key_signature_changes] == [(21, 0.0)]  # A minor


def test_pretty_midi_uses_the_sequence_resolution_and_first_tempo():
    sequence = make_sequence(qpm=90.0)
    sequence.ticks_per_quarter = 480
    midi = note_sequence_to_pretty_midi(sequence)
    times, qpms = midi.get_tempo_changes()
    assert midi.resolution == 480
    assert list(times) == [0.0] and qpms[0] == pytest.approx(90.0)


def test_pretty_midi_defaults_to_120_qpm_without_tempo():
    midi = note_sequence_to_pretty_midi(NoteSequence(notes=[Note(60, 80, 0.0, 1.0)]))
    assert midi.get_tempo_changes()[1][0] == pytest.approx(120.0)


def test_later_tempo_changes_are_written():
    sequence = make_sequence()
    sequence.tempos = [Tempo(0.0, 120.0), Tempo(1.0, 60.0), Tempo(3.0, 180.0)]
    midi = note_sequence_to_pretty_midi(sequence)
    times, qpms = midi.get_tempo_changes()
    assert qpms == pytest.approx([120.0, 60.0, 180.0])
    assert times == pytest.approx([0.0, 1.0, 3.0], abs=60.0 / (60.0 * 220))  # within one tick


def test_a_first_tempo_after_zero_starts_at_120_qpm():
    sequence = make_sequence()
    sequence.tempos = [Tempo(1.0, 60.0)]
    times, qpms = note_sequence_to_pretty_midi(sequence).get_tempo_changes()
    assert qpms == pytest.approx([120.0, 60.0]) and times == pytest.approx([0.0, 1.0])


def round_trip(sequence: NoteSequence, tmp_path) -> NoteSequence:
    path = tmp_path / "round_trip.mid"
    write_midi(sequence, path)
    return midi_to_note_sequence(path.read_bytes(), path)


def note_key(note: Note):
    return (note.instrument, note.start_time, note.pitch)


def test_midi_round_trip_keeps_notes_within_tick_rounding(tmp_path):
    sequence = make_sequence()
    sequence.notes.append(Note(72, 50, 1.2345, 1.6789, instrument=0, program=0))
    back = round_trip(sequence, tmp_path)
    tick = 60.0 / (120.0 * 220)
    assert len(back.notes) == len(sequence.notes)
    for original, read in zip(
        sorted(sequence.notes, key=note_key), sorted(back.notes, key=note_key)
    ):
        assert (read.pitch, read.velocity, read.instrument, read.program, read.is_drum) == (
            original.pitch,
            original.velocity,
            original.instrument,
            original.program,
            original.is_drum,
        )
        assert read.start_time == pytest.approx(original.start_time, abs=tick / 2 + 1e-9)
        assert read.end_time == pytest.approx(original.end_time, abs=tick / 2 + 1e-9)
    assert back.time_signatures == sequence.time_signatures
    assert back.key_signatures == sequence.key_signatures
    assert back.tempos[0].qpm == pytest.approx(120.0)
    assert back.total_time == pytest.approx(2.0)


def test_midi_round_trip_keeps_tempo_changes_and_note_times(tmp_path):
    sequence = NoteSequence(
        notes=[Note(60, 80, 0.0, 1.0), Note(62, 80, 1.0, 3.0), Note(64, 80, 3.0, 3.5)],
        tempos=[Tempo(0.0, 120.0), Tempo(1.0, 60.0), Tempo(3.0, 240.0)],
    )
    back = round_trip(sequence, tmp_path)
    assert [tempo.time for tempo in back.tempos] == pytest.approx([0.0, 1.0, 3.0])
    assert [tempo.qpm for tempo in back.tempos] == pytest.approx([120.0, 60.0, 240.0])
    assert [note.start_time for note in back.notes] == pytest.approx([0.0, 1.0, 3.0])
    assert [note.end_time for note in back.notes] == pytest.approx([1.0, 3.0, 3.5])


def test_a_zero_length_note_is_written_one_tick_long(tmp_path):
    sequence = NoteSequence(
        notes=[Note(60, 80, 0.5, 0.5), Note(62, 80, 1.0, 1.5)], tempos=[Tempo(0.0, 120.0)]
    )
    back = round_trip(sequence, tmp_path)
    assert [note.pitch for note in back.notes] == [60, 62]
    assert back.notes[0].end_time - back.notes[0].start_time == pytest.approx(60.0 / (120.0 * 220))


def test_an_out_of_range_pitch_is_refused():
    with pytest.raises(MelodylibError, match="pitch 128"):
        note_sequence_to_pretty_midi(NoteSequence(notes=[Note(128, 80, 0.0, 1.0)]))


def test_a_tempo_midi_cannot_store_is_refused():
    with pytest.raises(MelodylibError, match="tempo 1.0 qpm"):
        note_sequence_to_pretty_midi(NoteSequence(tempos=[Tempo(0.0, 1.0)]))


def test_a_time_signature_midi_cannot_store_is_left_out_with_a_warning():
    sequence = NoteSequence(time_signatures=[TimeSignature(0.0, 3, 5), TimeSignature(1.0, 2, 4)])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        midi = note_sequence_to_pretty_midi(sequence)
    assert [(ts.numerator, ts.denominator) for ts in midi.time_signature_changes] == [(2, 4)]
    assert any("3/5" in str(warning.message) for warning in caught)


def test_write_midi_to_an_unwritable_path_names_it(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(MelodylibError, match="a-file"):
        write_midi(make_sequence(), blocker / "song.mid")


def test_write_midi_gives_a_file_pretty_midi_reads(tmp_path):
    path = tmp_path / "song.mid"
    write_midi(make_sequence(), path)
    midi = pretty_midi.PrettyMIDI(str(path))
    assert sum(len(instrument.notes) for instrument in midi.instruments) == 5
