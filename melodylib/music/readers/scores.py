"""Walking a music21 score into a NoteSequence: what the MusicXML and ABC readers share.

music21 parses MusicXML and ABC into a score (a tree of parts, measures and notes placed at
offsets in quarter notes). We walk that score ourselves instead of asking music21 for MIDI
(music21's MIDI writer fails on about one ABC tune in ten): offsets become seconds through the
score's metronome marks, and meters and keys are kept where they change.

music21 is imported inside the functions that use it.
"""

from __future__ import annotations

import bisect
import contextlib
import io
import warnings
from collections.abc import Callable, Iterable, Iterator

from melodylib.music.notesequence import (
    DEFAULT_QPM,
    KeySignature,
    Note,
    NoteSequence,
    Tempo,
    TimeSignature,
)

# Velocity of MusicXML/ABC notes that carry none (note_seq's MusicXML reader also uses 64).
DEFAULT_VELOCITY = 64


def score_to_note_sequence(score, source_type: str, title: str = "") -> NoteSequence:
    """A NoteSequence from a music21 score: one instrument index per part, ties merged.

    Repeats are NOT expanded. Offsets in quarter notes become seconds through the MetronomeMarks
    (120 qpm before the first). Grace notes (no duration), rests and unpitched notes give no
    notes; chords give one note per pitch. total_time is the end of the last note.
    """
    from music21 import key as music21_key
    from music21 import meter, stream, tempo

    if isinstance(score, stream.Opus):
        scores = list(score.scores)
        score = scores[0] if scores else stream.Score()
    tempo_changes = _changes(_placed(score, tempo.MetronomeMark), _qpm_of)
    tempo_map = _TempoMap([(offset, qpm) for offset, qpm in tempo_changes])
    sequence = NoteSequence(source_type=source_type, title=title, tempos=tempo_map.tempos())
    meters = _changes(_placed(score, meter.TimeSignature), _time_signature_of)
    for offset, (numerator, denominator) in meters:
        sequence.time_signatures.append(
            TimeSignature(tempo_map.seconds(offset), numerator, denominator)
        )
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
            velocity = element.volume.velocity
            velocity = velocity if velocity is not None else DEFAULT_VELOCITY
            velocity = min(127, max(1, int(round(velocity))))
            for pitch in getattr(element, "pitches", ()):
                midi_pitch = int(round(pitch.ps))
                if 0 <= midi_pitch <= 127:
                    sequence.notes.append(
                        Note(midi_pitch, velocity, start, end, index, program, is_drum)
                    )
    sequence.total_time = max((note.end_time for note in sequence.notes), default=0.0)
    return sequence


@contextlib.contextmanager
def quiet_music21() -> Iterator[None]:
    """music21 prints its warnings straight to stderr; keep them out of the conversion output."""
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


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
        return [
            Tempo(seconds, qpm) for seconds, qpm in zip(self.seconds_at, self.qpms, strict=True)
        ]


def _placed(score, element_class) -> list[tuple[float, object]]:
    """(offset in quarters from the score's start, element) for every element of a class.

    Elements in any measure count: music21's ABC parser puts one TimeSignature (or KeySignature)
    object into many measures, so the `.offset` of a flattened copy is only one of its places;
    walking every container and asking each for the element's own offset there gives every place
    right.
    """
    placed = []
    for container in [score, *score.recurse(streamsOnly=True)]:
        base = 0.0 if container is score else float(container.getOffsetInHierarchy(score))
        for element in container.getElementsByClass(element_class):
            placed.append((base + float(container.elementOffset(element)), element))
    return placed


def _changes(
    placed: Iterable[tuple[float, object]], value_of: Callable
) -> list[tuple[float, object]]:
    """(offset, value) of the placed elements, sorted, one per offset, where the value changes.

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
    """(tonic pitch class, mode) of a music21 KeySignature/Key.

    Major from the sharps, minor if music21 says so. Other modes (dorian, mixolydian, ...) become
    their relative major, as only major/minor exist here.
    """
    sharps = getattr(signature, "sharps", None)
    if sharps is None:
        return None
    if getattr(signature, "mode", None) == "minor":
        return (sharps * 7 + 9) % 12, 1
    return (sharps * 7) % 12, 0


def _part_instrument(part) -> tuple[int, bool]:
    """(MIDI program, is a drum part) of a score part; program 0 when the part names none."""
    from music21 import instrument as music21_instrument

    found = part.getInstrument(returnDefault=False)
    if found is None:
        return 0, False
    program = found.midiProgram if found.midiProgram is not None else 0
    return int(program), isinstance(found, music21_instrument.UnpitchedPercussion)
