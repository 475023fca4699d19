"""Encoders against the upstream test vectors (magenta-behaviour.md: "Reference test vectors") and a literal reference scan."""

from __future__ import annotations

import json

import numpy as np
import pytest

from melodylib.encoding.configs import CONFIG_NAMES, get_config
from melodylib.encoding.encoders import (
    FeatureBlock,
    KeyEncoder,
    LookbackEncoder,
    MelodyOneHotEncoding,
    OneHotEncoder,
    OneHotEncoding,
    encoder_from_dict,
    event_name,
)
from melodylib.errors import MelodylibError
from melodylib.music.events import NO_EVENT as NO
from melodylib.music.events import NOTE_OFF as OFF

# The melody of note_seq's lookback and key encoder tests (magenta-behaviour.md: "Reference test vectors"), 36 events.
TEST_MELODY = [48, NO, 49, 83, OFF] + [NO] * 11 + [48, OFF] + [NO] * 14 + [48, OFF, 49, 82]
TWINKLE = [60, NO, 60, NO, 67, NO, 67, NO]


def vector(size: int, entries: dict[int, float]) -> np.ndarray:
    """A float32 vector with the given non-zero entries."""
    result = np.zeros(size, dtype=np.float32)
    for index, value in entries.items():
        result[index] = value
    return result


# The custom-range tests (24..36) use the same melody with pitches 48, 49, 83, 82 -> 24, 25, 35, 34.
CUSTOM_RANGE_PITCHES = {48: 24, 49: 25, 83: 35, 82: 34}
CUSTOM_RANGE_MELODY = [CUSTOM_RANGE_PITCHES.get(event, event) for event in TEST_MELODY]


class TrivialOneHotEncoding(OneHotEncoding):
    """note_seq's toy encoding (magenta-behaviour.md: "Reference test vectors"): identity over num_classes events, optional steps per event."""

    def __init__(self, num_classes: int, num_steps: list[int] | None = None) -> None:
        self.num_classes = num_classes
        self.default_event = 0
        self.num_steps = num_steps

    def encode_event(self, event: int) -> int:
        return event

    def decode_event(self, index: int) -> int:
        return index

    def event_to_num_steps(self, event: int) -> int:
        return self.num_steps[event] if self.num_steps else 1


# --------------------------------------------------------------------------------------------
# magenta-behaviour.md: "Reference test vectors" MelodyOneHotEncoding
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "min_note, max_note, num_classes", [(60, 72, 14), (0, 128, 130), (60, 61, 3)]
)
def test_one_hot_encoding_num_classes(min_note, max_note, num_classes):
    assert MelodyOneHotEncoding(min_note, max_note).num_classes == num_classes


def test_one_hot_encoding_encode_and_decode():
    encoding = MelodyOneHotEncoding(60, 72)
    assert [encoding.encode_event(event) for event in (60, 71, NO, OFF)] == [2, 13, 0, 1]
    assert [encoding.decode_event(index) for index in (5, 2, 13, 0, 1)] == [63, 60, 71, -2, -1]
    assert encoding.encode_events(np.array([60, 71, NO, OFF])).tolist() == [2, 13, 0, 1]
    assert encoding.decode_events(np.array([5, 2, 13, 0, 1])).tolist() == [63, 60, 71, -2, -1]
    assert encoding.default_event == NO
    assert encoding.event_to_num_steps(60) == 1


@pytest.mark.parametrize("event", [-3, 59, 72])
def test_one_hot_encoding_rejects_events_outside_the_range(event):
    encoding = MelodyOneHotEncoding(60, 72)
    with pytest.raises(MelodylibError, match=f"{event}.*60..71"):
        encoding.encode_event(event)
    with pytest.raises(MelodylibError, match=f"event {event} at position 1"):
        encoding.encode_events(np.array([60, event]))


@pytest.mark.parametrize(
    "min_note, max_note, message",
    [(-1, 12, "min_note"), (60, 129, "max_note"), (72, 72, "greater than")],
)
def test_one_hot_encoding_constructor_errors(min_note, max_note, message):
    with pytest.raises(MelodylibError, match=message):
        MelodyOneHotEncoding(min_note, max_note)


# --------------------------------------------------------------------------------------------
# magenta-behaviour.md: "Reference test vectors" OneHotEncoder over a melody encoding (range 60..72)
# --------------------------------------------------------------------------------------------


def test_one_hot_encoder_upstream_vectors():
    encoder = OneHotEncoder(MelodyOneHotEncoding(60, 72))
    squashed = [
        60,
        60,
        67,
        71,
        NO,
        71,
        60,
        OFF,
        NO,
    ]  # squash of [100, 100, 107, 111, NO, 99, 112, OFF, NO]
    inputs, labels = encoder.encode(squashed)
    assert inputs.shape == (8, 14) and inputs.dtype == np.float32
    assert labels.dtype == np.int64
    assert np.array_equal(inputs, np.eye(14, dtype=np.float32)[[2, 2, 9, 13, 0, 13, 2, 1]])
    assert labels.tolist() == [2, 9, 13, 0, 13, 2, 1, 0]
    assert encoder.input_size == encoder.num_classes == 14
    assert encoder.default_event_label == 0


def test_one_hot_encoder_full_length_inputs_of_second_melody():
    encoder = OneHotEncoder(MelodyOneHotEncoding(60, 72))
    squashed = [71, 60, 62, 64, 65, 67, 69, 71, 60]  # squash of [9, 10, 12, 14, 15, 17, 19, 21, 22]
    inputs = encoder.inputs(squashed)
    assert inputs.shape == (9, 14)
    assert inputs.argmax(axis=1).tolist() == [13, 2, 4, 6, 7, 9, 11, 13, 2]
    assert inputs.sum(axis=1).tolist() == [1.0] * 9


def test_one_hot_encoder_class_to_event():
    encoder = OneHotEncoder(MelodyOneHotEncoding(60, 72))
    history = [60, NO]
    assert [encoder.class_index_to_event(index, history) for index in (2, 13, 0, 1)] == [
        60,
        71,
        NO,
        OFF,
    ]
    with pytest.raises(MelodylibError, match="class index 14"):
        encoder.class_index_to_event(14, history)


# --------------------------------------------------------------------------------------------
# magenta-behaviour.md: "Reference test vectors" LookbackEncoder, default and custom range
# --------------------------------------------------------------------------------------------

LOOKBACK_POSITIONS = [0, 1, 2, 3, 4, 16, 17, 32, 33, 34, 35]
LOOKBACK_INPUTS = {
    0: {2: 1, 38: 1, 76: 1, 114: 1, 115: -1, 116: -1, 117: -1, 118: -1},
    1: {0: 1, 38: 1, 76: 1, 114: -1, 115: 1, 116: -1, 117: -1, 118: -1},
    2: {3: 1, 38: 1, 76: 1, 114: 1, 115: 1, 116: -1, 117: -1, 118: -1},
    3: {37: 1, 38: 1, 76: 1, 114: -1, 115: -1, 116: 1, 117: -1, 118: -1},
    4: {1: 1, 38: 1, 76: 1, 114: 1, 115: -1, 116: 1, 117: -1, 118: -1},
    16: {2: 1, 38: 1, 76: 1, 114: 1, 115: -1, 116: -1, 117: -1, 118: 1, 119: 1},
    17: {1: 1, 41: 1, 76: 1, 114: -1, 115: 1, 116: -1, 117: -1, 118: 1},
    32: {2: 1, 39: 1, 76: 1, 114: 1, 115: -1, 116: -1, 117: -1, 118: -1, 119: 1, 120: 1},
    33: {1: 1, 38: 1, 79: 1, 114: -1, 115: 1, 116: -1, 117: -1, 118: -1, 119: 1},
    34: {3: 1, 38: 1, 113: 1, 114: 1, 115: 1, 116: -1, 117: -1, 118: -1, 120: 1},
    35: {36: 1, 38: 1, 77: 1, 114: -1, 115: -1, 116: 1, 117: -1, 118: -1},
}


def test_lookback_encoder_default_range_inputs():
    encoder = LookbackEncoder(MelodyOneHotEncoding(48, 84))
    assert (encoder.input_size, encoder.num_classes, encoder.default_event_label) == (121, 40, 0)
    inputs = encoder.inputs(TEST_MELODY)
    assert inputs.shape == (36, 121) and inputs.dtype == np.float32
    for position, entries in LOOKBACK_INPUTS.items():
        assert np.array_equal(inputs[position], vector(121, entries)), position


def test_lookback_encoder_default_range_labels_decode_back():
    encoder = LookbackEncoder(MelodyOneHotEncoding(48, 84))
    labels = encoder.labels(TEST_MELODY)
    assert labels[LOOKBACK_POSITIONS].tolist() == [2, 39, 3, 37, 1, 38, 1, 39, 38, 39, 36]
    for position in LOOKBACK_POSITIONS:
        assert (
            encoder.class_index_to_event(int(labels[position]), TEST_MELODY[:position])
            == TEST_MELODY[position]
        )


def test_lookback_encoder_custom_range():
    encoder = LookbackEncoder(MelodyOneHotEncoding(24, 36))
    melody = CUSTOM_RANGE_MELODY
    assert (encoder.input_size, encoder.num_classes) == (49, 16)
    labels = encoder.labels(melody)
    assert labels[LOOKBACK_POSITIONS].tolist() == [2, 15, 3, 13, 1, 14, 1, 15, 14, 15, 12]
    for position in LOOKBACK_POSITIONS:
        assert (
            encoder.class_index_to_event(int(labels[position]), melody[:position])
            == melody[position]
        )


# --------------------------------------------------------------------------------------------
# magenta-behaviour.md: "Reference test vectors" KeyEncoder, default and custom range
# --------------------------------------------------------------------------------------------

KEY_POSITIONS = [0, 1, 2, 3, 4, 15, 16, 17, 32, 33, 34, 35]
C_MAJOR_KEYS_WITH_C = [0, 1, 3, 5, 7, 8, 10]  # keys containing the pitch class C


def test_key_encoder_sizes():
    encoder = KeyEncoder(48, 84)
    assert (encoder.input_size, encoder.num_classes, encoder.default_event_label) == (74, 40, 36)
    assert (KeyEncoder(24, 36).input_size, KeyEncoder(24, 36).num_classes) == (50, 16)


def test_key_encoder_default_range_labels_decode_back():
    encoder = KeyEncoder(48, 84)
    labels = encoder.labels(TEST_MELODY)
    assert labels[KEY_POSITIONS].tolist() == [0, 39, 1, 35, 37, 39, 38, 37, 39, 38, 39, 34]
    for position in KEY_POSITIONS:
        assert (
            encoder.class_index_to_event(int(labels[position]), TEST_MELODY[:position])
            == TEST_MELODY[position]
        )


def test_key_encoder_default_range_input_examples():
    inputs = KeyEncoder(48, 84).inputs(TEST_MELODY)
    assert inputs.shape == (36, 74) and inputs.dtype == np.float32
    position_0 = {0: 1, 36: 1, 38: 1, 42: 1, **{index: -1 for index in range(43, 49)}}
    position_0.update({50 + key: 1 for key in C_MAJOR_KEYS_WITH_C})
    position_0.update({62 + key: 1 for key in C_MAJOR_KEYS_WITH_C})
    assert np.array_equal(inputs[0], vector(74, position_0))
    # Position 4 is the NOTE_OFF after 83: silence, attack still set (Magenta quirk), ascending.
    assert inputs[4, 36] == 0 and inputs[4, 37] == 1
    assert inputs[4, 38] == 1
    assert inputs[4, 39] == 1
    assert not inputs[4, :36].any()
    # Position 15: n = 16, the next event starts a bar.
    assert inputs[15, 49] == 1
    assert inputs[[0, 1, 2, 3, 4, 14, 16], 49].tolist() == [0] * 7


def test_key_encoder_custom_range_labels():
    encoder = KeyEncoder(24, 36)
    melody = CUSTOM_RANGE_MELODY
    labels = encoder.labels(melody)
    assert labels[KEY_POSITIONS].tolist() == [0, 15, 1, 11, 13, 15, 14, 13, 15, 14, 15, 10]
    for position in KEY_POSITIONS:
        assert (
            encoder.class_index_to_event(int(labels[position]), melody[:position])
            == melody[position]
        )


def test_key_encoder_truthiness_quirk_treats_pitch_zero_as_silence():
    inputs = KeyEncoder(0, 12).inputs([0, NO, 1])
    assert (
        inputs[0, 0] == 0 and inputs[0, 12] == 0 and inputs[0, 13] == 1
    )  # "silent" although 0 sounds
    assert inputs[0, 14] == 1  # but it is an attack
    assert inputs[2, 1] == 1 and inputs[2, 12] == 1 and inputs[2, 13] == 0


def test_key_encoder_rejects_events_outside_the_range():
    with pytest.raises(MelodylibError, match="event 84 at position 1"):
        KeyEncoder(48, 84).labels([48, 84])
    with pytest.raises(MelodylibError, match="max_note"):
        KeyEncoder(48, 130)


# --------------------------------------------------------------------------------------------
# magenta-behaviour.md: "Reference test vectors" encoder_decoder_test (TrivialOneHotEncoding)
# --------------------------------------------------------------------------------------------


def test_one_hot_encoder_over_trivial_encoding():
    encoder = OneHotEncoder(TrivialOneHotEncoding(3))
    inputs, labels = encoder.encode([0, 1, 0, 2, 0])
    assert np.array_equal(inputs, np.eye(3, dtype=np.float32)[[0, 1, 0, 2]])
    assert labels.tolist() == [1, 0, 2, 0]


def test_evaluate_log_likelihood():
    encoder = OneHotEncoder(TrivialOneHotEncoding(3))
    first = encoder.evaluate_log_likelihood([0, 1, 0], [[0, 0.5, 0.5], [0.3, 0.4, 0.3]])
    second = encoder.evaluate_log_likelihood([1, 2, 2], [[0, 0.6, 0.4], [0, 0.4, 0.6]])
    assert first == pytest.approx(np.log(0.5) + np.log(0.3))
    assert second == pytest.approx(np.log(0.4) + np.log(0.6))
    # Aligned to the end: one row scores only the last event.
    assert encoder.evaluate_log_likelihood([1, 2, 2], [[0, 0.4, 0.6]]) == pytest.approx(np.log(0.6))
    with pytest.raises(MelodylibError, match="shorter"):
        encoder.evaluate_log_likelihood([0, 1], [[0, 0.5, 0.5], [0.3, 0.4, 0.3]])
    with pytest.raises(MelodylibError, match="shape"):
        encoder.evaluate_log_likelihood([0, 1, 0], [[0.5, 0.5]])


def test_lookback_encoder_over_trivial_encoding():
    encoder = LookbackEncoder(
        TrivialOneHotEncoding(3), lookback_distances=[1, 2], binary_counter_bits=2
    )
    assert (encoder.input_size, encoder.num_classes) == (13, 5)
    events = [0, 1, 0, 2, 0]
    expected_inputs = np.array(
        [
            [1, 0, 0, 1, 0, 0, 1, 0, 0, 1, -1, 0, 0],
            [0, 1, 0, 0, 1, 0, 1, 0, 0, -1, 1, 0, 0],
            [1, 0, 0, 1, 0, 0, 0, 1, 0, 1, 1, 0, 1],
            [0, 0, 1, 0, 0, 1, 1, 0, 0, -1, -1, 0, 0],
            [1, 0, 0, 1, 0, 0, 0, 0, 1, 1, -1, 0, 1],
        ],
        dtype=np.float32,
    )
    assert np.array_equal(encoder.inputs(events), expected_inputs)
    assert encoder.labels(events).tolist() == [4, 1, 4, 2, 4]
    inputs, labels = encoder.encode(events)
    assert np.array_equal(inputs, expected_inputs[:-1])
    assert labels.tolist() == [1, 4, 2, 4]


@pytest.mark.parametrize(
    "history, expected",
    [
        ([], [0, 1, 2, 0, 0]),
        ([0], [0, 1, 2, 0, 0]),
        ([0, 1], [0, 1, 2, 1, 0]),
        ([0, 1, 0], [0, 1, 2, 0, 1]),
        ([0, 1, 0, 2], [0, 1, 2, 2, 0]),
    ],
)
def test_lookback_class_index_to_event_over_trivial_encoding(history, expected):
    encoder = LookbackEncoder(
        TrivialOneHotEncoding(3), lookback_distances=[1, 2], binary_counter_bits=2
    )
    assert [encoder.class_index_to_event(index, history) for index in range(5)] == expected


def test_lookback_labels_to_num_steps():
    encoder = LookbackEncoder(
        TrivialOneHotEncoding(3, num_steps=[0, 1, 2]),
        lookback_distances=[1, 2],
        binary_counter_bits=2,
    )
    assert encoder.labels_to_num_steps([0, 1, 0, 2, 0]) == 3
    assert encoder.labels_to_num_steps([0, 1, 3, 2, 4]) == 5


def test_lookback_encoder_with_no_lookbacks():
    encoder = LookbackEncoder(
        TrivialOneHotEncoding(3), lookback_distances=[], binary_counter_bits=2
    )
    assert (encoder.input_size, encoder.num_classes) == (5, 3)
    expected_inputs = np.array(
        [
            [1, 0, 0, 1, -1],
            [0, 1, 0, -1, 1],
            [1, 0, 0, 1, 1],
            [0, 0, 1, -1, -1],
            [1, 0, 0, 1, -1],
        ],
        dtype=np.float32,
    )
    assert np.array_equal(encoder.inputs([0, 1, 0, 2, 0]), expected_inputs)
    assert encoder.labels([0, 1, 0, 2, 0]).tolist() == [0, 1, 0, 2, 0]


def test_lookback_distances_are_checked():
    with pytest.raises(MelodylibError, match="lookback distance 0"):
        LookbackEncoder(MelodyOneHotEncoding(48, 84), lookback_distances=[0, 16])
    with pytest.raises(MelodylibError, match="binary_counter_bits"):
        KeyEncoder(48, 84, binary_counter_bits=-1)


# --------------------------------------------------------------------------------------------
# magenta-behaviour.md: "Reference test vectors" derived vectors: the "twinkle" primer
# --------------------------------------------------------------------------------------------


def test_twinkle_basic():
    inputs, labels = OneHotEncoder(MelodyOneHotEncoding(48, 84)).encode(TWINKLE)
    assert inputs.shape == (7, 38)
    assert inputs.argmax(axis=1).tolist() == [14, 0, 14, 0, 21, 0, 21]
    assert labels.tolist() == [0, 14, 0, 21, 0, 21, 0]


def test_twinkle_lookback():
    inputs, labels = LookbackEncoder(MelodyOneHotEncoding(48, 84)).encode(TWINKLE)
    assert labels.tolist() == [39, 14, 39, 21, 39, 21, 39]
    assert np.array_equal(
        inputs[0], vector(121, {14: 1, 38: 1, 76: 1, 114: 1, 115: -1, 116: -1, 117: -1, 118: -1})
    )
    assert np.array_equal(
        inputs[4], vector(121, {21: 1, 38: 1, 76: 1, 114: 1, 115: -1, 116: 1, 117: -1, 118: -1})
    )


def test_twinkle_key():
    inputs, labels = KeyEncoder(48, 84).encode(TWINKLE)
    assert labels.tolist() == [39, 12, 39, 19, 39, 19, 39]
    flags_0 = [50, 51, 53, 55, 57, 58, 60, 62, 63, 65, 67, 69, 70, 72]
    position_0 = {
        12: 1,
        36: 1,
        38: 1,
        42: 1,
        **{index: -1 for index in range(43, 49)},
        **{index: 1 for index in flags_0},
    }
    assert np.array_equal(inputs[0], vector(74, position_0))
    flags_4 = [50, 53, 55, 57, 58, 60, 62, 65, 67, 69, 70, 72]
    position_4 = {
        19: 1,
        36: 1,
        38: 1,
        39: 1,
        42: 1,
        43: -1,
        44: 1,
        **{index: -1 for index in range(45, 49)},
        **{index: 1 for index in flags_4},
    }
    assert np.array_equal(inputs[4], vector(74, position_4))


# --------------------------------------------------------------------------------------------
# Literal reference implementations (magenta-behaviour.md: "Encoder contract", one position at a time) for random melodies
# --------------------------------------------------------------------------------------------


def reference_lookback_input(events, position, encoding, distances, bits):
    num_classes = encoding.num_classes
    row = [0.0] * (num_classes * (1 + len(distances)) + bits + len(distances))
    row[encoding.encode_event(events[position])] = 1.0
    for block, distance in enumerate(distances, start=1):
        source = position - distance + 1
        event = events[source] if source >= 0 else encoding.default_event
        row[block * num_classes + encoding.encode_event(event)] = 1.0
    offset = num_classes * (1 + len(distances))
    for bit in range(bits):
        row[offset + bit] = 1.0 if (position + 1) >> bit & 1 else -1.0
    for number, distance in enumerate(distances):
        earlier = position - distance
        row[offset + bits + number] = (
            1.0 if earlier >= 0 and events[position] == events[earlier] else 0.0
        )
    return row


def reference_lookback_label(events, position, encoding, distances):
    if distances and position < distances[-1] and events[position] == encoding.default_event:
        return encoding.num_classes + len(distances) - 1
    for number in reversed(range(len(distances))):
        earlier = position - distances[number]
        if earlier >= 0 and events[position] == events[earlier]:
            return encoding.num_classes + number
    return encoding.encode_event(events[position])


def reference_key_flags(pitches):
    totals = [0] * 12
    for pitch in pitches:
        for key in range(12):
            if (pitch % 12 - key) % 12 in (0, 2, 4, 5, 7, 9, 11):
                totals[key] += 1
    return [1.0 if total == max(totals) else 0.0 for total in totals]


def reference_key_input(events, position, min_note, max_note, distances, bits):
    current_note, is_attack, is_ascending, last_three, note_ons = None, False, None, [], []
    for event in events[: position + 1]:  # rescans the prefix, as upstream does
        if event == OFF:
            current_note = None
        elif event == NO:
            is_attack = False
        else:
            if last_three and event != last_three[-1]:
                is_ascending = event > last_three[-1]
            if event in last_three:
                last_three.remove(event)
            last_three = (last_three + [event])[-3:]
            current_note, is_attack = event, True
            note_ons.append(event)
    num_pitches = max_note - min_note
    row = []
    note_block = [0.0] * num_pitches
    if current_note:
        note_block[current_note - min_note] = 1.0
    row += note_block
    row += [1.0 if current_note else 0.0, 0.0 if current_note else 1.0]
    row += [1.0 if is_attack else 0.0]
    row += [0.0 if is_ascending is None else (1.0 if is_ascending else -1.0)]
    row += [
        1.0 if position - distance >= 0 and events[position] == events[position - distance] else 0.0
        for distance in distances
    ]
    row += [1.0 if (position + 1) >> bit & 1 else -1.0 for bit in range(bits)]
    row += [1.0 if (position + 1) % 16 == 0 else 0.0]
    row += reference_key_flags(note_ons) + reference_key_flags(last_three)
    return row


def reference_key_label(events, position, min_note, max_note, distances):
    num_pitches = max_note - min_note
    if distances and position < distances[-1] and events[position] == NO:
        return num_pitches + 2 + len(distances) - 1
    for number in reversed(range(len(distances))):
        earlier = position - distances[number]
        if earlier >= 0 and events[position] == events[earlier]:
            return num_pitches + 2 + number
    if events[position] == OFF:
        return num_pitches + 1
    if events[position] == NO:
        return num_pitches
    return events[position] - min_note


def random_melody(seed: int, length: int, min_note: int = 48, max_note: int = 84) -> list[int]:
    """Random events with repeated bars and a few-pitch pool (exercises lookbacks and the last-3 list)."""
    generator = np.random.default_rng(seed)
    pool = generator.choice(
        np.arange(min_note, max_note), size=int(generator.integers(2, 7)), replace=False
    )
    events = []
    while len(events) < length:
        if len(events) >= 16 and generator.random() < 0.3:
            distance = int(generator.choice([16, 32])) if len(events) >= 32 else 16
            events += events[len(events) - distance : len(events) - distance + 16]
            continue
        choice = generator.random()
        if choice < 0.45:
            events.append(NO)
        elif choice < 0.6:
            events.append(OFF)
        else:
            events.append(int(generator.choice(pool)))
    return events[:length]


def all_encoders():
    return [
        OneHotEncoder(MelodyOneHotEncoding(48, 84)),
        LookbackEncoder(MelodyOneHotEncoding(48, 84)),
        KeyEncoder(48, 84),
        LookbackEncoder(
            MelodyOneHotEncoding(48, 84), lookback_distances=[4, 8, 12], binary_counter_bits=3
        ),
        KeyEncoder(48, 84, lookback_distances=[8], binary_counter_bits=4),
    ]


@pytest.mark.parametrize("seed", range(6))
def test_vectorised_encoders_match_the_literal_reference(seed):
    events = random_melody(seed, length=70 + 10 * seed)
    encoding = MelodyOneHotEncoding(48, 84)
    for encoder in all_encoders():
        inputs, labels = encoder.inputs(events), encoder.labels(events)
        if isinstance(encoder, OneHotEncoder):
            expected_inputs = [
                reference_lookback_input(events, p, encoding, (), 0) for p in range(len(events))
            ]
            expected_labels = [encoding.encode_event(event) for event in events]
        elif isinstance(encoder, LookbackEncoder):
            distances, bits = encoder.lookback_distances, encoder.binary_counter_bits
            expected_inputs = [
                reference_lookback_input(events, p, encoding, distances, bits)
                for p in range(len(events))
            ]
            expected_labels = [
                reference_lookback_label(events, p, encoding, distances) for p in range(len(events))
            ]
        else:
            distances, bits = encoder.lookback_distances, encoder.binary_counter_bits
            expected_inputs = [
                reference_key_input(events, p, 48, 84, distances, bits) for p in range(len(events))
            ]
            expected_labels = [
                reference_key_label(events, p, 48, 84, distances) for p in range(len(events))
            ]
        assert np.array_equal(inputs, np.array(expected_inputs, dtype=np.float32)), encoder
        assert labels.tolist() == expected_labels, encoder


def test_last_three_notes_with_alternating_and_repeated_pitches():
    events = [60, 62, 60, 62, 60, 64, 64, NO, 62, 67, 64, 60, 60, 66, 60, 66, 61]
    inputs = KeyEncoder(48, 84).inputs(events)
    expected = [reference_key_input(events, p, 48, 84, (16, 32), 7) for p in range(len(events))]
    assert np.array_equal(inputs, np.array(expected, dtype=np.float32))


@pytest.mark.parametrize("seed", range(4))
def test_labels_decode_back_to_the_events(seed):
    events = random_melody(100 + seed, length=90)
    for encoder in all_encoders():
        labels = encoder.labels(events)
        decoded = [
            encoder.class_index_to_event(int(labels[p]), events[:p]) for p in range(len(events))
        ]
        assert decoded == events, encoder
        assert encoder.class_indices_to_events(labels) == events
        assert encoder.labels_to_num_steps(labels) == len(events)


@pytest.mark.parametrize("seed", range(3))
def test_input_for_last_position_equals_last_row(seed):
    events = random_melody(200 + seed, length=50)
    for encoder in all_encoders():
        all_inputs = encoder.inputs(events)
        for length in (1, 2, 17, 33, 50):
            last = encoder.input_for_last_position(events[:length])
            assert last.dtype == np.float32 and last.shape == (encoder.input_size,)
            assert np.array_equal(last, all_inputs[length - 1]), (encoder, length)
        with pytest.raises(MelodylibError, match="empty"):
            encoder.input_for_last_position([])


def test_encode_shapes_and_types_for_short_melodies():
    for encoder in all_encoders():
        inputs, labels = encoder.encode([60])
        assert inputs.shape == (0, encoder.input_size) and labels.shape == (0,)
        assert inputs.dtype == np.float32 and labels.dtype == np.int64
        assert encoder.inputs([]).shape == (0, encoder.input_size)
        inputs, labels = encoder.encode(np.array([60, NO, OFF]))
        assert inputs.shape == (2, encoder.input_size) and labels.shape == (2,)


def test_encoders_accept_objects_with_events():
    class FakeMelody:
        events = list(TWINKLE)

    encoder = KeyEncoder(48, 84)
    assert np.array_equal(encoder.inputs(FakeMelody()), encoder.inputs(TWINKLE))


def test_encoder_dict_round_trip():
    for encoder in all_encoders():
        stored = json.loads(json.dumps(encoder.to_dict()))
        rebuilt = encoder_from_dict(stored)
        assert rebuilt == encoder and type(rebuilt) is type(encoder)
    with pytest.raises(MelodylibError, match="unknown encoder kind 'bogus'"):
        encoder_from_dict({"kind": "bogus"})
    with pytest.raises(MelodylibError, match="incomplete"):
        encoder_from_dict({"kind": "key", "min_note": 48})


# --- the encoders describe themselves: feature_blocks() and class_names() ------------------------

KEY_BLOCK_NAMES = [
    "note",
    "sounding",
    "silence",
    "attack",
    "up/down",
    "repeat",
    "counter",
    "bar start",
    "key (all notes)",
    "key (last 3)",
]


def described_encoders() -> dict[str, object]:
    """The four configs' encoders and the same encoders over a custom pitch range and settings."""
    encoders = {name: get_config(name).encoder for name in CONFIG_NAMES}
    encoders.update(
        {
            "onehot 60..72": OneHotEncoder(MelodyOneHotEncoding(60, 72)),
            "lookback 60..72": LookbackEncoder(
                MelodyOneHotEncoding(60, 72), lookback_distances=[3, 5], binary_counter_bits=3
            ),
            "key 60..72": KeyEncoder(60, 72, lookback_distances=[4], binary_counter_bits=4),
            "key bare": KeyEncoder(60, 72, lookback_distances=[], binary_counter_bits=0),
        }
    )
    return encoders


@pytest.mark.parametrize("name", sorted(described_encoders()))
def test_feature_blocks_cover_every_input_column_once_in_order(name):
    encoder = described_encoders()[name]
    blocks = encoder.feature_blocks()
    assert all(isinstance(block, FeatureBlock) and block.size > 0 for block in blocks)
    assert blocks[0].start == 0 and blocks[-1].stop == encoder.input_size
    for previous, block in zip(blocks, blocks[1:], strict=False):
        assert block.start == previous.stop, (previous, block)
    covered = np.concatenate([np.arange(encoder.input_size)[block.columns] for block in blocks])
    np.testing.assert_array_equal(covered, np.arange(encoder.input_size))


def test_feature_block_names_are_the_ones_a_learner_expects():
    encoders = described_encoders()
    for name in ("basic_rnn", "mono_rnn", "onehot 60..72"):
        encoder = encoders[name]
        # One row per class: input column k is the one-hot of class k.
        assert [block.name for block in encoder.feature_blocks()] == encoder.class_names()
    assert [block.name for block in encoders["onehot 60..72"].feature_blocks()][:3] == [
        "no event",
        "note off",
        "C4",
    ]
    assert [block.name for block in encoders["lookback_rnn"].feature_blocks()] == [
        "current",
        "1 bar ago",
        "2 bars ago",
        "counter",
        "repeat",
    ]
    assert [block.name for block in encoders["lookback 60..72"].feature_blocks()] == [
        "current",
        "3 steps ago",
        "5 steps ago",
        "counter",
        "repeat",
    ]
    assert [block.name for block in encoders["lookback_rnn"].feature_blocks(steps_per_bar=12)][
        1:3
    ] == ["16 steps ago", "32 steps ago"]
    assert [block.name for block in encoders["attention_rnn"].feature_blocks()] == KEY_BLOCK_NAMES
    assert [block.name for block in encoders["key bare"].feature_blocks()] == [
        name for name in KEY_BLOCK_NAMES if name not in ("repeat", "counter")
    ]
    assert encoders["key 60..72"].feature_blocks()[0] == ("note", 0, 12)


def test_feature_blocks_hold_what_their_names_say():
    encoder = LookbackEncoder(MelodyOneHotEncoding(48, 84))
    blocks = {block.name: block for block in encoder.feature_blocks()}
    inputs = encoder.inputs(TEST_MELODY)
    one_hot = OneHotEncoder(MelodyOneHotEncoding(48, 84)).inputs(TEST_MELODY)
    np.testing.assert_array_equal(inputs[:, blocks["current"].columns], one_hot)
    # "2 bars ago" of row i is the event 32 steps before event i + 1.
    np.testing.assert_array_equal(
        inputs[31:, blocks["2 bars ago"].columns], one_hot[: len(TEST_MELODY) - 31]
    )
    key = KeyEncoder(48, 84)
    key_blocks = {block.name: block for block in key.feature_blocks()}
    key_inputs = key.inputs(TEST_MELODY)
    np.testing.assert_array_equal(
        key_inputs[:, key_blocks["sounding"].start], 1 - key_inputs[:, key_blocks["silence"].start]
    )
    np.testing.assert_array_equal(
        key_inputs[:, key_blocks["bar start"].start], (np.arange(len(TEST_MELODY)) + 1) % 16 == 0
    )


@pytest.mark.parametrize("name", sorted(described_encoders()))
def test_class_names_decode_consistently_with_class_index_to_event(name):
    encoder = described_encoders()[name]
    names = encoder.class_names()
    assert len(names) == encoder.num_classes and len(set(names)) == len(names)
    history = list(CUSTOM_RANGE_MELODY if encoder.min_note == 24 else TEST_MELODY)
    history = [
        event if event < 0 or encoder.min_note <= event < encoder.max_note else NO
        for event in history
    ]
    distances = list(getattr(encoder, "lookback_distances", ()))
    repeat_names = [name for name in names if name.startswith("repeat ")]
    assert len(repeat_names) == len(distances)
    for index, class_name in enumerate(names):
        event = encoder.class_index_to_event(index, history)
        if class_name.startswith("repeat "):
            distance = distances[repeat_names.index(class_name)]
            assert event == history[len(history) - distance], class_name
        else:
            assert event_name(event) == class_name, (index, event, class_name)


def test_class_names_of_the_spec_class_orders():
    assert OneHotEncoder(MelodyOneHotEncoding(48, 84)).class_names()[:3] == [
        "no event",
        "note off",
        "C3",
    ]
    assert LookbackEncoder(MelodyOneHotEncoding(48, 84)).class_names()[38:] == [
        "repeat 1 bar ago",
        "repeat 2 bars ago",
    ]
    key = KeyEncoder(48, 84).class_names()
    assert key[:2] == ["C3", "C#3"] and key[35:] == [
        "B5",
        "no event",
        "note off",
        "repeat 1 bar ago",
        "repeat 2 bars ago",
    ]
    assert MelodyOneHotEncoding(0, 128).class_names()[-1] == "G9"
