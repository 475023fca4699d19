"""Byte-level checks of a MIDI file, so that every unreadable file gets a precise reason.

mido and pretty_midi fail on a damaged file with vague errors ("list index out of range", "no
MTrk header at start of track"), and some damage they read without complaint until pretty_midi
divides by a tempo of zero. This module says what is wrong and where:

- `check_midi_header` checks the MThd chunk before anything else reads the file;
- `diagnose_tracks` walks the track chunks event by event, as mido reads them, after mido has
  failed, to name the first defect (track, byte offset, what was found); it runs only on files
  mido refused, so good files pay nothing for it;
- `check_track_zero_events` checks the tempo and time signature events pretty_midi reads (those of
  the first track) for values it would fail on.

The reason codes are listed in docs/magenta-behaviour.md ("File conversion").
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from melodylib.errors import UnreadableFileError

# Data bytes after each channel status (the high nibble), as the MIDI 1.0 specification gives.
CHANNEL_DATA_BYTES = {0x80: 2, 0x90: 2, 0xA0: 2, 0xB0: 2, 0xC0: 1, 0xD0: 1, 0xE0: 2}
# mido refuses a sysex or meta event longer than this (its MAX_MESSAGE_LENGTH).
MAX_EVENT_LENGTH = 1_000_000
META_NAMES = {
    0x20: "channel prefix",
    0x21: "MIDI port",
    0x2F: "end of track",
    0x51: "tempo",
    0x54: "SMPTE offset",
    0x58: "time signature",
    0x59: "key signature",
}
# The data bytes a meta event needs (as mido decodes them; others may have any number).
META_LENGTHS = {0x20: 1, 0x51: 3, 0x54: 5, 0x58: 4, 0x59: 2}
META_REASONS = {0x51: "bad_tempo", 0x58: "bad_time_signature", 0x59: "bad_key_signature"}


@dataclass(frozen=True)
class MidiHeader:
    """The fields of an MThd chunk."""

    length: int
    midi_format: int
    num_tracks: int
    division: int


def check_midi_header(data: bytes, path: str) -> MidiHeader:
    """Check the MThd chunk; a damaged one raises UnreadableFileError with a precise reason."""
    if not data:
        raise UnreadableFileError(path, "empty_file", "the file has 0 bytes")
    if not data.startswith(b"MThd"):
        if b"MThd".startswith(data):
            raise UnreadableFileError(path, "truncated", f"only {len(data)} bytes")
        if data.startswith(b"RIFF"):
            raise UnreadableFileError(
                path, "not_midi", "a RIFF file (.rmi RIFF-MIDI is not supported)"
            )
        raise UnreadableFileError(path, "not_midi", "it does not start with 'MThd'")
    if len(data) < 14:
        raise UnreadableFileError(
            path, "truncated", f"the header needs 14 bytes, the file has {len(data)}"
        )
    header = MidiHeader(*struct.unpack(">IHHH", data[4:14]))
    if header.length < 6:
        raise UnreadableFileError(path, "bad_header", f"header length {header.length}, expected 6")
    if 8 + header.length > len(data):
        raise UnreadableFileError(
            path,
            "bad_header",
            f"header length {header.length:,}, longer than the file ({len(data):,} bytes)",
        )
    if header.midi_format > 2:
        raise UnreadableFileError(path, "bad_header", f"unknown MIDI format {header.midi_format}")
    if header.midi_format == 2:
        # pretty_midi would overlay the independent patterns of a type-2 file on one timeline
        # (magenta-behaviour.md: "File conversion": end 1.5 s instead of 3 s), so we refuse it
        # instead of reading it wrongly.
        raise UnreadableFileError(
            path, "type_2_midi", "type-2 (multi-pattern) MIDI files are not supported"
        )
    if header.num_tracks == 0:
        raise UnreadableFileError(path, "no_tracks", "the header says the file has 0 tracks")
    if header.num_tracks >= 0x8000:
        # mido reads the count as a signed number, so it would read no track at all
        raise UnreadableFileError(
            path, "bad_header", f"track count {header.num_tracks:,} (at most 32,767)"
        )
    if header.division & 0x8000:
        raise UnreadableFileError(
            path, "smpte_division", "time in SMPTE frames, not ticks per quarter note"
        )
    if header.division == 0:
        raise UnreadableFileError(path, "bad_header", "0 ticks per quarter note")
    return header


class _EndOfData(Exception):
    """The file ended where the walk needed another byte."""


class _TrackWalker:
    """Reads the events of one track chunk the way mido does, checking each as it goes."""

    def __init__(self, data: bytes, path: str, track: int, start: int, size: int) -> None:
        self.data, self.path, self.track = data, path, track
        self.start, self.size, self.position = start, size, start

    def fail(self, reason: str, at: int, what: str) -> UnreadableFileError:
        return UnreadableFileError(self.path, reason, f"track {self.track}, byte {at:,}: {what}")

    def byte(self) -> int:
        if self.position >= len(self.data):
            raise _EndOfData
        self.position += 1
        return self.data[self.position - 1]

    def variable_length(self) -> int:
        value = 0
        while True:
            byte = self.byte()
            value = (value << 7) | (byte & 0x7F)
            if byte < 0x80:
                return value

    def skip(self, count: int, at: int, what: str) -> bytes:
        if count > MAX_EVENT_LENGTH:
            raise self.fail("bad_meta_event", at, f"{what} claims {count:,} bytes")
        if self.position + count > len(self.data):
            raise _EndOfData
        self.position += count
        return self.data[self.position - count : self.position]

    def walk(self) -> None:
        """Check every event; raises UnreadableFileError at the first defect."""
        last_status = None
        while self.position - self.start != self.size:
            if self.position - self.start > self.size:
                raise self.fail(
                    "bad_track_length",
                    self.position,
                    f"an event runs past the end of the track chunk ({self.size:,} bytes, "
                    f"from byte {self.start:,}); the chunk length or the event is damaged",
                )
            at = self.position
            self.variable_length()
            status_at = self.position
            status = self.byte()
            if status < 0x80:
                if last_status is None:
                    raise self.fail(
                        "bad_running_status",
                        status_at,
                        f"data byte 0x{status:02X} where an event should start, with no earlier "
                        "status byte to repeat",
                    )
                status = last_status
                if status < 0xF0:
                    self.position -= 1  # the byte is the event's first data byte (mido drops it
                    # before a sysex)
            elif status != 0xFF:
                last_status = status
            self._event(status, status_at, at)

    def _event(self, status: int, status_at: int, event_at: int) -> None:
        if status == 0xFF:
            self._meta_event(status_at)
        elif status in (0xF0, 0xF7):
            self._sysex_event(status_at)
        elif status >= 0xF0:
            raise self.fail(
                "bad_status_byte",
                status_at,
                f"status byte 0x{status:02X} (a system message, not allowed in a MIDI file)",
            )
        else:
            for _ in range(CHANNEL_DATA_BYTES[status & 0xF0]):
                data_at = self.position
                value = self.byte()
                if value > 127:
                    raise self.fail(
                        "bad_data_byte",
                        data_at,
                        f"data byte {value} (at most 127) in the event with status "
                        f"0x{status:02X} at byte {event_at:,}",
                    )

    def _sysex_event(self, status_at: int) -> None:
        payload = self.skip(self.variable_length(), status_at, "a sysex event")
        inner = payload[1:] if payload[:1] == b"\xf0" else payload
        inner = inner[:-1] if inner[-1:] == b"\xf7" else inner
        if any(byte > 127 for byte in inner):
            value = next(byte for byte in inner if byte > 127)
            raise self.fail(
                "bad_data_byte", status_at, f"data byte {value} (at most 127) in a sysex event"
            )

    def _meta_event(self, status_at: int) -> None:
        from mido.midifiles.meta import build_meta_message

        meta_type = self.byte()
        length = self.variable_length()
        name = META_NAMES.get(meta_type, f"meta event 0x{meta_type:02X}")
        payload = self.skip(length, status_at, f"a {name}")
        reason = META_REASONS.get(meta_type, "bad_meta_event")
        needed = META_LENGTHS.get(meta_type, 0)
        if len(payload) < needed:
            raise self.fail(
                reason, status_at, f"a {name} with {len(payload)} data bytes, not {needed}"
            )
        try:
            build_meta_message(meta_type, list(payload))
        except Exception as error:  # noqa: BLE001 - mido's decoders raise assorted errors
            text = " ".join(str(error).split()) or type(error).__name__
            raise self.fail(
                reason, status_at, f"a {name} with data {payload.hex(' ') or '(none)'}: {text}"
            ) from error


def diagnose_tracks(data: bytes, path: str, header: MidiHeader) -> UnreadableFileError | None:
    """The first defect in the track chunks, found the way mido reads them; None if none is."""
    position = 8 + header.length
    for track in range(header.num_tracks):
        if position + 8 > len(data):
            what = (
                f"the header promises {header.num_tracks} tracks; the file ends after {track}"
                if position >= len(data)
                else f"the file ends inside the chunk header of track {track}"
            )
            return UnreadableFileError(path, "truncated", what)
        tag, size = struct.unpack(">4sI", data[position : position + 8])
        if tag != b"MTrk":
            hint = f" (the length of track {track - 1}'s chunk may be wrong)" if track else ""
            return UnreadableFileError(
                path,
                "bad_chunk",
                f"track {track}: expected an MTrk chunk at byte {position:,}, found {tag!r}{hint}",
            )
        walker = _TrackWalker(data, path, track, position + 8, size)
        try:
            walker.walk()
        except UnreadableFileError as error:
            return error
        except _EndOfData:
            return UnreadableFileError(
                path,
                "truncated",
                f"track {track}: the chunk says {size:,} bytes from byte {position + 8:,}; "
                f"the file ends at byte {len(data):,}",
            )
        position = walker.position
    return None


def check_track_zero_events(track, path: str) -> None:
    """Tempo and time signature values in the first track that pretty_midi cannot use.

    pretty_midi reads tempos and meters from the first track only and divides by the tempo, so a
    tempo of 0 microseconds per quarter note, or a meter with 0 beats, would fail inside it.
    """
    tick = 0
    for message in track:
        tick += message.time
        if message.type == "set_tempo" and message.tempo <= 0:
            raise UnreadableFileError(
                path, "bad_tempo", f"track 0, tick {tick:,}: a tempo of 0 microseconds per quarter"
            )
        if message.type == "time_signature" and (
            message.numerator <= 0 or message.denominator <= 0
        ):
            raise UnreadableFileError(
                path,
                "bad_time_signature",
                f"track 0, tick {tick:,}: time signature {message.numerator}/{message.denominator}",
            )
