"""Tests for melodylib.course.exercises: every checker accepts each correct form, refuses wrong answers with a
helpful message, never raises on nonsense, and passes its own solution."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from melodylib.course import exercises
from melodylib.course.exercises.registry import Exercise
from melodylib.encoding.configs import get_config
from melodylib.errors import MelodylibError
from melodylib.music.melodies import Melody
from melodylib.music.notesequence import KeySignature, Note, NoteSequence, TimeSignature

NONSENSE = [
    None,
    "sixty",
    60,
    3.5,
    [],
    [[60, -2]],
    [60, "a"],
    [60.5],
    [True, False],
    np.zeros((2, 2)),
    {"a": 1},
]


def verdict(checker, answer, *args, capsys) -> tuple[bool, str]:
    result = checker(answer, *args)
    return result, capsys.readouterr().out


# --- 00_tour: twinkle --------------------------------------------------------------------------


def test_twinkle_solution_is_accepted(capsys):
    ok, out = verdict(exercises.check_twinkle, exercises.solution_twinkle(), capsys=capsys)
    assert ok is True and out.startswith("Correct!")


@pytest.mark.parametrize(
    "form", ["note_off", "no_note_off", "trailing_rests", "numpy", "melody", "tuple"]
)
def test_twinkle_accepts_every_correct_form(form, capsys):
    core = exercises.solution_twinkle()[:-1]  # 32 events, the last note held to the end
    assert len(core) == 32
    answer = {
        "note_off": core + [-1],
        "no_note_off": core,
        "trailing_rests": core + [-1, -2, -2, -2],
        "numpy": np.array(core + [-1], dtype=np.int32),
        "melody": Melody(core),
        "tuple": tuple(core),
    }[form]
    ok, out = verdict(exercises.check_twinkle, answer, capsys=capsys)
    assert ok is True, out


def test_twinkle_wrong_answers_say_what_is_wrong(capsys):
    core = exercises.solution_twinkle()[:-1]
    wrong_pitch = list(core)
    wrong_pitch[8] = 65  # third note F instead of G
    ok, out = verdict(exercises.check_twinkle, wrong_pitch, capsys=capsys)
    assert ok is False and "note 3" in out and "Hint:" in out

    held_too_long = core + [-2, -2]
    ok, out = verdict(exercises.check_twinkle, held_too_long, capsys=capsys)
    assert ok is False and "note 7" in out and "-1" in out

    cut_short = list(core)
    cut_short[2] = -1  # the first note ends after 2 steps
    ok, out = verdict(exercises.check_twinkle, cut_short, capsys=capsys)
    assert ok is False and "note 1 stops after 2 steps" in out

    every_step = [60, 60, 67, 67, 69, 69, 67, -2]  # one note per step instead of per quarter
    ok, out = verdict(exercises.check_twinkle, every_step, capsys=capsys)
    assert ok is False and "starts at step 1" in out

    ok, out = verdict(exercises.check_twinkle, core + [-1, 72], capsys=capsys)
    assert ok is False and "another one" in out

    ok, out = verdict(exercises.check_twinkle, core[:16], capsys=capsys)
    assert ok is False and "only 4 notes" in out


@pytest.mark.parametrize("answer", NONSENSE + [[200, -2], [-3]])
def test_twinkle_never_raises_on_nonsense(answer, capsys):
    ok, out = verdict(exercises.check_twinkle, answer, capsys=capsys)
    assert ok is False and out.startswith("Not yet:")


# --- 01_data_conversion: find a minor tune in 6/8 ------------------------------------------------


def tune(
    title: str, meter: tuple[int, int] | None, key: tuple[int, int] | None, identifier: str
) -> NoteSequence:
    return NoteSequence(
        notes=[Note(60, 80, 0.0, 1.0)],
        time_signatures=[TimeSignature(0.0, *meter)] if meter else [],
        key_signatures=[KeySignature(0.0, *key)] if key else [],
        total_time=1.0,
        id=identifier,
        title=title,
    )


@pytest.fixture
def tunes() -> list[NoteSequence]:
    return [
        tune("Major jig", (6, 8), (7, 0), "/id/abc/x/1"),
        tune("Minor reel", (4, 4), (9, 1), "/id/abc/x/2"),
        tune("Minor jig", (6, 8), (9, 1), "/id/abc/x/3"),
        tune("Shared title", (3, 4), (2, 1), "/id/abc/x/4"),
        tune("Shared title", (6, 8), (4, 1), "/id/abc/x/5"),
        tune("No meter", None, (4, 1), "/id/abc/x/6"),
        # 6/8 only from the second time signature on: the first one counts
        NoteSequence(
            notes=[Note(60, 80, 0.0, 1.0)],
            time_signatures=[TimeSignature(2.0, 6, 8), TimeSignature(0.0, 2, 4)],
            key_signatures=[KeySignature(0.0, 9, 1)],
            total_time=3.0,
            id="/id/abc/x/7",
            title="Changes meter",
        ),
    ]


def test_find_tune_solution_is_accepted(tunes, capsys):
    answer = exercises.solution_find_tune(tunes)
    assert answer == "/id/abc/x/3"
    ok, out = verdict(exercises.check_find_tune, answer, tunes, capsys=capsys)
    assert ok is True and "2 of the 7 tunes fit" in out


@pytest.mark.parametrize(
    "answer",
    ["sequence", "id", "title", "title_other_case", "position", "shared_title", "other_tune"],
)
def test_find_tune_accepts_every_correct_form_and_tune(answer, tunes, capsys):
    value = {
        "sequence": tunes[2],
        "id": "/id/abc/x/3",
        "title": "Minor jig",
        "title_other_case": "  minor JIG ",
        "position": 2,
        "shared_title": "Shared title",  # one of the two tunes with this title fits
        "other_tune": "/id/abc/x/5",
    }[answer]
    ok, out = verdict(exercises.check_find_tune, value, iter(tunes), capsys=capsys)
    assert ok is True, out


def test_find_tune_wrong_answers_say_what_is_wrong(tunes, capsys):
    ok, out = verdict(exercises.check_find_tune, tunes[0], tunes, capsys=capsys)
    assert ok is False and "G major" in out
    ok, out = verdict(exercises.check_find_tune, "Minor reel", tunes, capsys=capsys)
    assert ok is False and "4/4" in out
    ok, out = verdict(exercises.check_find_tune, "No meter", tunes, capsys=capsys)
    assert ok is False and "no time signature" in out
    ok, out = verdict(exercises.check_find_tune, "Changes meter", tunes, capsys=capsys)
    assert ok is False and "2/4" in out
    both_wrong = tune("Both wrong", (2, 4), (7, 0), "/id/abc/x/8")
    ok, out = verdict(exercises.check_find_tune, both_wrong, tunes, capsys=capsys)
    assert ok is False and "'Both wrong' is in 2/4 and in G major." in out
    ok, out = verdict(exercises.check_find_tune, "Not a title", tunes, capsys=capsys)
    assert ok is False and "no tune" in out
    ok, out = verdict(exercises.check_find_tune, 99, tunes, capsys=capsys)
    assert ok is False and "not a position" in out


@pytest.mark.parametrize("answer", [None, 2.5, True, [1, 2], {"id": 1}])
def test_find_tune_never_raises_on_nonsense(answer, tunes, capsys):
    ok, out = verdict(exercises.check_find_tune, answer, tunes, capsys=capsys)
    assert ok is False and out.startswith("Not yet:")


def test_find_tune_solution_without_a_fitting_tune_is_an_error(tunes):
    with pytest.raises(MelodylibError, match="no tune"):
        exercises.solution_find_tune(tunes[:2])


# --- 02_melody_extraction: a melody that survives extraction ---------------------------------------


def test_surviving_melody_solution_is_accepted(capsys):
    solution = exercises.solution_surviving_melody()
    assert len(solution) == 128
    ok, out = verdict(exercises.check_surviving_melody, solution, capsys=capsys)
    assert ok is True and "128 steps" in out


@pytest.mark.parametrize(
    "form", ["quarter_notes", "leading_rests", "short_rests", "long", "melody", "numpy"]
)
def test_surviving_melody_accepts_different_melodies(form, capsys):
    scale = [60, 62, 64, 65, 67, 69, 71, 72]
    quarter_notes = [event for pitch in scale * 4 for event in (pitch, -2, -2, -2)]  # 8 bars
    answer = {
        "quarter_notes": quarter_notes,
        "leading_rests": [-2] * 40 + quarter_notes,  # rests before the first note do not count
        "short_rests": [event for pitch in scale * 4 for event in (pitch, -2, -1, -2)],  # staccato
        "long": quarter_notes * 5,  # 40 bars: cut to 512 steps, still kept
        "melody": Melody(quarter_notes),
        "numpy": np.array(quarter_notes),
    }[form]
    ok, out = verdict(exercises.check_surviving_melody, answer, capsys=capsys)
    assert ok is True, out
    if form == "long":
        assert "512" in out


def test_surviving_melody_wrong_answers_name_the_rule(capsys):
    scale = [60, 62, 64, 65, 67, 69, 71, 72]
    one_bar = [event for pitch in scale for event in (pitch, -2)]
    ok, out = verdict(exercises.check_surviving_melody, one_bar, capsys=capsys)
    assert (
        ok is False and "16 steps long (1 bar," in out and "112 steps" in out
    )  # one bar: too short

    two_pitches = [60, -2, 64, -2] * 40
    ok, out = verdict(exercises.check_surviving_melody, two_pitches, capsys=capsys)
    assert ok is False and "2 different pitch classes" in out

    octaves = [48, -2, 60, -2, 72, -2, 84, -2, 67, -2, 79, -2] * 12  # C and G in four octaves
    ok, out = verdict(exercises.check_surviving_melody, octaves, capsys=capsys)
    assert ok is False and "2 different pitch classes" in out

    bars = [event for pitch in scale * 4 for event in (pitch, -2, -2, -2)]
    split = bars + [-1] + [-2] * 20 + bars  # two 8-bar halves around a silence of more than a bar
    ok, out = verdict(exercises.check_surviving_melody, split, capsys=capsys)
    assert ok is False and "splits it" in out and "2 pieces" in out

    tail_lost = (
        bars + [-1] + [-2] * 20 + [60, -2, 62]
    )  # the short piece after the silence is dropped
    ok, out = verdict(exercises.check_surviving_melody, tail_lost, capsys=capsys)
    assert ok is False and "only 1 of the pieces" in out

    ok, out = verdict(exercises.check_surviving_melody, [-2, -1, -2], capsys=capsys)
    assert ok is False and "no notes" in out


@pytest.mark.parametrize("answer", NONSENSE + [[128], [60, -5]])
def test_surviving_melody_never_raises_on_nonsense(answer, capsys):
    ok, out = verdict(exercises.check_surviving_melody, answer, capsys=capsys)
    assert ok is False and out.startswith("Not yet:")


# --- 03_event_encoding: one-hot labels by hand -----------------------------------------------------


def test_one_hot_labels_solution_is_accepted(capsys):
    solution = exercises.solution_one_hot_labels()
    # worked by hand: 60 -> 14, no event -> 0, 64 -> 18, note off -> 1, 55 -> 9, 67 -> 21
    assert solution == [14, 0, 0, 0, 18, 0, 1, 0, 9, 0, 0, 21]
    ok, out = verdict(exercises.check_one_hot_labels, solution, capsys=capsys)
    assert ok is True


@pytest.mark.parametrize("form", ["list", "training_labels", "numpy", "encoder_output", "tuple"])
def test_one_hot_labels_accepts_every_correct_form(form, capsys):
    encoder = get_config("basic_rnn").encoder
    melody = list(exercises.ONE_HOT_EXERCISE_MELODY)
    answer = {
        "list": [14, 0, 0, 0, 18, 0, 1, 0, 9, 0, 0, 21],
        "training_labels": [0, 0, 0, 18, 0, 1, 0, 9, 0, 0, 21],
        "numpy": np.array([14, 0, 0, 0, 18, 0, 1, 0, 9, 0, 0, 21], dtype=np.int64),
        "encoder_output": encoder.encode(melody)[1],
        "tuple": (14, 0, 0, 0, 18, 0, 1, 0, 9, 0, 0, 21),
    }[form]
    ok, out = verdict(exercises.check_one_hot_labels, answer, capsys=capsys)
    assert ok is True, out


def test_one_hot_labels_wrong_answers_say_what_is_wrong(capsys):
    forgot_offset = [12, 0, 0, 0, 16, 0, 1, 0, 7, 0, 0, 19]  # pitch - 48 instead of pitch - 48 + 2
    ok, out = verdict(exercises.check_one_hot_labels, forgot_offset, capsys=capsys)
    assert ok is False and "class 14, not 12" in out and "p - 48 + 2" in out
    ok, out = verdict(
        exercises.check_one_hot_labels, list(exercises.ONE_HOT_EXERCISE_MELODY), capsys=capsys
    )
    assert ok is False and "events themselves" in out
    ok, out = verdict(exercises.check_one_hot_labels, [14, 0, 0], capsys=capsys)
    assert ok is False and "one class per event" in out
    swapped = [14, 1, 1, 1, 18, 1, 0, 1, 9, 1, 1, 21]  # no event and note off swapped
    ok, out = verdict(exercises.check_one_hot_labels, swapped, capsys=capsys)
    assert ok is False and "position 1" in out


@pytest.mark.parametrize("answer", NONSENSE)
def test_one_hot_labels_never_raises_on_nonsense(answer, capsys):
    ok, out = verdict(exercises.check_one_hot_labels, answer, capsys=capsys)
    assert ok is False and out.startswith("Not yet:")


# --- 03_event_encoding: lookback labels that decode to the melody -----------------------------------


def test_lookback_labels_solution_is_accepted(capsys):
    solution = exercises.solution_lookback_labels()
    assert len(solution) == len(exercises.LOOKBACK_EXERCISE_MELODY)
    ok, out = verdict(exercises.check_lookback_labels, solution, capsys=capsys)
    assert ok is True and "exactly the encoder's labels" in out


def test_lookback_labels_accepts_other_labels_that_decode_to_the_melody(capsys):
    melody = list(exercises.LOOKBACK_EXERCISE_MELODY)
    one_hot_classes = (
        get_config("basic_rnn").encoder.labels(melody).tolist()
    )  # no repeat class at all
    ok, out = verdict(exercises.check_lookback_labels, one_hot_classes, capsys=capsys)
    assert ok is True and "0 of them repeat classes" in out and "differ" in out

    mixed = exercises.solution_lookback_labels()
    mixed[20] = 38  # bar 2 repeats bar 1, so "1 bar back" also gives the right event here
    mixed[1] = 0  # an early no event written as its own class instead of class 39
    ok, out = verdict(exercises.check_lookback_labels, mixed, capsys=capsys)
    assert ok is True, out

    training_labels = get_config("lookback_rnn").encoder.encode(melody)[
        1
    ]  # one fewer: decoded after event 0
    ok, out = verdict(exercises.check_lookback_labels, training_labels, capsys=capsys)
    assert ok is True, out


def test_lookback_labels_wrong_answers_say_what_is_wrong(capsys):
    wrong = exercises.solution_lookback_labels()
    wrong[38] = 38  # event 38 is a no event, but 16 steps back there is a note-on (64)
    ok, out = verdict(exercises.check_lookback_labels, wrong, capsys=capsys)
    assert ok is False and "position 38" in out and "16 steps back" in out

    early_repeat = exercises.solution_lookback_labels()
    early_repeat[0] = (
        38  # nothing is 16 steps back at the start: decodes to no event, but a C4 is there
    )
    ok, out = verdict(exercises.check_lookback_labels, early_repeat, capsys=capsys)
    assert ok is False and "nothing 16 steps back yet" in out

    ok, out = verdict(
        exercises.check_lookback_labels,
        [40] * len(exercises.LOOKBACK_EXERCISE_MELODY),
        capsys=capsys,
    )
    assert ok is False and "0..39" in out
    ok, out = verdict(exercises.check_lookback_labels, [14, 0], capsys=capsys)
    assert ok is False and "one label per event" in out


@pytest.mark.parametrize("answer", NONSENSE)
def test_lookback_labels_never_raises_on_nonsense(answer, capsys):
    ok, out = verdict(exercises.check_lookback_labels, answer, capsys=capsys)
    assert ok is False and out.startswith("Not yet:")


# --- solutions per notebook ------------------------------------------------------------------------


def test_solution_by_notebook_name_passes_every_checker(tunes, capsys):
    answers = exercises.solution("03_event_encoding")
    assert set(answers) == {"one_hot_encode", "one_hot_decode", "one_hot_labels", "lookback_labels"}
    assert exercises.check_one_hot_encode(answers["one_hot_encode"])
    assert exercises.check_one_hot_decode(answers["one_hot_decode"])
    assert "one_hot_labels: [14, 0" in capsys.readouterr().out
    assert exercises.check_one_hot_labels(answers["one_hot_labels"])
    assert exercises.check_lookback_labels(answers["lookback_labels"])
    assert exercises.check_twinkle(exercises.solution("00", show=False)["twinkle"])
    survivor = exercises.solution("02_melody_extraction.ipynb", show=False)["surviving_melody"]
    assert exercises.check_surviving_melody(survivor)
    found = exercises.solution("notebooks/01_data_conversion.ipynb", sequences=tunes, show=False)[
        "find_tune"
    ]
    assert exercises.check_find_tune(found, tunes)


def test_every_notebook_with_exercises_has_solutions():
    assert set(exercises.SOLUTIONS) >= {
        "00_tour",
        "01_data_conversion",
        "02_melody_extraction",
        "03_event_encoding",
    }
    for notebook, solutions in exercises.SOLUTIONS.items():
        for name in solutions:
            assert callable(getattr(exercises, f"check_{name}")), f"{notebook}: no check_{name}"


def test_solution_for_an_unknown_notebook_is_an_error():
    with pytest.raises(MelodylibError, match="choose one of"):
        exercises.solution("99_nothing")


# --- the registry: every exercise of every notebook, each solution passing its own checker ------

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
REGISTERED = [
    (notebook, exercise)
    for notebook, registered in exercises.EXERCISES_BY_NOTEBOOK.items()
    for exercise in registered
]


def checkers_called_in(notebook: Path) -> list[str]:
    """The exercise names whose checkers a notebook's code cells call, in order."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    code = "".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "code")
    return list(dict.fromkeys(re.findall(r"exercises\.check_(\w+)\(", code)))


def test_registry_lists_every_exercise_of_every_notebook():
    notebooks = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    called = {path.stem: checkers_called_in(path) for path in notebooks}
    assert len(called) >= 11
    with_exercises = {notebook: names for notebook, names in called.items() if names}
    registered = {
        notebook: [exercise.name for exercise in registered]
        for notebook, registered in exercises.EXERCISES_BY_NOTEBOOK.items()
    }
    assert registered == with_exercises
    solutions = {
        notebook: {exercise.name: exercise.solution for exercise in registered}
        for notebook, registered in exercises.EXERCISES_BY_NOTEBOOK.items()
    }
    assert solutions == exercises.SOLUTIONS


def test_each_notebook_module_is_named_after_its_notebook_and_exported_by_the_package():
    for module in exercises.NOTEBOOK_MODULES:
        assert module.__name__.rsplit(".", 1)[-1] == f"nb{module.NOTEBOOK}"
        for exercise in module.EXERCISES:
            assert getattr(exercises, exercise.check.__name__) is exercise.check
            assert getattr(exercises, exercise.solution.__name__) is exercise.solution
        for name in module.__all__:
            assert getattr(exercises, name) is getattr(module, name), f"{module.__name__}.{name}"


@pytest.mark.parametrize(
    "notebook, exercise", REGISTERED, ids=[f"{notebook}-{ex.name}" for notebook, ex in REGISTERED]
)
def test_every_registered_solution_passes_its_own_checker(notebook, exercise, tunes, capsys):
    rng = np.random.default_rng(3)
    weights = rng.random((64, 40))  # attention-like weights for 07's exercise
    weights /= weights.sum(axis=1, keepdims=True)
    data = {"sequences": tunes, "weights": weights}
    answer = exercise.model_answer(**data)
    assert exercise.is_correct(answer, **data) is True, capsys.readouterr().out
    assert capsys.readouterr().out.startswith("Correct!")


def test_an_exercise_needs_a_checker_and_a_solution_of_the_same_name():
    assert Exercise(exercises.check_twinkle, exercises.solution_twinkle).name == "twinkle"
    with pytest.raises(MelodylibError, match="solution_twinkle"):
        Exercise(exercises.check_twinkle, exercises.solution_perplexity)
    with pytest.raises(MelodylibError, match="check_"):
        Exercise(exercises.solution_twinkle, exercises.solution_twinkle)
