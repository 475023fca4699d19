"""From NoteSequences to training data, and from training data to tf.data batches.

`create_dataset` is Magenta's melody_rnn_create_dataset: split each sequence on time changes,
quantize it, extract melodies, squash them into the config's range and key, encode them and
write `training_melodies.tfrecord` and `eval_melodies.tfrecord`. Unlike Magenta, which draws
an unseeded random number per sequence, the split here depends only on the sequence's id and
a seed, so it is the same on every run and every machine.

`make_dataset` reads those files back as padded, masked batches: random melodies of similar
length, so that little of each batch is padding (Magenta pads random batches to their longest
melody), yet each epoch sees each melody once and no batch holds a melody twice.
"""

from __future__ import annotations

import collections
import functools
import hashlib
import itertools
import json
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from melodylib.atomic import write_text_atomically
from melodylib.data.sequence_examples import parse_sequence_example, sequence_example_bytes
from melodylib.encoding.configs import MelodyRnnConfig, get_config
from melodylib.errors import MelodylibError
from melodylib.music.extraction import extract_melodies_with_statistics
from melodylib.music.melodies import Melody
from melodylib.music.notesequence import NoteSequence
from melodylib.music.quantize import split_and_quantize
from melodylib.tfrecords import (
    compression_of,
    expand_paths,
    read_all_records,
    read_records,
    write_records,
)
from melodylib.workers import process_pool_context

TRAINING_FILE = "training_melodies.tfrecord"
EVAL_FILE = "eval_melodies.tfrecord"
INFO_FILE = "dataset_info.json"


@dataclass(frozen=True)
class ExtractionSettings:
    """Melody extraction settings; the defaults are the ones Magenta hard-codes for melody_rnn."""

    min_bars: int = 7
    max_steps: int = 512
    min_unique_pitches: int = 5
    gap_bars: float = 1.0
    ignore_polyphonic_notes: bool = False
    steps_per_quarter: int = 4

    def __post_init__(self) -> None:
        if self.min_bars < 0:
            raise MelodylibError(f"--min_bars must be 0 or more, got {self.min_bars}")
        if self.max_steps < 1:
            raise MelodylibError(f"--max_steps must be 1 or more, got {self.max_steps}")
        if self.min_unique_pitches < 0:
            raise MelodylibError(
                f"--min_unique_pitches must be 0 or more, got {self.min_unique_pitches}"
            )
        if self.gap_bars <= 0:
            raise MelodylibError(f"--gap_bars must be positive, got {self.gap_bars}")


def melodies_from_note_sequence(
    sequence: NoteSequence,
    settings: ExtractionSettings = ExtractionSettings(),
    counters: collections.Counter | None = None,
) -> list[Melody]:
    """Split on time changes, quantize and extract melodies, counting discards as Magenta does."""
    counters = counters if counters is not None else collections.Counter()
    pieces, quantizer_counters = split_and_quantize(sequence, settings.steps_per_quarter)
    counters.update(quantizer_counters)
    # Magenta's TranspositionPipeline with its only shift, 0: one copy per piece, never out of range.
    counters["transpositions_generated"] += len(pieces)
    counters["skipped_due_to_range_exceeded"] += 0
    melodies: list[Melody] = []
    for quantized in pieces:
        found, statistics = extract_melodies_with_statistics(
            quantized,
            min_bars=settings.min_bars,
            max_steps=settings.max_steps,
            min_unique_pitches=settings.min_unique_pitches,
            gap_bars=settings.gap_bars,
            ignore_polyphonic_notes=settings.ignore_polyphonic_notes,
        )
        counters.update(statistics)
        melodies.extend(found)
    return melodies


def encode_melody(melody: Melody, config: MelodyRnnConfig) -> tuple[np.ndarray, np.ndarray]:
    """Squash a copy of the melody into the config's range and key, then encode it."""
    squashed = melody.copy()
    squashed.squash(config.min_note, config.max_note, config.transpose_to_key)
    return config.encoder.encode(squashed.events)


def is_eval_sequence(sequence_id: str, eval_ratio: float, seed: int = 0) -> bool:
    """Whether a sequence belongs to the eval split: a hash of (seed, id) compared with eval_ratio.

    Magenta's RandomPartition draws an unseeded random number per sequence instead, so its split
    changes from run to run (magenta-behaviour.md: "Train/eval split"); this one depends only on the id and the seed.
    """
    if eval_ratio <= 0:
        return False
    if eval_ratio >= 1:
        return True
    digest = hashlib.sha256(f"{seed}:{sequence_id}".encode()).digest()
    draw = int.from_bytes(digest[:8], "big") / 2**64
    return draw < eval_ratio


def split_key(sequence: NoteSequence) -> str:
    """What the train/eval split of a sequence is decided on: its id, else its filename, else its notes.

    Sequences made by hand often have no id; keying them all on "" would put every one of them
    in the same split, so their content is hashed instead (still the same on every run).
    """
    if sequence.id:
        return sequence.id
    if sequence.filename:
        return f"file:{sequence.filename}"
    return "content:" + hashlib.sha256(sequence.to_bytes()).hexdigest()


SPLITS = ("training", "eval")


def _magenta_unit(counter: str) -> str:
    """The Magenta pipeline unit that emits a counter (for its `DAGPipeline_<unit>_<split>_` names)."""
    if counter.startswith("sequences_discarded_because"):
        return "Quantizer"
    if counter in ("transpositions_generated", "skipped_due_to_range_exceeded"):
        return "TranspositionPipeline"
    return "MelodyExtractor"


@dataclass
class DatasetSummary:
    """What create_dataset did: melodies written per split and Magenta's statistics counters.

    `counters` merges both splits under Magenta's short names; `split_counters` keeps them per
    split, and `magenta_statistics()` gives the names Magenta logs (magenta-behaviour.md: "Pipeline statistics"), e.g.
    `DAGPipeline_MelodyExtractor_training_melodies_discarded_too_short`.
    """

    config: str
    sequences_read: int = 0
    training_melodies: int = 0
    eval_melodies: int = 0
    training_steps: int = 0
    eval_steps: int = 0
    counters: collections.Counter = field(default_factory=collections.Counter)
    output_dir: str = ""
    split_counters: dict = field(
        default_factory=lambda: {split: collections.Counter() for split in SPLITS}
    )

    def add_sequence(self, split: str, counters: collections.Counter, lengths: list[int]) -> None:
        """Count one input sequence routed to `split` with its extraction counters and melody lengths."""
        self.sequences_read += 1
        # Magenta's RandomPartition counts input *sequences* per bucket under these names.
        partition = collections.Counter({f"{split}_melodies_count": 1})
        self.counters.update(counters)
        self.counters.update(partition)
        self.split_counters[split].update(counters)
        if split == "eval":
            self.eval_melodies += len(lengths)
            self.eval_steps += sum(lengths)
        else:
            self.training_melodies += len(lengths)
            self.training_steps += sum(lengths)

    def magenta_statistics(self) -> dict[str, int]:
        """The counters under the names Magenta's create_dataset logs (magenta-behaviour.md: "Pipeline statistics")."""
        statistics = {
            f"DAGPipeline_RandomPartition_{split}_melodies_count": int(
                self.counters[f"{split}_melodies_count"]
            )
            for split in SPLITS
        }
        for split in SPLITS:
            for name, value in self.split_counters[split].items():
                statistics[f"DAGPipeline_{_magenta_unit(name)}_{split}_{name}"] = int(value)
        return dict(sorted(statistics.items()))

    def format(self) -> str:
        """A readable report: what was written, then every statistic under Magenta's name."""
        lines = [
            f"Read {self.sequences_read} sequences; wrote {self.training_melodies} training and "
            f"{self.eval_melodies} eval melodies ({self.training_steps} and {self.eval_steps} steps) "
            f"for {self.config} to {self.output_dir}.",
            "Statistics:",
        ]
        for name, value in self.magenta_statistics().items():
            lines.append(f"  {name}: {value}")
        return "\n".join(lines)


def _process_sequence(
    payload: bytes, config_dict: dict, settings: ExtractionSettings, eval_ratio: float, seed: int
) -> tuple[bool, list[bytes], list[int], collections.Counter]:
    """Worker: one serialised NoteSequence in, its encoded SequenceExamples and counters out."""
    config = _config_from_json(json.dumps(config_dict, sort_keys=True))
    sequence = NoteSequence.from_record(payload, "a record of --input")
    counters: collections.Counter = collections.Counter()
    melodies = melodies_from_note_sequence(sequence, settings, counters)
    records, lengths = [], []
    for melody in melodies:
        if len(melody) < 2:
            continue  # one event gives no (input, label) pair: nothing to train on
        inputs, labels = encode_melody(melody, config)
        records.append(sequence_example_bytes(inputs, labels))
        lengths.append(len(labels))
    return is_eval_sequence(split_key(sequence), eval_ratio, seed), records, lengths, counters


@functools.lru_cache(maxsize=8)
def _config_from_json(text: str) -> MelodyRnnConfig:
    """Rebuild a config once per worker process rather than once per sequence."""
    from melodylib.encoding.configs import config_from_dict

    return config_from_dict(json.loads(text))


def _process_chunk(
    chunk: list[bytes],
    config_dict: dict,
    settings: ExtractionSettings,
    eval_ratio: float,
    seed: int,
):
    return [
        _process_sequence(payload, config_dict, settings, eval_ratio, seed) for payload in chunk
    ]


SERIAL_THRESHOLD = 256  # below this many sequences, encode in this process
CHUNK_SIZE = 16  # sequences per task sent to a worker


def _chunks(items: Iterable[bytes], size: int) -> Iterator[list[bytes]]:
    chunk: list[bytes] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def create_dataset(
    input_file: str | os.PathLike,
    config: MelodyRnnConfig | str,
    output_dir: str | os.PathLike,
    eval_ratio: float = 0.1,
    seed: int = 0,
    settings: ExtractionSettings = ExtractionSettings(),
    num_workers: int | None = None,
    progress: bool = True,
    compress: bool = False,
) -> DatasetSummary:
    """Turn a TFRecord of NoteSequences into training_melodies / eval_melodies SequenceExample files.

    `compress` writes GZIP-compressed files (about 20x smaller; melodylib reads both, Magenta
    only plain ones). The training file holds its melodies in an order drawn from `seed` (the
    eval file keeps the input's order), so that any reader's batches mix the whole data set.
    """
    config = get_config(config) if isinstance(config, str) else config
    if not 0.0 <= eval_ratio <= 1.0:
        raise MelodylibError(f"--eval_ratio must be between 0 and 1, got {eval_ratio}")
    expand_paths(input_file, "input")
    from melodylib.encoding.configs import config_to_dict  # noqa: WPS433 (kept next to its use)

    config_dict = config_to_dict(config)
    output_dir = Path(output_dir)
    summary = DatasetSummary(config=config.name, output_dir=str(output_dir))
    training_records: list[bytes] = []
    eval_records: list[bytes] = []
    # Raw records go straight to the workers, which decode them: the parent never parses JSON.
    payloads = read_all_records(input_file, "input")
    workers = num_workers if num_workers is not None else (os.cpu_count() or 1)
    first = list(itertools.islice(payloads, SERIAL_THRESHOLD))
    if len(first) < SERIAL_THRESHOLD:
        workers = 1  # too few sequences for worker processes to pay for their start-up
    payloads = itertools.chain(first, payloads)

    def consume(results) -> None:
        for is_eval, records, lengths, counters in results:
            summary.add_sequence("eval" if is_eval else "training", counters, lengths)
            (eval_records if is_eval else training_records).extend(records)

    from tqdm.auto import tqdm

    bar = tqdm(desc=f"create_dataset ({config.name})", unit="seq", disable=not progress)
    if workers <= 1:
        for chunk in _chunks(payloads, CHUNK_SIZE):
            consume(_process_chunk(chunk, config_dict, settings, eval_ratio, seed))
            bar.update(len(chunk))
    else:
        with ProcessPoolExecutor(max_workers=workers, mp_context=process_pool_context()) as pool:
            pending = []
            for chunk in _chunks(payloads, CHUNK_SIZE):
                pending.append(
                    (
                        len(chunk),
                        pool.submit(_process_chunk, chunk, config_dict, settings, eval_ratio, seed),
                    )
                )
                while len(pending) > 4 * workers:
                    size, future = pending.pop(0)
                    consume(future.result())
                    bar.update(size)
            for size, future in pending:
                consume(future.result())
                bar.update(size)
    bar.close()
    for split in SPLITS:
        summary.counters[f"{split}_melodies_count"] += 0
    # The training melodies are written in a seeded random order, not the input's: inputs come
    # grouped by folder or collection, and a reader with a small shuffle buffer (Magenta's queue
    # holds at most 500 melodies) would train on one collection at a time
    # (benchmarks/per_step_parity.py measures what that costs).
    order = np.random.default_rng(seed).permutation(len(training_records))
    training_records = [training_records[index] for index in order]
    write_records(output_dir / TRAINING_FILE, training_records, compress=compress)
    write_records(output_dir / EVAL_FILE, eval_records, compress=compress)
    info = {
        "config": config.name,
        "encoder": config_dict,
        "input_size": config.encoder.input_size,
        "num_classes": config.encoder.num_classes,
        "eval_ratio": eval_ratio,
        "seed": seed,
        "extraction": asdict(settings),
        "training_melodies": summary.training_melodies,
        "eval_melodies": summary.eval_melodies,
        "training_steps": summary.training_steps,
        "eval_steps": summary.eval_steps,
        "counters": dict(summary.counters),
        "statistics": summary.magenta_statistics(),
        "source": str(input_file),
        "compressed": compress,
    }
    write_text_atomically(output_dir / INFO_FILE, json.dumps(info, indent=2, sort_keys=True))
    return summary


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
    dataset = tf.data.Dataset.from_tensor_slices(files)
    if shuffle and len(files) > 1:
        dataset = dataset.shuffle(len(files), seed=seed)
    dataset = dataset.interleave(
        lambda path: tf.data.TFRecordDataset(path, compression_type=compression),
        cycle_length=min(4, len(files)),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
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
