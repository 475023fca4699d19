"""note_seq's NoteSequence protobuf schema, declared here so melodylib reads and writes Magenta's files.

Magenta's `convert_dir_to_note_sequences` writes one serialized `NoteSequence` (note_seq's
music.proto, package `magenta`) per TFRecord record. This module declares the same messages,
with the same field names, numbers and types (note_seq's note_seq/protobuf/music.proto; the old
package name `tensorflow.magenta`, which Magenta.js keeps, has the same numbers, and the wire
format carries only numbers), and builds the message classes on first use with the `protobuf`
package alone: no protoc, no generated code, no note_seq. The descriptors live in a pool of their own, so a process that also imports
note_seq (which registers its own `magenta.NoteSequence`) sees no clash.

The declaration is a table: each message is a list of "name number type" lines, where type is
a scalar type, a message or enum name, optionally after "repeated"; oneof members end with
"oneof:<name>". Building it costs a few milliseconds.
"""

from __future__ import annotations

import functools

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

PACKAGE = "magenta"
FILE_NAME = "melodylib/music/note_sequence.proto"

# Messages nested in NoteSequence, as in note_seq (NoteSequence.Note, NoteSequence.Tempo, ...).
_NESTED_MESSAGES: dict[str, str] = {
    "Note": """
        pitch 1 int32
        pitch_name 11 PitchName
        velocity 2 int32
        start_time 3 double
        quantized_start_step 13 int64
        end_time 4 double
        quantized_end_step 14 int64
        numerator 5 int32
        denominator 6 int32
        instrument 7 int32
        program 8 int32
        is_drum 9 bool
        part 10 int32
        voice 12 int32
    """,
    "TimeSignature": "time 1 double; numerator 2 int32; denominator 3 int32",
    "KeySignature": "time 1 double; key 2 KeySignature.Key; mode 3 KeySignature.Mode",
    "Tempo": "time 1 double; qpm 2 double",
    "PitchBend": "time 1 double; bend 2 int32; instrument 3 int32; program 4 int32; is_drum 5 bool",
    "ControlChange": """
        time 1 double
        quantized_step 7 int64
        control_number 2 int32
        control_value 3 int32
        instrument 4 int32
        program 5 int32
        is_drum 6 bool
    """,
    "PartInfo": "part 1 int32; name 2 string",
    "InstrumentInfo": "instrument 1 int32; name 2 string",
    "SourceInfo": """
        source_type 1 SourceInfo.SourceType
        encoding_type 2 SourceInfo.EncodingType
        parser 3 SourceInfo.Parser
    """,
    "TextAnnotation": """
        time 1 double
        quantized_step 4 int64
        text 2 string
        annotation_type 3 TextAnnotation.TextAnnotationType
    """,
    "QuantizationInfo": (
        "steps_per_quarter 1 int32 oneof:resolution; steps_per_second 2 int32 oneof:resolution"
    ),
    "SubsequenceInfo": "start_time_offset 1 double; end_time_offset 2 double",
    "SectionAnnotation": "time 1 double; section_id 4 int64",
    "Section": (
        "section_id 1 int64 oneof:section_type; section_group 2 SectionGroup oneof:section_type"
    ),
    "SectionGroup": "sections 1 repeated Section; num_times 2 int32",
}

_NOTE_SEQUENCE = """
    id 1 string
    filename 2 string
    reference_number 18 int64
    collection_name 3 string
    ticks_per_quarter 4 int32
    time_signatures 5 repeated TimeSignature
    key_signatures 6 repeated KeySignature
    tempos 7 repeated Tempo
    notes 8 repeated Note
    total_time 9 double
    total_quantized_steps 16 int64
    pitch_bends 10 repeated PitchBend
    control_changes 11 repeated ControlChange
    part_infos 12 repeated PartInfo
    source_info 13 SourceInfo
    text_annotations 14 repeated TextAnnotation
    section_annotations 20 repeated SectionAnnotation
    section_groups 21 repeated SectionGroup
    quantization_info 15 QuantizationInfo
    subsequence_info 17 SubsequenceInfo
    sequence_metadata 19 .SequenceMetadata
    instrument_infos 23 repeated InstrumentInfo
"""

_SEQUENCE_METADATA = (
    "title 1 string; artist 2 string; genre 3 repeated string; composers 4 repeated string"
)

# PitchName numbers run along the line of fifths, F to B, from double flats to double sharps.
_PITCH_NAMES = ["UNKNOWN_PITCH_NAME"] + [
    letter + accidental
    for accidental in ("_FLAT_FLAT", "_FLAT", "", "_SHARP", "_SHARP_SHARP")
    for letter in "FCGDAEB"
]

# Enums: where they are declared (a message path), and their (name, number) values in order.
KEY_NAMES = (
    ("C", 0), ("C_SHARP", 1), ("D_FLAT", 1), ("D", 2), ("D_SHARP", 3), ("E_FLAT", 3), ("E", 4),
    ("F", 5), ("F_SHARP", 6), ("G_FLAT", 6), ("G", 7), ("G_SHARP", 8), ("A_FLAT", 8), ("A", 9),
    ("A_SHARP", 10), ("B_FLAT", 10), ("B", 11),
)  # fmt: skip
MODE_NAMES = (
    ("MAJOR", 0), ("MINOR", 1), ("NOT_SPECIFIED", 2), ("MIXOLYDIAN", 3), ("DORIAN", 4),
    ("PHRYGIAN", 5), ("LYDIAN", 6), ("LOCRIAN", 7),
)  # fmt: skip
_ENUMS: dict[tuple[str, str], tuple[tuple[str, int], ...]] = {
    ("", "PitchName"): tuple((name, number) for number, name in enumerate(_PITCH_NAMES)),
    ("KeySignature", "Key"): KEY_NAMES,
    ("KeySignature", "Mode"): MODE_NAMES,
    ("SourceInfo", "SourceType"): (
        ("UNKNOWN_SOURCE_TYPE", 0), ("SCORE_BASED", 1), ("PERFORMANCE_BASED", 2),
    ),
    ("SourceInfo", "EncodingType"): (
        ("UNKNOWN_ENCODING_TYPE", 0), ("MUSIC_XML", 1), ("ABC", 2), ("MIDI", 3), ("MUSICNET", 4),
    ),
    ("SourceInfo", "Parser"): (
        ("UNKNOWN_PARSER", 0), ("MUSIC21", 1), ("PRETTY_MIDI", 2), ("MAGENTA_MUSIC_XML", 3),
        ("MAGENTA_MUSICNET", 4), ("MAGENTA_ABC", 5), ("TONEJS_MIDI_CONVERT", 6),
    ),
    ("TextAnnotation", "TextAnnotationType"): (("UNKNOWN", 0), ("CHORD_SYMBOL", 1), ("BEAT", 2)),
}  # fmt: skip

# melodylib's `source_type` -> note_seq's SourceInfo numbers (source_type, encoding_type, parser),
# as note_seq's own readers fill them for MIDI (pretty_midi); our MusicXML and ABC readers use
# music21, so they are score-based, parsed by MUSIC21.
SOURCE_INFO = {"midi": (0, 3, 2), "musicxml": (1, 1, 1), "abc": (1, 2, 1)}
SOURCE_TYPE_OF_ENCODING = {encoding: name for name, (_, encoding, _) in SOURCE_INFO.items()}

_FIELD = descriptor_pb2.FieldDescriptorProto
_SCALARS = {
    "double": _FIELD.TYPE_DOUBLE,
    "int32": _FIELD.TYPE_INT32,
    "int64": _FIELD.TYPE_INT64,
    "bool": _FIELD.TYPE_BOOL,
    "string": _FIELD.TYPE_STRING,
}
_ENUM_TYPES = {
    (path + "." if path else "") + name for path, name in _ENUMS
}  # names relative to NoteSequence


def _field_lines(table: str) -> list[list[str]]:
    """The "name number [repeated] type [oneof:x]" entries of a table, split into words."""
    return [
        entry.split() for line in table.splitlines() for entry in line.split(";") if entry.strip()
    ]


def _add_fields(message: descriptor_pb2.DescriptorProto, table: str) -> None:
    """Append the fields of `table` to `message`; type names resolve inside `magenta.NoteSequence`."""
    oneofs: dict[str, int] = {}
    for words in _field_lines(table):
        name, number, *rest = words
        field = message.field.add(name=name, number=int(number), label=_FIELD.LABEL_OPTIONAL)
        if rest[0] == "repeated":
            field.label = _FIELD.LABEL_REPEATED
            rest = rest[1:]
        type_name, options = rest[0], rest[1:]
        if type_name in _SCALARS:
            field.type = _SCALARS[type_name]
        else:
            top_level = type_name.startswith(".")
            field.type_name = (
                f".{PACKAGE}{type_name}" if top_level else f".{PACKAGE}.NoteSequence.{type_name}"
            )
            field.type = _FIELD.TYPE_ENUM if type_name in _ENUM_TYPES else _FIELD.TYPE_MESSAGE
        for option in options:
            oneof = option.removeprefix("oneof:")
            if oneof not in oneofs:
                oneofs[oneof] = len(message.oneof_decl)
                message.oneof_decl.add(name=oneof)
            field.oneof_index = oneofs[oneof]


def _add_enum(parent, name: str, values: tuple[tuple[str, int], ...]) -> None:
    enum = parent.enum_type.add(name=name)
    for value_name, number in values:
        enum.value.add(name=value_name, number=number)
    if len({number for _, number in values}) < len(values):
        enum.options.allow_alias = True


def file_descriptor_proto() -> descriptor_pb2.FileDescriptorProto:
    """The schema as a FileDescriptorProto (proto3, package `magenta`), built from the tables above."""
    schema = descriptor_pb2.FileDescriptorProto(name=FILE_NAME, package=PACKAGE, syntax="proto3")
    note_sequence = schema.message_type.add(name="NoteSequence")
    _add_fields(note_sequence, _NOTE_SEQUENCE)
    nested = {}
    for name, table in _NESTED_MESSAGES.items():
        nested[name] = note_sequence.nested_type.add(name=name)
        _add_fields(nested[name], table)
    for (path, name), values in _ENUMS.items():
        _add_enum(nested[path] if path else note_sequence, name, values)
    _add_fields(schema.message_type.add(name="SequenceMetadata"), _SEQUENCE_METADATA)
    return schema


@functools.cache
def _message_classes() -> dict[str, type]:
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file_descriptor_proto())
    # GetMessageClass came with protobuf 4.22 (TensorFlow 2.16 still allows 3.20, which has
    # only MessageFactory.GetPrototype; protobuf 5 removed that).
    get_class = getattr(message_factory, "GetMessageClass", None)
    if get_class is None:
        get_class = message_factory.MessageFactory(pool).GetPrototype
    return {
        name: get_class(pool.FindMessageTypeByName(f"{PACKAGE}.{name}"))
        for name in ("NoteSequence", "SequenceMetadata")
    }


def note_sequence_class() -> type:
    """The `magenta.NoteSequence` message class (built once, on first use)."""
    return _message_classes()["NoteSequence"]
