"""Magenta's attention cell (spec §5.2) and the lean layer that trains it over whole sequences.

`AttentionCell` is one step of attention_rnn's first layer, as generation runs it; `AttentionRNN`
runs the same maths over a whole sequence for training, in chunks with a hand-written backward
pass, so back-propagation keeps a few small tensors per step instead of the 40-slot memory
(tests check that its outputs and gradients equal the plain cell loop's).
"""

from __future__ import annotations

from typing import Any, Sequence

import keras
import numpy as np
from keras import ops

from melodylib.errors import MelodylibError

__all__ = ["AttentionCell", "AttentionRNN"]


def joint_glorot_uniform(input_dim: int, units: int) -> keras.initializers.Initializer:
    """Upstream's Glorot-uniform limit on the joint LSTM kernel (see models._joint_glorot_uniform)."""
    from melodylib.models.melody_rnn import _joint_glorot_uniform

    return _joint_glorot_uniform(input_dim, units)

# --------------------------------------------------------------------------------------------
# The attention cell
# --------------------------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="melodylib")
class AttentionCell(keras.layers.Layer):
    """An LSTM cell wrapped in Magenta's AttentionCellWrapper (spec §5.2), for `keras.layers.RNN`.

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
        """Create the weights; their sizes are those of upstream (spec §5.3)."""
        input_size = int(input_shape[-1])
        units = self.units
        self.input_size = input_size
        glorot = "glorot_uniform"
        # W1, b1: tf _linear over [x; attns] -> input_size (Glorot kernel, zero bias).
        self.input_projection_kernel = self.add_weight(
            shape=(input_size + units, input_size), initializer=glorot, name="input_projection_kernel"
        )
        self.input_projection_bias = self.add_weight(
            shape=(input_size,), initializer="zeros", name="input_projection_bias"
        )
        # The LSTM, with the same variable names and gate order (i, f, c, o) as keras LSTMCell.
        self.kernel = self.add_weight(
            shape=(input_size, 4 * units), initializer=joint_glorot_uniform(input_size, units), name="kernel"
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
        self.query_kernel = self.add_weight(shape=(2 * units, units), initializer=glorot, name="query_kernel")
        self.query_bias = self.add_weight(shape=(units,), initializer="zeros", name="query_bias")
        # W2, b2: the output projection of [h; a].
        self.output_projection_kernel = self.add_weight(
            shape=(2 * units, units), initializer=glorot, name="output_projection_kernel"
        )
        self.output_projection_bias = self.add_weight(
            shape=(units,), initializer="zeros", name="output_projection_bias"
        )
        self.built = True

    def call(self, inputs: Any, states: Sequence[Any], training: bool = False) -> tuple[Any, list[Any]]:
        """One step: returns (output o [batch, units], new state list)."""
        output, new_state, _ = self.step(inputs, states)
        return output, new_state

    def step(self, inputs: Any, states: Sequence[Any]) -> tuple[Any, list[Any], Any]:
        """One step, also returning the attention weights α [batch, attn_length] (oldest slot first)."""
        c_previous, h_previous, attns, attn_states, attn_keys = states
        units, length = self.units, self.attn_length
        # 1. Input projection of [x; previous context].
        projected = ops.matmul(ops.concatenate([inputs, attns], axis=-1), self.input_projection_kernel)
        projected = projected + self.input_projection_bias
        # 2. LSTM.
        gates = ops.matmul(projected, self.kernel) + ops.matmul(h_previous, self.recurrent_kernel) + self.bias
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


# --------------------------------------------------------------------------------------------
# The attention layer over whole sequences (training and evaluation)
# --------------------------------------------------------------------------------------------

# The cell's weights in the order the chunk functions take them.
_CELL_WEIGHT_NAMES = (
    "input_projection_kernel",
    "input_projection_bias",
    "kernel",
    "recurrent_kernel",
    "bias",
    "attn_w",
    "attn_v",
    "query_kernel",
    "query_bias",
    "output_projection_kernel",
    "output_projection_bias",
)


def _starting_slots_features(keys: Any, query: Any) -> Any:
    """tanh(k_j + y) for time-major keys [L, batch, u] and the query [batch, u].

    The sum is a bias_add over [L, batch·u] rows: TensorFlow's fast path for this broadcast.
    """
    import tensorflow as tf

    flat = tf.reshape(keys, [int(keys.shape[0]), -1])
    return tf.reshape(tf.tanh(tf.nn.bias_add(flat, tf.reshape(query, [-1]))), tf.shape(keys))


def _starting_slots_scores(keys: Any, query: Any, attn_v: Any, first_slot: int) -> Any:
    """Scores v·tanh(k_j + y) [L, batch] of the chunk's starting FIFO slots, -inf before `first_slot`.

    Slots before `first_slot` have left the window at this step. Keeping their rows (masked)
    aligns every step's block with the starting FIFO, so the backward pass can add each step's
    key gradients straight into one [L, batch, u] sum.
    """
    import tensorflow as tf

    scores = tf.tensordot(_starting_slots_features(keys[first_slot:], query), attn_v, axes=1)  # a free slice
    if first_slot == 0:
        return scores
    return tf.concat([tf.fill([first_slot, tf.shape(scores)[1]], float("-inf")), scores], axis=0)


def _starting_slots_backward(keys: Any, query: Any, attn_v: Any, d_scores: Any, d_keys: Any) -> tuple[Any, Any, Any]:
    """Backward of `_starting_slots_scores`: (d_keys + d(keys), d(query), d(attn_v)), recomputing tanh.

    `d_scores` [L, batch] is zero on the masked slots. `d_keys` accumulates the key gradients of
    the whole chunk slot by slot (a slot keeps its index in the starting FIFO at every step).
    """
    import tensorflow as tf

    features = _starting_slots_features(keys, query)
    # (d_score ⊗ v)·(1 - tanh²): an outer product by matmul, then TensorFlow's fused tanh gradient.
    outer = tf.reshape(tf.matmul(tf.reshape(d_scores, [-1, 1]), attn_v[None, :]), tf.shape(features))
    d_features = tf.raw_ops.TanhGrad(y=features, dy=outer)
    d_attn_v = tf.tensordot(d_scores, features, axes=[[0, 1], [0, 1]])
    return d_keys + d_features, tf.reduce_sum(d_features, axis=0), d_attn_v


def _attention_chunk_forward(attn_length: int, inputs: Any, state: Sequence[Any], weights: Sequence[Any]):
    """AttentionCell.step over K time-major steps `inputs` [K, batch, input_size], unrolled.

    `state` is (c, h, attns, memory), memory time-major [L, batch, u] (oldest slot first); its
    keys m·attn_w are recomputed here (one matmul per chunk) rather than carried from chunk to
    chunk, which halves what the time loop keeps per chunk for backprop. Returns ((outputs
    [K, batch, u], c, h, attns, memory), saved) where `saved`
    holds the per-step activations the backward pass cannot recompute without the recurrence
    ([batch, u] each: c, h, the attention weights and contexts; the outputs are the results). The maths is
    AttentionCell.step's; only the FIFO is kept differently: at step t the window is the chunk's
    starting slots t..L-1 (scored over all L slots with the first t masked, see
    `_starting_slots_scores`) followed by the t outputs of this chunk so far (scored row by row), so
    the [batch, L, u] FIFO is never shifted or copied inside a chunk. Saved attention weights
    use a fixed layout [L starting slots ; K new outputs] with zeros outside the window.
    """
    import tensorflow as tf

    (w1, b1, kernel, recurrent_kernel, bias, attn_w, attn_v, query_kernel, query_bias, w2, b2) = weights
    c, h, attns, memory = state
    keys = _batched_dense(memory, attn_w)
    steps, length = int(inputs.shape[0]), attn_length
    lstm_kernel = tf.concat([kernel, recurrent_kernel], axis=0)
    memory_by_batch = tf.transpose(memory, [1, 0, 2])  # [batch, L, u] for batched matmuls
    saved: dict[str, list[Any]] = {name: [] for name in ("c", "h", "alpha", "attns")}
    outputs: list[Any] = []
    new_keys: list[Any] = []
    for t in range(steps):
        projected = tf.matmul(tf.concat([inputs[t], attns], axis=-1), w1) + b1
        gates = tf.matmul(tf.concat([projected, h], axis=-1), lstm_kernel) + bias
        gate_i, gate_f, gate_c, gate_o = tf.split(gates, 4, axis=-1)
        gate_i, gate_f, gate_c, gate_o = tf.sigmoid(gate_i), tf.sigmoid(gate_f), tf.tanh(gate_c), tf.sigmoid(gate_o)
        c = gate_f * c + gate_i * gate_c
        h = gate_o * tf.tanh(c)
        query = tf.matmul(tf.concat([c, h], axis=-1), query_kernel) + query_bias
        first_fresh = max(0, t - length)
        fresh = range(first_fresh, t)
        scores = []
        if t < length:
            scores.append(_starting_slots_scores(keys, query, attn_v, t))
        if fresh:
            scores.append(tf.stack([tf.linalg.matvec(tf.tanh(new_keys[s] + query), attn_v) for s in fresh]))
        alpha = tf.nn.softmax(tf.concat(scores, axis=0), axis=0)
        terms = [alpha[s - t][:, None] * outputs[s] for s in fresh]  # the last rows, in order
        batch_zeros = tf.zeros_like(alpha[:1])
        if t < length:
            # sum_j alpha_j m_j over the starting slots as one batched [1, L] x [L, u] product.
            terms.append(tf.matmul(tf.transpose(alpha[:length])[:, None, :], memory_by_batch)[:, 0, :])
            layout = [alpha[:length]]
        else:
            layout = [tf.tile(batch_zeros, [length, 1])]
        layout += [tf.tile(batch_zeros, [first_fresh, 1]), alpha[-len(fresh):] if fresh else batch_zeros[:0],
                   tf.tile(batch_zeros, [steps - t, 1])]
        attns = tf.add_n(terms)
        output = tf.matmul(tf.concat([h, attns], axis=-1), w2) + b2
        outputs.append(output)
        new_keys.append(tf.matmul(output, attn_w))
        for name, value in (("c", c), ("h", h), ("alpha", tf.concat(layout, axis=0)), ("attns", attns)):
            saved[name].append(value)
    stacked_outputs = tf.stack(outputs)
    # The new FIFO as its own [L, batch, u] buffer (a slice of a concatenation would keep the
    # whole concatenation alive while the loop holds this state for backprop).
    if steps < length:
        memory = tf.concat([memory[steps:], stacked_outputs], axis=0)
    else:
        memory = tf.identity(stacked_outputs[-length:])
    saved_tensors = {name: tf.stack(values) for name, values in saved.items()}
    return (stacked_outputs, c, h, attns, memory), saved_tensors


def _batched_dense(values: Any, kernel: Any, bias: Any = None) -> Any:
    """values [K, batch, n] x kernel [n, m] (+ bias) as one [K·batch, n] matmul."""
    import tensorflow as tf

    shape = tf.shape(values)
    result = tf.matmul(tf.reshape(values, [-1, int(values.shape[-1])]), kernel)
    if bias is not None:
        result = result + bias
    return tf.reshape(result, tf.concat([shape[:2], [int(kernel.shape[-1])]], axis=0))


def _attention_chunk_backward(attn_length: int, arguments: Sequence[Any], saved: dict, upstream: Sequence[Any]):
    """The gradients of `_attention_chunk_forward` for all its arguments, written out by hand.

    Recomputes what has no recurrence left (gates, queries, keys: one batched matmul each over
    the chunk's K·batch rows; the [L, batch, u] features tanh(k + y) step by step), then walks the
    steps backwards. Autodiff of the unrolled chunk gives the same numbers but runs several times
    slower on CPU (its FIFO gradients pad and add whole windows at every step).
    """
    import tensorflow as tf

    inputs, c0, h0, attns0, memory0 = arguments[:5]
    (w1, b1, kernel, recurrent_kernel, bias, attn_w, attn_v, query_kernel, query_bias, w2, b2) = arguments[5:]
    d_outputs, d_c_carry, d_h_carry, d_attns_carry, d_memory_new = upstream
    steps, length = int(inputs.shape[0]), attn_length
    units, input_size = int(c0.shape[-1]), int(inputs.shape[-1])
    lstm_kernel = tf.concat([kernel, recurrent_kernel], axis=0)
    # What the forward pass did not keep, recomputed for all K steps at once (no recurrence left).
    attns_all, h_all = tf.unstack(saved["attns"]), tf.unstack(saved["h"])
    attns_previous = tf.stack([attns0] + attns_all[:-1])
    projected_stacked = _batched_dense(tf.concat([inputs, attns_previous], axis=-1), w1, b1)
    h_previous_stacked = tf.stack([h0] + h_all[:-1])
    gates = _batched_dense(tf.concat([projected_stacked, h_previous_stacked], axis=-1), lstm_kernel, bias)
    gate_i, gate_f, gate_c, gate_o = tf.split(gates, 4, axis=-1)
    gates = tf.concat([tf.sigmoid(gate_i), tf.sigmoid(gate_f), tf.tanh(gate_c), tf.sigmoid(gate_o)], axis=-1)
    query_stacked = _batched_dense(tf.concat([saved["c"], saved["h"]], axis=-1), query_kernel, query_bias)
    keys_stacked = _batched_dense(saved["outputs"], attn_w)
    keys0 = _batched_dense(memory0, attn_w)
    outputs_all, keys_all = tf.unstack(saved["outputs"]), tf.unstack(keys_stacked)
    gates_all, c_all = tf.unstack(gates), tf.unstack(saved["c"])
    query_all, alpha_all = tf.unstack(query_stacked), tf.unstack(saved["alpha"])
    c_previous_all = [c0] + c_all[:-1]
    memory0_by_batch = tf.transpose(memory0, [1, 0, 2])  # [batch, L, u]

    # The final FIFO is slots K .. K+L-1 of [starting L slots ; K new outputs]: its gradient
    # reaches the starting slots K.. and this chunk's outputs.
    def upstream_old(gradient: Any) -> Any:
        if steps >= length:
            return tf.zeros_like(gradient)
        return tf.pad(gradient[: length - steps], [[steps, 0], [0, 0], [0, 0]])

    memory_terms = {s: ([d_memory_new[length + s - steps]] if length + s >= steps else []) for s in range(steps)}
    key_terms: dict[int, list[Any]] = {s: [] for s in range(steps)}  # outputs in the final FIFO: see d_memory0
    d_keys0 = tf.zeros_like(memory0)
    d_attns_steps = {}
    d_output_rows, d_key_rows, d_query_rows, d_gate_rows, d_projected_rows = {}, {}, {}, {}, {}
    d_attn_v_terms = []
    for t in reversed(range(steps)):
        d_key = tf.add_n(key_terms[t]) if key_terms[t] else tf.zeros_like(d_outputs[t])
        d_output = d_outputs[t] + tf.matmul(d_key, attn_w, transpose_b=True)
        if memory_terms[t]:
            d_output = d_output + tf.add_n(memory_terms[t])
        d_key_rows[t], d_output_rows[t] = d_key, d_output
        # Output projection o = [h ; a] W2 + b2.
        d_h_and_attns = tf.matmul(d_output, w2, transpose_b=True)
        d_h = d_h_and_attns[:, :units] + d_h_carry
        d_attns = d_h_and_attns[:, units:] + d_attns_carry
        d_attns_steps[t] = d_attns
        # Attention: a = sum_j alpha_j m_j, alpha = softmax_j(v . tanh(k_j + y)), in the window
        # order of the forward pass: [L starting slots (if t < L) ; fresh rows].
        query, alpha_layout = query_all[t], alpha_all[t]
        first_fresh = max(0, t - length)
        fresh = range(first_fresh, t)
        alpha, d_alpha = [], []
        if t < length:
            alpha.append(alpha_layout[:length])
            d_alpha.append(tf.transpose(tf.matmul(memory0_by_batch, d_attns[:, :, None])[:, :, 0]))
        if fresh:
            alpha.append(alpha_layout[length + first_fresh : length + t])
            d_alpha.append(tf.stack([tf.reduce_sum(outputs_all[s] * d_attns, axis=-1) for s in fresh]))
        alpha, d_alpha = tf.concat(alpha, axis=0), tf.concat(d_alpha, axis=0)
        d_scores = alpha * (d_alpha - tf.reduce_sum(alpha * d_alpha, axis=0, keepdims=True))
        d_query_terms = []
        if t < length:
            d_keys0, d_query_old, d_attn_v_old = _starting_slots_backward(keys0, query, attn_v, d_scores[:length], d_keys0)
            d_query_terms.append(d_query_old)
            d_attn_v_terms.append(d_attn_v_old)
        for s in fresh:
            d_score, feature = d_scores[s - t], tf.tanh(keys_all[s] + query)
            d_attn_v_terms.append(tf.linalg.matvec(feature, d_score, transpose_a=True))
            d_feature = tf.raw_ops.TanhGrad(y=feature, dy=d_score[:, None] * attn_v)
            d_query_terms.append(d_feature)
            key_terms[s].append(d_feature)
            memory_terms[s].append(alpha_layout[length + s][:, None] * d_attns)
        d_query = tf.add_n(d_query_terms)
        d_query_rows[t] = d_query
        # Query y = [c ; h] W3 + b3, then the LSTM.
        d_c_and_h = tf.matmul(d_query, query_kernel, transpose_b=True)
        gate_i, gate_f, gate_c, gate_o = tf.split(gates_all[t], 4, axis=-1)
        tanh_c = tf.tanh(c_all[t])
        d_h = d_h + d_c_and_h[:, units:]
        d_c = d_c_carry + d_c_and_h[:, :units] + d_h * gate_o * (1.0 - tanh_c * tanh_c)
        d_gates = tf.concat(
            [
                d_c * gate_c * gate_i * (1.0 - gate_i),
                d_c * c_previous_all[t] * gate_f * (1.0 - gate_f),
                d_c * gate_i * (1.0 - gate_c * gate_c),
                d_h * tanh_c * gate_o * (1.0 - gate_o),
            ],
            axis=-1,
        )
        d_gate_rows[t] = d_gates
        d_c_carry = d_c * gate_f
        d_projected_and_h = tf.matmul(d_gates, lstm_kernel, transpose_b=True)
        d_projected = d_projected_and_h[:, :input_size]
        d_h_carry = d_projected_and_h[:, input_size:]
        d_projected_rows[t] = d_projected
        d_attns_carry = tf.matmul(d_projected, w1[input_size:], transpose_b=True)

    # d m_j = sum_t alpha_t[j] d_attns_t over the starting slots: one batched [L, K] x [K, u] product.
    old_steps = range(min(steps, length))
    old_alpha = tf.stack([alpha_all[t][:length] for t in old_steps], axis=-1)  # [L, batch, steps]
    d_memory0 = tf.matmul(tf.transpose(old_alpha, [1, 0, 2]), tf.stack([d_attns_steps[t] for t in old_steps], 1))
    # ... plus the gradient through the recomputed keys m_j·attn_w, plus the next chunk's.
    d_memory0 = tf.transpose(d_memory0, [1, 0, 2]) + upstream_old(d_memory_new) + _batched_dense(
        d_keys0, tf.transpose(attn_w))

    # Weight gradients: one matmul over all K x batch rows each.
    def rows(values: Sequence[Any]) -> Any:
        return tf.concat(list(values), axis=0)

    def in_order(table: dict) -> Any:
        return rows([table[t] for t in range(steps)])

    d_projected_all, d_gates_all = in_order(d_projected_rows), in_order(d_gate_rows)
    d_query_all, d_output_all = in_order(d_query_rows), in_order(d_output_rows)
    d_w1 = tf.matmul(rows(tf.unstack(tf.concat([inputs, attns_previous], axis=-1))), d_projected_all,
                     transpose_a=True)
    d_lstm_kernel = tf.matmul(rows(tf.unstack(tf.concat([projected_stacked, h_previous_stacked], axis=-1))),
                              d_gates_all, transpose_a=True)
    d_query_kernel = tf.matmul(tf.concat([rows(c_all), rows(h_all)], axis=-1), d_query_all, transpose_a=True)
    d_w2 = tf.matmul(tf.concat([rows(h_all), rows(attns_all)], axis=-1), d_output_all, transpose_a=True)
    d_attn_w = tf.matmul(rows(outputs_all + tf.unstack(memory0)), rows([d_key_rows[t] for t in range(steps)]
                                                                         + tf.unstack(d_keys0)), transpose_a=True)
    d_inputs = tf.reshape(tf.matmul(d_projected_all, w1[:input_size], transpose_b=True), tf.shape(inputs))
    return [
        d_inputs, d_c_carry, d_h_carry, d_attns_carry, d_memory0,
        d_w1, tf.reduce_sum(d_projected_all, axis=0),
        d_lstm_kernel[:input_size], d_lstm_kernel[input_size:], tf.reduce_sum(d_gates_all, axis=0),
        d_attn_w, tf.add_n(d_attn_v_terms),
        d_query_kernel, tf.reduce_sum(d_query_all, axis=0),
        d_w2, tf.reduce_sum(d_output_all, axis=0),
    ]


def _make_chunk_op(attn_length: int):
    """A differentiable chunk function that keeps only small activations; its gradient recomputes the rest.

    Forward and backward are each one compiled graph function, and the weights come in as
    tensors, so the function can sit inside a tf.while_loop over chunks. (XLA-compiling them was
    tried: on CPU it compiled for a minute and ran the backward pass slower.)
    """
    import tensorflow as tf

    def forward(*arguments):
        results, saved = _attention_chunk_forward(attn_length, arguments[0], arguments[1:5], arguments[5:])
        saved["outputs"] = results[0]
        return results, saved

    def backward(arguments, saved, upstream):
        return _attention_chunk_backward(attn_length, arguments, saved, upstream)

    forward_function = tf.function(forward, autograph=False)
    backward_function = tf.function(backward, autograph=False)

    @tf.custom_gradient
    def chunk(*arguments):
        results, saved = forward_function(*arguments)

        def gradient(*upstream):
            # Zeros for unused results, shaped from the arguments: referring to `results` here
            # would make the while loop keep each chunk's final FIFO a second time for backprop.
            inputs, c = arguments[:2]
            shapes = [tf.concat([tf.shape(inputs)[:2], tf.shape(c)[1:]], 0)] + [tf.shape(a) for a in arguments[1:5]]
            upstream = [tf.zeros(shape) if u is None else u for shape, u in zip(shapes, upstream)]
            return backward_function(list(arguments), saved, upstream)

        return results, gradient

    return chunk


@keras.saving.register_keras_serializable(package="melodylib")
class AttentionRNN(keras.layers.RNN):
    """`keras.layers.RNN` over an AttentionCell, with a lean loop for whole sequences (issues 4, 9).

    Called on whole sequences from the zero state (training, evaluation), it runs the time loop
    in chunks of `chunk_length` steps, each chunk one graph function with a hand-written
    gradient. Per step it keeps only [batch, ≤ 4·units] activations for backprop and recomputes
    the [attn_length, batch, units] attention block in the backward pass (autodiff of the cell
    loop keeps several such blocks per step: 7 GB at batch 128 and 500 steps); the FIFO is
    copied once per chunk, not shifted every step. The weights and their names are the cell's
    and the maths is AttentionCell.step's (equal up to float rounding; tests compare outputs and
    gradients). With an initial state, return_state, a mask or go_backwards it is the plain RNN
    loop over the cell, which is also what StepModel and generation use.
    """

    def __init__(self, cell: AttentionCell, chunk_length: int = 8, **kwargs: Any) -> None:
        super().__init__(cell, **kwargs)
        if int(chunk_length) <= 0:
            raise MelodylibError(f"AttentionRNN chunk_length={chunk_length!r} must be a positive number of steps")
        self.chunk_length = int(chunk_length)
        self._chunk_op = None

    def call(self, sequences: Any, initial_state: Any = None, mask: Any = None, training: bool = False) -> Any:
        """The outputs [batch, time, units] (or the plain RNN's results outside the fast case)."""
        plain = (
            initial_state is not None
            or mask is not None
            or self.return_state
            or not self.return_sequences
            or self.go_backwards
            or self.stateful
            or not isinstance(self.cell, AttentionCell)
        )
        if plain:
            return super().call(sequences, initial_state=initial_state, mask=mask, training=training)
        return self._chunked_sequence(sequences)

    def _chunked_sequence(self, sequences: Any) -> Any:
        import tensorflow as tf

        cell = self.cell
        if self._chunk_op is None:
            self._chunk_op = _make_chunk_op(cell.attn_length)
        chunk_op = self._chunk_op
        units, length, chunk = cell.units, cell.attn_length, self.chunk_length
        sequences = tf.convert_to_tensor(sequences, dtype=tf.float32)
        batch = tf.shape(sequences)[0]
        steps = tf.shape(sequences)[1]
        # Time-major, padded at the end to whole chunks (at least one); the padded steps come
        # after every real step, so they change no real output and are cut off below.
        num_chunks = tf.maximum((steps + chunk - 1) // chunk, 1)
        time_major = tf.transpose(sequences, [1, 0, 2])
        time_major = tf.pad(time_major, [[0, num_chunks * chunk - steps], [0, 0], [0, 0]])
        chunks = tf.reshape(time_major, [num_chunks, chunk, batch, cell.input_size])
        # Read through a TensorArray: its gradient is written chunk by chunk, where indexing the
        # captured tensor would add a gradient the size of the whole input at every iteration.
        chunk_shape = [chunk, None, cell.input_size]
        chunks = tf.TensorArray(tf.float32, size=num_chunks, element_shape=chunk_shape).unstack(chunks)
        weights = [tf.convert_to_tensor(getattr(cell, name).value) for name in _CELL_WEIGHT_NAMES]
        zeros = tf.zeros([batch, units])
        window_zeros = tf.zeros([length, batch, units])  # time-major inside the loop
        outputs = tf.TensorArray(tf.float32, size=num_chunks, element_shape=[chunk, None, units])

        def body(index, outputs, c, h, attns, memory):
            chunk_outputs, c, h, attns, memory = chunk_op(chunks.read(index), c, h, attns, memory, *weights)
            return (index + 1, outputs.write(index, chunk_outputs), c, h, attns, memory)

        loop = tf.while_loop(
            lambda index, *rest: index < num_chunks,
            body,
            (tf.constant(0), outputs, zeros, zeros, zeros, window_zeros),
            maximum_iterations=num_chunks,
            # One chunk at a time, in the backward loop too: otherwise TensorFlow runs the
            # recomputation of up to 10 chunks ahead and holds all their [L, batch, u] blocks.
            parallel_iterations=1,
        )
        stacked = tf.reshape(loop[1].stack(), [num_chunks * chunk, batch, units])[:steps]
        return tf.transpose(stacked, [1, 0, 2])

    def get_config(self) -> dict[str, Any]:
        """Serialisable constructor arguments."""
        config = super().get_config()
        config.update({"chunk_length": self.chunk_length})
        return config
