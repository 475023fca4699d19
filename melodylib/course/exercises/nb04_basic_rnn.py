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

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from melodylib.course.exercises.common import as_whole_number, verdict
from melodylib.course.exercises.real_melodies import (
    call_learner,
    corpus_melodies,
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

# Probabilities closer than this are the same network (float32 arithmetic in another order).
PROBABILITY_TOLERANCE = 1e-4


# --------------------------------------------------------------------------------------------
# Build exercise: the network, checked against a pretrained bundle
# --------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _bundle(config_name: str) -> tuple[Any, Any, int]:
    """(the library's model with the bundle's weights, the bundle's config, its training steps)."""
    import melodylib
    from melodylib.course.shipped import bundle_path

    bundle = melodylib.load_bundle(bundle_path(config_name))
    steps = int(bundle.training.get("training_steps", 0) or 0)
    return bundle.build_model(), bundle.config, steps


@dataclass(frozen=True)
class _Tune:
    title: str
    inputs: np.ndarray  # [T, input_size], the tune encoded as in training


def _tune_for(config: Any, tune: Any) -> _Tune:
    """The tune to compare on, squashed and encoded for `config`: a StudyTune (lesson.study_tune),
    a Melody or a list of events; None is the study tune of the small corpus when it is built,
    else the first tune of Aird's Airs book 1."""
    from melodylib.music.melodies import Melody

    title = "the tune"
    if tune is None:
        try:
            from melodylib.course import lesson

            tune = lesson.study_tune("small")
        except Exception:  # the corpus is not built: a tune music21 ships will do
            title, events = corpus_melodies(config.name, 1)[0]
            return _Tune(title, np.asarray(config.encoder.encode(events)[0], dtype=np.float32))
    if hasattr(tune, "melody") and hasattr(tune, "title"):
        title, tune = str(tune.title).rstrip("."), tune.melody
    melody = Melody(list(getattr(tune, "events", tune)))
    melody.squash(config.min_note, config.max_note, config.transpose_to_key)
    inputs, _ = config.encoder.encode(melody.events)
    return _Tune(title, np.asarray(inputs, dtype=np.float32))


def _weighted_layers(model: Any) -> list[tuple[int, Any]]:
    """(position among the model's layers, counting from 1 and without the Input, layer) of every
    layer that holds weights."""
    import keras

    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    return [(number, layer) for number, layer in enumerate(layers, 1) if layer.weights]


def _kind(layer: Any) -> str:
    """ "LSTM", "Dense", ... : what a learner calls the layer (an RNN of LSTMCell is an LSTM)."""
    import keras

    if isinstance(layer, keras.layers.LSTM):
        return "LSTM"
    if isinstance(layer, keras.layers.RNN) and isinstance(layer.cell, keras.layers.LSTMCell):
        return "LSTM"
    if isinstance(layer, keras.layers.Dense):
        return "Dense"
    return type(layer).__name__


def _shape_hint(kind: str, weight: str, given: tuple, expected: tuple, last_lstm: bool) -> str:
    """What a weight shape mismatch most likely means."""
    if kind == "LSTM" and len(given) == 2 and len(expected) == 2:
        if given[1] != expected[1]:
            return f"{expected[1] // 4} units?"
        if weight == "kernel":
            return f"its input is {expected[0]} wide?"
    if kind == "LSTM" and weight == "bias":
        return f"{expected[0] // 4} units?"
    if kind == "Dense" and len(given) == 2 and len(expected) == 2:
        if given[1] != expected[1]:
            return f"{expected[1]} classes?"
        if last_lstm:
            return f"it reads the last LSTM's {expected[0]} outputs?"
    if kind == "Dense" and len(given) == 1:
        return f"{expected[0]} classes?"
    return ""


def _layer_problem(model: Any, reference: Any, config: Any) -> str | None:
    """Why the learner's layers cannot take the reference's weights, or None when they can."""
    import keras

    yours, theirs = _weighted_layers(model), _weighted_layers(reference)
    kinds = [_kind(layer) for _, layer in theirs]
    layout = " -> ".join(f"{kind}({_width(layer)})" for kind, (_, layer) in zip(kinds, theirs))
    if len(yours) != len(theirs):
        given = " -> ".join(f"{_kind(layer)}({_width(layer)})" for _, layer in yours)
        return (
            f"your model has {len(yours)} layers with weights ({given or 'none'}); the bundle's "
            f"has {len(theirs)}: {layout}."
        )
    for (number, layer), (_, expected) in zip(yours, theirs):
        if _kind(layer) != _kind(expected):
            return (
                f"your layer {number} is {_article(_kind(layer))}; in the bundle that place holds "
                f"{_article(_kind(expected))} (the layers with weights are {layout})."
            )
        if len(layer.weights) != len(expected.weights):
            names = ", ".join(weight.name for weight in layer.weights)
            wanted = ", ".join(weight.name for weight in expected.weights)
            return (
                f"your layer {number} ({_kind(layer)}) has the weights {names}; the bundle's has "
                f"{wanted} (is a bias switched off?)."
            )
        for weight, wanted in zip(layer.weights, expected.weights):
            given_shape, wanted_shape = tuple(weight.shape), tuple(wanted.shape)
            if given_shape != wanted_shape:
                hint = _shape_hint(
                    _kind(layer), wanted.name, given_shape, wanted_shape, layer is yours[-1][1]
                )
                return (
                    f"your layer {number} ({_kind(layer)}) has {wanted.name} shape {given_shape}, "
                    f"the bundle's is {wanted_shape}" + (f": {hint}" if hint else ".")
                )
    # Dropout after each LSTM: it changes nothing at prediction time, so look for it by name.
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    keep = float(config.hparams.dropout_keep_prob)
    for number, layer in enumerate(layers, 1):
        if _kind(layer) != "LSTM":
            continue
        after = layers[number] if number < len(layers) else None
        if not isinstance(after, keras.layers.Dropout):
            own = float(getattr(layer, "dropout", 0) or 0) + float(
                getattr(layer, "recurrent_dropout", 0) or 0
            )
            aside = " (the LSTM's own dropout= drops its inputs, which Magenta never does)"
            return (
                f"your layer {number} (LSTM) is not followed by a Dropout: {config.name} drops a "
                f"share of each LSTM layer's outputs in training (Dropout({1 - keep:g}))"
                + (aside if own else "")
                + "."
            )
        if abs(float(after.rate) - (1 - keep)) > 1e-9:
            return (
                f"your layer {number + 1} is Dropout({float(after.rate):g}); the config keeps "
                f"{keep:g} of the outputs (dropout_keep_prob), so the rate is {1 - keep:g}."
            )
    return None


def _article(kind: str) -> str:
    return f"an {kind}" if kind[:1] in "AEFHILMNORSX" else f"a {kind}"


def _width(layer: Any) -> str:
    units = getattr(layer, "units", None) or getattr(getattr(layer, "cell", None), "units", None)
    return str(units) if units else "?"


def _class_text(config: Any, index: int) -> str:
    names = config.encoder.class_names()
    return f"class {index} ({names[index]})" if 0 <= index < len(names) else f"class {index}"


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def _model_problem(
    build: Any, call: tuple, config_name: str, tune: Any, what: str
) -> tuple[str | None, str]:
    """(None, a sentence of what agreed) when `build(*call)` is the bundle's network, else
    (what is wrong, "") or ("NOT_WRITTEN", "")."""
    import keras

    reference, config, _ = _bundle(config_name)
    width, classes = config.encoder.input_size, config.encoder.num_classes
    model, problem = call_learner(build, what, *call)
    if problem:
        return problem, ""
    if not isinstance(model, keras.Model):
        return (
            f"{what} returned {type(model).__name__}, not a Keras model: end with "
            "`return keras.Model(inputs, logits)` or return your keras.Sequential.",
            "",
        )
    try:
        declared = tuple(model.inputs[0].shape)
    except Exception:  # a Sequential without an Input: it is built by the first call below
        declared = None
    if declared is not None and len(declared) == 2:
        return (
            f"your model's input has shape {declared}: one step of {declared[-1]} numbers; a "
            f"melody is a sequence of steps: keras.Input(shape=(None, {width})).",
            "",
        )
    if declared is not None and len(declared) == 3 and declared[1] is not None:
        return (
            f"your model's input has shape {declared}: melodies of exactly {declared[1]} steps; "
            f"write the time axis as None so a melody of any length goes in: "
            f"keras.Input(shape=(None, {width})).",
            "",
        )
    if declared is not None and declared[-1] != width:
        return (
            f"your model's input has {declared[-1]} numbers per step; {config.name}'s one-hot "
            f"encoding has {width}: keras.Input(shape=(None, {width})).",
            "",
        )
    try:
        data = _tune_for(config, tune)
    except Exception as error:  # a malformed tune given to the checker
        return f"could not read the tune to test on: {error}", ""
    steps = data.inputs.shape[0]
    try:
        outputs = keras.ops.convert_to_numpy(model(data.inputs[None], training=False))
    except Exception as error:  # the learner's network
        return (
            f"your model could not read a melody of shape (1, {steps}, {width}): "
            f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}",
            "",
        )
    if outputs.shape == (1, classes):
        return (
            f"your model gives one prediction per melody, shape {outputs.shape}, not one per "
            f"step, (1, {steps}, {classes}): the last LSTM needs return_sequences=True too.",
            "",
        )
    if outputs.shape != (1, steps, classes):
        return (
            f"for a melody of {steps} steps your model gives shape {outputs.shape}; the network "
            f"gives one prediction of {classes} logits per step: (1, {steps}, {classes}).",
            "",
        )
    problem = _layer_problem(model, reference, config)
    if problem:
        return problem, ""
    try:
        for (_, layer), (_, expected) in zip(_weighted_layers(model), _weighted_layers(reference)):
            layer.set_weights(expected.get_weights())
        outputs = keras.ops.convert_to_numpy(model(data.inputs[None], training=False))[0]
    except Exception as error:  # the learner's layers refuse the weights
        return f"loading the bundle's weights failed: {type(error).__name__}: {error}", ""
    logits = keras.ops.convert_to_numpy(reference(data.inputs[None], training=False))[0]
    truth = _softmax(logits.astype(np.float64))
    sums = outputs.sum(axis=-1)
    if np.all(outputs >= 0) and np.allclose(sums, 1.0, atol=1e-3):
        return (
            "your model ends in a softmax: it gives probabilities, the library's network "
            "gives logits (Dense with no activation) and the loss applies the softmax "
            "(from_logits=True). Drop activation='softmax'.",
            "",
        )
    if not np.all(np.isfinite(outputs)):
        return "with the bundle's weights your model gives NaN or infinite outputs.", ""
    given = _softmax(outputs.astype(np.float64))
    difference = np.abs(given - truth)
    step, index = np.unravel_index(int(difference.argmax()), difference.shape)
    largest = float(difference.max())
    if largest > PROBABILITY_TOLERANCE:
        return (
            f"with the bundle's weights loaded, your next-event probabilities differ from the "
            f"library's network by up to {largest:.3f}, at step {step} of '{data.title}', "
            f"{_class_text(config, int(index))}: {given[step, index]:.3f} instead of "
            f"{truth[step, index]:.3f}. The weights fit, so a layer computes something else "
            "(an activation on the Dense layer? layers in another order?).",
            "",
        )
    return None, (
        f"with the weights of {config.name}'s pretrained bundle loaded, your network gives the "
        f"library's next-event probabilities at all {steps} steps of '{data.title}' "
        f"(largest difference {largest:.1e})."
    )


_MODEL_HINT = (
    "keras.Input(shape=(None, 38)) -> LSTM(units, return_sequences=True) -> Dropout(0.5) -> "
    "LSTM(units, return_sequences=True) -> Dropout(0.5) -> Dense(38), no activation: the "
    "logits of the next event at every step."
)


def _units_problem(build: Any, what: str, call: tuple) -> str | None:
    """Whether `build(*call, units=16)` makes LSTM layers of 16 units."""
    model, problem = call_learner(lambda: build(*call, units=16), what)
    if problem:
        return f"{what}(units=16) failed: {problem}"
    sizes = [int(_width(layer)) for _, layer in _weighted_layers(model) if _kind(layer) == "LSTM"]
    if sizes and any(size != 16 for size in sizes):
        return (
            f"{what}(units=16) made LSTM layers of {sizes} units: use the `units` parameter for "
            "the size of both LSTM layers (the short training run builds a smaller network)."
        )
    return None


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
            _MODEL_HINT,
        )
    problem, agreed = _model_problem(build_basic_rnn, (), "basic_rnn", tune, what)
    if problem == "NOT_WRITTEN":
        return verdict(
            False,
            f"{what} is not written yet (it still raises NotImplementedError).",
            "stack the layers with keras.Sequential([...]) or call them one after the other on "
            "keras.Input. " + _MODEL_HINT,
        )
    if problem:
        return verdict(False, problem, _MODEL_HINT)
    problem = _units_problem(build_basic_rnn, what, ())
    if problem:
        return verdict(False, problem, _MODEL_HINT)
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
    pairs = zip(_weighted_layers(model), _weighted_layers(library), strict=True)
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
