"""AttentionRNN: the attention layer for training, AttentionCell's maths over whole sequences.

Autodiff of the plain cell loop (`keras.layers.RNN(AttentionCell)`) keeps several
[attn_length, batch, units] blocks per step for back-propagation: 7 GB at batch 128 and 500
steps. `AttentionRNN` runs the time loop in chunks of 8 steps instead, each chunk one
differentiable op whose gradient is written by hand (the maths of one chunk is in
`attention_chunk`, forward, and `attention_chunk_backward`): per step it keeps only a few
[batch, ≤ 4·units] tensors and recomputes the rest in the backward pass. Generation and the
step model use the plain cell loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras

from melodylib.errors import MelodylibError
from melodylib.models.attention_cell import AttentionCell
from melodylib.models.lean.attention_chunk import (
    AttentionWeights,
    ChunkState,
    attention_chunk_forward,
)
from melodylib.models.lean.attention_chunk_backward import attention_chunk_backward

__all__ = ["AttentionRNN"]


def _make_chunk_op(
    attn_length: int,
) -> Callable[[Any, ChunkState, AttentionWeights], tuple[Any, ChunkState]]:
    """A differentiable chunk op keeping small activations only; its gradient recomputes the rest.

    ``chunk(inputs [K, batch, n], state, weights) -> (outputs [K, batch, u], final state)``.
    Forward and backward are each one compiled graph function, and the weights come in as
    tensors, so the function can sit inside a tf.while_loop over chunks. (XLA-compiling them was
    tried: on CPU it compiled for a minute and ran the backward pass slower.)
    """
    import tensorflow as tf

    # tf.custom_gradient passes tensors by position: [inputs, 4 state tensors, 11 weights].
    def unflatten(arguments: Any) -> tuple[Any, ChunkState, AttentionWeights]:
        return arguments[0], ChunkState(*arguments[1:5]), AttentionWeights(*arguments[5:])

    def forward(*arguments):
        outputs, state, saved = attention_chunk_forward(attn_length, *unflatten(arguments))
        return (outputs, *state), saved

    def backward(arguments, saved, upstream):
        d_inputs, d_state, d_weights = attention_chunk_backward(
            attn_length, *unflatten(arguments), saved, upstream[0], ChunkState(*upstream[1:])
        )
        return [d_inputs, *d_state, *d_weights]

    forward_function = tf.function(forward, autograph=False)
    backward_function = tf.function(backward, autograph=False)

    @tf.custom_gradient
    def flat_chunk(*arguments):
        results, saved = forward_function(*arguments)

        def gradient(*upstream):
            # Zeros for unused results, shaped from the arguments: referring to `results` here
            # would make the while loop keep each chunk's final FIFO a second time for backprop.
            inputs, c = arguments[:2]
            shapes = [tf.concat([tf.shape(inputs)[:2], tf.shape(c)[1:]], 0)] + [
                tf.shape(a) for a in arguments[1:5]
            ]
            upstream = [
                tf.zeros(shape) if u is None else u
                for shape, u in zip(shapes, upstream, strict=True)
            ]
            return backward_function(list(arguments), saved, upstream)

        return results, gradient

    def chunk(inputs: Any, state: ChunkState, weights: AttentionWeights) -> tuple[Any, ChunkState]:
        outputs, *final_state = flat_chunk(inputs, *state, *weights)
        return outputs, ChunkState(*final_state)

    return chunk


@keras.saving.register_keras_serializable(package="melodylib")
class AttentionRNN(keras.layers.RNN):
    """`keras.layers.RNN` over an AttentionCell, with a lean loop for whole sequences.

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
            raise MelodylibError(
                f"AttentionRNN chunk_length={chunk_length!r} must be a positive number of steps"
            )
        self.chunk_length = int(chunk_length)
        self._chunk_op = None

    def call(
        self, sequences: Any, initial_state: Any = None, mask: Any = None, training: bool = False
    ) -> Any:
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
            return super().call(
                sequences, initial_state=initial_state, mask=mask, training=training
            )
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
        chunks = tf.TensorArray(tf.float32, size=num_chunks, element_shape=chunk_shape).unstack(
            chunks
        )
        weights = AttentionWeights.of_cell(cell)
        zeros = tf.zeros([batch, units])
        window_zeros = tf.zeros([length, batch, units])  # time-major inside the loop
        outputs = tf.TensorArray(tf.float32, size=num_chunks, element_shape=[chunk, None, units])

        def body(index, outputs, c, h, attns, memory):
            chunk_outputs, state = chunk_op(
                chunks.read(index), ChunkState(c, h, attns, memory), weights
            )
            return (index + 1, outputs.write(index, chunk_outputs), *state)

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
