"""One music file of any type: the reader chosen by extension, and the ids Magenta gives sequences.

`read_note_sequence` and `read_music_file` are what a user calls for one file; `read_file_result`
is what the folder converter calls: it never raises for an unreadable file, it returns the
errors (ABC: one per bad tune) beside the sequences it could read. Every sequence is tagged with
its filename (relative to the input folder), collection name and note_seq-style id.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from melodylib.errors import MelodylibError, UnreadableFileError
from melodylib.music.notesequence import NoteSequence
from melodylib.music.readers.abc import (
    AbcTune,
    abc_tunes_to_results,
    read_abc_text,
    split_abc_tunes,
    split_duplicate_tunes,
)
from melodylib.music.readers.common import (
    SUPPORTED_EXTENSIONS,
    describe_error,
    read_file_bytes,
    source_type_of,
)
from melodylib.music.readers.midi import midi_to_note_sequence
from melodylib.music.readers.musicxml import musicxml_to_note_sequence
from melodylib.music.readers.time_limit import ReadingTimedOut, time_limit, timeout_detail


@dataclass
class FileResult:
    """What reading one file gave: its sequences and its errors.

    For an ABC file, one sequence per good tune and one error per bad tune.
    """

    path: str
    sequences: list[NoteSequence] = field(default_factory=list)
    errors: list[UnreadableFileError] = field(default_factory=list)


def read_note_sequence(
    path: str | os.PathLike, input_dir: str | os.PathLike | None = None
) -> NoteSequence:
    """The NoteSequence of one MIDI or MusicXML file, or of an ABC file holding exactly one tune."""
    sequences = read_music_file(path, input_dir)
    if len(sequences) != 1:
        raise MelodylibError(
            f"{path} holds {len(sequences)} tunes; use read_music_file to get them all"
        )
    return sequences[0]


def read_music_file(
    path: str | os.PathLike, input_dir: str | os.PathLike | None = None
) -> list[NoteSequence]:
    """The NoteSequences of one MIDI, MusicXML or ABC file (ABC: one per tune).

    Raises UnreadableFileError when nothing could be read. For an ABC file with some bad tunes the
    good ones are returned and a warning names the others; use read_file_result to get them.
    """
    result = read_file_result(path, input_dir)
    if not result.sequences and result.errors:
        raise result.errors[0]
    if result.errors:
        warnings.warn(
            f"{path}: skipped {len(result.errors)} unreadable tune(s), first: {result.errors[0]}",
            stacklevel=2,
        )
    return result.sequences


def read_file_result(
    path: str | os.PathLike,
    input_dir: str | os.PathLike | None = None,
    time_limit_secs: float | None = None,
) -> FileResult:
    """Read one music file into a FileResult; an unreadable file gives errors in the result.

    Never raises for an unreadable file. `input_dir` (default: the file's folder) gives the
    collection name and the relative filename. `time_limit_secs` stops a reading that runs longer
    (reason `timeout`; for ABC, per tune), where `time_limit.can_limit_time()` allows.
    """
    path = str(path)
    input_dir = input_dir if input_dir is not None else os.path.dirname(os.path.abspath(path))
    filename = relative_filename(path, input_dir)
    collection = collection_name_of(input_dir)
    source_type = source_type_of(path)
    try:
        if source_type is None:
            raise UnreadableFileError(
                path, "unsupported_extension", f"expected one of {', '.join(SUPPORTED_EXTENSIONS)}"
            )
        if time_limit_secs:
            import_reader_libraries(source_type)  # not on the clock: music21 takes seconds
        if source_type == "abc":
            return _read_abc_file(path, filename, collection, time_limit_secs)
        with time_limit(time_limit_secs):
            if source_type == "midi":
                sequence = midi_to_note_sequence(read_file_bytes(path), path)
            else:
                sequence = musicxml_to_note_sequence(path)
        tagged = _tag(sequence, source_type, filename, collection, filename)
        return FileResult(path, sequences=[tagged])
    except UnreadableFileError as error:
        return FileResult(path, errors=[error])
    except ReadingTimedOut:
        error = UnreadableFileError(path, "timeout", timeout_detail(time_limit_secs or 0))
        return FileResult(path, errors=[error])
    except Exception as error:  # noqa: BLE001 - as Magenta: an unexpected failure skips the file
        return FileResult(
            path, errors=[UnreadableFileError(path, "unknown_error", describe_error(error))]
        )


def import_reader_libraries(source_type: str) -> None:
    """Import the libraries that read `source_type`, so a time limit does not count their import."""
    if source_type == "midi":
        import mido  # noqa: F401
        import pretty_midi  # noqa: F401
    else:
        import music21  # noqa: F401


def _read_abc_file(
    path: str, filename: str, collection: str, time_limit_secs: float | None
) -> FileResult:
    """Every tune of an ABC file, tagged; refused duplicates come first among the errors."""
    tunes = split_abc_tunes(read_abc_text(path))
    if not tunes:
        raise UnreadableFileError(
            path, "abc_parse_error", "no tunes found (no line starting with X:)"
        )
    tunes, refused = split_duplicate_tunes(tunes, path)
    result = read_abc_tunes(path, tunes, filename, collection, time_limit_secs)
    result.errors = refused + result.errors
    return result


def read_abc_tunes(
    path: str,
    tunes: Iterable[AbcTune],
    filename: str,
    collection: str,
    time_limit_secs: float | None = None,
) -> FileResult:
    """Parse and tag some tunes of one ABC file (the folder converter hands out tunes in chunks)."""
    result = FileResult(path)
    for tune_result in abc_tunes_to_results(tunes, path, time_limit_secs):
        if tune_result.error is not None:
            result.errors.append(tune_result.error)
        else:
            # Magenta (magenta-behaviour.md: "File conversion") hashes "<filename>_<tune>", where
            # note_seq numbers tunes by their X: field.
            tag_name = f"{filename}_{tune_result.tune.reference}"
            result.sequences.append(
                _tag(tune_result.sequence, "abc", filename, collection, tag_name)
            )
    return result


# -------------------------------------------------------------------------------------------------
# Ids and metadata
# -------------------------------------------------------------------------------------------------
def collection_name_of(input_dir: str | os.PathLike) -> str:
    """Basename of the input folder (magenta-behaviour.md: "File conversion").

    Magenta takes os.path.basename of the flag as given, so "songs/" gives an empty name; we
    normalise the path first, so "songs/" and "songs" both give "songs".
    """
    return os.path.basename(os.path.normpath(os.path.abspath(input_dir)))


def sequence_id(source_type: str, collection_name: str, hashed_name: str) -> str:
    """A sequence's id as note_seq makes it (magenta-behaviour.md: "File conversion").

    That is "/id/<midi|musicxml|abc>/<collection>/<sha1 of the name>".
    """
    digest = hashlib.sha1(hashed_name.encode("utf-8")).hexdigest()
    return f"/id/{source_type}/{collection_name}/{digest}"


def relative_filename(path: str | os.PathLike, input_dir: str | os.PathLike) -> str:
    """`path` relative to `input_dir`, with forward slashes (the filename a sequence records)."""
    return Path(os.path.relpath(os.path.abspath(path), os.path.abspath(input_dir))).as_posix()


def _tag(
    sequence: NoteSequence, source_type: str, filename: str, collection: str, hashed_name: str
) -> NoteSequence:
    """Give `sequence` its source type, filename, collection name and id (in place)."""
    sequence.source_type = source_type
    sequence.filename = filename
    sequence.collection_name = collection
    sequence.id = sequence_id(source_type, collection, hashed_name)
    return sequence
