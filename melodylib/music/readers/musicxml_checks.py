"""Checks of a MusicXML document before music21 parses it, so a bad file gets a precise reason.

music21 reports a damaged MusicXML file with errors that name no place ("float division by
zero", "could not convert string to float: 'abc'"), reads some nonsense without complaint (a
negative duration puts notes before the start) and loops for minutes over a key of a million
sharps. We parse the XML ourselves first (the standard library's expat parser, fast and with
limits on entity expansion) and check the values music21 turns into times, pitches, meters and
keys, naming the part, the measure and the value:

- `bad_xml`: not well-formed XML (line and column), or an entity that expands too far;
- `not_musicxml`: well-formed XML whose root is not <score-partwise> or <score-timewise>;
- `bad_duration`: <divisions> that is not a number above 0 and up to 2**24, a <duration> that
  is not a number from 0 up, or one before any <divisions> in its part;
- `bad_pitch`: a <step> that is not A to G, an <octave> that is not a whole number from -1 to 10,
  an <alter> that is not a number from -3 to 3;
- `bad_time_signature`: <beats> that are not whole numbers (or their sum, 3+2) from 1 to 1024, a
  <beat-type> that is not a whole number from 1 to 1024;
- `bad_key_signature`: <fifths> that is not a whole number from -30 to 30;
- `bad_tempo`: a <sound tempo="..."> that is not a number above 0 and up to 10,000;
- `bad_repeat`: a <repeat times="..."> that is not a whole number from 0 to 1000.

Whatever passes and still fails in music21 is `musicxml_parse_error`, with music21's message.
"""

from __future__ import annotations

import codecs
import math
import re
import xml.etree.ElementTree as ElementTree

from melodylib.errors import UnreadableFileError

MUSICXML_ROOTS = ("score-partwise", "score-timewise")
MAX_FIFTHS = 30
MAX_METER_NUMBER = 1024
MAX_QPM = 10_000.0
MAX_REPEATS = 1000
MAX_DIVISIONS = 2**24  # divisions per quarter note; files use up to a few thousand


def parse_musicxml_document(data: bytes | str, path: str) -> ElementTree.Element:
    """The root element of a MusicXML document; raises bad_xml or not_musicxml."""
    head = data[:200].decode("latin-1") if isinstance(data, bytes) else data[:200]
    declared = re.match(r"\s*<\?xml[^>]*encoding=[\"']([^\"']+)", head)
    if declared:
        try:
            codecs.lookup(declared.group(1))
        except LookupError as error:
            raise UnreadableFileError(
                path, "bad_xml", f"unknown encoding {declared.group(1)!r} in the XML declaration"
            ) from error
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError as error:
        raise UnreadableFileError(path, "bad_xml", f"not well-formed XML: {error}") from error
    except (ValueError, LookupError) as error:  # an unknown encoding declaration
        raise UnreadableFileError(path, "bad_xml", f"cannot decode the XML: {error}") from error
    if root.tag not in MUSICXML_ROOTS:
        raise UnreadableFileError(
            path, "not_musicxml", f"the root element is <{root.tag}>, not <score-partwise>"
        )
    return root


def check_musicxml_values(root: ElementTree.Element, path: str) -> None:
    """Raise UnreadableFileError (the part, measure and value named) for the first bad value."""
    parts_with_divisions = set()
    for part, measure in _measures(root):
        where = f"part {part.get('id', '?')}, measure {measure.get('number', '?')}"
        for element in measure.iter():
            problem = _check_element(element)
            if element.tag == "divisions":
                parts_with_divisions.add(part.get("id"))
            elif element.tag == "duration" and part.get("id") not in parts_with_divisions:
                problem = problem or ("bad_duration", "a <duration> before any <divisions>")
            if problem is not None:
                reason, what = problem
                raise UnreadableFileError(path, reason, f"{where}: {what}")


def _measures(root: ElementTree.Element):
    """(part, measure) pairs, for partwise (parts hold measures) and timewise (the other way)."""
    if root.tag == "score-partwise":
        for part in root.iter("part"):
            for measure in part.iter("measure"):
                yield part, measure
    else:
        for measure in root.iter("measure"):
            for part in measure.iter("part"):
                yield part, part


def _number(text: str | None) -> float | None:
    """A finite number from an element's text, or None."""
    try:
        value = float((text or "").strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _whole(text: str | None, low: int, high: int) -> bool:
    stripped = (text or "").strip()
    return bool(re.fullmatch(r"[+-]?\d+", stripped)) and low <= int(stripped) <= high


def _check_element(element: ElementTree.Element) -> tuple[str, str] | None:
    """(reason, description) when this element holds a bad value, else None."""
    tag, text = element.tag, element.text
    shown = f"<{tag}>{(text or '').strip()[:40]}</{tag}>"
    if tag == "divisions":
        value = _number(text)
        if value is None or not 0 < value <= MAX_DIVISIONS:
            return "bad_duration", shown
    elif tag == "duration":
        value = _number(text)
        if value is None or value < 0:
            return "bad_duration", shown
    elif tag == "step":
        if (text or "").strip() not in tuple("ABCDEFG"):
            return "bad_pitch", shown
    elif tag == "octave":
        if not _whole(text, -1, 10):
            return "bad_pitch", shown
    elif tag == "alter":
        value = _number(text)
        if value is None or abs(value) > 3:
            return "bad_pitch", shown
    elif tag == "beats":
        parts = (text or "").replace(" ", "").split("+")
        if not all(_whole(part, 1, MAX_METER_NUMBER) for part in parts):
            return "bad_time_signature", shown
    elif tag == "beat-type":
        if not _whole(text, 1, MAX_METER_NUMBER):
            return "bad_time_signature", shown
    elif tag == "fifths":
        if not _whole(text, -MAX_FIFTHS, MAX_FIFTHS):
            return "bad_key_signature", shown
    elif tag == "repeat" and element.get("times") is not None:
        if not _whole(element.get("times"), 0, MAX_REPEATS):
            return "bad_repeat", f'<repeat times="{element.get("times")[:40]}">'
    elif tag == "sound" and element.get("tempo") is not None:
        value = _number(element.get("tempo"))
        if value is None or not 0 < value <= MAX_QPM:
            return "bad_tempo", f'<sound tempo="{element.get("tempo")[:40]}">'
    return None
