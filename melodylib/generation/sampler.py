"""The whole sampling loop in one compiled TensorFlow function (beam size 1: Magenta's default).

Step-by-step sampling in Python pays, at every step, a compiled call plus the encoder's Python
for the next input. Here the histories, each encoder's running state and the RNN state stay
inside one `tf.while_loop`: the encoders are re-expressed as TensorFlow ops that update a small
state one event at a time (`melodylib.encoding.graph_encoders`; the numpy encoders stay the
reference, and a test checks that both give the same inputs and labels). The draws are the same
uniform numbers as the Python loop's, so a seed gives the same melodies on either path.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from melodylib.encoding.encoders import EventSequenceEncoder
from melodylib.encoding.graph_encoders import event_at, graph_encoder, supports_compiled_sampling
from melodylib.errors import MelodylibError

__all__ = ["CompiledRows", "CompiledSampler", "graph_encoder", "supports_compiled_sampling"]


# ---------------------------------------------------------------------------------------------
# The sampler
# ---------------------------------------------------------------------------------------------


@dataclass
class CompiledRows:
    """Every row's generation state as tensors: histories, encoder and RNN state, raw logits."""

    histories: Any
    encoder_state: dict
    rnn_state: list
    logits: Any

    def select(self, indices: Any) -> CompiledRows:
        """The rows at `indices`, in that order (beam search keeps and branches rows)."""
        import tensorflow as tf

        indices = tf.convert_to_tensor(np.asarray(indices), tf.int32)
        return CompiledRows(
            tf.gather(self.histories, indices),
            {name: tf.gather(part, indices) for name, part in self.encoder_state.items()},
            [tf.gather(part, indices) for part in self.rnn_state],
            tf.gather(self.logits, indices),
        )


class CompiledSampler:
    """Generation steps as compiled TensorFlow functions, over a `StepModel`'s cells and weights.

    `sample` runs plain sampling to the end in one call (one `tf.while_loop` over the steps);
    `start` and `extend` give beam search one compiled call per step for all its rows.
    """

    def __init__(self, step_model: Any, encoder: EventSequenceEncoder) -> None:
        import tensorflow as tf

        if not supports_compiled_sampling(encoder):
            raise MelodylibError(f"no compiled sampler for {type(encoder).__name__}")
        self.encoder = graph_encoder(encoder)
        self.cells = step_model.cells
        self.state_counts = [len(cell.state_size) for cell in self.cells]
        self.logits_layer = step_model.logits_layer
        # Partials, not bound methods: one retracing record per sampler (see StepModel).
        self._sample = tf.function(
            partial(CompiledSampler._sample_loop, self), reduce_retracing=True
        )
        self._prime = tf.function(
            partial(CompiledSampler._prime_encoder, self), reduce_retracing=True
        )
        self._extend = tf.function(partial(CompiledSampler._step, self), reduce_retracing=True)

    # --- the Python-facing calls --------------------------------------------------------------
    def start(
        self, histories: np.ndarray, primer_length: int, rnn_state: list, logits: np.ndarray
    ) -> CompiledRows:
        """Rows ready to generate from: `histories` [rows, num_steps] with each primer in its first
        `primer_length` columns, and the RNN state and raw logits [rows, classes] after the primer."""
        import tensorflow as tf

        histories = tf.constant(histories, tf.int32)
        return CompiledRows(
            histories,
            self._prime(histories, tf.constant(primer_length, tf.int32)),
            [tf.convert_to_tensor(part, tf.float32) for part in rnn_state],
            tf.constant(logits, tf.float64),
        )

    def sample(
        self, rows: CompiledRows, primer_length: int, uniforms: np.ndarray, temperature: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Fill every row to the end by sampling; returns (histories, log-likelihood of the new steps).

        `uniforms` [num_steps - primer_length, rows] are the draws in [0, 1).
        """
        import tensorflow as tf

        histories, scores = self._sample(
            rows.histories,
            rows.encoder_state,
            rows.rnn_state,
            rows.logits,
            tf.constant(primer_length, tf.int32),
            tf.constant(uniforms, tf.float64),
            tf.constant(temperature, tf.float64),
        )
        return histories.numpy().astype(np.int64), scores.numpy()

    def extend(
        self, rows: CompiledRows, position: int, uniforms: np.ndarray, temperature: float
    ) -> tuple[CompiledRows, np.ndarray, np.ndarray]:
        """Sample the event at `position` for every row; returns the new rows, the events and their
        log-probabilities.
        """
        import tensorflow as tf

        histories, encoder_state, rnn_state, logits, events, scores = self._extend(
            tf.constant(position, tf.int32),
            rows.histories,
            rows.encoder_state,
            rows.rnn_state,
            rows.logits,
            tf.constant(uniforms, tf.float64),
            tf.constant(temperature, tf.float64),
        )
        return (
            CompiledRows(histories, encoder_state, rnn_state, logits),
            events.numpy(),
            scores.numpy(),
        )

    # --- the compiled bodies ------------------------------------------------------------------
    def _prime_encoder(self, histories: Any, primer_length: Any) -> dict:
        """The encoder's running state over the primer (no model calls: the primer already ran)."""
        import tensorflow as tf

        encoder = self.encoder

        def prime(position, state):
            return position + 1, encoder.update(state, event_at(histories, position), position)

        _, state = tf.while_loop(
            lambda position, state: position < primer_length,
            prime,
            (tf.constant(0, tf.int32), encoder.initial_state(tf.shape(histories)[0])),
        )
        return state

    def _model_step(self, inputs: Any, rnn_state: list) -> tuple[Any, list]:
        """One step of every recurrent layer and the logits layer: inputs [rows, input_size]."""
        outputs, new_state, offset = inputs, [], 0
        for cell, count in zip(self.cells, self.state_counts, strict=False):
            outputs, layer_state = cell(
                outputs, list(rnn_state[offset : offset + count]), training=False
            )
            new_state.extend(layer_state)
            offset += count
        return self.logits_layer(outputs), new_state

    def _step(
        self,
        position: Any,
        histories: Any,
        encoder_state: dict,
        rnn_state: list,
        logits: Any,
        uniforms: Any,
        temperature: Any,
    ) -> tuple:
        """Draw the event at `position` for every row, then run the model on it (next logits)."""
        import tensorflow as tf

        encoder = self.encoder
        log_probabilities = tf.nn.log_softmax(logits / temperature, axis=-1)
        # The same draw as the Python loop: the number of cumulative probabilities <= u * total.
        cumulative = tf.cumsum(tf.exp(log_probabilities), axis=-1)
        draws = uniforms[:, None] * cumulative[:, -1:]
        num_classes = tf.shape(logits)[-1]
        classes = tf.minimum(
            tf.reduce_sum(tf.cast(cumulative <= draws, tf.int32), axis=-1), num_classes - 1
        )
        events = encoder.decode(classes, histories, position)
        columns = tf.range(tf.shape(histories)[1])
        histories = tf.where(tf.equal(columns, position)[None, :], events[:, None], histories)
        # Scored: the encoder's own label of the event (see MelodyGenerator._extend).
        labels = encoder.label(classes, histories, position)
        scores = tf.gather(log_probabilities, labels, axis=1, batch_dims=1)
        encoder_state = encoder.update(encoder_state, events, position)
        step_logits, rnn_state = self._model_step(
            encoder.features(encoder_state, histories, position), rnn_state
        )
        return histories, encoder_state, rnn_state, tf.cast(step_logits, tf.float64), events, scores

    def _sample_loop(
        self,
        histories: Any,
        encoder_state: dict,
        rnn_state: list,
        logits: Any,
        primer_length: Any,
        uniforms: Any,
        temperature: Any,
    ) -> tuple:
        import tensorflow as tf

        def step(position, histories, encoder_state, rnn_state, logits, scores):
            histories, encoder_state, rnn_state, logits, _, step_scores = self._step(
                position,
                histories,
                encoder_state,
                rnn_state,
                logits,
                uniforms[position - primer_length],
                temperature,
            )
            return position + 1, histories, encoder_state, rnn_state, logits, scores + step_scores

        num_steps = tf.shape(histories)[1]
        _, histories, _, _, _, scores = tf.while_loop(
            lambda position, *rest: position < num_steps,
            step,
            (
                primer_length,
                histories,
                encoder_state,
                list(rnn_state),
                logits,
                tf.zeros([tf.shape(histories)[0]], tf.float64),
            ),
        )
        return histories, scores
