"""Checking a learner's Keras model against a pretrained bundle: what notebooks 04 and 05 share.

The bundle's weights are loaded into the learner's model layer by layer; a layer that does not
fit is named with its weight shapes, and a network that computes something else is found by
comparing next-event probabilities with the library's network on a real eval tune.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

from melodylib.course.exercises.common import softmax
from melodylib.course.exercises.real_melodies import call_learner, corpus_melodies

# Probabilities closer than this are the same network (float32 arithmetic in another order).
PROBABILITY_TOLERANCE = 1e-4


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


def weighted_layers(model: Any) -> list[tuple[int, Any]]:
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

    yours, theirs = weighted_layers(model), weighted_layers(reference)
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


def model_problem(
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
        for (_, layer), (_, expected) in zip(weighted_layers(model), weighted_layers(reference)):
            layer.set_weights(expected.get_weights())
        outputs = keras.ops.convert_to_numpy(model(data.inputs[None], training=False))[0]
    except Exception as error:  # the learner's layers refuse the weights
        return f"loading the bundle's weights failed: {type(error).__name__}: {error}", ""
    logits = keras.ops.convert_to_numpy(reference(data.inputs[None], training=False))[0]
    truth = softmax(logits.astype(np.float64))
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
    given = softmax(outputs.astype(np.float64))
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


MODEL_HINT = (
    "keras.Input(shape=(None, 38)) -> LSTM(units, return_sequences=True) -> Dropout(0.5) -> "
    "LSTM(units, return_sequences=True) -> Dropout(0.5) -> Dense(38), no activation: the "
    "logits of the next event at every step."
)


def units_problem(build: Any, what: str, call: tuple) -> str | None:
    """Whether `build(*call, units=16)` makes LSTM layers of 16 units."""
    model, problem = call_learner(lambda: build(*call, units=16), what)
    if problem:
        return f"{what}(units=16) failed: {problem}"
    sizes = [int(_width(layer)) for _, layer in weighted_layers(model) if _kind(layer) == "LSTM"]
    if sizes and any(size != 16 for size in sizes):
        return (
            f"{what}(units=16) made LSTM layers of {sizes} units: use the `units` parameter for "
            "the size of both LSTM layers (the short training run builds a smaller network)."
        )
    return None
