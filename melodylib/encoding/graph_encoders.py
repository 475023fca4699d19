"""The three Melody RNN encoders as TensorFlow ops, for sampling inside one compiled loop.

The numpy encoders (`melodylib.encoding.encoders`) encode a whole melody at once; a compiled
sampler instead needs the input row of one new step for every sequence in a batch. Each twin
here keeps a running state (a dict of [batch, ...] tensors) and has:

1. `update`: fold the event just placed at `position` into the state;
2. `features`: the input row for that position, each part written at the columns its numpy
   encoder's `feature_blocks()` gives it (the layout is never recomputed here);
3. `decode`: a sampled class -> event, looking back in the history for lookback classes;
4. `label`: the encoder's label of the event at `position` (what a log-likelihood scores).

The numpy encoders stay the reference: tests check that both give the same inputs and labels.
TensorFlow is imported inside the functions so that importing this module stays cheap.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from melodylib.encoding.encoders import (
    KEY_MEMBERSHIP,
    EventSequenceEncoder,
    FeatureBlock,
    KeyEncoder,
    LookbackEncoder,
    OneHotEncoder,
)
from melodylib.errors import MelodylibError
from melodylib.music.events import DEFAULT_STEPS_PER_BAR, NO_EVENT, NOTE_OFF, NOTES_PER_OCTAVE


def supports_compiled_sampling(encoder: EventSequenceEncoder) -> bool:
    """True for the three encoders of the Melody RNN configs over a melody one-hot range."""
    if isinstance(encoder, KeyEncoder):
        return True
    return isinstance(encoder, (OneHotEncoder, LookbackEncoder)) and hasattr(
        encoder.encoding, "min_note"
    )


def graph_encoder(encoder: EventSequenceEncoder) -> Any:
    """The TensorFlow-ops version of one of the three Melody RNN encoders."""
    if isinstance(encoder, KeyEncoder):
        return _GraphKeyEncoder(encoder)
    if isinstance(encoder, LookbackEncoder):
        return _GraphLookbackEncoder(encoder)
    if isinstance(encoder, OneHotEncoder):
        return _GraphOneHotEncoder(encoder)
    raise MelodylibError(
        f"no compiled sampler for {type(encoder).__name__}; use beam search's Python loop"
    )


# ---------------------------------------------------------------------------------------------
# Small ops shared by the encoders
# ---------------------------------------------------------------------------------------------


class _GraphOneHot:
    """MelodyOneHotEncoding in ops: class 0 = NO_EVENT, 1 = NOTE_OFF, k >= 2 = pitch min_note + k -
    2.
    """

    def __init__(self, min_note: int, num_classes: int) -> None:
        self.min_note = int(min_note)
        self.num_classes = int(num_classes)

    def index(self, events: Any) -> Any:
        import tensorflow as tf

        return tf.where(events < 0, events + 2, events - self.min_note + 2)

    def event(self, classes: Any) -> Any:
        import tensorflow as tf

        return tf.where(classes < 2, classes - 2, classes - 2 + self.min_note)


def event_at(history: Any, position: Any) -> Any:
    """history[:, position] for a scalar position tensor."""
    import tensorflow as tf

    return tf.gather(history, position, axis=1)


def _assemble(parts: Sequence[tuple[FeatureBlock, Any]]) -> Any:
    """One input row per sequence: each part ([batch, block.size]) at its block's columns."""
    import tensorflow as tf

    placed = sorted((part for part in parts if part[0].size > 0), key=lambda part: part[0].start)
    return tf.concat([tensor for _, tensor in placed], axis=-1)


def _looked_back(history: Any, position: Any, distance: int, default_event: int) -> Any:
    """history[:, position - distance], or the default event where that is before the start."""
    import tensorflow as tf

    source = position - distance
    earlier = event_at(history, tf.maximum(source, 0))
    return tf.where(
        source >= 0, earlier, tf.fill(tf.shape(earlier), tf.constant(default_event, history.dtype))
    )


def _repeat_flag(history: Any, position: Any, distance: int) -> Any:
    """1.0 where the event at `position` equals the one `distance` steps back (0.0 before the
    start).
    """
    import tensorflow as tf

    source = position - distance
    same = tf.equal(event_at(history, position), event_at(history, tf.maximum(source, 0)))
    return tf.cast(tf.logical_and(same, source >= 0), tf.float32)


def _repeat_flags(history: Any, position: Any, distances: Sequence[int]) -> Any:
    """One repeat flag per lookback distance: [batch, len(distances)]."""
    import tensorflow as tf

    batch_size = tf.shape(history)[0]
    if not distances:
        return tf.zeros([batch_size, 0], tf.float32)
    return tf.stack([_repeat_flag(history, position, distance) for distance in distances], axis=1)


def _counter_bits(position: Any, batch_size: Any, num_bits: int) -> Any:
    """The binary counter of position + 1 as +1.0 / -1.0, one row per sequence (see
    sequence_encoder).
    """
    import tensorflow as tf

    bits = tf.bitwise.bitwise_and(
        tf.bitwise.right_shift(position + 1, tf.range(num_bits, dtype=position.dtype)), 1
    )
    row = tf.cast(2 * bits - 1, tf.float32)
    return tf.tile(row[None, :], [batch_size, 1])


def _lookback_label(
    history: Any,
    position: Any,
    base: Any,
    distances: tuple[int, ...],
    first_lookback_class: int,
    default_event: int,
) -> Any:
    """Lookback labels (magenta-behaviour.md: "Lookback encoding"): later distances override earlier ones; the early default-event rule
    last.
    """
    import tensorflow as tf

    label = base
    for number, distance in enumerate(distances):
        label = tf.where(
            _repeat_flag(history, position, distance) > 0, first_lookback_class + number, label
        )
    if distances:
        early_default = tf.logical_and(
            position < distances[-1], tf.equal(event_at(history, position), default_event)
        )
        label = tf.where(early_default, first_lookback_class + len(distances) - 1, label)
    return label


def _key_flags(histograms: Any) -> Any:
    """1.0 for every major key whose note count equals the row's maximum (see
    key_encoder.key_flags).
    """
    import tensorflow as tf

    totals = tf.matmul(histograms, tf.constant(KEY_MEMBERSHIP, tf.float32))
    return tf.cast(tf.equal(totals, tf.reduce_max(totals, axis=1, keepdims=True)), tf.float32)


# ---------------------------------------------------------------------------------------------
# The encoders
# ---------------------------------------------------------------------------------------------


class _GraphOneHotEncoder:
    """OneHotEncoder (basic_rnn, mono_rnn): the input is the one-hot of the event; classes are
    events.
    """

    def __init__(self, encoder: OneHotEncoder) -> None:
        self.one_hot = _GraphOneHot(encoder.encoding.min_note, encoder.input_size)

    def initial_state(self, batch_size: Any) -> dict:
        return {}

    def update(self, state: dict, event: Any, position: Any) -> dict:
        return state

    def features(self, state: dict, history: Any, position: Any) -> Any:
        import tensorflow as tf

        return tf.one_hot(self.one_hot.index(event_at(history, position)), self.one_hot.num_classes)

    def decode(self, classes: Any, history: Any, position: Any) -> Any:
        return self.one_hot.event(classes)

    def label(self, classes: Any, history: Any, position: Any) -> Any:
        return classes


class _GraphLookbackEncoder:
    """LookbackEncoder (lookback_rnn): one-hot, the events one lookback back, counter, repeat
    flags.
    """

    def __init__(self, encoder: LookbackEncoder) -> None:
        self.one_hot = _GraphOneHot(encoder.encoding.min_note, encoder.event_block.size)
        self.distances = encoder.lookback_distances
        self.event_block = encoder.event_block
        self.lookback_blocks = encoder.lookback_blocks
        self.counter_block = encoder.counter_block
        self.repeat_block = encoder.repeat_block

    def initial_state(self, batch_size: Any) -> dict:
        return {}

    def update(self, state: dict, event: Any, position: Any) -> dict:
        return state

    def features(self, state: dict, history: Any, position: Any) -> Any:
        import tensorflow as tf

        one_hot = self.one_hot
        parts = [
            (
                self.event_block,
                tf.one_hot(one_hot.index(event_at(history, position)), self.event_block.size),
            )
        ]
        for block, distance in zip(self.lookback_blocks, self.distances, strict=True):
            # The event one lookback before the event being predicted (position + 1).
            looked_back = _looked_back(history, position + 1, distance, NO_EVENT)
            parts.append((block, tf.one_hot(one_hot.index(looked_back), block.size)))
        parts.append(
            (
                self.counter_block,
                _counter_bits(position, tf.shape(history)[0], self.counter_block.size),
            )
        )
        parts.append((self.repeat_block, _repeat_flags(history, position, self.distances)))
        return _assemble(parts)

    def decode(self, classes: Any, history: Any, position: Any) -> Any:
        import tensorflow as tf

        num_classes = self.one_hot.num_classes
        events = self.one_hot.event(tf.minimum(classes, num_classes - 1))
        for number, distance in enumerate(self.distances):
            events = tf.where(
                tf.equal(classes, num_classes + number),
                _looked_back(history, position, distance, NO_EVENT),
                events,
            )
        return events

    def label(self, classes: Any, history: Any, position: Any) -> Any:
        base = self.one_hot.index(event_at(history, position))
        return _lookback_label(
            history, position, base, self.distances, self.one_hot.num_classes, NO_EVENT
        )


class _GraphKeyEncoder:
    """KeyEncoder (attention_rnn, magenta-behaviour.md: "Key encoding") with its prefix scan kept as a running state.

    State: the current note (last event that is not NO_EVENT), the attack flag, the melodic
    direction, the pitch-class histogram of every note-on and the "last 3 distinct notes" list
    (most recent last, -1 for an empty slot).
    """

    def __init__(self, encoder: KeyEncoder) -> None:
        self.min_note = encoder.min_note
        self.num_pitches = encoder.num_pitches
        self.distances = encoder.lookback_distances
        self.blocks = encoder.blocks_by_name

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
        # Direction: compared with the most recent note of the list; an equal pitch keeps the old
        # value.
        recent = state["recent"]
        previous = recent[:, 2]
        moved = tf.logical_and(
            note_on, tf.logical_and(previous >= 0, tf.not_equal(event, previous))
        )
        direction = tf.where(
            moved, tf.sign(tf.cast(event - previous, tf.float32)), state["direction"]
        )
        pitch_class = tf.math.floormod(tf.maximum(event, 0), NOTES_PER_OCTAVE)
        histogram = (
            state["histogram"]
            + tf.one_hot(pitch_class, NOTES_PER_OCTAVE) * tf.cast(note_on, tf.float32)[:, None]
        )
        # "Last 3 notes": remove the pitch if present, append it, keep the last 3.
        present = tf.equal(recent, event[:, None])
        # Keep the slots that are not the new pitch, in order, then the new pitch at the end.
        order = tf.argsort(tf.cast(present, tf.int32), axis=1, stable=True)
        kept = tf.gather(tf.where(present, -1, recent), order, batch_dims=1)
        # After sorting, a removed slot sits at the end; drop the first slot only if nothing was
        # removed.
        removed_any = tf.reduce_any(present, axis=1)
        shifted = tf.where(
            removed_any[:, None],
            tf.concat([kept[:, :2], event[:, None]], axis=1),
            tf.concat([recent[:, 1:], event[:, None]], axis=1),
        )
        recent = tf.where(note_on[:, None], shifted, recent)
        return {
            "current_note": current_note,
            "attack": attack,
            "direction": direction,
            "histogram": histogram,
            "recent": recent,
        }

    def features(self, state: dict, history: Any, position: Any) -> Any:
        import tensorflow as tf

        blocks = self.blocks
        batch_size = tf.shape(history)[0]
        current_note = state["current_note"]
        # Magenta quirk kept (see KeyEncoder): "sounding" is a truthiness test on the pitch.
        sounding = current_note > 0
        pitch_index = tf.where(sounding, current_note - self.min_note, 0)
        bar_start = tf.cast(
            tf.equal(tf.math.floormod(position + 1, DEFAULT_STEPS_PER_BAR), 0), tf.float32
        )
        recent = state["recent"]
        recent_histogram = tf.reduce_sum(
            tf.one_hot(tf.math.floormod(tf.maximum(recent, 0), NOTES_PER_OCTAVE), NOTES_PER_OCTAVE)
            * tf.cast(recent >= 0, tf.float32)[:, :, None],
            axis=1,
        )
        return _assemble(
            [
                (
                    blocks["note"],
                    tf.one_hot(pitch_index, blocks["note"].size)
                    * tf.cast(sounding, tf.float32)[:, None],
                ),
                (blocks["sounding"], tf.cast(sounding, tf.float32)[:, None]),
                (blocks["silence"], tf.cast(tf.logical_not(sounding), tf.float32)[:, None]),
                (blocks["attack"], state["attack"][:, None]),
                (blocks["up/down"], state["direction"][:, None]),
                (blocks["repeat"], _repeat_flags(history, position, self.distances)),
                (blocks["counter"], _counter_bits(position, batch_size, blocks["counter"].size)),
                (blocks["bar start"], tf.fill([batch_size, 1], bar_start)),
                (blocks["key (all notes)"], _key_flags(state["histogram"])),
                (blocks["key (last 3)"], _key_flags(recent_histogram)),
            ]
        )

    def decode(self, classes: Any, history: Any, position: Any) -> Any:
        import tensorflow as tf

        events = tf.where(
            classes < self.num_pitches,
            classes + self.min_note,
            tf.where(tf.equal(classes, self.num_pitches), NO_EVENT, NOTE_OFF),
        )
        for number, distance in enumerate(self.distances):
            events = tf.where(
                tf.equal(classes, self.num_pitches + 2 + number),
                _looked_back(history, position, distance, NO_EVENT),
                events,
            )
        return events

    def label(self, classes: Any, history: Any, position: Any) -> Any:
        import tensorflow as tf

        event = event_at(history, position)
        base = tf.where(
            event >= 0,
            event - self.min_note,
            tf.where(tf.equal(event, NO_EVENT), self.num_pitches, self.num_pitches + 1),
        )
        return _lookback_label(
            history, position, base, self.distances, self.num_pitches + 2, NO_EVENT
        )
