"""Reading ABC tunebooks: a file split into tunes, each tune into a NoteSequence via music21.

An ABC file usually holds many tunes, and one bad tune must not lose the others, so the file is
split here (as ABC 2.1 and note_seq split it) and each tune is parsed by music21 on its own;
`scores.score_to_note_sequence` walks the parsed tune. A tune with an unusable value is refused
with the reason `abc_checks` gives, one music21 cannot read as abc_parse_error, a tune whose X:
number repeats an earlier one as duplicate_reference_number.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass

from melodylib.errors import UnreadableFileError
from melodylib.music.notesequence import NoteSequence, TimeSignature
from melodylib.music.readers.abc_checks import check_abc_tune
from melodylib.music.readers.common import describe_error, read_file_bytes
from melodylib.music.readers.scores import quiet_music21, score_to_note_sequence
from melodylib.music.readers.time_limit import ReadingTimedOut, time_limit, timeout_detail

_FIELD_LINE = re.compile(r"^([A-Za-z]):(.*)$")
# File-header fields that every tune inherits (ABC 2.1; magenta-behaviour.md: "File conversion").
# K: is not inherited: it ends a tune header.
_INHERITED_FIELDS = {"L", "M", "Q"}


@dataclass(frozen=True)
class AbcTune:
    """One tune of an ABC file: its position (0-based), X: reference number, title and text.

    `text` is what music21 parses: the tune's lines with the file header's inherited fields.
    """

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


# -------------------------------------------------------------------------------------------------
# A tunebook into tunes
# -------------------------------------------------------------------------------------------------
def read_abc_text(path: str) -> str:
    """The text of an ABC file: UTF-8, or latin-1 for older tunebooks that are not UTF-8."""
    data = read_file_bytes(path)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # older tunebooks; every byte is a valid latin-1 character


def split_abc_tunes(text: str) -> list[AbcTune]:
    """Split an ABC tunebook into tunes, as ABC 2.1 (and note_seq) do.

    Sections are separated by blank lines. A section starting with an X: field (after any comment
    lines) is a tune; X: fields inside a section also start new tunes; a first section without X:
    is the file header, whose L:, M: and Q: fields each tune inherits. Other sections (free text)
    are ignored. A blank line inside a tune therefore ends it, as the standard says.
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
            line
            for _, line in sections[0]
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
    """The tune of some numbered lines (the first is its X: field), with the header's fields."""
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
    meter_values = [
        line[2:].strip().lower() for line in header + tune_header if line.startswith("M:")
    ]
    if "L" not in fields and (not meter_values or meter_values[-1] in ("", "none")):
        # ABC 2.1: with no L: and no (or a free) meter the unit note length is 1/8. music21 fails
        # with "no active default note length" instead, so we state the default explicitly.
        extra.append("L:1/8")
    text = "\n".join([x_line] + extra + body) + "\n"
    return AbcTune(
        index=index, reference=reference, title=title, text=text, line_number=first_number
    )


def split_duplicate_tunes(
    tunes: list[AbcTune], path: str
) -> tuple[list[AbcTune], list[UnreadableFileError]]:
    """Tunes whose X: number repeats an earlier one in the file are refused: their ids would clash.

    (note_seq refuses the whole tunebook in that case; we keep the first tune with each number.)
    Returns the kept tunes and one duplicate_reference_number error per refused tune.
    """
    kept, refused, seen = [], [], set()
    for tune in tunes:
        if tune.reference in seen:
            refused.append(
                UnreadableFileError(
                    path,
                    "duplicate_reference_number",
                    f"{tune.describe()}: X:{tune.reference} used twice",
                )
            )
        else:
            seen.add(tune.reference)
            kept.append(tune)
    return kept, refused


# -------------------------------------------------------------------------------------------------
# Tunes into NoteSequences
# -------------------------------------------------------------------------------------------------
def abc_tune_to_note_sequence(tune: AbcTune, path: str | os.PathLike = "<text>") -> NoteSequence:
    """Parse one tune with music21 and walk it into a NoteSequence.

    Failures raise UnreadableFileError, the tune named in the detail: a value our checks refuse
    first (`abc_checks`: bad_unit_length, bad_time_signature, bad_tempo, bad_duration), else
    abc_parse_error with music21's message.
    """
    import music21

    problem = check_abc_tune(tune.text)
    if problem is not None:
        reason, detail = problem
        raise UnreadableFileError(path, reason, f"{tune.describe()}: {detail}")
    try:
        with quiet_music21():
            score = music21.converter.parse(tune.text, format="abc")
            sequence = score_to_note_sequence(score, "abc", title=tune.title)
    except Exception as error:  # noqa: BLE001 - music21 raises many unrelated exception classes
        detail = f"{tune.describe()}: {describe_error(error)}"
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


def abc_tunes_to_results(
    tunes: Iterable[AbcTune],
    path: str | os.PathLike = "<text>",
    time_limit_secs: float | None = None,
) -> list[AbcTuneResult]:
    """Parse each tune on its own, so one bad (or endless) tune does not lose the others.

    `time_limit_secs` stops a tune that takes longer (reason `timeout`).
    """
    results = []
    for tune in tunes:
        try:
            with time_limit(time_limit_secs):
                sequence = abc_tune_to_note_sequence(tune, path)
            results.append(AbcTuneResult(tune, sequence=sequence))
        except UnreadableFileError as error:
            results.append(AbcTuneResult(tune, error=error))
        except ReadingTimedOut:
            detail = f"{tune.describe()}: {timeout_detail(time_limit_secs or 0)}"
            results.append(AbcTuneResult(tune, error=UnreadableFileError(path, "timeout", detail)))
    return results


def abc_to_note_sequences(text: str, path: str | os.PathLike = "<text>") -> list[AbcTuneResult]:
    """Every tune of an ABC tunebook, each with its NoteSequence or its error.

    Repeats are not expanded. The sequences carry no id or filename yet; read_file_result adds
    them (magenta-behaviour.md: "File conversion").
    """
    return abc_tunes_to_results(split_abc_tunes(text), path)
