"""Reading a MusicXML file (.xml, .musicxml, or compressed .mxl) into a NoteSequence via music21.

Before music21 sees the file we open the archive of an .mxl (a broken one is bad_archive), parse
the XML and check its values (`musicxml_checks`: bad_xml, not_musicxml, bad_duration, bad_pitch,
bad_time_signature, bad_key_signature, bad_tempo), so a damaged file gets a precise reason. Then
music21 parses the file and `scores.score_to_note_sequence` walks the score; a file music21 still
cannot parse or walk is refused as musicxml_parse_error, one that cannot be opened as io_error.
"""

from __future__ import annotations

import os
import re
import zipfile
import zlib

from melodylib.errors import UnreadableFileError
from melodylib.music.notesequence import NoteSequence
from melodylib.music.readers.common import describe_error, read_file_bytes
from melodylib.music.readers.musicxml_checks import check_musicxml_values, parse_musicxml_document
from melodylib.music.readers.scores import quiet_music21, score_to_note_sequence


def musicxml_to_note_sequence(path: str | os.PathLike) -> NoteSequence:
    """A NoteSequence from a MusicXML file (.xml, .musicxml, or compressed .mxl) via music21."""
    path = str(path)
    if not os.path.isfile(path):
        raise UnreadableFileError(path, "io_error", "no such file")
    compressed = zipfile.is_zipfile(path)
    text = _compressed_musicxml_text(path) if compressed else None
    _check_document(path, text)
    import music21

    try:
        with quiet_music21():
            if text is not None:
                # compressed MusicXML; we unpack it ourselves because music21 recognises only a
                # lower-case ".mxl" extension
                score = music21.converter.parseData(text, format="musicxml")
            else:
                # forceSource: do not read or write music21's pickle cache (workers must not race
                # on it)
                score = music21.converter.parseFile(
                    path, format="musicxml", forceSource=True, storePickle=False
                )
    except OSError as error:
        raise UnreadableFileError(path, "io_error", str(error)) from error
    except Exception as error:  # noqa: BLE001 - music21 raises many unrelated exception classes
        raise UnreadableFileError(path, "musicxml_parse_error", describe_error(error)) from error
    title = ""
    if score.metadata is not None:
        title = score.metadata.title or score.metadata.movementName or ""
        if title == os.path.basename(path):
            title = ""  # music21 puts the file name there when the file has no title
    try:
        with quiet_music21():
            return score_to_note_sequence(score, "musicxml", title=str(title))
    except Exception as error:  # noqa: BLE001
        raise UnreadableFileError(path, "musicxml_parse_error", describe_error(error)) from error


def _check_document(path: str, text: str | None) -> None:
    """Our checks of the XML and its values (`musicxml_checks`), before music21 reads it."""
    if text is None:
        data = read_file_bytes(path)
        if not data:
            raise UnreadableFileError(path, "empty_file", "the file has 0 bytes")
        if path.lower().endswith(".mxl"):
            raise UnreadableFileError(
                path,
                "bad_archive",
                "a .mxl file must be a zip archive; this one is not (cut short?)",
            )
    root = parse_musicxml_document(text if text is not None else data, path)
    check_musicxml_values(root, path)


def _compressed_musicxml_text(path: str) -> str:
    """The score inside a compressed MusicXML (.mxl) archive; a broken archive is bad_archive.

    That is the rootfile META-INF/container.xml names, else the archive's first MusicXML file.
    """
    try:
        return _read_archive(path)
    except (
        zipfile.BadZipFile,
        zlib.error,
        EOFError,
        KeyError,
        NotImplementedError,
        OSError,
    ) as error:
        raise UnreadableFileError(path, "bad_archive", describe_error(error)) from error
    except (ValueError, UnicodeError) as error:
        raise UnreadableFileError(path, "bad_archive", describe_error(error)) from error


def _read_archive(path: str) -> str:
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        root = None
        if "META-INF/container.xml" in names:
            container = archive.read("META-INF/container.xml").decode("utf-8", errors="replace")
            match = re.search(r'full-path="([^"]+)"', container)
            root = match.group(1) if match else None
        if root is None:
            candidates = [
                name
                for name in names
                if name.lower().endswith((".xml", ".musicxml")) and not name.startswith("META-INF")
            ]
            if not candidates:
                raise ValueError("the archive holds no MusicXML file")
            root = candidates[0]
        data = archive.read(root)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    return data.decode("utf-8-sig")
