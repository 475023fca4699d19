"""The NoteSequence: our own plain-Python stand-in for note_seq's protobuf.

A NoteSequence is what every reader produces and every later stage consumes: notes with
pitch, velocity and times in seconds, plus tempos, time signatures and key signatures.
It is stored one sequence per record in TFRecord files, as note_seq's `NoteSequence` protobuf
(the records Magenta's convert_dir_to_note_sequences writes, so each side reads the other's
files; schema in `notesequence_schema`) or as the compact JSON records melodylib wrote before;
readers accept both, record by record. It is written back to MIDI with pretty_midi.
"""

from __future__ import annotations

import dataclasses
import json
import os
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from melodylib.atomic import atomic_path
from melodylib.errors import MelodylibError
from melodylib.tfrecords import (  # noqa: F401 (re-exported)
    expand_paths,
    read_records,
    read_records_with_sources,
    write_records,
)

if TYPE_CHECKING:
    from google.protobuf.message import Message

DEFAULT_QPM = 120.0
STANDARD_PPQ = 220
FORMAT_VERSION = 1


@dataclass(slots=True)
class Note:
    """One sounding note; times in seconds, `instrument` is the track index in the source."""

    pitch: int
    velocity: int
    start_time: float
    end_time: float
    instrument: int = 0
    program: int = 0
    is_drum: bool = False
    quantized_start_step: int = 0
    quantized_end_step: int = 0
    part: int = 0
    voice: int = 0


@dataclass(slots=True)
class Tempo:
    """A tempo change: quarter notes per minute from `time` (seconds) on."""

    time: float
    qpm: float


@dataclass(slots=True)
class TimeSignature:
    """A time-signature change at `time` seconds, e.g. 3/4 is numerator 3, denominator 4."""

    time: float
    numerator: int
    denominator: int


@dataclass(slots=True)
class KeySignature:
    """A key change at `time` seconds: key 0..11 is the tonic's pitch class, mode 0 major, 1 minor."""

    time: float
    key: int
    mode: int = 0


@dataclass
class NoteSequence:
    """A piece of music as notes in seconds, with its tempo, meter and key events and where it came from.

    The fields are those of note_seq's protobuf (declared in `notesequence_schema`) that melody
    work uses, with two changes: `source_type` ("midi", "musicxml", "abc" or "") stands for
    `source_info`, and `title` for `sequence_metadata.title`. A sequence quantized elsewhere (a Magenta.js one) has
    `steps_per_quarter` (or `steps_per_second`) above 0, `total_quantized_steps` and each note's
    quantized steps; melodylib's own quantization builds a `QuantizedSequence` instead.
    """

    notes: list[Note] = field(default_factory=list)
    tempos: list[Tempo] = field(default_factory=list)
    time_signatures: list[TimeSignature] = field(default_factory=list)
    key_signatures: list[KeySignature] = field(default_factory=list)
    total_time: float = 0.0
    ticks_per_quarter: int = STANDARD_PPQ
    id: str = ""
    filename: str = ""
    collection_name: str = ""
    source_type: str = ""  # "midi", "musicxml" or "abc"
    title: str = ""
    reference_number: int = 0
    total_quantized_steps: int = 0
    steps_per_quarter: int = 0
    steps_per_second: int = 0

    def note_arrays(self) -> dict[str, np.ndarray]:
        """The notes as columns of numpy arrays (pitch, velocity, start_time, end_time, ...)."""
        notes = self.notes
        return {
            "pitch": np.fromiter((n.pitch for n in notes), dtype=np.int64, count=len(notes)),
            "velocity": np.fromiter((n.velocity for n in notes), dtype=np.int64, count=len(notes)),
            "start_time": np.fromiter(
                (n.start_time for n in notes), dtype=np.float64, count=len(notes)
            ),
            "end_time": np.fromiter(
                (n.end_time for n in notes), dtype=np.float64, count=len(notes)
            ),
            "instrument": np.fromiter(
                (n.instrument for n in notes), dtype=np.int64, count=len(notes)
            ),
            "program": np.fromiter((n.program for n in notes), dtype=np.int64, count=len(notes)),
            "is_drum": np.fromiter((n.is_drum for n in notes), dtype=bool, count=len(notes)),
        }

    # --- serialisation -------------------------------------------------------------------
    def to_dict(self) -> dict:
        """melodylib's JSON record as a dict; notes are stored column by column to keep records small.

        Fields that are zero in every sequence melodylib reads (quantized steps, part, voice,
        reference number, quantization) are stored only when set, so older records keep their
        exact bytes.
        """
        columns = {name: column.tolist() for name, column in self.note_arrays().items()}
        for name in _OPTIONAL_NOTE_COLUMNS:
            values = [getattr(note, name) for note in self.notes]
            if any(values):
                columns[name] = values
        data = {
            "format_version": FORMAT_VERSION,
            "id": self.id,
            "filename": self.filename,
            "collection_name": self.collection_name,
            "source_type": self.source_type,
            "title": self.title,
            "total_time": self.total_time,
            "ticks_per_quarter": self.ticks_per_quarter,
            "notes": columns,
            "tempos": [[t.time, t.qpm] for t in self.tempos],
            "time_signatures": [[t.time, t.numerator, t.denominator] for t in self.time_signatures],
            "key_signatures": [[k.time, k.key, k.mode] for k in self.key_signatures],
        }
        data.update(
            {name: getattr(self, name) for name in _OPTIONAL_SCALARS if getattr(self, name)}
        )
        return data

    @classmethod
    def from_dict(cls, data: dict) -> NoteSequence:
        """Inverse of `to_dict`."""
        columns = data.get("notes", {})
        pitches = columns.get("pitch", [])
        optional = [columns.get(name) or [0] * len(pitches) for name in _OPTIONAL_NOTE_COLUMNS]
        notes = [
            Note(int(p), int(v), float(s), float(e), int(i), int(prog), bool(d), *map(int, extra))
            for p, v, s, e, i, prog, d, *extra in zip(
                pitches,
                columns.get("velocity", []),
                columns.get("start_time", []),
                columns.get("end_time", []),
                columns.get("instrument", []),
                columns.get("program", []),
                columns.get("is_drum", []),
                *optional,
            )
        ]
        return cls(
            notes=notes,
            tempos=[Tempo(float(t), float(q)) for t, q in data.get("tempos", [])],
            time_signatures=[
                TimeSignature(float(t), int(n), int(d))
                for t, n, d in data.get("time_signatures", [])
            ],
            key_signatures=[
                KeySignature(float(t), int(k), int(m)) for t, k, m in data.get("key_signatures", [])
            ],
            total_time=float(data.get("total_time", 0.0)),
            ticks_per_quarter=int(data.get("ticks_per_quarter", STANDARD_PPQ)),
            id=data.get("id", ""),
            filename=data.get("filename", ""),
            collection_name=data.get("collection_name", ""),
            source_type=data.get("source_type", ""),
            title=data.get("title", ""),
            **{name: int(data.get(name, 0)) for name in _OPTIONAL_SCALARS},
        )

    def to_proto(self) -> Message:
        """This sequence as a `magenta.NoteSequence` protobuf message (note_seq's schema)."""
        return _to_message(self)

    @classmethod
    def from_proto(cls, message: Message) -> NoteSequence:
        """A NoteSequence from a NoteSequence message: ours (`to_proto`) or note_seq's `music_pb2` one.

        Pitch bends, control changes, text and section annotations, part and instrument infos
        and subsequence info have no place here and are dropped.
        """
        return _from_message(cls, message)

    def to_magenta_js(self) -> dict:
        """This sequence as the plain object Magenta.js uses (camelCase names, plain numbers).

        `json.dumps` it for a `.json` file, or pass it to Magenta.js code as an INoteSequence.
        """
        from melodylib.music.magenta_js_json import plain_object

        return plain_object(self)

    @classmethod
    def from_magenta_js(
        cls,
        data: dict | str | bytes,
        source: str = "the NoteSequence JSON",
        fill_missing: bool = True,
    ) -> NoteSequence:
        """A NoteSequence from Magenta.js JSON (a plain object, protobuf.js `toJSON()`, or
        Python's json_format output; camelCase or snake_case), as a dict or JSON text.

        Notes from a Magenta.js model have steps but no times or velocities: unless
        `fill_missing` is False they get times from their steps and velocity 80, as Magenta.js
        plays them (melodylib.music.magenta_js_json). `source` names the input in the
        MelodylibError raised for anything that is not a NoteSequence.
        """
        from melodylib.music.magenta_js_json import parse

        return _from_message(cls, parse(data, source, fill_missing))

    @classmethod
    def from_record(cls, payload: bytes, source: str) -> NoteSequence:
        """`from_bytes` for a stored record; anything else raises MelodylibError naming `source`."""
        try:
            return cls.from_bytes(payload)
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            raise MelodylibError(
                f"{source} is not a NoteSequence ({error}); the file must hold NoteSequences "
                "from `melody_rnn convert`, write_note_sequences or Magenta's "
                "convert_dir_to_note_sequences"
            ) from None

    def to_bytes(self, output_format: str = "protobuf") -> bytes:
        """One record: a serialized note_seq NoteSequence protobuf, or melodylib's JSON ("json")."""
        if output_format == "protobuf":
            return _to_message(self).SerializeToString()
        if output_format == "json":
            return json.dumps(self.to_dict(), separators=(",", ":")).encode("utf-8")
        raise MelodylibError(
            f"unknown NoteSequence output format '{output_format}'; use one of {OUTPUT_FORMATS}"
        )

    @classmethod
    def from_bytes(cls, payload: bytes) -> NoteSequence:
        """Read one record in either form: JSON records start with "{", which no protobuf does.

        (The byte "{" would be field 15 as a group, and field 15, quantization_info, is a message.)
        Raises ValueError when the record is neither.
        """
        if payload[:1] == b"{":
            return cls.from_dict(json.loads(payload.decode("utf-8")))
        return _from_message(cls, _parse_message(payload))

    def copy(self) -> NoteSequence:
        """A deep copy (notes and events are copied too)."""
        return NoteSequence.from_dict(self.to_dict())

    def replace(self, **changes) -> NoteSequence:
        """A shallow copy with some fields replaced."""
        return dataclasses.replace(self, **changes)


# --- the protobuf form ---------------------------------------------------------------------------
OUTPUT_FORMATS = ("protobuf", "json")
_OPTIONAL_NOTE_COLUMNS = ("quantized_start_step", "quantized_end_step", "part", "voice")
_OPTIONAL_SCALARS = (
    "reference_number",
    "total_quantized_steps",
    "steps_per_quarter",
    "steps_per_second",
)


def _to_message(sequence: NoteSequence) -> Message:
    from melodylib.music.notesequence_schema import SOURCE_INFO, note_sequence_class

    message = note_sequence_class()(
        id=sequence.id,
        filename=sequence.filename,
        reference_number=sequence.reference_number,
        collection_name=sequence.collection_name,
        ticks_per_quarter=sequence.ticks_per_quarter,
        total_time=sequence.total_time,
        total_quantized_steps=sequence.total_quantized_steps,
    )
    for signature in sequence.time_signatures:
        message.time_signatures.add(
            time=signature.time, numerator=signature.numerator, denominator=signature.denominator
        )
    for key in sequence.key_signatures:
        message.key_signatures.add(time=key.time, key=key.key, mode=key.mode)
    for tempo in sequence.tempos:
        message.tempos.add(time=tempo.time, qpm=tempo.qpm)
    add_note = message.notes.add
    for note in sequence.notes:
        add_note(
            pitch=note.pitch,
            velocity=note.velocity,
            start_time=note.start_time,
            end_time=note.end_time,
            quantized_start_step=note.quantized_start_step,
            quantized_end_step=note.quantized_end_step,
            instrument=note.instrument,
            program=note.program,
            is_drum=note.is_drum,
            part=note.part,
            voice=note.voice,
        )
    if sequence.source_type in SOURCE_INFO:
        source_type, encoding_type, parser = SOURCE_INFO[sequence.source_type]
        message.source_info.source_type = source_type
        message.source_info.encoding_type = encoding_type
        message.source_info.parser = parser
    if sequence.steps_per_quarter:
        message.quantization_info.steps_per_quarter = sequence.steps_per_quarter
    elif sequence.steps_per_second:
        message.quantization_info.steps_per_second = sequence.steps_per_second
    if sequence.title:
        message.sequence_metadata.title = sequence.title
    return message


def _from_message(cls: type[NoteSequence], message: Message) -> NoteSequence:
    from melodylib.music.notesequence_schema import SOURCE_TYPE_OF_ENCODING

    notes = [
        Note(
            note.pitch,
            note.velocity,
            note.start_time,
            note.end_time,
            note.instrument,
            note.program,
            note.is_drum,
            note.quantized_start_step,
            note.quantized_end_step,
            note.part,
            note.voice,
        )
        for note in message.notes
    ]
    return cls(
        notes=notes,
        tempos=[Tempo(tempo.time, tempo.qpm) for tempo in message.tempos],
        time_signatures=[
            TimeSignature(meter.time, meter.numerator, meter.denominator)
            for meter in message.time_signatures
        ],
        key_signatures=[
            KeySignature(key.time, key.key, key.mode) for key in message.key_signatures
        ],
        total_time=message.total_time,
        ticks_per_quarter=message.ticks_per_quarter,
        id=message.id,
        filename=message.filename,
        collection_name=message.collection_name,
        source_type=SOURCE_TYPE_OF_ENCODING.get(message.source_info.encoding_type, ""),
        title=message.sequence_metadata.title,
        reference_number=message.reference_number,
        total_quantized_steps=message.total_quantized_steps,
        steps_per_quarter=message.quantization_info.steps_per_quarter,
        steps_per_second=message.quantization_info.steps_per_second,
    )


def _parse_message(payload: bytes) -> Message:
    """Parse a serialized NoteSequence; ValueError when it is not one."""
    from google.protobuf.message import DecodeError

    from melodylib.music.notesequence_schema import note_sequence_class

    message = note_sequence_class()()
    try:
        message.ParseFromString(payload)
    except DecodeError as error:
        # A SequenceExample without context (create_dataset's output) starts with field 2.
        hint = (
            "; it looks like a SequenceExample of encoded melodies (create_dataset's output)"
            if payload[:1] == b"\x12"
            else ""
        )
        raise ValueError(
            f"neither melodylib's JSON nor a NoteSequence protobuf: {error}{hint}"
        ) from None
    if payload and not message.ListFields():
        raise ValueError("a protobuf without any NoteSequence field")
    return message


def write_note_sequences(
    path: str | os.PathLike, sequences: Iterable[NoteSequence], output_format: str = "protobuf"
) -> int:
    """Write NoteSequences to a TFRecord file, one record per sequence, atomically; returns the count.

    Records are note_seq NoteSequence protobufs, which Magenta reads; `output_format="json"`
    writes melodylib's older JSON records instead.
    """
    if output_format not in OUTPUT_FORMATS:
        raise MelodylibError(
            f"unknown NoteSequence output format '{output_format}'; use one of {OUTPUT_FORMATS}"
        )
    return write_records(path, (sequence.to_bytes(output_format) for sequence in sequences))


def read_note_sequences(path_or_glob: str | os.PathLike) -> Iterator[NoteSequence]:
    """Yield the NoteSequences stored in a TFRecord file (or in every file matching a glob), in order.

    Each record may be a note_seq NoteSequence protobuf (Magenta's convert_dir_to_note_sequences,
    `melody_rnn convert`) or melodylib's older JSON record; GZIP-compressed files are read too.
    """
    records = read_records_with_sources(path_or_glob, "input")
    while True:
        try:
            found = next(records, None)
        except OSError as error:
            name = getattr(error, "filename", None) or path_or_glob
            raise MelodylibError(f"cannot read {name}: {error.strerror or error}") from error
        if found is None:
            return
        path, index, payload = found
        yield NoteSequence.from_record(payload, f"{path}: record {index}")


def write_magenta_js_json(
    path: str | os.PathLike, sequences: NoteSequence | Iterable[NoteSequence]
) -> None:
    """Write one NoteSequence (as an object) or several (as a list) to a Magenta.js JSON file, atomically."""
    if isinstance(sequences, NoteSequence):
        data: dict | list = sequences.to_magenta_js()
    else:
        data = [sequence.to_magenta_js() for sequence in sequences]
    with atomic_path(path) as temporary:
        try:
            temporary.write_text(json.dumps(data), encoding="utf-8")
        except OSError as error:
            raise MelodylibError(f"cannot write {path}: {error.strerror or error}") from error


def read_magenta_js_json(path: str | os.PathLike) -> list[NoteSequence]:
    """The NoteSequences in a Magenta.js JSON file: one object, or a list of them."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or error
        raise MelodylibError(f"cannot read {path}: {reason}") from error
    try:
        data = json.loads(text)
    except ValueError as error:
        raise MelodylibError(f"{path} is not JSON ({error})") from None
    if isinstance(data, list):
        return [
            NoteSequence.from_magenta_js(item, f"{path}: sequence {index}")
            for index, item in enumerate(data)
        ]
    return [NoteSequence.from_magenta_js(data, str(path))]


# --- MIDI output ---------------------------------------------------------------------------------
# MIDI stores a tempo as microseconds per quarter note in 3 bytes.
_MIN_MIDI_QPM = 60_000_000 / 0xFFFFFF
_MAX_MIDI_QPM = 60_000_000.0


def _check_qpm(qpm: float) -> None:
    if not (_MIN_MIDI_QPM <= qpm <= _MAX_MIDI_QPM):
        raise MelodylibError(
            f"tempo {qpm} qpm cannot be written to MIDI (allowed {_MIN_MIDI_QPM:.3f} to {_MAX_MIDI_QPM:.0f} qpm)"
        )


def _set_tempo_map(midi, tempos: list[Tempo], resolution: int) -> None:
    """Give `midi` (a fresh PrettyMIDI) every tempo change, not only the initial one.

    pretty_midi's constructor takes one initial tempo; later changes live in its `_tick_scales`
    list of (tick, seconds per tick). We build that list from the tempo times in seconds, rounding
    each change to the nearest tick and measuring later times from that rounded tick.
    """
    ordered = sorted(tempos, key=lambda tempo: tempo.time)
    for tempo in ordered:
        _check_qpm(tempo.qpm)
    initial_qpm = ordered[0].qpm if ordered and ordered[0].time <= 1e-9 else DEFAULT_QPM
    scales = [(0, 60.0 / (initial_qpm * resolution))]
    last_time = 0.0
    for tempo in ordered:
        if tempo.time <= 1e-9:
            continue
        last_tick, last_scale = scales[-1]
        scale = 60.0 / (tempo.qpm * resolution)
        if scale == last_scale:  # not a change
            continue
        tick = last_tick + int(round((tempo.time - last_time) / last_scale))
        if tick == last_tick:  # two changes on one tick: the later one wins
            scales[-1] = (tick, scale)
            continue
        last_time += (tick - last_tick) * last_scale
        scales.append((tick, scale))
    midi._tick_scales = scales
    midi._update_tick_to_time(scales[-1][0] + 1)


def note_sequence_to_pretty_midi(sequence: NoteSequence) -> pretty_midi.PrettyMIDI:  # noqa: F821
    """A pretty_midi object for `sequence`: one Instrument per (instrument, program, is_drum), all tempo,
    time-signature and key changes.

    Time signatures MIDI cannot store (a denominator that is not a power of 2) are left out with a
    warning. A note that would round to zero ticks is lengthened to one tick, because a note-on and
    note-off on the same tick is read back as a note that never ends.
    """
    import pretty_midi

    resolution = sequence.ticks_per_quarter if sequence.ticks_per_quarter > 0 else STANDARD_PPQ
    midi = pretty_midi.PrettyMIDI(resolution=resolution)
    _set_tempo_map(midi, sequence.tempos, resolution)
    for signature in sorted(sequence.time_signatures, key=lambda event: event.time):
        denominator = signature.denominator
        if not (
            1 <= signature.numerator <= 255
            and denominator >= 1
            and denominator & (denominator - 1) == 0
        ):
            warnings.warn(
                f"time signature {signature.numerator}/{denominator} cannot be written to MIDI; left out",
                stacklevel=2,
            )
            continue
        midi.time_signature_changes.append(
            pretty_midi.TimeSignature(
                int(signature.numerator), int(denominator), max(0.0, float(signature.time))
            )
        )
    for key in sorted(sequence.key_signatures, key=lambda event: event.time):
        key_number = int(key.key) % 12 + (12 if key.mode == 1 else 0)
        midi.key_signature_changes.append(
            pretty_midi.KeySignature(key_number, max(0.0, float(key.time)))
        )

    instruments: dict[tuple[int, int, bool], object] = {}
    for note in sequence.notes:
        if not 0 <= note.pitch <= 127:
            raise MelodylibError(
                f"note pitch {note.pitch} at {note.start_time:.3f} s cannot be written to MIDI (0..127)"
            )
        if not 0 <= note.program <= 127:
            raise MelodylibError(f"program {note.program} cannot be written to MIDI (0..127)")
        key = (int(note.instrument), int(note.program), bool(note.is_drum))
        if key not in instruments:
            instruments[key] = pretty_midi.Instrument(program=key[1], is_drum=key[2])
        start = max(0.0, float(note.start_time))
        end = max(start, float(note.end_time))
        if midi.time_to_tick(end) <= midi.time_to_tick(start):
            end = float(midi.tick_to_time(midi.time_to_tick(start) + 1))
        velocity = min(127, max(1, int(note.velocity)))  # velocity 0 would be a note-off
        instruments[key].notes.append(pretty_midi.Note(velocity, int(note.pitch), start, end))
    midi.instruments = [instruments[key] for key in sorted(instruments)]
    return midi


def write_midi(sequence: NoteSequence, path: str | os.PathLike) -> None:
    """Write `sequence` to a standard MIDI file (type 1) atomically."""
    midi = note_sequence_to_pretty_midi(sequence)
    with atomic_path(path) as temporary:
        try:
            midi.write(str(temporary))
        except OSError as error:
            raise MelodylibError(f"cannot write {path}: {error.strerror or error}") from error
