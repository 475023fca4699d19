"""Reading a MusicXML file (.xml, .musicxml, or compressed .mxl) into a NoteSequence via music21.

music21 parses the file; `scores.score_to_note_sequence` walks the score. A file music21 cannot
parse or walk is refused as musicxml_parse_error, one it cannot open as io_error.
"""

from __future__ import annotations

import os
import re
import zipfile

from melodylib.errors import UnreadableFileError
from melodylib.music.notesequence import NoteSequence
from melodylib.music.readers.common import describe_error
from melodylib.music.readers.scores import quiet_music21, score_to_note_sequence


def musicxml_to_note_sequence(path: str | os.PathLike) -> NoteSequence:
    """A NoteSequence from a MusicXML file (.xml, .musicxml, or compressed .mxl) via music21."""
    path = str(path)
    if not os.path.isfile(path):
        raise UnreadableFileError(path, "io_error", "no such file")
    import music21

    try:
        with quiet_music21():
            if zipfile.is_zipfile(path):
                # compressed MusicXML; we unpack it ourselves because music21 recognises only a
                # lower-case ".mxl" extension
                score = music21.converter.parseData(
                    _compressed_musicxml_text(path), format="musicxml"
                )
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


def _compressed_musicxml_text(path: str) -> str:
    """The score inside a compressed MusicXML (.mxl) archive.

    That is the rootfile META-INF/container.xml names, else the archive's first MusicXML file.
    """
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
                raise ValueError("the .mxl archive holds no MusicXML file")
            root = candidates[0]
        data = archive.read(root)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    return data.decode("utf-8-sig")
