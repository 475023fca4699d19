"""The whole sampling loop in one compiled TensorFlow function (beam size 1: Magenta's default).

Step-by-step sampling in Python pays, at every step, a compiled call plus the encoder's Python
for the next input. Here the histories, each encoder's running state and the RNN state stay
inside one `tf.while_loop`: the encoders are re-expressed as TensorFlow ops that update a small
state one event at a time (the numpy encoders in `melodylib.encoding.encoders` stay the reference; a test
checks that both give the same inputs and labels). The draws are the same uniform numbers as the
Python loop's, so a seed gives the same melodies on either path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from melodylib.encoding.encoders import KEY_MEMBERSHIP, EventSequenceEncoder, KeyEncoder, LookbackEncoder, OneHotEncoder
from melodylib.errors import MelodylibError
from melodylib.music.events import DEFAULT_STEPS_PER_BAR, NO_EVENT, NOTE_OFF, NOTES_PER_OCTAVE


def supports_compiled_sampling(encoder: EventSequenceEncoder) -> bool:
    """True for the three encoders of the Melody RNN configs over a melody one-hot range."""
    if isinstance(encoder, KeyEncoder):
        return True
    return isinstance(encoder, (OneHotEncoder, LookbackEncoder)) and hasattr(encoder.encoding, "min_note")


# ---------------------------------------------------------------------------------------------
# Encoders as TensorFlow ops. Each has: a running state (dict of [batch, ...] tensors), `update`
# with the event just placed at `position`, `features` (the input row for that position),
# `decode` (class -> event, looking back in the history) and `label` (the encoder's label of
# the event at `position`, which is what a melody's log-likelihood scores).
# ---------------------------------------------------------------------------------------------


class _GraphOneHot:
    """MelodyOneHotEncoding in ops: class 0 = NO_EVENT, 1 = NOTE_OFF, k >= 2 = pitch min_note + k - 2."""

    def __init__(self, min_note: int, max_note: int) -> None:
        self.min_note = int(min_note)
        self.num_classes = int(max_note) - int(min_note) + 2

    def index(self, events: Any) -> Any:
        import tensorflow as tf

        return tf.where(events < 0, events + 2, events - self.min_note + 2)

    def event(self, classes: Any) -> Any:
        import tensorflow as tf

        return tf.where(classes < 2, classes - 2, classes - 2 + self.min_note)


def _event_at(history: Any, position: Any) -> Any:
    """history[:, position] for a scalar position tensor."""
    import tensorflow as tf

    return tf.gather(history, position, axis=1)


def _looked_back(history: Any, position: Any, distance: int, default_event: int) -> Any:
    """history[:, position - distance], or the default event where that is before the start."""
    import tensorflow as tf

    source = position - distance
    earlier = _event_at(history, tf.maximum(source, 0))
    return tf.where(source >= 0, earlier, tf.fill(tf.shape(earlier), tf.constant(default_event, history.dtype)))


def _repeat_flag(history: Any, position: Any, distance: int) -> Any:
    """1.0 where the event at `position` equals the one `distance` steps back (0.0 before the start)."""
    import tensorflow as tf

    source = position - distance
    same = tf.equal(_event_at(history, position), _event_at(history, tf.maximum(source, 0)))
    return tf.cast(tf.logical_and(same, source >= 0), tf.float32)


def _counter_bits(position: Any, batch_size: Any, num_bits: int) -> Any:
    """The binary counter of position + 1 as +1.0 / -1.0, one row per sequence (see encoders._counter_bits)."""
    import tensorflow as tf

    bits = tf.bitwise.bitwise_and(tf.bitwise.right_shift(position + 1, tf.range(num_bits, dtype=position.dtype)), 1)
    row = tf.cast(2 * bits - 1, tf.float32)
    return tf.tile(row[None, :], [batch_size, 1])


def _lookback_label(history: Any, position: Any, base: Any, distances: tuple[int, ...], first_lookback_class: int,
                    default_event: int) -> Any:
    """Lookback labels (§3.3): later distances override earlier ones; the early default-event rule last."""
    import tensorflow as tf

    label = base
    for number, distance in enumerate(distances):
        label = tf.where(_repeat_flag(history, position, distance) > 0, first_lookback_class + number, label)
    if distances:
        early_default = tf.logical_and(position < distances[-1],
                                       tf.equal(_event_at(history, position), default_event))
        label = tf.where(early_default, first_lookback_class + len(distances) - 1, label)
    return label


class _GraphOneHotEncoder:
    """OneHotEncoder (basic_rnn, mono_rnn): the input is the one-hot of the event; classes are events."""

    def __init__(self, encoder: OneHotEncoder) -> None:
        self.one_hot = _GraphOneHot(encoder.encoding.min_note, encoder.encoding.max_note)

    def initial_state(self, batch_size: Any) -> dict:
        return {}

    def update(self, state: dict, event: Any, position: Any) -> dict:
        return state

    def features(self, state: dict, history: Any, position: Any) -> Any:
        import tensorflow as tf

        return tf.one_hot(self.one_hot.index(_event_at(history, position)), self.one_hot.num_classes)

    def decode(self, classes: Any, history: Any, position: Any) -> Any:
        return self.one_hot.event(classes)

    def label(self, classes: Any, history: Any, position: Any) -> Any:
        return classes


class _GraphLookbackEncoder:
    """LookbackEncoder (lookback_rnn): one-hot, the events one lookback back, counter, repeat flags."""

    def __init__(self, encoder: LookbackEncoder) -> None:
        self.one_hot = _GraphOneHot(encoder.encoding.min_note, encoder.encoding.max_note)
        self.distances = encoder.lookback_distances
        self.num_bits = encoder.binary_counter_bits

    def initial_state(self, batch_size: Any) -> dict:
        return {}

    def update(self, state: dict, event: Any, position: Any) -> dict:
        return state

    def features(self, state: dict, history: Any, position: Any) -> Any:
        import tensorflow as tf

        num_classes = self.one_hot.num_classes
        parts = [tf.one_hot(self.one_hot.index(_event_at(history, position)), num_classes)]
        for distance in self.distances:
            # The event one lookback before the event being predicted (position + 1).
            parts.append(tf.one_hot(self.one_hot.index(_looked_back(history, position + 1, distance, NO_EVENT)),
                                    num_classes))
        parts.append(_counter_bits(position, tf.shape(history)[0], self.num_bits))
        parts.extend(_repeat_flag(history, position, distance)[:, None] for distance in self.distances)
        return tf.concat(parts, axis=-1)

    def decode(self, classes: Any, history: Any, position: Any) -> Any:
        import tensorflow as tf

        num_classes = self.one_hot.num_classes
        events = self.one_hot.event(tf.minimum(classes, num_classes - 1))
        for number, distance in enumerate(self.distances):
            events = tf.where(tf.equal(classes, num_classes + number),
                              _looked_back(history, position, distance, NO_EVENT), events)
        return events

    def label(self, classes: Any, history: Any, position: Any) -> Any:
        base = self.one_hot.index(_event_at(history, position))
        return _lookback_label(history, position, base, self.distances, self.one_hot.num_classes, NO_EVENT)


class _GraphKeyEncoder:
    """KeyEncoder (attention_rnn, §3.4) with its prefix scan kept as a running state.

    State: the current note (last event that is not NO_EVENT), the attack flag, the melodic
    direction, the pitch-class histogram of every note-on and the "last 3 distinct notes" list
    (most recent last, -1 for an empty slot).
    """

    def __init__(self, encoder: KeyEncoder) -> None:
        self.min_note = encoder.min_note
        self.num_pitches = encoder.num_pitches
        self.distances = encoder.lookback_distances
        self.num_bits = encoder.binary_counter_bits

    def initial_state(self, batch_size: Any) -> dict:
        import tensorflow as tf

        return {
            "current_note": tf.fill([batch_size], tf.constant(NOTE_OFF, tf.int32)),
            "attack": tf.zeros([batch_size], tf.float32),
            "direction": tf.zeros([batch_size], tf.float32),
            "histogram": tf.zeros([batch_size, NOTES_PER_OCTAVE], tf.float32),
            "recent": tf.fill([batch_size, 3], tf.constant(-1, tf.int32)),
        }

    def update(self, state: dict, event: Any, position: Any) -> dict:
        import tensorflow as tf

        note_on = event >= 0
        current_note = tf.where(tf.equal(event, NO_EVENT), state["current_note"], event)
        attack = tf.where(note_on, 1.0, tf.where(tf.equal(event, NO_EVENT), 0.0, state["attack"]))
        # Direction: compared with the most recent note of the list; an equal pitch keeps the old value.
        recent = state["recent"]
        previous = recent[:, 2]
        moved = tf.logical_and(note_on, tf.logical_and(previous >= 0, tf.not_equal(event, previous)))
        direction = tf.where(moved, tf.sign(tf.cast(event - previous, tf.float32)), state["direction"])
        pitch_class = tf.math.floormod(tf.maximum(event, 0), NOTES_PER_OCTAVE)
        histogram = state["histogram"] + tf.one_hot(pitch_class, NOTES_PER_OCTAVE) * tf.cast(note_on, tf.float32)[:, None]
        # "Last 3 notes": remove the pitch if present, append it, keep the last 3.
        present = tf.equal(recent, event[:, None])
        # Keep the slots that are not the new pitch, in order, then the new pitch at the end.
        order = tf.argsort(tf.cast(present, tf.int32), axis=1, stable=True)
        kept = tf.gather(tf.where(present, -1, recent), order, batch_dims=1)
        # After sorting, a removed slot sits at the end; drop the first slot only if nothing was removed.
        removed_any = tf.reduce_any(present, axis=1)
        shifted = tf.where(removed_any[:, None], tf.concat([kept[:, :2], event[:, None]], axis=1),
                           tf.concat([recent[:, 1:], event[:, None]], axis=1))
        recent = tf.where(note_on[:, None], shifted, recent)
        return {"current_note": current_note, "attack": attack, "direction": direction,
                "histogram": histogram, "recent": recent}

    def features(self, state: dict, history: Any, position: Any) -> Any:
        import tensorflow as tf

        batch_size = tf.shape(history)[0]
        current_note = state["current_note"]
        # Magenta quirk kept (see KeyEncoder): "sounding" is a truthiness test on the pitch.
        sounding = current_note > 0
        pitch_index = tf.where(sounding, current_note - self.min_note, 0)
        parts = [
            tf.one_hot(pitch_index, self.num_pitches) * tf.cast(sounding, tf.float32)[:, None],
            tf.cast(sounding, tf.float32)[:, None],
            tf.cast(tf.logical_not(sounding), tf.float32)[:, None],
            state["attack"][:, None],
            state["direction"][:, None],
        ]
        parts.extend(_repeat_flag(history, position, distance)[:, None] for distance in self.distances)
        parts.append(_counter_bits(position, batch_size, self.num_bits))
        bar_start = tf.cast(tf.equal(tf.math.floormod(position + 1, DEFAULT_STEPS_PER_BAR), 0), tf.float32)
        parts.append(tf.fill([batch_size, 1], bar_start))
        parts.append(_key_flags(state["histogram"]))
        recent = state["recent"]
        recent_histogram = tf.reduce_sum(
            tf.one_hot(tf.math.floormod(tf.maximum(recent, 0), NOTES_PER_OCTAVE), NOTES_PER_OCTAVE)
            * tf.cast(recent >= 0, tf.float32)[:, :, None], axis=1)
        parts.append(_key_flags(recent_histogram))
        return tf.concat(parts, axis=-1)

    def decode(self, classes: Any, history: Any, position: Any) -> Any:
        import tensorflow as tf

        events = tf.where(classes < self.num_pitches, classes + self.min_note,
                          tf.where(tf.equal(classes, self.num_pitches), NO_EVENT, NOTE_OFF))
        for number, distance in enumerate(self.distances):
            events = tf.where(tf.equal(classes, self.num_pitches + 2 + number),
                              _looked_back(history, position, distance, NO_EVENT), events)
        return events

    def label(self, classes: Any, history: Any, position: Any) -> Any:
        import tensorflow as tf

        event = _event_at(history, position)
        base = tf.where(event >= 0, event - self.min_note,
                        tf.where(tf.equal(event, NO_EVENT), self.num_pitches, self.num_pitches + 1))
        return _lookback_label(history, position, base, self.distances, self.num_pitches + 2, NO_EVENT)


def _key_flags(histograms: Any) -> Any:
    """1.0 for every major key whose note count equals the row's maximum (see encoders._key_flags)."""
    import tensorflow as tf

    totals = tf.matmul(histograms, tf.constant(KEY_MEMBERSHIP, tf.float32))
    return tf.cast(tf.equal(totals, tf.reduce_max(totals, axis=1, keepdims=True)), tf.float32)


def graph_encoder(encoder: EventSequenceEncoder) -> Any:
    """The TensorFlow-ops version of one of the three Melody RNN encoders."""
    if isinstance(encoder, KeyEncoder):
        return _GraphKeyEncoder(encoder)
    if isinstance(encoder, LookbackEncoder):
        return _GraphLookbackEncoder(encoder)
    if isinstance(encoder, OneHotEncoder):
        return _GraphOneHotEncoder(encoder)
    raise MelodylibError(f"no compiled sampler for {type(encoder).__name__}; use beam search's Python loop")


# ---------------------------------------------------------------------------------------------
# The sampler
# ---------------------------------------------------------------------------------------------


@dataclass
class CompiledRows:
    """Every row's generation state as tensors: histories, encoder state, RNN state and raw logits."""

    histories: Any
    encoder_state: dict
    rnn_state: list
    logits: Any

    def select(self, indices: Any) -> "CompiledRows":
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
        self._sample = tf.function(self._sample_loop, reduce_retracing=True)
        self._prime = tf.function(self._prime_encoder, reduce_retracing=True)
        self._extend = tf.function(self._step, reduce_retracing=True)

    # --- the Python-facing calls --------------------------------------------------------------
    def start(self, histories: np.ndarray, primer_length: int, rnn_state: list, logits: np.ndarray) -> CompiledRows:
        """Rows ready to generate from: `histories` [rows, num_steps] with each primer in its first
        `primer_length` columns, and the RNN state and raw logits [rows, classes] after the primer."""
        import tensorflow as tf

        histories = tf.constant(histories, tf.int32)
        return CompiledRows(histories, self._prime(histories, tf.constant(primer_length, tf.int32)),
                            [tf.convert_to_tensor(part, tf.float32) for part in rnn_state],
                            tf.constant(logits, tf.float64))

    def sample(self, rows: CompiledRows, primer_length: int, uniforms: np.ndarray,
               temperature: float) -> tuple[np.ndarray, np.ndarray]:
        """Fill every row to the end by sampling; returns (histories, log-likelihood of the new steps).

        `uniforms` [num_steps - primer_length, rows] are the draws in [0, 1).
        """
        import tensorflow as tf

        histories, scores = self._sample(rows.histories, rows.encoder_state, rows.rnn_state, rows.logits,
                                         tf.constant(primer_length, tf.int32),
                                         tf.constant(uniforms, tf.float64), tf.constant(temperature, tf.float64))
        return histories.numpy().astype(np.int64), scores.numpy()

    def extend(self, rows: CompiledRows, position: int, uniforms: np.ndarray,
               temperature: float) -> tuple[CompiledRows, np.ndarray, np.ndarray]:
        """Sample the event at `position` for every row; returns the new rows, the events and their log-probabilities."""
        import tensorflow as tf

        histories, encoder_state, rnn_state, logits, events, scores = self._extend(
            tf.constant(position, tf.int32), rows.histories, rows.encoder_state, rows.rnn_state, rows.logits,
            tf.constant(uniforms, tf.float64), tf.constant(temperature, tf.float64))
        return CompiledRows(histories, encoder_state, rnn_state, logits), events.numpy(), scores.numpy()

    # --- the compiled bodies ------------------------------------------------------------------
    def _prime_encoder(self, histories: Any, primer_length: Any) -> dict:
        """The encoder's running state over the primer (no model calls: the primer already ran)."""
        import tensorflow as tf

        encoder = self.encoder

        def prime(position, state):
            return position + 1, encoder.update(state, _event_at(histories, position), position)

        _, state = tf.while_loop(lambda position, state: position < primer_length, prime,
                                 (tf.constant(0, tf.int32), encoder.initial_state(tf.shape(histories)[0])))
        return state

    def _model_step(self, inputs: Any, rnn_state: list) -> tuple[Any, list]:
        """One step of every recurrent layer and the logits layer: inputs [rows, input_size]."""
        outputs, new_state, offset = inputs, [], 0
        for cell, count in zip(self.cells, self.state_counts):
            outputs, layer_state = cell(outputs, list(rnn_state[offset : offset + count]), training=False)
            new_state.extend(layer_state)
            offset += count
        return self.logits_layer(outputs), new_state

    def _step(self, position: Any, histories: Any, encoder_state: dict, rnn_state: list, logits: Any,
              uniforms: Any, temperature: Any) -> tuple:
        """Draw the event at `position` for every row, then run the model on it (the next logits)."""
        import tensorflow as tf

        encoder = self.encoder
        log_probabilities = tf.nn.log_softmax(logits / temperature, axis=-1)
        # The same draw as the Python loop: the number of cumulative probabilities <= u * total.
        cumulative = tf.cumsum(tf.exp(log_probabilities), axis=-1)
        draws = uniforms[:, None] * cumulative[:, -1:]
        num_classes = tf.shape(logits)[-1]
        classes = tf.minimum(tf.reduce_sum(tf.cast(cumulative <= draws, tf.int32), axis=-1), num_classes - 1)
        events = encoder.decode(classes, histories, position)
        columns = tf.range(tf.shape(histories)[1])
        histories = tf.where(tf.equal(columns, position)[None, :], events[:, None], histories)
        # Scored: the encoder's own label of the event (see MelodyGenerator._extend).
        labels = encoder.label(classes, histories, position)
        scores = tf.gather(log_probabilities, labels, axis=1, batch_dims=1)
        encoder_state = encoder.update(encoder_state, events, position)
        step_logits, rnn_state = self._model_step(encoder.features(encoder_state, histories, position), rnn_state)
        return histories, encoder_state, rnn_state, tf.cast(step_logits, tf.float64), events, scores

    def _sample_loop(self, histories: Any, encoder_state: dict, rnn_state: list, logits: Any, primer_length: Any,
                     uniforms: Any, temperature: Any) -> tuple:
        import tensorflow as tf

        def step(position, histories, encoder_state, rnn_state, logits, scores):
            histories, encoder_state, rnn_state, logits, _, step_scores = self._step(
                position, histories, encoder_state, rnn_state, logits, uniforms[position - primer_length],
                temperature)
            return position + 1, histories, encoder_state, rnn_state, logits, scores + step_scores

        num_steps = tf.shape(histories)[1]
        _, histories, _, _, _, scores = tf.while_loop(
            lambda position, *rest: position < num_steps, step,
            (primer_length, histories, encoder_state, list(rnn_state), logits,
             tf.zeros([tf.shape(histories)[0]], tf.float64)))
        return histories, scores
