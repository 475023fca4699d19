"""Scores: the MusicXML is read back with a plain XML parser and checked note by note."""

import xml.etree.ElementTree as ElementTree

import pytest

from melodylib.errors import MelodylibError
from melodylib.music import notation
from melodylib.music.notesequence import KeySignature, Note, NoteSequence, Tempo, TimeSignature

STEP_SEMITONES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
# Two bars of 4/4: G (4 steps), E, F, G (4), C5 held across the bar line (6 steps), B, A, G ...
EVENTS = [
    67,
    -2,
    -2,
    -2,
    64,
    -2,
    65,
    -2,
    67,
    -2,
    -2,
    -2,
    72,
    -2,
    -2,
    -2,
    -2,
    -2,
    71,
    -2,
    69,
    -2,
    67,
    -2,
    -2,
    -2,
    -1,
    -2,
    62,
    -2,
    64,
    -2,
]


def parse(xml_text):
    """(measures, notes) where each note is a dict: midi pitch or None (rest), divisions, tie, colour."""
    root = ElementTree.fromstring(xml_text)
    measures = root.findall("./part/measure")
    notes = []
    for number, measure in enumerate(measures):
        divisions = measure.find("./attributes/divisions")
        if divisions is not None:
            per_quarter = int(divisions.text)
        for element in measure.findall("note"):
            pitch = None
            if element.find("pitch") is not None:
                step = element.find("pitch/step").text
                alter = int(float(element.findtext("pitch/alter", "0")))
                octave = int(element.find("pitch/octave").text)
                pitch = 12 * (octave + 1) + STEP_SEMITONES[step] + alter
            ties = {tie.get("type") for tie in element.findall("tie")}
            notes.append(
                {
                    "pitch": pitch,
                    "quarters": int(element.find("duration").text) / per_quarter,
                    "measure": number,
                    "ties": ties,
                    "color": element.get("color"),
                }
            )
    return root, measures, notes


def merged_sounding_notes(notes):
    """Tied notes joined: the list of (pitch, quarters) a musician plays, rests included."""
    merged = []
    for note in notes:
        if merged and "stop" in note["ties"]:
            merged[-1] = (merged[-1][0], merged[-1][1] + note["quarters"])
        else:
            merged.append((note["pitch"], note["quarters"]))
    return merged


def test_events_become_bars_with_a_tie_across_the_bar_line_and_rests():
    root, measures, notes = parse(notation.to_musicxml(EVENTS))
    assert len(measures) == 2
    assert root.findtext("./part/measure/attributes/time/beats") == "4"
    assert root.findtext("./part/measure/attributes/time/beat-type") == "4"
    for number in range(2):  # every bar is full: four quarters
        assert sum(note["quarters"] for note in notes if note["measure"] == number) == 4.0
    # The C5 that starts at step 12 and lasts 6 steps is tied across the bar line.
    tied = [note for note in notes if note["ties"]]
    assert [note["pitch"] for note in tied] == [72, 72]
    assert merged_sounding_notes(notes) == [
        (67, 1.0),
        (64, 0.5),
        (65, 0.5),
        (67, 1.0),
        (72, 1.5),
        (71, 0.5),
        (69, 0.5),
        (67, 1.0),
        (None, 0.5),
        (62, 0.5),
        (64, 0.5),
    ]


def test_the_key_signature_is_the_major_key_holding_most_notes():
    g_major = [67, -2, 71, -2, 74, -2, 72, -2, 66, -2, 67, -2, 62, -2, 66, -2]  # F sharp and C
    root, _, _ = parse(notation.to_musicxml(g_major))
    assert root.findtext("./part/measure/attributes/key/fifths") == "1"
    root, _, _ = parse(notation.to_musicxml(EVENTS))
    assert root.findtext("./part/measure/attributes/key/fifths") == "0"


def test_a_note_sequence_brings_its_own_meter_and_key():
    # 3/4 in E minor at 120 qpm: a quarter note is 0.5 s.
    notes = [
        Note(64, 80, 0.0, 0.5),
        Note(66, 80, 0.5, 1.0),
        Note(67, 80, 1.0, 1.5),
        Note(71, 80, 1.5, 3.0),
    ]
    sequence = NoteSequence(
        notes=notes,
        tempos=[Tempo(0.0, 120.0)],
        time_signatures=[TimeSignature(0.0, 3, 4)],
        key_signatures=[KeySignature(0.0, 4, 1)],
        total_time=3.0,
        title="Air",
    )
    root, measures, parsed = parse(notation.to_musicxml(sequence))
    assert root.findtext("./part/measure/attributes/time/beats") == "3"
    assert root.findtext("./part/measure/attributes/key/fifths") == "1"
    assert root.findtext("./part/measure/attributes/key/mode") == "minor"
    assert len(measures) == 2
    assert merged_sounding_notes(parsed) == [(64, 1.0), (66, 1.0), (67, 1.0), (71, 3.0)]


def test_the_primer_is_coloured_apart_from_the_continuation():
    _, _, notes = parse(notation.to_musicxml(EVENTS, primer_steps=12))
    colours = [(note["pitch"], (note["color"] or "").upper()) for note in notes if note["pitch"]]
    primer = {colour for pitch, colour in colours[:4]}
    continuation = {colour for pitch, colour in colours[4:]}
    assert primer == {notation.PRIMER_COLOR.upper()}
    assert continuation == {notation.CONTINUATION_COLOR.upper()}
    assert "continuation" in notation.to_musicxml(EVENTS, primer_steps=12)


def test_the_svg_has_every_note_and_long_melodies_wrap_onto_systems():
    svg = notation.render_score(EVENTS, title="Two bars")
    assert svg.lstrip().startswith("<svg") or "<svg" in svg[:200]
    sounding = [
        note
        for note in merged_sounding_notes(parse(notation.to_musicxml(EVENTS))[2])
        if note[0] is not None
    ]
    # Every sounding note is engraved (the tied C5 as two noteheads).
    assert svg.count('class="note"') == len(sounding) + 1
    assert svg.count('class="system"') == 1
    long_svg = notation.render_score(EVENTS * 8)
    assert long_svg.count('class="system"') >= 3
    assert notation.render_score(EVENTS) == notation.render_score(
        EVENTS
    )  # the same from run to run


def test_bad_music_is_a_clear_error(tmp_path):
    with pytest.raises(MelodylibError, match="no notes"):
        notation.render_score([-2, -2, -1])
    with pytest.raises(MelodylibError, match="out of range"):
        notation.render_score([60, 130])
    written = notation.write_musicxml(EVENTS, tmp_path / "tune.musicxml")
    assert parse(written.read_text())[1]


def test_generate_writes_a_musicxml_score_beside_each_midi_file(tmp_path):
    import pretty_midi

    from melodylib.cli import main as cli
    from melodylib.course.shipped import bundle_path

    status = cli.main(
        [
            "generate",
            f"--bundle_file={bundle_path('basic_rnn')}",
            "--num_outputs=2",
            "--num_steps=48",
            "--primer_melody=[60, -2, 62, -2, 64, -2, 65, -2]",
            f"--output_dir={tmp_path}",
            "--seed=4",
            "--musicxml",
        ]
    )
    assert status == 0
    midi_files = sorted(tmp_path.glob("*.mid"))
    assert len(midi_files) == 2
    for midi_file in midi_files:
        score = midi_file.with_suffix(".musicxml")
        assert score.exists()
        _, measures, notes = parse(score.read_text())
        played = [
            note.pitch for note in pretty_midi.PrettyMIDI(str(midi_file)).instruments[0].notes
        ]
        assert [pitch for pitch, _ in merged_sounding_notes(notes) if pitch is not None] == played
        assert len(measures) == 3  # 48 steps of 4/4
        colours = {(note["color"] or "").upper() for note in notes if note["pitch"]}
        assert notation.PRIMER_COLOR.upper() in colours


def test_minor_keys_are_written_with_their_own_signature():
    for tonic, fifths in ((1, "4"), (8, "5"), (3, "-6"), (9, "0")):  # C#, G#, E-flat and A minor
        sequence = NoteSequence(
            notes=[Note(60 + tonic, 80, 0.0, 0.5)],
            total_time=0.5,
            key_signatures=[KeySignature(0.0, tonic, 1)],
        )
        root, _, _ = parse(notation.to_musicxml(sequence))
        assert root.findtext("./part/measure/attributes/key/fifths") == fifths
