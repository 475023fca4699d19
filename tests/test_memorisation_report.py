"""The memorisation report: the data set's split, generated continuations, and what they copy."""

from __future__ import annotations

import pytest

from melodylib.errors import MelodylibError
from melodylib.evaluation.memorisation import MemorisationIndex
from melodylib.evaluation.memorisation_report import (
    continue_first_bars,
    memorisation_report,
    split_named_melodies,
)
from melodylib.music.notesequence import Note, NoteSequence, write_note_sequences

HOLD, OFF = -2, -1


def tune(pitches, note_steps=2):
    """Events of a melody with notes of `note_steps` steps."""
    events = []
    for pitch in pitches:
        events += [pitch] + [HOLD] * (note_steps - 1)
    return events


TRAINING = [
    tune([60, 62, 64, 65, 67, 69, 71, 72] * 4),
    tune([72, 71, 69, 67, 65, 64, 62, 60, 55, 57] * 3, note_steps=4),
]
TITLES = {("folk", "a"): "Tune A", ("folk", "b"): "Tune B"}


def test_a_planted_copy_is_found_and_named():
    index = MemorisationIndex.build(TRAINING, [("folk", "a"), ("folk", "b")])
    # Four bars of tune B a fifth up, then something of its own: B is the source, 4 bars long.
    copied = [p + 7 if p >= 0 else p for p in TRAINING[1][:64]] + tune([50, 53, 50, 53])
    fresh = tune([60, 67, 61, 66, 62, 65, 63, 64])
    report = memorisation_report(index, [fresh, copied], [fresh], TITLES)
    assert report.most_shared.tune == ("folk", "b")
    assert report.most_shared_title == "Tune B"
    assert report.most_shared.bars >= 4
    assert report.tunes_copied_from == 1
    assert report.generated.max_bars == report.most_shared.bars
    assert report.real.count == 1 and report.real.max_bars < 1
    text = report.format()
    assert "Tune B" in text and "real eval tunes" in text
    assert report.to_dict()["most_shared"]["tune"] == ["folk", "b"]


def test_nothing_copied_is_said_plainly():
    index = MemorisationIndex.build(TRAINING[:1], [("folk", "a")])
    report = memorisation_report(index, [tune([60])], [tune([61])])
    assert report.most_shared.tune is None
    assert "no generated melody shares" in report.format()
    with pytest.raises(MelodylibError, match="needs generated melodies"):
        memorisation_report(index, [], [tune([61])])


def test_continue_first_bars_passes_primer_steps_and_seeds():
    calls = []

    def generate(primer, num_steps, seed):
        calls.append((list(primer), num_steps, seed))
        return list(primer) + [HOLD] * (num_steps - len(primer))

    melodies = continue_first_bars(generate, TRAINING, num_steps=48, primer_steps=16, seed=5)
    assert [call[0] for call in calls] == [events[:16] for events in TRAINING]
    assert [call[2] for call in calls] == [5, 6]
    assert all(len(melody) == 48 for melody in melodies)


def test_the_split_is_create_datasets_split(tmp_path):
    """Tunes go where `is_eval_sequence` puts them, named by (collection, id), with titles."""
    from melodylib.data.datasets import is_eval_sequence, split_key

    sequences = []
    for number in range(12):
        notes = [
            Note(
                pitch=60 + (step * 5 + number) % 12,
                velocity=90,
                start_time=step * 0.5,
                end_time=step * 0.5 + 0.5,
            )
            for step in range(32)
        ]
        sequences.append(
            NoteSequence(
                notes=notes,
                id=f"/id/test/{number}",
                collection_name="test",
                title=f"Tune {number}",
                total_time=16.0,
            )
        )
    path = tmp_path / "notesequences.tfrecord"
    write_note_sequences(path, sequences)
    training, evaluation = split_named_melodies(path, eval_ratio=0.3, seed=2)
    expected_eval = {s.id for s in sequences if is_eval_sequence(split_key(s), 0.3, 2)}
    assert {tune_id for _, tune_id in evaluation.names} == expected_eval
    assert {tune_id for _, tune_id in training.names} == {s.id for s in sequences} - expected_eval
    assert 0 < len(expected_eval) < 12
    named = {**training.titles, **evaluation.titles}
    assert named == {("test", s.id): s.title for s in sequences}
    with pytest.raises(MelodylibError, match="does not exist"):
        split_named_melodies(tmp_path / "missing.tfrecord", 0.1)


def test_evaluate_reports_memorisation_on_the_small_corpus(tmp_path, capsys):
    """`melody_rnn evaluate --note_sequence_file`: generated and real rows, and the JSON."""
    import json

    from melodylib.cli.main import main
    from melodylib.course import corpus
    from melodylib.course.shipped import shipped_bundles

    corpus.build_corpus("small", configs=("basic_rnn",), progress=False)  # reused when built
    output = tmp_path / "evaluation.json"
    arguments = [
        "evaluate",
        f"--bundle_file={shipped_bundles()['basic_rnn']}",
        f"--sequence_example_file={corpus.eval_file('basic_rnn', 'small')}",
        f"--note_sequence_file={corpus.sequences_file('small')}",
        f"--eval_ratio={corpus.EVAL_RATIO}",
        f"--seed={corpus.SPLIT_SEED}",
        "--num_generated=3",
        "--num_steps=48",
        "--num_eval_examples=5",
        "--nobaselines",
        f"--output_json={output}",
    ]
    assert main(arguments) == 0
    printed = capsys.readouterr().out
    assert "generated melodies: n=3" in printed and "real eval tunes:    n=3" in printed
    written = json.loads(output.read_text())
    assert written["rows"][0]["kind"] == "model"
    memorisation = written["memorisation"]
    assert memorisation["generated"]["count"] == memorisation["real_eval_tunes"]["count"] == 3
    assert memorisation["most_shared"]["bars"] == memorisation["generated"]["max_bars"]
    assert main([*arguments[:5], "--eval_ratio=0", *arguments[6:]]) == 1
    assert "no eval melody" in capsys.readouterr().err
