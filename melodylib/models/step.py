"""The step model: a trained network run a few steps at a time, carrying its state (magenta-behaviour.md: "Generation").

Training maps whole sequences to logits (`melodylib.models.melody_rnn.build_model`); generation
instead feeds a primer, then one event at a time, and needs the recurrent state between calls.
`StepModel` wraps the same layers (sharing their weights) in one compiled function that takes and
returns that state; `gather_state` and `tile_state` reorder or repeat its batch rows for beam
search and for several outputs per primer.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import keras

from melodylib.errors import MelodylibError
from melodylib.models.melody_rnn import build_model
from melodylib.models.step_checks import check_step_call

__all__ = ["StepModel", "build_step_model", "gather_state", "state_sizes", "tile_state"]


def _recurrent_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The model's `lstm_<k>` layers, in order."""
    layers = []
    while True:
        try:
            layers.append(model.get_layer(f"lstm_{len(layers)}"))
        except ValueError:
            break
    if not layers:
        raise MelodylibError(
            f"model {model.name!r} has no layer named 'lstm_0'; "
            "build it with melodylib.models.melody_rnn.build_model"
        )
    return layers


def state_sizes(model: keras.Model) -> list[int]:
    """The width of every state tensor of `model`, in StepModel's state order."""
    sizes: list[int] = []
    for layer in _recurrent_layers(model):
        sizes.extend(int(size) for size in layer.cell.state_size)
    return sizes


def gather_state(state: Sequence[Any], indices: Any) -> list[Any]:
    """Select/reorder the batch rows of every state tensor (beam search: keep the survivors)."""
    import tensorflow as tf

    indices = tf.convert_to_tensor(indices, dtype=tf.int32)
    return [tf.gather(part, indices, axis=0) for part in state]


def tile_state(state: Sequence[Any], count: int) -> list[Any]:
    """Repeat each batch row `count` times in place: rows [a, b] -> [a, a, b, b] for count 2."""
    import tensorflow as tf

    return [tf.repeat(part, int(count), axis=0) for part in state]


class StepModel:
    """A compiled, dropout-free step function sharing a trained model's variables (magenta-behaviour.md: "Generation").

    ``__call__(inputs [B, T, input_size], state) -> (logits [B, T, num_classes], new_state)``
    runs all B sequences (outputs × beams) together in one graph call, carrying the full
    recurrent state, so a primer can be fed in one call and then one step per call.

    State: a flat list, layer by layer. A plain LSTM layer contributes ``[h, c]`` (Keras order);
    the attention layer contributes ``[c, h, attns, attn_states, attn_keys]`` (see AttentionCell);
    the 2016 layout's single layer ``[c_0, h_0, …, c_{K-1}, h_{K-1}, attns, attn_states]`` (see
    WholeStackAttentionCell).
    The variables are shared, not copied: further training is seen at once.
    """

    def __init__(self, model: keras.Model) -> None:
        import tensorflow as tf

        self.model = model
        self.input_size = int(model.inputs[0].shape[-1])
        layers = _recurrent_layers(model)
        # New RNN wrappers around the *same* (already built) cells: they share the weights but
        # also return their final state, which the training layers do not.
        self._rnns = [
            keras.layers.RNN(
                layer.cell, return_sequences=True, return_state=True, name=f"step_{layer.name}"
            )
            for layer in layers
        ]
        self._state_counts = [len(layer.cell.state_size) for layer in layers]
        self._logits = model.get_layer("logits")
        # The same cells and logits layer, for code that runs its own step loop (generation/sampler.py).
        self.cells = [layer.cell for layer in layers]
        self.logits_layer = self._logits
        self.num_classes = int(self._logits.units)
        self.state_sizes = state_sizes(model)
        # None batch and time dims: one trace serves the primer, every step and every beam width.
        signature = [
            tf.TensorSpec([None, None, self.input_size], tf.float32, name="inputs"),
            [tf.TensorSpec([None, size], tf.float32) for size in self.state_sizes],
        ]
        # One tf.function per StepModel, around a partial of its own: TensorFlow's frequent-
        # retracing detector keys a bound method on its code object, shared by every instance,
        # so the fifth model loaded would otherwise be reported as retracing.
        self._function = tf.function(
            functools.partial(StepModel._run, self),
            input_signature=signature,
            reduce_retracing=True,
        )

    def _run(self, inputs: Any, state: list[Any]) -> tuple[Any, list[Any]]:
        outputs = inputs
        new_state: list[Any] = []
        offset = 0
        for rnn, count in zip(self._rnns, self._state_counts):  # noqa: B905 (autograph: no strict=)
            results = rnn(
                outputs, initial_state=list(state[offset : offset + count]), training=False
            )
            outputs = results[0]
            new_state.extend(results[1:])
            offset += count
        return self._logits(outputs), new_state

    def zero_state(self, batch_size: int) -> list[Any]:
        """The all-zero initial state (upstream's zero_state) for `batch_size` sequences."""
        import tensorflow as tf

        return [tf.zeros([int(batch_size), size], tf.float32) for size in self.state_sizes]

    def __call__(self, inputs: Any, state: Sequence[Any]) -> tuple[Any, list[Any]]:
        """Run `inputs` [B, T, input_size] from `state`: (logits [B, T, classes], final state)."""
        import tensorflow as tf

        inputs = tf.convert_to_tensor(inputs, dtype=tf.float32)
        check_step_call(tuple(inputs.shape), len(state), self, "StepModel")
        state = [tf.convert_to_tensor(part, dtype=tf.float32) for part in state]
        return self._function(inputs, state)

    gather_state = staticmethod(gather_state)
    tile_state = staticmethod(tile_state)


def build_step_model(config: Any, model: keras.Model | None = None) -> StepModel:
    """A StepModel over `model` (sharing its weights), or over a fresh `build_model(config)`."""
    if model is None:
        model = build_model(config)
    return StepModel(model)
