"""The memorisation check against a naive reference, hand cases, files, bad input and real tunes."""

from __future__ import annotations

import os
import random

import numpy as np
import pytest

from melodylib.errors import MelodylibError
from melodylib.evaluation.memorisation import (
    MemorisationIndex,
    SharedStretch,
    _suffix_array,
    melody_tokens,
    memorisation_summary,
    shared_stretches,
    summarise_stretches,
)
from melodylib.music.melodies import Melody

HOLD, OFF = -2, -1


# --- an independent, naive reference --------------------------------------------------------------


def naive_notes(events):
    """(onset, pitch, sounding length) of each note: a note sounds until the next non-hold event."""
    notes = []
    for step, event in enumerate(events):
        if event >= 0:
            end = step + 1
            while end < len(events) and events[end] == HOLD:
                end += 1
            notes.append((step, event, end - step))
    return notes


def naive_longest(query, tunes, excluded=()):
    """(notes, steps, tune index, tune start step, query start step) by trying every alignment.

    Ties: the earliest query start, then the first tune, then the earliest note in it.
    """
    query_notes = naive_notes(query)
    best = (0, 0, None, None, None)
    for start in range(len(query_notes)):
        for tune_index, tune in enumerate(tunes):
            if tune_index in excluded:
                continue
            tune_notes = naive_notes(tune)
            for tune_start in range(len(tune_notes)):
                count = 1
                while start + count < len(query_notes) and tune_start + count < len(tune_notes):
                    a0, a1 = query_notes[start + count - 1], query_notes[start + count]
                    b0, b1 = tune_notes[tune_start + count - 1], tune_notes[tune_start + count]
                    same_interval = a1[1] - a0[1] == b1[1] - b0[1]
                    same_gap = a1[0] - a0[0] == b1[0] - b0[0]
                    if not (same_interval and same_gap and a0[2] == b0[2]):
                        break
                    count += 1
                if count >= 2 and count > best[0]:
                    last_query = query_notes[start + count - 1]
                    last_tune = tune_notes[tune_start + count - 1]
                    steps = last_query[0] - query_notes[start][0] + min(last_query[2], last_tune[2])
                    best = (
                        count,
                        steps,
                        tune_index,
                        tune_notes[tune_start][0],
                        query_notes[start][0],
                    )
    return best


def random_melody(rng: random.Random, notes: int) -> list[int]:
    """A small-alphabet melody (so chance matches happen), with rests and leading note-offs."""
    events = [OFF] * rng.choice([0, 0, 1]) + [HOLD] * rng.choice([0, 1, 3])
    pitch = rng.randint(50, 70)
    for _ in range(notes):
        pitch += rng.choice([-2, -1, 0, 1, 2])
        length = rng.choice([1, 2, 2, 4])
        events += [pitch] + [HOLD] * (length - 1)
        if rng.random() < 0.2:
            events += [OFF] + [HOLD] * rng.choice([0, 1, 2])
    return events


def transpose(events, amount):
    return [event + amount if event >= 0 else event for event in events]


def note_slice(events, first_note, last_note):
    """The events from the onset of note `first_note` to just before the onset of `last_note`."""
    onsets = [step for step, event in enumerate(events) if event >= 0]
    end = onsets[last_note] if last_note < len(onsets) else len(events)
    return events[onsets[first_note] : end]


def assert_matches_naive(index, query, tunes, excluded=()):
    expected = naive_longest(query, tunes, set(excluded))
    found = index.longest_shared(query, exclude=list(excluded))
    notes, steps, tune_index, tune_start, query_start = expected
    assert (found.notes, found.steps, found.tune_index) == (notes, steps, tune_index)
    assert (found.tune_start_step, found.query_start_step) == (tune_start, query_start)
    assert found.bars == pytest.approx(steps / 16)


# --- against the naive reference ------------------------------------------------------------------


def test_naive_notes_agree_with_melody_tokens():
    rng = random.Random(3)
    for _ in range(50):
        events = random_melody(rng, rng.randint(0, 12))
        tokens = melody_tokens(events)
        notes = naive_notes(events)
        assert tokens.onsets.tolist() == [note[0] for note in notes]
        assert tokens.lengths.tolist() == [note[2] for note in notes]
        assert len(tokens.tokens) == max(0, len(notes) - 1)


@pytest.mark.parametrize("seed", range(6))
def test_random_melodies_with_planted_copies_match_the_naive_reference(seed):
    rng = random.Random(seed)
    tunes = [random_melody(rng, rng.randint(0, 25)) for _ in range(12)]
    index = MemorisationIndex.build(tunes, [("random", f"tune{i}") for i in range(12)])
    for _ in range(15):
        query = random_melody(rng, rng.randint(0, 8))
        source = tunes[rng.randrange(len(tunes))]
        source_notes = len(naive_notes(source))
        if source_notes >= 3 and rng.random() < 0.8:
            first = rng.randrange(source_notes - 2)
            last = rng.randint(first + 2, source_notes)
            copied = transpose(note_slice(source, first, last), rng.randint(-7, 7))
            query = query + [OFF] + copied + random_melody(rng, rng.randint(0, 4))
        assert_matches_naive(index, query, tunes)
        excluded = rng.sample(range(len(tunes)), 3)
        assert_matches_naive(index, query, tunes, excluded)


def test_a_query_from_the_set_left_out_matches_the_naive_reference():
    rng = random.Random(11)
    tunes = [random_melody(rng, 20) for _ in range(10)]
    index = MemorisationIndex.build(tunes)
    for position, tune in enumerate(tunes):
        assert index.longest_shared(tune).notes == len(naive_notes(tune))  # finds itself
        assert_matches_naive(index, tune, tunes, excluded=[position])


def test_suffix_array_sorts_suffixes():
    rng = np.random.default_rng(0)
    for length in (1, 2, 7, 40):
        tokens = np.append(rng.integers(0, 3, length), 99)  # a unique end, as the index has
        expected = sorted(range(len(tokens)), key=lambda start: tokens[start:].tolist())
        assert _suffix_array(tokens).tolist() == expected


# --- hand cases -----------------------------------------------------------------------------------

TUNE = [60, HOLD, HOLD, HOLD, 62, HOLD, 64, HOLD, 65, HOLD, HOLD, HOLD, 67, HOLD, HOLD, HOLD] * 2


def test_a_melody_transposed_by_five_semitones_matches_in_full():
    index = MemorisationIndex.build([[70, HOLD, 72], TUNE], [("folk", "other"), ("folk", "tune")])
    found = index.longest_shared(transpose(TUNE, 5))
    assert found == SharedStretch(
        notes=10,
        bars=2.0,
        steps=32,
        tune=("folk", "tune"),
        tune_index=1,
        tune_start_step=0,
        query_start_step=0,
    )


def test_a_different_rhythm_does_not_match():
    index = MemorisationIndex.build([TUNE])
    pitches = [event for event in TUNE if event >= 0]
    same_pitches_in_dotted_eighths = [value for pitch in pitches for value in (pitch, HOLD, HOLD)]
    found = index.longest_shared(same_pitches_in_dotted_eighths)
    assert (found.notes, found.bars, found.tune) == (0, 0.0, None)


def test_the_first_pitch_is_free_and_the_last_length_counts_as_far_as_shared():
    index = MemorisationIndex.build([[60, HOLD, 62, HOLD, HOLD, HOLD, HOLD, HOLD]])
    found = index.longest_shared([HOLD, 40, HOLD, 42, HOLD, HOLD])  # the 2nd note sounds 3 steps
    assert (found.notes, found.steps, found.query_start_step, found.tune_start_step) == (2, 5, 1, 0)


def test_a_stretch_runs_across_a_rest_in_the_same_place_only():
    tune = [60, HOLD, OFF, HOLD, 62, HOLD, 64, HOLD, OFF, HOLD, HOLD, HOLD, 65, HOLD, 67, HOLD]
    index = MemorisationIndex.build([tune])
    assert index.longest_shared(transpose(tune, -3)).notes == 5
    # The same onsets, but the first note held through its rest: the stretch starts after it.
    held = [60, HOLD, HOLD, HOLD] + tune[4:]
    found = index.longest_shared(held)
    assert (found.notes, found.query_start_step, found.tune_start_step) == (4, 4, 4)
    # A rest moved inside the gap (note ends a step later) breaks the stretch there too.
    moved = tune[:8] + [HOLD, OFF, HOLD, HOLD] + tune[12:]
    assert index.longest_shared(moved).notes == 3


def test_melody_objects_and_arrays_are_accepted():
    index = MemorisationIndex.build([Melody(TUNE)], ["tune"])
    assert index.longest_shared(Melody(transpose(TUNE, 2))).notes == 10
    assert index.longest_shared(np.array(TUNE)).tune == ("", "tune")


def test_exclude_by_index_name_or_shared_name():
    names = [("folk", "a"), ("folk", "b"), ("folk", "b")]
    index = MemorisationIndex.build([TUNE, TUNE, TUNE], names)
    assert index.longest_shared(TUNE).tune_index == 0
    assert index.longest_shared(TUNE, exclude=0).tune_index == 1
    assert index.longest_shared(TUNE, exclude=("folk", "a")).tune_index == 1
    assert index.longest_shared(TUNE, exclude=[0, ("folk", "b")]).notes == 0
    assert index.longest_shared(TUNE, exclude=("folk", "not there")).tune_index == 0
    assert index.excluded_tunes([("folk", "b")]) == {1, 2}


def test_the_longest_stretch_inside_a_tune_is_located():
    tune = [72, HOLD, 71, HOLD] + TUNE[:16] + [50, HOLD]
    index = MemorisationIndex.build([[50, 55], tune])
    query = [HOLD] * 5 + transpose(TUNE[:16], 12)
    found = index.longest_shared(query)
    assert (found.tune_index, found.tune_start_step, found.query_start_step) == (1, 4, 5)
    assert (found.notes, found.steps) == (5, 16)


# --- many melodies --------------------------------------------------------------------------------


def test_summary_of_many_melodies():
    index = MemorisationIndex.build([TUNE], [("folk", "tune")])
    one_bar = TUNE[:16] + [OFF]
    melodies = [TUNE, one_bar, [60], transpose(TUNE, 1)]
    stretches = shared_stretches(index, melodies)
    assert [stretch.bars for stretch in stretches] == [2.0, 1.0, 0.0, 2.0]
    summary = memorisation_summary(index, melodies)
    assert summary == summarise_stretches(stretches)
    assert summary.count == 4
    assert summary.median_bars == 1.5
    assert summary.percentile_90_bars == 2.0
    assert summary.max_bars == 2.0
    assert summary.share_at_least_2_bars == 0.5
    assert summary.share_at_least_4_bars == 0.0
    assert "n=4" in summary.format("generated")
    left_out = shared_stretches(index, [TUNE], exclude=[("folk", "tune")])
    assert left_out[0].notes == 0


# --- files ----------------------------------------------------------------------------------------


def test_save_and_load_round_trip(tmp_path):
    rng = random.Random(5)
    tunes = [random_melody(rng, 30) for _ in range(8)]
    index = MemorisationIndex.build(tunes, [("c", str(i)) for i in range(8)], steps_per_bar=12)
    path = tmp_path / "sub" / "index.npz"
    index.save(path)
    assert os.listdir(path.parent) == ["index.npz"]  # no temporary file left behind
    loaded = MemorisationIndex.load(path)
    assert loaded.names == index.names and loaded.steps_per_bar == 12
    for _ in range(10):
        query = random_melody(rng, 10)
        assert loaded.longest_shared(query) == index.longest_shared(query)


def test_loading_a_missing_or_foreign_file_fails_clearly(tmp_path):
    with pytest.raises(MelodylibError, match="missing"):
        MemorisationIndex.load(tmp_path / "none.npz")
    (tmp_path / "text.npz").write_text("not an index")
    with pytest.raises(MelodylibError, match="not a memorisation index"):
        MemorisationIndex.load(tmp_path / "text.npz")
    np.savez(tmp_path / "other.npz", values=np.arange(3))
    with pytest.raises(MelodylibError, match="lacks"):
        MemorisationIndex.load(tmp_path / "other.npz")
    MemorisationIndex.build([TUNE]).save(tmp_path / "good.npz")
    with np.load(tmp_path / "good.npz") as data:
        arrays = dict(data)
    np.savez(tmp_path / "damaged.npz", **{**arrays, "position_tune": arrays["position_tune"][:2]})
    with pytest.raises(MelodylibError, match="damaged"):
        MemorisationIndex.load(tmp_path / "damaged.npz")
    np.savez(tmp_path / "future.npz", **{**arrays, "format_version": np.array(99)})
    with pytest.raises(MelodylibError, match="index format 99"):
        MemorisationIndex.load(tmp_path / "future.npz")


# --- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "events, message",
    [
        ([60, 200], "event 200 at position 1 is out of range"),
        ([60, 1.5], "event 1.5 at position 1 is not a whole number"),
        ([60, "x"], "position 1 is not a whole number"),
        ([60, None], "position 1 is not a whole number"),
        ([60, True], "position 1 is not a whole number"),
        ("60 62", "must be a list of events"),
    ],
)
def test_malformed_events_are_refused(events, message):
    with pytest.raises(MelodylibError, match=message):
        MemorisationIndex.build([TUNE, events])
    index = MemorisationIndex.build([TUNE])
    with pytest.raises(MelodylibError, match=message):
        index.longest_shared(events)


def test_bad_reference_sets_and_arguments_are_refused():
    with pytest.raises(MelodylibError, match="reference set is empty"):
        MemorisationIndex.build([])
    with pytest.raises(MelodylibError, match="one name per melody"):
        MemorisationIndex.build([TUNE], ["a", "b"])
    with pytest.raises(MelodylibError, match="collection, id"):
        MemorisationIndex.build([TUNE], [("a", 1)])
    with pytest.raises(MelodylibError, match="steps_per_bar"):
        MemorisationIndex.build([TUNE], steps_per_bar=0)
    index = MemorisationIndex.build([TUNE])
    with pytest.raises(MelodylibError, match="tunes 0..0"):
        index.longest_shared(TUNE, exclude=3)
    with pytest.raises(MelodylibError, match="one per melody"):
        shared_stretches(index, [TUNE], exclude=[])
    with pytest.raises(MelodylibError, match="no melodies"):
        summarise_stretches([])


def test_tunes_and_queries_without_notes_share_nothing():
    index = MemorisationIndex.build([[], [OFF, HOLD], [60]])
    assert index.longest_shared([60, HOLD, 62]).notes == 0
    assert index.longest_shared([]).notes == 0


# --- real tunes -----------------------------------------------------------------------------------


def test_real_folk_tunes(tmp_path):
    """A dozen O'Neill tunes read from music21's corpus: a transposed copy is found in full."""
    music21 = pytest.importorskip("music21")
    from pathlib import Path

    from melodylib.data.datasets import melodies_from_note_sequence
    from melodylib.music.readers import abc_tunes_to_results, split_abc_tunes

    path = Path(music21.__file__).resolve().parent / "corpus" / "oneills1850" / "0001-0050.abc"
    tunes = split_abc_tunes(path.read_text(encoding="utf-8", errors="replace"))[:12]
    melodies, names = [], []
    for result in abc_tunes_to_results(tunes, path):
        if result.sequence is None:
            continue
        for melody in melodies_from_note_sequence(result.sequence):
            melodies.append(melody)
            names.append(("oneills1850", result.tune.reference))
    assert len(melodies) >= 5
    index = MemorisationIndex.build(melodies, names)
    plain_events = [melody.events for melody in melodies]
    copy = transpose(plain_events[3], -4)
    found = index.longest_shared(copy)
    assert found.notes == len(naive_notes(copy))
    assert found.tune == names[3]
    assert_matches_naive(index, copy, plain_events)
    for position in (0, 3):
        excluded = [i for i, name in enumerate(names) if name == names[position]]
        assert_matches_naive(index, plain_events[position], plain_events, excluded)
