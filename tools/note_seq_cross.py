"""Run note_seq 0.0.5's own code for tests/test_notesequence_proto.py's cross test.

Runs in the venv tools/note_seq_venv.sh makes, never in the project's. It loads note_seq's
`midi_io` and `protobuf.music_pb2` without the package's __init__ (which pulls in librosa, bokeh,
pandas and more that these two modules never use). Commands, each writing JSON to OUT:

  write MIDI_DIR TFRECORD OUT   read every .mid/.midi in MIDI_DIR with note_seq's MIDI reader,
                                give each sequence convert_dir_to_note_sequences' collection_name,
                                filename and id, write one serialized NoteSequence per TFRecord
                                record, and dump the sequences
  read TFRECORD OUT             parse every record with note_seq's NoteSequence and dump it
  schema SCHEMA_PY TFRECORD OUT note_seq's NoteSequence schema (every message's fields), and
                                whether melodylib's schema module (loaded from its file, on this
                                venv's protobuf) reads and writes the NoteSequences of TFRECORD
                                (made by `write`) without changing them

A dump is {"protobuf": version, "sequences": [...]} with the fields melodylib keeps; floats are
written with repr, so they are the exact doubles.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import os
import struct
import sys
import types
from pathlib import Path

_MASK_DELTA = 0xA282EAD8


def load_note_seq():
    """note_seq.midi_io and note_seq.protobuf.music_pb2, without running note_seq/__init__.py."""
    spec = importlib.util.find_spec("note_seq")
    if spec is None:
        raise SystemExit("note_seq is not installed here; run tools/note_seq_venv.sh")
    package = types.ModuleType("note_seq")
    package.__path__ = list(spec.submodule_search_locations)
    sys.modules["note_seq"] = package
    return (
        importlib.import_module("note_seq.midi_io"),
        importlib.import_module("note_seq.protobuf.music_pb2"),
    )


def masked_crc(data: bytes) -> int:
    import google_crc32c

    crc = google_crc32c.value(data)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + _MASK_DELTA) & 0xFFFFFFFF


def write_tfrecord(path: str, payloads: list[bytes]) -> None:
    """TFRecord framing: length, masked CRC-32C of the length, data, masked CRC-32C of the data."""
    with open(path, "wb") as handle:
        for payload in payloads:
            length = struct.pack("<Q", len(payload))
            handle.write(length + struct.pack("<I", masked_crc(length)))
            handle.write(payload + struct.pack("<I", masked_crc(payload)))


def read_tfrecord(path: str) -> list[bytes]:
    payloads = []
    with open(path, "rb") as handle:
        while header := handle.read(12):
            (length,) = struct.unpack("<Q", header[:8])
            payloads.append(handle.read(length))
            handle.read(4)
    return payloads


def dump(sequence) -> dict:
    """The fields melodylib keeps, as plain JSON values."""
    return {
        "id": sequence.id,
        "filename": sequence.filename,
        "collection_name": sequence.collection_name,
        "reference_number": sequence.reference_number,
        "ticks_per_quarter": sequence.ticks_per_quarter,
        "total_time": sequence.total_time,
        "total_quantized_steps": sequence.total_quantized_steps,
        "steps_per_quarter": sequence.quantization_info.steps_per_quarter,
        "title": sequence.sequence_metadata.title,
        "source_info": [
            sequence.source_info.source_type,
            sequence.source_info.encoding_type,
            sequence.source_info.parser,
        ],
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


def command_write(midi_dir: str, tfrecord: str) -> dict:
    midi_io, _ = load_note_seq()
    collection = os.path.basename(os.path.normpath(midi_dir))
    sequences = []
    for name in sorted(os.listdir(midi_dir)):
        if not name.lower().endswith((".mid", ".midi")):
            continue
        sequence = midi_io.midi_file_to_note_sequence(os.path.join(midi_dir, name))
        sequence.collection_name = collection
        sequence.filename = name
        sequence.id = f"/id/midi/{collection}/{hashlib.sha1(name.encode('utf-8')).hexdigest()}"
        sequences.append(sequence)
    write_tfrecord(tfrecord, [sequence.SerializeToString() for sequence in sequences])
    return {"sequences": [dump(sequence) for sequence in sequences]}


def command_read(tfrecord: str) -> dict:
    _, music_pb2 = load_note_seq()
    return {
        "sequences": [
            dump(music_pb2.NoteSequence.FromString(payload)) for payload in read_tfrecord(tfrecord)
        ]
    }


def describe(message_descriptor, prefix: str) -> dict:
    """Every field of a message and its nested messages, with type names relative to `prefix`."""
    described = {}
    for field in message_descriptor.fields:
        target = field.message_type or field.enum_type
        # protobuf 7 has only is_repeated; older versions only label (3 = repeated)
        repeated = getattr(field, "is_repeated", None)
        described[field.name] = [
            field.number,
            field.type,
            bool(field.label == 3 if repeated is None else repeated),
            target.full_name.removeprefix(prefix) if target else "",
            field.containing_oneof.name if field.containing_oneof else "",
        ]
    result = {message_descriptor.full_name.removeprefix(prefix): described}
    for nested in message_descriptor.nested_types:
        result.update(describe(nested, prefix))
    for enum in message_descriptor.enum_types:
        result[enum.full_name.removeprefix(prefix)] = {
            value.name: value.number for value in enum.values
        }
    return result


def command_schema(schema_path: str, tfrecord: str) -> dict:
    _, music_pb2 = load_note_seq()
    prefix = music_pb2.NoteSequence.DESCRIPTOR.file.package + "."
    schema = describe(music_pb2.NoteSequence.DESCRIPTOR, prefix)
    schema.update(describe(music_pb2.SequenceMetadata.DESCRIPTOR, prefix))
    spec = importlib.util.spec_from_file_location("melodylib_notesequence_schema", schema_path)
    ours = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ours)
    our_class = ours.note_sequence_class()
    same = []
    for payload in read_tfrecord(tfrecord):
        theirs = music_pb2.NoteSequence.FromString(payload)
        theirs.sequence_metadata.title = theirs.filename
        again = our_class.FromString(theirs.SerializeToString()).SerializeToString()
        same.append(music_pb2.NoteSequence.FromString(again) == theirs)
    return {"schema": schema, "sequences": len(same), "same_messages": all(same)}


def main(argv: list[str]) -> int:
    import google.protobuf

    command, *arguments, output = argv
    commands = {"write": command_write, "read": command_read, "schema": command_schema}
    result = commands[command](*arguments)
    result["protobuf"] = google.protobuf.__version__
    Path(output).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
