"""Exercise of notebook 04_basic_rnn: the parameter count of a smaller basic_rnn, by formula.

The truth is counted on the built Keras model; `lstm_parameters` is the formula the learner uses,
and the checker recognises the usual slips (a forgotten layer or bias) from it.
"""

from __future__ import annotations

from typing import Any

from melodylib.course.exercises.common import as_whole_number, verdict
from melodylib.course.exercises.registry import Exercise

__all__ = [
    "PARAMETER_EXERCISE_HPARAMS",
    "check_basic_rnn_parameters",
    "solution_basic_rnn_parameters",
]

NOTEBOOK = "04_basic_rnn"

PARAMETER_EXERCISE_HPARAMS = "rnn_layer_sizes=[64,64]"


def parameter_count(config_name: str, hparams: str | None = None) -> int:
    """The parameters of the Keras model of a config, counted on the built model."""
    from melodylib.encoding.configs import get_config
    from melodylib.models.melody_rnn import build_model, count_parameters

    return count_parameters(build_model(get_config(config_name, hparams)))


def lstm_parameters(input_size: int, units: int) -> int:
    """Weights of one LSTM layer: four gates, each a matrix over [input; previous output] and a
    bias."""
    return 4 * units * (input_size + units) + 4 * units


def check_basic_rnn_parameters(answer: Any) -> bool:
    """04_basic_rnn: the number of parameters of basic_rnn with rnn_layer_sizes=[64,64], by formula.

    The truth is counted on the built Keras model, so any way of getting the right number passes;
    text such as "61,862" is fine too.
    """
    count = as_whole_number(answer, "the parameter count")
    hint = (
        "an LSTM layer of u units with n inputs has 4·u·(n + u) weights and 4·u biases "
        "(four gates, each looking at the input and the layer's previous output); the output "
        "layer is a Dense layer from the last 64 units to the 38 classes, with a bias per "
        "class."
    )
    if isinstance(count, str):
        return verdict(False, count, hint)
    truth = parameter_count("basic_rnn", PARAMETER_EXERCISE_HPARAMS)
    inputs, classes, units = 38, 38, 64
    first, second = lstm_parameters(inputs, units), lstm_parameters(units, units)
    dense = units * classes + classes
    if count == truth:
        return verdict(
            True,
            f"{first:,} (first LSTM) + {second:,} (second LSTM) + {dense:,} "
            f"(output layer) = {truth:,}, exactly what Keras counts.",
        )
    mistakes = {
        first
        + second: "that is the two LSTM layers; the output layer (64 -> 38) has parameters too.",
        first + dense: "that counts one LSTM layer; basic_rnn has two (rnn_layer_sizes=[64,64]).",
        truth
        - 4 * units
        - 4 * units
        - classes: "close: you left out the biases (4·u per LSTM layer, one per class).",
        truth - 4 * units - 4 * units: "close: the LSTM layers have biases too (4·u each).",
        truth - classes: "close: the output layer has a bias for each of the 38 classes.",
        truth
        - units * 4 * units
        - units
        * 4
        * units: "each gate also looks at the layer's previous output: the weights are 4·u·(n + u), "
        "not 4·u·n.",
        parameter_count(
            "basic_rnn"
        ): "that is the default basic_rnn, [128,128]; the exercise has [64,64].",
    }
    if count in mistakes:
        return verdict(False, mistakes[count], hint)
    if count == 2 * first + dense:
        return verdict(
            False,
            "the second layer's input is the first layer's 64 outputs, not the 38 classes.",
            hint,
        )
    return verdict(False, f"{count:,} is not it.", hint)


def solution_basic_rnn_parameters() -> int:
    """A model answer to check_basic_rnn_parameters, by the formula."""
    units, inputs, classes = 64, 38, 38
    dense = units * classes + classes
    return lstm_parameters(inputs, units) + lstm_parameters(units, units) + dense


EXERCISES = (Exercise(check_basic_rnn_parameters, solution_basic_rnn_parameters),)
