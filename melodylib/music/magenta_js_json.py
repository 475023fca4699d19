"""NoteSequences as JSON the way Magenta.js writes and reads them.

Magenta.js passes NoteSequences around as plain objects with camelCase names and plain numbers
(`{notes: [{pitch, startTime, endTime, velocity, ...}], totalTime, tempos, ...}`), the form
`plain_object` writes. Reading accepts that form and the others in use: protobuf.js's
`toJSON()` and Python's `json_format` (proto3 canonical JSON: int64 as strings, enums as names,
default values left out) and snake_case names, because everything goes through the protobuf JSON
parser into note_seq's schema.

Magenta.js models return quantized sequences whose notes have steps but neither times nor
velocities. Reading one fills both in as Magenta.js itself does before it plays or writes MIDI:
times from the steps at the first tempo (else 120 qpm), like its `unquantizeSequence`, and
velocity 80 (its DEFAULT_VELOCITY) for a note without one, so the notes are neither piled up at
0 s nor silent.

This module knows the NoteSequence only by its attribute names: `NoteSequence.to_magenta_js` and
`NoteSequence.from_magenta_js` are the way in.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from melodylib.errors import MelodylibError
from melodylib.music.notesequence_schema import SOURCE_INFO, note_sequence_class

if TYPE_CHECKING:
    from google.protobuf.message import Message

DEFAULT_QPM = 120.0
DEFAULT_VELOCITY = 80  # Magenta.js's, for notes that have none


def plain_object(sequence: Any) -> dict:
    """A melodylib NoteSequence as a Magenta.js `INoteSequence` plain object (camelCase, numbers).

    Every field melodylib keeps is written; quantized steps only for a quantized sequence (or
    when set), part and voice only when set, so `parse` gives the same sequence back exactly.
    """
    quantized = bool(sequence.steps_per_quarter or sequence.steps_per_second)
    notes = []
    for note in sequence.notes:
        entry = {
            "pitch": note.pitch,
            "velocity": note.velocity,
            "startTime": note.start_time,
            "endTime": note.end_time,
            "instrument": note.instrument,
            "program": note.program,
            "isDrum": note.is_drum,
        }
        if quantized or note.quantized_start_step or note.quantized_end_step:
            entry["quantizedStartStep"] = note.quantized_start_step
            entry["quantizedEndStep"] = note.quantized_end_step
        for name in ("part", "voice"):
            if getattr(note, name):
                entry[name] = getattr(note, name)
        notes.append(entry)
    data: dict[str, Any] = {
        "ticksPerQuarter": sequence.ticks_per_quarter,
        "totalTime": sequence.total_time,
        "tempos": [{"time": tempo.time, "qpm": tempo.qpm} for tempo in sequence.tempos],
        "timeSignatures": [
            {"time": meter.time, "numerator": meter.numerator, "denominator": meter.denominator}
            for meter in sequence.time_signatures
        ],
        "keySignatures": [
            {"time": key.time, "key": key.key, "mode": key.mode} for key in sequence.key_signatures
        ],
        "notes": notes,
    }
    for name, key in (
        ("id", "id"),
        ("filename", "filename"),
        ("collection_name", "collectionName"),
    ):
        if getattr(sequence, name):
            data[key] = getattr(sequence, name)
    if sequence.reference_number:
        data["referenceNumber"] = sequence.reference_number
    if quantized or sequence.total_quantized_steps:
        data["totalQuantizedSteps"] = sequence.total_quantized_steps
    if sequence.steps_per_quarter:
        data["quantizationInfo"] = {"stepsPerQuarter": sequence.steps_per_quarter}
    elif sequence.steps_per_second:
        data["quantizationInfo"] = {"stepsPerSecond": sequence.steps_per_second}
    if sequence.source_type in SOURCE_INFO:
        source_type, encoding_type, parser = SOURCE_INFO[sequence.source_type]
        data["sourceInfo"] = {
            "sourceType": source_type,
            "encodingType": encoding_type,
            "parser": parser,
        }
    if sequence.title:
        data["sequenceMetadata"] = {"title": sequence.title}
    return data


def parse(
    data: dict | str | bytes, source: str = "the NoteSequence JSON", fill_missing: bool = True
) -> Message:
    """A `magenta.NoteSequence` message from Magenta.js JSON (an object, or its JSON text).

    `source` names the input in errors. With `fill_missing` (the default), notes without a
    velocity get DEFAULT_VELOCITY, and a quantized sequence whose notes all have zero times gets
    times from its steps (see the module docstring).
    """
    from google.protobuf import json_format

    if isinstance(data, (str, bytes, bytearray)):
        try:
            data = json.loads(data)
        except ValueError as error:
            raise MelodylibError(f"{source} is not JSON ({error})") from None
    if not isinstance(data, dict):
        raise MelodylibError(
            f"{source} is not a NoteSequence: expected a JSON object with 'notes', got "
            f"{type(data).__name__}"
        )
    message = note_sequence_class()()
    try:
        json_format.ParseDict(data, message)
    except json_format.ParseError as error:
        raise MelodylibError(f"{source} is not a Magenta.js NoteSequence: {error}") from None
    if fill_missing:
        notes = data.get("notes")
        for entry, note in zip(notes if isinstance(notes, list) else [], message.notes):
            if "velocity" not in entry:
                note.velocity = DEFAULT_VELOCITY
        _fill_times_from_steps(message)
    return message


def _fill_times_from_steps(message: Message) -> None:
    """Give the notes of a quantized sequence without times their times in seconds, in place."""
    resolution = message.quantization_info
    notes = message.notes
    if not (resolution.steps_per_quarter or resolution.steps_per_second) or not notes:
        return
    if any(note.start_time or note.end_time for note in notes):
        return
    if resolution.steps_per_quarter:
        qpm = message.tempos[0].qpm if message.tempos and message.tempos[0].qpm > 0 else DEFAULT_QPM
        steps_per_unit, seconds_per_unit = resolution.steps_per_quarter, 60.0 / qpm
    else:
        steps_per_unit, seconds_per_unit = resolution.steps_per_second, 1.0
    # step / steps per quarter * seconds per quarter, in the order Magenta.js computes it
    for note in notes:
        note.start_time = note.quantized_start_step / steps_per_unit * seconds_per_unit
        note.end_time = note.quantized_end_step / steps_per_unit * seconds_per_unit
    if not message.total_time:
        last_step = max(message.total_quantized_steps, max(n.quantized_end_step for n in notes))
        message.total_time = last_step / steps_per_unit * seconds_per_unit
