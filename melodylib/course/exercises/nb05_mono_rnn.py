"""Exercises of notebook 05_mono_rnn: the learner's network of 04 with the widths as parameters,
checked against mono_rnn's pretrained bundle (a build exercise); how many more parameters
mono_rnn has than basic_rnn.

Both build on 04: the build checker is 04's (the bundle's weights loaded into the learner's model,
probabilities compared on a real eval tune), run at 130 wide against data/bundles/mono_rnn.bundle
and at 38 wide against basic_rnn's; the two networks differ only where the wider encoding meets
them, which is also what the parameter difference counts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from melodylib.course.exercises.common import as_whole_number, verdict
from melodylib.course.exercises.keras_models import model_problem, units_problem
from melodylib.course.exercises.nb04_basic_rnn import parameter_count
from melodylib.course.exercises.real_melodies import yours_or_reference
from melodylib.course.exercises.registry import Exercise

__all__ = [
    "check_mono_rnn_model",
    "solution_mono_rnn_model",
    "mono_rnn_model_yours_or_reference",
    "check_mono_rnn_extra_parameters",
    "solution_mono_rnn_extra_parameters",
]

NOTEBOOK = "05_mono_rnn"

MODEL_HINT = (
    "04's network with the widths as parameters: keras.Input(shape=(None, input_size)) -> "
    "LSTM(units, return_sequences=True) -> Dropout(dropout_rate) -> LSTM(units, "
    "return_sequences=True) -> Dropout(dropout_rate) -> Dense(num_classes), no activation."
)


def check_mono_rnn_model(build_melody_rnn: Any, tune: Any = None) -> bool:
    """05_mono_rnn (build): `build_melody_rnn(input_size, num_classes, units=128)` is 04's network
    with the widths as parameters.

    Checked as in 04, against mono_rnn's pretrained bundle at 130 wide, then against
    basic_rnn's at 38 wide (the same function must make both), on `tune` (the notebook passes
    the eval tune of lesson.study_tune).
    """
    what = "build_melody_rnn"
    if not callable(build_melody_rnn):
        return verdict(
            False,
            f"give the function itself ({what}, no brackets); got {build_melody_rnn!r:.60}",
            MODEL_HINT,
        )
    agreed = []
    for config_name, width in (("mono_rnn", 130), ("basic_rnn", 38)):
        problem, sentence = model_problem(build_melody_rnn, (width, width), config_name, tune, what)
        if problem == "NOT_WRITTEN":
            return verdict(
                False,
                f"{what} is not written yet (it still raises NotImplementedError).",
                "start from your build_basic_rnn of 04 and put input_size and num_classes "
                "where it says 38. " + MODEL_HINT,
            )
        if problem:
            return verdict(
                False, f"{what}({width}, {width}), for {config_name}: {problem}", MODEL_HINT
            )
        agreed.append(sentence)
    problem = units_problem(build_melody_rnn, what, (130, 130))
    if problem:
        return verdict(False, problem, MODEL_HINT)
    return verdict(True, f"One function, both networks: {agreed[0]}; and {agreed[1]}")


def solution_mono_rnn_model() -> Callable[..., Any]:
    """A model answer to check_mono_rnn_model: the function `build_melody_rnn`."""
    import keras

    def build_melody_rnn(
        input_size: int, num_classes: int, units: int = 128, dropout_rate: float = 0.5
    ) -> keras.Model:
        """The Melody RNN for any one-hot encoding: [batch, time, input_size] -> logits
        [batch, time, num_classes]."""
        inputs = keras.Input(shape=(None, input_size))
        x = keras.layers.LSTM(units, return_sequences=True)(inputs)
        x = keras.layers.Dropout(dropout_rate)(x)
        x = keras.layers.LSTM(units, return_sequences=True)(x)
        x = keras.layers.Dropout(dropout_rate)(x)
        logits = keras.layers.Dense(num_classes)(x)
        return keras.Model(inputs, logits)

    return build_melody_rnn


def mono_rnn_model_yours_or_reference(build_melody_rnn: Any) -> Callable[..., Any]:
    """Your `build_melody_rnn` if it passes check_mono_rnn_model, else the model answer."""
    return yours_or_reference(
        check_mono_rnn_model, build_melody_rnn, solution_mono_rnn_model(), "build_melody_rnn"
    )


def check_mono_rnn_extra_parameters(answer: Any) -> bool:
    """05_mono_rnn: how many more parameters mono_rnn has than basic_rnn, both at their default
    hparams.

    The truth is counted on the two built models; the number can be worked out from the widths
    alone.
    """
    difference = as_whole_number(answer, "the difference")
    hint = (
        "the two networks differ only where the 130-wide encoding meets them: the first LSTM "
        "layer's inputs (130 instead of 38, each seen by 4·128 gate units) and the output "
        "layer (130 classes instead of 38, each with 128 weights and a bias)."
    )
    if isinstance(difference, str):
        return verdict(False, difference, hint)
    mono, basic = parameter_count("mono_rnn"), parameter_count("basic_rnn")
    truth = mono - basic
    extra = 130 - 38
    input_part, output_part = extra * 4 * 128, extra * (128 + 1)
    if difference == truth:
        return verdict(
            True,
            f"{extra} more input columns cost {input_part:,} LSTM weights and "
            f"{extra} more classes {output_part:,} output weights: {mono:,} - "
            f"{basic:,} = {truth:,}.",
        )
    mistakes = {
        -truth: "mono_rnn is the bigger one: give the difference as a positive number.",
        input_part: "that is the first LSTM layer's share; the output layer grows too (130 classes "
        "instead of 38).",
        output_part: "that is the output layer's share; the first LSTM layer also gets 92 more "
        "inputs.",
        input_part + extra * 128: "close: each of the 92 new classes also has a bias.",
        mono: "that is mono_rnn's whole count; subtract basic_rnn's.",
        (128 - 38) * 4 * 128
        + (128 - 38)
        * 129: "mono_rnn has 130 classes: the 128 MIDI pitches plus no event and note off.",
    }
    if difference in mistakes:
        return verdict(False, mistakes[difference], hint)
    return verdict(False, f"{difference:,} is not it.", hint)


def solution_mono_rnn_extra_parameters() -> int:
    """A model answer to check_mono_rnn_extra_parameters: 92 more inputs and 92 more classes."""
    extra = 130 - 38
    return extra * 4 * 128 + extra * (128 + 1)


EXERCISES = (
    Exercise(check_mono_rnn_model, solution_mono_rnn_model),
    Exercise(check_mono_rnn_extra_parameters, solution_mono_rnn_extra_parameters),
)
