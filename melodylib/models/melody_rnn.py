"""The Keras 3 Melody RNN: stacked LSTMs (+ Magenta's attention cell on layer 1), and a step model.

The attention cell and its training layer live in `melodylib.models.attention`.

Spec §5.2 (network), §5.3 (parameter counts), §6.2 (step-by-step generation), §11 (Keras notes).

Layer names are fixed because checkpoints, bundles and the Magenta weight import map onto them:

- ``inputs``: float32 ``[batch, time, input_size]`` (time may be None);
- ``lstm_0`` … ``lstm_{n-1}``: one recurrent layer per entry of ``rnn_layer_sizes``. A
  ``keras.layers.LSTM`` normally; for attention configs (``attn_length > 0``) ``lstm_0`` is an
  :class:`AttentionRNN` (a ``keras.layers.RNN`` with a chunked, lean training loop) wrapping an
  :class:`AttentionCell` (weights ``lstm_0/attention_cell/...``), and the layers after it are
  :class:`LeanLSTM` (Keras' LSTM recomputing its gates for backprop: memory is tightest there);
- ``dropout_0`` … ``dropout_{n-1}``: a Dropout on each layer's output sequence (upstream's
  DropoutWrapper(output_keep_prob), never input or state dropout);
- ``logits``: Dense(num_classes), no activation.

Masking: there is deliberately no Masking layer. Batches are padded only at the *end* of each
sequence (spec §5.1), and the LSTMs are causal, so the outputs at valid positions never see the
padding; the training loss masks the padded positions out. Running over the padding costs a few
wasted steps but keeps the model a plain functional graph that generation can run step by step.

This module is about models, so it imports Keras/TensorFlow at the top; import it lazily from
modules that must stay fast.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import keras
import numpy as np

from melodylib.models.attention import AttentionCell, AttentionRNN
from melodylib.errors import MelodylibError
from melodylib.models.lean.lean_lstm import LeanLSTM

__all__ = [
    "AttentionCell",
    "AttentionRNN",
    "LeanLSTM",
    "StepModel",
    "build_model",
    "build_step_model",
    "count_parameters",
    "gather_state",
    "magenta_parameter_count",
    "state_sizes",
    "tile_state",
]


# --------------------------------------------------------------------------------------------
# Configuration checks and initialisers
# --------------------------------------------------------------------------------------------


def _layer_sizes(config: Any) -> list[int]:
    """The validated rnn_layer_sizes of `config` (a non-empty list of positive ints)."""
    sizes = config.hparams.rnn_layer_sizes
    if isinstance(sizes, int) or not sizes:
        raise MelodylibError(
            f"hparam rnn_layer_sizes={sizes!r} must be a non-empty list of layer sizes, "
            "e.g. --hparams='rnn_layer_sizes=[128,128]'"
        )
    result = []
    for size in sizes:
        if isinstance(size, bool) or int(size) != size or int(size) <= 0:
            raise MelodylibError(
                f"hparam rnn_layer_sizes={list(sizes)!r} holds {size!r}; every layer size must be a "
                "positive integer, e.g. --hparams='rnn_layer_sizes=[128,128]'"
            )
        result.append(int(size))
    return result


def _checked(config: Any) -> tuple[int, int, list[int], float, int]:
    """(input_size, num_classes, layer_sizes, dropout_keep_prob, attn_length) of a valid config."""
    hparams = config.hparams
    keep = float(hparams.dropout_keep_prob)
    if not 0.0 < keep <= 1.0:
        raise MelodylibError(
            f"hparam dropout_keep_prob={hparams.dropout_keep_prob!r} must be in (0, 1] "
            "(1.0 means no dropout), e.g. --hparams='dropout_keep_prob=0.5'"
        )
    attn_length = int(getattr(hparams, "attn_length", 0) or 0)
    if attn_length < 0:
        raise MelodylibError(
            f"hparam attn_length={hparams.attn_length!r} must be 0 (no attention) or a positive "
            "number of steps, e.g. --hparams='attn_length=40'"
        )
    if getattr(hparams, "residual_connections", False):
        raise MelodylibError(
            "hparam residual_connections=True is not supported (no melody config uses it); "
            "drop it from --hparams"
        )
    input_size = int(config.encoder.input_size)
    num_classes = int(config.encoder.num_classes)
    if input_size <= 0 or num_classes <= 0:
        raise MelodylibError(
            f"config {getattr(config, 'name', '?')!r} has input_size={input_size} and "
            f"num_classes={num_classes}; both must be positive (check the encoder)"
        )
    return input_size, num_classes, _layer_sizes(config), keep, attn_length


def _joint_glorot_uniform(input_dim: int, units: int) -> keras.initializers.Initializer:
    """Uniform initialiser matching TF1 BasicLSTMCell's Glorot-uniform on its *joint* kernel.

    Upstream keeps one kernel [input_dim + units, 4·units] over [x; h], initialised Glorot-uniform
    with limit sqrt(6 / (input_dim + units + 4·units)). Keras splits it into `kernel`
    [input_dim, 4u] and `recurrent_kernel` [u, 4u]; giving both halves this same limit makes every
    entry identically distributed to upstream's (Keras' defaults, Glorot on each half and an
    orthogonal recurrent kernel, would not).
    """
    limit = math.sqrt(6.0 / (input_dim + units + 4 * units))
    return keras.initializers.RandomUniform(minval=-limit, maxval=limit)


# --------------------------------------------------------------------------------------------
# The training model
# --------------------------------------------------------------------------------------------


def build_model(config: Any) -> keras.Model:
    """The Keras Melody RNN for `config`: inputs [batch, time, input_size] -> logits [batch, time, classes].

    `config` needs `.name`, `.encoder.input_size`, `.encoder.num_classes` and `.hparams` with
    `rnn_layer_sizes`, `dropout_keep_prob` and `attn_length` (see `melodylib.encoding.configs`).
    """
    input_size, num_classes, sizes, keep, attn_length = _checked(config)
    inputs = keras.Input(shape=(None, input_size), dtype="float32", name="inputs")
    outputs = inputs
    layer_input_size = input_size
    for index, units in enumerate(sizes):
        if index == 0 and attn_length > 0:
            # Upstream wraps only the first layer (since magenta commit 3304b6dc).
            layer = AttentionRNN(
                AttentionCell(units, attn_length, name="attention_cell"),
                return_sequences=True,
                name=f"lstm_{index}",
            )
        else:
            # Beside the attention layer, memory rather than time is short: recompute the gates.
            lstm_class = LeanLSTM if attn_length > 0 else keras.layers.LSTM
            layer = lstm_class(
                units,
                return_sequences=True,
                unit_forget_bias=True,
                kernel_initializer=_joint_glorot_uniform(layer_input_size, units),
                recurrent_initializer=_joint_glorot_uniform(layer_input_size, units),
                bias_initializer="zeros",
                name=f"lstm_{index}",
            )
        outputs = layer(outputs)
        # Only each layer's output is dropped (upstream DropoutWrapper(output_keep_prob)); the
        # LSTM's own dropout / recurrent_dropout would drop inputs and states, which upstream never does.
        outputs = keras.layers.Dropout(1.0 - keep, name=f"dropout_{index}")(outputs)
        layer_input_size = units
    logits = keras.layers.Dense(
        num_classes, kernel_initializer="glorot_uniform", bias_initializer="zeros", name="logits"
    )(outputs)
    return keras.Model(inputs, logits, name=str(getattr(config, "name", "melody_rnn")))


def count_parameters(model: keras.Model) -> int:
    """The number of weights in `model` (all are trainable)."""
    return int(model.count_params())


def magenta_parameter_count(config: Any) -> int:
    """Upstream's parameter count for `config`, from the formulas behind spec §5.3 (current layout).

    Pure arithmetic, no model is built: handy to print next to `count_parameters(build_model(config))`.
    """
    input_size, num_classes, sizes, _, attn_length = _checked(config)
    total = 0
    layer_input_size = input_size
    for index, units in enumerate(sizes):
        if index == 0 and attn_length > 0:
            total += (input_size + units) * input_size + input_size  # W1, b1
            total += units * units + units  # attn_w, attn_v
            total += 2 * units * units + units  # W3, b3
            total += 2 * units * units + units  # W2, b2
        total += (layer_input_size + units) * 4 * units + 4 * units  # LSTM kernel + bias
        layer_input_size = units
    return total + layer_input_size * num_classes + num_classes


# --------------------------------------------------------------------------------------------
# Step-by-step inference
# --------------------------------------------------------------------------------------------


def _recurrent_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The model's `lstm_<k>` layers, in order."""
    layers = []
    while True:
        try:
            layers.append(model.get_layer(f"lstm_{len(layers)}"))
        except ValueError:
            break
    if not layers:
        raise MelodylibError(
            f"model {model.name!r} has no layer named 'lstm_0'; build it with melodylib.models.melody_rnn.build_model"
        )
    return layers


def state_sizes(model: keras.Model) -> list[int]:
    """The width of every state tensor of `model`, in StepModel's state order."""
    sizes: list[int] = []
    for layer in _recurrent_layers(model):
        sizes.extend(int(size) for size in layer.cell.state_size)
    return sizes


def gather_state(state: Sequence[Any], indices: Any) -> list[Any]:
    """Select/reorder the batch rows of every state tensor (beam search: keep the survivors)."""
    import tensorflow as tf

    indices = tf.convert_to_tensor(indices, dtype=tf.int32)
    return [tf.gather(part, indices, axis=0) for part in state]


def tile_state(state: Sequence[Any], count: int) -> list[Any]:
    """Repeat each batch row `count` times in place: rows [a, b] -> [a, a, b, b] for count 2."""
    import tensorflow as tf

    return [tf.repeat(part, int(count), axis=0) for part in state]


class StepModel:
    """A compiled, dropout-free step function sharing a trained model's variables (spec §6.2).

    ``__call__(inputs [B, T, input_size], state) -> (logits [B, T, num_classes], new_state)``
    runs all B sequences (outputs × beams) together in one graph call, carrying the full
    recurrent state, so a primer can be fed in one call and then one step per call.

    State: a flat list, layer by layer. A plain LSTM layer contributes ``[h, c]`` (Keras order);
    the attention layer contributes ``[c, h, attns, attn_states, attn_keys]`` (see AttentionCell).
    The variables are shared, not copied: further training is seen at once.
    """

    def __init__(self, model: keras.Model) -> None:
        import tensorflow as tf

        self.model = model
        self.input_size = int(model.inputs[0].shape[-1])
        layers = _recurrent_layers(model)
        # New RNN wrappers around the *same* (already built) cells: they share the weights but
        # also return their final state, which the training layers do not.
        self._rnns = [
            keras.layers.RNN(layer.cell, return_sequences=True, return_state=True, name=f"step_{layer.name}")
            for layer in layers
        ]
        self._state_counts = [len(layer.cell.state_size) for layer in layers]
        self._logits = model.get_layer("logits")
        # The same cells and logits layer, for code that runs its own step loop (compiled_sampling).
        self.cells = [layer.cell for layer in layers]
        self.logits_layer = self._logits
        self.num_classes = int(self._logits.units)
        self.state_sizes = state_sizes(model)
        # None batch and time dims: one trace serves the primer, every step and every beam width.
        signature = [
            tf.TensorSpec([None, None, self.input_size], tf.float32, name="inputs"),
            [tf.TensorSpec([None, size], tf.float32) for size in self.state_sizes],
        ]
        self._function = tf.function(self._run, input_signature=signature, reduce_retracing=True)

    def _run(self, inputs: Any, state: list[Any]) -> tuple[Any, list[Any]]:
        outputs = inputs
        new_state: list[Any] = []
        offset = 0
        for rnn, count in zip(self._rnns, self._state_counts):
            results = rnn(outputs, initial_state=list(state[offset : offset + count]), training=False)
            outputs = results[0]
            new_state.extend(results[1:])
            offset += count
        return self._logits(outputs), new_state

    def zero_state(self, batch_size: int) -> list[Any]:
        """The all-zero initial state (upstream's zero_state) for `batch_size` sequences."""
        import tensorflow as tf

        return [tf.zeros([int(batch_size), size], tf.float32) for size in self.state_sizes]

    def __call__(self, inputs: Any, state: Sequence[Any]) -> tuple[Any, list[Any]]:
        """Run `inputs` [B, T, input_size] from `state`; returns (logits [B, T, classes], final state)."""
        import tensorflow as tf

        inputs = tf.convert_to_tensor(inputs, dtype=tf.float32)
        if inputs.shape.rank != 3 or inputs.shape[-1] != self.input_size:
            raise MelodylibError(
                f"step inputs have shape {tuple(inputs.shape)}; expected [batch, time, {self.input_size}] "
                "(encode the melody with the same config the model was built from)"
            )
        if len(state) != len(self.state_sizes):
            raise MelodylibError(
                f"step state has {len(state)} tensors; expected {len(self.state_sizes)} "
                "(start from StepModel.zero_state(batch_size))"
            )
        state = [tf.convert_to_tensor(part, dtype=tf.float32) for part in state]
        return self._function(inputs, state)

    gather_state = staticmethod(gather_state)
    tile_state = staticmethod(tile_state)


def build_step_model(config: Any, model: keras.Model | None = None) -> StepModel:
    """A StepModel over `model` (sharing its weights), or over a fresh `build_model(config)`."""
    if model is None:
        model = build_model(config)
    return StepModel(model)


def attention_weights(model: keras.Model, inputs: Any) -> np.ndarray:
    """The attention weights of an attention_rnn model over one encoded melody.

    `inputs` is [time, input_size] (one melody, e.g. `config.encoder.inputs(events)`); the result
    is [time, attn_length]: at step t, how much the model looked at each of the last attn_length
    outputs (column attn_length - 1 is the previous step, column 0 the oldest; slots before the
    melody start are the zero memory upstream never masks).
    """
    layer = model.get_layer("lstm_0")
    cell = layer.cell
    if not isinstance(cell, AttentionCell):
        raise MelodylibError(f"model {model.name!r} has no attention layer (only attention_rnn has one)")
    inputs = np.asarray(inputs, dtype="float32")
    if inputs.ndim != 2:
        raise MelodylibError(f"inputs must be [time, input_size] for one melody, got shape {inputs.shape}")
    state = [np.zeros((1, size), dtype="float32") for size in cell.state_size]
    rows = []
    for position in range(inputs.shape[0]):
        _, state, weights = cell.step(inputs[position : position + 1], state)
        rows.append(np.asarray(weights)[0])
    return np.stack(rows) if rows else np.zeros((0, cell.attn_length), dtype="float32")
