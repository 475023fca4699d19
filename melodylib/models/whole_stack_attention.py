"""Magenta's 2016 attention layout: attention around the whole stack of LSTM layers.

magenta-behaviour.md: "The 2016 attention layout".

Until May 2017 Magenta wrapped its whole MultiRNNCell in one AttentionCellWrapper; the published
`attention_rnn.mag` has that layout. `WholeStackAttentionCell` is one step of it, written to be
read and exact rather than fast: `build_model` runs it with a plain `keras.layers.RNN` for
training, evaluation and generation alike when the hparam `attention_layout` is `whole_stack`.
The first-layer layout Magenta uses since then is `melodylib.models.attention_cell.AttentionCell`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
from keras import ops

from melodylib.errors import MelodylibError
from melodylib.models.initializers import joint_glorot_uniform

__all__ = ["WholeStackAttentionCell"]


@keras.saving.register_keras_serializable(package="melodylib")
class WholeStackAttentionCell(keras.layers.Layer):
    """A stack of LSTM layers inside one attention wrapper (Magenta before May 2017), for RNN.

    Sizes: D the input size, n_0 … n_{K-1} the layer sizes, A = n_{K-1} (the wrapper's attention
    size is the stack's output size) and L = attn_length. Per step, with x the input [batch, D]
    and state (c_0, h_0, …, c_{K-1}, h_{K-1}, attns, attn_states):

    1. x' = W_in·[x ; attns] + b_in (projected back to D);
    2. the stack: layer k runs an LSTM (Keras LSTMCell maths, gates i, f, c, o, the forget
       bias of 1.0 inside `bias`) on x' for k = 0, else on layer k-1's output; each layer's output
       h_k passes output dropout on its way out (training only, a fresh mask every step: TF1's
       DropoutWrapper(output_keep_prob)); the state keeps the undropped c_k, h_k;
    3. query q = [c_0 ; h_0 ; … ; c_{K-1} ; h_{K-1}], every layer's new state (width Σ 2 n_k);
    4. y = W_q·q + b_q; keys k_j = attn_w·m_j of all L slots of the window (upstream's 1×1
       convolution, recomputed every step as upstream does); scores s_j = v·tanh(k_j + y),
       **including the still-empty zero slots at the start** (upstream has no mask);
    5. α = softmax(s); a = Σ α_j m_j;
    6. output o = W_o·[top output ; a] + b_o (width A; the top output is the top layer's h after
       its dropout);
    7. the window drops its oldest slot and appends o; attns = a.

    The logits layer reads o. State (each [batch, width]), Magenta's order:
    ``[c_0, h_0, …, c_{K-1}, h_{K-1}, attns (A), attn_states (L·A)]``, the window as [L, A]
    flattened row-major, oldest slot first.
    """

    def __init__(
        self,
        layer_sizes: Sequence[int],
        attn_length: int,
        dropout_rate: float = 0.0,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        sizes = [int(size) for size in layer_sizes]
        if not sizes or min(sizes) <= 0 or int(attn_length) <= 0:
            raise MelodylibError(
                f"WholeStackAttentionCell needs layer sizes > 0 and attn_length > 0 (got "
                f"layer_sizes={list(layer_sizes)}, attn_length={attn_length}); "
                "set --hparams='rnn_layer_sizes=[128,128],attn_length=40'"
            )
        if not 0.0 <= float(dropout_rate) < 1.0:
            raise MelodylibError(
                f"WholeStackAttentionCell dropout_rate={dropout_rate} must be in [0, 1) "
                "(1 - dropout_keep_prob)"
            )
        self.layer_sizes = sizes
        self.attn_length = int(attn_length)
        self.attn_size = sizes[-1]
        self.dropout_rate = float(dropout_rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        lstm_states = [width for size in sizes for width in (size, size)]
        self.state_size = [*lstm_states, self.attn_size, self.attn_length * self.attn_size]
        self.output_size = self.attn_size

    def build(self, input_shape: Sequence[int | None]) -> None:
        """Create the weights, in the 2016 graph's shapes (but Keras' LSTM gate order)."""
        input_size = int(input_shape[-1])
        attn_size = self.attn_size
        self.input_size = input_size
        glorot = "glorot_uniform"
        # W_in, b_in: the input projection of [x; attns] back to the input size.
        self.input_projection_kernel = self.add_weight(
            shape=(input_size + attn_size, input_size),
            initializer=glorot,
            name="input_projection_kernel",
        )
        self.input_projection_bias = self.add_weight(
            shape=(input_size,), initializer="zeros", name="input_projection_bias"
        )
        # The LSTM layers, each as keras LSTMCell keeps it (gate order i, f, c, o).
        self.lstm_weights = []
        layer_input = input_size
        for index, units in enumerate(self.layer_sizes):
            forget_bias = np.zeros(4 * units, dtype="float32")
            forget_bias[units : 2 * units] = 1.0
            self.lstm_weights.append(
                (
                    self.add_weight(
                        shape=(layer_input, 4 * units),
                        initializer=joint_glorot_uniform(layer_input, units),
                        name=f"layer_{index}_kernel",
                    ),
                    self.add_weight(
                        shape=(units, 4 * units),
                        initializer=joint_glorot_uniform(layer_input, units),
                        name=f"layer_{index}_recurrent_kernel",
                    ),
                    self.add_weight(
                        shape=(4 * units,),
                        initializer=keras.initializers.Constant(forget_bias),
                        name=f"layer_{index}_bias",
                    ),
                )
            )
            layer_input = units
        # Attention: attn_w (upstream a [1, 1, A, A] 1×1 convolution), attn_v, W_q and b_q on the
        # query of every layer's state.
        query_size = 2 * sum(self.layer_sizes)
        self.attn_w = self.add_weight(
            shape=(attn_size, attn_size), initializer=glorot, name="attn_w"
        )
        self.attn_v = self.add_weight(shape=(attn_size,), initializer=glorot, name="attn_v")
        self.query_kernel = self.add_weight(
            shape=(query_size, attn_size), initializer=glorot, name="query_kernel"
        )
        self.query_bias = self.add_weight(
            shape=(attn_size,), initializer="zeros", name="query_bias"
        )
        # W_o, b_o: the output projection of [top output; a].
        self.output_projection_kernel = self.add_weight(
            shape=(self.layer_sizes[-1] + attn_size, attn_size),
            initializer=glorot,
            name="output_projection_kernel",
        )
        self.output_projection_bias = self.add_weight(
            shape=(attn_size,), initializer="zeros", name="output_projection_bias"
        )
        self.built = True

    def call(
        self, inputs: Any, states: Sequence[Any], training: bool = False
    ) -> tuple[Any, list[Any]]:
        """One step: returns (output o [batch, A], new state list)."""
        output, new_state, _ = self.step(inputs, states, training=training)
        return output, new_state

    def _dropped(self, outputs: Any, training: bool) -> Any:
        """A layer's output after DropoutWrapper(output_keep_prob = 1 - dropout_rate)."""
        if not training or self.dropout_rate == 0.0:
            return outputs
        return keras.random.dropout(outputs, self.dropout_rate, seed=self.seed_generator)

    def step(
        self, inputs: Any, states: Sequence[Any], training: bool = False
    ) -> tuple[Any, list[Any], Any]:
        """One step, also returning the attention weights α [batch, L], oldest slot first."""
        count = len(self.layer_sizes)
        attns, attn_states = states[2 * count], states[2 * count + 1]
        length, attn_size = self.attn_length, self.attn_size
        # 1. Input projection of [x; previous attention read].
        layer_input = ops.matmul(
            ops.concatenate([inputs, attns], axis=-1), self.input_projection_kernel
        )
        layer_input = layer_input + self.input_projection_bias
        # 2. The stack of LSTM layers, each output dropped on its way out.
        lstm_states: list[Any] = []
        for index, (kernel, recurrent_kernel, bias) in enumerate(self.lstm_weights):
            c_previous, h_previous = states[2 * index], states[2 * index + 1]
            gates = (
                ops.matmul(layer_input, kernel) + ops.matmul(h_previous, recurrent_kernel) + bias
            )
            gate_i, gate_f, gate_c, gate_o = ops.split(gates, 4, axis=-1)
            c = ops.sigmoid(gate_f) * c_previous + ops.sigmoid(gate_i) * ops.tanh(gate_c)
            h = ops.sigmoid(gate_o) * ops.tanh(c)
            lstm_states.extend([c, h])
            layer_input = self._dropped(h, training)
        top_output = layer_input
        # 3. The query: every layer's new (c, h).
        query = ops.concatenate(lstm_states, axis=-1)
        # 4.-5. Attention over every slot of the window (no mask for the initial zero slots).
        memory = ops.reshape(attn_states, (-1, length, attn_size))
        keys = ops.matmul(memory, self.attn_w)
        projected_query = ops.matmul(query, self.query_kernel) + self.query_bias
        scores = ops.sum(
            self.attn_v * ops.tanh(keys + ops.expand_dims(projected_query, 1)), axis=-1
        )
        weights = ops.softmax(scores, axis=-1)
        context = ops.sum(ops.expand_dims(weights, -1) * memory, axis=1)
        # 6. Output projection of [top output; context].
        output = ops.matmul(
            ops.concatenate([top_output, context], axis=-1), self.output_projection_kernel
        )
        output = output + self.output_projection_bias
        # 7. The window drops its oldest slot and appends the output.
        new_memory = ops.concatenate([memory[:, 1:, :], ops.expand_dims(output, 1)], axis=1)
        new_state = [*lstm_states, context, ops.reshape(new_memory, (-1, length * attn_size))]
        return output, new_state, weights

    def get_config(self) -> dict[str, Any]:
        """Serialisable constructor arguments."""
        config = super().get_config()
        config.update(
            {
                "layer_sizes": list(self.layer_sizes),
                "attn_length": self.attn_length,
                "dropout_rate": self.dropout_rate,
                "seed": self.seed,
            }
        )
        return config
