"""The 2016 attention layout (attention around the whole stack): the cell, the model and its hparam.

The cell is checked against a naive float64 numpy loop written from the step list in
shared/reference/magenta-interop.md section 1.1 (three layers of different sizes, so no size can
stand in for another); Magenta's own graph is the reference in test_magenta_2016_layout.py.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from melodylib.bundles.bundle import save_bundle  # noqa: E402
from melodylib.bundles.reading import load_bundle  # noqa: E402
from melodylib.encoding.configs import HParams, get_config, parse_hparams  # noqa: E402
from melodylib.errors import MelodylibError  # noqa: E402
from melodylib.models.attention_cell import attention_weights  # noqa: E402
from melodylib.models.melody_rnn import (  # noqa: E402
    build_model,
    count_parameters,
    magenta_parameter_count,
)
from melodylib.models.step import StepModel  # noqa: E402
from melodylib.models.whole_stack_attention import WholeStackAttentionCell  # noqa: E402

SIZES = [7, 6, 5]
ATTN_LENGTH = 3


def whole_stack_config(sizes=SIZES, attn_length=ATTN_LENGTH, keep=1.0):
    text = ",".join(str(size) for size in sizes)
    return get_config(
        "attention_rnn",
        f"rnn_layer_sizes=[{text}],attn_length={attn_length},dropout_keep_prob={keep},"
        "attention_layout=whole_stack",
    )


def randomised(model, seed=0, scale=0.5):
    """Give every weight random values (biases too), so no term of the maths can hide."""
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        variable.assign(rng.normal(0.0, scale, variable.shape).astype("float32"))
    return model


def sigmoid(values):
    return 1.0 / (1.0 + np.exp(-values))


def numpy_logits(model, inputs):
    """Logits [batch, time, classes] of the whole-stack model, by a plain float64 loop."""
    cell = model.get_layer("lstm_0").cell
    weights = {
        variable.path.split("/")[-1]: variable.numpy().astype(np.float64)
        for variable in model.weights
    }
    sizes, length = cell.layer_sizes, cell.attn_length
    attn_size = sizes[-1]
    batch = inputs.shape[0]
    c = [np.zeros((batch, size)) for size in sizes]
    h = [np.zeros((batch, size)) for size in sizes]
    attns = np.zeros((batch, attn_size))
    window = np.zeros((batch, length, attn_size))
    rows = []
    for position in range(inputs.shape[1]):
        x = np.concatenate([inputs[:, position], attns], axis=1)
        layer_input = x @ weights["input_projection_kernel"] + weights["input_projection_bias"]
        for index in range(len(sizes)):
            gates = (
                layer_input @ weights[f"layer_{index}_kernel"]
                + h[index] @ weights[f"layer_{index}_recurrent_kernel"]
                + weights[f"layer_{index}_bias"]
            )
            gate_i, gate_f, gate_c, gate_o = np.split(gates, 4, axis=1)
            c[index] = sigmoid(gate_f) * c[index] + sigmoid(gate_i) * np.tanh(gate_c)
            h[index] = sigmoid(gate_o) * np.tanh(c[index])
            layer_input = h[index]
        query = np.concatenate([part for pair in zip(c, h) for part in pair], axis=1)
        projected = query @ weights["query_kernel"] + weights["query_bias"]
        scores = np.zeros((batch, length))
        for slot in range(length):
            keys = window[:, slot] @ weights["attn_w"]
            scores[:, slot] = np.tanh(keys + projected) @ weights["attn_v"]
        alpha = np.exp(scores - scores.max(axis=1, keepdims=True))
        alpha /= alpha.sum(axis=1, keepdims=True)
        attns = np.einsum("bl,bla->ba", alpha, window)
        output = (
            np.concatenate([h[-1], attns], axis=1) @ weights["output_projection_kernel"]
            + weights["output_projection_bias"]
        )
        window = np.concatenate([window[:, 1:], output[:, None]], axis=1)
        rows.append(output @ weights["kernel"] + weights["bias"])
    return np.stack(rows, axis=1)


def test_the_model_equals_a_naive_numpy_loop_over_three_layers_of_different_sizes():
    config = whole_stack_config()
    model = randomised(build_model(config))
    inputs = np.random.default_rng(1).random((2, 11, config.encoder.input_size)).astype("float32")
    np.testing.assert_allclose(model(inputs).numpy(), numpy_logits(model, inputs), atol=2e-5)
    # One recurrent layer holds the stack; no dropout layers outside it.
    assert [layer.name for layer in model.layers] == ["inputs", "lstm_0", "logits"]


def test_the_step_model_carries_the_state_in_magentas_order():
    config = whole_stack_config()
    model = randomised(build_model(config), seed=2)
    step = StepModel(model)
    assert step.state_sizes == [7, 7, 6, 6, 5, 5, 5, ATTN_LENGTH * 5]
    inputs = np.random.default_rng(3).random((3, 9, config.encoder.input_size)).astype("float32")
    whole, _ = step(inputs, step.zero_state(3))
    first, state = step(inputs[:, :4], step.zero_state(3))
    second, _ = step(inputs[:, 4:], state)
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), whole, atol=1e-6)
    np.testing.assert_allclose(whole, model(inputs).numpy(), atol=1e-6)
    # The window holds the wrapper's outputs: its newest slot is the last output.
    _, state = step(inputs[:, :1], step.zero_state(3))
    np.testing.assert_array_equal(state[-1][:, : (ATTN_LENGTH - 1) * 5], 0.0)


def test_attention_weights_of_a_whole_stack_model_sum_to_one():
    config = whole_stack_config()
    model = randomised(build_model(config), seed=4)
    inputs = np.random.default_rng(5).random((6, config.encoder.input_size)).astype("float32")
    weights = attention_weights(model, inputs)
    assert weights.shape == (6, ATTN_LENGTH)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-6)


def test_dropout_drops_each_layer_output_with_a_fresh_mask_per_step_and_never_the_state():
    """A cell whose output is the top layer's dropped output and whose layers ignore their state."""
    units = 16
    cell = WholeStackAttentionCell([units, units], 2, dropout_rate=0.5, seed=7)
    rnn = keras.layers.RNN(cell, return_sequences=True, return_state=True)
    inputs = np.ones((1, 12, 4), dtype="float32")
    rnn(inputs)  # build
    rng = np.random.default_rng(8)
    for kernel, recurrent_kernel, bias in cell.lstm_weights:
        kernel.assign(rng.uniform(0.5, 1.0, kernel.shape).astype("float32"))
        recurrent_kernel.assign(np.zeros(recurrent_kernel.shape, "float32"))
        values = np.full(bias.shape, 2.0, "float32")
        values[units : 2 * units] = -60.0  # forget gate shut: c (and h) do not depend on the past
        bias.assign(values)
    projection = np.zeros(cell.input_projection_kernel.shape, "float32")
    projection[:4, :4] = np.eye(4)  # x' = x, whatever the attention read
    cell.input_projection_kernel.assign(projection)
    cell.input_projection_bias.assign(np.zeros(4, "float32"))
    output_projection = np.zeros(cell.output_projection_kernel.shape, "float32")
    output_projection[:units] = np.eye(units)  # o = the top layer's output
    cell.output_projection_kernel.assign(output_projection)
    cell.output_projection_bias.assign(np.zeros(units, "float32"))

    plain, *plain_state = rnn(inputs, training=False)
    plain = plain.numpy()[0]
    np.testing.assert_allclose(plain, np.repeat(plain[:1], 12, axis=0), atol=1e-6)
    dropped, *state = rnn(inputs, training=True)
    dropped = dropped.numpy()[0]
    zeros = dropped == 0.0
    assert 0.3 < zeros.mean() < 0.7
    assert len({row.tobytes() for row in zeros}) > 6, "the same mask at every step"
    # The state keeps every layer's undropped h (indices 1 and 3): no zeros in them.
    assert np.all(state[1].numpy() != 0.0) and np.all(state[3].numpy() != 0.0)
    # Layer 0's h does not see any mask (its input is x): it equals the inference value.
    np.testing.assert_allclose(state[1].numpy(), plain_state[1].numpy(), rtol=1e-6)


def test_parameter_count_of_the_2016_layout_matches_the_magenta_js_drum_checkpoint():
    """drum_kit_rnn (2016): [256, 256, 256], attn_length 32, 518 inputs, 512 classes: 2,967,850
    float32 parameters, the 11.9 MB of Magenta.js's converted checkpoint (magenta-interop.md
    section 1.1)."""
    drum_kit = SimpleNamespace(
        name="drum_kit_rnn",
        encoder=SimpleNamespace(input_size=518, num_classes=512),
        hparams=HParams(
            rnn_layer_sizes=[256, 256, 256], attn_length=32, attention_layout="whole_stack"
        ),
    )
    assert magenta_parameter_count(drum_kit) == 2_967_850
    config = whole_stack_config()
    assert count_parameters(build_model(config)) == magenta_parameter_count(config)


def test_the_attention_layout_hparam_is_parsed_saved_and_checked(tmp_path):
    hparams = parse_hparams("attention_layout=whole_stack,attn_length=8", HParams())
    assert hparams.attention_layout == "whole_stack"
    assert "attention_layout=whole_stack" in hparams.to_string()
    assert parse_hparams(hparams.to_string(), HParams()) == hparams
    assert HParams().attention_layout == "first_layer"
    with pytest.raises(MelodylibError, match="attention_layout=.*first_layer, whole_stack"):
        parse_hparams("attention_layout=everywhere", HParams())
    with pytest.raises(MelodylibError, match="attention_layout"):
        HParams(attention_layout=3)
    # A bundle keeps the layout and the weights.
    config = whole_stack_config()
    model = randomised(build_model(config), seed=9)
    save_bundle(tmp_path / "whole.bundle", model, config)
    bundle = load_bundle(tmp_path / "whole.bundle")
    assert bundle.config.hparams.attention_layout == "whole_stack"
    inputs = np.random.default_rng(10).random((1, 5, config.encoder.input_size)).astype("float32")
    np.testing.assert_array_equal(bundle.build_model()(inputs).numpy(), model(inputs).numpy())


def test_without_attention_the_layout_changes_nothing():
    config = get_config("basic_rnn", "rnn_layer_sizes=[8,8],attention_layout=whole_stack")
    model = build_model(config)
    assert [layer.name for layer in model.layers if layer.name.startswith("lstm_")] == [
        "lstm_0",
        "lstm_1",
    ]
