"""NoteSequences as note_seq's protobuf and as Magenta.js JSON, checked against Magenta's own code.

References, none of them melodylib's: the TFRecord Magenta's convert_dir_to_note_sequences wrote
(tests/data/magenta, with its JSON dump), note_seq 0.0.5 itself (in the venv that
tools/note_seq_venv.sh makes; MELODYLIB_NOTE_SEQ_PYTHON points at its python), Magenta.js 1.23.1's
protobuf.js NoteSequence (tests/js/node_modules), Google's json_format, and the JSON forms
documented for Magenta.js. With MELODYLIB_CI=1 a missing note_seq venv or Magenta.js fails the
tests that need it instead of skipping them.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from melodylib.errors import MelodylibError
from melodylib.music.notesequence import (
    KeySignature,
    Note,
    NoteSequence,
    Tempo,
    TimeSignature,
    read_magenta_js_json,
    read_note_sequences,
    write_magenta_js_json,
    write_note_sequences,
)
from melodylib.music.notesequence_schema import note_sequence_class
from melodylib.music.readers import convert_directory
from melodylib.music.readers.files import read_note_sequence
from melodylib.tfrecords import read_records, write_records

ROOT = Path(__file__).resolve().parent.parent
MAGENTA = Path(__file__).parent / "data" / "magenta"
REAL_MIDI = MAGENTA / "real_midi"
MAGENTA_TFRECORD = MAGENTA / "notesequences.tfrecord.gz"
JS_DIR = Path(__file__).parent / "js"
TIME_TOLERANCE = 1e-6  # our MIDI reader's times against note_seq's (as in test_magenta_exactness)


def missing(message: str) -> None:
    """Skip for a missing tool, unless MELODYLIB_CI=1 says CI must have it."""
    if os.environ.get("MELODYLIB_CI") == "1":
        pytest.fail(f"{message} (MELODYLIB_CI=1 requires it)")
    pytest.skip(message)


def magenta_dump() -> list[dict]:
    with gzip.open(MAGENTA / "notesequences.json.gz", "rt") as handle:
        return json.load(handle)["sequences"]


def every_field_sequence(**changes) -> NoteSequence:
    """A sequence with every field melodylib keeps set to something other than its default."""
    sequence = NoteSequence(
        notes=[
            Note(60, 100, 0.0, 0.1 + 0.2, 0, 0, False, 0, 2, 0, 0),
            Note(67, 1, 0.30000000000000004, 1.25, 3, 41, True, 2, 5, 1, 2),
            Note(127, 127, 1e-300, 2.0, 15, 127, False, 7, 9, 0, 3),
        ],
        tempos=[Tempo(0.0, 189.000189000189), Tempo(1.5, 60.0)],
        time_signatures=[TimeSignature(0.0, 6, 8), TimeSignature(3.3, 3, 4)],
        key_signatures=[KeySignature(0.0, 11, 1), KeySignature(2.0, 3, 4)],
        total_time=3.75,
        ticks_per_quarter=10080,
        id="/id/abc/tunes/0123abcd",
        filename="sub/dir/der Lindenbaum.abc",
        collection_name="tunes",
        source_type="abc",
        title="Der Lindenbaum – ü",
        reference_number=171,
        total_quantized_steps=64,
        steps_per_quarter=4,
    )
    return sequence.replace(**changes)


# every_field_sequence().to_magenta_js() given to Magenta.js 1.23.1's NoteSequence.fromObject and
# encoded by it (protobuf.js; tests/js/notesequence_json.js made it): it covers the fields a MIDI
# file read by note_seq leaves empty (quantized steps, part, voice, quantization, title, ...).
MAGENTA_JS_EVERY_FIELD = bytes.fromhex(
    "0a162f69642f6162632f74756e65732f3031323361626364121a7375622f6469722f646572204c696e64656e"
    "6261756d2e6162631a0574756e657320e04e2a0d090000000000000000100618082a0d096666666666660a40"
    "10031804320d090000000000000000100b1801320d090000000000000040100318043a120900000000000000"
    "00112fb45c8c01a067403a1209000000000000f83f110000000000004e404220083c10641900000000000000"
    "0021343333333333d33f3800400048006800700242240843100119343333333333d33f21000000000000f43f"
    "38034029480150016002680270054222087f107f1959f3f8c21f6ea501210000000000000040380f407f4800"
    "600368077009490000000000000e406a060801100218017a0208048001409001ab019a01170a15446572204c"
    "696e64656e6261756d20e2809320c3bc"
)


# --- the schema and the Magenta-made file ----------------------------------------------------------


def test_magentas_records_parse_with_every_field_known_and_reserialize_to_the_same_bytes():
    from google.protobuf import unknown_fields

    message_class = note_sequence_class()
    payloads = list(read_records(MAGENTA_TFRECORD))
    assert len(payloads) == 32
    for index, payload in enumerate(payloads):
        message = message_class.FromString(payload)
        assert len(unknown_fields.UnknownFieldSet(message)) == 0, f"record {index}"
        for note in message.notes:
            assert len(unknown_fields.UnknownFieldSet(note)) == 0, f"record {index}"
        assert message.SerializeToString() == payload, f"record {index}"


def test_magenta_js_bytes_with_every_field_read_as_the_sequence_they_encode():
    assert NoteSequence.from_bytes(MAGENTA_JS_EVERY_FIELD) == every_field_sequence()


def test_magentas_tfrecord_reads_as_its_json_dump():
    sequences = list(read_note_sequences(MAGENTA_TFRECORD))
    reference = magenta_dump()
    assert len(sequences) == len(reference) == 32
    for ours, theirs in zip(sequences, reference):
        assert (ours.id, ours.filename, ours.collection_name) == (
            theirs["id"],
            theirs["filename"],
            theirs["collection_name"],
        )
        assert ours.source_type == "midi"  # source_info {encoding_type: MIDI, parser: PRETTY_MIDI}
        assert theirs["source_info"] == {"source_type": 0, "encoding_type": 3, "parser": 2}
        assert ours.ticks_per_quarter == theirs["ticks_per_quarter"]
        assert ours.total_time == theirs["total_time"]
        assert [
            [n.pitch, n.velocity, n.start_time, n.end_time, n.instrument, n.program, int(n.is_drum)]
            for n in ours.notes
        ] == [[*note[:6], int(note[6])] for note in theirs["notes"]]
        assert [[t.time, t.qpm] for t in ours.tempos] == theirs["tempos"]
        assert [[t.time, t.numerator, t.denominator] for t in ours.time_signatures] == theirs[
            "time_signatures"
        ]
        assert [[k.time, k.key, k.mode] for k in ours.key_signatures] == theirs["key_signatures"]


def test_create_dataset_takes_magentas_own_tfrecord(tmp_path):
    """The file every Magenta user has goes straight into create_dataset: Magenta's counters, and
    the same records as from the same sequences in melodylib's JSON records."""
    from melodylib.data.datasets import TRAINING_FILE, create_dataset

    def run(input_file: Path, output_dir: Path):
        return create_dataset(
            input_file, "basic_rnn", output_dir, eval_ratio=0.0, num_workers=1, progress=False
        )

    summary = run(MAGENTA_TFRECORD, tmp_path / "from_magenta")
    with gzip.open(MAGENTA / "pipeline_reference.json.gz", "rt") as handle:
        logged = json.load(handle)["total_statistics"]
    statistics = summary.magenta_statistics()
    for name, value in logged.items():
        if value and not isinstance(value, dict):  # the length histogram is named differently
            assert statistics[name] == value, name
    assert summary.training_melodies == 54
    as_json = tmp_path / "as_json.tfrecord"
    write_note_sequences(as_json, read_note_sequences(MAGENTA_TFRECORD), output_format="json")
    run(as_json, tmp_path / "from_json")
    assert (tmp_path / "from_magenta" / TRAINING_FILE).read_bytes() == (
        tmp_path / "from_json" / TRAINING_FILE
    ).read_bytes()


# --- round trips -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sequence",
    [
        every_field_sequence(),
        every_field_sequence(steps_per_quarter=0, steps_per_second=100),
        every_field_sequence(source_type="midi", title=""),
        every_field_sequence(source_type="musicxml", ticks_per_quarter=0),
        NoteSequence(),
    ],
    ids=["every-field", "steps-per-second", "midi", "musicxml", "empty"],
)
def test_round_trips_are_exact(sequence):
    assert NoteSequence.from_bytes(sequence.to_bytes()) == sequence
    assert NoteSequence.from_bytes(sequence.to_bytes("json")) == sequence
    assert NoteSequence.from_proto(sequence.to_proto()) == sequence
    assert NoteSequence.from_magenta_js(sequence.to_magenta_js()) == sequence
    assert NoteSequence.from_magenta_js(json.dumps(sequence.to_magenta_js())) == sequence
    assert sequence.copy() == sequence


def test_magentas_sequences_round_trip_exactly_in_every_form():
    for sequence in read_note_sequences(MAGENTA_TFRECORD):
        assert NoteSequence.from_bytes(sequence.to_bytes()) == sequence
        assert NoteSequence.from_bytes(sequence.to_bytes("json")) == sequence
        assert NoteSequence.from_magenta_js(json.dumps(sequence.to_magenta_js())) == sequence


def test_protobuf_fields_land_where_note_seqs_schema_puts_them():
    """json_format (Google's, not ours) names every field we set: the proto3 JSON names."""
    from google.protobuf import json_format

    data = json_format.MessageToDict(every_field_sequence().to_proto())
    assert data["referenceNumber"] == "171"
    assert data["totalQuantizedSteps"] == "64"
    assert data["quantizationInfo"] == {"stepsPerQuarter": 4}
    assert data["sourceInfo"] == {
        "sourceType": "SCORE_BASED",
        "encodingType": "ABC",
        "parser": "MUSIC21",
    }
    assert data["sequenceMetadata"] == {"title": "Der Lindenbaum – ü"}
    assert data["keySignatures"][1] == {"time": 2.0, "key": "D_SHARP", "mode": "DORIAN"}
    assert data["notes"][1] == {
        "pitch": 67,
        "velocity": 1,
        "startTime": 0.30000000000000004,
        "endTime": 1.25,
        "quantizedStartStep": "2",
        "quantizedEndStep": "5",
        "instrument": 3,
        "program": 41,
        "isDrum": True,
        "part": 1,
        "voice": 2,
    }


# --- records of both forms, and bad records ------------------------------------------------------


def test_a_file_mixing_json_and_protobuf_records_reads_in_order(tmp_path):
    path = tmp_path / "mixed.tfrecord"
    first, second = every_field_sequence(), every_field_sequence(id="second", source_type="midi")
    write_records(path, [first.to_bytes("json"), second.to_bytes(), NoteSequence().to_bytes()])
    assert list(read_note_sequences(path)) == [first, second, NoteSequence()]


def test_json_records_of_earlier_melodylib_versions_read_and_are_written_the_same():
    earlier = (
        b'{"format_version":1,"id":"a","filename":"a.mid","collection_name":"c",'
        b'"source_type":"midi","title":"","total_time":1.0,"ticks_per_quarter":220,'
        b'"notes":{"pitch":[60],"velocity":[80],"start_time":[0.0],"end_time":[1.0],'
        b'"instrument":[0],"program":[0],"is_drum":[false]},"tempos":[[0.0,120.0]],'
        b'"time_signatures":[[0.0,4,4]],"key_signatures":[]}'
    )
    sequence = NoteSequence.from_bytes(earlier)
    assert sequence == NoteSequence(
        notes=[Note(60, 80, 0.0, 1.0)],
        tempos=[Tempo(0.0, 120.0)],
        time_signatures=[TimeSignature(0.0, 4, 4)],
        total_time=1.0,
        id="a",
        filename="a.mid",
        collection_name="c",
        source_type="midi",
    )
    assert sequence.to_bytes("json") == earlier


def test_write_note_sequences_writes_protobuf_by_default_and_json_on_request(tmp_path):
    sequence = every_field_sequence()
    write_note_sequences(tmp_path / "p.tfrecord", [sequence])
    write_note_sequences(tmp_path / "j.tfrecord", [sequence], output_format="json")
    (protobuf_record,) = read_records(tmp_path / "p.tfrecord")
    (json_record,) = read_records(tmp_path / "j.tfrecord")
    assert note_sequence_class().FromString(protobuf_record).sequence_metadata.title == (
        sequence.title
    )
    assert json.loads(json_record)["title"] == sequence.title
    with pytest.raises(MelodylibError, match="unknown NoteSequence output format 'xml'"):
        write_note_sequences(tmp_path / "x.tfrecord", [sequence], output_format="xml")


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\x00not json", "Error parsing"),
        (b"\xf8\x07\x01", "without any NoteSequence field"),  # only an unknown field 127
        (b"{not json", "Expecting property name"),
    ],
)
def test_an_unreadable_record_names_the_file_and_record(tmp_path, payload, reason):
    path = tmp_path / "bad.tfrecord"
    write_records(path, [NoteSequence().to_bytes(), NoteSequence(id="x").to_bytes(), payload])
    sequences = read_note_sequences(path)
    assert next(sequences) == NoteSequence(ticks_per_quarter=220)
    next(sequences)
    with pytest.raises(
        MelodylibError, match=r"bad.tfrecord: record 2 is not a NoteSequence"
    ) as error:
        next(sequences)
    assert reason in str(error.value)


def test_a_sequence_example_file_given_as_note_sequences_is_named_as_such():
    path = MAGENTA / "basic_rnn_training_melodies.tfrecord.gz"
    with pytest.raises(MelodylibError, match="record 0 is not a NoteSequence.*SequenceExample"):
        next(read_note_sequences(path))


def test_reading_a_note_sequence_file_loads_protobuf_but_not_at_import(tmp_path):
    path = tmp_path / "one.tfrecord"
    write_note_sequences(path, [every_field_sequence()])
    code = (
        "import sys; from melodylib.music import notesequence; "
        "assert 'google.protobuf' not in sys.modules, 'imported at import'; "
        f"assert len(list(notesequence.read_note_sequences({str(path)!r}))) == 1; "
        "assert 'tensorflow' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- convert ---------------------------------------------------------------------------------------


def test_convert_writes_protobuf_records_and_json_on_request(tmp_path):
    from melodylib.cli import main as cli

    for output_format in ("protobuf", "json"):
        output = tmp_path / f"{output_format}.tfrecord"
        arguments = ["convert", "--input_dir", str(REAL_MIDI), "--output_file", str(output)]
        assert cli.main([*arguments, "--num_workers=1", f"--output_format={output_format}"]) == 0
    protobuf_records = list(read_records(tmp_path / "protobuf.tfrecord"))
    json_records = list(read_records(tmp_path / "json.tfrecord"))
    assert len(protobuf_records) == len(json_records) == 32
    assert all(record[:1] == b"{" for record in json_records)
    message_class = note_sequence_class()
    for protobuf_record, json_record in zip(protobuf_records, json_records):
        ours = NoteSequence.from_bytes(json_record)
        message = message_class.FromString(protobuf_record)
        assert (message.id, message.filename, message.collection_name) == (
            ours.id,
            ours.filename,
            "real_midi",
        )
        assert NoteSequence.from_bytes(protobuf_record) == ours
    with pytest.raises(SystemExit):
        cli.main([*arguments, "--output_format=xml"])
    with pytest.raises(MelodylibError, match="--output_format must be one of protobuf, json"):
        convert_directory(REAL_MIDI, tmp_path / "x.tfrecord", output_format="xml")


# --- Magenta.js JSON -------------------------------------------------------------------------------


def test_the_magenta_js_demo_object_reads_as_its_notes():
    demo = {
        "ticksPerQuarter": 220,
        "totalTime": 1.5,
        "timeSignatures": [{"time": 0, "numerator": 4, "denominator": 4}],
        "tempos": [{"time": 0, "qpm": 120}],
        "notes": [
            {
                "pitch": 60,
                "startTime": 0.0,
                "endTime": 0.5,
                "velocity": 80,
                "instrument": 0,
                "program": 0,
                "isDrum": False,
            },
            {"pitch": 62, "startTime": 0.5, "endTime": 1.5, "velocity": 90, "isDrum": False},
        ],
    }
    assert NoteSequence.from_magenta_js(demo) == NoteSequence(
        notes=[Note(60, 80, 0.0, 0.5), Note(62, 90, 0.5, 1.5)],
        tempos=[Tempo(0.0, 120.0)],
        time_signatures=[TimeSignature(0.0, 4, 4)],
        total_time=1.5,
        ticks_per_quarter=220,
    )


def test_a_quantized_magenta_js_sequence_gets_times_and_velocities_as_magenta_js_plays_it():
    """The quantized objects of Magenta.js's music_rnn model_test.ts: steps, no times, no velocity."""
    quantized = {
        "notes": [
            {"pitch": 69, "quantizedStartStep": 0, "quantizedEndStep": 2, "program": 0},
            {"pitch": 71, "quantizedStartStep": 2, "quantizedEndStep": 4, "program": 0},
            {"pitch": 73, "quantizedStartStep": 4, "quantizedEndStep": 6, "program": 0},
        ],
        "quantizationInfo": {"stepsPerQuarter": 4},
        "totalQuantizedSteps": 32,
    }
    sequence = NoteSequence.from_magenta_js(quantized)
    # 120 qpm, 4 steps per quarter: 0.125 s per step; 80 is Magenta.js's DEFAULT_VELOCITY.
    assert [
        (n.pitch, n.velocity, n.start_time, n.end_time, n.quantized_start_step)
        for n in sequence.notes
    ] == [(69, 80, 0.0, 0.25, 0), (71, 80, 0.25, 0.5, 2), (73, 80, 0.5, 0.75, 4)]
    assert (sequence.total_time, sequence.total_quantized_steps, sequence.steps_per_quarter) == (
        4.0,
        32,
        4,
    )
    at_90_qpm = NoteSequence.from_magenta_js({**quantized, "tempos": [{"time": 0, "qpm": 90}]})
    assert at_90_qpm.notes[1].start_time == 2 * 60 / (90 * 4)
    untouched = NoteSequence.from_magenta_js(quantized, fill_missing=False)
    assert [(n.velocity, n.start_time, n.end_time) for n in untouched.notes] == [(0, 0.0, 0.0)] * 3
    assert untouched.total_time == 0.0


def test_canonical_proto3_json_and_snake_case_read_the_same():
    """int64 as strings and enums as names (protobuf.js toJSON, Python json_format), snake_case."""
    expected = NoteSequence(
        notes=[Note(60, 100, 0.5, 1.0, quantized_start_step=2, quantized_end_step=4)],
        key_signatures=[KeySignature(0.0, 3, 1)],
        total_time=1.0,
        ticks_per_quarter=0,
        source_type="midi",
        total_quantized_steps=32,
        steps_per_quarter=4,
    )
    canonical = {
        "notes": [
            {
                "pitch": 60,
                "velocity": 100,
                "startTime": 0.5,
                "endTime": 1,
                "quantizedStartStep": "2",
                "quantizedEndStep": "4",
            }
        ],
        "keySignatures": [{"key": "E_FLAT", "mode": "MINOR"}],
        "totalTime": 1,
        "totalQuantizedSteps": "32",
        "quantizationInfo": {"stepsPerQuarter": 4},
        "sourceInfo": {"encodingType": "MIDI", "parser": "PRETTY_MIDI"},
    }
    snake_case = {
        "notes": [
            {
                "pitch": 60,
                "velocity": 100,
                "start_time": 0.5,
                "end_time": 1.0,
                "quantized_start_step": 2,
                "quantized_end_step": 4,
            }
        ],
        "key_signatures": [{"time": 0, "key": 3, "mode": 1}],
        "total_time": 1.0,
        "total_quantized_steps": 32,
        "quantization_info": {"steps_per_quarter": 4},
        "source_info": {"encoding_type": 3},
    }
    assert NoteSequence.from_magenta_js(canonical) == expected
    assert NoteSequence.from_magenta_js(json.dumps(snake_case)) == expected


def test_to_magenta_js_is_the_plain_object_form():
    sequence = NoteSequence(
        notes=[Note(60, 80, 0.0, 0.5), Note(36, 100, 0.5, 1.0, 9, 0, True)],
        tempos=[Tempo(0.0, 120.0)],
        time_signatures=[TimeSignature(0.0, 4, 4)],
        key_signatures=[KeySignature(0.0, 7, 0)],
        total_time=1.5,
    )
    assert sequence.to_magenta_js() == {
        "ticksPerQuarter": 220,
        "totalTime": 1.5,
        "tempos": [{"time": 0.0, "qpm": 120.0}],
        "timeSignatures": [{"time": 0.0, "numerator": 4, "denominator": 4}],
        "keySignatures": [{"time": 0.0, "key": 7, "mode": 0}],
        "notes": [
            {
                "pitch": 60,
                "velocity": 80,
                "startTime": 0.0,
                "endTime": 0.5,
                "instrument": 0,
                "program": 0,
                "isDrum": False,
            },
            {
                "pitch": 36,
                "velocity": 100,
                "startTime": 0.5,
                "endTime": 1.0,
                "instrument": 9,
                "program": 0,
                "isDrum": True,
            },
        ],
    }
    quantized = every_field_sequence().to_magenta_js()
    assert quantized["totalQuantizedSteps"] == 64  # a number, not proto3 JSON's string
    assert quantized["quantizationInfo"] == {"stepsPerQuarter": 4}
    assert quantized["notes"][0]["quantizedEndStep"] == 2
    assert quantized["sourceInfo"] == {"sourceType": 1, "encodingType": 2, "parser": 1}


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("not json", "x.json is not JSON"),
        ("[1, 2]", "expected a JSON object with 'notes', got list"),
        ('{"notes": [{"pitch": 60.5}]}', "Couldn't parse integer: 60.5"),
        ('{"notes": [{"pitchh": 60}]}', 'no field named "pitchh"'),
        ('{"keySignatures": [{"key": "H"}]}', "H"),
    ],
)
def test_bad_magenta_js_json_names_the_input_and_the_problem(text, reason):
    with pytest.raises(MelodylibError, match="x.json") as error:
        NoteSequence.from_magenta_js(text, "x.json")
    assert reason in str(error.value)


def test_magenta_js_json_files_hold_one_sequence_or_a_list(tmp_path):
    first, second = every_field_sequence(), every_field_sequence(id="2", steps_per_quarter=0)
    write_magenta_js_json(tmp_path / "one.json", first)
    write_magenta_js_json(tmp_path / "two.json", [first, second])
    assert read_magenta_js_json(tmp_path / "one.json") == [first]
    assert read_magenta_js_json(tmp_path / "two.json") == [first, second]
    (tmp_path / "bad.json").write_text('[{"notes": []}, {"notes": 3}]')
    with pytest.raises(MelodylibError, match="bad.json: sequence 1 is not a Magenta.js"):
        read_magenta_js_json(tmp_path / "bad.json")
    with pytest.raises(MelodylibError, match="cannot read .*missing.json"):
        read_magenta_js_json(tmp_path / "missing.json")


# --- Magenta.js itself (protobuf.js) -------------------------------------------------------------


def run_magenta_js(tmp_path: Path, request: dict) -> dict:
    node = shutil.which("node")
    if node is None:
        missing("node is not installed; Magenta.js's NoteSequence runs in Node")
    if not (JS_DIR / "node_modules" / "@magenta" / "music").is_dir():
        missing(
            "Magenta.js is not installed in tests/js/node_modules; run `npm ci --prefix tests/js`"
        )
    (tmp_path / "request.json").write_text(json.dumps(request))
    subprocess.run(
        [
            node,
            "notesequence_json.js",
            str(tmp_path / "request.json"),
            str(tmp_path / "result.json"),
        ],
        cwd=JS_DIR,
        check=True,
        timeout=120,
    )
    return json.loads((tmp_path / "result.json").read_text())


def test_magenta_js_reads_our_json_and_protobuf_and_we_read_its(tmp_path):
    sequences = [every_field_sequence(), *list(read_note_sequences(MAGENTA_TFRECORD))[:4]]
    result = run_magenta_js(
        tmp_path,
        {
            "plain": [sequence.to_magenta_js() for sequence in sequences],
            "protobuf": [sequence.to_bytes().hex() for sequence in sequences],
        },
    )
    for sequence, encoded, canonical in zip(
        sequences, result["plain_encoded"], result["protobuf_json"]
    ):
        # our plain object -> Magenta.js NoteSequence.fromObject -> its bytes -> ours: the same
        assert NoteSequence.from_bytes(bytes.fromhex(encoded)) == sequence
        # our protobuf -> Magenta.js decode -> its toJSON (int64 strings, enum names) -> ours
        assert isinstance(canonical.get("totalQuantizedSteps", ""), str)
        assert NoteSequence.from_magenta_js(canonical) == sequence


# --- note_seq itself -------------------------------------------------------------------------------


def note_seq_python() -> str:
    """The python of the venv tools/note_seq_venv.sh makes (MELODYLIB_NOTE_SEQ_PYTHON)."""
    configured = os.environ.get("MELODYLIB_NOTE_SEQ_PYTHON")
    candidate = Path(configured) if configured else ROOT / ".venv-note-seq" / "bin" / "python"
    if not candidate.exists():
        missing(
            f"no note_seq venv at {candidate}: run tools/note_seq_venv.sh and set "
            "MELODYLIB_NOTE_SEQ_PYTHON to its bin/python"
        )
    return str(candidate)


def run_note_seq(*arguments: str | Path) -> dict:
    output = Path(arguments[-1])
    subprocess.run(
        [note_seq_python(), str(ROOT / "tools" / "note_seq_cross.py"), *map(str, arguments)],
        check=True,
        timeout=300,
    )
    return json.loads(output.read_text())


def dump(sequence: NoteSequence) -> dict:
    """Our sequence in the driver's dump form (tools/note_seq_cross.py `dump`)."""
    source_info = {"midi": [0, 3, 2], "musicxml": [1, 1, 1], "abc": [1, 2, 1]}
    return {
        "id": sequence.id,
        "filename": sequence.filename,
        "collection_name": sequence.collection_name,
        "reference_number": sequence.reference_number,
        "ticks_per_quarter": sequence.ticks_per_quarter,
        "total_time": sequence.total_time,
        "total_quantized_steps": sequence.total_quantized_steps,
        "steps_per_quarter": sequence.steps_per_quarter,
        "title": sequence.title,
        "source_info": source_info.get(sequence.source_type, [0, 0, 0]),
        "notes": [
            [
                n.pitch,
                n.velocity,
                n.start_time,
                n.end_time,
                n.instrument,
                n.program,
                n.is_drum,
                n.quantized_start_step,
                n.quantized_end_step,
                n.part,
                n.voice,
            ]
            for n in sequence.notes
        ],
        "tempos": [[t.time, t.qpm] for t in sequence.tempos],
        "time_signatures": [[t.time, t.numerator, t.denominator] for t in sequence.time_signatures],
        "key_signatures": [[k.time, k.key, k.mode] for k in sequence.key_signatures],
    }


def assert_same_music(ours: NoteSequence, theirs: dict) -> None:
    """Ids, notes, tempos, time and key signatures equal (times to TIME_TOLERANCE)."""
    assert (ours.id, ours.filename, ours.collection_name) == (
        theirs["id"],
        theirs["filename"],
        theirs["collection_name"],
    )
    our_notes = dump(ours)["notes"]
    assert len(our_notes) == len(theirs["notes"]), ours.filename
    for mine, other in zip(our_notes, theirs["notes"]):
        assert mine[:2] == other[:2] and mine[4:] == other[4:], ours.filename
        assert (
            abs(mine[2] - other[2]) <= TIME_TOLERANCE and abs(mine[3] - other[3]) <= TIME_TOLERANCE
        )
    assert [[t.time, t.qpm] for t in ours.tempos] == theirs["tempos"], ours.filename
    meters = [[t.time, t.numerator, t.denominator] for t in ours.time_signatures]
    assert len(meters) == len(theirs["time_signatures"])
    for mine, other in zip(meters, theirs["time_signatures"]):
        assert abs(mine[0] - other[0]) <= TIME_TOLERANCE and mine[1:] == other[1:]
    assert [[k.time, k.key, k.mode] for k in ours.key_signatures] == theirs["key_signatures"]


@pytest.fixture(scope="module")
def note_seq_tfrecord(tmp_path_factory) -> tuple[Path, dict]:
    """note_seq reads the real MIDI files and writes them as convert_dir_to_note_sequences does."""
    folder = tmp_path_factory.mktemp("note_seq")
    result = run_note_seq("write", REAL_MIDI, folder / "theirs.tfrecord", folder / "theirs.json")
    return folder / "theirs.tfrecord", result


def test_melodylib_reads_note_seqs_tfrecord(note_seq_tfrecord):
    path, theirs = note_seq_tfrecord
    sequences = list(read_note_sequences(path))
    assert len(sequences) == len(theirs["sequences"]) == 32
    for ours, their_dump in zip(sequences, theirs["sequences"]):
        assert dump(ours) == their_dump  # every field melodylib keeps, exactly
        assert_same_music(
            read_note_sequence(REAL_MIDI / ours.filename, input_dir=REAL_MIDI), their_dump
        )


def test_note_seq_reads_melodylibs_tfrecord(note_seq_tfrecord, tmp_path):
    _, note_seqs_own = note_seq_tfrecord
    ours = tmp_path / "ours.tfrecord"
    convert_directory(REAL_MIDI, ours, num_workers=1, progress=False, report=lambda line: None)
    read_back = run_note_seq("read", ours, tmp_path / "read.json")["sequences"]
    our_sequences = list(read_note_sequences(ours))
    assert len(read_back) == len(our_sequences) == 32
    their_reading = {sequence["filename"]: sequence for sequence in note_seqs_own["sequences"]}
    for sequence, as_note_seq_sees_it in zip(our_sequences, read_back):
        assert as_note_seq_sees_it == dump(sequence)  # exactly what we wrote
        assert_same_music(sequence, their_reading[sequence.filename])


def test_our_schema_is_note_seqs_and_works_on_the_oldest_protobuf_tensorflow_allows(
    note_seq_tfrecord, tmp_path
):
    schema_file = ROOT / "melodylib" / "music" / "notesequence_schema.py"
    path, _ = note_seq_tfrecord
    result = run_note_seq("schema", schema_file, path, tmp_path / "schema.json")
    spec = importlib.util.spec_from_file_location(
        "note_seq_cross", ROOT / "tools" / "note_seq_cross.py"
    )
    driver = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(driver)
    message_class = note_sequence_class()
    ours = driver.describe(message_class.DESCRIPTOR, "magenta.")
    ours.update(
        driver.describe(
            message_class.DESCRIPTOR.fields_by_name["sequence_metadata"].message_type, "magenta."
        )
    )
    assert ours == result["schema"]
    # note_seq's messages (control changes, pitch bends, instrument infos included) survive
    # being parsed and written again by our schema, on protobuf 6.31.1.
    assert result["sequences"] == 32 and result["same_messages"]
    assert result["protobuf"] == "6.31.1"
