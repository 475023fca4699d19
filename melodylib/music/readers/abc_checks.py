"""Checks of an ABC tune's values before music21 parses it, so a bad tune gets a precise reason.

music21 fails on some damaged tunes with errors that name no field ("float division by zero",
"invalid literal for int()") and takes minutes over others (a meter of a million beats, a note a
hundred million units long). These checks find those values first and name them:

- `bad_unit_length`: an L: field with a fraction whose numbers are 0 or over 1024;
- `bad_time_signature`: the same in an M: field (a sum of beats, 3+2/8, counts as their sum);
- `bad_tempo`: a Q: field whose beats per minute are 0 or over 10,000, or whose beat is absurd;
- `bad_duration`: a note length multiplier or divisor over 1024, or a divisor of 0.

Everything else is left to music21, whose failures stay `abc_parse_error`. Fields count wherever
they are: in the header, on their own line in the body, or inline as [M:...].
"""

from __future__ import annotations

import re

MAX_LENGTH_NUMBER = 1024
MAX_QPM = 10_000.0

_FIELD = re.compile(r"^([LMQ]):(.*)$")
_INLINE_FIELD = re.compile(r"\[([LMQ]):([^\]]*)\]")
# A note or rest and its length: letter, accidentals before it, octave marks, then digits and
# slashes (e.g. A2, c/2, z3/4, ^f'//).
_NOTE_LENGTH = re.compile(r"[A-Ga-gzZxX][,']*(\d*)(/*)(\d*)")
# Text the length check must skip: "chord symbols", !decorations!, +decorations+, %comments.
_SKIPPED = re.compile(r'"[^"]*"|![^!\n]*!|\+[^+\n]*\+|%.*$', re.MULTILINE)


def check_abc_tune(text: str) -> tuple[str, str] | None:
    """(reason, detail) for the first bad value of a tune's text, or None when none is found."""
    in_body = False
    for line in text.splitlines():
        field = _FIELD.match(line)
        if field:
            problem = check_field(field.group(1), field.group(2))
            if problem:
                return problem
            continue
        if line.startswith("K:"):
            in_body = True
            continue
        if not in_body or re.match(r"^[A-Za-z]:", line):
            continue
        for inline in _INLINE_FIELD.finditer(line):
            problem = check_field(inline.group(1), inline.group(2))
            if problem:
                return problem
        problem = _check_note_lengths(_INLINE_FIELD.sub(" ", line))
        if problem:
            return problem
    return None


def check_field(name: str, value: str) -> tuple[str, str] | None:
    """(reason, detail) when an L:, M: or Q: field holds an absurd number, else None.

    Lenient: only numbers out of range count; forms we do not know (Essen's "FREI4/4") are left
    to music21.
    """
    value = value.split("%", 1)[0].strip()
    fractions = [
        (int(top), int(bottom))
        for top, bottom in re.findall(
            r"(\d+(?:\s*\+\s*\d+)*|\d+)\s*/\s*(\d+)", value.replace(" ", "")
        )
        if "+" not in top
    ] + [
        (sum(int(part) for part in top.split("+")), int(bottom))
        for top, bottom in re.findall(r"(\d+(?:\+\d+)+)/(\d+)", value.replace(" ", ""))
    ]
    absurd = any(
        not (1 <= top <= MAX_LENGTH_NUMBER and 1 <= bottom <= MAX_LENGTH_NUMBER)
        for top, bottom in fractions
    )
    if name == "L" and absurd:
        return "bad_unit_length", f"unit note length L:{value}"
    if name == "M" and absurd:
        return "bad_time_signature", f"meter M:{value}"
    if name == "Q":
        match = re.search(r"=\s*(\d+(?:\.\d+)?)", value) or re.fullmatch(r"(\d+(?:\.\d+)?)", value)
        if (match and not 0 < float(match.group(1)) <= MAX_QPM) or absurd:
            return "bad_tempo", f"tempo Q:{value}"
    return None


def _check_note_lengths(line: str) -> tuple[str, str] | None:
    for match in _NOTE_LENGTH.finditer(_SKIPPED.sub(" ", line)):
        multiplier, slashes, divisor = match.groups()
        too_long = multiplier and int(multiplier) > MAX_LENGTH_NUMBER
        bad_divisor = slashes and divisor and not 1 <= int(divisor) <= MAX_LENGTH_NUMBER
        if too_long or bad_divisor:
            return "bad_duration", f"note length {match.group(0)!r}"
    return None
