"""Tests for the build exercises of notebooks 04 and 05: the learner's Keras network, checked against
the pretrained bundles. The model answers pass (Sequential or functional alike), typical wrong
networks are refused with the intended message, nothing raises, and the helpers the notebooks use
after the exercise (yours_or_reference, trained_and_pretrained) work."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from melodylib.course import exercises, lesson
from melodylib.course.exercises.real_melodies import corpus_melodies
from melodylib.encoding.configs import get_config
from melodylib.models.melody_rnn import build_model

layers = keras.layers


@pytest.fixture(scope="module")
def tune() -> list[int]:
    """The first 64 events of a real tune: the study tune when the small corpus is built."""
    try:
        events = lesson.study_tune("small").melody.events
    except Exception:  # no corpus: a tune music21 ships
        events = corpus_melodies("basic_rnn", 1)[0][1]
    return list(events[:64])


def verdict(checker, answer, tune, capsys) -> tuple[bool, str]:
    result = checker(answer, tune=tune)
    return result, capsys.readouterr().out


def sequential(*stack, width: int = 38):
    return keras.Sequential([keras.Input(shape=(None, width)), *stack])


def basic_stack(units: int = 128, *, last=None, second=None, dropout: float = 0.5):
    return [
        layers.LSTM(units, return_sequences=True),
        layers.Dropout(dropout),
        second or layers.LSTM(units, return_sequences=True),
        layers.Dropout(dropout),
        last or layers.Dense(38),
    ]


# --- 04: build_basic_rnn ---------------------------------------------------------------------------


def test_basic_rnn_model_solution_is_accepted_on_the_study_tune(capsys):
    build = exercises.solution_basic_rnn_model()
    ok, out = verdict(exercises.check_basic_rnn_model, build, None, capsys)
    assert ok is True and out.startswith("Correct!"), out
    assert "pretrained bundle" in out and "largest difference" in out


def test_a_sequential_without_input_is_accepted_too(tune, capsys):
    def build_basic_rnn(units=128, dropout_rate=0.5):
        return keras.Sequential(
            [
                layers.LSTM(units, return_sequences=True),
                layers.Dropout(dropout_rate),
                layers.RNN(layers.LSTMCell(units), return_sequences=True),
                layers.Dropout(dropout_rate),
                layers.Dense(38),
            ]
        )

    ok, out = verdict(exercises.check_basic_rnn_model, build_basic_rnn, tune, capsys)
    assert ok is True, out


def test_an_unwritten_network_says_not_written_yet(tune, capsys):
    def build_basic_rnn(units=128, dropout_rate=0.5):
        raise NotImplementedError("write the layers")

    ok, out = verdict(exercises.check_basic_rnn_model, build_basic_rnn, tune, capsys)
    assert ok is False and "not written yet" in out and "Hint:" in out


@pytest.mark.parametrize(
    "build, expected",
    [
        (
            lambda units=128, dropout_rate=0.5: sequential(*basic_stack(64)),
            "your layer 1 (LSTM) has kernel shape (38, 256), the bundle's is (38, 512): 128 units?",
        ),
        (
            lambda units=128, dropout_rate=0.5: sequential(
                *basic_stack(units, second=layers.LSTM(units))
            ),
            "return_sequences=True",
        ),
        (
            lambda units=128, dropout_rate=0.5: sequential(
                *basic_stack(units, last=layers.Dense(38, activation="softmax"))
            ),
            "ends in a softmax",
        ),
        (
            lambda units=128, dropout_rate=0.5: sequential(
                *basic_stack(units, second=layers.GRU(units, return_sequences=True))
            ),
            "your layer 3 is a GRU; in the bundle that place holds an LSTM",
        ),
        (
            lambda units=128, dropout_rate=0.5: sequential(
                *basic_stack(
                    units, second=layers.LSTM(units, return_sequences=True, activation="relu")
                )
            ),
            "your next-event probabilities differ from the library's network by up to",
        ),
        (
            lambda units=128, dropout_rate=0.5: sequential(
                *basic_stack(units, last=layers.Dense(130))
            ),
            "(1, 63, 130)",
        ),
        (
            lambda units=128, dropout_rate=0.5: sequential(
                *basic_stack(units, last=layers.Dense(38, use_bias=False))
            ),
            "is a bias switched off?",
        ),
        (
            lambda units=128, dropout_rate=0.5: sequential(
                layers.LSTM(units, return_sequences=True),
                layers.LSTM(units, return_sequences=True),
                layers.Dense(38),
            ),
            "your layer 1 (LSTM) is not followed by a Dropout",
        ),
        (
            lambda units=128, dropout_rate=0.5: sequential(
                layers.LSTM(units, return_sequences=True, dropout=0.5),
                layers.LSTM(units, return_sequences=True, dropout=0.5),
                layers.Dense(38),
            ),
            "the LSTM's own dropout= drops its inputs",
        ),
        (
            lambda units=128, dropout_rate=0.5: sequential(*basic_stack(units, dropout=0.2)),
            "the rate is 0.5",
        ),
        (
            lambda units=128, dropout_rate=0.5: sequential(
                layers.LSTM(units, return_sequences=True), layers.Dropout(0.5), layers.Dense(38)
            ),
            "your model has 2 layers with weights (LSTM(128) -> Dense(38)); the bundle's has 3",
        ),
        (
            lambda units=128, dropout_rate=0.5: sequential(*basic_stack(128)),
            "build_basic_rnn(units=16) made LSTM layers of [128, 128] units",
        ),
        (
            lambda units=128, dropout_rate=0.5: keras.Sequential(
                [keras.Input(shape=(64, 38)), *basic_stack(units)]
            ),
            "write the time axis as None",
        ),
        (
            lambda units=128, dropout_rate=0.5: keras.Sequential(
                [keras.Input(shape=(38,)), layers.Dense(38)]
            ),
            "one step of 38 numbers",
        ),
        (
            lambda units=128, dropout_rate=0.5: sequential(*basic_stack(units), width=130),
            "has 130 numbers per step; basic_rnn's one-hot encoding has 38",
        ),
        (lambda units=128, dropout_rate=0.5: basic_stack(units), "not a Keras model"),
        (
            lambda: sequential(*basic_stack(128)),
            "build_basic_rnn(units=16) failed: build_basic_rnn raised TypeError",
        ),
        (lambda units=128, dropout_rate=0.5: 1 / 0, "raised ZeroDivisionError"),
    ],
    ids=[
        "64 units",
        "no return_sequences",
        "softmax",
        "GRU",
        "relu",
        "130 classes",
        "no bias",
        "no dropout",
        "LSTM dropout",
        "dropout 0.2",
        "one LSTM",
        "units ignored",
        "fixed length",
        "one step",
        "130 inputs",
        "a list",
        "no units parameter",
        "raises",
    ],
)
def test_basic_rnn_model_wrong_networks_say_what_is_wrong(build, expected, tune, capsys):
    ok, out = verdict(exercises.check_basic_rnn_model, build, tune, capsys)
    assert ok is False and out.startswith("Not yet:") and "Hint:" in out
    assert expected in out, out


def test_a_wrong_activation_is_located_by_step_and_class(tune, capsys):
    def build_basic_rnn(units=128, dropout_rate=0.5):
        stack = basic_stack(units, last=layers.Dense(38, activation="relu"))
        return sequential(*stack)

    ok, out = verdict(exercises.check_basic_rnn_model, build_basic_rnn, tune, capsys)
    assert ok is False and " at step " in out and "class " in out and " instead of " in out


@pytest.mark.parametrize("answer", [None, 42, "build_basic_rnn", keras.layers.Dense(3)])
def test_basic_rnn_model_never_raises_on_nonsense(answer, tune, capsys):
    ok, out = verdict(exercises.check_basic_rnn_model, answer, tune, capsys)
    assert ok is False and out.startswith("Not yet:")


def test_yours_or_reference_uses_the_model_answer_until_yours_passes(tune, capsys):
    def build_basic_rnn(units=128, dropout_rate=0.5):
        raise NotImplementedError

    chosen = exercises.basic_rnn_model_yours_or_reference(build_basic_rnn)
    out = capsys.readouterr().out
    assert chosen is not build_basic_rnn and "use the model answer" in out
    assert out.count("\n") == 1
    mine = exercises.solution_basic_rnn_model()
    assert exercises.basic_rnn_model_yours_or_reference(mine) is mine
    assert capsys.readouterr().out == "Using your build_basic_rnn.\n"


def test_trained_and_pretrained_puts_the_learners_weights_in_a_library_model():
    config = get_config("basic_rnn", "rnn_layer_sizes=[8,8]")
    mine = exercises.solution_basic_rnn_model()(units=8)
    library = exercises.as_library_model(mine, config)
    assert [layer.name for layer in library.layers if layer.weights] == [
        "lstm_0",
        "lstm_1",
        "logits",
    ]
    inputs = np.eye(38, dtype=np.float32)[np.arange(20) % 38][None]
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(library(inputs)),
        keras.ops.convert_to_numpy(mine(inputs)),
        atol=1e-6,
    )
    models = exercises.trained_and_pretrained(mine, config, 7)
    assert models["trained above"].source == "trained above, 7 steps"
    assert models["pretrained"].steps > 7 and lesson.best_model(models) is models["pretrained"]
    melodies = lesson.continuations(models, [60, -2, 62, -2], num_steps=12)
    assert [len(melody.events) for melody in melodies.values()] == [12, 12]


def test_as_library_model_refuses_a_network_of_another_layout():
    config = get_config("basic_rnn")
    with pytest.raises(ValueError):
        exercises.as_library_model(
            build_model(get_config("basic_rnn", "rnn_layer_sizes=[8]")), config
        )


# --- 05: build_melody_rnn ------------------------------------------------------------------------


def test_mono_rnn_model_solution_is_accepted_at_both_widths(tune, capsys):
    ok, out = verdict(
        exercises.check_mono_rnn_model, exercises.solution_mono_rnn_model(), tune, capsys
    )
    assert ok is True and out.startswith("Correct!"), out
    assert "mono_rnn's pretrained bundle" in out and "basic_rnn's pretrained bundle" in out


def test_an_unwritten_melody_rnn_says_not_written_yet(tune, capsys):
    def build_melody_rnn(input_size, num_classes, units=128, dropout_rate=0.5):
        raise NotImplementedError

    ok, out = verdict(exercises.check_mono_rnn_model, build_melody_rnn, tune, capsys)
    assert ok is False and "not written yet" in out and "build_basic_rnn of 04" in out


def test_a_melody_rnn_still_38_wide_is_refused(tune, capsys):
    basic = exercises.solution_basic_rnn_model()

    def build_melody_rnn(input_size, num_classes, units=128, dropout_rate=0.5):
        return basic(units, dropout_rate)

    ok, out = verdict(exercises.check_mono_rnn_model, build_melody_rnn, tune, capsys)
    assert ok is False
    assert "build_melody_rnn(130, 130), for mono_rnn: your model's input has 38 numbers" in out


def test_a_melody_rnn_with_130_classes_written_in_is_refused_at_38(tune, capsys):
    def build_melody_rnn(input_size, num_classes, units=128, dropout_rate=0.5):
        return sequential(*basic_stack(units, last=layers.Dense(130)), width=input_size)

    ok, out = verdict(exercises.check_mono_rnn_model, build_melody_rnn, tune, capsys)
    assert ok is False and "build_melody_rnn(38, 38), for basic_rnn" in out and "(1, 63, 38)" in out


def test_a_melody_rnn_with_its_widths_swapped_is_refused(tune, capsys):
    def build_melody_rnn(input_size, num_classes, units=128, dropout_rate=0.5):
        stack = basic_stack(units, last=layers.Dense(num_classes))
        return sequential(*stack, width=input_size)

    # 130 in and 130 out, 38 in and 38 out: right; check the unit parameter is used as well
    ok, out = verdict(exercises.check_mono_rnn_model, build_melody_rnn, tune, capsys)
    assert ok is True, out

    def ignores_units(input_size, num_classes, units=128, dropout_rate=0.5):
        return build_melody_rnn(input_size, num_classes)

    ok, out = verdict(exercises.check_mono_rnn_model, ignores_units, tune, capsys)
    assert ok is False and "units=16" in out


@pytest.mark.parametrize("answer", [None, 130, exercises.solution_mono_rnn_model])
def test_mono_rnn_model_never_raises_on_nonsense(answer, tune, capsys):
    ok, out = verdict(exercises.check_mono_rnn_model, answer, tune, capsys)
    assert ok is False and out.startswith("Not yet:")


def test_mono_rnn_yours_or_reference(capsys):
    def build_melody_rnn(input_size, num_classes, units=128, dropout_rate=0.5):
        raise NotImplementedError

    chosen = exercises.mono_rnn_model_yours_or_reference(build_melody_rnn)
    assert chosen is not build_melody_rnn and "model answer" in capsys.readouterr().out
    model = chosen(130, 130, units=8)
    assert model.output_shape == (None, None, 130)


# --- the registry ----------------------------------------------------------------------------------


def test_the_build_exercises_are_registered_and_give_their_functions():
    answers = exercises.solution("04", show=False)
    assert set(answers) == {"basic_rnn_model", "basic_rnn_parameters"}
    assert answers["basic_rnn_model"].__name__ == "build_basic_rnn"
    answers = exercises.solution("05_mono_rnn", show=False)
    assert set(answers) == {"mono_rnn_model", "mono_rnn_extra_parameters"}
    assert answers["mono_rnn_model"].__name__ == "build_melody_rnn"
