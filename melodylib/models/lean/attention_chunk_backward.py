"""One chunk of AttentionRNN's time loop: the backward pass, written out by hand.

`attention_chunk_backward` gives the gradients of `attention_chunk_forward`
(lean/attention_chunk.py, which also defines the NamedTuples both use). It recomputes what the
forward pass did not keep, then walks the steps backwards, each step in the reverse order of
AttentionCell's numbered steps: the output projection (6), the attention (5-4,
`_attention_step_backward`), then the query and the LSTM (3-2, `_lstm_step_backward`). The
weights' gradients are summed over all steps at the end (`_weight_gradients`), the starting
memory's from its three uses (`_starting_memory_gradient`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from melodylib.models.lean.attention_chunk import (
    AttentionWeights,
    ChunkSaved,
    ChunkState,
    activated_gates,
    batched_dense,
    starting_slots_features,
)

__all__ = ["attention_chunk_backward"]


class _Recomputed(NamedTuple):
    """The forward pass's values the backward pass needs, recomputed or unstacked from ChunkSaved.

    Lists hold one [batch, ...] tensor per step; the rest are stacked over the K steps.
    """

    projection_inputs: Any  # [K, batch, input_size + u]: [x ; previous attns]
    lstm_inputs: Any  # [K, batch, input_size + u]: [projected ; previous h]
    gates: list[Any]  # activated gates [batch, 4u]: sigmoid i, sigmoid f, tanh c, sigmoid o
    c: list[Any]
    c_previous: list[Any]
    h: list[Any]
    attns: list[Any]
    queries: list[Any]
    alpha: list[Any]  # [L + K, batch] each, ChunkSaved's layout
    outputs: list[Any]
    output_keys: list[Any]  # o_s·attn_w
    starting_keys: Any  # [L, batch, u]
    starting_memory_by_batch: Any  # [batch, L, u]


@dataclass
class _FifoGradients:
    """Gradient terms that a step's attention sends back to the slots of its window.

    A slot is either one of the chunk's starting slots (summed into `starting_keys` as the
    gradient of its key) or an earlier output s of this chunk (terms for o_s as a memory slot in
    `memory_terms[s]`, and for its key k_s in `key_terms[s]`).
    """

    memory_terms: dict[int, list[Any]]
    key_terms: dict[int, list[Any]]
    starting_keys: Any  # [L, batch, u]
    attn_v_terms: list[Any]


@dataclass
class _StepGradients:
    """Per-step gradients, one [batch, ...] tensor per step, for the weight gradients at the end."""

    keys: list[Any]
    outputs: list[Any]
    attns: list[Any]
    queries: list[Any]
    gates: list[Any]
    projected: list[Any]

    @classmethod
    def empty(cls, steps: int) -> _StepGradients:
        """Room for `steps` steps, filled from the last step back by `record`."""
        return cls(*([None] * steps for _ in range(6)))

    def record(self, t: int, **gradients: Any) -> None:
        """Store step t's gradients, given by field name."""
        for name, value in gradients.items():
            getattr(self, name)[t] = value


def attention_chunk_backward(
    attn_length: int,
    inputs: Any,
    state: ChunkState,
    weights: AttentionWeights,
    saved: ChunkSaved,
    d_outputs: Any,
    d_final_state: ChunkState,
) -> tuple[Any, ChunkState, AttentionWeights]:
    """The gradients of `attention_chunk_forward` for its inputs, starting state and weights.

    `d_outputs` [K, batch, u] and `d_final_state` are the gradients of its results. Recomputes
    what has no recurrence left (gates, queries, keys: one batched matmul each over the chunk's
    K·batch rows; the [L, batch, u] features tanh(k + y) step by step), then walks the steps
    backwards. Autodiff of the unrolled chunk gives the same numbers but runs several times
    slower on CPU (its FIFO gradients pad and add whole windows at every step).
    """
    import tensorflow as tf

    steps, length = int(inputs.shape[0]), attn_length
    units, input_size = int(state.c.shape[-1]), int(inputs.shape[-1])
    lstm_kernel = tf.concat([weights.kernel, weights.recurrent_kernel], axis=0)
    recomputed = _recompute(inputs, state, weights, saved, lstm_kernel)
    d_memory_new = d_final_state.memory
    # The final FIFO is slots K .. K+L-1 of [starting L slots ; K new outputs]: its gradient
    # reaches this chunk's outputs here, and the starting slots K.. in `_starting_memory_gradient`.
    fifo = _FifoGradients(
        memory_terms={
            s: ([d_memory_new[length + s - steps]] if length + s >= steps else [])
            for s in range(steps)
        },
        key_terms={s: [] for s in range(steps)},
        starting_keys=tf.zeros_like(state.memory),
        attn_v_terms=[],
    )
    rows = _StepGradients.empty(steps)
    d_c_carry, d_h_carry, d_attns_carry = d_final_state.c, d_final_state.h, d_final_state.attns
    for t in reversed(range(steps)):
        # 7. The output's gradient: as a result, as later steps' memory slot and as their key.
        key_terms, memory_terms = fifo.key_terms[t], fifo.memory_terms[t]
        d_key = tf.add_n(key_terms) if key_terms else tf.zeros_like(d_outputs[t])
        d_output = d_outputs[t] + tf.matmul(d_key, weights.attn_w, transpose_b=True)
        if memory_terms:
            d_output = d_output + tf.add_n(memory_terms)
        # 6. Output projection o = [h ; a] W2 + b2.
        d_h_and_attns = tf.matmul(d_output, weights.output_projection_kernel, transpose_b=True)
        d_h = d_h_and_attns[:, :units] + d_h_carry
        d_attns = d_h_and_attns[:, units:] + d_attns_carry
        # 5.-4. Attention.
        d_query = _attention_step_backward(length, t, d_attns, recomputed, weights.attn_v, fifo)
        # 3.-2. Query and LSTM; 1. the input projection's share of the step before.
        d_gates, d_projected, d_c_carry, d_h_carry = _lstm_step_backward(
            t, d_query, d_h, d_c_carry, recomputed, weights.query_kernel, lstm_kernel
        )
        d_attns_carry = tf.matmul(
            d_projected, weights.input_projection_kernel[input_size:], transpose_b=True
        )
        rows.record(
            t,
            keys=d_key,
            outputs=d_output,
            attns=d_attns,
            queries=d_query,
            gates=d_gates,
            projected=d_projected,
        )
    d_memory = _starting_memory_gradient(
        length, steps, recomputed, rows, fifo, d_memory_new, weights.attn_w
    )
    d_inputs = tf.reshape(
        tf.matmul(
            tf.concat(rows.projected, axis=0),
            weights.input_projection_kernel[:input_size],
            transpose_b=True,
        ),
        tf.shape(inputs),
    )
    d_weights = _weight_gradients(state.memory, recomputed, rows, fifo, input_size)
    return d_inputs, ChunkState(d_c_carry, d_h_carry, d_attns_carry, d_memory), d_weights


def _recompute(
    inputs: Any, state: ChunkState, weights: AttentionWeights, saved: ChunkSaved, lstm_kernel: Any
) -> _Recomputed:
    """What the forward pass did not keep, recomputed for all K steps at once (no recurrence)."""
    import tensorflow as tf

    attns, h = tf.unstack(saved.attns), tf.unstack(saved.h)
    c = tf.unstack(saved.c)
    projection_inputs = tf.concat([inputs, tf.stack([state.attns] + attns[:-1])], axis=-1)
    projected = batched_dense(
        projection_inputs, weights.input_projection_kernel, weights.input_projection_bias
    )
    lstm_inputs = tf.concat([projected, tf.stack([state.h] + h[:-1])], axis=-1)
    gates = tf.concat(
        activated_gates(batched_dense(lstm_inputs, lstm_kernel, weights.bias)), axis=-1
    )
    queries = batched_dense(
        tf.concat([saved.c, saved.h], axis=-1), weights.query_kernel, weights.query_bias
    )
    return _Recomputed(
        projection_inputs=projection_inputs,
        lstm_inputs=lstm_inputs,
        gates=tf.unstack(gates),
        c=c,
        c_previous=[state.c] + c[:-1],
        h=h,
        attns=attns,
        queries=tf.unstack(queries),
        alpha=tf.unstack(saved.alpha),
        outputs=tf.unstack(saved.outputs),
        output_keys=tf.unstack(batched_dense(saved.outputs, weights.attn_w)),
        starting_keys=batched_dense(state.memory, weights.attn_w),
        starting_memory_by_batch=tf.transpose(state.memory, [1, 0, 2]),
    )


def _attention_step_backward(
    attn_length: int,
    t: int,
    d_attns: Any,
    recomputed: _Recomputed,
    attn_v: Any,
    fifo: _FifoGradients,
) -> Any:
    """Backward of step t's attention a = Σ_j α_j m_j, α = softmax_j(v·tanh(k_j + y)): d y.

    Adds the gradients for the window's slots, their keys and attn_v into `fifo`. The window is
    in the forward pass's order: [L starting slots (if t < L) ; this chunk's earlier outputs].
    """
    import tensorflow as tf

    length = attn_length
    query, alpha_layout = recomputed.queries[t], recomputed.alpha[t]
    first_fresh = max(0, t - length)
    fresh = range(first_fresh, t)
    alpha, d_alpha = [], []
    if t < length:
        alpha.append(alpha_layout[:length])
        d_alpha_old = tf.matmul(recomputed.starting_memory_by_batch, d_attns[:, :, None])[:, :, 0]
        d_alpha.append(tf.transpose(d_alpha_old))
    if fresh:
        alpha.append(alpha_layout[length + first_fresh : length + t])
        d_alpha.append(
            tf.stack([tf.reduce_sum(recomputed.outputs[s] * d_attns, axis=-1) for s in fresh])
        )
    alpha, d_alpha = tf.concat(alpha, axis=0), tf.concat(d_alpha, axis=0)
    # 5. Softmax.
    d_scores = alpha * (d_alpha - tf.reduce_sum(alpha * d_alpha, axis=0, keepdims=True))
    # 4. Scores s_j = v·tanh(k_j + y).
    d_query_terms = []
    if t < length:
        fifo.starting_keys, d_query_old, d_attn_v_old = _starting_slots_backward(
            recomputed.starting_keys, query, attn_v, d_scores[:length], fifo.starting_keys
        )
        d_query_terms.append(d_query_old)
        fifo.attn_v_terms.append(d_attn_v_old)
    for s in fresh:
        d_score, feature = d_scores[s - t], tf.tanh(recomputed.output_keys[s] + query)
        fifo.attn_v_terms.append(tf.linalg.matvec(feature, d_score, transpose_a=True))
        d_feature = tf.raw_ops.TanhGrad(y=feature, dy=d_score[:, None] * attn_v)
        d_query_terms.append(d_feature)
        fifo.key_terms[s].append(d_feature)
        fifo.memory_terms[s].append(alpha_layout[length + s][:, None] * d_attns)
    return tf.add_n(d_query_terms)


def _starting_slots_backward(
    keys: Any, query: Any, attn_v: Any, d_scores: Any, d_keys: Any
) -> tuple[Any, Any, Any]:
    """Backward of attention_chunk's `_starting_slots_scores`: (d_keys + d keys, d query, d attn_v).

    Recomputes the tanh features rather than keeping them. `d_scores` [L, batch] is zero on the
    masked slots. `d_keys` accumulates the key gradients of the whole chunk slot by slot (a slot
    keeps its index in the starting FIFO at every step).
    """
    import tensorflow as tf

    features = starting_slots_features(keys, query)
    # (d_score ⊗ v)·(1 - tanh²): an outer product by matmul, then TensorFlow's fused TanhGrad.
    outer = tf.reshape(
        tf.matmul(tf.reshape(d_scores, [-1, 1]), attn_v[None, :]), tf.shape(features)
    )
    d_features = tf.raw_ops.TanhGrad(y=features, dy=outer)
    d_attn_v = tf.tensordot(d_scores, features, axes=[[0, 1], [0, 1]])
    return d_keys + d_features, tf.reduce_sum(d_features, axis=0), d_attn_v


def _lstm_step_backward(
    t: int,
    d_query: Any,
    d_h: Any,
    d_c_carry: Any,
    recomputed: _Recomputed,
    query_kernel: Any,
    lstm_kernel: Any,
) -> tuple[Any, Any, Any, Any]:
    """Backward of step t's query y = [c ; h] W3 + b3 and LSTM (gates i, f, c, o).

    `d_h` is h's gradient from the output projection and the next step, `d_c_carry` c's from
    the next step. Returns (d gates [batch, 4u], d projected input, d c and d h of the step before).
    """
    import tensorflow as tf

    units = int(lstm_kernel.shape[1]) // 4
    input_size = int(lstm_kernel.shape[0]) - units
    d_c_and_h = tf.matmul(d_query, query_kernel, transpose_b=True)
    gate_i, gate_f, gate_c, gate_o = tf.split(recomputed.gates[t], 4, axis=-1)
    tanh_c = tf.tanh(recomputed.c[t])
    d_h = d_h + d_c_and_h[:, units:]
    d_c = d_c_carry + d_c_and_h[:, :units] + d_h * gate_o * (1.0 - tanh_c * tanh_c)
    d_gates = tf.concat(
        [
            d_c * gate_c * gate_i * (1.0 - gate_i),
            d_c * recomputed.c_previous[t] * gate_f * (1.0 - gate_f),
            d_c * gate_i * (1.0 - gate_c * gate_c),
            d_h * tanh_c * gate_o * (1.0 - gate_o),
        ],
        axis=-1,
    )
    d_projected_and_h = tf.matmul(d_gates, lstm_kernel, transpose_b=True)
    return (
        d_gates,
        d_projected_and_h[:, :input_size],
        d_c * gate_f,
        d_projected_and_h[:, input_size:],
    )


def _starting_memory_gradient(
    attn_length: int,
    steps: int,
    recomputed: _Recomputed,
    rows: _StepGradients,
    fifo: _FifoGradients,
    d_memory_new: Any,
    attn_w: Any,
) -> Any:
    """The gradient of the chunk's starting memory [L, batch, u], from its three uses.

    A starting slot m_j is read by the attention of the first steps (Σ_t α_t[j] d a_t), gives
    its key k_j = m_j·attn_w, and, unless it left the window, is part of the final FIFO.
    """
    import tensorflow as tf

    length = attn_length
    # Σ_t α_t[j] d a_t over the starting slots: one batched [L, K] x [K, u] product.
    old_steps = range(min(steps, length))
    # [L, batch, steps]
    old_alpha = tf.stack([recomputed.alpha[t][:length] for t in old_steps], axis=-1)
    d_memory = tf.matmul(
        tf.transpose(old_alpha, [1, 0, 2]), tf.stack([rows.attns[t] for t in old_steps], 1)
    )
    # Slots K.. of the starting FIFO are slots 0..L-K-1 of the final one.
    if steps >= length:
        d_final_fifo = tf.zeros_like(d_memory_new)
    else:
        d_final_fifo = tf.pad(d_memory_new[: length - steps], [[steps, 0], [0, 0], [0, 0]])
    d_keys = batched_dense(fifo.starting_keys, tf.transpose(attn_w))
    return tf.transpose(d_memory, [1, 0, 2]) + d_final_fifo + d_keys


def _weight_gradients(
    starting_memory: Any,
    recomputed: _Recomputed,
    rows: _StepGradients,
    fifo: _FifoGradients,
    input_size: int,
) -> AttentionWeights:
    """The weights' gradients summed over the chunk: one matmul over all K × batch rows each."""
    import tensorflow as tf

    def stacked_rows(values: list[Any]) -> Any:
        return tf.concat(list(values), axis=0)

    d_projected, d_gates = stacked_rows(rows.projected), stacked_rows(rows.gates)
    d_queries, d_outputs = stacked_rows(rows.queries), stacked_rows(rows.outputs)
    c, h, attns = (
        stacked_rows(recomputed.c),
        stacked_rows(recomputed.h),
        stacked_rows(recomputed.attns),
    )
    d_w1 = tf.matmul(
        stacked_rows(tf.unstack(recomputed.projection_inputs)), d_projected, transpose_a=True
    )
    d_lstm_kernel = tf.matmul(
        stacked_rows(tf.unstack(recomputed.lstm_inputs)), d_gates, transpose_a=True
    )
    d_attn_w = tf.matmul(
        stacked_rows(recomputed.outputs + tf.unstack(starting_memory)),
        stacked_rows(rows.keys + tf.unstack(fifo.starting_keys)),
        transpose_a=True,
    )
    return AttentionWeights(
        input_projection_kernel=d_w1,
        input_projection_bias=tf.reduce_sum(d_projected, axis=0),
        kernel=d_lstm_kernel[:input_size],
        recurrent_kernel=d_lstm_kernel[input_size:],
        bias=tf.reduce_sum(d_gates, axis=0),
        attn_w=d_attn_w,
        attn_v=tf.add_n(fifo.attn_v_terms),
        query_kernel=tf.matmul(tf.concat([c, h], axis=-1), d_queries, transpose_a=True),
        query_bias=tf.reduce_sum(d_queries, axis=0),
        output_projection_kernel=tf.matmul(
            tf.concat([h, attns], axis=-1), d_outputs, transpose_a=True
        ),
        output_projection_bias=tf.reduce_sum(d_outputs, axis=0),
    )
