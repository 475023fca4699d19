"""What every reader shares: which file types exist, reading a file's bytes, describing an error.

Kept apart from the format modules so that each of them (and the folder converter) can use these
without importing the others.
"""

from __future__ import annotations

import os
from pathlib import Path

from melodylib.errors import UnreadableFileError

MIDI_EXTENSIONS = (".mid", ".midi")
MUSICXML_EXTENSIONS = (".xml", ".mxl", ".musicxml")
ABC_EXTENSIONS = (".abc",)
SUPPORTED_EXTENSIONS = MIDI_EXTENSIONS + MUSICXML_EXTENSIONS + ABC_EXTENSIONS

SkipItem = tuple[
    str, str, str
]  # (path, reason code, detail) of a skipped file, tune or folder entry


# Why a file, ABC tune or folder entry was skipped: every reason code a conversion can report, with
# one line each (docs/skip-reasons.md shows this list; tests check the two agree).
SKIP_REASONS = {
    # any file
    "io_error": "the file or folder could not be read (permissions, a vanished file)",
    "empty_file": "the file has 0 bytes",
    "unsupported_extension": "not .mid, .midi, .xml, .mxl, .musicxml or .abc",
    "directory": "a subfolder, read only with --recursive",
    "timeout": "still being read after --file_timeout_secs (default 60 s); the run goes on",
    "reader_crashed": "the reader process died on the file (out of memory?); the run goes on",
    # MIDI
    "not_midi": "does not start with 'MThd' (also .rmi RIFF-MIDI)",
    "truncated": "the file ends inside its header, a chunk or an event",
    "bad_header": "impossible header fields: length, format, track count, 0 ticks per quarter",
    "no_tracks": "the header says 0 tracks, or no track could be read",
    "smpte_division": "time in SMPTE frames instead of ticks per quarter note (unsupported)",
    "type_2_midi": "a type-2 (multi-pattern) file (unsupported: pretty_midi would overlay them)",
    "bad_chunk": "a chunk where a track should be is not an MTrk chunk",
    "bad_track_length": "an event runs past the end of its track chunk (wrong chunk length)",
    "bad_running_status": "data bytes where an event should start, with no status to repeat",
    "bad_status_byte": "a system status byte (0xF1-0xFE) that a MIDI file may not hold",
    "bad_data_byte": "a data byte over 127 in a channel or sysex event",
    "bad_meta_event": "a meta event longer than 1,000,000 bytes, or one mido cannot decode",
    "too_many_ticks": "a track past 1e10 ticks (note_seq's limit), from absurd delta times",
    "corrupt_track": "mido refused a track for a reason our checks did not find (its message)",
    # values, in MIDI, MusicXML and ABC
    "bad_tempo": "a tempo of 0 (or absurd), or a tempo event of the wrong length",
    "bad_time_signature": "a meter of 0 beats, an absurd one, or a meter event of the wrong length",
    "bad_key_signature": "a key that does not exist (e.g. 9 sharps in MIDI, 1000 fifths)",
    "bad_duration": "MusicXML divisions or durations, or ABC note lengths, that are not usable",
    "bad_pitch": "a MusicXML step, octave or alter that is not a pitch",
    "bad_unit_length": "an ABC L: field with a 0 or absurd fraction",
    "bad_repeat": "a MusicXML repeat with a times count that is not 0 to 1000",
    # MusicXML
    "bad_archive": "a .mxl that is not a zip archive, or a broken one, or one without its score",
    "bad_xml": "not well-formed XML (line and column given), or an unknown encoding",
    "not_musicxml": "well-formed XML whose root is not <score-partwise> or <score-timewise>",
    "musicxml_parse_error": "music21 could not read the score (its message is given)",
    # ABC
    "abc_parse_error": "music21 could not read the tune, or the file has no X: line",
    "duplicate_reference_number": "an ABC tune whose X: number an earlier tune of the file has",
    # last resort
    "unknown_error": "a library failed in a way no check foresaw (please report the file)",
}


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


def describe_error(error: BaseException) -> str:
    """'ExceptionClass: message' on one line (library messages often hold newlines)."""
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def read_file_bytes(path: str) -> bytes:
    """The bytes of a file; a file that cannot be read becomes UnreadableFileError 'io_error'."""
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise UnreadableFileError(path, "io_error", error.strerror or str(error)) from error
