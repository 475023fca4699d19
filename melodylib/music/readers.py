"""Reading music files (MIDI, MusicXML, ABC) into NoteSequences, one file or a whole folder.

Every way a file can fail becomes one `UnreadableFileError` with a short reason code, so a folder
conversion can skip the file, say why, and count the reasons (spec §7.3; anchors §E):

    empty_file, not_midi, truncated, bad_header, no_tracks, smpte_division, type_2_midi,
    bad_data_byte, corrupt_track, too_many_ticks, unsupported_extension, musicxml_parse_error,
    abc_parse_error, duplicate_reference_number, io_error, unknown_error

MIDI goes through mido and pretty_midi (spec §4.2); MusicXML and ABC through music21, whose
score we walk ourselves (music21's MIDI writer fails on about one ABC tune in ten).
pretty_midi and music21 are imported lazily, inside the functions that use them.
"""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import io
import os
import re
import struct
import sys
import warnings
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from melodylib.workers import process_pool_context
from melodylib.errors import MelodylibError, UnreadableFileError
from melodylib.music.notesequence import (
    DEFAULT_QPM,
    KeySignature,
    Note,
    NoteSequence,
    Tempo,
    TimeSignature,
)

MIDI_EXTENSIONS = (".mid", ".midi")
MUSICXML_EXTENSIONS = (".xml", ".mxl", ".musicxml")
ABC_EXTENSIONS = (".abc",)
SUPPORTED_EXTENSIONS = MIDI_EXTENSIONS + MUSICXML_EXTENSIONS + ABC_EXTENSIONS

# The largest tick of a MIDI file we read, and the one note_seq reads: importing note_seq raises
# pretty_midi's MAX_TICK from 1e7 to 1e10 for the whole process (anchors §E.1), so Magenta reads long
# files that pretty_midi alone refuses (a full movement written by music21 at 10080 ticks per quarter
# passes 1e7 ticks after about 250 bars of 4/4). pretty_midi's guard is there because it builds a
# table of one float per tick; we read without that table (see `_TickTimeline`), so memory stays
# proportional to the events, and the limit is checked here whatever MAX_TICK says.
MAX_MIDI_TICK = 10_000_000_000

SkipItem = tuple[str, str, str]  # (path, reason code, detail) of a skipped file, tune or folder entry

# Velocity of MusicXML/ABC notes that carry none (note_seq's MusicXML reader also uses 64).
DEFAULT_VELOCITY = 64


def _describe(error: BaseException) -> str:
    """'ExceptionClass: message' on one line (library messages often hold newlines)."""
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def source_type_of(path: str | os.PathLike) -> str | None:
    """'midi', 'musicxml' or 'abc' from the file extension (case-insensitive), or None."""
    suffix = Path(path).suffix.lower()
    if suffix in MIDI_EXTENSIONS:
        return "midi"
    if suffix in MUSICXML_EXTENSIONS:
        return "musicxml"
    if suffix in ABC_EXTENSIONS:
        return "abc"
    return None


# =================================================================================================
# MIDI
# =================================================================================================
def _check_midi_header(data: bytes, path: str) -> None:
    """Check the MThd chunk ourselves so the reason codes are precise (libraries give vague errors)."""
    if not data:
        raise UnreadableFileError(path, "empty_file", "the file has 0 bytes")
    if not data.startswith(b"MThd"):
        if b"MThd".startswith(data):
            raise UnreadableFileError(path, "truncated", f"only {len(data)} bytes")
        if data.startswith(b"RIFF"):
            raise UnreadableFileError(path, "not_midi", "a RIFF file (.rmi RIFF-MIDI is not supported)")
        raise UnreadableFileError(path, "not_midi", "it does not start with 'MThd'")
    if len(data) < 14:
        raise UnreadableFileError(path, "truncated", f"the header needs 14 bytes, the file has {len(data)}")
    header_length, midi_format, num_tracks, division = struct.unpack(">IHHH", data[4:14])
    if header_length < 6:
        raise UnreadableFileError(path, "bad_header", f"header length {header_length}, expected 6")
    if midi_format > 2:
        raise UnreadableFileError(path, "bad_header", f"unknown MIDI format {midi_format}")
    if midi_format == 2:
        # pretty_midi would overlay the independent patterns of a type-2 file on one timeline
        # (anchors §E.1: end 1.5 s instead of 3 s), so we refuse it instead of reading it wrongly.
        raise UnreadableFileError(path, "type_2_midi", "type-2 (multi-pattern) MIDI files are not supported")
    if num_tracks == 0:
        raise UnreadableFileError(path, "no_tracks", "the header says the file has 0 tracks")
    if division & 0x8000:
        raise UnreadableFileError(path, "smpte_division", "time in SMPTE frames, not ticks per quarter note")
    if division == 0:
        raise UnreadableFileError(path, "bad_header", "0 ticks per quarter note")


def _parse_midi_with_mido(data: bytes, path: str):
    import mido

    try:
        return mido.MidiFile(file=io.BytesIO(data))
    except EOFError as error:
        raise UnreadableFileError(path, "truncated", "the file ends inside a track") from error
    except (OSError, ValueError, KeyError, IndexError, TypeError, mido.KeySignatureError) as error:
        text = str(error) or type(error).__name__
        reason = "bad_data_byte" if "data byte" in text else "corrupt_track"
        raise UnreadableFileError(path, reason, text) from error


def _prepare_tracks(midi_file, path: str) -> int:
    """Reject absurd tick counts and make empty tracks acceptable to pretty_midi; returns the largest tick."""
    import mido

    largest_tick = 0
    for track in midi_file.tracks:
        if not track:  # pretty_midi fails on a track with no events at all ("max() arg is empty")
            track.append(mido.MetaMessage("end_of_track", time=0))
        largest_tick = max(largest_tick, sum(message.time for message in track))
    if largest_tick >= MAX_MIDI_TICK:
        raise UnreadableFileError(
            path, "too_many_ticks",
            f"largest tick {largest_tick:,} (limit {MAX_MIDI_TICK:,}); the file is likely corrupt",
        )
    return largest_tick


class _TickTimeline:
    """Seconds at any tick, computed on demand from pretty_midi's tempo segments (`_tick_scales`).

    Stands in for pretty_midi's table of one float per tick (which needs 8 bytes per tick: 80 MB
    at 1e7 ticks). Each value is computed with the same float operations as pretty_midi's
    `_update_tick_to_time` (segment start time + tick_scale * ticks into the segment, the segment
    start times accumulated the same way), so the times are the same doubles.
    """

    def __init__(self, tick_scales: list[tuple[int, float]], max_tick: int) -> None:
        self.start_ticks = [int(tick) for tick, _ in tick_scales]
        self.scales = [scale for _, scale in tick_scales]
        self.start_times = [0.0]
        for index in range(1, len(tick_scales)):
            span = self.start_ticks[index] - self.start_ticks[index - 1]
            self.start_times.append(self.start_times[-1] + self.scales[index - 1] * span)
        self.length = max(int(max_tick), max(self.start_ticks)) + 1

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, tick: int) -> float:
        index = bisect.bisect_right(self.start_ticks, tick) - 1
        return self.start_times[index] + self.scales[index] * (tick - self.start_ticks[index])


# The pretty_midi internals `_load_pretty_midi` uses (pretty_midi 0.2.10 to 0.2.11 at least).
PRETTY_MIDI_INTERNALS = ("_load_tempo_changes", "_load_metadata", "_load_instruments", "_tick_scales",
                         "_PrettyMIDI__tick_to_time")


def _load_pretty_midi(midi_file, largest_tick: int):
    """pretty_midi's reading of a parsed file (its own tempo, metadata and note rules), minus its tick table.

    This is what `PrettyMIDI(mido_object=...)` does, step by step, except that the tick-to-seconds
    table is a `_TickTimeline` and pretty_midi's MAX_TICK is not consulted (we check our own
    limit). The times are identical to pretty_midi's. A pretty_midi without these internals gets
    its public constructor instead (files past its MAX_TICK are then refused as too_many_ticks).
    """
    import pretty_midi

    midi = pretty_midi.PrettyMIDI(resolution=midi_file.ticks_per_beat)
    if not all(hasattr(midi, name) for name in PRETTY_MIDI_INTERNALS):
        return pretty_midi.PrettyMIDI(mido_object=midi_file)
    for track in midi_file.tracks:  # delta ticks to absolute ticks, as pretty_midi does in place
        tick = 0
        for message in track:
            message.time += tick
            tick = message.time
    midi._load_tempo_changes(midi_file)
    # The table pretty_midi's loaders index (a name-mangled private attribute of PrettyMIDI).
    midi._PrettyMIDI__tick_to_time = _TickTimeline(midi._tick_scales, largest_tick + 1)
    midi._load_metadata(midi_file)
    midi._load_instruments(midi_file)
    return midi


def _tempo_changes(midi) -> tuple[list[float], list[float]]:
    """(times, qpms) as pretty_midi's get_tempo_changes, without its MAX_TICK check on tempo ticks."""
    timeline = getattr(midi, "_PrettyMIDI__tick_to_time", None)
    if not isinstance(timeline, _TickTimeline):
        times, qpms = midi.get_tempo_changes()
        return [float(time) for time in times], [float(qpm) for qpm in qpms]
    times = [float(timeline[tick]) for tick, _ in midi._tick_scales]
    qpms = [60.0 / (scale * midi.resolution) for _, scale in midi._tick_scales]
    return times, qpms


def _pretty_midi_to_note_sequence(midi) -> NoteSequence:
    sequence = NoteSequence(ticks_per_quarter=int(midi.resolution), source_type="midi")
    for index, instrument in enumerate(midi.instruments):
        for note in instrument.notes:
            sequence.notes.append(
                Note(
                    pitch=int(note.pitch),
                    velocity=int(note.velocity),
                    start_time=float(note.start),
                    end_time=float(note.end),
                    instrument=index,
                    program=int(instrument.program),
                    is_drum=bool(instrument.is_drum),
                )
            )
    times, qpms = _tempo_changes(midi)
    sequence.tempos = [Tempo(float(time), float(qpm)) for time, qpm in zip(times, qpms)]
    sequence.time_signatures = [
        TimeSignature(float(change.time), int(change.numerator), int(change.denominator))
        for change in midi.time_signature_changes
    ]
    sequence.key_signatures = [
        KeySignature(float(change.time), int(change.key_number) % 12, int(change.key_number) // 12)
        for change in midi.key_signature_changes
    ]
    # As note_seq: total_time is the end of the last note, not pretty_midi's get_end_time(),
    # which also counts tempo, meter and key events after the music.
    sequence.total_time = max((note.end_time for note in sequence.notes), default=0.0)
    return sequence


def midi_to_note_sequence(data: bytes, path: str | os.PathLike = "<bytes>") -> NoteSequence:
    """A NoteSequence from the bytes of a MIDI file (spec §4.2); `path` only names the file in errors.

    Each pretty_midi Instrument (one per track, channel and program) becomes instrument index
    = its position in pretty_midi's list. Like pretty_midi (and so note_seq), zero-length notes
    and note-ons that are never closed are dropped silently, and tempo/meter/key events are
    taken from the first track only. Long files (up to MAX_MIDI_TICK = 1e10 ticks, note_seq's
    limit) read in memory proportional to their events. Any failure raises UnreadableFileError
    with a reason code.
    """
    path = str(path)
    _check_midi_header(data, path)
    midi_file = _parse_midi_with_mido(data, path)
    largest_tick = _prepare_tracks(midi_file, path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            midi = _load_pretty_midi(midi_file, largest_tick)
    except ValueError as error:
        reason = "too_many_ticks" if "likely corrupt" in str(error) else "unknown_error"
        raise UnreadableFileError(path, reason, _describe(error)) from error
    except Exception as error:  # noqa: BLE001 - any library failure becomes one error type (as note_seq)
        raise UnreadableFileError(path, "unknown_error", _describe(error)) from error
    return _pretty_midi_to_note_sequence(midi)


# =================================================================================================
# music21 scores (MusicXML and ABC)
# =================================================================================================
class _TempoMap:
    """Converts offsets in quarter notes to seconds through a list of (offset, qpm) changes."""

    def __init__(self, changes: list[tuple[float, float]]) -> None:
        if not changes or changes[0][0] > 0:
            changes = [(0.0, DEFAULT_QPM)] + changes
        self.offsets = [offset for offset, _ in changes]
        self.qpms = [qpm for _, qpm in changes]
        self.seconds_at = [0.0]
        for index in range(1, len(changes)):
            span = self.offsets[index] - self.offsets[index - 1]
            self.seconds_at.append(self.seconds_at[-1] + span * 60.0 / self.qpms[index - 1])

    def seconds(self, offset: float) -> float:
        index = max(0, bisect.bisect_right(self.offsets, offset) - 1)
        return self.seconds_at[index] + (offset - self.offsets[index]) * 60.0 / self.qpms[index]

    def tempos(self) -> list[Tempo]:
        return [Tempo(seconds, qpm) for seconds, qpm in zip(self.seconds_at, self.qpms)]


def _placed(score, element_class) -> list[tuple[float, object]]:
    """(offset in quarters from the score's start, element) for every element of a class, in any measure.

    music21's ABC parser puts one TimeSignature (or KeySignature) object into many measures, so
    the `.offset` of a flattened copy is only one of its places; walking every container and
    asking each for the element's own offset there gives every place right.
    """
    placed = []
    for container in [score, *score.recurse(streamsOnly=True)]:
        base = 0.0 if container is score else float(container.getOffsetInHierarchy(score))
        for element in container.getElementsByClass(element_class):
            placed.append((base + float(container.elementOffset(element)), element))
    return placed


def _changes(placed: Iterable[tuple[float, object]], value_of: Callable) -> list[tuple[float, object]]:
    """(offset, value) for each placed element, sorted, one per offset, only where the value changes.

    MusicXML repeats the meter and key in every part (and ABC may repeat them), so we keep the
    first value at each offset and drop events that do not change anything.
    """
    by_offset: dict[float, object] = {}
    for offset, element in sorted(placed, key=lambda item: item[0]):
        value = value_of(element)
        if value is not None:
            by_offset.setdefault(offset, value)
    changes: list[tuple[float, object]] = []
    for offset in sorted(by_offset):
        if not changes or changes[-1][1] != by_offset[offset]:
            changes.append((offset, by_offset[offset]))
    return changes


def _qpm_of(mark) -> float | None:
    qpm = mark.getQuarterBPM()
    return float(qpm) if qpm and qpm > 0 else None


def _time_signature_of(signature) -> tuple[int, int] | None:
    try:
        return int(signature.numerator), int(signature.denominator)
    except (TypeError, ValueError, AttributeError):
        return None


def _key_of(signature) -> tuple[int, int] | None:
    """(tonic pitch class, mode) of a music21 KeySignature/Key: major from the sharps, minor if music21 says so.

    Other modes (dorian, mixolydian, ...) become their relative major, as only major/minor exist here.
    """
    sharps = getattr(signature, "sharps", None)
    if sharps is None:
        return None
    if getattr(signature, "mode", None) == "minor":
        return (sharps * 7 + 9) % 12, 1
    return (sharps * 7) % 12, 0


def _part_instrument(part) -> tuple[int, bool]:
    from music21 import instrument as music21_instrument

    found = part.getInstrument(returnDefault=False)
    if found is None:
        return 0, False
    program = found.midiProgram if found.midiProgram is not None else 0
    return int(program), isinstance(found, music21_instrument.UnpitchedPercussion)


def score_to_note_sequence(score, source_type: str, title: str = "") -> NoteSequence:
    """Walk a music21 score into a NoteSequence: one instrument index per part, ties merged, repeats NOT expanded.

    Offsets in quarter notes become seconds through the MetronomeMarks (120 qpm before the first).
    Grace notes (no duration), rests and unpitched notes give no notes; chords give one note per
    pitch. total_time is the end of the last note.
    """
    from music21 import key as music21_key
    from music21 import meter, stream, tempo

    if isinstance(score, stream.Opus):
        scores = list(score.scores)
        score = scores[0] if scores else stream.Score()
    tempo_changes = _changes(_placed(score, tempo.MetronomeMark), _qpm_of)
    tempo_map = _TempoMap([(offset, qpm) for offset, qpm in tempo_changes])
    sequence = NoteSequence(source_type=source_type, title=title, tempos=tempo_map.tempos())
    for offset, (numerator, denominator) in _changes(_placed(score, meter.TimeSignature), _time_signature_of):
        sequence.time_signatures.append(TimeSignature(tempo_map.seconds(offset), numerator, denominator))
    for offset, (tonic, mode) in _changes(_placed(score, music21_key.KeySignature), _key_of):
        sequence.key_signatures.append(KeySignature(tempo_map.seconds(offset), tonic, mode))

    parts = list(score.parts) or [score]
    for index, part in enumerate(parts):
        program, is_drum = _part_instrument(part)
        for element in part.flatten().stripTies().notes:
            length = float(element.duration.quarterLength)
            if element.duration.isGrace or length <= 0:
                continue
            start_offset = float(element.offset)
            start = tempo_map.seconds(start_offset)
            end = tempo_map.seconds(start_offset + length)
            velocity = element.volume.velocity if element.volume.velocity is not None else DEFAULT_VELOCITY
            velocity = min(127, max(1, int(round(velocity))))
            for pitch in getattr(element, "pitches", ()):
                midi_pitch = int(round(pitch.ps))
                if 0 <= midi_pitch <= 127:
                    sequence.notes.append(Note(midi_pitch, velocity, start, end, index, program, is_drum))
    sequence.total_time = max((note.end_time for note in sequence.notes), default=0.0)
    return sequence


@contextlib.contextmanager
def _quiet_music21() -> Iterator[None]:
    """music21 prints its warnings straight to stderr; keep them out of the conversion output."""
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


def _compressed_musicxml_text(path: str) -> str:
    """The score inside a compressed MusicXML (.mxl) archive: the rootfile META-INF/container.xml names."""
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        root = None
        if "META-INF/container.xml" in names:
            container = archive.read("META-INF/container.xml").decode("utf-8", errors="replace")
            match = re.search(r'full-path="([^"]+)"', container)
            root = match.group(1) if match else None
        if root is None:
            candidates = [
                name for name in names
                if name.lower().endswith((".xml", ".musicxml")) and not name.startswith("META-INF")
            ]
            if not candidates:
                raise ValueError("the .mxl archive holds no MusicXML file")
            root = candidates[0]
        data = archive.read(root)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    return data.decode("utf-8-sig")


def musicxml_to_note_sequence(path: str | os.PathLike) -> NoteSequence:
    """A NoteSequence from a MusicXML file (.xml, .musicxml, or compressed .mxl) via music21."""
    path = str(path)
    if not os.path.isfile(path):
        raise UnreadableFileError(path, "io_error", "no such file")
    import music21

    try:
        with _quiet_music21():
            if zipfile.is_zipfile(path):
                # compressed MusicXML; we unpack it ourselves because music21 recognises only a
                # lower-case ".mxl" extension
                score = music21.converter.parseData(_compressed_musicxml_text(path), format="musicxml")
            else:
                # forceSource: do not read or write music21's pickle cache (workers must not race on it)
                score = music21.converter.parseFile(path, format="musicxml", forceSource=True, storePickle=False)
    except OSError as error:
        raise UnreadableFileError(path, "io_error", str(error)) from error
    except Exception as error:  # noqa: BLE001 - music21 raises many unrelated exception classes
        raise UnreadableFileError(path, "musicxml_parse_error", _describe(error)) from error
    title = ""
    if score.metadata is not None:
        title = score.metadata.title or score.metadata.movementName or ""
        if title == os.path.basename(path):  # music21 puts the file name there when the file has no title
            title = ""
    try:
        with _quiet_music21():
            return score_to_note_sequence(score, "musicxml", title=str(title))
    except Exception as error:  # noqa: BLE001
        raise UnreadableFileError(path, "musicxml_parse_error", _describe(error)) from error


# =================================================================================================
# ABC
# =================================================================================================
@dataclass(frozen=True)
class AbcTune:
    """One tune of an ABC file: its position (0-based), X: reference number, title and text for music21."""

    index: int
    reference: str
    title: str
    text: str
    line_number: int  # 1-based line of the X: field in the file

    def describe(self) -> str:
        title = f" {self.title!r}" if self.title else ""
        return f"tune X:{self.reference}{title} (line {self.line_number})"


@dataclass
class AbcTuneResult:
    """What became of one tune: a sequence, or the error that kept it out."""

    tune: AbcTune
    sequence: NoteSequence | None = None
    error: UnreadableFileError | None = None


_FIELD_LINE = re.compile(r"^([A-Za-z]):(.*)$")
# File-header fields that every tune inherits (ABC 2.1 §2.2.2). K: is not inherited: it ends a tune header.
_INHERITED_FIELDS = {"L", "M", "Q"}


def split_abc_tunes(text: str) -> list[AbcTune]:
    """Split an ABC tunebook into tunes, as ABC 2.1 (and note_seq) do: sections separated by blank lines.

    A section starting with an X: field (after any comment lines) is a tune; X: fields inside a
    section also start new tunes; a first section without X: is the file header, whose L:, M: and
    Q: fields each tune inherits. Other sections (free text) are ignored. A blank line inside a
    tune therefore ends it, as the standard says.
    """
    lines = text.splitlines()
    sections: list[list[tuple[int, str]]] = [[]]
    for number, line in enumerate(lines, start=1):
        if line.strip():
            sections[-1].append((number, line.rstrip()))
        elif sections[-1]:
            sections.append([])
    sections = [section for section in sections if section]
    header: list[str] = []
    if sections and not any(line.startswith("X:") for _, line in sections[0]):
        header = [
            line for _, line in sections[0]
            if (match := _FIELD_LINE.match(line)) and match.group(1) in _INHERITED_FIELDS
        ]
    tunes: list[AbcTune] = []
    for section in sections:
        current: list[tuple[int, str]] = []
        for number, line in section:
            if line.startswith("X:"):
                if current:
                    tunes.append(_make_tune(len(tunes), current, header))
                current = [(number, line)]
            elif current:
                current.append((number, line))
        if current:
            tunes.append(_make_tune(len(tunes), current, header))
    return tunes


def _make_tune(index: int, lines: list[tuple[int, str]], header: list[str]) -> AbcTune:
    first_number, x_line = lines[0]
    reference = x_line[2:].strip()
    if reference.isdigit():
        reference = str(int(reference))  # note_seq keys tunes by int(X:), so "0171" is "171"
    body = [line for _, line in lines[1:]]
    title = next((line[2:].strip() for line in body if line.startswith("T:")), "")
    tune_header: list[str] = []
    for line in body:
        tune_header.append(line)
        if line.startswith("K:"):
            break
    fields = {match.group(1) for line in header + tune_header if (match := _FIELD_LINE.match(line))}
    extra = list(header)
    meter_values = [line[2:].strip().lower() for line in header + tune_header if line.startswith("M:")]
    if "L" not in fields and (not meter_values or meter_values[-1] in ("", "none")):
        # ABC 2.1: with no L: and no (or a free) meter the unit note length is 1/8. music21 fails
        # with "no active default note length" instead, so we state the default explicitly.
        extra.append("L:1/8")
    text = "\n".join([x_line] + extra + body) + "\n"
    return AbcTune(index=index, reference=reference, title=title, text=text, line_number=first_number)


def abc_tune_to_note_sequence(tune: AbcTune, path: str | os.PathLike = "<text>") -> NoteSequence:
    """Parse one tune with music21 and walk it into a NoteSequence; failures raise UnreadableFileError."""
    import music21

    try:
        with _quiet_music21():
            score = music21.converter.parse(tune.text, format="abc")
            sequence = score_to_note_sequence(score, "abc", title=tune.title)
    except Exception as error:  # noqa: BLE001 - music21 raises many unrelated exception classes
        detail = f"{tune.describe()}: {_describe(error)}"
        raise UnreadableFileError(path, "abc_parse_error", detail) from error
    if not _has_inline_meter(tune.text) and sequence.time_signatures:
        # music21 gives a bar whose length does not fit the meter (pickups, Essen's phrase
        # rests) a time signature of its own; those are not meter changes a reader of the tune
        # sees, and they would cut the tune into pieces of a bar or two. Without an M: field in
        # the tune body, the header's meter holds throughout.
        first = sequence.time_signatures[0]
        sequence.time_signatures = [TimeSignature(0.0, first.numerator, first.denominator)]
    return sequence


def _has_inline_meter(text: str) -> bool:
    """Whether an ABC tune changes meter in its body (an M: line after K:, or an inline [M:...])."""
    in_body = False
    for line in text.splitlines():
        stripped = line.strip()
        if in_body and (stripped.startswith("M:") or "[M:" in stripped):
            return True
        if stripped.startswith("K:"):
            in_body = True
    return False


def abc_tunes_to_results(tunes: Iterable[AbcTune], path: str | os.PathLike = "<text>") -> list[AbcTuneResult]:
    """Parse each tune on its own, so one bad tune does not lose the others."""
    results = []
    for tune in tunes:
        try:
            results.append(AbcTuneResult(tune, sequence=abc_tune_to_note_sequence(tune, path)))
        except UnreadableFileError as error:
            results.append(AbcTuneResult(tune, error=error))
    return results


def abc_to_note_sequences(text: str, path: str | os.PathLike = "<text>") -> list[AbcTuneResult]:
    """Every tune of an ABC tunebook, each with its NoteSequence or its error (repeats are not expanded).

    The sequences carry no id or filename yet; read_file_result adds them (spec §7.3).
    """
    return abc_tunes_to_results(split_abc_tunes(text), path)


# =================================================================================================
# One file: ids, metadata and the result type
# =================================================================================================
def collection_name_of(input_dir: str | os.PathLike) -> str:
    """Basename of the input folder (spec §7.3).

    Magenta takes os.path.basename of the flag as given, so "songs/" gives an empty name; we
    normalise the path first, so "songs/" and "songs" both give "songs".
    """
    return os.path.basename(os.path.normpath(os.path.abspath(input_dir)))


def sequence_id(source_type: str, collection_name: str, hashed_name: str) -> str:
    """"/id/<midi|musicxml|abc>/<collection>/<sha1 of the name>" as note_seq's ids (spec §7.3)."""
    digest = hashlib.sha1(hashed_name.encode("utf-8")).hexdigest()
    return f"/id/{source_type}/{collection_name}/{digest}"


def _relative_filename(path: str | os.PathLike, input_dir: str | os.PathLike) -> str:
    return Path(os.path.relpath(os.path.abspath(path), os.path.abspath(input_dir))).as_posix()


def _tag(sequence: NoteSequence, source_type: str, filename: str, collection: str, hashed_name: str) -> NoteSequence:
    sequence.source_type = source_type
    sequence.filename = filename
    sequence.collection_name = collection
    sequence.id = sequence_id(source_type, collection, hashed_name)
    return sequence


@dataclass
class FileResult:
    """What reading one file gave: its sequences (ABC: one per good tune) and its errors (ABC: one per bad tune)."""

    path: str
    sequences: list[NoteSequence] = field(default_factory=list)
    errors: list[UnreadableFileError] = field(default_factory=list)


def _read_bytes(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise UnreadableFileError(path, "io_error", error.strerror or str(error)) from error


def _read_abc_text(path: str) -> str:
    data = _read_bytes(path)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # older tunebooks; every byte is a valid latin-1 character


def _split_duplicates(tunes: list[AbcTune], path: str) -> tuple[list[AbcTune], list[UnreadableFileError]]:
    """Tunes whose X: number repeats an earlier one in the file are refused: their ids would clash.

    (note_seq refuses the whole tunebook in that case; we keep the first tune with each number.)
    """
    kept, refused, seen = [], [], set()
    for tune in tunes:
        if tune.reference in seen:
            refused.append(
                UnreadableFileError(
                    path, "duplicate_reference_number", f"{tune.describe()}: X:{tune.reference} used twice"
                )
            )
        else:
            seen.add(tune.reference)
            kept.append(tune)
    return kept, refused


def _read_abc_tunes(path: str, tunes: Iterable[AbcTune], filename: str, collection: str) -> FileResult:
    """Parse and tag some tunes of one ABC file."""
    result = FileResult(path)
    for tune_result in abc_tunes_to_results(tunes, path):
        if tune_result.error is not None:
            result.errors.append(tune_result.error)
        else:
            # Magenta (spec §7.3) hashes "<filename>_<tune>", where note_seq numbers tunes by their X: field.
            tag_name = f"{filename}_{tune_result.tune.reference}"
            result.sequences.append(_tag(tune_result.sequence, "abc", filename, collection, tag_name))
    return result


def read_file_result(path: str | os.PathLike, input_dir: str | os.PathLike | None = None) -> FileResult:
    """Read one music file into a FileResult; never raises for an unreadable file (the errors are in the result).

    `input_dir` (default: the file's folder) gives the collection name and the relative filename.
    """
    path = str(path)
    input_dir = input_dir if input_dir is not None else os.path.dirname(os.path.abspath(path))
    filename = _relative_filename(path, input_dir)
    collection = collection_name_of(input_dir)
    source_type = source_type_of(path)
    try:
        if source_type is None:
            raise UnreadableFileError(
                path, "unsupported_extension", f"expected one of {', '.join(SUPPORTED_EXTENSIONS)}"
            )
        if source_type == "abc":
            tunes = split_abc_tunes(_read_abc_text(path))
            if not tunes:
                raise UnreadableFileError(path, "abc_parse_error", "no tunes found (no line starting with X:)")
            tunes, refused = _split_duplicates(tunes, path)
            result = _read_abc_tunes(path, tunes, filename, collection)
            result.errors = refused + result.errors
            return result
        if source_type == "midi":
            sequence = midi_to_note_sequence(_read_bytes(path), path)
        else:
            sequence = musicxml_to_note_sequence(path)
        return FileResult(path, sequences=[_tag(sequence, source_type, filename, collection, filename)])
    except UnreadableFileError as error:
        return FileResult(path, errors=[error])
    except Exception as error:  # noqa: BLE001 - as Magenta: an unexpected failure skips the file
        return FileResult(path, errors=[UnreadableFileError(path, "unknown_error", _describe(error))])


def read_music_file(path: str | os.PathLike, input_dir: str | os.PathLike | None = None) -> list[NoteSequence]:
    """The NoteSequences of one MIDI, MusicXML or ABC file (ABC: one per tune).

    Raises UnreadableFileError when nothing could be read. For an ABC file with some bad tunes the
    good ones are returned and a warning names the others; use read_file_result to get them.
    """
    result = read_file_result(path, input_dir)
    if not result.sequences and result.errors:
        raise result.errors[0]
    if result.errors:
        warnings.warn(f"{path}: skipped {len(result.errors)} unreadable tune(s), first: {result.errors[0]}")
    return result.sequences


def read_note_sequence(path: str | os.PathLike, input_dir: str | os.PathLike | None = None) -> NoteSequence:
    """The NoteSequence of one MIDI or MusicXML file (or of an ABC file holding exactly one tune)."""
    sequences = read_music_file(path, input_dir)
    if len(sequences) != 1:
        raise MelodylibError(f"{path} holds {len(sequences)} tunes; use read_music_file to get them all")
    return sequences[0]


# =================================================================================================
# A whole folder
# =================================================================================================
@dataclass
class ConversionSummary:
    """What convert_directory did.

    `files_found` counts music files (supported extensions); `files_read` those that gave at least
    one sequence; `skipped` counts skipped files, ABC tunes and other entries by reason; `skipped_items`
    lists them as (path, reason, detail).
    """

    input_dir: str
    output_file: str
    recursive: bool = False
    files_found: int = 0
    files_read: int = 0
    sequences_written: int = 0
    output_written: bool = False
    skipped: Counter = field(default_factory=Counter)
    skipped_items: list[SkipItem] = field(default_factory=list)

    def add_skip(self, path: str, reason: str, detail: str = "") -> None:
        self.skipped[reason] += 1
        self.skipped_items.append((path, reason, detail))

    def format(self) -> str:
        """A short human-readable summary."""
        if self.files_found == 0:
            where = f"{self.input_dir} or its subfolders" if self.recursive else self.input_dir
            hint = "" if self.recursive else "; use --recursive to include subfolders"
            lines = [
                f"no music files found in {where} (looked for {', '.join(SUPPORTED_EXTENSIONS)}{hint}); "
                f"nothing written to {self.output_file}"
            ]
        elif self.output_written:
            lines = [
                f"read {self.files_read} of {self.files_found} music files in {self.input_dir}; "
                f"wrote {self.sequences_written} NoteSequences to {self.output_file}"
            ]
        else:
            lines = [
                f"read 0 of {self.files_found} music files in {self.input_dir}: no NoteSequences; "
                f"nothing written to {self.output_file}"
            ]
        if self.skipped:
            counts = ", ".join(f"{reason} {count}" for reason, count in sorted(self.skipped.items()))
            lines.append(f"skipped: {counts}")
        return "\n".join(lines)


def list_music_files(input_dir: Path, recursive: bool) -> tuple[list[Path], list[SkipItem]]:
    """Music files under `input_dir` and the skipped entries.

    As Magenta: a folder's files first, then its subfolders (we sort names, for a stable order).
    """
    music_files: list[Path] = []
    skipped: list[SkipItem] = []
    queue = [input_dir]
    while queue:
        folder = queue.pop(0)
        try:
            entries = sorted(folder.iterdir(), key=lambda entry: entry.name)
        except OSError as error:
            skipped.append((str(folder), "io_error", error.strerror or str(error)))
            continue
        subfolders = []
        for entry in entries:
            if entry.is_dir():
                if recursive:
                    subfolders.append(entry)
                else:
                    skipped.append((str(entry), "directory", "a subfolder (use --recursive to read it)"))
            elif source_type_of(entry) is not None:
                music_files.append(entry)
            else:
                skipped.append((str(entry), "unsupported_extension", "not a MIDI, MusicXML or ABC file"))
        queue.extend(subfolders)
    return music_files, skipped


@dataclass(frozen=True)
class _Task:
    """A unit of work for a reader process: a whole MIDI/MusicXML file, or some tunes of an ABC file."""

    path: str
    input_dir: str
    tunes: tuple[AbcTune, ...] = ()

    @property
    def weight(self) -> int:
        return max(1, len(self.tunes))


@dataclass
class _TaskOutput:
    """What crosses back from a worker: serialised sequences and plain-tuple errors (both pickle cheaply)."""

    payloads: list[bytes]
    errors: list[SkipItem]


def _run_task(task: _Task) -> _TaskOutput:
    """Read one task; runs in a worker process (which never imports TensorFlow)."""
    if task.tunes:
        filename = _relative_filename(task.path, task.input_dir)
        result = _read_abc_tunes(task.path, task.tunes, filename, collection_name_of(task.input_dir))
    else:
        result = read_file_result(task.path, task.input_dir)
    return _TaskOutput(
        [sequence.to_bytes() for sequence in result.sequences],
        [(error.path, error.reason, error.detail) for error in result.errors],
    )


def _make_tasks(music_files: list[Path], input_dir: Path) -> tuple[list[_Task], dict[str, list[SkipItem]]]:
    """One task per MIDI/MusicXML file; ABC files are split into tunes here, in chunks of TUNES_PER_TASK.

    Also returns, per ABC file, the errors found while splitting (duplicate X: numbers).
    """
    tasks: list[_Task] = []
    early_errors: dict[str, list[SkipItem]] = {}
    for path in music_files:
        if source_type_of(path) == "abc":
            try:
                tunes = split_abc_tunes(_read_abc_text(str(path)))
            except UnreadableFileError:
                tunes = []  # the task below reads the file again and reports the error
            if tunes:
                tunes, refused = _split_duplicates(tunes, str(path))
                early_errors[str(path)] = [(error.path, error.reason, error.detail) for error in refused]
                for start in range(0, len(tunes), TUNES_PER_TASK):
                    tasks.append(_Task(str(path), str(input_dir), tuple(tunes[start : start + TUNES_PER_TASK])))
                continue
        tasks.append(_Task(str(path), str(input_dir)))
    return tasks, early_errors


def _print_to_stderr(message: str) -> None:
    from tqdm.auto import tqdm

    tqdm.write(message, file=sys.stderr)


class _NothingToWrite(Exception):
    """Raised inside the atomic write to abandon it when no sequence was read."""


SERIAL_THRESHOLD = 16  # below this many pieces (files or ABC tunes), worker start-up costs more than it saves
TUNES_PER_TASK = 16


def convert_directory(
    input_dir: str | os.PathLike,
    output_file: str | os.PathLike,
    recursive: bool = False,
    num_workers: int | None = None,
    progress: bool = True,
    report: Callable[[str], None] | None = None,
) -> ConversionSummary:
    """Read every music file in a folder into NoteSequences and write them to one TFRecord file (spec §7.3).

    Unreadable files and tunes are skipped; `report` (default: print to stderr) gets one line per
    skipped item. Files are read in parallel processes (`num_workers`, default all cores; serial
    for small jobs or num_workers=1). The output is written atomically: if nothing is read or the
    run fails, an earlier output file stays as it was. In a script that has imported TensorFlow,
    call this under `if __name__ == "__main__":` (the workers are then spawned, and a spawned
    process imports the main module).
    """
    if num_workers is not None and num_workers < 1:
        raise MelodylibError(f"--num_workers must be at least 1, got {num_workers}")
    input_path = Path(input_dir)
    if not input_path.is_dir():
        what = "is not a folder" if input_path.exists() else "does not exist"
        raise MelodylibError(f"--input_dir {input_dir} {what}; give the folder that holds the music files")
    music_files, skipped_entries = list_music_files(input_path, recursive)
    return convert_files(
        music_files, input_path, output_file, num_workers=num_workers, progress=progress, report=report,
        skipped_entries=skipped_entries, recursive=recursive,
    )


def convert_files(
    music_files: list[Path],
    input_dir: str | os.PathLike,
    output_file: str | os.PathLike,
    num_workers: int | None = None,
    progress: bool = True,
    report: Callable[[str], None] | None = None,
    skipped_entries: Iterable[SkipItem] = (),
    recursive: bool = False,
) -> ConversionSummary:
    """Read the given music files (ids and filenames relative to `input_dir`) into one TFRecord file.

    The work of `convert_directory` once the files are listed; the course corpus uses it for
    file lists that are not a whole folder (the Bach chorales among music21's Bach works).
    """
    if num_workers is not None and num_workers < 1:
        raise MelodylibError(f"--num_workers must be at least 1, got {num_workers}")
    input_path = Path(input_dir)
    output_path = Path(output_file)
    _check_output_writable(output_path)
    report = report or _print_to_stderr
    summary = ConversionSummary(str(input_dir), str(output_file), recursive=recursive)

    def skip(path: str, reason: str, detail: str) -> None:
        summary.add_skip(path, reason, detail)
        report(f"skipped {path}: {reason}" + (f" ({detail})" if detail else ""))

    for entry in skipped_entries:
        skip(*entry)
    music_files = [Path(path) for path in music_files]
    summary.files_found = len(music_files)
    if not music_files:
        return summary
    tasks, early_errors = _make_tasks(music_files, input_path)
    remaining_tasks = Counter(task.path for task in tasks)

    def payloads() -> Iterator[bytes]:
        file_has_sequences: set[str] = set()
        for path, errors in early_errors.items():
            for error in errors:
                skip(*error)
        for task, output in zip(tasks, _run_tasks(tasks, num_workers, progress)):
            for error in output.errors:
                skip(*error)
            if output.payloads:
                file_has_sequences.add(task.path)
            remaining_tasks[task.path] -= 1
            if remaining_tasks[task.path] == 0 and task.path in file_has_sequences:
                summary.files_read += 1
            yield from output.payloads
        if summary.files_read == 0:
            raise _NothingToWrite

    from concurrent.futures.process import BrokenProcessPool

    from melodylib.music.notesequence import write_records

    try:
        summary.sequences_written = write_records(output_path, payloads())
        summary.output_written = True
    except _NothingToWrite:
        summary.sequences_written = 0
    except BrokenProcessPool as error:
        raise MelodylibError(
            f"a reader process died while converting {input_dir} (out of memory?); nothing was written to "
            f"{output_file}. Run again with --num_workers 1 to see which file causes it"
        ) from error
    return summary


def _check_output_writable(output_path: Path) -> None:
    """Fail before reading anything when the output cannot be written."""
    if output_path.is_dir():
        raise MelodylibError(
            f"--output_file {output_path} is a folder; give a file name such as {output_path}/notesequences.tfrecord"
        )
    folder = output_path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise MelodylibError(
            f"cannot write {output_path}: cannot create {folder} ({error.strerror or error})"
        ) from error
    if not os.access(folder, os.W_OK | os.X_OK):
        raise MelodylibError(f"cannot write {output_path}: the folder {folder} is not writable")


def _run_tasks(tasks: list[_Task], num_workers: int | None, progress: bool) -> Iterator[_TaskOutput]:
    """Run the tasks, serially or in worker processes, yielding their outputs in order, with a progress bar."""
    from tqdm.auto import tqdm

    workers = num_workers if num_workers is not None else (os.cpu_count() or 1)
    total = sum(task.weight for task in tasks)

    def bar():
        return tqdm(total=total, unit="piece", desc="reading music", disable=not progress, file=sys.stderr)

    if workers == 1 or total < SERIAL_THRESHOLD or len(tasks) == 1:
        with bar() as progress_bar:
            for task in tasks:
                output = _run_task(task)
                progress_bar.update(task.weight)
                yield output
        return
    from concurrent.futures import ProcessPoolExecutor

    executor = ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=process_pool_context())
    try:
        outputs = executor.map(_run_task, tasks)  # starts the workers before tqdm starts its monitor thread
        with bar() as progress_bar:
            for task, output in zip(tasks, outputs):
                progress_bar.update(task.weight)
                yield output
    finally:
        # on an error (or an abandoned write) do not wait for the files still queued
        executor.shutdown(wait=True, cancel_futures=True)
