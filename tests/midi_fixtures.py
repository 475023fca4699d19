"""Builders for good and deliberately broken MIDI files (bytes), after the probe in magenta-behaviour.md: "File conversion".

Good files are made with mido; broken ones by writing the chunks by hand, so each fixture has
exactly one defect.
"""

from __future__ import annotations

import io
import random
import struct

import mido

TICKS_PER_BEAT = 220


def midi_bytes(
    tracks: list[list], ticks_per_beat: int = TICKS_PER_BEAT, midi_type: int = 1
) -> bytes:
    """A MIDI file from lists of mido messages (times are deltas in ticks)."""
    midi_file = mido.MidiFile(type=midi_type, ticks_per_beat=ticks_per_beat)
    for messages in tracks:
        track = mido.MidiTrack()
        track.extend(messages)
        midi_file.tracks.append(track)
    buffer = io.BytesIO()
    midi_file.save(file=buffer)
    return buffer.getvalue()


def note(pitch: int, length: int, channel: int = 0, velocity: int = 80, delay: int = 0) -> list:
    """A note-on after `delay` ticks and its note-off `length` ticks later."""
    return [
        mido.Message("note_on", note=pitch, velocity=velocity, channel=channel, time=delay),
        mido.Message("note_off", note=pitch, velocity=0, channel=channel, time=length),
    ]


def meta_track(qpm: float = 120.0, numerator: int = 4, denominator: int = 4) -> list:
    return [
        mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(qpm), time=0),
        mido.MetaMessage("time_signature", numerator=numerator, denominator=denominator, time=0),
    ]


def good_midi() -> bytes:
    """Track 0 meta (100 qpm, 3/4, D major); track 1 piano melody C D E; track 2 bass (program 33); track 3 drums."""
    meta = meta_track(100.0, 3, 4) + [mido.MetaMessage("key_signature", key="D", time=0)]
    melody = [mido.Message("program_change", program=0, channel=0, time=0)]
    melody += note(60, 220) + note(62, 220) + note(64, 440)
    bass = [mido.Message("program_change", program=33, channel=1, time=0)]
    bass += note(36, 880, channel=1)
    drums = note(36, 110, channel=9) + note(38, 110, channel=9, delay=110)
    return midi_bytes([meta, melody, bass, drums])


def raw_midi(
    track_payloads: list[bytes],
    midi_format: int = 1,
    division: int = TICKS_PER_BEAT,
    num_tracks: int | None = None,
) -> bytes:
    """A MIDI file written chunk by chunk (for defects mido refuses to write)."""
    count = len(track_payloads) if num_tracks is None else num_tracks
    data = b"MThd" + struct.pack(">IHHH", 6, midi_format, count, division)
    for payload in track_payloads:
        data += b"MTrk" + struct.pack(">I", len(payload)) + payload
    return data


END_OF_TRACK = b"\x00\xff\x2f\x00"


def empty_file() -> bytes:
    return b""


def random_bytes() -> bytes:
    generator = random.Random(0)
    data = bytes(generator.randrange(256) for _ in range(300))
    assert not data.startswith(b"MThd")
    return data


def truncated_header() -> bytes:
    return good_midi()[:10]


def truncated_track() -> bytes:
    data = good_midi()
    return data[: len(data) - 20]


def type_2_midi() -> bytes:
    """A real type-2 file: two independent patterns of 1.5 s each."""
    pattern = meta_track(120.0) + note(60, 660)
    return midi_bytes([pattern, meta_track(120.0) + note(67, 660)], midi_type=2)


def zero_tracks() -> bytes:
    return raw_midi([], num_tracks=0)


def no_notes() -> bytes:
    return midi_bytes(
        [meta_track(120.0) + [mido.MetaMessage("track_name", name="silence", time=0)]]
    )


def zero_length_notes() -> bytes:
    """Three notes whose on and off share a tick, then one normal note."""
    messages = []
    for pitch in (60, 62, 64):
        messages += [
            mido.Message("note_on", note=pitch, velocity=80, time=0),
            mido.Message("note_off", note=pitch, velocity=0, time=0),
        ]
    messages += note(67, 220)
    return midi_bytes([meta_track(), messages])


def unterminated_note() -> bytes:
    """Two note-ons, only the second is closed."""
    messages = [mido.Message("note_on", note=60, velocity=80, time=0)] + note(64, 220, delay=10)
    return midi_bytes([meta_track(), messages])


def drums_only() -> bytes:
    return midi_bytes([meta_track(), note(36, 110, channel=9) + note(42, 110, channel=9)])


def chords() -> bytes:
    """A C major triad (three simultaneous notes) then a G."""
    on = [mido.Message("note_on", note=pitch, velocity=80, time=0) for pitch in (60, 64, 67)]
    off = [
        mido.Message("note_off", note=pitch, velocity=0, time=440 if pitch == 60 else 0)
        for pitch in (60, 64, 67)
    ]
    return midi_bytes([meta_track(), on + off + note(67, 220)])


def absurd_tempo_changes() -> bytes:
    """Tempo jumping between the slowest (~3.58 qpm) and fastest (60,000,000 qpm) MIDI can store."""
    meta = [
        mido.MetaMessage("set_tempo", tempo=0xFFFFFF, time=0),
        mido.MetaMessage("set_tempo", tempo=1, time=220),
        mido.MetaMessage("set_tempo", tempo=0xFFFFFF, time=220),
    ]
    return midi_bytes([meta, note(60, 220) + note(62, 220) + note(64, 220)])


def meter_changes() -> bytes:
    """7/8 for one bar (3.5 quarters at 120 qpm = 1.75 s), then 4/4."""
    meta = [
        mido.MetaMessage("set_tempo", tempo=500000, time=0),
        mido.MetaMessage("time_signature", numerator=7, denominator=8, time=0),
        mido.MetaMessage("time_signature", numerator=4, denominator=4, time=770),
    ]
    return midi_bytes([meta, note(60, 770) + note(62, 880)])


def tempo_changes() -> bytes:
    """120 qpm, then 60 qpm from tick 440 (1.0 s); a note across the change."""
    meta = [
        mido.MetaMessage("set_tempo", tempo=500000, time=0),
        mido.MetaMessage("set_tempo", tempo=1000000, time=440),
    ]
    return midi_bytes([meta, note(60, 440) + note(62, 220)])


MAX_DELTA_TICKS = 0x0FFFFFFF  # the largest delta a MIDI variable-length quantity holds


def huge_delta() -> bytes:
    """A note after 38 maximal deltas, 10.2e9 ticks: past note_seq's limit of 1e10 (pretty_midi would need 80 GB)."""
    padding = [mido.MetaMessage("marker", text="", time=MAX_DELTA_TICKS) for _ in range(38)]
    return midi_bytes([meta_track(), padding + note(60, 220)])


def long_file(total_ticks: int = 12_000_000) -> bytes:
    """A legitimate but long file: past pretty_midi's own MAX_TICK of 1e7, which note_seq raises to 1e10.

    Notes at the start and the end, and tempo changes along the way (one past tick 1e7).
    """
    meta = meta_track(100.0) + [
        mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(73), time=5_000_000),
        mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(140), time=5_500_000),
    ]
    melody = note(60, 220) + note(62, 330, delay=total_ticks - 1_000)
    return midi_bytes([meta, melody])


def many_tempo_changes() -> bytes:
    """Tempo changes inside notes, two at one tick, a repeated one and one at the last tick (480 ticks per beat)."""
    meta = [
        mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(97), time=0),
        mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(61.3), time=719),
        mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(88), time=0),
        mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(88), time=480),
        mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(133.7), time=7),
        mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(45), time=2_000),
    ]
    melody = []
    for index in range(40):
        melody += note(60 + index % 12, 113 + index * 7, delay=index % 3)
    return midi_bytes([meta, melody], ticks_per_beat=480)


def smpte_division() -> bytes:
    """Division 0xE728: -25 frames per second, 40 ticks per frame."""
    data = bytearray(good_midi())
    data[12:14] = b"\xe7\x28"
    return bytes(data)


def data_byte_over_127() -> bytes:
    """A note-on whose velocity byte is 200."""
    track = b"\x00\x90\x3c\xc8" + b"\x83\x60\x80\x3c\x00" + END_OF_TRACK
    return raw_midi([track])


def empty_track_chunk() -> bytes:
    """A meta track, a track chunk with no events at all, then a track with one note."""
    notes = b"\x00\x90\x3c\x50" + b"\x83\x60\x80\x3c\x00" + END_OF_TRACK
    return raw_midi([b"\x00\xff\x51\x03\x07\xa1\x20" + END_OF_TRACK, b"", notes])


def running_status_without_status() -> bytes:
    """A track whose first event is data bytes with no status byte before them."""
    return raw_midi([b"\x00\x3c\x50" + END_OF_TRACK])
