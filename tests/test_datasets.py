"""Tests for melodylib.data.datasets: create_dataset and the tf.data input pipeline."""

from __future__ import annotations

import collections
import json

import numpy as np
import pytest
import tensorflow as tf

from melodylib.data.datasets import (
    EVAL_FILE,
    TRAINING_FILE,
    check_input_size,
    create_dataset,
    encode_melody,
    is_eval_sequence,
    make_dataset,
    melodies_from_note_sequence,
)
from melodylib.data.sequence_examples import read_sequence_examples, sequence_example_bytes
from melodylib.encoding.configs import get_config
from melodylib.errors import MelodylibError
from melodylib.music.notesequence import (
    Note,
    NoteSequence,
    Tempo,
    TimeSignature,
    read_note_sequences,
    write_note_sequences,
)
from melodylib.tfrecords import write_records

SCALE = [60, 62, 64, 65, 67, 69, 71, 72]
EIGHTH = 0.25  # seconds at 120 qpm: 2 steps of a 16th


def tune(
    sequence_id: str, bars: int = 8, seed: int = 0, pitches=SCALE, chord: bool = False
) -> NoteSequence:
    """A monophonic tune of eighth notes in 4/4 at 120 qpm (8 eighths per bar)."""
    rng = np.random.default_rng(seed)
    notes = []
    for index in range(bars * 8):
        pitch = int(rng.choice(pitches))
        notes.append(Note(pitch, 80, index * EIGHTH, (index + 1) * EIGHTH))
        if chord and index == 3:
            notes.append(Note(pitch - 5, 80, index * EIGHTH, (index + 1) * EIGHTH))
    return NoteSequence(
        notes=notes,
        tempos=[Tempo(0.0, 120.0)],
        time_signatures=[TimeSignature(0.0, 4, 4)],
        total_time=bars * 8 * EIGHTH,
        id=sequence_id,
        filename=f"{sequence_id}.mid",
    )


@pytest.fixture(scope="module")
def note_sequence_file(tmp_path_factory):
    """30 good tunes of 7..11 bars plus one too short, one with too few pitches and one polyphonic."""
    folder = tmp_path_factory.mktemp("notesequences")
    sequences = [tune(f"/id/test/{index}", bars=7 + index % 5, seed=index) for index in range(30)]
    sequences.append(tune("/id/test/short", bars=3, seed=99))
    sequences.append(tune("/id/test/few_pitches", bars=8, seed=98, pitches=[60, 62, 64]))
    sequences.append(tune("/id/test/chords", bars=8, seed=97, chord=True))
    path = folder / "notesequences.tfrecord"
    write_note_sequences(path, sequences)
    return path


def split_of(output_dir) -> tuple[list[int], list[int]]:
    """The label-sequence lengths in each split (enough to tell the split apart)."""
    return (
        [len(labels) for _, labels in read_sequence_examples(output_dir / TRAINING_FILE)],
        [len(labels) for _, labels in read_sequence_examples(output_dir / EVAL_FILE)],
    )


def test_create_dataset_writes_magenta_sequence_examples(note_sequence_file, tmp_path):
    config = get_config("lookback_rnn")
    summary = create_dataset(
        note_sequence_file, config, tmp_path, eval_ratio=0.3, seed=0, num_workers=1, progress=False
    )
    assert (tmp_path / TRAINING_FILE).exists() and (tmp_path / EVAL_FILE).exists()
    # Every record parses with TensorFlow to the encoding of one extracted, squashed melody.
    expected = {}
    for sequence in read_note_sequences(note_sequence_file):
        for melody in melodies_from_note_sequence(sequence):
            inputs, labels = encode_melody(melody, config)
            expected[sequence.id] = (inputs, labels)
    found = 0
    for path in (tmp_path / TRAINING_FILE, tmp_path / EVAL_FILE):
        for raw in tf.data.TFRecordDataset(str(path)):
            _, parsed = tf.io.parse_single_sequence_example(
                raw,
                sequence_features={
                    "inputs": tf.io.FixedLenSequenceFeature(
                        [config.encoder.input_size], tf.float32
                    ),
                    "labels": tf.io.FixedLenSequenceFeature([], tf.int64),
                },
            )
            matches = [
                key
                for key, (inputs, labels) in expected.items()
                if labels.shape == parsed["labels"].shape
                and np.array_equal(labels, parsed["labels"].numpy())
                and np.array_equal(inputs, parsed["inputs"].numpy())
            ]
            assert matches, "a written example matches no encoded melody"
            found += 1
    assert found == len(expected) == summary.training_melodies + summary.eval_melodies == 30
    assert summary.training_steps + summary.eval_steps == sum(
        len(labels) for _, labels in expected.values()
    )
    info = json.loads((tmp_path / "dataset_info.json").read_text())
    assert info["config"] == "lookback_rnn" and info["input_size"] == 121 and info["seed"] == 0


def test_magenta_statistics_are_counted(note_sequence_file, tmp_path):
    summary = create_dataset(
        note_sequence_file, "basic_rnn", tmp_path, eval_ratio=0.0, num_workers=1, progress=False
    )
    counters = summary.counters
    assert counters["melodies_discarded_too_short"] == 1
    assert counters["melodies_discarded_too_few_pitches"] == 1
    assert counters["polyphonic_tracks_discarded"] == 1
    assert counters["transpositions_generated"] == 33
    # Magenta's RandomPartition counts input sequences per bucket.
    assert counters["training_melodies_count"] == 33 and counters["eval_melodies_count"] == 0
    for name in (
        "sequences_discarded_because_multiple_time_signatures",
        "sequences_discarded_because_multiple_tempos",
        "sequences_discarded_because_bad_time_signature",
        "melodies_discarded_too_long",
        "melodies_truncated",
    ):
        assert counters[name] == 0 and name in counters
    assert (
        sum(value for name, value in counters.items() if name.startswith("melody_lengths_in_bars"))
        == 30
    )
    statistics = summary.magenta_statistics()
    assert statistics["DAGPipeline_MelodyExtractor_training_melodies_discarded_too_short"] == 1
    assert (
        statistics["DAGPipeline_Quantizer_training_sequences_discarded_because_multiple_tempos"]
        == 0
    )
    assert statistics["DAGPipeline_TranspositionPipeline_training_transpositions_generated"] == 33
    assert statistics["DAGPipeline_RandomPartition_training_melodies_count"] == 33
    text = summary.format()
    assert "DAGPipeline_MelodyExtractor_training_polyphonic_tracks_discarded: 1" in text
    assert "wrote 30 training and 0 eval melodies" in text


def test_split_depends_only_on_id_and_seed(note_sequence_file, tmp_path):
    def run(name, **options):
        create_dataset(
            note_sequence_file,
            "basic_rnn",
            tmp_path / name,
            num_workers=1,
            progress=False,
            **options,
        )
        return split_of(tmp_path / name)

    first = run("a", eval_ratio=0.5, seed=3)
    assert run("b", eval_ratio=0.5, seed=3) == first
    assert first[0] and first[1]
    assert run("c", eval_ratio=0.5, seed=4) != first
    training, evaluation = run("none", eval_ratio=0.0)
    assert len(training) == 30 and evaluation == []
    training, evaluation = run("all", eval_ratio=1.0)
    assert training == [] and len(evaluation) == 30
    # The decision itself: a pure function of (id, ratio, seed); about eval_ratio of ids go to eval.
    ids = [f"/id/abc/{index}" for index in range(2000)]
    draws = [is_eval_sequence(sequence_id, 0.2, seed=11) for sequence_id in ids]
    assert draws == [is_eval_sequence(sequence_id, 0.2, seed=11) for sequence_id in ids]
    assert draws != [is_eval_sequence(sequence_id, 0.2, seed=12) for sequence_id in ids]
    assert 0.17 < np.mean(draws) < 0.23


def test_training_melodies_are_written_in_a_seeded_random_order(note_sequence_file, tmp_path):
    def training_labels(name, seed):
        create_dataset(
            note_sequence_file,
            "basic_rnn",
            tmp_path / name,
            eval_ratio=0.0,
            seed=seed,
            num_workers=1,
            progress=False,
        )
        return [
            tuple(labels) for _, labels in read_sequence_examples(tmp_path / name / TRAINING_FILE)
        ]

    # The input's order, encoded the obvious way: one sequence after the other.
    config = get_config("basic_rnn")
    in_input_order = [
        tuple(encode_melody(melody, config)[1])
        for sequence in read_note_sequences(note_sequence_file)
        for melody in melodies_from_note_sequence(sequence)
    ]
    written = training_labels("a", seed=1)
    assert sorted(written) == sorted(in_input_order) and len(written) == 30
    assert written != in_input_order
    assert training_labels("b", seed=1) == written
    assert training_labels("c", seed=2) != written


def test_build_corpus_makes_again_a_data_set_written_in_input_order(note_sequence_file, tmp_path):
    from melodylib.course.corpus import _dataset_is_current

    create_dataset(note_sequence_file, "basic_rnn", tmp_path, num_workers=1, progress=False)
    assert _dataset_is_current(tmp_path)
    info_path = tmp_path / "dataset_info.json"
    info = json.loads(info_path.read_text())
    assert info["training_order"] == "seeded_random"
    del info["training_order"]  # as written before the training order was drawn from the seed
    info_path.write_text(json.dumps(info))
    assert not _dataset_is_current(tmp_path)
    info_path.write_text("{not json")
    assert not _dataset_is_current(tmp_path)


def test_worker_processes_give_the_same_data_set(note_sequence_file, tmp_path):
    create_dataset(
        note_sequence_file,
        "basic_rnn",
        tmp_path / "one",
        eval_ratio=0.3,
        num_workers=1,
        progress=False,
    )
    create_dataset(
        note_sequence_file,
        "basic_rnn",
        tmp_path / "two",
        eval_ratio=0.3,
        num_workers=2,
        progress=False,
    )
    for name in (TRAINING_FILE, EVAL_FILE):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()


def test_sequences_without_ids_are_split_by_content(tmp_path):
    sequences = [tune("", bars=8, seed=index) for index in range(24)]
    for sequence in sequences:
        sequence.filename = ""
    write_note_sequences(tmp_path / "anonymous.tfrecord", sequences)
    summary = create_dataset(
        tmp_path / "anonymous.tfrecord",
        "basic_rnn",
        tmp_path / "out",
        eval_ratio=0.5,
        num_workers=1,
        progress=False,
    )
    assert summary.training_melodies > 0 and summary.eval_melodies > 0


def test_bad_arguments_name_the_flag(note_sequence_file, tmp_path):
    with pytest.raises(MelodylibError, match="eval_ratio"):
        create_dataset(note_sequence_file, "basic_rnn", tmp_path, eval_ratio=1.5, progress=False)
    with pytest.raises(MelodylibError, match="does not exist"):
        create_dataset(tmp_path / "missing.tfrecord", "basic_rnn", tmp_path, progress=False)
    with pytest.raises(MelodylibError, match="unknown config"):
        create_dataset(note_sequence_file, "basic_rnnn", tmp_path, progress=False)


def test_compressed_data_sets_read_everywhere(note_sequence_file, tmp_path):
    create_dataset(
        note_sequence_file,
        "basic_rnn",
        tmp_path / "plain",
        eval_ratio=0.0,
        num_workers=1,
        progress=False,
    )
    create_dataset(
        note_sequence_file,
        "basic_rnn",
        tmp_path / "gzip",
        eval_ratio=0.0,
        num_workers=1,
        progress=False,
        compress=True,
    )
    packed = tmp_path / "gzip" / TRAINING_FILE
    assert packed.read_bytes()[:2] == b"\x1f\x8b"
    assert packed.stat().st_size < (tmp_path / "plain" / TRAINING_FILE).stat().st_size / 5
    plain = list(read_sequence_examples(tmp_path / "plain" / TRAINING_FILE))
    unpacked = list(read_sequence_examples(packed))
    assert len(plain) == len(unpacked) == 30
    for (inputs_a, labels_a), (inputs_b, labels_b) in zip(plain, unpacked):
        np.testing.assert_array_equal(inputs_a, inputs_b)
        np.testing.assert_array_equal(labels_a, labels_b)
    assert check_input_size(packed, 38, "basic_rnn") == 1
    batches = list(make_dataset(packed, 38, 4, shuffle=False, repeat=False, drop_remainder=False))
    assert sum(int(mask.numpy().sum()) for _, _, mask in batches) == sum(
        len(labels) for _, labels in plain
    )


def test_data_for_another_config_is_rejected_naming_both_widths(note_sequence_file, tmp_path):
    create_dataset(
        note_sequence_file, "basic_rnn", tmp_path, eval_ratio=0.0, num_workers=1, progress=False
    )
    with pytest.raises(MelodylibError) as error:
        check_input_size(tmp_path / TRAINING_FILE, 74, "attention_rnn")
    message = str(error.value)
    assert "38 inputs per step" in message and "attention_rnn expects 74" in message
    assert "made for basic_rnn" in message and TRAINING_FILE in message


def test_an_empty_data_set_is_an_error(note_sequence_file, tmp_path):
    create_dataset(
        note_sequence_file, "basic_rnn", tmp_path, eval_ratio=0.0, num_workers=1, progress=False
    )
    assert (tmp_path / EVAL_FILE).stat().st_size == 0
    with pytest.raises(MelodylibError, match="holds no melodies"):
        check_input_size(tmp_path / EVAL_FILE, 38, "basic_rnn")


# --- the input pipeline ----------------------------------------------------------------------
def write_examples(path, lengths, input_size=6, num_classes=5, seed=0, compress=False):
    """SequenceExamples with random inputs and labels 1..num_classes-1 (never 0), of the given lengths."""
    rng = np.random.default_rng(seed)
    examples = []
    for length in lengths:
        inputs = rng.random((length, input_size)).astype(np.float32) + 0.5
        labels = rng.integers(1, num_classes, size=length)
        examples.append((inputs, labels))
    write_records(
        path,
        [sequence_example_bytes(inputs, labels) for inputs, labels in examples],
        compress=compress,
    )
    return examples


def test_batches_are_padded_and_the_mask_marks_exactly_the_real_steps(tmp_path):
    lengths = list(range(3, 43))  # distinct lengths: each row can be matched to its melody
    examples = write_examples(tmp_path / "part-a.tfrecord", lengths[:20], seed=1)
    examples += write_examples(tmp_path / "part-b.tfrecord", lengths[20:], seed=2, compress=False)
    by_length = {len(labels): (inputs, labels) for inputs, labels in examples}
    dataset = make_dataset(
        str(tmp_path / "part-*.tfrecord"),
        6,
        4,
        shuffle=True,
        repeat=False,
        drop_remainder=False,
        window_batches=2,
        seed=5,
    )
    seen = []
    for inputs, labels, mask in dataset:
        inputs, labels, mask = inputs.numpy(), labels.numpy(), mask.numpy()
        assert labels.dtype == np.int64 and mask.dtype == np.float32
        assert inputs.shape[:2] == labels.shape == mask.shape and inputs.shape[2] == 6
        for row in range(len(labels)):
            length = int(mask[row].sum())
            np.testing.assert_array_equal(
                mask[row], (np.arange(mask.shape[1]) < length).astype(np.float32)
            )
            original_inputs, original_labels = by_length[length]
            np.testing.assert_array_equal(labels[row, :length], original_labels)
            np.testing.assert_array_equal(inputs[row, :length], original_inputs)
            # Padding: labels 0 (a real class, hence the mask) and zero inputs.
            assert not labels[row, length:].any() and not inputs[row, length:].any()
            seen.append(length)
    assert sorted(seen) == lengths


def test_drop_remainder_gives_only_full_batches_and_repeat_loops(tmp_path):
    write_examples(tmp_path / "data.tfrecord", [10] * 10)
    finite = list(make_dataset(tmp_path / "data.tfrecord", 6, 4, shuffle=False, repeat=False))
    assert [int(inputs.shape[0]) for inputs, _, _ in finite] == [4, 4]
    looping = make_dataset(tmp_path / "data.tfrecord", 6, 4, shuffle=True, repeat=True, seed=0)
    assert len(list(looping.take(7))) == 7
    with pytest.raises(MelodylibError, match="batch_size"):
        make_dataset(tmp_path / "data.tfrecord", 6, 0)


def test_shuffling_changes_the_order_and_the_seed_fixes_it(tmp_path):
    write_examples(tmp_path / "data.tfrecord", [12] * 64)

    def first_labels(**options):
        dataset = make_dataset(tmp_path / "data.tfrecord", 6, 8, repeat=False, **options)
        return np.concatenate([labels.numpy()[:, 0] for _, labels, _ in dataset]).tolist()

    in_order = first_labels(shuffle=False)
    assert first_labels(shuffle=True, seed=1) == first_labels(shuffle=True, seed=1)
    assert first_labels(shuffle=True, seed=1) != in_order
    assert sorted(first_labels(shuffle=True, seed=1)) == sorted(in_order)


def write_numbered_melodies(path, lengths, input_size=2):
    """Melodies whose inputs hold their own index in column 0 (1-based), so a batch row names its melody."""
    records = []
    for index, length in enumerate(lengths, start=1):
        inputs = np.full((length, input_size), 0.5, np.float32)  # not int8: kept as float32
        inputs[:, 0] = index
        labels = np.full(length, index % 3, np.int64)
        records.append(sequence_example_bytes(inputs, labels))
    write_records(path, records)


def batch_contents(batch):
    """The (melody number, length) of each row of a batch from write_numbered_melodies' data."""
    inputs, _, mask = (tensor.numpy() for tensor in batch)
    lengths = mask.sum(axis=1).astype(int)
    return [(int(inputs[row, 0, 0]), int(lengths[row])) for row in range(len(lengths))]


def naive_window_batches(lengths, batch_size, window_batches, drop_remainder):
    """The batches of one epoch read in file order, written the slow and obvious way.

    Windows of batch_size x window_batches melodies in order; in each, the melodies sorted by
    length (ties in file order) and cut into batches, shortest first.
    """
    numbered = list(enumerate(lengths, start=1))
    window = batch_size * window_batches
    batches = []
    for start in range(0, len(numbered), window):
        ordered = sorted(numbered[start : start + window], key=lambda item: item[1])
        for first in range(0, len(ordered), batch_size):
            batch = ordered[first : first + batch_size]
            if len(batch) == batch_size or not drop_remainder:
                batches.append(batch)
    return batches


def padded_fraction(batches):
    """The share of padding in batches of (number, length) rows, each padded to its longest."""
    real = sum(length for batch in batches for _, length in batch)
    slots = sum(len(batch) * max(length for _, length in batch) for batch in batches)
    return 1 - real / slots


@pytest.fixture
def magenta_like_lengths():
    # Magenta's melodies: 7 bars (112 steps) up to 512 steps, mostly short.
    rng = np.random.default_rng(3)
    return np.minimum(111 + rng.geometric(1 / 90, size=700), 512).tolist()


def test_unshuffled_batches_are_the_naive_sorted_windows(tmp_path, magenta_like_lengths):
    write_numbered_melodies(tmp_path / "data.tfrecord", magenta_like_lengths)
    for drop_remainder in (False, True):
        dataset = make_dataset(
            tmp_path / "data.tfrecord",
            2,
            8,
            shuffle=False,
            repeat=False,
            window_batches=16,
            drop_remainder=drop_remainder,
        )
        expected = naive_window_batches(magenta_like_lengths, 8, 16, drop_remainder)
        assert [batch_contents(batch) for batch in dataset] == expected


def test_shuffled_batches_hold_each_melody_once_per_epoch_with_little_padding(
    tmp_path, magenta_like_lengths
):
    write_numbered_melodies(tmp_path / "data.tfrecord", magenta_like_lengths)
    dataset = make_dataset(
        tmp_path / "data.tfrecord", 2, 8, window_batches=16, shuffle_buffer=64, seed=7
    )
    # 700 melodies: 5 windows of 128 (80 batches), then one of 60 (7 batches; 4 melodies left out).
    per_epoch = 87
    batches = [batch_contents(batch) for batch in dataset.take(3 * per_epoch)]
    for epoch in range(3):
        rows = [
            row for batch in batches[epoch * per_epoch : (epoch + 1) * per_epoch] for row in batch
        ]
        numbers = [number for number, _ in rows]
        assert len(numbers) == len(set(numbers)) == len(magenta_like_lengths) - 4
        for number, length in rows:
            assert magenta_like_lengths[number - 1] == length
    for batch in batches:
        assert len({number for number, _ in batch}) == len(batch) == 8
    # Sorting windows of 128 random melodies keeps padding far below that of random batches,
    # which Magenta pads to their longest (the naive batches of the file in order, one window each).
    random_batches = naive_window_batches(magenta_like_lengths, 8, 1, True)
    assert padded_fraction(random_batches) > 0.25
    assert padded_fraction(batches) < 0.06
    # The batches of an epoch are not served shortest first (the order within a window is drawn).
    longest = [max(length for _, length in batch) for batch in batches[:16]]
    assert longest != sorted(longest)


def test_the_seed_fixes_the_batches_and_another_seed_changes_them(tmp_path, magenta_like_lengths):
    write_numbered_melodies(tmp_path / "data.tfrecord", magenta_like_lengths[:200])

    def numbers(seed):
        dataset = make_dataset(tmp_path / "data.tfrecord", 2, 8, window_batches=4, seed=seed)
        return [batch_contents(batch) for batch in dataset.take(60)]

    assert numbers(1) == numbers(1)
    assert numbers(1) != numbers(2)
    with pytest.raises(MelodylibError, match="window_batches"):
        make_dataset(tmp_path / "data.tfrecord", 2, 8, window_batches=0)


def test_fewer_melodies_than_a_batch_still_give_full_batches_when_repeating(tmp_path):
    # 5 melodies and batch 8: an epoch holds no full batch, so batches run across epochs
    # (a course notebook's tiny set trains like this) instead of the pipeline looping forever.
    write_numbered_melodies(tmp_path / "data.tfrecord", [3, 4, 5, 6, 7])
    dataset = make_dataset(tmp_path / "data.tfrecord", 2, 8, seed=3)
    batches = [batch_contents(batch) for batch in dataset.take(5)]
    assert all(len(batch) == 8 for batch in batches)
    counts = collections.Counter(number for batch in batches for number, _ in batch)
    assert sorted(counts) == [1, 2, 3, 4, 5] and sum(counts.values()) == 40
    # max_examples counts too: 20 melodies on file, 5 kept, batch 8.
    write_numbered_melodies(tmp_path / "more.tfrecord", [5] * 20)
    kept = make_dataset(tmp_path / "more.tfrecord", 2, 8, max_examples=5, seed=3)
    numbers = {number for batch in kept.take(3) for number, _ in batch_contents(batch)}
    assert numbers == {1, 2, 3, 4, 5}
    # Without repeating, such a set gives no batch rather than a partial one.
    assert list(make_dataset(tmp_path / "data.tfrecord", 2, 8, repeat=False)) == []


def test_small_integer_inputs_wait_as_int8_and_come_back_exact(tmp_path):
    rng = np.random.default_rng(4)
    examples = [
        (rng.integers(-1, 2, size=(length, 6)).astype(np.float32), rng.integers(1, 5, size=length))
        for length in (5, 9, 14)
    ]
    write_records(
        tmp_path / "data.tfrecord", [sequence_example_bytes(i, labels) for i, labels in examples]
    )
    dataset = make_dataset(
        tmp_path / "data.tfrecord",
        6,
        3,
        shuffle=False,
        repeat=False,
        drop_remainder=False,
    )
    ((inputs, labels, mask),) = list(dataset)
    assert inputs.dtype == np.float32
    for row, (original_inputs, _) in enumerate(examples):
        np.testing.assert_array_equal(inputs.numpy()[row, : len(original_inputs)], original_inputs)


def test_a_data_set_that_turns_non_integer_after_its_first_melody_is_an_error(tmp_path):
    first = (np.ones((8, 6), np.float32), np.ones(8, np.int64))
    second = (np.full((8, 6), 0.5, np.float32), np.ones(8, np.int64))
    write_records(
        tmp_path / "data.tfrecord",
        [sequence_example_bytes(*first), sequence_example_bytes(*second)],
    )
    dataset = make_dataset(tmp_path / "data.tfrecord", 6, 2, shuffle=False, repeat=False)
    expected = "data.tfrecord: the inputs of a melody are not all integers"
    with pytest.raises(tf.errors.InvalidArgumentError, match=expected):
        list(dataset)
