"""Tests for the exercises of notebooks 09 (generation) and 10 (evaluation): every checker accepts each
correct form, refuses wrong answers with a message that says what is wrong, never raises on nonsense,
and passes its own solution."""

from __future__ import annotations

import math

import numpy as np
import pytest

from melodylib.course import exercises
from melodylib.generation.primers import parse_primer_melody

NONSENSE = [
    None,
    "sixty",
    "",
    "[60, 'a']",
    "[[60]]",
    "[60.5]",
    "[200]",
    60.5,
    [60, "a"],
    {"a": 1},
    np.zeros((2, 2)),
    "“[60, -2]”",
    "--primer_melody=",
    object(),
]


def verdict(checker, answer, capsys) -> tuple[bool, str]:
    result = checker(answer)
    return result, capsys.readouterr().out


# --- 09_generation: the --primer_melody text of C C D E | E. D D ------------------------------------

CORE = [
    60,
    -2,
    -2,
    -2,
    60,
    -2,
    -2,
    -2,
    62,
    -2,
    -2,
    -2,
    64,
    -2,
    -2,
    -2,
    64,
    -2,
    -2,
    -2,
    -2,
    -2,
    62,
    -2,
    62,
    -2,
    -2,
    -2,
    -2,
    -2,
    -2,
    -2,
]


def test_primer_solution_is_accepted_and_is_what_the_flag_parser_reads(capsys):
    solution = exercises.solution_primer_melody()
    assert isinstance(solution, str)
    assert parse_primer_melody(solution) == CORE + [-1]
    ok, out = verdict(exercises.check_primer_melody, solution, capsys)
    assert ok is True and out.startswith("Correct!")


@pytest.mark.parametrize(
    "answer",
    [
        str(CORE),  # the last note held to the end of the list
        str(CORE + [-1]),
        str(CORE + [-1, -2, -2, -2]),  # rests after the phrase
        ",".join(str(event) for event in CORE),  # no brackets: the flag reads a tuple
        str(tuple(CORE)),
        str(CORE).replace(" ", ""),
        "  " + str(CORE) + "\n",
        f'--primer_melody="{CORE + [-1]}"',
        f"--primer_melody='{CORE}'",
        f"--primer_melody={str(CORE).replace(' ', '')}",
        f'"{CORE}"',
    ],
)
def test_primer_accepts_every_correct_form(answer, capsys):
    ok, out = verdict(exercises.check_primer_melody, answer, capsys)
    assert ok is True, out


def test_primer_leading_note_off_is_ignored_as_magenta_does(capsys):
    # A note-off before the first note ends nothing (note_seq's Melody turns it into a no-event), but it
    # shifts the tune by a step: the checker then says where the first note starts.
    ok, out = verdict(exercises.check_primer_melody, str([-1] + CORE), capsys)
    assert ok is False and "note 1 starts at step 1" in out


@pytest.mark.parametrize(
    "events, expected",
    [
        ([62] + CORE[1:], "note 1 is D4 (62)"),  # wrong pitch
        (CORE[:16] + [65] + CORE[17:], "note 5 is F4 (65)"),
        (CORE[:4] + CORE[6:], "note 2 is D4 (62)"),  # the second C left out
        (
            CORE[:20] + CORE[22:],
            "note 6 starts at step 20; it should start at step 22",
        ),  # E a quarter, not dotted
        (
            CORE[:18] + [-1] + CORE[19:],
            "note 5 stops after 2 steps; it should last 6",
        ),  # a note-off inside
        (CORE + [-2, -2], "note 7 lasts 10 steps; it should last 8"),
        (
            CORE[:28] + [-1, -2, -2, -2],
            "note 7 stops after 4 steps; it should last 8",
        ),  # the half note cut short
        (CORE + [-1, 60], "after the seven notes there is another one"),
        (CORE[:16], "only 4 notes"),
        ([-2, -2] + CORE, "note 1 starts at step 2"),
    ],
)
def test_primer_wrong_answers_say_what_is_wrong(events, expected, capsys):
    ok, out = verdict(exercises.check_primer_melody, str(events), capsys)
    assert ok is False
    assert expected in out, out
    assert "Hint:" in out


def test_primer_as_a_list_is_refused_with_the_way_to_make_it_text(capsys):
    ok, out = verdict(exercises.check_primer_melody, CORE + [-1], capsys)
    assert ok is False and "text" in out and "str(" in out
    ok, out = verdict(exercises.check_primer_melody, np.array(CORE), capsys)
    assert ok is False and "text" in out


def test_primer_parser_errors_are_shown(capsys):
    ok, out = verdict(exercises.check_primer_melody, "[60, -2, 130]", capsys)
    assert ok is False and "out of range" in out
    ok, out = verdict(exercises.check_primer_melody, "“[60, -2]”", capsys)
    assert ok is False and "typographic quotes" in out
    ok, out = verdict(exercises.check_primer_melody, "[-2, -1, -2]", capsys)
    assert ok is False and "no notes" in out


@pytest.mark.parametrize("answer", NONSENSE, ids=range(len(NONSENSE)))
def test_primer_never_raises_on_nonsense(answer, capsys):
    ok, out = verdict(exercises.check_primer_melody, answer, capsys)
    assert ok is False and out.startswith("Not yet:")


# --- 10_evaluation: the perplexity of a unigram model ------------------------------------------------


def expected_perplexity() -> float:
    probabilities = dict(enumerate(exercises.UNIGRAM_EXERCISE_PROBABILITIES))
    log_probabilities = [
        math.log(probabilities[label]) for label in exercises.UNIGRAM_EXERCISE_LABELS
    ]
    return math.exp(-sum(log_probabilities) / len(log_probabilities))


def test_perplexity_solution_is_accepted_and_correct(capsys):
    solution = exercises.solution_perplexity()
    assert solution == pytest.approx(expected_perplexity(), rel=1e-12)
    assert solution == pytest.approx(
        2.992, abs=1e-3
    )  # worked out by hand: 5 ln .6 + ln .2 + 2 ln .1
    ok, out = verdict(exercises.check_perplexity, solution, capsys)
    assert ok is True and out.startswith("Correct!")


def test_perplexity_agrees_with_the_library_baseline_metric():
    # The same quantity as NGramModel.evaluate's perplexity: a unigram fitted on counts chosen so that
    # add-one smoothing gives exactly the exercise's distribution ((59 + 1) / (96 + 4) = 0.6, ...).
    from melodylib.evaluation.baselines import NGramModel

    constant = 1.0
    counts = [
        round(p * 100 - constant) for p in exercises.UNIGRAM_EXERCISE_PROBABILITIES
    ]  # 59, 9, 19, 9
    training = [label for label, count in enumerate(counts) for _ in range(count)]
    model = NGramModel(1, 4, smoothing="additive", additive_constant=constant).fit([[0] + training])
    assert model.distribution([]) == pytest.approx(exercises.UNIGRAM_EXERCISE_PROBABILITIES)
    # The library scores labels 1..N-1; put a stand-in in front so every exercise label is scored.
    metrics = model.evaluate([[0, *exercises.UNIGRAM_EXERCISE_LABELS]])
    assert metrics["steps"] == len(exercises.UNIGRAM_EXERCISE_LABELS)
    assert metrics["perplexity"] == pytest.approx(exercises.solution_perplexity(), rel=1e-9)


@pytest.mark.parametrize(
    "answer",
    [
        2.992,
        2.99,
        2.9920,
        3.0,
        np.float32(2.9917),
        np.float64(2.99),
        np.array(2.99),
        np.array([2.992]),
    ],
)
def test_perplexity_accepts_rounded_values_and_numpy_numbers(answer, capsys):
    ok, out = verdict(exercises.check_perplexity, answer, capsys)
    assert ok is True, out


@pytest.mark.parametrize(
    "answer, expected",
    [
        (1.096, "NLL per step"),  # the loss in nats
        (1.581, "bits"),
        (-1.096, "mean log-probability"),
        (8.768, "whole sequence"),
        (6420.0, "exp of the sum"),
        (0.3342, "geometric mean"),
        (4, "number of classes"),
        (2.353, "average probability"),
        (3.1, "is not the perplexity"),
        (2.9, "is not the perplexity"),
    ],
)
def test_perplexity_wrong_answers_name_the_slip(answer, expected, capsys):
    ok, out = verdict(exercises.check_perplexity, answer, capsys)
    assert ok is False
    assert expected in out, out
    assert "Hint:" in out


@pytest.mark.parametrize(
    "answer", [None, "2.99", True, [2.99, 3.0], float("nan"), float("inf"), {"p": 2.99}, object()]
)
def test_perplexity_never_raises_on_nonsense(answer, capsys):
    ok, out = verdict(exercises.check_perplexity, answer, capsys)
    assert ok is False and out.startswith("Not yet:")


# --- the solutions registry ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "notebook, name",
    [
        ("09_generation", "primer_melody"),
        ("09", "primer_melody"),
        ("10_evaluation.ipynb", "perplexity"),
        ("10", "perplexity"),
    ],
)
def test_solutions_are_registered_and_pass_their_checkers(notebook, name, capsys):
    answers = exercises.solution(notebook, show=False)
    assert name in answers
    checker = getattr(exercises, f"check_{name}")
    assert checker(answers[name]) is True
