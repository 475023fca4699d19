"""The step model in plain numpy: a bundle's network run for generation without TensorFlow.

Importing TensorFlow takes seconds, longer than generating ten melodies from a bundle, so
`melody_rnn generate --backend=numpy` (the default for a melodylib bundle on a CPU) runs the
network here instead. `NumpyStepModel` computes, in float32 with dropout off, exactly what the
Keras layers of `melodylib.models.melody_rnn.build_model` compute, from the same weights by the
same names (a bundle's ``weights.npz``, or a built model's variables): the LSTM layers (Keras
LSTMCell maths), the first-layer attention cell (`attention_cell.AttentionCell`), the 2016
whole-stack layout (`whole_stack_attention.WholeStackAttentionCell`) and the logits layer. It
keeps the interface of `melodylib.models.step.StepModel` that generation uses (call, zero_state,
gather_state, tile_state, input_size, num_classes, state_sizes) and its state layout, so the
generator's Python loop runs on either; tests check every layout against the Keras model.

This module imports numpy only, never TensorFlow or Keras.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from melodylib.errors import MelodylibError
from melodylib.models.blas_threads import one_blas_thread
from melodylib.models.step_checks import check_step_call

__all__ = ["NumpyStepModel", "gather_state", "tile_state"]

FLOAT = np.float32


def gather_state(state: Sequence[np.ndarray], indices: Any) -> list[np.ndarray]:
    """Select/reorder the batch rows of every state array (beam search: keep the survivors)."""
    indices = np.asarray(indices, dtype=np.int64)
    return [np.asarray(part)[indices] for part in state]


def tile_state(state: Sequence[np.ndarray], count: int) -> list[np.ndarray]:
    """Repeat each batch row `count` times in place: rows [a, b] -> [a, a, b, b] for count 2."""
    return [np.repeat(np.asarray(part), int(count), axis=0) for part in state]


def _sigmoid(values: np.ndarray) -> np.ndarray:
    """The logistic function, written through tanh so that large inputs never overflow exp."""
    return FLOAT(0.5) * (np.tanh(FLOAT(0.5) * values) + FLOAT(1.0))


def _lstm_update(
    gates: np.ndarray, c_previous: np.ndarray, units: int
) -> tuple[np.ndarray, np.ndarray]:
    """Keras LSTMCell's update from the summed gate pre-activations (order i, f, c, o): (c, h)."""
    gate_i = gates[:, :units]
    gate_f = gates[:, units : 2 * units]
    gate_c = gates[:, 2 * units : 3 * units]
    gate_o = gates[:, 3 * units :]
    c = _sigmoid(gate_f) * c_previous + _sigmoid(gate_i) * np.tanh(gate_c)
    return c, _sigmoid(gate_o) * np.tanh(c)


def _attend(
    memory: np.ndarray, keys: np.ndarray, query: np.ndarray, attn_v: np.ndarray
) -> np.ndarray:
    """The context Σ α_j m_j with α = softmax_j(v·tanh(k_j + query)), over every slot [B, L, A]."""
    scores = np.tanh(keys + query[:, None, :]) @ attn_v
    scores = scores - scores.max(axis=-1, keepdims=True)
    weights = np.exp(scores)
    weights = weights / weights.sum(axis=-1, keepdims=True)
    return np.einsum("bl,bla->ba", weights, memory)


class _Weights:
    """One layer's weights by short name, checked against the shapes the config implies."""

    def __init__(
        self,
        weights: Mapping[str, Any],
        prefix: str,
        shapes: Mapping[str, tuple[int, ...]],
        source: str,
    ) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        for name, shape in shapes.items():
            path = f"{prefix}/{name}"
            if path not in weights:
                raise MelodylibError(
                    f"{source}: has no weights for {path}; was it made for another config or "
                    "layer sizes?"
                )
            value = np.asarray(weights[path], dtype=FLOAT)
            if value.shape != tuple(shape):
                raise MelodylibError(
                    f"{source}: {path} has shape {value.shape} but the config needs {tuple(shape)};"
                    " the hparams (rnn_layer_sizes, attn_length) differ from the weights'"
                )
            self.arrays[name] = value

    def __getitem__(self, name: str) -> np.ndarray:
        return self.arrays[name]


class _LstmLayer:
    """A Keras LSTM layer (``lstm_<k>/lstm_cell``); state [h, c] as Keras keeps it."""

    def __init__(self, weights: _Weights, units: int) -> None:
        self.units = units
        self.kernel, self.recurrent_kernel = weights["kernel"], weights["recurrent_kernel"]
        self.bias = weights["bias"]
        self.state_sizes = [units, units]

    def run(
        self, inputs: np.ndarray, state: Sequence[np.ndarray]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        h, c = state
        # The input half of the gates for every step at once; the recurrent half step by step.
        input_gates = inputs @ self.kernel + self.bias
        outputs = np.empty(inputs.shape[:2] + (self.units,), dtype=FLOAT)
        for position in range(inputs.shape[1]):
            gates = input_gates[:, position] + h @ self.recurrent_kernel
            c, h = _lstm_update(gates, c, self.units)
            outputs[:, position] = h
        return outputs, [h, c]


class _AttentionLayer:
    """Magenta's first-layer attention cell (``lstm_0/attention_cell``), AttentionCell's steps.

    State ``[c, h, attns, attn_states (L·u), attn_keys (L·u)]``, the window oldest slot first.
    """

    def __init__(self, weights: _Weights, units: int, attn_length: int) -> None:
        self.units, self.attn_length = units, attn_length
        self.weights = weights
        memory_size = attn_length * units
        self.state_sizes = [units, units, units, memory_size, memory_size]

    def run(
        self, inputs: np.ndarray, state: Sequence[np.ndarray]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        w, units, length = self.weights, self.units, self.attn_length
        c, h, attns, attn_states, attn_keys = state
        memory = attn_states.reshape(-1, length, units)
        keys = attn_keys.reshape(-1, length, units)
        outputs = np.empty(inputs.shape[:2] + (units,), dtype=FLOAT)
        for position in range(inputs.shape[1]):
            # 1. Input projection of [x; previous context].
            projected = np.concatenate([inputs[:, position], attns], axis=-1)
            projected = projected @ w["input_projection_kernel"] + w["input_projection_bias"]
            # 2. LSTM.
            gates = projected @ w["kernel"] + h @ w["recurrent_kernel"] + w["bias"]
            c, h = _lstm_update(gates, c, units)
            # 3.-5. Attention over every slot (the initial zero slots unmasked, as upstream).
            query = np.concatenate([c, h], axis=-1) @ w["query_kernel"] + w["query_bias"]
            attns = _attend(memory, keys, query, w["attn_v"])
            # 6. Output projection of [h; context].
            output = np.concatenate([h, attns], axis=-1) @ w["output_projection_kernel"]
            output = output + w["output_projection_bias"]
            # 7. FIFO push of the output and its key.
            memory = np.concatenate([memory[:, 1:], output[:, None]], axis=1)
            keys = np.concatenate([keys[:, 1:], (output @ w["attn_w"])[:, None]], axis=1)
            outputs[:, position] = output
        batch = inputs.shape[0]
        return outputs, [
            c,
            h,
            attns,
            memory.reshape(batch, length * units),
            keys.reshape(batch, length * units),
        ]


class _WholeStackLayer:
    """The 2016 layout (``lstm_0/whole_stack_attention``), WholeStackAttentionCell's steps.

    State ``[c_0, h_0, …, c_{K-1}, h_{K-1}, attns (A), attn_states (L·A)]``.
    """

    def __init__(self, weights: _Weights, sizes: list[int], attn_length: int) -> None:
        self.sizes, self.attn_length, self.attn_size = sizes, attn_length, sizes[-1]
        self.weights = weights
        lstm_states = [width for size in sizes for width in (size, size)]
        self.state_sizes = [*lstm_states, self.attn_size, attn_length * self.attn_size]

    def run(
        self, inputs: np.ndarray, state: Sequence[np.ndarray]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        w, count = self.weights, len(self.sizes)
        length, attn_size = self.attn_length, self.attn_size
        lstm_states = list(state[: 2 * count])
        attns = state[2 * count]
        memory = state[2 * count + 1].reshape(-1, length, attn_size)
        outputs = np.empty(inputs.shape[:2] + (attn_size,), dtype=FLOAT)
        for position in range(inputs.shape[1]):
            # 1. Input projection of [x; previous attention read].
            layer_input = np.concatenate([inputs[:, position], attns], axis=-1)
            layer_input = layer_input @ w["input_projection_kernel"] + w["input_projection_bias"]
            # 2. The stack (no dropout: generation).
            for index, units in enumerate(self.sizes):
                gates = (
                    layer_input @ w[f"layer_{index}_kernel"]
                    + lstm_states[2 * index + 1] @ w[f"layer_{index}_recurrent_kernel"]
                    + w[f"layer_{index}_bias"]
                )
                c, h = _lstm_update(gates, lstm_states[2 * index], units)
                lstm_states[2 * index : 2 * index + 2] = [c, h]
                layer_input = h
            # 3.-5. The query is every layer's new (c, h); keys recomputed for the whole window.
            query = np.concatenate(lstm_states, axis=-1) @ w["query_kernel"] + w["query_bias"]
            attns = _attend(memory, memory @ w["attn_w"], query, w["attn_v"])
            # 6. Output projection of [top output; context].
            output = np.concatenate([layer_input, attns], axis=-1) @ w["output_projection_kernel"]
            output = output + w["output_projection_bias"]
            # 7. The window drops its oldest slot and appends the output.
            memory = np.concatenate([memory[:, 1:], output[:, None]], axis=1)
            outputs[:, position] = output
        return outputs, [*lstm_states, attns, memory.reshape(-1, length * attn_size)]


def _architecture(config: Any, source: str) -> tuple[int, int, list[int], int, str]:
    """(input_size, num_classes, layer sizes, attn_length, layout) of `config`, checked."""
    hparams = config.hparams
    if getattr(hparams, "residual_connections", False):
        raise MelodylibError(
            f"{source}: hparam residual_connections=True is not supported (no melody config uses "
            "it, and build_model refuses it too)"
        )
    sizes = hparams.rnn_layer_sizes
    if isinstance(sizes, int) or not sizes or any(int(size) <= 0 for size in sizes):
        raise MelodylibError(
            f"{source}: hparam rnn_layer_sizes={sizes!r} must be a non-empty list of positive "
            "layer sizes"
        )
    attn_length = int(getattr(hparams, "attn_length", 0) or 0)
    layout = getattr(hparams, "attention_layout", "first_layer") or "first_layer"
    if layout not in ("first_layer", "whole_stack"):
        raise MelodylibError(
            f"{source}: hparam attention_layout={layout!r} is unknown (first_layer or whole_stack)"
        )
    input_size, num_classes = int(config.encoder.input_size), int(config.encoder.num_classes)
    return input_size, num_classes, [int(size) for size in sizes], attn_length, layout


def _lstm_shapes(input_size: int, units: int, prefix: str = "") -> dict[str, tuple[int, ...]]:
    """The shapes of one LSTM's kernel, recurrent kernel and bias (names after `prefix`)."""
    return {
        f"{prefix}kernel": (input_size, 4 * units),
        f"{prefix}recurrent_kernel": (units, 4 * units),
        f"{prefix}bias": (4 * units,),
    }


def _attention_shapes(input_size: int, units: int, query_size: int, top_size: int) -> dict:
    """The shapes of the attention wrapper's own weights (both layouts share the names)."""
    return {
        "input_projection_kernel": (input_size + units, input_size),
        "input_projection_bias": (input_size,),
        "attn_w": (units, units),
        "attn_v": (units,),
        "query_kernel": (query_size, units),
        "query_bias": (units,),
        "output_projection_kernel": (top_size + units, units),
        "output_projection_bias": (units,),
    }


class NumpyStepModel:
    """A bundle's network run step by step in numpy (float32, dropout off), carrying its state.

    ``__call__(inputs [B, T, input_size], state) -> (logits [B, T, num_classes], new_state)``,
    numpy arrays in and out, with StepModel's state layout (see `melodylib.models.step`). Per
    call:

    1. check the inputs' shape and the state's length;
    2. run each recurrent layer over all T steps from its part of the state (a plain LSTM
       computes its input gates for all steps in one product, then steps through time; the
       attention layers step through time whole), with numpy's BLAS on one thread: these
       products are small, and threads only wait for each other (see `blas_threads`);
    3. apply the logits layer to the last layer's outputs at every step.

    Build it with `from_weights` (weights by Keras variable path, e.g. a Bundle's), `from_bundle`
    or `from_keras_model` (a copy of a built model's current weights).
    """

    def __init__(
        self,
        layers: list[Any],
        logits_kernel: np.ndarray,
        logits_bias: np.ndarray,
        input_size: int,
    ) -> None:
        self.layers = layers
        self.input_size = int(input_size)
        self.logits_kernel, self.logits_bias = logits_kernel, logits_bias
        self.num_classes = int(logits_bias.shape[0])
        self.state_sizes = [size for layer in layers for size in layer.state_sizes]
        self._state_counts = [len(layer.state_sizes) for layer in layers]

    @classmethod
    def from_weights(
        cls, config: Any, weights: Mapping[str, Any], source: str = "weights"
    ) -> NumpyStepModel:
        """The network `config` describes, with `weights` by Keras variable path (as in a bundle).

        `source` names where the weights come from in error messages (e.g. the bundle's path).
        """
        input_size, num_classes, sizes, attn_length, layout = _architecture(config, source)
        layers: list[Any] = []
        if attn_length > 0 and layout == "whole_stack":
            shapes = _attention_shapes(input_size, sizes[-1], 2 * sum(sizes), sizes[-1])
            layer_input = input_size
            for index, units in enumerate(sizes):
                shapes.update(_lstm_shapes(layer_input, units, f"layer_{index}_"))
                layer_input = units
            prefix = "lstm_0/whole_stack_attention"
            layers.append(
                _WholeStackLayer(_Weights(weights, prefix, shapes, source), sizes, attn_length)
            )
        else:
            layer_input = input_size
            for index, units in enumerate(sizes):
                if index == 0 and attn_length > 0:
                    shapes = _attention_shapes(input_size, units, 2 * units, units)
                    shapes.update(_lstm_shapes(input_size, units))
                    found = _Weights(weights, "lstm_0/attention_cell", shapes, source)
                    layers.append(_AttentionLayer(found, units, attn_length))
                else:
                    shapes = _lstm_shapes(layer_input, units)
                    found = _Weights(weights, f"lstm_{index}/lstm_cell", shapes, source)
                    layers.append(_LstmLayer(found, units))
                layer_input = units
        logits_shapes = {"kernel": (sizes[-1], num_classes), "bias": (num_classes,)}
        logits = _Weights(weights, "logits", logits_shapes, source)
        return cls(layers, logits["kernel"], logits["bias"], input_size)

    @classmethod
    def from_bundle(cls, bundle: Any) -> NumpyStepModel:
        """The network of a `melodylib.bundles.bundle.Bundle` (its config and weights)."""
        return cls.from_weights(bundle.config, bundle.weights, bundle.path or "bundle")

    @classmethod
    def from_keras_model(cls, model: Any, config: Any) -> NumpyStepModel:
        """A numpy copy of a built Keras model's current weights (later training is not seen)."""
        weights = {variable.path: np.asarray(variable.numpy()) for variable in model.weights}
        return cls.from_weights(config, weights, f"model {getattr(model, 'name', '?')!r}")

    def zero_state(self, batch_size: int) -> list[np.ndarray]:
        """The all-zero initial state (upstream's zero_state) for `batch_size` sequences."""
        return [np.zeros((int(batch_size), size), dtype=FLOAT) for size in self.state_sizes]

    def __call__(self, inputs: Any, state: Sequence[Any]) -> tuple[np.ndarray, list[np.ndarray]]:
        """Run `inputs` [B, T, input_size] from `state`: (logits [B, T, classes], final state)."""
        # 1. Check the inputs and the state.
        inputs = np.asarray(inputs, dtype=FLOAT)
        check_step_call(tuple(inputs.shape), len(state), self, "NumpyStepModel")
        with one_blas_thread():
            # 2. The recurrent layers, each from its own part of the state.
            outputs, new_state, offset = inputs, [], 0
            for layer, count in zip(self.layers, self._state_counts, strict=True):
                layer_state = [
                    np.asarray(part, dtype=FLOAT) for part in state[offset : offset + count]
                ]
                outputs, layer_state = layer.run(outputs, layer_state)
                new_state.extend(layer_state)
                offset += count
            # 3. The logits layer.
            return outputs @ self.logits_kernel + self.logits_bias, new_state

    gather_state = staticmethod(gather_state)
    tile_state = staticmethod(tile_state)
