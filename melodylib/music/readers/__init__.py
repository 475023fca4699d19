"""Reading music files (MIDI, MusicXML, ABC) into NoteSequences, one file or a whole folder.

Every way a file can fail becomes one `UnreadableFileError` with a short reason code and a detail
saying where, so a folder conversion can skip the file, say why, and count the reasons
(magenta-behaviour.md: "File conversion"). `common.SKIP_REASONS` lists the codes with one line
each (docs/skip-reasons.md shows the same list); `unknown_error` is left only for a library
failure that no check foresaw.

MIDI goes through mido and pretty_midi (magenta-behaviour.md: "File conversion"); MusicXML and
ABC through music21, whose score we walk ourselves (music21's MIDI writer fails on about one ABC
tune in ten). Our own checks (`midi_checks`, `musicxml_checks`, `abc_checks`) look at the input
first, and a time limit (`time_limit`, `reader_pool`) stops a file that takes too long.
pretty_midi and music21 are imported lazily, inside the functions that use them, so importing
this package is cheap and a process that reads only MIDI never imports music21.

The modules, in the order a file meets them:

- `common`: the file types by extension, reading bytes, one-line error descriptions;
- `midi`, `musicxml`, `abc`: one reader per format (`scores` walks the music21 score that the
  MusicXML and ABC readers get);
- `files`: one file of any type, dispatched by extension, its sequences tagged with ids;
- `tasks` and `convert`: a whole folder, read in parallel processes into one TFRecord file.
"""

from melodylib.music.readers.abc import (
    AbcTune,
    AbcTuneResult,
    abc_to_note_sequences,
    abc_tune_to_note_sequence,
    abc_tunes_to_results,
    split_abc_tunes,
)
from melodylib.music.readers.common import (
    ABC_EXTENSIONS,
    MIDI_EXTENSIONS,
    MUSICXML_EXTENSIONS,
    SKIP_REASONS,
    SUPPORTED_EXTENSIONS,
    SkipItem,
    source_type_of,
)
from melodylib.music.readers.convert import (
    ConversionSummary,
    convert_directory,
    convert_files,
    list_music_files,
)
from melodylib.music.readers.files import (
    FileResult,
    collection_name_of,
    read_file_result,
    read_music_file,
    read_note_sequence,
    sequence_id,
)
from melodylib.music.readers.midi import MAX_MIDI_TICK, midi_to_note_sequence
from melodylib.music.readers.musicxml import musicxml_to_note_sequence
from melodylib.music.readers.scores import DEFAULT_VELOCITY, score_to_note_sequence

__all__ = [
    "ABC_EXTENSIONS",
    "DEFAULT_VELOCITY",
    "MAX_MIDI_TICK",
    "MIDI_EXTENSIONS",
    "MUSICXML_EXTENSIONS",
    "SKIP_REASONS",
    "SUPPORTED_EXTENSIONS",
    "AbcTune",
    "AbcTuneResult",
    "ConversionSummary",
    "FileResult",
    "SkipItem",
    "abc_to_note_sequences",
    "abc_tune_to_note_sequence",
    "abc_tunes_to_results",
    "collection_name_of",
    "convert_directory",
    "convert_files",
    "list_music_files",
    "midi_to_note_sequence",
    "musicxml_to_note_sequence",
    "read_file_result",
    "read_music_file",
    "read_note_sequence",
    "score_to_note_sequence",
    "sequence_id",
    "source_type_of",
    "split_abc_tunes",
]
