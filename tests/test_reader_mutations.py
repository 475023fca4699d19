"""Damaged music files: every one converts or is skipped with a specific, documented reason.

Seeded mutations (tests/file_mutations.py) of real MIDI, MusicXML and ABC files go through the
folder converter, the path `melody_rnn convert` takes. No file may crash or stall the run, and no
skip may be `unknown_error`. For MIDI, pretty_midi (what note_seq reads MIDI with) is the
reference: a mutant we read, it reads to the same notes; one we skip, it fails on too (apart from
the differences magenta-behaviour.md documents). The time limit is tested with readers that hang,
ignore the alarm or die (reader_pool_scenarios.py, in a fresh process).

A bigger sweep by hand: `MELODYLIB_MUTATIONS=3000 pytest tests/test_reader_mutations.py -k
mutated` (the number of MIDI files; MusicXML and ABC get an eighth of it each).
"""

from __future__ import annotations

import io
import json
import os
import random
import re
import subprocess
import sys
import time
import warnings
import zipfile
from pathlib import Path

import file_mutations as mutations
import midi_fixtures as fixtures
import pretty_midi
import pytest

import melodylib.music.readers.abc as abc_module
import melodylib.music.readers.files as files_module
from melodylib.errors import MelodylibError, UnreadableFileError
from melodylib.music.notesequence import read_note_sequences
from melodylib.music.readers import convert_directory, midi_to_note_sequence, read_file_result
from melodylib.music.readers.common import SKIP_REASONS

TESTS = Path(__file__).parent
REAL_MIDI = TESTS / "data" / "magenta" / "real_midi"
MIDI_COUNT = int(os.environ.get("MELODYLIB_MUTATIONS", "240"))
TEXT_COUNT = max(30, MIDI_COUNT // 8)
# pretty_midi refuses these where we read on purpose, or reads what we refuse on purpose
# (magenta-behaviour.md: "File conversion"): an empty track chunk, more than its 1e7 ticks (note_seq
# raises the limit to 1e10), type-2 files (overlaid), SMPTE time, a format number past 2.
REFERENCE_DIFFERENCES = ("max() arg is an empty sequence", "likely corrupt")
DELIBERATE_REFUSALS = ("type_2_midi", "smpte_division", "unknown MIDI format")


def music21_corpus() -> Path:
    import music21

    return Path(music21.__file__).parent / "corpus"


def convert(folder: Path, output: Path, **options):
    """convert_directory as the CLI runs it, returning the summary and the sequences by file."""
    summary = convert_directory(folder, output, progress=False, report=lambda line: None, **options)
    sequences = {}
    if summary.output_written:
        for sequence in read_note_sequences(output):
            sequences.setdefault(sequence.filename, []).append(sequence)
    return summary, sequences


def assert_specific_reasons(summary) -> None:
    """Every skip has a documented reason other than unknown_error."""
    reasons = {reason for _, reason, _ in summary.skipped_items}
    assert reasons <= set(SKIP_REASONS), reasons - set(SKIP_REASONS)
    unknown = [item for item in summary.skipped_items if item[1] == "unknown_error"]
    assert not unknown, unknown[:5]


# --- MIDI -----------------------------------------------------------------------------------------
def midi_sources() -> list[bytes]:
    built = [fixtures.good_midi(), fixtures.chords(), fixtures.many_tempo_changes()]
    return [path.read_bytes() for path in sorted(REAL_MIDI.glob("*.mid"))] + built


def reference_reading(data: bytes):
    """pretty_midi's notes (pitch, start, end) of a file, or the text of its failure."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            midi = pretty_midi.PrettyMIDI(io.BytesIO(data))
    except Exception as error:  # noqa: BLE001 - any failure is the reference's verdict
        return None, str(error)
    notes = sorted(
        (int(note.pitch), float(note.start), float(note.end))
        for instrument in midi.instruments
        for note in instrument.notes
    )
    return notes, ""


def test_mutated_midi_files_convert_or_get_a_specific_reason(tmp_path):
    rng = random.Random(20261203)
    sources = midi_sources()
    folder = tmp_path / "midi"
    folder.mkdir()
    made = {}
    for index in range(MIDI_COUNT):
        name, data = mutations.mutate_midi(rng.choice(sources), rng)
        made[f"{index:04d}_{name}.mid"] = data
        (folder / f"{index:04d}_{name}.mid").write_bytes(data)
    started = time.monotonic()
    summary, sequences = convert(folder, tmp_path / "midi.tfrecord", num_workers=2)
    seconds = time.monotonic() - started
    assert summary.files_found == MIDI_COUNT
    skipped = {Path(path).name: reason for path, reason, _ in summary.skipped_items}
    details = {Path(path).name: f"{reason} {text}" for path, reason, text in summary.skipped_items}
    assert len(skipped) + summary.files_read == MIDI_COUNT  # every file read or named
    assert_specific_reasons(summary)
    assert "timeout" not in skipped.values() and seconds < 10 + MIDI_COUNT / 5
    # pretty_midi, as note_seq uses it, agrees on which files are readable and on their notes
    compared = 0
    for name, data in made.items():
        notes, failure = reference_reading(data)
        refused_on_purpose = any(text in details.get(name, "") for text in DELIBERATE_REFUSALS)
        if refused_on_purpose or any(text in failure for text in REFERENCE_DIFFERENCES):
            continue
        compared += 1
        assert (name in skipped) == (notes is None), (name, skipped.get(name), failure)
        if notes is not None:
            ours = sorted(
                (note.pitch, note.start_time, note.end_time) for note in sequences[name][0].notes
            )
            assert ours == notes, name  # the same doubles
    assert compared > 0.8 * MIDI_COUNT
    assert 0.05 * MIDI_COUNT < summary.files_read < 0.6 * MIDI_COUNT  # the mutations do bite


def tempo_meta(tempo: bytes) -> bytes:
    return b"\x00\xff\x51\x03" + tempo + fixtures.END_OF_TRACK


NOTES = b"\x00\x90\x3c\x50\x83\x60\x80\x3c\x00" + fixtures.END_OF_TRACK


def replace_in_track(data: bytes, old: bytes, new: bytes) -> bytes:
    """Replace bytes inside a file and keep the first track chunk's length right."""
    assert data.count(old) >= 1
    changed = data.replace(old, new, 1)
    start = 22  # the first track's payload, after MThd (14 bytes) and the MTrk chunk header
    length = int.from_bytes(data[18:22], "big") + len(new) - len(old)
    return changed[:18] + length.to_bytes(4, "big") + changed[start:]


# (reason, a damaged file, a text the detail must hold) for each MIDI reason the checks add
SPECIFIC_MIDI = [
    ("bad_tempo", fixtures.raw_midi([tempo_meta(b"\x00\x00\x00"), NOTES]), "tick 0"),
    (
        "bad_tempo",
        fixtures.raw_midi([b"\x00\xff\x51\x02\x07\xa1" + fixtures.END_OF_TRACK]),
        "2 data",
    ),
    (
        "bad_time_signature",
        fixtures.raw_midi([b"\x00\xff\x58\x04\x00\x02\x18\x08" + fixtures.END_OF_TRACK, NOTES]),
        "0/4",
    ),
    (
        "bad_key_signature",
        fixtures.raw_midi([b"\x00\xff\x59\x02\x09\x00" + fixtures.END_OF_TRACK, NOTES]),
        "9 sharps",
    ),
    ("bad_status_byte", fixtures.raw_midi([b"\x00\xf4" + NOTES]), "0xF4"),
    ("bad_running_status", fixtures.running_status_without_status(), "no earlier status"),
    ("bad_data_byte", fixtures.data_byte_over_127(), "data byte 200"),
    ("bad_header", fixtures.raw_midi([NOTES], num_tracks=0xFFFF), "65,535"),
    ("truncated", fixtures.raw_midi([NOTES], num_tracks=3), "promises 3 tracks"),
    (
        "bad_chunk",
        fixtures.raw_midi([NOTES, NOTES]).replace(b"MTrk", b"XFIH", 2).replace(b"XFIH", b"MTrk", 1),
        "XFIH",
    ),
    (
        "bad_track_length",
        b"MThd"
        + bytes.fromhex("000000060001000200dc")
        + b"MTrk\x00\x00\x00\x05"
        + NOTES
        + b"MTrk"
        + bytes(4),
        "runs past the end",
    ),
    (
        "bad_meta_event",
        fixtures.raw_midi([b"\x00\xff\x01\xbd\x84\x41" + b"x" * 20]),
        "claims 1,000,001 bytes",
    ),
]


@pytest.mark.parametrize(
    "reason, data, detail",
    SPECIFIC_MIDI,
    ids=[f"{case[0]}-{n}" for n, case in enumerate(SPECIFIC_MIDI)],
)
def test_each_midi_defect_is_named_with_its_place(reason, data, detail):
    with pytest.raises(UnreadableFileError) as caught:
        midi_to_note_sequence(data, "damaged.mid")
    assert (caught.value.reason, detail in caught.value.detail) == (reason, True), caught.value
    assert "damaged.mid" in str(caught.value)
    assert reason in SKIP_REASONS
    # pretty_midi fails on each of them too (note_seq would skip the file as well)
    assert reference_reading(data)[0] is None


# --- MusicXML -------------------------------------------------------------------------------------
def musicxml_sources() -> list[str]:
    corpus = music21_corpus()
    texts = [(corpus / "demos" / "two-parts.xml").read_text(encoding="utf-8")]
    with zipfile.ZipFile(corpus / "bach" / "bwv297.mxl") as archive:
        name = next(
            item for item in archive.namelist() if item.endswith(".xml") and "META" not in item
        )
        texts.append(archive.read(name).decode("utf-8"))
    return texts


def test_mutated_musicxml_files_convert_or_get_a_specific_reason(tmp_path):
    rng = random.Random(7)
    sources = musicxml_sources()
    folder = tmp_path / "musicxml"
    folder.mkdir()
    for index in range(TEXT_COUNT):
        source = rng.choice(sources)
        if index % 4 == 3:
            name, data = mutations.mutate_mxl(source, rng)
            (folder / f"{index:04d}_{name}.mxl").write_bytes(data)
        else:
            name, text = mutations.mutate_musicxml(source, rng)
            (folder / f"{index:04d}_{name}.xml").write_text(
                text, encoding="utf-8", errors="replace"
            )
    summary, _ = convert(
        folder, tmp_path / "musicxml.tfrecord", num_workers=2, file_timeout_secs=30
    )
    skipped = {Path(path).name for path, _, _ in summary.skipped_items}
    assert len(skipped) + summary.files_read == TEXT_COUNT
    assert_specific_reasons(summary)
    checked = [reason for _, reason, _ in summary.skipped_items if reason != "musicxml_parse_error"]
    assert len(checked) > 0.8 * len(summary.skipped_items)  # our checks, not music21's messages


MUSICXML_NOTE = (
    "<note><pitch><step>{step}</step><octave>{octave}</octave></pitch>"
    "<duration>{duration}</duration><type>quarter</type></note>"
)


def small_score(
    attributes: str = "<divisions>1</divisions>", note: str = "", sound: str = ""
) -> str:
    note = note or MUSICXML_NOTE.format(step="C", octave=4, duration=1)
    return (
        '<?xml version="1.0" encoding="UTF-8"?><score-partwise version="3.1"><part-list>'
        '<score-part id="P1"><part-name>x</part-name></score-part></part-list>'
        f'<part id="P1"><measure number="1"><attributes>{attributes}</attributes>{sound}{note}'
        "</measure></part></score-partwise>"
    )


SPECIFIC_MUSICXML = [
    ("bad_xml", small_score()[:-30], "line 1"),
    ("bad_xml", small_score().replace("UTF-8", "EBCDIC-XYZ"), "unknown encoding"),
    ("not_musicxml", "<html><body>hello</body></html>", "<html>"),
    ("bad_duration", small_score("<divisions>0</divisions>"), "measure 1"),
    ("bad_duration", small_score(""), "before any <divisions>"),
    ("bad_duration", small_score(note=MUSICXML_NOTE.format(step="C", octave=4, duration=-2)), "-2"),
    (
        "bad_pitch",
        small_score(note=MUSICXML_NOTE.format(step="H", octave=4, duration=1)),
        "<step>H",
    ),
    (
        "bad_key_signature",
        small_score("<divisions>1</divisions><key><fifths>1000000</fifths></key>"),
        "1000000",
    ),
    (
        "bad_time_signature",
        small_score(
            "<divisions>1</divisions><time><beats>0</beats><beat-type>4</beat-type></time>"
        ),
        "<beats>0",
    ),
    ("bad_tempo", small_score(sound='<sound tempo="0"/>'), 'tempo="0"'),
]


@pytest.mark.parametrize(
    "reason, text, detail",
    SPECIFIC_MUSICXML,
    ids=[f"{case[0]}-{n}" for n, case in enumerate(SPECIFIC_MUSICXML)],
)
def test_each_musicxml_defect_is_named(tmp_path, reason, text, detail):
    path = tmp_path / "damaged.xml"
    path.write_text(text, encoding="utf-8")
    errors = read_file_result(path).errors
    assert [(error.reason, detail in error.detail) for error in errors] == [(reason, True)], errors


def test_a_good_small_score_passes_the_checks(tmp_path):
    path = tmp_path / "good.xml"
    path.write_text(small_score(sound='<sound tempo="90"/>'), encoding="utf-8")
    result = read_file_result(path)
    assert result.errors == [] and [note.pitch for note in result.sequences[0].notes] == [60]


def test_broken_mxl_archives_are_bad_archives(tmp_path):
    good = mutations.compress_musicxml(small_score())
    (tmp_path / "cut.mxl").write_bytes(good[: len(good) // 2])
    broken = bytearray(good)
    with zipfile.ZipFile(io.BytesIO(good)) as archive:
        score = archive.getinfo("score.xml")
    broken[score.header_offset + 30 + len("score.xml") + 5] ^= 0xFF  # inside the compressed score
    (tmp_path / "flipped.mxl").write_bytes(bytes(broken))
    (tmp_path / "empty.mxl").write_bytes(mutations.compress_musicxml(small_score())[:0])
    reasons = {path.name: read_file_result(path).errors[0].reason for path in tmp_path.iterdir()}
    assert reasons == {
        "cut.mxl": "bad_archive",
        "flipped.mxl": "bad_archive",
        "empty.mxl": "empty_file",
    }


# --- ABC ------------------------------------------------------------------------------------------
def abc_sources() -> list[str]:
    corpus = music21_corpus()
    essen = (corpus / "essenFolksong" / "altdeu10.abc").read_text(encoding="utf-8")
    oneill = (corpus / "oneills1850" / "1001-1031.abc").read_text(encoding="utf-8")
    tunes = [tune for tune in re.split(r"\n(?=X:)", essen) if tune.startswith("X:")][:8]
    tunes += [tune for tune in re.split(r"\n\s*\n", oneill) if "X:" in tune][:6]
    return tunes


def test_mutated_abc_tunes_convert_or_get_a_specific_reason(tmp_path):
    rng = random.Random(11)
    sources = abc_sources()
    folder = tmp_path / "abc"
    folder.mkdir()
    for index in range(TEXT_COUNT):
        name, text = mutations.mutate_abc(rng.choice(sources), rng)
        (folder / f"{index:04d}_{name}.abc").write_text(text, encoding="utf-8")
    summary, _ = convert(folder, tmp_path / "abc.tfrecord", num_workers=2, file_timeout_secs=30)
    assert summary.files_found == TEXT_COUNT
    assert_specific_reasons(summary)
    assert summary.files_read > 0.3 * TEXT_COUNT


SPECIFIC_ABC = [
    ("bad_time_signature", "M:1000000/4", "M:1000000/4"),
    ("bad_time_signature", "M:4/0", "M:4/0"),
    ("bad_unit_length", "L:1/0", "L:1/0"),
    ("bad_tempo", "Q:1/4=0", "Q:1/4=0"),
]


@pytest.mark.parametrize("reason, field, detail", SPECIFIC_ABC)
def test_each_abc_header_defect_is_named(tmp_path, reason, field, detail):
    path = tmp_path / "tunes.abc"
    path.write_text(f"X:1\nT:Bad\n{field}\nL:1/8\nK:G\nGAB c2d|\n\nX:2\nT:Good\nK:D\nDEF|\n")
    result = read_file_result(path)
    assert [
        (error.reason, detail in error.detail, "X:1" in error.detail) for error in result.errors
    ] == [(reason, True, True)]
    assert [sequence.title for sequence in result.sequences] == ["Good"]


def test_an_absurd_abc_note_length_is_named(tmp_path):
    path = tmp_path / "long.abc"
    path.write_text('X:1\nT:Long\nL:1/8\nK:G\n"G7"G2 A99999999 B|\n')
    (error,) = read_file_result(path).errors
    assert error.reason == "bad_duration" and "A99999999" in error.detail


def test_the_abc_checks_pass_every_tune_of_music21s_corpus():
    from melodylib.music.readers.abc import read_abc_text, split_abc_tunes
    from melodylib.music.readers.abc_checks import check_abc_tune

    flagged, count = [], 0
    for path in sorted(music21_corpus().rglob("*.abc")):
        for tune in split_abc_tunes(read_abc_text(str(path))):
            count += 1
            if check_abc_tune(tune.text):
                flagged.append((path.name, tune.reference, check_abc_tune(tune.text)))
    assert count > 10_000 and flagged == []


# --- the time limit -------------------------------------------------------------------------------
def test_a_slow_file_is_skipped_as_timeout_and_the_run_goes_on(tmp_path, monkeypatch):
    # serial, in this process: the alarm stops the reading
    def slow_reader(path):
        time.sleep(60)

    monkeypatch.setattr(files_module, "musicxml_to_note_sequence", slow_reader)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.mid").write_bytes(fixtures.good_midi())
    (tmp_path / "in" / "b_slow.xml").write_text(small_score(), encoding="utf-8")
    (tmp_path / "in" / "c.mid").write_bytes(fixtures.chords())
    started = time.monotonic()
    summary, sequences = convert(
        tmp_path / "in", tmp_path / "out.tfrecord", num_workers=1, file_timeout_secs=1.0
    )
    assert time.monotonic() - started < 30  # not the 60 s the slow reader sleeps
    assert [(Path(path).name, reason) for path, reason, _ in summary.skipped_items] == [
        ("b_slow.xml", "timeout")
    ]
    assert "1 s" in summary.skipped_items[0][2]
    assert sorted(sequences) == ["a.mid", "c.mid"]


def test_a_slow_abc_tune_costs_only_itself(tmp_path, monkeypatch):
    real = abc_module.abc_tune_to_note_sequence

    def slow_on_tune_two(tune, path="<text>"):
        if tune.reference == "2":
            while True:
                pass
        return real(tune, path)

    monkeypatch.setattr(abc_module, "abc_tune_to_note_sequence", slow_on_tune_two)
    path = tmp_path / "book.abc"
    path.write_text(
        "".join(f"X:{number}\nT:T{number}\nL:1/8\nK:C\nCDEF|\n\n" for number in (1, 2, 3))
    )
    result = read_file_result(path, time_limit_secs=1.5)
    assert [sequence.title for sequence in result.sequences] == ["T1", "T3"]
    assert [(error.reason, "X:2" in error.detail) for error in result.errors] == [("timeout", True)]


def test_the_time_limit_puts_back_an_earlier_alarm():
    import signal

    from melodylib.music.readers.time_limit import time_limit

    fired = []
    previous = signal.signal(signal.SIGALRM, lambda *args: fired.append(True))
    try:
        signal.setitimer(signal.ITIMER_REAL, 5.0)
        with time_limit(1.0):
            pass
        remaining, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 3.0 < remaining <= 5.0 and fired == []
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_workers_that_hang_ignore_the_alarm_or_die_cost_only_their_file(tmp_path):
    script = TESTS / "reader_pool_scenarios.py"
    completed = subprocess.run(
        [sys.executable, str(script), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=TESTS,
        env={**os.environ, "PYTHONPATH": str(TESTS)},
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    results = json.loads(completed.stdout.strip().splitlines()[-1])
    expected = {
        "hang": ("timeout", "longer than 2 s"),
        "stuck": ("timeout", "killed after"),
        "crash": ("reader_crashed", "exit code 3"),
    }
    for scenario, (reason, detail) in expected.items():
        result = results[scenario]
        assert [(name, found) for name, found, _ in result["skipped"]] == [
            (f"{scenario}.mid", reason)
        ]
        assert detail in result["skipped"][0][2]
        assert result["written"] == 20 and result["alive"] == 0
        assert result["seconds"] < 30


def test_the_file_timeout_must_not_be_negative(tmp_path):
    (tmp_path / "a.mid").write_bytes(fixtures.good_midi())
    with pytest.raises(MelodylibError, match="--file_timeout_secs"):
        convert_directory(tmp_path, tmp_path / "out.tfrecord", file_timeout_secs=-1)


def test_the_cli_has_the_file_timeout_flag(tmp_path):
    from melodylib.cli.main import main

    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.mid").write_bytes(fixtures.good_midi())
    output = tmp_path / "out.tfrecord"
    assert (
        main(
            [
                "convert",
                f"--input_dir={tmp_path / 'in'}",
                f"--output_file={output}",
                "--file_timeout_secs=5",
            ]
        )
        == 0
    )
    assert len(list(read_note_sequences(output))) == 1


# --- the documented list --------------------------------------------------------------------------
def test_the_skip_reasons_page_lists_every_reason():
    page = (TESTS.parent / "docs" / "skip-reasons.md").read_text(encoding="utf-8")
    listed = re.findall(r"^\| `([a-z_0-9]+)` \|", page, flags=re.MULTILINE)
    assert sorted(listed) == sorted(SKIP_REASONS)
