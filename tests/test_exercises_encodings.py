"""Tests for the build exercises of notebooks 03 (one-hot `encode` and `decode`) and 06 (the
lookback inputs): each checker accepts the model answer and other correct code, refuses typical
wrong code with the intended message (melody, step, block, expected and given), says "not written
yet" for the notebook's scaffold, and never raises."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from melodylib.course import exercises
from melodylib.course.exercises.real_melodies import corpus_melodies
from melodylib.encoding.configs import get_config

NONSENSE = [None, 42, "encode", [1, 2, 3], np.zeros(3)]


def verdict(checker, answer, capsys, **data) -> tuple[bool, str]:
    result = checker(answer, **data)
    return result, capsys.readouterr().out


def not_written(*args):
    raise NotImplementedError("the scaffold's body")


# --- the real melodies ----------------------------------------------------------------------------


def test_checkers_work_on_real_melodies_squashed_for_the_config():
    melodies = corpus_melodies("basic_rnn")
    assert len(melodies) == 4
    for title, events in melodies:
        assert title and len(events) >= 112
        assert all(event in (-2, -1) or 48 <= event < 84 for event in events)
    lookback = corpus_melodies("lookback_rnn")
    assert [title for title, _ in lookback] == [title for title, _ in melodies]


# --- 03: encode -----------------------------------------------------------------------------------


def test_one_hot_encode_solution_is_accepted_and_is_a_function(capsys):
    encode = exercises.solution_one_hot_encode()
    assert callable(encode) and "np.eye" in inspect.getsource(exercises.solution_one_hot_encode)
    ok, out = verdict(exercises.check_one_hot_encode, encode, capsys)
    assert ok is True and out.startswith("Correct!") and "4 corpus melodies" in out


def test_one_hot_encode_accepts_other_correct_code(capsys):
    encoder = get_config("basic_rnn").encoder

    def by_the_library(events):
        return encoder.inputs(events).astype(int).tolist()  # lists of ints are fine too

    def by_hand(events):
        rows = np.zeros((len(events), 38), dtype=np.float32)
        for step, event in enumerate(events):
            rows[step, {-2: 0, -1: 1}.get(event, event - 46)] = 1
        return rows

    for encode in (by_the_library, by_hand):
        ok, out = verdict(exercises.check_one_hot_encode, encode, capsys)
        assert ok is True, out


def test_one_hot_encode_not_written_yet(capsys):
    ok, out = verdict(exercises.check_one_hot_encode, not_written, capsys)
    assert ok is False and "not written yet" in out and "Hint:" in out


@pytest.mark.parametrize(
    "encode, expected",
    [
        (  # forgot the two special classes before the pitches
            lambda events: np.eye(38)[[e + 2 if e < 0 else e - 48 for e in events]],
            "step 0: event 62 (D4) is class 16 (D4), but your row has a 1 in column 14",
        ),
        (  # class indices instead of rows
            lambda events: [e + 2 if e < 0 else e - 46 for e in events],
            "class indices, not one-hot rows",
        ),
        (  # one row short
            lambda events: np.eye(38)[[e + 2 if e < 0 else e - 46 for e in events]][:-1],
            "should give an array of shape (256, 38)",
        ),
        (  # no event and note off swapped
            lambda events: np.eye(38)[[{-2: 1, -1: 0}.get(e, e - 46) for e in events]],
            "is class 0 (no event), but your row has a 1 in column 1, i.e. class 1 (note off)",
        ),
        (  # all zeros
            lambda events: np.zeros((len(events), 38)),
            "a row of zeros",
        ),
        (  # raises
            lambda events: events["x"],
            "encode raised TypeError",
        ),
    ],
)
def test_one_hot_encode_wrong_code_says_where_and_what(encode, expected, capsys):
    ok, out = verdict(exercises.check_one_hot_encode, encode, capsys)
    assert ok is False and out.startswith("Not yet:") and "'The Ranting Highlandman'" in out
    assert expected in out, out


def test_one_hot_encode_names_the_pitch_offset_mistake(capsys):
    wrong = lambda events: np.eye(38)[[e + 2 if e < 0 else e - 48 for e in events]]  # noqa: E731
    ok, out = verdict(exercises.check_one_hot_encode, wrong, capsys)
    assert "pitches start at class 2" in out


@pytest.mark.parametrize("answer", NONSENSE)
def test_one_hot_encode_never_raises_on_nonsense(answer, capsys):
    ok, out = verdict(exercises.check_one_hot_encode, answer, capsys)
    assert ok is False and out.startswith("Not yet:")


# --- 03: decode -----------------------------------------------------------------------------------


def test_one_hot_decode_solution_is_accepted(capsys):
    ok, out = verdict(exercises.check_one_hot_decode, exercises.solution_one_hot_decode(), capsys)
    assert ok is True and out.startswith("Correct!")


def test_one_hot_decode_accepts_the_library_and_arrays(capsys):
    encoding = get_config("basic_rnn").encoder.encoding
    ok, out = verdict(exercises.check_one_hot_decode, encoding.decode_events, capsys)
    assert ok is True, out


def test_one_hot_decode_not_written_yet(capsys):
    ok, out = verdict(exercises.check_one_hot_decode, not_written, capsys)
    assert ok is False and "not written yet" in out


@pytest.mark.parametrize(
    "decode, expected",
    [
        (
            lambda classes: [k - 2 if k < 2 else k + 48 for k in classes],
            "step 0: class 16 (D4) is the event 62 (D4); decode gave 64 (E4)",
        ),
        (lambda classes: [k - 2 if k < 2 else k + 44 for k in classes], "pitches start at class 2"),
        (lambda classes: list(classes)[:-1], "should give 256 events; decode gave 255"),
        (lambda classes: "C D E", "a list of whole numbers"),
    ],
)
def test_one_hot_decode_wrong_code_says_where_and_what(decode, expected, capsys):
    ok, out = verdict(exercises.check_one_hot_decode, decode, capsys)
    assert ok is False and expected in out, out


@pytest.mark.parametrize("answer", NONSENSE)
def test_one_hot_decode_never_raises_on_nonsense(answer, capsys):
    ok, out = verdict(exercises.check_one_hot_decode, answer, capsys)
    assert ok is False and out.startswith("Not yet:")


def test_yours_or_reference_keeps_passing_code_and_replaces_the_rest(capsys):
    mine = exercises.solution_one_hot_encode()
    assert exercises.one_hot_encode_yours_or_reference(mine) is mine
    assert capsys.readouterr().out == "Using your encode.\n"
    reference = exercises.one_hot_decode_yours_or_reference(not_written)
    out = capsys.readouterr().out
    assert reference is not not_written and out.count("\n") == 1 and "model answer" in out
    assert reference([14, 0, 1]) == [60, -2, -1]


def test_checkers_take_other_melodies(capsys):
    melodies = [("scale", [60, -2, 62, -1, 64]), [48, -2, 83]]
    ok, out = verdict(
        exercises.check_one_hot_encode,
        exercises.solution_one_hot_encode(),
        capsys,
        melodies=melodies,
    )
    assert ok is True and "2 corpus melodies ('scale', 'melody 1')" in out


# --- 06: lookback inputs --------------------------------------------------------------------------

LOOKBACK = exercises.solution_lookback_input()


def changed(block: slice, value):
    """The model answer with one block replaced by value(events, i)."""

    def lookback_input(events, i):
        row = LOOKBACK(events, i).copy()
        row[block] = value(events, i)
        return row

    return lookback_input


def test_lookback_input_solution_is_accepted(capsys):
    ok, out = verdict(exercises.check_lookback_input, LOOKBACK, capsys)
    assert ok is True and out.startswith("Correct!")
    assert "'1 bar ago', '2 bars ago', 'counter', 'repeat'" in out and "384 steps" in out


def test_lookback_input_accepts_the_library_row_by_row(capsys):
    encoder = get_config("lookback_rnn").encoder

    def from_the_encoder(events, i):
        return encoder.inputs(events)[i].tolist()

    ok, out = verdict(exercises.check_lookback_input, from_the_encoder, capsys)
    assert ok is True, out


def test_lookback_input_not_written_yet(capsys):
    ok, out = verdict(exercises.check_lookback_input, not_written, capsys)
    assert ok is False and "not written yet" in out and "Hint:" in out


def counter_of(number):
    return [1.0 if number >> bit & 1 else -1.0 for bit in range(5)]


@pytest.mark.parametrize(
    "lookback_input, expected, hint",
    [
        (
            changed(slice(114, 119), lambda events, i: counter_of(i)),
            "step 0, block 'counter': expected +1 -1 -1 -1 -1, got -1 -1 -1 -1 -1",
            "bits of i + 1, not of i",
        ),
        (
            changed(slice(114, 119), lambda events, i: [float((i + 1) >> b & 1) for b in range(5)]),
            "step 0, block 'counter': expected +1 -1 -1 -1 -1, got +1 0 0 0 0",
            "a 0 bit is -1",
        ),
        (
            changed(slice(114, 119), lambda events, i: counter_of(i + 1)[::-1]),
            "block 'counter': expected +1 -1 -1 -1 -1, got -1 -1 -1 -1 +1",
            "lowest bit first",
        ),
        (
            changed(
                slice(38, 76),
                lambda events, i: exercises.lookback_one_hot(events[i - 16] if i >= 16 else -2),
            ),
            "step 15, block '1 bar ago': expected the one-hot of 62 (D4)",
            "events[i + 1 - 16], not events[i - 16]",
        ),
        (
            changed(slice(76, 114), lambda events, i: exercises.lookback_one_hot(-2)),
            "block '2 bars ago': expected the one-hot of",
            "",
        ),
        (
            changed(slice(119, 121), lambda events, i: [0.0, 0.0]),
            "block 'repeat': expected +1 0, got 0 0",
            "CURRENT event",
        ),
        (
            lambda events, i: LOOKBACK(events, i)[:119],
            "should give 121 numbers (38 current + 38 1 bar ago + 38 2 bars ago + 5 counter + "
            "2 repeat); it gave an array of shape (119,)",
            "np.concatenate",
        ),
    ],
)
def test_lookback_input_wrong_code_names_step_block_and_values(
    lookback_input, expected, hint, capsys
):
    ok, out = verdict(exercises.check_lookback_input, lookback_input, capsys)
    assert ok is False and out.startswith("Not yet: melody '") and expected in out, out
    assert hint in out


def test_lookback_input_blocks_are_checked_in_order(capsys):
    both_wrong = changed(slice(38, 121), lambda events, i: np.zeros(83))
    ok, out = verdict(exercises.check_lookback_input, both_wrong, capsys)
    assert ok is False and "block '1 bar ago'" in out and "all zeros" in out


@pytest.mark.parametrize("answer", NONSENSE + [lambda events: events, lambda events, i: "row"])
def test_lookback_input_never_raises_on_nonsense(answer, capsys):
    ok, out = verdict(exercises.check_lookback_input, answer, capsys)
    assert ok is False and out.startswith("Not yet:")


def test_lookback_yours_or_reference(capsys):
    assert exercises.lookback_input_yours_or_reference(LOOKBACK) is LOOKBACK
    reference = exercises.lookback_input_yours_or_reference(not_written)
    assert reference is not not_written and len(reference([60, -2, 62], 1)) == 121


def test_solutions_of_03_and_06_are_listed_by_notebook(capsys):
    answers = exercises.solution("06", show=False)
    assert set(answers) == {"lookback_input", "lookback_training_labels"}
    assert exercises.check_lookback_input(answers["lookback_input"])
