"""From training data to tf.data batches: the input pipeline of training and evaluation.

`make_dataset` reads the files `create_dataset` writes (one file, or shards) as padded, masked
batches: random melodies of similar length, so that little of each batch is padding (Magenta
pads random batches to their longest melody), yet each epoch sees each melody once and no batch
holds a melody twice. `check_input_size` fails early, with a clear message, on data made for
another config.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
from pathlib import Path

import numpy as np

from melodylib.data.dataset_files import INFO_FILE
from melodylib.data.sequence_examples import parse_sequence_example
from melodylib.errors import MelodylibError
from melodylib.tfrecords import compression_of, expand_paths, read_records, shard_groups


def _parse_function(input_size: int, compact: bool, source: str = ""):
    """Parse one record into (inputs, labels); with `compact`, inputs are held as int8.

    Every encoder of the course writes inputs of -1, 0 and 1 only, so until a batch is made
    they can wait in the shuffle buffer and the sorting windows as int8, a quarter of the memory
    of float32 (for mono_rnn's 130 inputs per step that is hundreds of megabytes at batch 128).
    A record that is not small integers then stops the pipeline with a clear error instead of
    being rounded.
    """
    import tensorflow as tf

    sequence_features = {
        "inputs": tf.io.FixedLenSequenceFeature([input_size], dtype=tf.float32),
        "labels": tf.io.FixedLenSequenceFeature([], dtype=tf.int64),
    }

    def parse(record):
        _, sequence = tf.io.parse_single_sequence_example(
            record, sequence_features=sequence_features
        )
        inputs = sequence["inputs"]
        if compact:
            small = tf.cast(inputs, tf.int8)
            exact = tf.debugging.assert_equal(
                tf.cast(small, tf.float32),
                inputs,
                message=f"{source}: the inputs of a melody are not all integers from -128 to 127, unlike "
                "those of the first melody; this data set mixes encodings (make it again with create_dataset)",
            )
            with tf.control_dependencies([exact]):
                inputs = tf.identity(small)
        return inputs, sequence["labels"]

    return parse


def _inputs_are_small_integers(files: list[str]) -> bool:
    """Whether the first melody of the files has inputs that int8 holds exactly (see _parse_function)."""
    for path in files:
        for record in read_records(path):
            inputs, _ = parse_sequence_example(record, str(path))
            return bool(np.all(np.abs(inputs) <= 127) and np.array_equal(inputs, np.round(inputs)))
    return False


def _dataset_config_name(path: Path) -> str:
    """The config a data set was made for, from the dataset_info.json create_dataset writes beside it."""
    info = path.parent / INFO_FILE
    try:
        return str(json.loads(info.read_text()).get("config", ""))
    except (OSError, ValueError, AttributeError):
        return ""


def check_input_size(pattern: str | os.PathLike, input_size: int, config_name: str = "") -> int:
    """Check that the first example of every file has `input_size` inputs per step; returns the number of files.

    A data set made for another config fails here with a message naming both widths (and the
    config it was made for, when dataset_info.json says), rather than deep inside TensorFlow.
    An empty data set is an error too: Magenta reports loss 0 and perplexity 1 on one.
    """
    files = expand_paths(pattern, "sequence_example_file")
    expected = f"{config_name or 'this config'} expects {input_size}"
    found_any = False
    for path in files:
        for record in read_records(path):
            inputs, _ = parse_sequence_example(record, str(path))
            if inputs.shape[1] != input_size:
                made_for = _dataset_config_name(path)
                made_for = f" (it was made for {made_for})" if made_for else ""
                raise MelodylibError(
                    f"{path}: the melodies are encoded with {inputs.shape[1]} inputs per step{made_for}, but "
                    f"{expected}; was the data set made with another --config? Run create_dataset again "
                    f"with --config {config_name or 'NAME'}, or train with the config the data was made for."
                )
            found_any = True
            break
    if not found_any:
        raise MelodylibError(
            f"{pattern}: holds no melodies (an empty data set); check create_dataset's statistics "
            "(e.g. melodies_discarded_too_short, polyphonic_tracks_discarded) or the --eval_ratio"
        )
    return len(files)


def make_dataset(
    pattern: str | os.PathLike,
    input_size: int,
    batch_size: int,
    *,
    shuffle: bool = True,
    repeat: bool = True,
    window_batches: int = 16,
    shuffle_buffer: int = 4096,
    drop_remainder: bool = True,
    seed: int | None = None,
    max_examples: int = 0,
):
    """A tf.data pipeline of (inputs [B, T, I], labels [B, T], mask [B, T]) batches.

    Each epoch reads every melody once: shuffled (through a buffer of `shuffle_buffer`
    melodies), cut into windows of `window_batches` x `batch_size` melodies, each window sorted
    by length and split into batches, and the batches of a window served in random order. A
    batch is thus a random draw of melodies of similar length, padded only to its own longest;
    the mask marks the real steps (magenta-behaviour.md: "Batching"). No melody is twice in a
    batch, and a window never spans two epochs, unless the files hold fewer melodies than
    one batch (then, to give any batch at all, windows run across epochs). With `drop_remainder`, the last batch of a
    window that is not full is left out (at most batch_size - 1 melodies of an epoch; being
    shuffled, different ones every epoch). `max_examples` > 0 keeps only the first that many
    melodies of the files (in file order, before any shuffling), so an evaluation limited to N
    melodies always sees the same N.

    Sharded files (`training_melodies.tfrecord-00000-of-00004` ..., or the base name standing
    for them) are read in parallel. Unshuffled, a complete shard set is read round-robin, which
    is the order of the single file it stands for, so its batches are the single file's.
    """
    import tensorflow as tf

    if batch_size < 1:
        raise MelodylibError(f"batch_size must be 1 or more, got {batch_size}")
    if window_batches < 1:
        raise MelodylibError(f"window_batches must be 1 or more, got {window_batches}")
    files = [str(path) for path in expand_paths(pattern, "sequence_example_file")]
    compressions = {compression_of(path) for path in files}
    if len(compressions) > 1:
        raise MelodylibError(
            f"{pattern}: mixes GZIP-compressed and plain TFRecord files; use one kind"
        )
    compression = compressions.pop()
    dataset = _records(files, compression, shuffle and not max_examples, seed)
    compact = _inputs_are_small_integers(files)
    dataset = dataset.map(
        _parse_function(input_size, compact, str(pattern)),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    if max_examples:
        dataset = dataset.take(max_examples)
    if shuffle:
        dataset = dataset.shuffle(
            max(shuffle_buffer, batch_size * window_batches),
            seed=seed,
            reshuffle_each_iteration=True,
        )
    window_size = batch_size * window_batches
    if repeat and drop_remainder and _count_records(files, window_size, max_examples) < batch_size:
        # Fewer melodies than one batch: an epoch gives no full batch, so windows must span
        # epochs (as in Magenta's queue, a batch may then hold a melody more than once).
        dataset = dataset.repeat()
        repeat = False
    # Otherwise windows are cut before repeating, so none spans two epochs.
    dataset = dataset.ragged_batch(window_size)
    if repeat:
        dataset = dataset.repeat()
    window_seed = _window_seed(seed) if shuffle else None
    dataset = dataset.enumerate().flat_map(
        _window_batcher(input_size, batch_size, drop_remainder, window_seed)
    )
    return dataset.prefetch(tf.data.AUTOTUNE)


PARALLEL_FILES = 8  # files read at once when shuffling (each has its own read buffer)


def _records(files: list[str], compression: str, shuffle: bool, seed: int | None):
    """The records of the files, as a tf.data dataset.

    Shuffled: the files in a seeded random order (a new one each epoch), PARALLEL_FILES read at
    once, interleaved. In order: what `tfrecords.read_all_records` yields, file after file, with
    each complete shard set interleaved one record per shard in turn (all shards read in
    parallel; `deterministic` keeps the order), i.e. in the order of the single file.
    """
    import tensorflow as tf

    def read(path):
        return tf.data.TFRecordDataset(path, compression_type=compression)

    def interleaved(paths: list[str], cycle_length: int, shuffle_seed: int | None = None):
        dataset = tf.data.Dataset.from_tensor_slices(paths)
        if shuffle and len(paths) > 1:
            dataset = dataset.shuffle(len(paths), seed=shuffle_seed)
        return dataset.interleave(
            read,
            cycle_length=cycle_length,
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )

    if shuffle:
        return interleaved(files, min(PARALLEL_FILES, len(files)), seed)
    parts = []
    plain_run: list[str] = []  # consecutive files that are no shard set: read one after another
    for group in shard_groups([Path(path) for path in files]):
        if len(group) == 1:
            plain_run.append(str(group[0]))
            continue
        if plain_run:
            parts.append(interleaved(plain_run, 1))
            plain_run = []
        parts.append(interleaved([str(path) for path in group], len(group)))
    if plain_run:
        parts.append(interleaved(plain_run, 1))
    return functools.reduce(lambda first, second: first.concatenate(second), parts)


def _count_records(files: list[str], limit: int, max_examples: int = 0) -> int:
    """How many melodies the files hold, counting no further than `limit` (and `max_examples`)."""
    if max_examples:
        limit = min(limit, max_examples)
    records = (record for path in files for record in read_records(path))
    return sum(1 for _ in itertools.islice(records, limit))


def _window_seed(seed: int | None) -> int:
    """The seed of the batch order within windows: `seed`, else one drawn from TensorFlow's
    global generator (so keras.utils.set_random_seed still makes a run repeatable)."""
    if seed is not None:
        return int(seed)
    import tensorflow as tf

    return int(tf.random.uniform((), maxval=2**31 - 1, dtype=tf.int64))


def _window_batcher(input_size: int, batch_size: int, drop_remainder: bool, seed: int | None):
    """The flat_map function: (window index, ragged window) -> a dataset of its batches.

    The window's melodies are sorted by length (stably, so equal lengths keep their random
    order) and cut into consecutive batches; with `seed`, the batches come out in an order drawn
    from (seed, window index), else longest last.
    """
    import tensorflow as tf

    def batches(index, window):
        inputs, labels = window
        lengths = labels.row_lengths()
        order = tf.argsort(lengths, stable=True)
        count = tf.size(lengths, out_type=tf.int64)
        full = count // batch_size
        num_batches = full if drop_remainder else -(-count // batch_size)
        batch_order = tf.range(num_batches)
        if seed is not None:
            batch_order = tf.random.experimental.stateless_shuffle(
                batch_order, seed=tf.stack([tf.constant(seed, tf.int64), index])
            )

        def one_batch(position):
            rows = order[position * batch_size : (position + 1) * batch_size]
            batch_lengths = tf.gather(lengths, rows)
            # Padded labels are 0, which is also a real class, so the mask comes from the lengths.
            mask = tf.sequence_mask(batch_lengths, dtype=tf.float32)
            batch_inputs = tf.gather(inputs, rows).to_tensor(shape=[None, None, input_size])
            batch_labels = tf.gather(labels, rows).to_tensor()
            return tf.cast(batch_inputs, tf.float32), batch_labels, mask

        return tf.data.Dataset.from_tensor_slices(batch_order).map(one_batch)

    return batches
