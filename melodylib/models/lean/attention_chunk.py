"""One chunk of AttentionRNN's time loop: the contract and the forward pass.

`AttentionRNN` (lean/attention_rnn.py) cuts a sequence into chunks of K steps and runs each as
one differentiable op:

- `attention_chunk_forward` (here) runs AttentionCell.step K times and keeps, per step, only a
  few [batch, ≤ 4·units] activations (a `ChunkSaved`), never the [attn_length, batch, units]
  attention block;
- `attention_chunk_backward` (lean/attention_chunk_backward.py) recomputes the rest and walks the
  steps backwards to give the gradients.

The two talk through the NamedTuples defined here: `ChunkState` (the state carried from chunk
to chunk), `AttentionWeights` (the cell's eleven weights, by name) and `ChunkSaved` (what the
forward pass keeps). Inside a chunk every tensor is time-major: inputs [K, batch, input_size],
the memory (the FIFO of the last L = attn_length outputs) [L, batch, units], oldest slot first.
The maths is AttentionCell.step's; tests check outputs and gradients against the plain cell loop.
"""

from __future__ import annotations

from typing import Any, NamedTuple

__all__ = [
    "AttentionWeights",
    "ChunkSaved",
    "ChunkState",
    "activated_gates",
    "attention_chunk_forward",
    "batched_dense",
    "starting_slots_features",
]


class AttentionWeights(NamedTuple):
    """AttentionCell's eleven weights as tensors (or their gradients), named as in the cell."""

    input_projection_kernel: Any  # W1 [input_size + u, input_size], over [x ; attns]
    input_projection_bias: Any  # b1 [input_size]
    kernel: Any  # LSTM [input_size, 4u], gate order i, f, c, o
    recurrent_kernel: Any  # LSTM [u, 4u]
    bias: Any  # LSTM [4u]
    attn_w: Any  # key projection [u, u]: k_j = m_j·attn_w
    attn_v: Any  # score vector [u]
    query_kernel: Any  # W3 [2u, u], over [c ; h]
    query_bias: Any  # b3 [u]
    output_projection_kernel: Any  # W2 [2u, u], over [h ; a]
    output_projection_bias: Any  # b2 [u]

    @classmethod
    def of_cell(cls, cell: Any) -> AttentionWeights:
        """The current values of a built AttentionCell's weights (read by name)."""
        import tensorflow as tf

        return cls(*(tf.convert_to_tensor(getattr(cell, name).value) for name in cls._fields))


class ChunkState(NamedTuple):
    """The recurrent state carried from chunk to chunk (or its gradient).

    c, h, attns are [batch, u]; memory is [L, batch, u], time-major, oldest slot first. The keys
    m·attn_w are not carried: each chunk recomputes them in one matmul, which halves what the
    chunk loop keeps for backprop.
    """

    c: Any
    h: Any
    attns: Any
    memory: Any


class ChunkSaved(NamedTuple):
    """What the forward pass keeps for the backward pass, each stacked over the K steps.

    c, h, attns, outputs: [K, batch, u]. alpha: the attention weights [K, L + K, batch] in a fixed
    layout, [L starting slots ; K new outputs], with zeros outside each step's window.
    """

    c: Any
    h: Any
    attns: Any
    alpha: Any
    outputs: Any


# --------------------------------------------------------------------------------------------
# Forward
# --------------------------------------------------------------------------------------------


def attention_chunk_forward(
    attn_length: int, inputs: Any, state: ChunkState, weights: AttentionWeights
) -> tuple[Any, ChunkState, ChunkSaved]:
    """AttentionCell.step over K time-major steps `inputs` [K, batch, input_size], unrolled.

    Returns (outputs [K, batch, u], the state after the chunk, what the backward pass needs).
    Only the FIFO is kept differently from the cell: at step t the window is the chunk's
    starting slots t..L-1 (scored over all L slots with the first t masked, see
    `_starting_slots_scores`) followed by the t outputs of this chunk so far (scored row by
    row), so the [batch, L, u] FIFO is never shifted or copied inside a chunk.
    """
    import tensorflow as tf

    c, h, attns, memory = state
    keys = batched_dense(memory, weights.attn_w)
    steps = int(inputs.shape[0])
    lstm_kernel = tf.concat([weights.kernel, weights.recurrent_kernel], axis=0)
    memory_by_batch = tf.transpose(memory, [1, 0, 2])  # [batch, L, u] for batched matmuls
    saved: dict[str, list[Any]] = {name: [] for name in ("c", "h", "alpha", "attns")}
    outputs: list[Any] = []
    new_keys: list[Any] = []
    for t in range(steps):
        # 1. Input projection of [x; previous context], 2. the LSTM.
        projected = (
            tf.matmul(tf.concat([inputs[t], attns], axis=-1), weights.input_projection_kernel)
            + weights.input_projection_bias
        )
        gates = tf.matmul(tf.concat([projected, h], axis=-1), lstm_kernel) + weights.bias
        gate_i, gate_f, gate_c, gate_o = activated_gates(gates)
        c = gate_f * c + gate_i * gate_c
        h = gate_o * tf.tanh(c)
        # 3.-5. The query, then attention over the window.
        query = tf.matmul(tf.concat([c, h], axis=-1), weights.query_kernel) + weights.query_bias
        attns, alpha_layout = _attention_step_forward(
            attn_length, steps, t, query, keys, new_keys, outputs, memory_by_batch, weights.attn_v
        )
        # 6. Output projection of [h; context]; 7. its key, for the steps after it.
        output = (
            tf.matmul(tf.concat([h, attns], axis=-1), weights.output_projection_kernel)
            + weights.output_projection_bias
        )
        outputs.append(output)
        new_keys.append(tf.matmul(output, weights.attn_w))
        for name, value in (("c", c), ("h", h), ("alpha", alpha_layout), ("attns", attns)):
            saved[name].append(value)
    stacked_outputs = tf.stack(outputs)
    # 7. The new FIFO as its own [L, batch, u] buffer (a slice of a concatenation would keep the
    # whole concatenation alive while the loop holds this state for backprop).
    if steps < attn_length:
        memory = tf.concat([memory[steps:], stacked_outputs], axis=0)
    else:
        memory = tf.identity(stacked_outputs[-attn_length:])
    stacked = {name: tf.stack(values) for name, values in saved.items()}
    return (
        stacked_outputs,
        ChunkState(c, h, attns, memory),
        ChunkSaved(**stacked, outputs=stacked_outputs),
    )


def _attention_step_forward(
    attn_length: int,
    steps: int,
    t: int,
    query: Any,
    keys: Any,
    new_keys: list[Any],
    outputs: list[Any],
    memory_by_batch: Any,
    attn_v: Any,
) -> tuple[Any, Any]:
    """Steps 4-5 at step t of the chunk: (context a [batch, u], α [L + K, batch]).

    α comes in ChunkSaved's layout.

    The window is the starting slots t..L-1 (`keys` [L, batch, u], `memory_by_batch`
    [batch, L, u]) followed by this chunk's outputs so far (`outputs`, `new_keys`: t rows).
    """
    import tensorflow as tf

    length = attn_length
    first_fresh = max(0, t - length)
    fresh = range(first_fresh, t)
    scores = []
    if t < length:
        scores.append(_starting_slots_scores(keys, query, attn_v, t))
    if fresh:
        scores.append(
            tf.stack([tf.linalg.matvec(tf.tanh(new_keys[s] + query), attn_v) for s in fresh])
        )
    alpha = tf.nn.softmax(tf.concat(scores, axis=0), axis=0)
    terms = [alpha[s - t][:, None] * outputs[s] for s in fresh]  # the last rows, in order
    batch_zeros = tf.zeros_like(alpha[:1])
    if t < length:
        # sum_j alpha_j m_j over the starting slots as one batched [1, L] x [L, u] product.
        terms.append(tf.matmul(tf.transpose(alpha[:length])[:, None, :], memory_by_batch)[:, 0, :])
        layout = [alpha[:length]]
    else:
        layout = [tf.tile(batch_zeros, [length, 1])]
    layout += [
        tf.tile(batch_zeros, [first_fresh, 1]),
        alpha[-len(fresh) :] if fresh else batch_zeros[:0],
        tf.tile(batch_zeros, [steps - t, 1]),
    ]
    return tf.add_n(terms), tf.concat(layout, axis=0)


def activated_gates(gates: Any) -> tuple[Any, Any, Any, Any]:
    """Split gate pre-activations [batch, 4u] (order i, f, c, o) and apply sigmoid / tanh."""
    import tensorflow as tf

    gate_i, gate_f, gate_c, gate_o = tf.split(gates, 4, axis=-1)
    return tf.sigmoid(gate_i), tf.sigmoid(gate_f), tf.tanh(gate_c), tf.sigmoid(gate_o)


def batched_dense(values: Any, kernel: Any, bias: Any = None) -> Any:
    """values [K, batch, n] x kernel [n, m] (+ bias) as one [K·batch, n] matmul."""
    import tensorflow as tf

    shape = tf.shape(values)
    result = tf.matmul(tf.reshape(values, [-1, int(values.shape[-1])]), kernel)
    if bias is not None:
        result = result + bias
    return tf.reshape(result, tf.concat([shape[:2], [int(kernel.shape[-1])]], axis=0))


# --------------------------------------------------------------------------------------------
# The starting slots: the chunk's initial FIFO, scored as one block (its backward pass is in
# attention_chunk_backward)
# --------------------------------------------------------------------------------------------


def starting_slots_features(keys: Any, query: Any) -> Any:
    """tanh(k_j + y) for time-major keys [L, batch, u] and the query [batch, u].

    The sum is a bias_add over [L, batch·u] rows: TensorFlow's fast path for this broadcast.
    """
    import tensorflow as tf

    flat = tf.reshape(keys, [int(keys.shape[0]), -1])
    return tf.reshape(tf.tanh(tf.nn.bias_add(flat, tf.reshape(query, [-1]))), tf.shape(keys))


def _starting_slots_scores(keys: Any, query: Any, attn_v: Any, first_slot: int) -> Any:
    """Scores v·tanh(k_j + y) [L, batch] of the chunk's starting slots, -inf before `first_slot`.

    Slots before `first_slot` have left the window at this step. Keeping their rows (masked)
    aligns every step's block with the starting FIFO, so the backward pass can add each step's
    key gradients straight into one [L, batch, u] sum.
    """
    import tensorflow as tf

    features = starting_slots_features(keys[first_slot:], query)  # a free slice
    scores = tf.tensordot(features, attn_v, axes=1)
    if first_slot == 0:
        return scores
    return tf.concat([tf.fill([first_slot, tf.shape(scores)[1]], float("-inf")), scores], axis=0)
