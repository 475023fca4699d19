"""Tests for melodylib.models: sizes, dropout, the attention cell, the step model, saving."""

from __future__ import annotations

import math
from types import SimpleNamespace

import keras
import numpy as np
import pytest

from melodylib.encoding.configs import CONFIG_NAMES, get_config
from melodylib.errors import MelodylibError
from melodylib.models.attention_cell import AttentionCell
from melodylib.models.lean.attention_rnn import AttentionRNN
from melodylib.models.lean.lean_lstm import LeanLSTM
from melodylib.models.melody_rnn import build_model, count_parameters, magenta_parameter_count
from melodylib.models.step import StepModel, build_step_model, gather_state, tile_state


def make_config(name: str, rnn_layer_sizes=None, attn_length=None, dropout_keep_prob=0.5):
    """The named config with optional small overrides (for speed)."""
    overrides = {"dropout_keep_prob": dropout_keep_prob}
    if rnn_layer_sizes is not None:
        overrides["rnn_layer_sizes"] = list(rnn_layer_sizes)
    if attn_length is not None:
        overrides["attn_length"] = attn_length
    return get_config(name, overrides)


def duck_config(**hparams):
    """A minimal stand-in config: build_model accepts any object with these attributes."""
    values = dict(
        rnn_layer_sizes=[8, 6], dropout_keep_prob=0.5, attn_length=5, residual_connections=False
    )
    values.update(hparams)
    encoder = SimpleNamespace(input_size=74, num_classes=40)
    return SimpleNamespace(name="duck", encoder=encoder, hparams=SimpleNamespace(**values))


def small_config(name: str):
    """A quick-to-run version of the named config (two small layers, short attention window)."""
    return make_config(
        name, rnn_layer_sizes=[8, 6], attn_length=5 if name == "attention_rnn" else None
    )


def random_inputs(config, batch: int, steps: int, seed: int = 0) -> np.ndarray:
    """Random [batch, steps, input_size] float32 inputs."""
    return (
        np.random.default_rng(seed)
        .random((batch, steps, config.encoder.input_size))
        .astype("float32")
    )


def randomise_weights(layer, seed: int = 0) -> None:
    """Give every weight (biases too) random values so that no term of the maths is hidden by zeros."""
    rng = np.random.default_rng(seed)
    layer.set_weights(
        [rng.normal(0.0, 0.4, size=w.shape).astype("float32") for w in layer.get_weights()]
    )


# ------------------------------------------------------------------ sizes


@pytest.mark.parametrize(
    "name, expected",
    [
        ("basic_rnn", 221_990),
        ("mono_rnn", 280_962),
        ("lookback_rnn", 264_744),
        ("attention_rnn", 338_006),
    ],
)
def test_parameter_counts_match_upstream(name, expected):
    config = make_config(name)
    assert count_parameters(build_model(config)) == expected
    assert magenta_parameter_count(config) == expected


def test_attention_parameter_breakdown_matches_spec():
    model = build_model(make_config("attention_rnn"))
    sizes = {
        w.path.split("/")[-2] + "/" + w.path.split("/")[-1]: int(np.prod(w.shape))
        for w in model.weights
    }
    cell = {k.split("/")[1]: v for k, v in sizes.items() if k.startswith("attention_cell/")}
    assert cell["input_projection_kernel"] + cell["input_projection_bias"] == 15_022  # W1
    assert cell["kernel"] + cell["recurrent_kernel"] + cell["bias"] == 103_936  # LSTM1
    assert cell["attn_w"] == 16_384 and cell["attn_v"] == 128
    assert cell["query_kernel"] + cell["query_bias"] == 32_896  # W3
    assert cell["output_projection_kernel"] + cell["output_projection_bias"] == 32_896  # W2
    assert model.get_layer("lstm_1").count_params() == 131_584
    assert model.get_layer("logits").count_params() == 5_160


def test_layer_names_are_predictable():
    names = [layer.name for layer in build_model(small_config("attention_rnn")).layers]
    assert names == ["inputs", "lstm_0", "dropout_0", "lstm_1", "dropout_1", "logits"]


@pytest.mark.parametrize("name", CONFIG_NAMES)
def test_output_shapes_with_any_length(name):
    config = small_config(name)
    model = build_model(config)
    for steps in (1, 9):
        logits = model(random_inputs(config, 3, steps), training=False)
        assert tuple(logits.shape) == (3, steps, config.encoder.num_classes)


# ------------------------------------------------------------------ initialisation and dropout


def test_forget_gate_bias_starts_at_one_and_kernels_use_the_joint_glorot_limit():
    config = small_config("attention_rnn")
    model = build_model(config)
    cells = [model.get_layer("lstm_0").cell, model.get_layer("lstm_1").cell]
    input_sizes = [config.encoder.input_size, 8]
    for cell, input_size in zip(cells, input_sizes):
        units = cell.units
        bias = cell.bias.numpy()
        np.testing.assert_array_equal(bias[units : 2 * units], 1.0)  # gate order i, f, c, o
        np.testing.assert_array_equal(np.delete(bias, np.s_[units : 2 * units]), 0.0)
        limit = math.sqrt(6.0 / (input_size + 5 * units))  # Glorot on the joint [in+u, 4u] kernel
        for kernel in (cell.kernel.numpy(), cell.recurrent_kernel.numpy()):
            assert np.abs(kernel).max() <= limit
            assert np.abs(kernel).max() > 0.8 * limit
    np.testing.assert_array_equal(model.get_layer("logits").bias.numpy(), 0.0)


def test_dropout_is_on_outputs_only_and_only_in_training():
    keras.utils.set_random_seed(1234)
    config = small_config("basic_rnn")
    model = build_model(config)
    for index in range(2):
        lstm = model.get_layer(f"lstm_{index}")
        assert lstm.cell.dropout == 0.0 and lstm.cell.recurrent_dropout == 0.0
        assert model.get_layer(f"dropout_{index}").rate == pytest.approx(0.5)
    inputs = random_inputs(config, 4, 12)
    first = model(inputs, training=False).numpy()
    np.testing.assert_array_equal(first, model(inputs, training=False).numpy())
    trained = model(inputs, training=True).numpy()
    assert np.abs(trained - first).max() > 1e-3


def test_keep_prob_one_means_no_dropout():
    config = make_config("basic_rnn", rnn_layer_sizes=[8], dropout_keep_prob=1.0)
    model = build_model(config)
    inputs = random_inputs(config, 2, 5)
    np.testing.assert_allclose(
        model(inputs, training=True), model(inputs, training=False), atol=1e-6
    )


@pytest.mark.parametrize(
    "field, value",
    [
        ("rnn_layer_sizes", []),
        ("rnn_layer_sizes", [8, 0]),
        ("dropout_keep_prob", 0.0),
        ("attn_length", -1),
        ("residual_connections", True),
    ],
)
def test_bad_hparams_raise_a_melodylib_error_naming_them(field, value):
    config = duck_config(**{field: value})
    with pytest.raises(MelodylibError, match=field):
        build_model(config)
    with pytest.raises(MelodylibError, match=field):
        magenta_parameter_count(config)


def test_duck_typed_config_builds():
    model = build_model(duck_config())
    assert count_parameters(model) == magenta_parameter_count(duck_config())


# ------------------------------------------------------------------ the attention cell


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def reference_attention(
    weights: dict, inputs: np.ndarray, attn_length: int, mask_empty_slots: bool = False
):
    """Straightforward numpy version of magenta-behaviour.md: "Network" steps 1-8, recomputing every key every step."""
    batch, steps, _ = inputs.shape
    units = weights["attn_v"].shape[0]
    c = np.zeros((batch, units))
    h = np.zeros((batch, units))
    attns = np.zeros((batch, units))
    memory = np.zeros((batch, attn_length, units))
    filled = 0
    outputs = []
    for t in range(steps):
        x = np.concatenate([inputs[:, t], attns], axis=1) @ weights["input_projection_kernel"]
        x = x + weights["input_projection_bias"]
        z = x @ weights["kernel"] + h @ weights["recurrent_kernel"] + weights["bias"]
        i, f, g, o = np.split(z, 4, axis=1)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        y = np.concatenate([c, h], axis=1) @ weights["query_kernel"] + weights["query_bias"]
        keys = np.einsum("blu,uv->blv", memory, weights["attn_w"])  # all keys, every step
        scores = np.tanh(keys + y[:, None, :]) @ weights["attn_v"]
        if mask_empty_slots and filled:  # the alternative upstream does NOT do
            scores[:, : attn_length - filled] = -np.inf
        alpha = np.exp(scores - scores.max(axis=1, keepdims=True))
        alpha /= alpha.sum(axis=1, keepdims=True)
        attns = np.einsum("bl,blu->bu", alpha, memory)
        output = np.concatenate([h, attns], axis=1) @ weights["output_projection_kernel"]
        output = output + weights["output_projection_bias"]
        memory = np.concatenate([memory[:, 1:], output[:, None, :]], axis=1)
        filled = min(filled + 1, attn_length)
        outputs.append(output)
    state = [
        c,
        h,
        attns,
        memory.reshape(batch, -1),
        np.einsum("blu,uv->blv", memory, weights["attn_w"]).reshape(batch, -1),
    ]
    return np.stack(outputs, axis=1), state


@pytest.fixture(scope="module")
def attention_layer():
    """An RNN over a 6-unit AttentionCell with a 5-slot window and random weights (biases too)."""
    layer = keras.layers.RNN(AttentionCell(6, 5), return_sequences=True, return_state=True)
    layer.build((None, None, 7))
    randomise_weights(layer, seed=3)
    return layer


def test_attention_cell_equals_the_naive_reference(attention_layer):
    inputs = np.random.default_rng(5).normal(size=(2, 50, 7)).astype("float32")
    outputs, *state = attention_layer(inputs)
    cell = attention_layer.cell
    weights = {w.path.split("/")[-1]: w.numpy().astype("float64") for w in cell.weights}
    expected_outputs, expected_state = reference_attention(weights, inputs.astype("float64"), 5)
    np.testing.assert_allclose(outputs.numpy(), expected_outputs, atol=1e-5)
    assert [int(s.shape[-1]) for s in state] == [
        6,
        6,
        6,
        30,
        30,
    ]  # [c, h, attns, attn_states, attn_keys]
    for got, want in zip(state, expected_state):
        np.testing.assert_allclose(got.numpy(), want, atol=1e-5)


def test_attention_cell_does_not_mask_the_empty_slots(attention_layer):
    inputs = np.random.default_rng(6).normal(size=(2, 3, 7)).astype("float32")
    outputs = attention_layer(inputs)[0].numpy()
    weights = {
        w.path.split("/")[-1]: w.numpy().astype("float64") for w in attention_layer.cell.weights
    }
    unmasked, _ = reference_attention(weights, inputs.astype("float64"), 5)
    masked, _ = reference_attention(weights, inputs.astype("float64"), 5, mask_empty_slots=True)
    # Step 2 attends over one stored output and four zero slots: masking would change it.
    assert np.abs(masked[:, 1] - unmasked[:, 1]).max() > 1e-3
    np.testing.assert_allclose(outputs, unmasked, atol=1e-5)


# ------------------------------------------------------------------ the chunked training layer


def loss_and_gradients(layer, variables, inputs, targets):
    """sum(layer(inputs) * targets) and its gradients for inputs + variables, in a compiled function."""
    import tensorflow as tf

    @tf.function
    def run(inputs):
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            loss = tf.reduce_sum(layer(inputs, training=True) * targets)
        return loss, tape.gradient(loss, [inputs] + list(variables))

    loss, gradients = run(tf.constant(inputs))
    return float(loss), [np.asarray(gradient) for gradient in gradients]


@pytest.mark.parametrize(
    "chunk_length, steps",
    [
        (4, 23),
        (5, 30),
        (7, 23),
        (16, 3),
        (3, 1),
    ],  # shorter than, equal to, longer than the window; one step
)
def test_chunked_layer_equals_the_step_by_step_loop_with_its_gradients(chunk_length, steps):
    cell = AttentionCell(6, 5, name="attention_cell")
    chunked = AttentionRNN(cell, chunk_length=chunk_length, return_sequences=True)
    plain = keras.layers.RNN(cell, return_sequences=True)  # the same cell and weights
    chunked.build((None, None, 7))
    plain.build((None, None, 7))
    randomise_weights(chunked, seed=11)
    rng = np.random.default_rng(chunk_length)
    inputs = rng.normal(size=(3, steps, 7)).astype("float32")
    targets = rng.normal(size=(3, steps, 6)).astype("float32")
    np.testing.assert_allclose(chunked(inputs), plain(inputs), atol=1e-5)
    loss, gradients = loss_and_gradients(chunked, cell.trainable_variables, inputs, targets)
    expected_loss, expected_gradients = loss_and_gradients(
        plain, cell.trainable_variables, inputs, targets
    )
    assert loss == pytest.approx(expected_loss, rel=1e-5, abs=1e-5)
    names = ["inputs"] + [variable.name for variable in cell.trainable_variables]
    for name, got, want in zip(names, gradients, expected_gradients):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5, err_msg=name)


def test_the_training_model_uses_the_chunked_layer_with_unchanged_weights_loss_and_gradients(
    monkeypatch,
):
    import tensorflow as tf

    from melodylib.models import melody_rnn as models

    keras.utils.set_random_seed(3)
    config = make_config(
        "attention_rnn", rnn_layer_sizes=[8, 6], attn_length=5, dropout_keep_prob=1.0
    )
    model = build_model(config)
    assert isinstance(model.get_layer("lstm_0"), AttentionRNN)
    randomise_weights(model.get_layer("lstm_0"), seed=5)
    monkeypatch.setattr(
        models, "AttentionRNN", lambda cell, **kwargs: keras.layers.RNN(cell, **kwargs)
    )
    reference = build_model(config)  # lstm_0 a plain keras RNN over the same kind of cell
    assert [w.path for w in reference.weights] == [w.path for w in model.weights]
    reference.set_weights(model.get_weights())
    rng = np.random.default_rng(1)
    inputs = tf.constant(random_inputs(config, 4, 37, seed=2))
    labels = tf.constant(rng.integers(0, config.encoder.num_classes, size=(4, 37)))

    def loss_and_gradients_of(net):
        with tf.GradientTape() as tape:
            logits = net(inputs, training=True)
            loss = tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
            )
        return float(loss), [np.asarray(g) for g in tape.gradient(loss, net.trainable_variables)]

    loss, gradients = loss_and_gradients_of(model)
    expected_loss, expected_gradients = loss_and_gradients_of(reference)
    assert loss == pytest.approx(expected_loss, rel=1e-6)
    for variable, got, want in zip(model.trainable_variables, gradients, expected_gradients):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6, err_msg=variable.path)


def test_the_chunked_layer_falls_back_to_the_cell_loop_for_states():
    cell = AttentionCell(6, 5)
    layer = AttentionRNN(cell, chunk_length=4, return_sequences=True, return_state=True)
    layer.build((None, None, 7))
    randomise_weights(layer, seed=2)
    inputs = np.random.default_rng(4).normal(size=(2, 9, 7)).astype("float32")
    outputs, *state = layer(inputs)
    assert [int(part.shape[-1]) for part in state] == [6, 6, 6, 30, 30]
    weights = {w.path.split("/")[-1]: w.numpy().astype("float64") for w in cell.weights}
    expected_outputs, expected_state = reference_attention(weights, inputs.astype("float64"), 5)
    np.testing.assert_allclose(outputs, expected_outputs, atol=1e-5)
    for got, want in zip(state, expected_state):
        np.testing.assert_allclose(got, want, atol=1e-5)
    with pytest.raises(MelodylibError, match="chunk_length"):
        AttentionRNN(AttentionCell(6, 5), chunk_length=0)


@pytest.mark.parametrize("steps, input_size", [(1, 5), (9, 7), (40, 3)])
def test_the_lean_lstm_equals_keras_lstm_with_its_gradients(steps, input_size):
    lean = LeanLSTM(6, return_sequences=True, unit_forget_bias=True)
    plain = keras.layers.LSTM(6, return_sequences=True, unit_forget_bias=True)
    lean.build((None, None, input_size))
    plain.build((None, None, input_size))
    randomise_weights(lean, seed=steps)
    plain.set_weights(lean.get_weights())
    assert [w.path.split("/", 1)[1] for w in lean.weights] == [
        w.path.split("/", 1)[1] for w in plain.weights
    ]
    rng = np.random.default_rng(steps)
    inputs = rng.normal(size=(3, steps, input_size)).astype("float32")
    targets = rng.normal(size=(3, steps, 6)).astype("float32")
    np.testing.assert_allclose(lean(inputs), plain(inputs), atol=1e-6)
    loss, gradients = loss_and_gradients(lean, lean.trainable_variables, inputs, targets)
    expected_loss, expected_gradients = loss_and_gradients(
        plain, plain.trainable_variables, inputs, targets
    )
    assert lean._sequence_op is not None  # the lean loop ran, not Keras' own
    assert loss == pytest.approx(expected_loss, rel=1e-5, abs=1e-5)
    for name, got, want in zip(
        ["inputs", "kernel", "recurrent_kernel", "bias"], gradients, expected_gradients
    ):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5, err_msg=name)


def test_the_lean_lstm_is_keras_lstm_for_states_and_sits_only_after_attention():
    layer = LeanLSTM(4, return_sequences=True, return_state=True)
    plain = keras.layers.LSTM(4, return_sequences=True, return_state=True)
    inputs = np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32")
    layer.build(inputs.shape)
    plain.build(inputs.shape)
    randomise_weights(layer, seed=1)
    plain.set_weights(layer.get_weights())
    for got, want in zip(layer(inputs), plain(inputs)):
        np.testing.assert_allclose(got, want, atol=1e-6)
    assert layer._sequence_op is None
    attention = build_model(make_config("attention_rnn", rnn_layer_sizes=[8, 6, 5], attn_length=3))
    assert [type(attention.get_layer(f"lstm_{index}")) for index in range(3)] == [
        AttentionRNN,
        LeanLSTM,
        LeanLSTM,
    ]
    basic = build_model(make_config("basic_rnn", rnn_layer_sizes=[8, 6]))
    assert [type(basic.get_layer(f"lstm_{index}")) for index in range(2)] == [keras.layers.LSTM] * 2


# ------------------------------------------------------------------ the step model


@pytest.mark.parametrize("name", CONFIG_NAMES)
def test_step_model_equals_the_full_model(name):
    keras.utils.set_random_seed(7)
    config = small_config(name)
    model = build_model(config)
    if name == "attention_rnn":
        randomise_weights(model.get_layer("lstm_0"), seed=8)
    inputs = random_inputs(config, 3, 13, seed=9)
    expected = model(inputs, training=False).numpy()
    step_model = StepModel(model)

    logits, _ = step_model(inputs, step_model.zero_state(3))
    np.testing.assert_allclose(logits.numpy(), expected, atol=1e-5)

    state = step_model.zero_state(3)
    pieces = []
    for start, stop in [(0, 1), (1, 5), (5, 6), (6, 7), (7, 13)]:
        logits, state = step_model(inputs[:, start:stop], state)
        pieces.append(logits.numpy())
    np.testing.assert_allclose(np.concatenate(pieces, axis=1), expected, atol=1e-5)
    # One trace for every batch size and chunk length (input_signature with None dims).
    step_model(inputs[:1, :2], step_model.zero_state(1))
    assert step_model._function.experimental_get_tracing_count() == 1


def test_step_model_state_layout_and_shared_weights():
    config = small_config("attention_rnn")
    model = build_model(config)
    step_model = build_step_model(config, model)
    # attention layer [c, h, attns, attn_states, attn_keys], then LSTM [h, c].
    assert step_model.state_sizes == [8, 8, 8, 40, 40, 6, 6]
    assert [tuple(part.shape) for part in step_model.zero_state(2)][3] == (2, 40)
    inputs = random_inputs(config, 2, 4)
    before, _ = step_model(inputs, step_model.zero_state(2))
    logits_layer = model.get_layer("logits")
    logits_layer.bias.assign(logits_layer.bias.numpy() + 1.0)  # change the training model
    after, _ = step_model(inputs, step_model.zero_state(2))
    np.testing.assert_allclose(after.numpy(), before.numpy() + 1.0, atol=1e-5)


def test_gather_and_tile_state_follow_the_batch_rows():
    config = small_config("attention_rnn")
    step_model = StepModel(build_model(config))
    inputs = random_inputs(config, 3, 6, seed=2)
    _, state = step_model(inputs[:, :4], step_model.zero_state(3))
    order = [2, 0, 0]
    gathered = gather_state(state, order)
    logits, _ = step_model(inputs[order, 4:], gathered)
    expected, _ = step_model(inputs[order], step_model.zero_state(3))
    np.testing.assert_allclose(logits.numpy(), expected.numpy()[:, 4:], atol=1e-5)

    tiled = tile_state(state, 2)
    for part, tiled_part in zip(state, tiled):
        np.testing.assert_array_equal(tiled_part.numpy(), np.repeat(part.numpy(), 2, axis=0))


def test_step_model_rejects_wrong_input_width():
    config = small_config("basic_rnn")
    step_model = StepModel(build_model(config))
    with pytest.raises(MelodylibError, match="expected \\[batch, time, 38\\]"):
        step_model(np.zeros((1, 2, 5), "float32"), step_model.zero_state(1))


# ------------------------------------------------------------------ saving


@pytest.mark.parametrize("name", ["lookback_rnn", "attention_rnn"])
def test_save_and_load_round_trip(tmp_path, name):
    config = small_config(name)
    model = build_model(config)
    if name == "attention_rnn":
        randomise_weights(model.get_layer("lstm_0"), seed=4)
    inputs = random_inputs(config, 2, 7)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    np.testing.assert_allclose(
        loaded(inputs, training=False), model(inputs, training=False), atol=1e-6
    )
    if name == "attention_rnn":
        assert isinstance(loaded.get_layer("lstm_0").cell, AttentionCell)
        assert loaded.get_layer("lstm_0").cell.attn_length == 5


def test_attention_weights_are_a_distribution_per_step_and_follow_the_model():
    from melodylib.models.attention_cell import attention_weights

    config = get_config("attention_rnn", "rnn_layer_sizes=[8,6],attn_length=5")
    model = build_model(config)
    events = [60, -2, 62, -2, 64, -1, 65, -2, 67, -2, -2, -2]
    weights = attention_weights(model, config.encoder.inputs(events))
    assert weights.shape == (len(events), 5)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-5)
    # At the first step every slot is the same zero memory, so attention is uniform.
    np.testing.assert_allclose(weights[0], 0.2, rtol=1e-5)
    # A model without attention has no weights to show.
    with pytest.raises(MelodylibError, match="no attention layer"):
        attention_weights(
            build_model(get_config("basic_rnn", "rnn_layer_sizes=[8]")), np.zeros((3, 38))
        )
