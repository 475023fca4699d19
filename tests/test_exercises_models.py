"""Tests for the exercises of notebooks 04-08 (models and training) in melodylib.course.exercises: every checker
accepts each correct form, refuses wrong answers with a helpful message, never raises on nonsense,
and passes its own solution."""

from __future__ import annotations

import numpy as np
import pytest

from melodylib.course import exercises
from melodylib.encoding.configs import get_config
from melodylib.errors import MelodylibError
from melodylib.models.melody_rnn import build_model, count_parameters
from melodylib.music.melodies import Melody

NONSENSE = [
    None,
    "sixty",
    "",
    True,
    [],
    [[1, 2]],
    {"a": 1},
    np.zeros((2, 2)),
    float("nan"),
    float("inf"),
    object(),
]


def verdict(checker, answer, *args, capsys) -> tuple[bool, str]:
    result = checker(answer, *args)
    return result, capsys.readouterr().out


# --- 04_basic_rnn: parameters of basic_rnn with [64, 64] -------------------------------------------


def test_basic_rnn_parameters_solution_is_the_model_count(capsys):
    solution = exercises.solution_basic_rnn_parameters()
    assert (
        solution
        == count_parameters(build_model(get_config("basic_rnn", "rnn_layer_sizes=[64,64]")))
        == 61862
    )
    ok, out = verdict(exercises.check_basic_rnn_parameters, solution, capsys=capsys)
    assert ok is True and out.startswith("Correct!") and "61,862" in out


@pytest.mark.parametrize(
    "answer", [61862, 61862.0, np.int64(61862), np.array(61862), "61862", "61,862", " 61_862 "]
)
def test_basic_rnn_parameters_accepts_every_form_of_the_number(answer, capsys):
    ok, out = verdict(exercises.check_basic_rnn_parameters, answer, capsys=capsys)
    assert ok is True, out


@pytest.mark.parametrize(
    "answer, expected",
    [
        (26368 + 33024, "output layer"),  # the two LSTM layers only
        (26368 + 2470, "one LSTM layer"),
        (61862 - 256 - 256 - 38, "biases"),
        (61862 - 38, "bias for each of the 38 classes"),
        (61862 - 64 * 256 - 64 * 256, "previous output"),
        (221990, "default basic_rnn"),
        (2 * 26368 + 2470, "first layer's 64 outputs"),
        (12345, "not it"),
    ],
)
def test_basic_rnn_parameters_wrong_answers_say_what_is_wrong(answer, expected, capsys):
    ok, out = verdict(exercises.check_basic_rnn_parameters, answer, capsys=capsys)
    assert ok is False and expected in out and "Hint:" in out


@pytest.mark.parametrize("answer", NONSENSE + [61862.5, "61862 parameters"])
def test_basic_rnn_parameters_never_raises_on_nonsense(answer, capsys):
    ok, out = verdict(exercises.check_basic_rnn_parameters, answer, capsys=capsys)
    assert ok is False and out.startswith("Not yet:")


# --- 05_mono_rnn: how many more parameters than basic_rnn ------------------------------------------


def test_mono_rnn_extra_parameters_solution_is_the_difference_of_the_models(capsys):
    difference = count_parameters(build_model(get_config("mono_rnn"))) - count_parameters(
        build_model(get_config("basic_rnn"))
    )
    assert exercises.solution_mono_rnn_extra_parameters() == difference == 280962 - 221990
    ok, out = verdict(
        exercises.check_mono_rnn_extra_parameters,
        exercises.solution_mono_rnn_extra_parameters(),
        capsys=capsys,
    )
    assert ok is True and out.startswith("Correct!")


@pytest.mark.parametrize("answer", [58972, "58,972", np.int32(58972), 58972.0, [58972]])
def test_mono_rnn_extra_parameters_accepts_every_form(answer, capsys):
    if isinstance(answer, list):
        answer = np.array(answer)  # a one-element array is a number too
    ok, out = verdict(exercises.check_mono_rnn_extra_parameters, answer, capsys=capsys)
    assert ok is True, out


@pytest.mark.parametrize(
    "answer, expected",
    [
        (-58972, "positive"),
        (92 * 512, "output layer grows too"),
        (92 * 129, "92 more inputs"),
        (92 * 512 + 92 * 128, "bias"),
        (280962, "subtract"),
        (90 * 512 + 90 * 129, "130 classes"),
        (1, "not it"),
    ],
)
def test_mono_rnn_extra_parameters_wrong_answers_say_what_is_wrong(answer, expected, capsys):
    ok, out = verdict(exercises.check_mono_rnn_extra_parameters, answer, capsys=capsys)
    assert ok is False and expected in out and "Hint:" in out


@pytest.mark.parametrize("answer", NONSENSE)
def test_mono_rnn_extra_parameters_never_raises_on_nonsense(answer, capsys):
    ok, _ = verdict(exercises.check_mono_rnn_extra_parameters, answer, capsys=capsys)
    assert ok is False


# --- 06_lookback_rnn: the labels the network is trained on -----------------------------------------


def test_lookback_training_labels_solution_is_the_encoders_labels(capsys):
    melody = list(exercises.LOOKBACK_TRAINING_MELODY)
    truth = get_config("lookback_rnn").encoder.labels(melody).tolist()
    assert exercises.solution_lookback_training_labels() == truth
    ok, out = verdict(exercises.check_lookback_training_labels, truth, capsys=capsys)
    assert ok is True and out.startswith("Correct!")


@pytest.mark.parametrize("form", ["all", "training", "numpy", "tuple", "encode"])
def test_lookback_training_labels_accepts_every_form(form, capsys):
    encoder = get_config("lookback_rnn").encoder
    truth = exercises.solution_lookback_training_labels()
    answer = {
        "all": truth,
        "training": truth[1:],
        "numpy": np.array(truth, dtype=np.int64),
        "tuple": tuple(truth),
        "encode": encoder.encode(list(exercises.LOOKBACK_TRAINING_MELODY))[1],
    }[form]
    ok, out = verdict(exercises.check_lookback_training_labels, answer, capsys=capsys)
    assert ok is True, out


def test_lookback_training_labels_wrong_answers_say_what_is_wrong(capsys):
    truth = exercises.solution_lookback_training_labels()

    # Labels that decode to the melody but are not the encoder's own (the third bar as 38s).
    decodes = truth[:32] + [38] * 16
    ok, out = verdict(exercises.check_lookback_training_labels, decodes, capsys=capsys)
    assert ok is False and "decode to the melody" in out and "position 32" in out

    quirk = list(truth)
    quirk[1] = 0  # a no event in the first bar written as its own class
    ok, out = verdict(exercises.check_lookback_training_labels, quirk, capsys=capsys)
    assert ok is False and "position 1" in out and "quirk" in out

    no_repeat = list(truth)
    no_repeat[16] = (
        14  # the first note of bar 2 as its pitch class: it decodes, so the decode message names it
    )
    ok, out = verdict(exercises.check_lookback_training_labels, no_repeat, capsys=capsys)
    assert ok is False and "position 16" in out

    wrong_event = list(truth)
    wrong_event[16] = 15  # decodes to another pitch
    ok, out = verdict(exercises.check_lookback_training_labels, wrong_event, capsys=capsys)
    assert ok is False and "position 16" in out and "16 steps back" in out

    ok, out = verdict(exercises.check_lookback_training_labels, truth[:16], capsys=capsys)
    assert ok is False and "48 labels" in out

    out_of_range = list(truth)
    out_of_range[5] = 40
    ok, out = verdict(exercises.check_lookback_training_labels, out_of_range, capsys=capsys)
    assert ok is False and "position 5" in out


@pytest.mark.parametrize("answer", NONSENSE + [[60.5] * 48, Melody([60, -2])])
def test_lookback_training_labels_never_raises_on_nonsense(answer, capsys):
    ok, _ = verdict(exercises.check_lookback_training_labels, answer, capsys=capsys)
    assert ok is False


# --- 07_attention_rnn: where the attention peaks ---------------------------------------------------


@pytest.fixture()
def weights() -> np.ndarray:
    """Attention-like weights for 64 steps over 40 slots, peaking at column 30 of the last row."""
    rng = np.random.default_rng(3)
    matrix = rng.random((64, 40))
    matrix[-1, 30] = 5.0
    return matrix / matrix.sum(axis=1, keepdims=True)


def test_attention_peak_solution_is_accepted(weights, capsys):
    step = exercises.solution_attention_peak(weights)
    assert step == 63 - 40 + 30 == 53
    ok, out = verdict(exercises.check_attention_peak, step, weights, capsys=capsys)
    assert ok is True and out.startswith("Correct!") and "10 steps back" in out


@pytest.mark.parametrize("answer", [53, 53.0, np.int64(53), "53", np.array([53])])
def test_attention_peak_accepts_every_form(answer, weights, capsys):
    ok, out = verdict(exercises.check_attention_peak, answer, weights, capsys=capsys)
    assert ok is True, out


def test_attention_peak_accepts_every_tied_step(capsys):
    tied = np.full((50, 40), 1 / 40)  # an untrained network may spread its attention evenly
    for step in (10, 30, 48):
        ok, out = verdict(exercises.check_attention_peak, step, tied, capsys=capsys)
        assert ok is True, out


def test_attention_peak_works_on_real_model_weights(capsys):
    from melodylib.models.attention_cell import attention_weights

    config = get_config("attention_rnn", "rnn_layer_sizes=[8]")
    events = ([60, -2, 62, -2, 64, -2, 65, -2] * 8)[:50]
    matrix = attention_weights(build_model(config), config.encoder.inputs(events))
    assert matrix.shape == (50, 40)
    ok, out = verdict(
        exercises.check_attention_peak,
        exercises.solution_attention_peak(matrix),
        matrix,
        capsys=capsys,
    )
    assert ok is True, out


@pytest.mark.parametrize(
    "answer, expected",
    [
        (30, "is the column"),
        (10, "how many steps back"),
        (62, "weight"),
        (70, "can only look at"),
        (2, "can only look at"),
    ],
)
def test_attention_peak_wrong_answers_say_what_is_wrong(answer, expected, weights, capsys):
    ok, out = verdict(exercises.check_attention_peak, answer, weights, capsys=capsys)
    assert ok is False and expected in out and "Hint:" in out


@pytest.mark.parametrize("answer", NONSENSE + [53.5])
def test_attention_peak_never_raises_on_nonsense(answer, weights, capsys):
    ok, _ = verdict(exercises.check_attention_peak, answer, weights, capsys=capsys)
    assert ok is False


@pytest.mark.parametrize(
    "bad_weights", [None, "weights", np.zeros(40), np.zeros((0, 40)), [[1.0, float("nan")]]]
)
def test_attention_peak_with_bad_weights_is_a_verdict_not_a_crash(bad_weights, capsys):
    ok, out = verdict(exercises.check_attention_peak, 3, bad_weights, capsys=capsys)
    assert ok is False and "attention_weights" in out


def test_attention_peak_solution_needs_the_weights():
    with pytest.raises(MelodylibError, match="weights"):
        exercises.solution_attention_peak()
    with pytest.raises(MelodylibError, match="weights"):
        exercises.solution("07")


# --- 08_training: perplexity and event accuracy ----------------------------------------------------


def test_eval_perplexity_solution_is_e_to_the_mean_cross_entropy(capsys):
    sums = exercises.EVAL_EXERCISE_SUMS
    assert exercises.solution_eval_perplexity() == pytest.approx(
        np.exp(sums["cross_entropy_sum"] / sums["labels"])
    )
    ok, out = verdict(
        exercises.check_eval_perplexity, exercises.solution_eval_perplexity(), capsys=capsys
    )
    assert ok is True and out.startswith("Correct!")


@pytest.mark.parametrize(
    "answer", [2.2818807653293036, 2.28, 2.282, "2.28", np.float32(2.2819), np.exp(0.825)]
)
def test_eval_perplexity_accepts_rounded_values(answer, capsys):
    ok, out = verdict(exercises.check_eval_perplexity, answer, capsys=capsys)
    assert ok is True, out


@pytest.mark.parametrize(
    "answer, expected",
    [
        (0.825, "that is the loss"),
        (2**0.825, "nats"),
        (10**0.825, "nats"),
        (np.exp(1650 / 1500), "all the labels"),
        (np.exp(1650 / 500), "all the labels"),
        (1 / 0.81, "not from the accuracy"),
        (2.3, "close"),
        (1e300, "whole sum"),
        (5.0, "not it"),
    ],
)
def test_eval_perplexity_wrong_answers_say_what_is_wrong(answer, expected, capsys):
    ok, out = verdict(exercises.check_eval_perplexity, answer, capsys=capsys)
    assert ok is False and expected in out and "Hint:" in out


@pytest.mark.parametrize("answer", NONSENSE)
def test_eval_perplexity_never_raises_on_nonsense(answer, capsys):
    ok, _ = verdict(exercises.check_eval_perplexity, answer, capsys=capsys)
    assert ok is False


def test_eval_event_accuracy_solution_is_accepted(capsys):
    assert exercises.solution_eval_event_accuracy() == pytest.approx(210 / 500)
    ok, out = verdict(
        exercises.check_eval_event_accuracy, exercises.solution_eval_event_accuracy(), capsys=capsys
    )
    assert ok is True and out.startswith("Correct!") and "81%" in out


@pytest.mark.parametrize("answer", [0.42, 210 / 500, "0.42", 42, 42.0, "42%", np.float64(0.4201)])
def test_eval_event_accuracy_accepts_fractions_and_percentages(answer, capsys):
    ok, out = verdict(exercises.check_eval_event_accuracy, answer, capsys=capsys)
    assert ok is True, out


@pytest.mark.parametrize(
    "answer, expected",
    [
        (0.81, "accuracy over all labels"),
        (210 / 2000, "number of event labels"),
        (0.94, "no-event accuracy"),
        (0.58, "got wrong"),
        (81, "accuracy over all labels"),
        (0.5, "not it"),
    ],
)
def test_eval_event_accuracy_wrong_answers_say_what_is_wrong(answer, expected, capsys):
    ok, out = verdict(exercises.check_eval_event_accuracy, answer, capsys=capsys)
    assert ok is False and expected in out and "Hint:" in out


@pytest.mark.parametrize("answer", NONSENSE)
def test_eval_event_accuracy_never_raises_on_nonsense(answer, capsys):
    ok, _ = verdict(exercises.check_eval_event_accuracy, answer, capsys=capsys)
    assert ok is False


# --- solutions by notebook -------------------------------------------------------------------------


def test_solutions_of_notebooks_04_to_08_pass_their_checkers(weights, capsys):
    assert exercises.check_basic_rnn_parameters(
        exercises.solution("04", show=False)["basic_rnn_parameters"]
    )
    assert exercises.check_mono_rnn_extra_parameters(
        exercises.solution("05_mono_rnn.ipynb", show=False)["mono_rnn_extra_parameters"]
    )
    assert exercises.check_lookback_training_labels(
        exercises.solution("notebooks/06_lookback_rnn.ipynb", show=False)[
            "lookback_training_labels"
        ]
    )
    assert exercises.check_attention_peak(
        exercises.solution("07_attention_rnn", weights=weights, show=False)["attention_peak"],
        weights,
    )
    answers = exercises.solution("08_training")
    assert exercises.check_eval_perplexity(answers["eval_perplexity"])
    assert exercises.check_eval_event_accuracy(answers["eval_event_accuracy"])
    assert "eval_perplexity:" in capsys.readouterr().out
