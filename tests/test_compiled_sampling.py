"""Tests for melodylib.encoding.graph_encoders and melodylib.generation.sampler: the encoders as
TensorFlow ops equal the numpy encoders, and the compiled loop samples exactly what the Python
loop samples."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from melodylib.encoding.configs import get_config
from melodylib.encoding.encoders import (
    KeyEncoder,
    LookbackEncoder,
    MelodyOneHotEncoding,
    OneHotEncoder,
)
from melodylib.encoding.graph_encoders import graph_encoder, supports_compiled_sampling
from melodylib.generation.generator import MelodyGenerator
from melodylib.models.melody_rnn import build_model
from melodylib.music.melodies import NO_EVENT, NOTE_OFF

ENCODERS = {
    "onehot": OneHotEncoder(MelodyOneHotEncoding(48, 84)),
    "lookback": LookbackEncoder(MelodyOneHotEncoding(48, 84)),
    "key": KeyEncoder(48, 84),
    "lookback_custom": LookbackEncoder(
        MelodyOneHotEncoding(60, 72), lookback_distances=[3, 5], binary_counter_bits=3
    ),
    "key_custom": KeyEncoder(60, 72, lookback_distances=[4], binary_counter_bits=4),
    # No lookbacks and no counter: the empty blocks must leave no columns behind.
    "lookback_bare": LookbackEncoder(
        MelodyOneHotEncoding(60, 72), lookback_distances=[], binary_counter_bits=0
    ),
    "key_bare": KeyEncoder(60, 72, lookback_distances=[], binary_counter_bits=0),
}


def random_melodies(encoder, num_melodies: int, length: int, seed: int) -> np.ndarray:
    """Melodies in the encoder's range, with many repeats so the lookback and list rules are exercised."""
    rng = np.random.default_rng(seed)
    low, high = encoder.min_note, encoder.max_note
    pool = rng.integers(low, high, size=5)
    melodies = np.empty((num_melodies, length), np.int64)
    for row in range(num_melodies):
        choice = rng.random(length)
        notes = np.where(
            rng.random(length) < 0.7, rng.choice(pool, length), rng.integers(low, high, length)
        )
        melodies[row] = np.where(choice < 0.4, NO_EVENT, np.where(choice < 0.5, NOTE_OFF, notes))
        # Copy whole bars now and then, as lookback melodies do.
        for start in range(8, length, 8):
            if rng.random() < 0.3:
                distance = rng.choice([3, 4, 5, 16, 32])
                if start >= distance:
                    melodies[row, start : start + 4] = melodies[
                        row, start - distance : start - distance + 4
                    ]
    return melodies


def graph_rows(encoder, melodies: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and labels of every position, computed step by step with the graph encoder (eagerly)."""
    graph = graph_encoder(encoder)
    history = tf.constant(melodies, tf.int32)
    state = graph.initial_state(tf.shape(history)[0])
    inputs, labels = [], []
    for position in range(melodies.shape[1]):
        position_tensor = tf.constant(position, tf.int32)
        events = history[:, position]
        state = graph.update(state, events, position_tensor)
        inputs.append(graph.features(state, history, position_tensor).numpy())
        # One-hot labels are the sampled classes themselves; the other encoders work them out.
        classes = graph.one_hot.index(events) if isinstance(encoder, OneHotEncoder) else None
        labels.append(graph.label(classes, history, position_tensor).numpy())
    return np.stack(inputs, axis=1), np.stack(labels, axis=1)


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_graph_encoder_inputs_and_labels_equal_the_numpy_encoder(name):
    encoder = ENCODERS[name]
    melodies = random_melodies(encoder, num_melodies=6, length=70, seed=len(name))
    inputs, labels = graph_rows(encoder, melodies)
    for row, melody in enumerate(melodies):
        np.testing.assert_array_equal(
            inputs[row], encoder.inputs(melody), err_msg=f"inputs of melody {row}"
        )
        np.testing.assert_array_equal(
            labels[row], encoder.labels(melody), err_msg=f"labels of melody {row}"
        )


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_graph_decoding_equals_class_index_to_event(name):
    encoder = ENCODERS[name]
    graph = graph_encoder(encoder)
    melodies = random_melodies(encoder, num_melodies=3, length=40, seed=7)
    for position in (0, 2, 5, 16, 33, 39):
        history = tf.constant(melodies, tf.int32)
        for index in range(encoder.num_classes):
            classes = tf.fill([len(melodies)], index)
            decoded = graph.decode(classes, history, tf.constant(position, tf.int32)).numpy()
            expected = [
                encoder.class_index_to_event(index, melody[:position]) for melody in melodies
            ]
            assert list(decoded) == expected, (index, position)


def test_every_config_encoder_is_supported():
    for name in ("basic_rnn", "mono_rnn", "lookback_rnn", "attention_rnn"):
        assert supports_compiled_sampling(get_config(name).encoder)


@pytest.fixture(scope="module")
def generators() -> dict[str, MelodyGenerator]:
    keras.utils.set_random_seed(9)
    result = {}
    for name in ("basic_rnn", "mono_rnn", "lookback_rnn", "attention_rnn"):
        config = get_config(name, {"rnn_layer_sizes": [16, 16], "attn_length": 5})
        model = build_model(config)
        logits = model.get_layer("logits")
        kernel, bias = logits.get_weights()
        logits.set_weights([kernel * 6, np.random.default_rng(2).normal(0, 2, size=bias.shape)])
        result[name] = MelodyGenerator(model, config)
    return result


@pytest.mark.parametrize(
    "search",
    [{}, {"beam_size": 3, "branch_factor": 2, "steps_per_iteration": 2}],
    ids=["sampling", "beam_search"],
)
@pytest.mark.parametrize("name", ["basic_rnn", "mono_rnn", "lookback_rnn", "attention_rnn"])
def test_compiled_loop_samples_what_the_python_loop_samples(generators, name, search):
    generator = generators[name]
    primer = [67, NO_EVENT, 64, NO_EVENT, 62, NOTE_OFF, 60, NO_EVENT, 62, 64]
    compiled = generator.generate(
        primer, num_steps=60, num_outputs=5, temperature=0.9, seed=21, **search
    )
    sampler, generator._sampler = generator._sampler, None
    try:
        python = generator.generate(
            primer, num_steps=60, num_outputs=5, temperature=0.9, seed=21, **search
        )
    finally:
        generator._sampler = sampler
    assert [melody.events for melody in compiled] == [melody.events for melody in python]
    np.testing.assert_allclose(
        [m.log_likelihood for m in compiled], [m.log_likelihood for m in python], rtol=1e-5
    )
    # And each score is the melody's log-likelihood under the model.
    for melody in compiled:
        expected = generator.log_likelihood(melody.model_events, temperature=0.9, squash=False)
        assert melody.log_likelihood == pytest.approx(expected, rel=1e-4)
