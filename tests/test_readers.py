"""Reading MIDI, MusicXML and ABC files, bad inputs, ids (magenta-behaviour.md: "File conversion"; magenta-behaviour.md: "File conversion")."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import midi_fixtures as fixtures
import pretty_midi
import pytest

from melodylib.errors import MelodylibError, UnreadableFileError
from melodylib.music.notesequence import NoteSequence, read_note_sequences, write_note_sequences
from melodylib.music.readers import (
    DEFAULT_VELOCITY,
    abc_to_note_sequences,
    collection_name_of,
    convert_directory,
    midi_to_note_sequence,
    musicxml_to_note_sequence,
    read_file_result,
    read_music_file,
    read_note_sequence,
    sequence_id,
    split_abc_tunes,
)


def write(folder: Path, name: str, data: bytes | str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


# --- MIDI semantics (magenta-behaviour.md: "File conversion") -----------------------------------------------------------------
def test_midi_instruments_programs_and_drums():
    sequence = midi_to_note_sequence(fixtures.good_midi())
    by_instrument = {}
    for note in sequence.notes:
        by_instrument.setdefault(note.instrument, set()).add((note.program, note.is_drum))
    assert by_instrument == {0: {(0, False)}, 1: {(33, False)}, 2: {(0, True)}}
    melody = [note for note in sequence.notes if note.instrument == 0]
    assert [note.pitch for note in melody] == [60, 62, 64]
    assert [note.start_time for note in melody] == pytest.approx(
        [0.0, 0.6, 1.2]
    )  # 220 ticks at 100 qpm = 0.6 s
    assert [note.velocity for note in melody] == [80, 80, 80]


def test_midi_meta_events_and_totals():
    sequence = midi_to_note_sequence(fixtures.good_midi())
    assert [tempo.qpm for tempo in sequence.tempos] == pytest.approx([100.0])
    assert [(ts.time, ts.numerator, ts.denominator) for ts in sequence.time_signatures] == [
        (0.0, 3, 4)
    ]
    assert [(key.time, key.key, key.mode) for key in sequence.key_signatures] == [
        (0.0, 2, 0)
    ]  # D major
    assert sequence.ticks_per_quarter == 220
    assert sequence.total_time == pytest.approx(2.4)  # end of the last note
    assert sequence.source_type == "midi"


def test_midi_tempo_changes_are_copied_in_seconds():
    sequence = midi_to_note_sequence(fixtures.tempo_changes())
    assert [(tempo.time, tempo.qpm) for tempo in sequence.tempos] == [(0.0, 120.0), (1.0, 60.0)]
    assert [(note.start_time, note.end_time) for note in sequence.notes] == [(0.0, 1.0), (1.0, 2.0)]


def test_midi_meter_changes_read_fine():
    sequence = midi_to_note_sequence(fixtures.meter_changes())
    assert [(ts.time, ts.numerator, ts.denominator) for ts in sequence.time_signatures] == [
        (0.0, 7, 8),
        (1.75, 4, 4),
    ]
    assert len(sequence.notes) == 2


def test_midi_absurd_tempo_changes_read_fine():
    sequence = midi_to_note_sequence(fixtures.absurd_tempo_changes())
    assert [tempo.qpm for tempo in sequence.tempos] == pytest.approx(
        [60e6 / 0xFFFFFF, 60e6, 60e6 / 0xFFFFFF]
    )
    assert len(sequence.notes) == 3
    assert sequence.total_time == pytest.approx(2 * 0xFFFFFF / 1e6, rel=1e-6)


def test_midi_without_notes_reads_as_an_empty_sequence():
    sequence = midi_to_note_sequence(fixtures.no_notes())
    assert sequence.notes == [] and sequence.total_time == 0.0
    assert [tempo.qpm for tempo in sequence.tempos] == [120.0]


def test_midi_zero_length_notes_are_dropped():
    # pretty_midi (and so note_seq) drops notes whose on and off share a tick (magenta-behaviour.md: "File conversion")
    sequence = midi_to_note_sequence(fixtures.zero_length_notes())
    assert [note.pitch for note in sequence.notes] == [67]


def test_midi_note_on_never_closed_is_dropped():
    sequence = midi_to_note_sequence(fixtures.unterminated_note())
    assert [note.pitch for note in sequence.notes] == [64]


def test_midi_drums_only_reads_fine():
    sequence = midi_to_note_sequence(fixtures.drums_only())
    assert [(note.pitch, note.is_drum) for note in sequence.notes] == [(36, True), (42, True)]


def test_midi_chords_read_fine():
    sequence = midi_to_note_sequence(fixtures.chords())
    starts = sorted((note.start_time, note.pitch) for note in sequence.notes)
    assert starts == [(0.0, 60), (0.0, 64), (0.0, 67), (1.0, 67)]


def test_midi_empty_track_chunk_reads_fine():
    sequence = midi_to_note_sequence(fixtures.empty_track_chunk())
    assert [note.pitch for note in sequence.notes] == [60]


def test_reading_does_not_change_pretty_midi_max_tick():
    midi_to_note_sequence(fixtures.good_midi())
    assert pretty_midi.pretty_midi.MAX_TICK == 1e7


def test_our_tick_limit_holds_even_if_someone_raises_pretty_midis(monkeypatch):
    monkeypatch.setattr(pretty_midi.pretty_midi, "MAX_TICK", 1e10)  # what `import note_seq` does
    with pytest.raises(UnreadableFileError) as caught:
        midi_to_note_sequence(fixtures.huge_delta(), "huge.mid")
    assert caught.value.reason == "too_many_ticks"


def pretty_midi_reading(data: bytes) -> tuple[list, list]:
    """(notes, tempos) as pretty_midi itself reads them (what note_seq copies), for comparison."""
    import io

    midi = pretty_midi.PrettyMIDI(io.BytesIO(data))
    notes = [
        (
            int(note.pitch),
            int(note.velocity),
            float(note.start),
            float(note.end),
            index,
            int(instrument.program),
        )
        for index, instrument in enumerate(midi.instruments)
        for note in instrument.notes
    ]
    times, qpms = midi.get_tempo_changes()
    return notes, [(float(time), float(qpm)) for time, qpm in zip(times, qpms)]


def our_reading(data: bytes) -> tuple[list, list]:
    sequence = midi_to_note_sequence(data)
    notes = [
        (n.pitch, n.velocity, n.start_time, n.end_time, n.instrument, n.program)
        for n in sequence.notes
    ]
    return notes, [(tempo.time, tempo.qpm) for tempo in sequence.tempos]


@pytest.mark.parametrize(
    "build", [fixtures.many_tempo_changes, fixtures.good_midi, fixtures.absurd_tempo_changes]
)
def test_midi_times_are_pretty_midis_doubles(build):
    # We read without pretty_midi's tick table; every time must still be the very same double.
    assert our_reading(build()) == pretty_midi_reading(build())


def test_midi_longer_than_pretty_midis_tick_limit_reads_as_note_seq_does(monkeypatch):
    # Regression: a file past 1e7 ticks (a full movement written by music21 at 10080 ticks per
    # quarter) was refused as too_many_ticks, while Magenta reads it (note_seq raises pretty_midi's
    # MAX_TICK to 1e10). Now it reads, with pretty_midi's times, and without changing MAX_TICK.
    data = fixtures.long_file(12_000_000)
    ours = our_reading(data)
    assert pretty_midi.pretty_midi.MAX_TICK == 1e7
    assert len(ours[0]) == 2 and len(ours[1]) == 3
    monkeypatch.setattr(pretty_midi.pretty_midi, "MAX_TICK", 1e10)  # what `import note_seq` does
    assert ours == pretty_midi_reading(data)


def test_midi_reads_through_pretty_midis_public_constructor_if_its_internals_change(monkeypatch):
    import melodylib.music.readers.midi as midi_reader

    monkeypatch.setattr(
        midi_reader, "PRETTY_MIDI_INTERNALS", midi_reader.PRETTY_MIDI_INTERNALS + ("_not_there",)
    )
    assert our_reading(fixtures.many_tempo_changes()) == pretty_midi_reading(
        fixtures.many_tempo_changes()
    )
    with pytest.raises(UnreadableFileError) as caught:  # pretty_midi's own MAX_TICK applies then
        midi_to_note_sequence(fixtures.long_file(12_000_000))
    assert caught.value.reason == "too_many_ticks"


# --- bad MIDI files: one reason code each, the file named in the message ------------------------
BAD_MIDI = [
    ("empty_file", fixtures.empty_file),
    ("not_midi", fixtures.random_bytes),
    ("truncated", fixtures.truncated_header),
    ("truncated", fixtures.truncated_track),
    ("type_2_midi", fixtures.type_2_midi),
    ("no_tracks", fixtures.zero_tracks),
    ("too_many_ticks", fixtures.huge_delta),
    ("smpte_division", fixtures.smpte_division),
    ("bad_data_byte", fixtures.data_byte_over_127),
    ("bad_running_status", fixtures.running_status_without_status),
]


@pytest.mark.parametrize("reason, build", BAD_MIDI, ids=[build.__name__ for _, build in BAD_MIDI])
def test_bad_midi_file_gives_its_reason(tmp_path, reason, build):
    path = write(tmp_path, f"{build.__name__}.mid", build())
    with pytest.raises(UnreadableFileError) as caught:
        read_music_file(path)
    assert caught.value.reason == reason
    assert caught.value.path == str(path)
    assert f"{build.__name__}.mid" in str(caught.value)


def test_midi_header_with_unknown_format_is_a_bad_header():
    data = bytearray(fixtures.good_midi())
    data[8:10] = b"\x00\x07"
    with pytest.raises(UnreadableFileError, match="bad_header"):
        midi_to_note_sequence(bytes(data), "format7.mid")


def test_a_few_bytes_of_mthd_are_truncated_not_random():
    with pytest.raises(UnreadableFileError) as caught:
        midi_to_note_sequence(b"MTh", "short.mid")
    assert caught.value.reason == "truncated"


def test_read_file_result_never_raises_for_bad_files(tmp_path):
    path = write(tmp_path, "bad.mid", fixtures.random_bytes())
    result = read_file_result(path)
    assert result.sequences == [] and [error.reason for error in result.errors] == ["not_midi"]


def test_missing_file_is_an_io_error(tmp_path):
    with pytest.raises(UnreadableFileError) as caught:
        read_music_file(tmp_path / "gone.mid")
    assert caught.value.reason == "io_error" and "gone.mid" in str(caught.value)


def test_unsupported_extension(tmp_path):
    path = write(tmp_path, "notes.txt", "hello")
    with pytest.raises(UnreadableFileError) as caught:
        read_music_file(path)
    assert caught.value.reason == "unsupported_extension" and "notes.txt" in str(caught.value)


def test_extensions_are_case_insensitive(tmp_path):
    path = write(tmp_path, "SONG.MIDI", fixtures.good_midi())
    assert read_note_sequence(path).source_type == "midi"


# --- ids and metadata (magenta-behaviour.md: "File conversion") -----------------------------------------------------------------
def test_midi_ids_filenames_and_collection(tmp_path):
    root = tmp_path / "my_songs"
    path = write(root, "folder/song.mid", fixtures.good_midi())
    sequence = read_note_sequence(path, input_dir=root)
    assert sequence.filename == "folder/song.mid"
    assert sequence.collection_name == "my_songs"
    assert sequence.id == f"/id/midi/my_songs/{sha1('folder/song.mid')}"


def test_collection_name_ignores_a_trailing_slash(tmp_path):
    # Magenta's os.path.basename("songs/") is "" (a quirk we fix)
    assert collection_name_of(str(tmp_path / "songs") + os.sep) == "songs"


def test_without_input_dir_the_file_folder_is_the_collection(tmp_path):
    path = write(tmp_path / "pieces", "a.mid", fixtures.good_midi())
    sequence = read_note_sequence(path)
    assert (sequence.collection_name, sequence.filename) == ("pieces", "a.mid")
    assert sequence.id == sequence_id("midi", "pieces", "a.mid")


# --- ABC --------------------------------------------------------------------------------------------
TUNEBOOK = """%abc-2.1
% a file header: every tune inherits L: and Q:
L:1/8
Q:1/4=60

X:5
T:Test tune
M:3/4
K:Ador
{g}A2 B2-B2 | [CEG]4 z2 | (3ABc d4 |
Q:1/4=120
M:2/4
K:Em
c2 d2 | e4 |:e2:|

X:6
T:Broken
K:C
[[[[ABC|

free text between tunes is ignored
X:7
T:Third
M:6/8
K:D
def|
"""


def test_split_abc_tunes_follows_blank_lines_and_x_fields():
    tunes = split_abc_tunes(TUNEBOOK)
    assert [(tune.index, tune.reference, tune.title) for tune in tunes] == [
        (0, "5", "Test tune"),
        (1, "6", "Broken"),
        (2, "7", "Third"),
    ]
    assert tunes[0].text.startswith("X:5\nL:1/8\nQ:1/4=60\nT:Test tune")
    assert "free text" not in tunes[1].text and tunes[2].line_number == 22


def test_abc_tune_without_unit_length_or_meter_gets_the_standard_eighth():
    (result,) = abc_to_note_sequences("X:1\nT:bare\nK:C\nABc|\n")
    assert result.error is None
    assert [note.end_time - note.start_time for note in result.sequence.notes] == pytest.approx(
        [0.25, 0.25, 0.25]
    )


def test_abc_notes_ties_grace_notes_chords_tempo_keys():
    first = abc_to_note_sequences(TUNEBOOK, "book.abc")[0]
    sequence = first.sequence
    notes = [(note.pitch, note.start_time, note.end_time) for note in sequence.notes]
    # grace note {g} is skipped; B2-B2 is one tied note; the chord gives three notes; a 60 qpm
    # quarter is 1 s, the tuplet shares one quarter; after Q:1/4=120 a quarter is 0.5 s
    assert [pitch for pitch, _, _ in notes] == [69, 71, 60, 64, 67, 69, 71, 72, 74, 72, 74, 76, 76]
    assert notes[1] == (71, 1.0, 3.0)
    assert notes[5][1:] == pytest.approx((6.0, 6.0 + 1 / 3))
    assert notes[9][1:] == pytest.approx((9.0, 9.5))
    assert [(tempo.time, tempo.qpm) for tempo in sequence.tempos] == [(0.0, 60.0), (9.0, 120.0)]
    assert [(ts.time, ts.numerator, ts.denominator) for ts in sequence.time_signatures] == [
        (0.0, 3, 4),
        (9.0, 2, 4),
    ]
    # A dorian (1 sharp) -> its relative major G = 7; E minor -> tonic 4, mode 1
    assert [(key.time, key.key, key.mode) for key in sequence.key_signatures] == [
        (0.0, 7, 0),
        (9.0, 4, 1),
    ]
    assert all(
        note.velocity == DEFAULT_VELOCITY and note.instrument == 0 for note in sequence.notes
    )
    # the repeat |:e2:| is not expanded: e4 then e2 once
    assert notes[-2:] == [(76, 10.0, 11.0), (76, 11.0, 11.5)] and sequence.total_time == 11.5
    assert sequence.title == "Test tune"


def test_a_bad_abc_tune_does_not_lose_the_others(tmp_path):
    path = write(tmp_path / "tunes", "book.abc", TUNEBOOK)
    result = read_file_result(path)
    assert [sequence.title for sequence in result.sequences] == ["Test tune", "Third"]
    assert [error.reason for error in result.errors] == ["abc_parse_error"]
    message = str(result.errors[0])
    assert "book.abc" in message and "X:6" in message and "Broken" in message


def test_read_music_file_returns_the_good_tunes_and_warns(tmp_path):
    path = write(tmp_path, "book.abc", TUNEBOOK)
    with pytest.warns(UserWarning, match="1 unreadable tune"):
        sequences = read_music_file(path)
    assert len(sequences) == 2


def test_abc_ids_hash_filename_and_reference_number(tmp_path):
    root = tmp_path / "folk"
    path = write(root, "sub/book.abc", TUNEBOOK)
    result = read_file_result(path, input_dir=root)
    # note_seq numbers the tunes of a tunebook by their X: field, and Magenta hashes "<filename>_<number>"
    assert [sequence.id for sequence in result.sequences] == [
        f"/id/abc/folk/{sha1('sub/book.abc_5')}",
        f"/id/abc/folk/{sha1('sub/book.abc_7')}",
    ]
    assert {(s.filename, s.collection_name, s.source_type) for s in result.sequences} == {
        ("sub/book.abc", "folk", "abc")
    }


def test_a_repeated_abc_reference_number_is_refused(tmp_path):
    path = write(tmp_path, "dup.abc", "X:1\nT:One\nK:C\nA|\n\nX:1\nT:Again\nK:C\nB|\n")
    result = read_file_result(path)
    assert [sequence.title for sequence in result.sequences] == ["One"]
    assert [error.reason for error in result.errors] == ["duplicate_reference_number"]


def test_an_abc_file_without_tunes(tmp_path):
    path = write(tmp_path, "empty.abc", "% nothing here\n")
    with pytest.raises(UnreadableFileError, match="abc_parse_error.*no tunes"):
        read_music_file(path)


def corpus_path(*parts: str) -> Path:
    import music21

    return Path(music21.__file__).parent / "corpus" / Path(*parts)


def test_abc_tunes_from_the_music21_essen_corpus(tmp_path):
    text = corpus_path("essenFolksong", "altdeu10.abc").read_text(encoding="utf-8")
    first_three = "\n\n".join(tune.text for tune in split_abc_tunes(text)[:3])
    path = write(tmp_path / "essen", "altdeu10.abc", first_three)
    result = read_file_result(path)
    assert result.errors == []
    assert [sequence.title for sequence in result.sequences][0] == "Das Hildebrandslied"
    first = result.sequences[0]
    assert first.notes[0].pitch == 67  # G2 in K:G with L:1/4
    assert [(ts.numerator, ts.denominator) for ts in first.time_signatures] == [(4, 2)]
    assert first.total_time == pytest.approx(max(note.end_time for note in first.notes))


# --- MusicXML ---------------------------------------------------------------------------------------
def test_musicxml_from_the_music21_corpus(tmp_path):
    import music21

    path = Path(shutil.copy(music21.corpus.getWork("bach/bwv66.6"), tmp_path / "bwv66.6.MXL"))
    sequence = read_note_sequence(path)
    assert sequence.source_type == "musicxml"
    assert sorted({note.instrument for note in sequence.notes}) == [0, 1, 2, 3]  # four voices
    assert [tempo.qpm for tempo in sequence.tempos] == [96.0]
    assert [(ts.numerator, ts.denominator) for ts in sequence.time_signatures] == [(4, 4)]
    assert [(key.key, key.mode) for key in sequence.key_signatures] == [(6, 1)]  # F# minor
    soprano = [note for note in sequence.notes if note.instrument == 0]
    assert soprano[0].pitch == 73 and soprano[0].start_time == 0.0  # C#5 pickup
    assert sequence.total_time == pytest.approx(max(note.end_time for note in sequence.notes))
    assert sequence.id == sequence_id("musicxml", tmp_path.name, "bwv66.6.MXL")


def test_broken_musicxml_is_a_parse_error(tmp_path):
    path = write(tmp_path, "broken.xml", "<score-partwise><part id='P1'><measure>")
    with pytest.raises(UnreadableFileError) as caught:
        musicxml_to_note_sequence(path)
    assert caught.value.reason == "bad_xml" and "broken.xml" in str(caught.value)


# --- whole folders ----------------------------------------------------------------------------------
def make_mixed_folder(root: Path) -> Path:
    write(root, "a_good.mid", fixtures.good_midi())
    write(root, "b_bad.mid", fixtures.truncated_track())
    write(root, "c_random.MID", fixtures.random_bytes())
    write(root, "d_book.abc", TUNEBOOK)
    write(root, "e_notes.txt", "not music")
    write(root, "sub/f_inner.mid", fixtures.chords())
    write(root, "sub/deeper/g_type2.mid", fixtures.type_2_midi())
    return root


def test_convert_directory_mixes_good_and_bad_files(tmp_path):
    root = make_mixed_folder(tmp_path / "mixed")
    messages = []
    summary = convert_directory(
        root, tmp_path / "out" / "all.tfrecord", progress=False, report=messages.append
    )
    sequences = list(read_note_sequences(tmp_path / "out" / "all.tfrecord"))
    assert [(s.filename, s.title) for s in sequences] == [
        ("a_good.mid", ""),
        ("d_book.abc", "Test tune"),
        ("d_book.abc", "Third"),
    ]
    assert all(s.collection_name == "mixed" for s in sequences)
    assert (summary.files_found, summary.files_read, summary.sequences_written) == (4, 2, 3)
    assert summary.skipped == {
        "truncated": 1,
        "not_midi": 1,
        "abc_parse_error": 1,
        "unsupported_extension": 1,
        "directory": 1,
    }
    assert {(Path(path).name, reason) for path, reason, _ in summary.skipped_items} == {
        ("b_bad.mid", "truncated"),
        ("c_random.MID", "not_midi"),
        ("d_book.abc", "abc_parse_error"),
        ("e_notes.txt", "unsupported_extension"),
        ("sub", "directory"),
    }
    assert len(messages) == 5 and all(message.startswith("skipped ") for message in messages)
    assert "wrote 3 NoteSequences" in summary.format()


def test_convert_directory_recursive_reads_subfolders_after_files(tmp_path):
    root = make_mixed_folder(tmp_path / "mixed")
    summary = convert_directory(
        root, tmp_path / "all.tfrecord", recursive=True, progress=False, report=lambda _: None
    )
    filenames = [s.filename for s in read_note_sequences(tmp_path / "all.tfrecord")]
    assert filenames == ["a_good.mid", "d_book.abc", "d_book.abc", "sub/f_inner.mid"]
    assert summary.skipped["type_2_midi"] == 1 and "directory" not in summary.skipped
    assert (summary.files_found, summary.files_read) == (6, 3)


def test_convert_directory_in_parallel_gives_the_same_output(tmp_path):
    root = tmp_path / "many"
    tunes = "\n\n".join(
        f"X:{number}\nT:Tune {number}\nL:1/8\nK:C\nCDE{'FGAB'[number % 4]}|\n"
        for number in range(1, 25)
    )
    write(root, "tunes.abc", tunes)
    write(root, "song.mid", fixtures.good_midi())
    write(root, "bad.mid", fixtures.empty_file())
    serial = convert_directory(
        root, tmp_path / "serial.tfrecord", num_workers=1, progress=False, report=lambda _: None
    )
    parallel = convert_directory(
        root, tmp_path / "parallel.tfrecord", num_workers=2, progress=False, report=lambda _: None
    )
    assert (tmp_path / "serial.tfrecord").read_bytes() == (
        tmp_path / "parallel.tfrecord"
    ).read_bytes()
    assert serial.sequences_written == parallel.sequences_written == 25
    assert serial.skipped == parallel.skipped == {"empty_file": 1}


def test_convert_directory_in_forked_workers_from_a_fresh_process(tmp_path):
    # A process that has not loaded TensorFlow forks its workers (the path the CLI takes).
    root = tmp_path / "many"
    tunes = "\n\n".join(
        f"X:{number}\nT:Tune {number}\nL:1/8\nK:C\nCDEF|\n" for number in range(1, 21)
    )
    write(root, "tunes.abc", tunes)
    code = (
        "from melodylib.music import readers; "
        "from melodylib.workers import process_pool_context; assert process_pool_context().get_start_method() == 'fork'; "
        f"summary = readers.convert_directory({str(root)!r}, {str(tmp_path / 'forked.tfrecord')!r}, "
        "num_workers=2, progress=False); "
        "assert summary.sequences_written == 20, summary.format()"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    convert_directory(
        root, tmp_path / "serial.tfrecord", num_workers=1, progress=False, report=lambda _: None
    )
    assert (tmp_path / "forked.tfrecord").read_bytes() == (
        tmp_path / "serial.tfrecord"
    ).read_bytes()


def test_convert_directory_with_no_music(tmp_path):
    root = tmp_path / "nothing"
    write(root, "readme.txt", "no music here")
    summary = convert_directory(
        root, tmp_path / "out.tfrecord", progress=False, report=lambda _: None
    )
    assert summary.sequences_written == 0 and not summary.output_written
    assert f"no music files found in {root}" in summary.format()
    assert not (tmp_path / "out.tfrecord").exists()


def test_convert_directory_keeps_an_earlier_output_when_nothing_is_read(tmp_path):
    root = tmp_path / "bad_only"
    write(root, "bad.mid", fixtures.random_bytes())
    output = tmp_path / "out.tfrecord"
    write_note_sequences(output, [NoteSequence(filename="earlier.mid")])
    summary = convert_directory(root, output, progress=False, report=lambda _: None)
    assert summary.files_found == 1 and summary.sequences_written == 0
    assert "nothing written" in summary.format()
    assert [s.filename for s in read_note_sequences(output)] == ["earlier.mid"]
    assert sorted(os.listdir(tmp_path)) == ["bad_only", "out.tfrecord"]


def test_convert_directory_missing_input_dir(tmp_path):
    with pytest.raises(MelodylibError, match="does_not_exist.*does not exist"):
        convert_directory(tmp_path / "does_not_exist", tmp_path / "out.tfrecord", progress=False)


def test_convert_directory_unwritable_output_is_named(tmp_path):
    root = make_mixed_folder(tmp_path / "mixed")
    blocker = write(tmp_path, "a-file", "x")
    with pytest.raises(MelodylibError, match="a-file"):
        convert_directory(root, blocker / "out.tfrecord", progress=False, report=lambda _: None)
    with pytest.raises(MelodylibError, match="is a folder"):
        convert_directory(root, tmp_path, progress=False, report=lambda _: None)


def test_reader_worker_code_does_not_import_tensorflow(tmp_path):
    # A worker imports the library of the format it reads: MIDI alone does not load music21.
    root = tmp_path / "folder"
    write(root, "song.mid", fixtures.good_midi())
    write(root, "tunes.abc", TUNEBOOK)
    code = (
        "import sys; from melodylib.music.readers.tasks import ReadingTask, run_task; "
        "from melodylib.music.readers import split_abc_tunes; "
        f"out = run_task(ReadingTask({str(root / 'song.mid')!r}, {str(root)!r})); assert len(out.payloads) == 1; "
        "assert 'music21' not in sys.modules, 'music21 was imported for a MIDI file'; "
        f"tunes = tuple(split_abc_tunes(open({str(root / 'tunes.abc')!r}).read())); "
        f"out = run_task(ReadingTask({str(root / 'tunes.abc')!r}, {str(root)!r}, tunes)); assert len(out.payloads) == 2; "
        "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
