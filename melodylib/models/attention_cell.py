"""Magenta's attention cell (magenta-behaviour.md: "Network"): one step of attention_rnn's first layer, made to be read.

`AttentionCell` is what generation runs step by step, and the definition of the maths: the lean
training layer `melodylib.models.lean.attention_rnn.AttentionRNN` computes the same over whole
sequences and is tested against it. `attention_weights` runs the cell of a built model over one
melody to show where it looked at each step.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
from keras import ops

from melodylib.errors import MelodylibError
from melodylib.models.initializers import joint_glorot_uniform
from melodylib.models.whole_stack_attention import WholeStackAttentionCell

__all__ = ["AttentionCell", "attention_weights"]


@keras.saving.register_keras_serializable(package="melodylib")
class AttentionCell(keras.layers.Layer):
    """An LSTM cell wrapped in Magenta's AttentionCellWrapper (magenta-behaviour.md: "Network"), for `keras.layers.RNN`.

    Per step, with x the input and state (c, h, attns, memory, keys):

    1. x' = W1·[x ; attns] + b1 (projected back to the input size);
    2. LSTM on x' (Keras LSTMCell math, gate order i, f, c, o; forget-gate bias starts at 1.0,
       a trainable variable where TF1 added a constant 1.0);
    3. query q = [c ; h] (c first, as upstream);
    4. y = W3·q + b3; score s_j = v·tanh(k_j + y) with k_j = W_k·m_j (attn_w, no bias), over all
       attn_length memory slots, **including the still-empty zero slots at the start** (upstream
       has no mask);
    5. α = softmax(s); a = Σ α_j m_j;
    6. output o = W2·[h ; a] + b2 (size units);
    7. the memory FIFO drops its oldest slot and appends o; attns = a.

    State (each [batch, size]): ``[c (u), h (u), attns (u), attn_states (L·u), attn_keys (L·u)]``
    where L = attn_length and the last two are [L, u] flattened row-major, oldest slot first.
    ``attn_keys`` holds k_j = m_j·attn_w for every stored output: upstream recomputes all L keys
    each step, but a slot's key never changes while it is in the window, so we project only the
    new output (same numbers, about L times less work for this term; the project's change).
    """

    def __init__(self, units: int, attn_length: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if int(units) <= 0 or int(attn_length) <= 0:
            raise MelodylibError(
                f"AttentionCell needs units > 0 and attn_length > 0 (got units={units}, "
                f"attn_length={attn_length}); set --hparams='attn_length=40'"
            )
        self.units = int(units)
        self.attn_length = int(attn_length)
        memory_size = self.attn_length * self.units
        self.state_size = [self.units, self.units, self.units, memory_size, memory_size]
        self.output_size = self.units

    def build(self, input_shape: Sequence[int | None]) -> None:
        """Create the weights; their sizes are those of upstream (magenta-behaviour.md: "Parameter counts")."""
        input_size = int(input_shape[-1])
        units = self.units
        self.input_size = input_size
        glorot = "glorot_uniform"
        # W1, b1: tf _linear over [x; attns] -> input_size (Glorot kernel, zero bias).
        self.input_projection_kernel = self.add_weight(
            shape=(input_size + units, input_size),
            initializer=glorot,
            name="input_projection_kernel",
        )
        self.input_projection_bias = self.add_weight(
            shape=(input_size,), initializer="zeros", name="input_projection_bias"
        )
        # The LSTM, with the same variable names and gate order (i, f, c, o) as keras LSTMCell.
        self.kernel = self.add_weight(
            shape=(input_size, 4 * units),
            initializer=joint_glorot_uniform(input_size, units),
            name="kernel",
        )
        self.recurrent_kernel = self.add_weight(
            shape=(units, 4 * units),
            initializer=joint_glorot_uniform(input_size, units),
            name="recurrent_kernel",
        )
        forget_bias = np.zeros(4 * units, dtype="float32")
        forget_bias[units : 2 * units] = 1.0
        self.bias = self.add_weight(
            shape=(4 * units,), initializer=keras.initializers.Constant(forget_bias), name="bias"
        )
        # Attention: attn_w (upstream a [1, 1, u, u] 1x1 convolution: same Glorot fans u, u),
        # attn_v [u], and W3, b3 on the query.
        self.attn_w = self.add_weight(shape=(units, units), initializer=glorot, name="attn_w")
        self.attn_v = self.add_weight(shape=(units,), initializer=glorot, name="attn_v")
        self.query_kernel = self.add_weight(
            shape=(2 * units, units), initializer=glorot, name="query_kernel"
        )
        self.query_bias = self.add_weight(shape=(units,), initializer="zeros", name="query_bias")
        # W2, b2: the output projection of [h; a].
        self.output_projection_kernel = self.add_weight(
            shape=(2 * units, units), initializer=glorot, name="output_projection_kernel"
        )
        self.output_projection_bias = self.add_weight(
            shape=(units,), initializer="zeros", name="output_projection_bias"
        )
        self.built = True

    def call(
        self, inputs: Any, states: Sequence[Any], training: bool = False
    ) -> tuple[Any, list[Any]]:
        """One step: returns (output o [batch, units], new state list)."""
        output, new_state, _ = self.step(inputs, states)
        return output, new_state

    def step(self, inputs: Any, states: Sequence[Any]) -> tuple[Any, list[Any], Any]:
        """One step, also returning the attention weights α [batch, L], oldest slot first."""
        c_previous, h_previous, attns, attn_states, attn_keys = states
        units, length = self.units, self.attn_length
        # 1. Input projection of [x; previous context].
        projected = ops.matmul(
            ops.concatenate([inputs, attns], axis=-1), self.input_projection_kernel
        )
        projected = projected + self.input_projection_bias
        # 2. LSTM.
        gates = (
            ops.matmul(projected, self.kernel)
            + ops.matmul(h_previous, self.recurrent_kernel)
            + self.bias
        )
        gate_i, gate_f, gate_c, gate_o = ops.split(gates, 4, axis=-1)
        c = ops.sigmoid(gate_f) * c_previous + ops.sigmoid(gate_i) * ops.tanh(gate_c)
        h = ops.sigmoid(gate_o) * ops.tanh(c)
        # 3.-5. Attention over every slot of the memory (no mask for the initial zero slots).
        memory = ops.reshape(attn_states, (-1, length, units))
        keys = ops.reshape(attn_keys, (-1, length, units))
        query = ops.matmul(ops.concatenate([c, h], axis=-1), self.query_kernel) + self.query_bias
        scores = ops.sum(self.attn_v * ops.tanh(keys + ops.expand_dims(query, 1)), axis=-1)
        weights = ops.softmax(scores, axis=-1)
        context = ops.sum(ops.expand_dims(weights, -1) * memory, axis=1)
        # 6. Output projection of [h; context].
        output = ops.matmul(ops.concatenate([h, context], axis=-1), self.output_projection_kernel)
        output = output + self.output_projection_bias
        # 7. FIFO push of the output and (only) its new key.
        new_key = ops.matmul(output, self.attn_w)
        new_memory = ops.concatenate([memory[:, 1:, :], ops.expand_dims(output, 1)], axis=1)
        new_keys = ops.concatenate([keys[:, 1:, :], ops.expand_dims(new_key, 1)], axis=1)
        new_state = [
            c,
            h,
            context,
            ops.reshape(new_memory, (-1, length * units)),
            ops.reshape(new_keys, (-1, length * units)),
        ]
        return output, new_state, weights

    def get_config(self) -> dict[str, Any]:
        """Serialisable constructor arguments."""
        config = super().get_config()
        config.update({"units": self.units, "attn_length": self.attn_length})
        return config


def attention_weights(model: keras.Model, inputs: Any) -> np.ndarray:
    """The attention weights of an attention_rnn model over one encoded melody.

    `inputs` is [time, input_size] (one melody, e.g. `config.encoder.inputs(events)`); the result
    is [time, attn_length]: at step t, how much the model looked at each of the last attn_length
    outputs of the wrapper (around the first layer, or the whole stack in the 2016 layout):
    column attn_length - 1 is the previous step, column 0 the oldest; slots before the melody
    start are the zero memory upstream never masks.
    """
    layer = model.get_layer("lstm_0")
    cell = layer.cell
    if not isinstance(cell, (AttentionCell, WholeStackAttentionCell)):
        raise MelodylibError(
            f"model {model.name!r} has no attention layer (only attention_rnn has one)"
        )
    inputs = np.asarray(inputs, dtype="float32")
    if inputs.ndim != 2:
        raise MelodylibError(
            f"inputs must be [time, input_size] for one melody, got shape {inputs.shape}"
        )
    state = [np.zeros((1, size), dtype="float32") for size in cell.state_size]
    rows = []
    for position in range(inputs.shape[0]):
        _, state, weights = cell.step(inputs[position : position + 1], state)
        rows.append(np.asarray(weights)[0])
    return np.stack(rows) if rows else np.zeros((0, cell.attn_length), dtype="float32")
