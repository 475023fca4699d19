"""Tests for melodylib.data.sequence_examples: our hand-built SequenceExample bytes are Magenta's format."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from melodylib.data.sequence_examples import (
    count_records,
    parse_sequence_example,
    read_sequence_examples,
    sequence_example_bytes,
)
from melodylib.encoding.configs import get_config
from melodylib.errors import MelodylibError
from melodylib.music.notesequence import Note, NoteSequence, write_note_sequences
from melodylib.tfrecords import write_records


def random_events(
    rng: np.random.Generator, length: int, low: int = 48, high: int = 84
) -> list[int]:
    """A valid melody in [low, high): note-ons, holds and note-offs, starting with a note."""
    draws = rng.random(length)
    pitches = rng.integers(low, high, size=length)
    events = np.where(draws < 0.45, pitches, np.where(draws < 0.9, -2, -1)).tolist()
    events[0] = int(pitches[0])
    return [int(event) for event in events]


def tensorflow_parse(payload: bytes, input_size: int) -> tuple[np.ndarray, np.ndarray]:
    """TensorFlow's own parser, as Magenta's training input uses it (magenta-behaviour.md: "Batching")."""
    _, sequence = tf.io.parse_single_sequence_example(
        payload,
        sequence_features={
            "inputs": tf.io.FixedLenSequenceFeature([input_size], dtype=tf.float32),
            "labels": tf.io.FixedLenSequenceFeature([], dtype=tf.int64),
        },
    )
    return sequence["inputs"].numpy(), sequence["labels"].numpy()


def protobuf_bytes(inputs: np.ndarray, labels: np.ndarray) -> bytes:
    """The same example built the slow way, one protobuf Feature per step (Magenta's make_sequence_example)."""
    example = tf.train.SequenceExample()
    for row in inputs:
        example.feature_lists.feature_list["inputs"].feature.add().float_list.value.extend(
            row.tolist()
        )
    for label in labels:
        example.feature_lists.feature_list["labels"].feature.add().int64_list.value.append(
            int(label)
        )
    return example.SerializeToString()


@pytest.mark.parametrize("name", ["basic_rnn", "mono_rnn", "lookback_rnn", "attention_rnn"])
def test_bytes_parse_with_tensorflow_to_the_same_arrays(name):
    config = get_config(name)
    rng = np.random.default_rng(7)
    low, high = (0, 128) if name == "mono_rnn" else (48, 84)
    inputs, labels = config.encoder.encode(random_events(rng, 150, low, high))
    payload = sequence_example_bytes(inputs, labels)
    parsed_inputs, parsed_labels = tensorflow_parse(payload, config.encoder.input_size)
    np.testing.assert_array_equal(parsed_inputs, inputs)
    np.testing.assert_array_equal(parsed_labels, labels)
    assert parsed_inputs.shape == (149, config.encoder.input_size)
    # Our reader agrees, and so does a SequenceExample built with the protobuf API.
    ours_inputs, ours_labels = parse_sequence_example(payload)
    np.testing.assert_array_equal(ours_inputs, inputs)
    np.testing.assert_array_equal(ours_labels, labels)
    assert tf.train.SequenceExample.FromString(payload) == tf.train.SequenceExample.FromString(
        protobuf_bytes(inputs, labels)
    )


def test_large_labels_and_non_binary_inputs_round_trip():
    inputs = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    labels = np.array([0, 127, 128, 300, 2**40])  # multi-byte varints
    parsed_inputs, parsed_labels = tensorflow_parse(sequence_example_bytes(inputs, labels), 3)
    np.testing.assert_array_equal(parsed_inputs, inputs)
    np.testing.assert_array_equal(parsed_labels, labels)


def test_shape_mismatch_negative_labels_and_empty_melodies_are_rejected():
    with pytest.raises(MelodylibError, match="same steps"):
        sequence_example_bytes(np.zeros((3, 4)), np.zeros(2, dtype=int))
    with pytest.raises(MelodylibError, match="non-negative"):
        sequence_example_bytes(np.zeros((2, 4)), np.array([0, -1]))
    with pytest.raises(MelodylibError, match="at least 2 events"):
        sequence_example_bytes(np.zeros((0, 4)), np.zeros(0, dtype=int))


def test_read_plain_and_gzip_files_and_globs(tmp_path):
    config = get_config("basic_rnn")
    rng = np.random.default_rng(1)
    examples = [config.encoder.encode(random_events(rng, length)) for length in (20, 33, 41)]
    payloads = [sequence_example_bytes(inputs, labels) for inputs, labels in examples]
    write_records(tmp_path / "plain.tfrecord", payloads[:2])
    write_records(tmp_path / "packed.tfrecord", payloads[2:], compress=True)
    assert (tmp_path / "packed.tfrecord").read_bytes()[:2] == b"\x1f\x8b"
    read = list(read_sequence_examples(str(tmp_path / "p*.tfrecord")))  # sorted: packed, plain
    assert [len(labels) for _, labels in read] == [40, 19, 32]
    np.testing.assert_array_equal(read[0][1], examples[2][1])
    np.testing.assert_array_equal(read[1][0], examples[0][0])
    assert count_records(f"{tmp_path}/plain.tfrecord,{tmp_path}/packed.tfrecord") == 3


def test_a_note_sequence_file_is_not_taken_for_sequence_examples(tmp_path):
    path = tmp_path / "notesequences.tfrecord"
    write_note_sequences(path, [NoteSequence(notes=[Note(60, 80, 0.0, 0.5)], id="x")])
    with pytest.raises(
        MelodylibError, match=r"notesequences.tfrecord: record 0 is not a melody SequenceExample"
    ):
        list(read_sequence_examples(path))


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(MelodylibError, match="does not exist"):
        list(read_sequence_examples(tmp_path / "nothing.tfrecord"))
    with pytest.raises(MelodylibError, match="no file matches"):
        list(read_sequence_examples(str(tmp_path / "*.tfrecord")))
