"""The Keras 3 Melody RNN: stacked LSTMs (+ Magenta's attention, layer 1 or whole stack), its size.

Start here: `build_model(config)` is the whole network, `magenta_parameter_count(config)` the
arithmetic behind its size. The pieces live beside this module:

- `attention_cell.AttentionCell`: one step of Magenta's attention wrapper, the readable maths;
- `whole_stack_attention.WholeStackAttentionCell`: the 2016 layout (hparam
  ``attention_layout=whole_stack``), attention wrapped around the whole stack of LSTM layers;
- `lean.attention_rnn.AttentionRNN` and `lean.lean_lstm.LeanLSTM`: the same maths as the cell loop
  and Keras' LSTM over whole sequences, with less memory for training (see `melodylib.models.lean`);
- `initializers.joint_glorot_uniform`: upstream's LSTM initialisation;
- `step.StepModel`: the trained network run step by step, for generation.

magenta-behaviour.md: "Network" (network), magenta-behaviour.md: "Parameter counts" (parameter counts), magenta-behaviour.md: "Generation" (step-by-step generation), magenta-behaviour.md: "Keras port notes" (Keras notes).

Layer names are fixed because checkpoints, bundles and the Magenta weight import map onto them:

- ``inputs``: float32 ``[batch, time, input_size]`` (time may be None);
- ``lstm_0`` … ``lstm_{n-1}``: one recurrent layer per entry of ``rnn_layer_sizes``. A
  ``keras.layers.LSTM`` normally; for attention configs (``attn_length > 0``) ``lstm_0`` is an
  :class:`AttentionRNN` (a ``keras.layers.RNN`` with a chunked, lean training loop) wrapping an
  :class:`AttentionCell` (weights ``lstm_0/attention_cell/...``), and the layers after it are
  :class:`LeanLSTM` (Keras' LSTM recomputing its gates for backprop: memory is tightest there);
- ``dropout_0`` … ``dropout_{n-1}``: a Dropout on each layer's output sequence (upstream's
  DropoutWrapper(output_keep_prob), never input or state dropout);
- with ``attention_layout=whole_stack`` (and attn_length > 0) there is one recurrent layer,
  ``lstm_0``, a ``keras.layers.RNN`` over a :class:`WholeStackAttentionCell` holding every LSTM
  layer and doing their output dropout itself (no ``dropout_<k>`` layers);
- ``logits``: Dense(num_classes), no activation.

Masking: there is deliberately no Masking layer. Batches are padded only at the *end* of each
sequence (magenta-behaviour.md: "Batching"), and the LSTMs are causal, so the outputs at valid positions never see the
padding; the training loss masks the padded positions out. Running over the padding costs a few
wasted steps but keeps the model a plain functional graph that generation can run step by step.

This module is about models, so it imports Keras/TensorFlow at the top; import it lazily from
modules that must stay fast.
"""

from __future__ import annotations

from typing import Any

import keras

from melodylib.errors import MelodylibError
from melodylib.models.attention_cell import AttentionCell
from melodylib.models.initializers import joint_glorot_uniform
from melodylib.models.lean.attention_rnn import AttentionRNN
from melodylib.models.lean.lean_lstm import LeanLSTM
from melodylib.models.whole_stack_attention import WholeStackAttentionCell

__all__ = ["build_model", "count_parameters", "magenta_parameter_count"]


# --------------------------------------------------------------------------------------------
# The training model
# --------------------------------------------------------------------------------------------


def build_model(config: Any) -> keras.Model:
    """The Keras Melody RNN for `config`: inputs [batch, time, input_size] -> logits.

    The logits are [batch, time, num_classes].

    `config` needs `.name`, `.encoder.input_size`, `.encoder.num_classes` and `.hparams` with
    `rnn_layer_sizes`, `dropout_keep_prob` and `attn_length` (see `melodylib.encoding.configs`).
    """
    input_size, num_classes, sizes, keep, attn_length = _checked(config)
    inputs = keras.Input(shape=(None, input_size), dtype="float32", name="inputs")
    if attn_length > 0 and _attention_layout(config) == "whole_stack":
        return _build_whole_stack_model(config, inputs, num_classes, sizes, keep, attn_length)
    outputs = inputs
    layer_input_size = input_size
    for index, units in enumerate(sizes):
        if index == 0 and attn_length > 0:
            # Upstream wraps only the first layer (since magenta commit 3304b6dc).
            layer = AttentionRNN(
                AttentionCell(units, attn_length, name="attention_cell"),
                return_sequences=True,
                name=f"lstm_{index}",
            )
        else:
            # Beside the attention layer, memory rather than time is short: recompute the gates.
            lstm_class = LeanLSTM if attn_length > 0 else keras.layers.LSTM
            layer = lstm_class(
                units,
                return_sequences=True,
                unit_forget_bias=True,
                kernel_initializer=joint_glorot_uniform(layer_input_size, units),
                recurrent_initializer=joint_glorot_uniform(layer_input_size, units),
                bias_initializer="zeros",
                name=f"lstm_{index}",
            )
        outputs = layer(outputs)
        # Only each layer's output is dropped (upstream DropoutWrapper(output_keep_prob)); the
        # LSTM's own dropout / recurrent_dropout would drop inputs and states, which upstream
        # never does.
        outputs = keras.layers.Dropout(1.0 - keep, name=f"dropout_{index}")(outputs)
        layer_input_size = units
    logits = keras.layers.Dense(
        num_classes, kernel_initializer="glorot_uniform", bias_initializer="zeros", name="logits"
    )(outputs)
    return keras.Model(inputs, logits, name=str(getattr(config, "name", "melody_rnn")))


def _build_whole_stack_model(
    config: Any, inputs: Any, num_classes: int, sizes: list[int], keep: float, attn_length: int
) -> keras.Model:
    """The 2016 layout: one attention wrapper around the whole stack, then the logits.

    One recurrent layer, ``lstm_0`` (a plain ``keras.layers.RNN``), holds the whole stack in a
    :class:`WholeStackAttentionCell` (weights ``lstm_0/whole_stack_attention/...``); the output
    dropout of every LSTM layer happens inside the cell, where the 2016 graph had it, so there
    are no ``dropout_<k>`` layers.
    """
    cell = WholeStackAttentionCell(
        sizes, attn_length, dropout_rate=1.0 - keep, name="whole_stack_attention"
    )
    outputs = keras.layers.RNN(cell, return_sequences=True, name="lstm_0")(inputs)
    logits = keras.layers.Dense(
        num_classes, kernel_initializer="glorot_uniform", bias_initializer="zeros", name="logits"
    )(outputs)
    return keras.Model(inputs, logits, name=str(getattr(config, "name", "melody_rnn")))


def count_parameters(model: keras.Model) -> int:
    """The number of weights in `model` (all are trainable)."""
    return int(model.count_params())


def magenta_parameter_count(config: Any) -> int:
    """Upstream's parameter count for `config`, from the formulas behind magenta-behaviour.md: "Parameter counts" (current layout).

    Pure arithmetic, no model is built: handy to print next to
    `count_parameters(build_model(config))`.
    """
    input_size, num_classes, sizes, _, attn_length = _checked(config)
    if attn_length > 0 and _attention_layout(config) == "whole_stack":
        attn_size = sizes[-1]
        total = (input_size + attn_size) * input_size + input_size  # W_in, b_in
        layer_input_size = input_size
        for units in sizes:
            total += (layer_input_size + units) * 4 * units + 4 * units  # LSTM kernel + bias
            layer_input_size = units
        total += attn_size * attn_size + attn_size  # attn_w, attn_v
        total += 2 * sum(sizes) * attn_size + attn_size  # W_q, b_q
        total += (sizes[-1] + attn_size) * attn_size + attn_size  # W_o, b_o
        return total + attn_size * num_classes + num_classes
    total = 0
    layer_input_size = input_size
    for index, units in enumerate(sizes):
        if index == 0 and attn_length > 0:
            total += (input_size + units) * input_size + input_size  # W1, b1
            total += units * units + units  # attn_w, attn_v
            total += 2 * units * units + units  # W3, b3
            total += 2 * units * units + units  # W2, b2
        total += (layer_input_size + units) * 4 * units + 4 * units  # LSTM kernel + bias
        layer_input_size = units
    return total + layer_input_size * num_classes + num_classes


# --------------------------------------------------------------------------------------------
# Configuration checks
# --------------------------------------------------------------------------------------------


def _layer_sizes(config: Any) -> list[int]:
    """The validated rnn_layer_sizes of `config` (a non-empty list of positive ints)."""
    sizes = config.hparams.rnn_layer_sizes
    if isinstance(sizes, int) or not sizes:
        raise MelodylibError(
            f"hparam rnn_layer_sizes={sizes!r} must be a non-empty list of layer sizes, "
            "e.g. --hparams='rnn_layer_sizes=[128,128]'"
        )
    result = []
    for size in sizes:
        if isinstance(size, bool) or int(size) != size or int(size) <= 0:
            raise MelodylibError(
                f"hparam rnn_layer_sizes={list(sizes)!r} holds {size!r}; "
                "every layer size must be a positive integer, "
                "e.g. --hparams='rnn_layer_sizes=[128,128]'"
            )
        result.append(int(size))
    return result


def _attention_layout(config: Any) -> str:
    """The hparam attention_layout: "first_layer" (default) or "whole_stack" (the 2016 layout)."""
    layout = getattr(config.hparams, "attention_layout", "first_layer") or "first_layer"
    if layout not in ("first_layer", "whole_stack"):
        raise MelodylibError(
            f"hparam attention_layout={layout!r} is unknown: choose first_layer (Magenta since "
            "2017) or whole_stack (the 2016 bundles), e.g. --hparams='attention_layout=whole_stack'"
        )
    return layout


def _checked(config: Any) -> tuple[int, int, list[int], float, int]:
    """(input_size, num_classes, layer_sizes, dropout_keep_prob, attn_length) of a valid config."""
    hparams = config.hparams
    keep = float(hparams.dropout_keep_prob)
    if not 0.0 < keep <= 1.0:
        raise MelodylibError(
            f"hparam dropout_keep_prob={hparams.dropout_keep_prob!r} must be in (0, 1] "
            "(1.0 means no dropout), e.g. --hparams='dropout_keep_prob=0.5'"
        )
    attn_length = int(getattr(hparams, "attn_length", 0) or 0)
    if attn_length < 0:
        raise MelodylibError(
            f"hparam attn_length={hparams.attn_length!r} must be 0 (no attention) or a positive "
            "number of steps, e.g. --hparams='attn_length=40'"
        )
    if getattr(hparams, "residual_connections", False):
        raise MelodylibError(
            "hparam residual_connections=True is not supported (no melody config uses it); "
            "drop it from --hparams"
        )
    input_size = int(config.encoder.input_size)
    num_classes = int(config.encoder.num_classes)
    if input_size <= 0 or num_classes <= 0:
        raise MelodylibError(
            f"config {getattr(config, 'name', '?')!r} has input_size={input_size} and "
            f"num_classes={num_classes}; both must be positive (check the encoder)"
        )
    return input_size, num_classes, _layer_sizes(config), keep, attn_length
