"""Build the real-music MIDI test set in tests/data/magenta/real_midi/ from the music21 corpus.

Run with the project's venv (it needs music21, pretty_midi and mido, never note_seq):
    /work/main/.venv/bin/python tools/magenta_reference/build_real_midi.py [OUTPUT_DIR]

Most files are written by music21's own MIDI writer from a trimmed score ("real" files, exactly as a
user converting the corpus would get them). A few "variant_*" files are written with mido from the
parsed notes, with tempo / time-signature events inserted mid-piece and one drum track, to cover
meter and tempo changes that the corpus alone does not give. SOURCES.md is written beside them.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import mido
from music21 import bar, corpus, repeat, spanner, stream

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUTPUT_DIR = REPO_ROOT / "tests" / "data" / "magenta" / "real_midi"
TICKS_PER_QUARTER = 480


@dataclass(frozen=True)
class CorpusPiece:
    """One corpus score written by music21's MIDI writer, optionally trimmed to a bar range."""

    filename: str
    corpus_path: str
    number: int | None = None
    first_bar: int | None = None
    last_bar: int | None = None
    kind: str = ""
    expand_repeats: bool = False


CORPUS_PIECES = [
    # Bach chorales (SATB, one track per voice).
    CorpusPiece("chorale_bwv1.6.mid", "bach/bwv1.6.mxl", kind="chorale, 4/4, 5 parts, 76 qpm"),
    CorpusPiece("chorale_bwv253.mid", "bach/bwv253.mxl", kind="chorale, 4/4"),
    CorpusPiece("chorale_bwv269_3-4.mid", "bach/bwv269.mxl", kind="chorale, 3/4"),
    CorpusPiece("chorale_bwv40.8.mid", "bach/bwv40.8.mxl", kind="chorale, 4/4"),
    CorpusPiece(
        "chorale_bwv248.23-2_12-8.mid", "bach/bwv248.23-2.mxl", kind="chorale, 12/8, 8 parts"
    ),
    # Folk tunes (one melody track).
    CorpusPiece(
        "oneill_1376_reel_2-2.mid", "oneills1850/1376-1475.abc", number=1376, kind="reel, 2/2"
    ),
    CorpusPiece(
        "oneill_1001_jig_6-8.mid", "oneills1850/1001-1031.abc", number=1001, kind="jig, 6/8"
    ),
    CorpusPiece(
        "oneill_1002_jig_repeats_expanded_6-8.mid",
        "oneills1850/1001-1031.abc",
        number=1002,
        kind="jig, 6/8, repeats expanded to 48 bars (melody truncated to 512 steps), "
        "repeated identical time signatures",
        expand_repeats=True,
    ),
    CorpusPiece(
        "oneill_119_slipjig_9-8.mid",
        "oneills1850/0101-0200.abc",
        number=119,
        kind="slip jig, 9/8, grace notes; one two-note onset makes the track polyphonic",
    ),
    CorpusPiece("oneill_101_air_3-4.mid", "oneills1850/0101-0200.abc", number=101, kind="air, 3/4"),
    CorpusPiece(
        "ryan_acacia_reel_2-4.mid",
        "ryansMammoth/AcaciaReel.abc",
        kind="reel, 2/4; 16th-note triplets round onto the same step (polyphonic track)",
    ),
    CorpusPiece(
        "ryan_admirals_hornpipe.mid", "ryansMammoth/AdmiralsHornpipe.abc", kind="hornpipe, 2/2"
    ),
    CorpusPiece(
        "foster_brown_hair_leadsheet.mid",
        "leadSheet/fosterBrownHair.mxl",
        kind="lead sheet, 35 bars; music21 writes its chord symbols out as chords, "
        "so the track is rejected as polyphonic",
    ),
    # Keyboard pieces.
    CorpusPiece(
        "bach_bwv846_prelude.mid",
        "bach/bwv846.mxl",
        first_bar=1,
        last_bar=12,
        kind="keyboard, overlapping held notes in one staff",
    ),
    CorpusPiece(
        "mozart_k545_exposition.mid",
        "mozart/k545/movement1_exposition.mxl",
        first_bar=1,
        last_bar=16,
        kind="keyboard, 132 qpm, fast runs",
    ),
    CorpusPiece("cpebach_h186.mid", "cpebach/h186.mxl", first_bar=1, last_bar=16, kind="keyboard"),
    CorpusPiece(
        "clara_schumann_polonaise_op1n1_3-4.mid",
        "schumann_clara/polonaise_op1n1.mxl",
        first_bar=1,
        last_bar=24,
        kind="keyboard, 3/4, chords",
    ),
    CorpusPiece(
        "chopin_mazurka06-2_3-4.mid",
        "chopin/mazurka06-2.krn",
        first_bar=1,
        last_bar=32,
        kind="keyboard, 3/4, 189 qpm (humdrum source)",
    ),
    CorpusPiece(
        "joplin_maple_leaf_rag_2-4.mid",
        "joplin/maple_leaf_rag.mxl",
        first_bar=1,
        last_bar=24,
        kind="keyboard, 2/4, tempo change at 0.15 s (100 -> 120 qpm)",
    ),
    CorpusPiece(
        "schubert_lindenbaum_3-4.mid",
        "schubert/Lindenbaum.xml",
        first_bar=1,
        last_bar=32,
        kind="voice and piano, 3/4",
    ),
    # Ensemble pieces.
    CorpusPiece(
        "haydn_op1no1_mvt1_6-8.mid",
        "haydn/opus1no1/movement1.mxl",
        first_bar=1,
        last_bar=24,
        kind="string quartet, 6/8",
    ),
    CorpusPiece(
        "mozart_k458_mvt1_6-8.mid",
        "mozart/k458/movement1.mxl",
        first_bar=1,
        last_bar=32,
        kind="string quartet, 6/8",
    ),
    CorpusPiece(
        "mozart_k80_mvt1_3-4.mid",
        "mozart/k80/movement1.mxl",
        first_bar=1,
        last_bar=24,
        kind="string quartet, 3/4",
    ),
    CorpusPiece(
        "beethoven_op18no1_mvt3_3-4.mid",
        "beethoven/opus18no1/movement3.mxl",
        first_bar=1,
        last_bar=40,
        kind="string quartet, 3/4",
    ),
    CorpusPiece(
        "beethoven_op59no1_mvt1.mid",
        "beethoven/opus59no1/movement1.mxl",
        first_bar=1,
        last_bar=30,
        kind="string quartet, 4/4",
    ),
    CorpusPiece("corelli_op3no1_grave.mid", "corelli/opus3no1/1grave.xml", kind="trio sonata, 4/4"),
    CorpusPiece(
        "handel_lascia_chio_pianga.mid",
        "handel/rinaldo/Lascia_chio_pianga.mxl",
        kind="voice and continuo, meter changes 3/4 <-> 4/4 and a tempo change from the score",
    ),
]


def strip_repeats(score: stream.Score) -> stream.Score:
    """Remove repeat barlines, repeat expressions and brackets, which break trimmed excerpts."""
    for repeat_bar in list(score.recurse().getElementsByClass(bar.Repeat)):
        site = repeat_bar.activeSite
        if site is None:
            continue
        if getattr(site, "rightBarline", None) is repeat_bar:
            site.rightBarline = bar.Barline("regular")
        elif getattr(site, "leftBarline", None) is repeat_bar:
            site.leftBarline = bar.Barline("regular")
        else:
            site.remove(repeat_bar)
    for expression in list(score.recurse().getElementsByClass(repeat.RepeatExpression)):
        expression.activeSite.remove(expression)
    for bracket in list(score.recurse().getElementsByClass(spanner.RepeatBracket)):
        bracket.activeSite.remove(bracket)
    return score


def load_score(
    corpus_path: str,
    number: int | None = None,
    first_bar: int | None = None,
    last_bar: int | None = None,
    expand_repeats: bool = False,
) -> stream.Score:
    """Parse a corpus piece (one tune of an ABC opus when number is given) and trim it.

    Repeats are removed unless expand_repeats, in which case music21's writer expands them.
    """
    score = (
        corpus.parse(corpus_path, number=number)
        if number is not None
        else corpus.parse(corpus_path)
    )
    if isinstance(score, stream.Opus):
        score = score.scores[0]
    if first_bar is not None:
        score = score.measures(first_bar, last_bar)
    return score if expand_repeats else strip_repeats(score)


def score_notes(score: stream.Score) -> list[list[tuple[int, Fraction, Fraction]]]:
    """Notes of each part as (pitch, start quarter, end quarter), ties merged, grace notes dropped."""
    parts = []
    for part in score.parts:
        notes = []
        for element in part.stripTies().flatten().notes:
            duration = Fraction(element.duration.quarterLength)
            if duration <= 0:
                continue
            start = Fraction(element.getOffsetInHierarchy(part))
            for pitch in element.pitches:
                notes.append((pitch.midi, start, start + duration))
        parts.append(sorted(notes, key=lambda note: (note[1], note[0])))
    return parts


def write_midi_with_mido(
    path: Path, tracks: list[dict], meta_events: list[tuple[Fraction, mido.MetaMessage]]
) -> None:
    """Write a type-1 MIDI file: a conductor track with meta events, then one track per part.

    Each track dict has `notes` [(pitch, start_q, end_q)], `channel`, `program`, `velocity`.
    """
    midi_file = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_QUARTER)

    def to_track(timed_messages: list[tuple[int, int, mido.Message]]) -> mido.MidiTrack:
        track = mido.MidiTrack()
        last_tick = 0
        for tick, _, message in sorted(timed_messages, key=lambda item: (item[0], item[1])):
            track.append(message.copy(time=tick - last_tick))
            last_tick = tick
        track.append(mido.MetaMessage("end_of_track", time=0))
        return track

    conductor = [(int(quarter * TICKS_PER_QUARTER), 0, message) for quarter, message in meta_events]
    midi_file.tracks.append(to_track(conductor))
    for track_spec in tracks:
        channel = track_spec["channel"]
        timed = [
            (0, 0, mido.Message("program_change", program=track_spec["program"], channel=channel))
        ]
        for pitch, start, end in track_spec["notes"]:
            timed.append(
                (
                    int(start * TICKS_PER_QUARTER),
                    2,
                    mido.Message(
                        "note_on", note=pitch, velocity=track_spec["velocity"], channel=channel
                    ),
                )
            )
            timed.append(
                (
                    int(end * TICKS_PER_QUARTER),
                    1,
                    mido.Message("note_off", note=pitch, velocity=0, channel=channel),
                )
            )
        midi_file.tracks.append(to_track(timed))
    midi_file.save(str(path))


def tempo(qpm: float) -> mido.MetaMessage:
    """A set_tempo meta message for a tempo in quarter notes per minute."""
    return mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(qpm))


def time_signature(numerator: int, denominator: int) -> mido.MetaMessage:
    """A time_signature meta message."""
    return mido.MetaMessage("time_signature", numerator=numerator, denominator=denominator)


def build_variants(output_dir: Path) -> list[tuple[str, str, str]]:
    """Write the variant files (tempo/meter changes, drums); return (filename, source, change) rows."""
    rows = []

    def one_track(notes, program=0):
        return {"notes": notes, "channel": 0, "program": program, "velocity": 90}

    # 1. A reel with a tempo change that is not at time 0 (bar 9 of 2/2 = quarter 32).
    reel = score_notes(load_score("oneills1850/1376-1475.abc", number=1376))[0]
    write_midi_with_mido(
        output_dir / "variant_reel_tempo_change_bar9.mid",
        [one_track(reel, program=73)],
        [(Fraction(0), time_signature(2, 2)), (Fraction(0), tempo(120)), (Fraction(32), tempo(96))],
    )
    rows.append(
        (
            "variant_reel_tempo_change_bar9.mid",
            "oneills1850/1376-1475.abc #1376",
            "re-written with mido at 480 tpq, flute; 2/2; tempo 120 at 0, 96 qpm from bar 9 (quarter 32)",
        )
    )

    # 2. A 4/4 hornpipe (bars 1-12) followed by a 3/4 air: a time-signature change mid-piece,
    #    with a tempo change at the same moment.
    hornpipe_score = load_score("ryansMammoth/AdmiralsHornpipe.abc")
    hornpipe = [note for note in score_notes(hornpipe_score)[0] if note[1] < 48]
    hornpipe = [(pitch, start, min(end, Fraction(48))) for pitch, start, end in hornpipe]
    air = score_notes(load_score("oneills1850/0101-0200.abc", number=101))[0]
    air_offset = Fraction(48)
    joined = hornpipe + [(pitch, start + air_offset, end + air_offset) for pitch, start, end in air]
    write_midi_with_mido(
        output_dir / "variant_meter_change_4-4_to_3-4.mid",
        [one_track(joined, program=40)],
        [
            (Fraction(0), time_signature(4, 4)),
            (Fraction(0), tempo(110)),
            (Fraction(48), time_signature(3, 4)),
            (Fraction(48), tempo(90)),
        ],
    )
    rows.append(
        (
            "variant_meter_change_4-4_to_3-4.mid",
            "ryansMammoth/AdmiralsHornpipe.abc (first 12 bars) + oneills1850/0101-0200.abc #101",
            "mido, violin; 4/4 at 110 qpm for 12 bars, then 3/4 at 90 qpm (both changes at quarter 48)",
        )
    )

    # 3. A chorale with a ritardando: a redundant tempo event (no change), then slower tempos,
    #    some falling inside held notes.
    chorale = score_notes(load_score("bach/bwv40.8.mxl"))
    tracks = [
        {"notes": notes, "channel": index, "program": 19, "velocity": 80}
        for index, notes in enumerate(chorale)
    ]
    write_midi_with_mido(
        output_dir / "variant_chorale_ritardando.mid",
        tracks,
        [
            (Fraction(0), time_signature(4, 4)),
            (Fraction(0), tempo(80)),
            (Fraction(16), tempo(80)),
            (Fraction(62), tempo(72)),
            (Fraction(125, 2), tempo(66)),
            (Fraction(70), tempo(60)),
        ],
    )
    rows.append(
        (
            "variant_chorale_ritardando.mid",
            "bach/bwv40.8.mxl",
            "mido, organ, 4 tracks on channels 0-3; tempo 80 at 0, 80 again at quarter 16 (no change), "
            "72 at quarter 62, 66 at 62.5 (inside notes), 60 at quarter 70",
        )
    )

    # 4. A jig with a drum track, no tempo at time 0 (first tempo at bar 5) and its 6/8 time
    #    signature only stated at bar 3.
    jig = score_notes(load_score("oneills1850/1001-1031.abc", number=1001))[0]
    last_quarter = max(end for _, _, end in jig)
    drums = []
    quarter = Fraction(0)
    while quarter < last_quarter:
        drums.append((36, quarter, quarter + Fraction(1, 2)))
        drums.append((42, quarter + Fraction(3, 2), quarter + Fraction(2)))
        quarter += 3
    write_midi_with_mido(
        output_dir / "variant_jig_drums_late_tempo.mid",
        [one_track(jig, program=22), {"notes": drums, "channel": 9, "program": 0, "velocity": 100}],
        [(Fraction(6), time_signature(6, 8)), (Fraction(12), tempo(100))],
    )
    rows.append(
        (
            "variant_jig_drums_late_tempo.mid",
            "oneills1850/1001-1031.abc #1001",
            "mido, harmonica + a drum track on channel 10 (kick/hi-hat); no tempo event at 0 "
            "(so 120 qpm), first tempo 100 qpm at quarter 12; first time signature 6/8 at quarter 6",
        )
    )

    # 5. A chorale with an added timpani part that only plays two pitch classes (tonic and
    #    dominant), so one melody is discarded for too few pitches.
    chorale = score_notes(load_score("bach/bwv253.mxl"))
    last_quarter = max(end for part in chorale for _, _, end in part)
    timpani, quarter = [], Fraction(0)
    while quarter + 2 <= last_quarter:
        timpani.append((43 if int(quarter) % 8 < 4 else 38, quarter, quarter + 1))
        quarter += 2
    tracks = [
        {"notes": notes, "channel": index, "program": 52, "velocity": 80}
        for index, notes in enumerate(chorale)
    ]
    tracks.append({"notes": timpani, "channel": 4, "program": 47, "velocity": 100})
    write_midi_with_mido(
        output_dir / "variant_chorale_with_timpani.mid",
        tracks,
        [(Fraction(0), time_signature(4, 4)), (Fraction(0), tempo(73))],
    )
    rows.append(
        (
            "variant_chorale_with_timpani.mid",
            "bach/bwv253.mxl",
            "mido, choir (program 52) + a timpani track (program 47) playing G/D quarters "
            "(2 pitch classes); tempo 73 qpm (not exact in microseconds per quarter)",
        )
    )
    return rows


def main() -> None:
    """Write every test file and SOURCES.md into the output directory."""
    output_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUTPUT_DIR
    output_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for piece in CORPUS_PIECES:
        score = load_score(
            piece.corpus_path, piece.number, piece.first_bar, piece.last_bar, piece.expand_repeats
        )
        score.write("midi", fp=str(output_dir / piece.filename))
        source = piece.corpus_path + (f" #{piece.number}" if piece.number is not None else "")
        change = "music21 MIDI writer"
        if piece.first_bar is not None:
            change += f", bars {piece.first_bar}-{piece.last_bar}"
        change += (
            ", repeats expanded by music21"
            if piece.expand_repeats
            else ", repeats removed (not expanded)"
        )
        rows.append((piece.filename, source, f"{change}; {piece.kind}"))
    rows.extend(build_variants(output_dir))
    lines = [
        "# Sources of the real-music MIDI test set",
        "",
        "All pieces come from the music21 corpus (music21 10.5.1; public domain scores; the O'Neill",
        "and Ryan's Mammoth tunes are transcriptions of public-domain collections). Built by",
        "`tools/magenta_reference/build_real_midi.py`. Files named `variant_*` were re-written with mido",
        "(480 ticks per quarter, ties merged, grace notes dropped) to insert tempo, meter or drum",
        "changes; all others were written by music21's own MIDI writer (10080 ticks per quarter).",
        "",
        "| file | corpus source | what was done |",
        "|---|---|---|",
    ]
    lines += [f"| `{name}` | `{source}` | {change} |" for name, source, change in sorted(rows)]
    (output_dir / "SOURCES.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {len(rows)} MIDI files to {output_dir}")


if __name__ == "__main__":
    main()
