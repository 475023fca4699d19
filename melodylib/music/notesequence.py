"""The NoteSequence: our own plain-Python stand-in for note_seq's protobuf.

A NoteSequence is what every reader produces and every later stage consumes: notes with
pitch, velocity and times in seconds, plus tempos, time signatures and key signatures.
It is stored one sequence per record in TFRecord files (as compact JSON), and written
back to MIDI with pretty_midi.
"""

from __future__ import annotations

import dataclasses
import json
import os
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from melodylib.atomic import atomic_path
from melodylib.errors import MelodylibError
from melodylib.tfrecords import expand_paths, read_records, write_records  # noqa: F401 (re-exported)

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
    """A piece of music as notes in seconds, with its tempo, meter and key events and where it came from."""

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
        """A JSON-ready dict; notes are stored column by column to keep records small."""
        columns = self.note_arrays()
        return {
            "format_version": FORMAT_VERSION,
            "id": self.id,
            "filename": self.filename,
            "collection_name": self.collection_name,
            "source_type": self.source_type,
            "title": self.title,
            "total_time": self.total_time,
            "ticks_per_quarter": self.ticks_per_quarter,
            "notes": {name: column.tolist() for name, column in columns.items()},
            "tempos": [[t.time, t.qpm] for t in self.tempos],
            "time_signatures": [[t.time, t.numerator, t.denominator] for t in self.time_signatures],
            "key_signatures": [[k.time, k.key, k.mode] for k in self.key_signatures],
        }

    @classmethod
    def from_dict(cls, data: dict) -> NoteSequence:
        """Inverse of `to_dict`."""
        columns = data.get("notes", {})
        pitches = columns.get("pitch", [])
        notes = [
            Note(int(p), int(v), float(s), float(e), int(i), int(prog), bool(d))
            for p, v, s, e, i, prog, d in zip(
                pitches,
                columns.get("velocity", []),
                columns.get("start_time", []),
                columns.get("end_time", []),
                columns.get("instrument", []),
                columns.get("program", []),
                columns.get("is_drum", []),
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
        )

    @classmethod
    def from_record(cls, payload: bytes, source: str) -> NoteSequence:
        """`from_bytes` for a stored record; anything else raises MelodylibError naming `source`."""
        try:
            return cls.from_bytes(payload)
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            raise MelodylibError(
                f"{source} is not a NoteSequence ({type(error).__name__}: {error}); "
                "the file must come from write_note_sequences or `melody_rnn convert`"
            ) from None

    def to_bytes(self) -> bytes:
        return json.dumps(self.to_dict(), separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_bytes(cls, payload: bytes) -> NoteSequence:
        return cls.from_dict(json.loads(payload.decode("utf-8")))

    def copy(self) -> NoteSequence:
        """A deep copy (notes and events are copied too)."""
        return NoteSequence.from_dict(self.to_dict())

    def replace(self, **changes) -> NoteSequence:
        """A shallow copy with some fields replaced."""
        return dataclasses.replace(self, **changes)


def write_note_sequences(path: str | os.PathLike, sequences: Iterable[NoteSequence]) -> int:
    """Write NoteSequences to a TFRecord file, one record per sequence, atomically; returns the count."""
    return write_records(path, (sequence.to_bytes() for sequence in sequences))


def read_note_sequences(path_or_glob: str | os.PathLike) -> Iterator[NoteSequence]:
    """Yield the NoteSequences stored in a TFRecord file (or in every file matching a glob), in order."""
    for path in expand_paths(path_or_glob, "input"):
        try:
            records = read_records(path)
            for index, payload in enumerate(records):
                yield NoteSequence.from_record(payload, f"{path}: record {index}")
        except OSError as error:
            raise MelodylibError(f"cannot read {path}: {error.strerror or error}") from error


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
