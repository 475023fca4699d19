"""Exercises of notebook 04_basic_rnn: basic_rnn built by the learner from `keras.layers` (a build
exercise), and the parameter count of a smaller basic_rnn, by formula.

The build checker loads the pretrained bundle's weights (data/bundles/basic_rnn.bundle) into the
learner's model, layer by layer, and compares its next-event probabilities with the library's
network on a real eval tune: a wrong layer is named with its weight shapes, a wrong computation
with the step and class where the probabilities differ most. The parameter count's truth is
counted on the built Keras model; `lstm_parameters` is the formula the learner uses, and the
checker recognises the usual slips (a forgotten layer or bias) from it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from melodylib.course.exercises.common import as_whole_number, verdict
from melodylib.course.exercises.keras_models import (
    MODEL_HINT,
    model_problem,
    units_problem,
    weighted_layers,
)
from melodylib.course.exercises.real_melodies import (
    yours_or_reference,
)
from melodylib.course.exercises.registry import Exercise

__all__ = [
    "PARAMETER_EXERCISE_HPARAMS",
    "check_basic_rnn_model",
    "solution_basic_rnn_model",
    "basic_rnn_model_yours_or_reference",
    "as_library_model",
    "trained_and_pretrained",
    "check_basic_rnn_parameters",
    "solution_basic_rnn_parameters",
]

NOTEBOOK = "04_basic_rnn"

PARAMETER_EXERCISE_HPARAMS = "rnn_layer_sizes=[64,64]"

# --------------------------------------------------------------------------------------------
# Build exercise: the network, checked against a pretrained bundle
# --------------------------------------------------------------------------------------------


def check_basic_rnn_model(build_basic_rnn: Any, tune: Any = None) -> bool:
    """04_basic_rnn (build): `build_basic_rnn(units=128)` makes basic_rnn's network from keras.layers.

    The pretrained bundle's weights are loaded into your model layer by layer, and its
    next-event probabilities are compared with the library's network on `tune` (the notebook
    passes the eval tune of lesson.study_tune; a Melody or events work too). Sequential or
    functional, any layer names: only the layout, the weight shapes and the arithmetic count.
    """
    what = "build_basic_rnn"
    if not callable(build_basic_rnn):
        return verdict(
            False,
            f"give the function itself ({what}, no brackets); got {build_basic_rnn!r:.60}",
            MODEL_HINT,
        )
    problem, agreed = model_problem(build_basic_rnn, (), "basic_rnn", tune, what)
    if problem == "NOT_WRITTEN":
        return verdict(
            False,
            f"{what} is not written yet (it still raises NotImplementedError).",
            "stack the layers with keras.Sequential([...]) or call them one after the other on "
            "keras.Input. " + MODEL_HINT,
        )
    if problem:
        return verdict(False, problem, MODEL_HINT)
    problem = units_problem(build_basic_rnn, what, ())
    if problem:
        return verdict(False, problem, MODEL_HINT)
    return verdict(True, f"Your network is basic_rnn: {agreed}")


def solution_basic_rnn_model() -> Callable[..., Any]:
    """A model answer to check_basic_rnn_model: the function `build_basic_rnn`."""
    import keras

    def build_basic_rnn(units: int = 128, dropout_rate: float = 0.5) -> keras.Model:
        """basic_rnn's network: one-hot melodies [batch, time, 38] -> logits [batch, time, 38]."""
        inputs = keras.Input(shape=(None, 38))
        x = keras.layers.LSTM(units, return_sequences=True)(inputs)
        x = keras.layers.Dropout(dropout_rate)(x)
        x = keras.layers.LSTM(units, return_sequences=True)(x)
        x = keras.layers.Dropout(dropout_rate)(x)
        logits = keras.layers.Dense(38)(x)
        return keras.Model(inputs, logits)

    return build_basic_rnn


def basic_rnn_model_yours_or_reference(build_basic_rnn: Any) -> Callable[..., Any]:
    """Your `build_basic_rnn` if it passes check_basic_rnn_model, else the model answer."""
    return yours_or_reference(
        check_basic_rnn_model, build_basic_rnn, solution_basic_rnn_model(), "build_basic_rnn"
    )


def as_library_model(model: Any, config: Any) -> Any:
    """The library's network for `config` (layer names lstm_0, ..., logits, which generation
    runs step by step) holding the weights of `model`, copied layer by layer."""
    from melodylib.models.melody_rnn import build_model

    library = build_model(config)
    pairs = zip(weighted_layers(model), weighted_layers(library), strict=True)
    for (_, layer), (_, target) in pairs:
        target.set_weights(layer.get_weights())
    return library


def trained_and_pretrained(model: Any, config: Any, steps: int) -> dict[str, Any]:
    """The model trained in the notebook and the shipped pretrained bundle of the same config, as
    lesson.trained_models gives them ({"trained above": ..., "pretrained": ...}), for
    lesson.continuations and lesson.best_model."""
    from melodylib.course.lesson import LessonModel, pretrained_model

    models = {
        "trained above": LessonModel(
            as_library_model(model, config), config, f"trained above, {steps:,} steps", steps
        )
    }
    pretrained = pretrained_model(config.name)
    if pretrained is not None:
        models["pretrained"] = pretrained
    return models


# --------------------------------------------------------------------------------------------
# The parameter count of a smaller basic_rnn
# --------------------------------------------------------------------------------------------


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


EXERCISES = (
    Exercise(check_basic_rnn_model, solution_basic_rnn_model),
    Exercise(check_basic_rnn_parameters, solution_basic_rnn_parameters),
)
