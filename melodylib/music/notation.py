"""Staff notation: a melody as MusicXML (music21) and as an SVG score (verovio).

Musicians read a score faster than a piano roll. The path is:

1. `score_line`: whatever the user hands over (events, a Melody, a NoteSequence or a music file)
   becomes one line of notes on the 16th-note grid, with its meter, key and title;
2. `to_musicxml`: music21 lays the line out in bars, with ties across bar lines and rests, and
   writes MusicXML (which every notation program opens);
3. `render_score`: verovio engraves that MusicXML as SVG, wrapping long melodies onto systems.

The primer and the model's continuation are told apart by colour (the piano rolls' blue and
orange) and a "continuation" marking over the first generated note.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from melodylib.atomic import write_text_atomically
from melodylib.errors import MelodylibError
from melodylib.music.events import DEFAULT_STEPS_PER_BAR, check_events, event_note_spans
from melodylib.music.notesequence import DEFAULT_QPM, NoteSequence

PRIMER_COLOR = "#3b75af"  # blue, as in the piano rolls
CONTINUATION_COLOR = "#e8702a"  # orange
DEFAULT_STEPS_PER_QUARTER = 4
MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
# Tonic spellings (music21's) that give the key signature with the fewest accidentals.
MAJOR_KEY_NAMES = ("C", "D-", "D", "E-", "E", "F", "F#", "G", "A-", "A", "B-", "B")
MINOR_KEY_NAMES = ("C", "C#", "D", "E-", "E", "F", "F#", "G", "G#", "A", "B-", "B")
METERS = {16: (4, 4), 12: (3, 4), 8: (2, 4), 24: (6, 4), 20: (5, 4), 4: (1, 4)}


@dataclass
class ScoreLine:
    """One melodic line on a grid of steps: what a score shows.

    `notes` are (pitch, start_step, end_step) with no overlaps; silence between them becomes rests.
    `key` is the tonic's pitch class and `mode` 0 major, 1 minor.
    """

    notes: list[tuple[int, int, int]]
    total_steps: int
    steps_per_quarter: int = DEFAULT_STEPS_PER_QUARTER
    numerator: int = 4
    denominator: int = 4
    key: int = 0
    mode: int = 0
    title: str = ""
    primer_steps: int = 0


def _estimated_major_key(spans: list[tuple[int, int, int]]) -> int:
    """The major key whose scale holds the most note steps (ties: the lowest tonic)."""
    weights = np.zeros(12)
    for pitch, start, end in spans:
        weights[pitch % 12] += end - start
    scores = [sum(weights[(tonic + degree) % 12] for degree in MAJOR_SCALE) for tonic in range(12)]
    return int(np.argmax(scores))


def _meter(steps_per_bar: int, steps_per_quarter: int) -> tuple[int, int]:
    quarters = steps_per_bar * DEFAULT_STEPS_PER_QUARTER // steps_per_quarter
    return METERS.get(quarters, (4, 4))


def _line_from_events(events: Any, steps_per_bar: int, steps_per_quarter: int) -> ScoreLine:
    checked = check_events(events, "score")
    spans = event_note_spans(checked)
    numerator, denominator = _meter(steps_per_bar, steps_per_quarter)
    return ScoreLine(
        spans,
        len(checked),
        steps_per_quarter,
        numerator,
        denominator,
        key=_estimated_major_key(spans),
    )


def _monophonic(notes: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """One line: the highest of notes that start together; a note ends where the next begins."""
    line: list[tuple[int, int, int]] = []
    for pitch, start, end in sorted(notes, key=lambda note: (note[1], -note[0])):
        if line and line[-1][1] == start:
            continue
        if line and line[-1][2] > start:
            line[-1] = (line[-1][0], line[-1][1], start)
        line.append((pitch, start, max(end, start + 1)))
    return line


def _line_from_sequence(sequence: NoteSequence, steps_per_quarter: int) -> ScoreLine:
    qpm = sequence.tempos[0].qpm if sequence.tempos else DEFAULT_QPM
    steps_per_second = qpm / 60.0 * steps_per_quarter
    notes = [
        (
            note.pitch,
            round(note.start_time * steps_per_second),
            round(note.end_time * steps_per_second),
        )
        for note in sequence.notes
        if not note.is_drum
    ]
    line = _monophonic(notes)
    total = max([end for _, _, end in line] + [round(sequence.total_time * steps_per_second)])
    numerator, denominator = 4, 4
    if sequence.time_signatures:
        first = min(sequence.time_signatures, key=lambda signature: signature.time)
        numerator, denominator = first.numerator, first.denominator
    if sequence.key_signatures:
        first_key = min(sequence.key_signatures, key=lambda signature: signature.time)
        key, mode = first_key.key % 12, first_key.mode
    else:
        key, mode = _estimated_major_key(line), 0
    return ScoreLine(
        line,
        total,
        steps_per_quarter,
        numerator,
        denominator,
        key,
        mode,
        title=sequence.title or sequence.id,
    )


def score_line(
    music: Any,
    *,
    primer_steps: int = 0,
    title: str | None = None,
    steps_per_bar: int | None = None,
    steps_per_quarter: int = DEFAULT_STEPS_PER_QUARTER,
) -> ScoreLine:
    """The line a score shows for `music`: events, a Melody, a NoteSequence or a music file's path.

    Events and Melodies are in 4/4 (or the meter their `steps_per_bar` implies) and in the major
    key that holds most of their notes; NoteSequences bring their own time and key signatures.
    Where notes sound together, the score shows the highest.
    """
    if isinstance(music, (str, os.PathLike)):
        from melodylib.music.readers import read_note_sequence

        music = read_note_sequence(music)
    if isinstance(music, NoteSequence):
        line = _line_from_sequence(music, steps_per_quarter)
    else:
        bar = steps_per_bar or getattr(music, "steps_per_bar", None) or DEFAULT_STEPS_PER_BAR
        quarter = getattr(music, "steps_per_quarter", None) or steps_per_quarter
        line = _line_from_events(music, int(bar), int(quarter))
    if not line.notes:
        raise MelodylibError("nothing to engrave: the music has no notes")
    line.primer_steps = max(0, int(primer_steps))
    if title is not None:
        line.title = title
    return line


def _spelled(midi_pitch: int, flat_key: bool):
    """A music21 pitch spelled for the key: flats in flat keys, sharps otherwise, no written naturals."""
    from music21 import pitch

    spelled = pitch.Pitch(midi=midi_pitch)
    if spelled.accidental is not None and spelled.accidental.alter == 0:
        spelled.accidental = None
    elif flat_key and spelled.accidental is not None and spelled.accidental.alter > 0:
        spelled = spelled.getEnharmonic()
    return spelled


def _line_items(line: ScoreLine):
    """(step, length, pitch or None) for every note and every rest between them, in order."""
    position = 0
    for pitch, start, end in line.notes:
        if start > position:
            yield position, start - position, None
        yield start, end - start, pitch
        position = end
    if line.total_steps > position:
        yield position, line.total_steps - position, None


def _music21_score(line: ScoreLine):
    """A music21 Score of the line: bars, ties across bar lines, rests, colours, the marking."""
    from music21 import expressions, key, metadata, meter, note, stream

    names = MINOR_KEY_NAMES if line.mode else MAJOR_KEY_NAMES
    signature = key.Key(names[line.key], "minor" if line.mode else "major")
    part = stream.Part()
    part.insert(0, meter.TimeSignature(f"{line.numerator}/{line.denominator}"))
    part.insert(0, signature)
    marked = False
    for start, length, pitch in _line_items(line):
        quarters = length / line.steps_per_quarter
        if pitch is None:
            part.insert(start / line.steps_per_quarter, note.Rest(quarterLength=quarters))
            continue
        sounding = note.Note(_spelled(pitch, signature.sharps < 0), quarterLength=quarters)
        if line.primer_steps:
            in_primer = start < line.primer_steps
            sounding.style.color = PRIMER_COLOR if in_primer else CONTINUATION_COLOR
            if not in_primer and not marked:
                marking = expressions.TextExpression("continuation")
                marking.placement = "above"
                part.insert(start / line.steps_per_quarter, marking)
                marked = True
        part.insert(start / line.steps_per_quarter, sounding)
    score = stream.Score([part])
    score.metadata = metadata.Metadata(title=line.title or " ")
    return score.makeNotation()


def to_musicxml(music: Any, **options: Any) -> str:
    """MusicXML text of `music` (see `score_line` for what it takes and its options)."""
    from music21.musicxml.m21ToXml import GeneralObjectExporter

    line = music if isinstance(music, ScoreLine) else score_line(music, **options)
    return GeneralObjectExporter(_music21_score(line)).parse().decode("utf-8")


def write_musicxml(music: Any, path: str | os.PathLike, **options: Any) -> Path:
    """Write `music` as a MusicXML file, atomically; returns the path."""
    final = Path(path)
    write_text_atomically(final, to_musicxml(music, **options))
    return final


def render_score(music: Any, *, width: int = 1800, scale: int = 40, **options: Any) -> str:
    """An SVG score of `music`, engraved by verovio; long melodies wrap onto more systems.

    `width` is the page width in verovio's units (1800 fits a notebook cell at `scale` 40).
    """
    try:
        import verovio
    except ImportError as error:
        raise MelodylibError("scores need verovio: pip install verovio") from error
    verovio.enableLog(verovio.LOG_OFF)
    toolkit = verovio.toolkit()
    toolkit.setOptions(
        {
            "pageWidth": width,
            "pageHeight": 60000,
            "adjustPageHeight": True,
            "scale": scale,
            "breaks": "auto",
            "footer": "none",
            "header": "auto",
            "xmlIdSeed": 1,
            "pageMarginTop": 20,
            "pageMarginBottom": 20,
            "pageMarginLeft": 20,
            "pageMarginRight": 20,
        }
    )
    if not toolkit.loadData(to_musicxml(music, **options)):
        raise MelodylibError("verovio could not read the MusicXML made for this score")
    return toolkit.renderToSVG(1)
