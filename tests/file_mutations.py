"""Seeded mutations of real music files (MIDI bytes, MusicXML, ABC text) for the reader tests.

Each mutator takes the original and a `random.Random` and returns one damaged copy, so a seed
gives the same files on every machine. The MIDI mutators know the chunk and event layout, so they
can aim at the places a reader trips over (a track's length field, a status byte, a meta event's
length, a tempo, a key signature, a delta time) as well as flip, cut and insert blindly.

test_reader_mutations.py feeds them through the folder converter (a bigger sweep by hand:
MELODYLIB_MUTATIONS=3000).
"""

from __future__ import annotations

import io
import random
import re
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass

# -------------------------------------------------------------------------------------------------
# The layout of a MIDI file: chunks, and the events of each track chunk
# -------------------------------------------------------------------------------------------------
DATA_LENGTHS = {0x80: 2, 0x90: 2, 0xA0: 2, 0xB0: 2, 0xC0: 1, 0xD0: 1, 0xE0: 2}


@dataclass(frozen=True)
class MidiEvent:
    """Where one event of a track sits in the file: its delta, status byte and (meta) data."""

    delta_at: int  # offset of the delta time's first byte
    status_at: int  # offset of the status byte (of the running status byte's place: -1)
    status: int
    data_at: int  # offset of the event's first data byte (meta: of its length)
    end: int  # offset just after the event


def read_variable_length(data: bytes, position: int) -> tuple[int, int]:
    """(value, position after it) of a MIDI variable-length quantity."""
    value = 0
    for _ in range(4):
        byte = data[position]
        position += 1
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            break
    return value, position


def track_chunks(data: bytes) -> list[tuple[int, int]]:
    """(offset of the payload, its length) of every MTrk chunk of a well-formed file."""
    chunks, position = [], 14
    while position + 8 <= len(data):
        length = struct.unpack(">I", data[position + 4 : position + 8])[0]
        if data[position : position + 4] == b"MTrk":
            chunks.append((position + 8, length))
        position += 8 + length
    return chunks


def track_events(data: bytes, start: int, length: int) -> list[MidiEvent]:
    """The events of one well-formed track payload."""
    events, position, running = [], start, 0
    end = start + length
    while position < end:
        delta_at = position
        _, position = read_variable_length(data, position)
        status_at = position
        status = data[position]
        if status & 0x80:
            position += 1
        else:
            status, status_at = running, -1
        if status == 0xFF:
            position += 1  # the meta type
            data_at = position
            meta_length, position = read_variable_length(data, position)
            position += meta_length
        elif status in (0xF0, 0xF7):
            data_at = position
            sysex_length, position = read_variable_length(data, position)
            position += sysex_length
        else:
            running = status
            data_at = position
            position += DATA_LENGTHS[status & 0xF0]
        events.append(MidiEvent(delta_at, status_at, status, data_at, position))
    return events


def all_events(data: bytes) -> list[MidiEvent]:
    return [
        event for start, length in track_chunks(data) for event in track_events(data, start, length)
    ]


def _splice(data: bytes, at: int, remove: int, insert: bytes) -> bytes:
    return data[:at] + insert + data[at + remove :]


def _fix_track_length(data: bytes, at: int, change: int) -> bytes:
    """Keep the MTrk length of the chunk holding offset `at` right after inserting bytes."""
    for start, length in track_chunks(data):
        if start <= at <= start + length:
            new_length = struct.pack(">I", length + change)
            return data[: start - 4] + new_length + data[start:]
    return data


# -------------------------------------------------------------------------------------------------
# MIDI mutators
# -------------------------------------------------------------------------------------------------
def flip_bytes(data: bytes, rng: random.Random) -> bytes:
    """One to eight bytes anywhere set to random values."""
    mutable = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        mutable[rng.randrange(len(mutable))] = rng.randrange(256)
    return bytes(mutable)


def truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(len(data))]


def insert_bytes(data: bytes, rng: random.Random) -> bytes:
    """A few random bytes inserted anywhere (chunk lengths left as they were)."""
    insert = bytes(rng.randrange(256) for _ in range(rng.randint(1, 6)))
    return _splice(data, rng.randrange(len(data)), 0, insert)


def delete_bytes(data: bytes, rng: random.Random) -> bytes:
    at = rng.randrange(len(data))
    return _splice(data, at, rng.randint(1, 16), b"")


def header_field(data: bytes, rng: random.Random) -> bytes:
    """The header's length, format, track count or division set to an odd value."""
    field_at, choices = rng.choice(
        [
            (
                4,
                [
                    b"\x00\x00\x00\x00",
                    b"\x00\x00\x00\x05",
                    b"\x00\x00\x00\x07",
                    b"\xff\xff\xff\xff",
                ],
            ),
            (8, [b"\x00\x03", b"\x00\x02", b"\xff\xff", b"\x00\x00"]),
            (10, [b"\x00\x00", b"\x00\x01", b"\x00\x63", b"\xff\xff"]),
            (12, [b"\x00\x00", b"\x00\x01", b"\x80\x00", b"\x7f\xff", b"\xe2\x50"]),
        ]
    )
    return _splice(data, field_at, len(choices[0]), rng.choice(choices))


def track_length(data: bytes, rng: random.Random) -> bytes:
    """A track chunk's length field made shorter, longer, zero or huge."""
    start, length = rng.choice(track_chunks(data))
    new_length = rng.choice(
        [0, 1, max(0, length - rng.randint(1, 10)), length + rng.randint(1, 50), 0xFFFFFFFF]
    )
    return data[: start - 4] + struct.pack(">I", new_length) + data[start:]


def chunk_tag(data: bytes, rng: random.Random) -> bytes:
    """A track chunk's MTrk tag changed (to an unknown chunk type or garbage)."""
    start, _ = rng.choice(track_chunks(data))
    return _splice(data, start - 8, 4, rng.choice([b"MTrx", b"XFIH", b"\x00\x00\x00\x00", b"MThd"]))


def status_byte(data: bytes, rng: random.Random) -> bytes:
    """An event's status byte replaced by another status (system, undefined) or a data byte."""
    events = [event for event in all_events(data) if event.status_at >= 0]
    event = rng.choice(events)
    new_status = rng.choice(
        [0xF1, 0xF2, 0xF3, 0xF4, 0xF5, 0xF6, 0xF8, 0xF9, 0xFD, 0xFE, 0x00, 0x45, 0xF0, 0xF7]
    )
    return _splice(data, event.status_at, 1, bytes([new_status]))


def data_byte(data: bytes, rng: random.Random) -> bytes:
    """A channel event's data byte set to 128..255."""
    events = [event for event in all_events(data) if event.status < 0xF0]
    event = rng.choice(events)
    return _splice(data, event.data_at, 1, bytes([rng.randrange(128, 256)]))


def meta_length(data: bytes, rng: random.Random) -> bytes:
    """A meta event's length byte changed (too short, too long, past the end)."""
    events = [event for event in all_events(data) if event.status == 0xFF]
    event = rng.choice(events)
    return _splice(data, event.data_at, 1, bytes([rng.choice([0, 1, 2, 5, 0x7F])]))


def meta_value(data: bytes, rng: random.Random) -> bytes:
    """A tempo of 0, a key signature out of range, or a time signature of 0/2^k, inserted."""
    events = all_events(data)
    event = rng.choice(events)
    meta = rng.choice(
        [
            b"\xff\x51\x03\x00\x00\x00",  # tempo 0 microseconds per quarter
            b"\xff\x51\x03\xff\xff\xff",
            b"\xff\x59\x02"
            + bytes([rng.choice([8, 0x80 - 8, 20, 0x7F])])
            + bytes([rng.choice([0, 1, 2])]),
            b"\xff\x59\x02\x00\x05",
            b"\xff\x58\x04"
            + bytes([rng.choice([0, 255])])
            + bytes([rng.choice([0, 2, 31, 200])])
            + b"\x18\x08",
            b"\xff\x58\x04\x04\x02",  # a time signature one byte short
            b"\xff\x2f\x00",  # an end of track in the middle
            b"\xff\x21\x01\x00",  # a MIDI port
            b"\xff\x54\x05\x60\x00\x00\x00\x00",  # SMPTE offset, hours 96
        ]
    )
    insert = b"\x00" + meta
    return _fix_track_length(_splice(data, event.end, 0, insert), event.end, len(insert))


def huge_delta(data: bytes, rng: random.Random) -> bytes:
    """An event's delta time replaced by a huge one (or one too long to be a MIDI number)."""
    event = rng.choice(all_events(data))
    old_length = read_variable_length(data, event.delta_at)[1] - event.delta_at
    new = rng.choice([b"\x8f\xff\xff\x7f", b"\xff\xff\xff\xff\x7f", b"\x81\x80\x80\x80\x00"])
    changed = _splice(data, event.delta_at, old_length, new)
    return _fix_track_length(changed, event.delta_at, len(new) - old_length)


def note_mess(data: bytes, rng: random.Random) -> bytes:
    """Note-offs turned into note-ons (overlapping, never closed) or channel changed to drums."""
    mutable = bytearray(data)
    events = [
        event for event in all_events(data) if event.status_at >= 0 and 0x80 <= event.status < 0xA0
    ]
    for event in rng.sample(events, min(len(events), rng.randint(1, 20))):
        mutable[event.status_at] = rng.choice([0x90, 0x99, 0x80 | rng.randrange(16)])
    return bytes(mutable)


def many_mutations(data: bytes, rng: random.Random) -> bytes:
    """Two to four mutations in a row."""
    for _ in range(rng.randint(2, 4)):
        mutator = rng.choice(
            [flip_bytes, insert_bytes, delete_bytes, data_byte, meta_length, status_byte]
        )
        try:
            data = mutator(data, rng)
        except (IndexError, KeyError, ValueError, struct.error):
            break  # the layout is already broken: the later mutators cannot aim any more
    return data


MIDI_MUTATORS: list[Callable[[bytes, random.Random], bytes]] = [
    flip_bytes,
    truncate,
    insert_bytes,
    delete_bytes,
    header_field,
    track_length,
    chunk_tag,
    status_byte,
    data_byte,
    meta_length,
    meta_value,
    huge_delta,
    note_mess,
    many_mutations,
]


def mutate_midi(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    """(mutator name, mutated bytes) for one randomly chosen mutator."""
    mutator = rng.choice(MIDI_MUTATORS)
    return mutator.__name__, mutator(data, rng)


# -------------------------------------------------------------------------------------------------
# Text mutators shared by MusicXML and ABC
# -------------------------------------------------------------------------------------------------
def cut_text(text: str, rng: random.Random) -> str:
    return text[: rng.randrange(len(text))]


def flip_characters(text: str, rng: random.Random) -> str:
    characters = list(text)
    for _ in range(rng.randint(1, 10)):
        characters[rng.randrange(len(characters))] = rng.choice(
            "<>/&\"'=:|[]{}()0123456789-~^_ \n\x00\x07"
        )
    return "".join(characters)


def delete_span(text: str, rng: random.Random) -> str:
    at = rng.randrange(len(text))
    return text[:at] + text[at + rng.randint(1, 200) :]


def _replace_some(pattern: str, text: str, rng: random.Random, values: list[str]) -> str:
    """Replace the group of a few random matches of `pattern` with one of `values`."""
    matches = list(re.finditer(pattern, text))
    if not matches:
        return flip_characters(text, rng)
    for match in sorted(
        rng.sample(matches, min(len(matches), rng.randint(1, 3))), key=lambda m: -m.start(1)
    ):
        text = text[: match.start(1)] + rng.choice(values) + text[match.end(1) :]
    return text


# -------------------------------------------------------------------------------------------------
# MusicXML mutators (text of an uncompressed score, or the bytes of a compressed one)
# -------------------------------------------------------------------------------------------------
def xml_divisions(text: str, rng: random.Random) -> str:
    """Missing, zero, negative, fractional or huge <divisions>."""
    if rng.random() < 0.3:
        return re.sub(r"<divisions>[^<]*</divisions>", "", text)
    return _replace_some(
        r"<divisions>([^<]*)</divisions>",
        text,
        rng,
        ["0", "-4", "2.5", "x", "", "99999999999999999999"],
    )


def xml_durations(text: str, rng: random.Random) -> str:
    """Bad <duration> values: zero, negative, text, huge, empty."""
    values = ["0", "-1", "-100000", "abc", "", "1e309", "99999999999", "3.3333333"]
    return _replace_some(r"<duration>([^<]*)</duration>", text, rng, values)


def xml_pitches(text: str, rng: random.Random) -> str:
    """Bad <step>, <octave> and <alter> values."""
    pattern = rng.choice(
        [r"<step>([^<]*)</step>", r"<octave>([^<]*)</octave>", r"<alter>([^<]*)</alter>"]
    )
    return _replace_some(pattern, text, rng, ["H", "", "-1", "99", "1000000", "nan", "C#", "0.5"])


def xml_repeats(text: str, rng: random.Random) -> str:
    """A backward repeat with a huge times attribute, or repeats without their forward sign."""
    times = rng.choice(["1000000", "-1", "0", "x"])
    barline = f'<barline location="right"><repeat direction="backward" times="{times}"/></barline>'
    return re.sub(r"</measure>", barline + "</measure>", text, count=rng.randint(1, 5))


def xml_tempo_and_meter(text: str, rng: random.Random) -> str:
    """Odd <beats>, <beat-type>, tempo and <fifths> values."""
    pattern = rng.choice(
        [
            r"<beats>([^<]*)</beats>",
            r"<beat-type>([^<]*)</beat-type>",
            r"<fifths>([^<]*)</fifths>",
            r'tempo="([^"]*)"',
        ]
    )
    if pattern.startswith("tempo") and "tempo=" not in text:
        text = text.replace("<measure ", '<measure ><sound tempo="0"/></measure><measure ', 1)
    return _replace_some(pattern, text, rng, ["0", "-3", "", "1000000", "3+2", "x", "7/0", "1e308"])


def xml_tags(text: str, rng: random.Random) -> str:
    """An element renamed, duplicated or unclosed."""
    tags = re.findall(r"<([a-z-]+)[ >]", text)
    tag = rng.choice(tags) if tags else "note"
    choice = rng.randrange(3)
    if choice == 0:
        return text.replace(f"</{tag}>", f"</{tag}x>", 1)
    if choice == 1:
        return text.replace(f"<{tag}>", f"<{tag}><{tag}>", 1)
    return text.replace(f"</{tag}>", "", 1)


def xml_encoding(text: str, rng: random.Random) -> str:
    """A wrong encoding declaration, a byte-order mark in the middle, or an entity bomb."""
    choice = rng.randrange(3)
    if choice == 0:
        return text.replace('encoding="UTF-8"', 'encoding="EBCDIC-XYZ"', 1)
    if choice == 1:
        at = rng.randrange(len(text))
        return text[:at] + "\ufeff\ufffe" + text[at:]
    bomb = (
        '<!DOCTYPE lol [<!ENTITY a "aaaaaaaaaa">'
        + "".join(
            f'<!ENTITY {chr(98 + index)} "{("&" + chr(97 + index) + ";") * 10}">'
            for index in range(6)
        )
        + "]>"
    )
    body = re.sub(r"<!DOCTYPE[^>]*>", "", text)
    body = re.sub(r"<work-title>[^<]*</work-title>", "<work-title>&g;</work-title>", body, count=1)
    return re.sub(r"(<\?xml[^>]*\?>)", r"\1" + bomb, body, count=1)


MUSICXML_TEXT_MUTATORS: list[Callable[[str, random.Random], str]] = [
    cut_text,
    flip_characters,
    delete_span,
    xml_divisions,
    xml_durations,
    xml_pitches,
    xml_repeats,
    xml_tempo_and_meter,
    xml_tags,
    xml_encoding,
]


def compress_musicxml(text: str, name: str = "score.xml") -> bytes:
    """A compressed MusicXML (.mxl) archive holding `text`."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        container = (
            '<?xml version="1.0" encoding="UTF-8"?><container><rootfiles>'
            f'<rootfile full-path="{name}"/></rootfiles></container>'
        )
        archive.writestr("META-INF/container.xml", container)
        archive.writestr(name, text)
    return buffer.getvalue()


def mutate_mxl(text: str, rng: random.Random) -> tuple[str, bytes]:
    """A damaged compressed MusicXML: broken archive, wrong rootfile, or mutated contents."""
    choice = rng.randrange(5)
    if choice == 0:
        data = compress_musicxml(text)
        return "mxl_cut", data[: rng.randrange(len(data))]
    if choice == 1:
        return "mxl_flip", flip_bytes(compress_musicxml(text), rng)
    if choice == 2:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr(
                "META-INF/container.xml", '<container><rootfile full-path="gone.xml"/></container>'
            )
            archive.writestr("score.xml", text)
        return "mxl_missing_rootfile", buffer.getvalue()
    if choice == 3:
        return "mxl_not_xml", compress_musicxml("\x00\x01binary" * 50)
    name, mutated = mutate_musicxml(text, rng)
    return f"mxl_{name}", compress_musicxml(mutated)


def mutate_musicxml(text: str, rng: random.Random) -> tuple[str, str]:
    mutator = rng.choice(MUSICXML_TEXT_MUTATORS)
    return mutator.__name__, mutator(text, rng)


# -------------------------------------------------------------------------------------------------
# ABC mutators (the text of one tune or a small tunebook)
# -------------------------------------------------------------------------------------------------
def abc_header(text: str, rng: random.Random) -> str:
    """A header field broken: L:, M:, Q: or K: given a bad value, or removed."""
    field = rng.choice("LMQKX")
    values = {
        "L": ["0", "1/0", "-1/8", "x", "", "1/1000000", "1000000/1"],
        "M": ["0/4", "4/0", "-3/4", "x", "1000000/4", "C|/", "3+2+/8", "4/3"],
        "Q": ["0", "1/4=0", "1/4=-60", "x", "1/0=60", "1/4=1000000000", '"fast" 0'],
        "K": ["Xyz", "C#m dorian lydian", "Hp", "none", "", "Gbbbb", "clef=piano", "exp ^a_b=c"],
        "X": ["", "x", "-1", "99999999999999999999"],
    }[field]
    pattern = rf"(?m)^{field}:(.*)$"
    if rng.random() < 0.2:
        return re.sub(pattern, "", text)
    return _replace_some(pattern, text, rng, values)


def abc_lengths(text: str, rng: random.Random) -> str:
    """Note lengths made odd: zero, huge, many slashes, broken rhythm chains."""
    values = ["0", "/0", "99999999", "////////", ">>>>>>>>", "3/0", "-2", "/1000000"]
    return _replace_some(r"(?m)(?<=[A-Ga-g])(\d*/?\d*)(?=[ |A-Ga-g])", text, rng, values)


def abc_repeats(text: str, rng: random.Random) -> str:
    """Repeat marks piled up, nested, or given huge counts and endings."""
    insert = rng.choice(
        ["|:" * 50, ":|" * 50, "[1000000 ", "|:: ", "::::::", "[1,2,3,4,5,6,7,8,9", ":|2000000"]
    )
    lines = text.splitlines()
    body = [index for index, line in enumerate(lines) if line and not re.match(r"^[A-Za-z]:", line)]
    if not body:
        return text + insert
    index = rng.choice(body)
    at = rng.randrange(len(lines[index]) + 1)
    lines[index] = lines[index][:at] + insert + lines[index][at:]
    return "\n".join(lines) + "\n"


def abc_tuplets_and_chords(text: str, rng: random.Random) -> str:
    """Tuplets, chords, slurs, grace notes and decorations left open or nested."""
    insert = rng.choice(
        [
            "(0",
            "(3:0:0",
            "(99999",
            "[[[[",
            "]]]",
            "{{{",
            "((((((",
            "!!!!",
            "!trill",
            '"',
            "(3" * 40,
            "[K:Xyz]",
            "[M:0/0]",
            "[L:0]",
            "&&&&",
        ]
    )
    lines = text.splitlines()
    body = [index for index, line in enumerate(lines) if line and not re.match(r"^[A-Za-z]:", line)]
    index = rng.choice(body) if body else len(lines) - 1
    at = rng.randrange(len(lines[index]) + 1)
    lines[index] = lines[index][:at] + insert + lines[index][at:]
    return "\n".join(lines) + "\n"


def abc_huge_tune(text: str, rng: random.Random) -> str:
    """The tune body repeated a few times (a long but legitimate tune)."""
    lines = text.splitlines()
    header = [line for line in lines if re.match(r"^[A-Za-z]:", line)]
    body = [line for line in lines if line and not re.match(r"^[A-Za-z]:", line)]
    return "\n".join(header + body * rng.randint(3, 8)) + "\n"


ABC_MUTATORS: list[Callable[[str, random.Random], str]] = [
    cut_text,
    flip_characters,
    delete_span,
    abc_header,
    abc_lengths,
    abc_repeats,
    abc_tuplets_and_chords,
    abc_huge_tune,
]


def mutate_abc(text: str, rng: random.Random) -> tuple[str, str]:
    mutator = rng.choice(ABC_MUTATORS)
    return mutator.__name__, mutator(text, rng)
