"""Reading a MIDI file into a NoteSequence: mido parses the bytes, pretty_midi interprets them.

MIDI goes through mido and pretty_midi, as note_seq does, so notes, tempos, meters and keys
come out as Magenta sees them. Around those libraries this module adds:

- byte-level checks (`midi_checks`), so an unreadable file gets a precise reason code and the
  place of the defect where the libraries give vague errors (or none, and fail later);
- note_seq's tick limit (MAX_MIDI_TICK) without pretty_midi's table of one float per tick
  (`_TickTimeline`), so long files read in memory proportional to their events.

mido and pretty_midi are imported inside the functions that use them.
"""

from __future__ import annotations

import bisect
import io
import os
import warnings

from melodylib.errors import UnreadableFileError
from melodylib.music.notesequence import KeySignature, Note, NoteSequence, Tempo, TimeSignature
from melodylib.music.readers.common import describe_error
from melodylib.music.readers.midi_checks import (
    MidiHeader,
    check_midi_header,
    check_track_zero_events,
    diagnose_tracks,
)

# The largest tick of a MIDI file we read, and the one note_seq reads: importing note_seq raises
# pretty_midi's MAX_TICK from 1e7 to 1e10 for the whole process (magenta-behaviour.md: "File
# conversion"), so Magenta reads long files that pretty_midi alone refuses (a full movement
# written by music21 at 10080 ticks per quarter passes 1e7 ticks after about 250 bars of 4/4).
# pretty_midi's guard is there because it builds a table of one float per tick; we read without
# that table (see `_TickTimeline`), so memory stays proportional to the events, and the limit is
# checked here whatever MAX_TICK says.
MAX_MIDI_TICK = 10_000_000_000

# The pretty_midi internals `_load_pretty_midi` uses (pretty_midi 0.2.10 to 0.2.11 at least).
PRETTY_MIDI_INTERNALS = (
    "_load_tempo_changes",
    "_load_metadata",
    "_load_instruments",
    "_tick_scales",
    "_PrettyMIDI__tick_to_time",
)


def midi_to_note_sequence(data: bytes, path: str | os.PathLike = "<bytes>") -> NoteSequence:
    """A NoteSequence from the bytes of a MIDI file; `path` names the file in errors.

    magenta-behaviour.md: "File conversion".

    Each pretty_midi Instrument (one per track, channel and program) becomes instrument index
    = its position in pretty_midi's list. Like pretty_midi (and so note_seq), zero-length notes
    and note-ons that are never closed are dropped silently, and tempo/meter/key events are
    taken from the first track only. Long files (up to MAX_MIDI_TICK = 1e10 ticks, note_seq's
    limit) read in memory proportional to their events. Any failure raises UnreadableFileError
    with a reason code.

    1. check the header chunk ourselves (precise reasons for the common ways a file is broken);
    2. parse the tracks with mido; if it fails, walk them ourselves to name the defect and where;
    3. refuse absurd tick counts, tempos of 0 and meters of 0 beats, and give empty tracks the
       end-of-track event pretty_midi needs;
    4. let pretty_midi interpret the parsed file (its tempo, metadata and note rules);
    5. copy pretty_midi's notes and events into a NoteSequence.
    """
    path = str(path)
    # 1. the header
    header = check_midi_header(data, path)
    # 2. the tracks
    midi_file = _parse_midi_with_mido(data, path, header)
    # 3. the tick limit, tempos, meters and empty tracks
    largest_tick = _prepare_tracks(midi_file, path)
    # 4. pretty_midi's reading
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            midi = _load_pretty_midi(midi_file, largest_tick)
    except ValueError as error:
        reason = "too_many_ticks" if "likely corrupt" in str(error) else "unknown_error"
        raise UnreadableFileError(path, reason, describe_error(error)) from error
    except Exception as error:  # noqa: BLE001 - any library failure: one error type (as note_seq)
        raise UnreadableFileError(path, "unknown_error", describe_error(error)) from error
    # 5. the NoteSequence
    return _pretty_midi_to_note_sequence(midi)


# -------------------------------------------------------------------------------------------------
# 1.-3. Bytes to a parsed mido file, with a reason code for every way that fails
# -------------------------------------------------------------------------------------------------
def _parse_midi_with_mido(data: bytes, path: str, header: MidiHeader):
    """The file parsed by mido; when mido fails, our own walk of the tracks names the defect.

    mido's own message is the fallback (corrupt_track) for a failure the walk does not explain.
    """
    import mido

    try:
        return mido.MidiFile(file=io.BytesIO(data))
    except (
        EOFError,
        OSError,
        ValueError,
        KeyError,
        IndexError,
        TypeError,
        mido.KeySignatureError,
    ) as error:
        diagnosis = diagnose_tracks(data, path, header)
        if diagnosis is not None:
            raise diagnosis from error
        if isinstance(error, EOFError):
            raise UnreadableFileError(path, "truncated", "the file ends inside a track") from error
        text = str(error) or type(error).__name__
        reason = "bad_data_byte" if "data byte" in text else "corrupt_track"
        raise UnreadableFileError(path, reason, text) from error


def _prepare_tracks(midi_file, path: str) -> int:
    """Reject absurd tick counts and unusable tempos or meters; make empty tracks readable.

    Returns the largest tick of any track.
    """
    import mido

    if not midi_file.tracks:
        raise UnreadableFileError(path, "no_tracks", "no track chunk could be read")
    check_track_zero_events(midi_file.tracks[0], path)
    largest_tick = 0
    for track in midi_file.tracks:
        if not track:  # pretty_midi fails on a track with no events at all ("max() arg is empty")
            track.append(mido.MetaMessage("end_of_track", time=0))
        largest_tick = max(largest_tick, sum(message.time for message in track))
    if largest_tick >= MAX_MIDI_TICK:
        raise UnreadableFileError(
            path,
            "too_many_ticks",
            f"largest tick {largest_tick:,} (limit {MAX_MIDI_TICK:,}); the file is likely corrupt",
        )
    return largest_tick


# -------------------------------------------------------------------------------------------------
# 4. pretty_midi's reading, without its table of one float per tick
# -------------------------------------------------------------------------------------------------
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


def _load_pretty_midi(midi_file, largest_tick: int):
    """pretty_midi's reading of a parsed file (its own tempo, metadata and note rules).

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


# -------------------------------------------------------------------------------------------------
# 5. pretty_midi's objects to a NoteSequence
# -------------------------------------------------------------------------------------------------
def _tempo_changes(midi) -> tuple[list[float], list[float]]:
    """(times, qpms) as pretty_midi's get_tempo_changes, minus its MAX_TICK check on tempo ticks."""
    timeline = getattr(midi, "_PrettyMIDI__tick_to_time", None)
    if not isinstance(timeline, _TickTimeline):
        times, qpms = midi.get_tempo_changes()
        return [float(time) for time in times], [float(qpm) for qpm in qpms]
    times = [float(timeline[tick]) for tick, _ in midi._tick_scales]
    qpms = [60.0 / (scale * midi.resolution) for _, scale in midi._tick_scales]
    return times, qpms


def _pretty_midi_to_note_sequence(midi) -> NoteSequence:
    """Notes (instrument = index in pretty_midi's list), tempos, meters and keys of a PrettyMIDI."""
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
    sequence.tempos = [
        Tempo(float(time), float(qpm)) for time, qpm in zip(times, qpms, strict=True)
    ]
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
