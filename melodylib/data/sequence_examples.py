"""Magenta's training-data format: one `tf.train.SequenceExample` per melody.

Each example has two feature lists and no context: `inputs` (one FloatList of `input_size`
floats per step) and `labels` (one Int64List holding one class per step), so data made by
Magenta trains here and data made here trains in Magenta. The bytes are built directly with
numpy (the protobuf wire format is simple and every step has the same shape), which is much
faster than building one protobuf object per step; a test checks them against TensorFlow's
parser.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np

from melodylib.errors import MelodylibError
from melodylib.tfrecords import (
    read_all_records,
    read_records_with_sources,
)

_LENGTH_DELIMITED = 2


def _varint(value: int) -> bytes:
    """Protobuf base-128 varint of a non-negative integer."""
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field."""
    return _varint((number << 3) | _LENGTH_DELIMITED) + _varint(len(payload)) + payload


def _label_entry(label: int) -> bytes:
    """The feature-list entry Feature{int64_list: Int64List{value: [label]}} of one step."""
    return _field(1, _field(3, _field(1, _varint(label))))


# Every melody label is a small class index: these entries are looked up, not rebuilt per step.
_SMALL_LABEL_ENTRIES = tuple(_label_entry(label) for label in range(256))


def sequence_example_bytes(inputs: np.ndarray, labels: np.ndarray) -> bytes:
    """Serialise one melody's (inputs [T, input_size], labels [T]) as a SequenceExample."""
    inputs = np.ascontiguousarray(inputs, dtype="<f4")
    labels = np.asarray(labels, dtype=np.int64)
    if inputs.ndim != 2 or labels.ndim != 1 or inputs.shape[0] != labels.shape[0]:
        raise MelodylibError(
            f"inputs must be [steps, input_size] and labels [steps] with the same steps; "
            f"got {inputs.shape} and {labels.shape}"
        )
    if labels.size == 0:
        raise MelodylibError(
            "a melody needs at least 2 events to give one (input, label) step; got 0 steps"
        )
    if labels.min() < 0:
        raise MelodylibError("labels must be non-negative class indices")
    num_steps, input_size = inputs.shape
    # Feature{float_list: FloatList{value: [packed floats]}} is identical in layout for every step.
    packed_length = input_size * 4
    float_list_header = _varint((1 << 3) | _LENGTH_DELIMITED) + _varint(packed_length)
    float_list_size = len(float_list_header) + packed_length
    feature_header = (
        _varint((2 << 3) | _LENGTH_DELIMITED) + _varint(float_list_size) + float_list_header
    )
    feature_size = len(feature_header) + packed_length
    list_entry_header = (
        _varint((1 << 3) | _LENGTH_DELIMITED) + _varint(feature_size) + feature_header
    )
    header_array = np.frombuffer(list_entry_header, dtype=np.uint8)
    body = np.frombuffer(inputs.tobytes(), dtype=np.uint8).reshape(num_steps, packed_length)
    inputs_feature_list = np.concatenate(
        [np.broadcast_to(header_array, (num_steps, header_array.size)), body], axis=1
    ).tobytes()
    # Feature{int64_list: Int64List{value: [label]}} per step.
    labels_feature_list = b"".join(
        [
            _SMALL_LABEL_ENTRIES[label] if label < 256 else _label_entry(label)
            for label in labels.tolist()
        ]
    )

    def map_entry(key: str, feature_list: bytes) -> bytes:
        return _field(1, _field(1, key.encode()) + _field(2, feature_list))

    feature_lists = map_entry("inputs", inputs_feature_list) + map_entry(
        "labels", labels_feature_list
    )
    return _field(2, feature_lists)


def parse_sequence_example(payload: bytes, source: str = "record") -> tuple[np.ndarray, np.ndarray]:
    """Parse one SequenceExample into (inputs float32 [T, input_size], labels int64 [T]) with TensorFlow.

    Anything else (a NoteSequence record, a ragged or empty feature list) raises MelodylibError
    naming `source`.
    """
    import tensorflow as tf
    from google.protobuf.message import DecodeError

    not_melody = (
        f"{source} is not a melody SequenceExample (feature lists 'inputs' and 'labels', one entry per "
        "step); give the training_melodies.tfrecord or eval_melodies.tfrecord written by create_dataset"
    )
    try:
        example = tf.train.SequenceExample.FromString(payload)
    except DecodeError:
        raise MelodylibError(not_melody) from None
    feature_lists = example.feature_lists.feature_list
    if "inputs" not in feature_lists or "labels" not in feature_lists:
        raise MelodylibError(not_melody)
    input_rows = [list(feature.float_list.value) for feature in feature_lists["inputs"].feature]
    label_rows = [list(feature.int64_list.value) for feature in feature_lists["labels"].feature]
    if (
        not input_rows
        or len(input_rows) != len(label_rows)
        or len({len(row) for row in input_rows}) != 1
        or any(len(row) != 1 for row in label_rows)
    ):
        raise MelodylibError(not_melody)
    return np.array(input_rows, dtype=np.float32), np.array(
        [row[0] for row in label_rows], dtype=np.int64
    )


def read_sequence_examples(pattern: str | os.PathLike) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Iterate over (inputs, labels) of every SequenceExample in the files matching `pattern` (plain or GZIP)."""
    for path, index, record in read_records_with_sources(pattern, "sequence_example_file"):
        yield parse_sequence_example(record, f"{path}: record {index}")


def count_records(pattern: str | os.PathLike) -> int:
    """How many records the files matching `pattern` hold."""
    return sum(1 for _ in read_all_records(pattern, "sequence_example_file"))
