"""An LSTM layer that recomputes its gates in the backward pass: less memory, more arithmetic.

Back-propagation through `keras.layers.LSTM`'s step loop keeps the gates and their products of
every step: about 330 MB per 128-unit layer for a batch of 128 melodies of 511 steps (measured).
`LeanLSTM` is the same layer (same weights, names, cell and maths, so checkpoints, bundles, the
Magenta import and step-by-step generation are unchanged) with a hand-written backward pass for
whole sequences: the forward loop keeps only c (h is the layer's output anyway), and the
backward loop recomputes each step's gates from them. Measured on 2 CPU cores: about 40% less
memory per layer (135 of 330 MB), 10 to 20% more time per layer. `build_model` uses it where
that trade pays: beside attention_rnn's attention layer, which holds the most memory and takes
most of the step time (there it saves about 150 MB at batch 128 for a few percent of time).
Tests check its outputs and gradients against Keras' LSTM.
"""

from __future__ import annotations

from typing import Any

import keras

__all__ = ["LeanLSTM"]


def _forward(inputs: Any, kernel: Any, recurrent_kernel: Any, bias: Any) -> tuple[Any, Any]:
    """Keras' LSTM over time-major `inputs` [T, batch, n] from the zero state.

    Returns (h [T, batch, u], c): c is a TensorArray of T + 1 entries [batch, u], the zero
    state first, kept as a TensorArray because stacking it would copy it.
    """
    import tensorflow as tf

    steps, batch = tf.shape(inputs)[0], tf.shape(inputs)[1]
    units = int(recurrent_kernel.shape[0])

    def body(t, h, c, hs, cs):
        # Two matmuls per step: faster on CPU than one input projection of all steps up front.
        pre_activations = tf.matmul(inputs[t], kernel) + tf.matmul(h, recurrent_kernel) + bias
        gate_i, gate_f, gate_c, gate_o = _activated(pre_activations)
        c = gate_f * c + gate_i * gate_c
        h = gate_o * tf.tanh(c)
        return t + 1, h, c, hs.write(t, h), cs.write(t + 1, c)

    zeros = tf.zeros([batch, units])
    hs = tf.TensorArray(tf.float32, size=steps, element_shape=[None, units])
    # Each c is read twice in the backward pass (as c and as the next step's c'), hence no clearing.
    cs = tf.TensorArray(
        tf.float32, size=steps + 1, element_shape=[None, units], clear_after_read=False
    )
    cs = cs.write(0, zeros)
    _, _, _, hs, cs = tf.while_loop(
        lambda t, *rest: t < steps,
        body,
        (tf.constant(0), zeros, zeros, hs, cs),
        maximum_iterations=steps,
    )
    return hs.stack(), cs


def _backward(
    inputs: Any, kernel: Any, recurrent_kernel: Any, bias: Any, hs: Any, cs: Any, d_hs: Any
) -> list[Any]:
    """The gradients of `_forward`'s h for (inputs, kernel, recurrent_kernel, bias).

    `d_hs` [T, batch, u] is the gradient of h.

    Walks the steps backwards. Only d h and d c pass from step to step, through a few ops and
    one small matmul; each step's gates (recomputed from its input, the h before, which is the
    layer's own output, and the saved c), their local derivatives and its share of the weight
    gradients do not depend on that chain, so TensorFlow runs them for the next steps alongside it.
    """
    import tensorflow as tf

    steps = tf.shape(inputs)[0]
    input_size, units = int(kernel.shape[0]), int(recurrent_kernel.shape[0])
    zeros = tf.zeros([tf.shape(hs)[1], units])
    h_previous = tf.concat([zeros[None], hs[:-1]], axis=0)

    def body(t, d_h, d_c, d_kernel, d_recurrent_kernel, d_bias, d_inputs):
        step_input, step_h_previous = inputs[t], h_previous[t]
        gate_i, gate_f, gate_c, gate_o = _activated(
            tf.matmul(step_input, kernel) + tf.matmul(step_h_previous, recurrent_kernel) + bias
        )
        tanh_c = tf.tanh(cs.read(t + 1))
        d_c_from_h = tf.raw_ops.TanhGrad(y=tanh_c, dy=gate_o)
        gate_derivatives = tf.concat(
            [
                tf.raw_ops.SigmoidGrad(y=gate_i, dy=gate_c),
                tf.raw_ops.SigmoidGrad(y=gate_f, dy=cs.read(t)),
                tf.raw_ops.TanhGrad(y=gate_c, dy=gate_i),
                tf.raw_ops.SigmoidGrad(y=gate_o, dy=tanh_c),
            ],
            axis=-1,
        )
        # The chain from step to step: d h, d c -> d gates -> d h, d c of the step before.
        d_h = d_h + d_hs[t]
        d_c = d_c + d_h * d_c_from_h
        d_gates = tf.concat([d_c, d_c, d_c, d_h], axis=-1) * gate_derivatives
        return (
            t - 1,
            tf.matmul(d_gates, recurrent_kernel, transpose_b=True),
            d_c * gate_f,
            d_kernel + tf.matmul(step_input, d_gates, transpose_a=True),
            d_recurrent_kernel + tf.matmul(step_h_previous, d_gates, transpose_a=True),
            d_bias + tf.reduce_sum(d_gates, axis=0),
            d_inputs.write(t, tf.matmul(d_gates, kernel, transpose_b=True)),
        )

    d_inputs = tf.TensorArray(tf.float32, size=steps, element_shape=[None, input_size])
    start = (
        steps - 1,
        zeros,
        zeros,
        tf.zeros_like(kernel),
        tf.zeros_like(recurrent_kernel),
        tf.zeros([4 * units]),
        d_inputs,
    )
    # Up to 32 steps in flight: the work off the d h / d c chain runs ahead on the other core.
    results = tf.while_loop(
        lambda t, *rest: t >= 0, body, start, maximum_iterations=steps, parallel_iterations=32
    )
    d_kernel, d_recurrent_kernel, d_bias, d_inputs = results[3:]
    return [d_inputs.stack(), d_kernel, d_recurrent_kernel, d_bias]


def _activated(pre_activations: Any) -> tuple[Any, Any, Any, Any]:
    """Split gate pre-activations [batch, 4u] (Keras order i, f, c, o) and apply sigmoid / tanh."""
    import tensorflow as tf

    gate_i, gate_f, gate_c, gate_o = tf.split(pre_activations, 4, axis=-1)
    return tf.sigmoid(gate_i), tf.sigmoid(gate_f), tf.tanh(gate_c), tf.sigmoid(gate_o)


def _make_sequence_op():
    """A differentiable whole-sequence LSTM (time-major) whose gradient is `_backward`.

    The tape sees one op: the forward loop runs with recording stopped, so nothing inside it is
    kept for backprop but what `_forward` saves.
    """
    import tensorflow as tf

    @tf.custom_gradient
    def sequence_op(inputs, kernel, recurrent_kernel, bias):
        hs, cs = _forward(inputs, kernel, recurrent_kernel, bias)

        def gradient(d_hs):
            return _backward(inputs, kernel, recurrent_kernel, bias, hs, cs, d_hs)

        return hs, gradient

    return sequence_op


@keras.saving.register_keras_serializable(package="melodylib")
class LeanLSTM(keras.layers.LSTM):
    """`keras.layers.LSTM` with a lean training loop over whole sequences (see the module doc).

    The lean loop runs when the layer maps whole sequences from the zero state with the
    standard activations and no dropout inside the layer (how every Melody RNN config uses it);
    anything else (initial states, masks, return_state, go_backwards, dropout, other
    activations) is the plain Keras LSTM.
    """

    def __init__(self, units: int, **kwargs: Any) -> None:
        super().__init__(units, **kwargs)
        self._sequence_op = None

    def _lean(self, initial_state: Any, mask: Any) -> bool:
        cell = self.cell
        return (
            initial_state is None
            and mask is None
            and self.return_sequences
            and not self.return_state
            and not self.go_backwards
            and not self.stateful
            and cell.use_bias
            and not cell.dropout
            and not cell.recurrent_dropout
            and cell.activation is keras.activations.tanh
            and cell.recurrent_activation is keras.activations.sigmoid
        )

    def call(
        self, sequences: Any, initial_state: Any = None, mask: Any = None, training: bool = False
    ) -> Any:
        """The outputs [batch, time, units] (or the plain LSTM's results outside the lean case)."""
        if not self._lean(initial_state, mask):
            return super().call(
                sequences, initial_state=initial_state, mask=mask, training=training
            )
        import tensorflow as tf

        if self._sequence_op is None:
            self._sequence_op = _make_sequence_op()
        cell = self.cell
        time_major = tf.transpose(tf.convert_to_tensor(sequences, dtype=tf.float32), [1, 0, 2])
        weights = [
            tf.convert_to_tensor(variable.value)
            for variable in (cell.kernel, cell.recurrent_kernel, cell.bias)
        ]
        return tf.transpose(self._sequence_op(time_major, *weights), [1, 0, 2])
