"""From NoteSequences to training data, and from training data to tf.data batches.

`create_dataset` is Magenta's melody_rnn_create_dataset: split each sequence on time changes,
quantize it, extract melodies, squash them into the config's range and key, encode them and
write `training_melodies.tfrecord` and `eval_melodies.tfrecord`. Unlike Magenta, which draws
an unseeded random number per sequence, the split here depends only on the sequence's id and
a seed, so it is the same on every run and every machine.

Each split can be written as shards (`num_shards`), and memory stays bounded however large the
input: records stream to disk, and the training melodies' seeded order comes from
`external_shuffle`. `make_dataset` (in `input_pipeline`, imported here too) reads the files
back as tf.data batches.
"""

from __future__ import annotations

import collections
import contextlib
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
from melodylib.data.dataset_files import EVAL_FILE, INFO_FILE, TRAINING_FILE, TRAINING_ORDER
from melodylib.data.external_shuffle import (
    BUCKET_BITS,
    DEFAULT_MEMORY_LIMIT_BYTES,
    ExternalShuffle,
)
from melodylib.data.input_pipeline import check_input_size, make_dataset  # noqa: F401 (re-exported)
from melodylib.data.sequence_examples import sequence_example_bytes
from melodylib.encoding.configs import MelodyRnnConfig, get_config
from melodylib.errors import MelodylibError
from melodylib.music.extraction import extract_melodies_with_statistics
from melodylib.music.melodies import Melody
from melodylib.music.notesequence import NoteSequence
from melodylib.music.quantize import split_and_quantize
from melodylib.tfrecords import (
    ShardedRecordWriter,
    check_num_shards,
    ensure_open_files,
    expand_paths,
    read_all_records,
    shard_paths,
)
from melodylib.workers import process_pool_context


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
    num_shards: int = 1,
    memory_limit_bytes: int = DEFAULT_MEMORY_LIMIT_BYTES,
) -> DatasetSummary:
    """Turn a TFRecord of NoteSequences into training_melodies / eval_melodies SequenceExample files.

    `compress` writes GZIP-compressed files (about 20x smaller; melodylib reads both, Magenta
    only plain ones). The training file holds its melodies in an order drawn from `seed` (the
    eval file keeps the input's order), so that any reader's batches mix the whole data set.
    `num_shards` > 1 writes each split as that many shards (`training_melodies.tfrecord-00000-of-
    0000N` ...; see melodylib.tfrecords), the same records in the same order when read back.
    Memory stays bounded whatever the input's size: eval melodies stream to their files, and the
    training melodies are put in their order by `ExternalShuffle`, which keeps at most about
    `memory_limit_bytes` of them in memory and spills the rest to temporary files in `output_dir`.
    """
    config = get_config(config) if isinstance(config, str) else config
    if not 0.0 <= eval_ratio <= 1.0:
        raise MelodylibError(f"--eval_ratio must be between 0 and 1, got {eval_ratio}")
    num_shards = check_num_shards(num_shards)
    # Both splits' shards, the shuffle's two levels of spill files, and a margin.
    ensure_open_files(
        2 * num_shards + 2 * 2**BUCKET_BITS + 64, f"create_dataset --num_shards={num_shards}"
    )
    expand_paths(input_file, "input")
    from melodylib.encoding.configs import config_to_dict  # noqa: WPS433 (kept next to its use)

    config_dict = config_to_dict(config)
    output_dir = Path(output_dir)
    summary = DatasetSummary(config=config.name, output_dir=str(output_dir))
    with contextlib.ExitStack() as outputs:
        eval_writer = outputs.enter_context(
            ShardedRecordWriter(output_dir / EVAL_FILE, num_shards, compress)
        )
        # The training melodies are written in a seeded random order, not the input's: inputs
        # come grouped by folder or collection, and a reader with a small shuffle buffer
        # (Magenta's queue holds at most 500 melodies) would train on one collection at a time
        # (benchmarks/per_step_parity.py measures what that costs).
        training_order = outputs.enter_context(
            ExternalShuffle(output_dir, seed, memory_limit_bytes)
        )

        def consume(results) -> None:
            for is_eval, records, lengths, counters in results:
                summary.add_sequence("eval" if is_eval else "training", counters, lengths)
                for record in records:
                    (eval_writer.write if is_eval else training_order.add)(record)

        _encode_all(
            input_file,
            config,
            config_dict,
            settings,
            eval_ratio,
            seed,
            num_workers,
            progress,
            consume,
        )
        training_writer = outputs.enter_context(
            ShardedRecordWriter(output_dir / TRAINING_FILE, num_shards, compress)
        )
        for record in training_order:
            training_writer.write(record)
    for split in SPLITS:
        summary.counters[f"{split}_melodies_count"] += 0
    info = {
        "config": config.name,
        "encoder": config_dict,
        "input_size": config.encoder.input_size,
        "num_classes": config.encoder.num_classes,
        "eval_ratio": eval_ratio,
        "seed": seed,
        "training_order": TRAINING_ORDER,
        "extraction": asdict(settings),
        "training_melodies": summary.training_melodies,
        "eval_melodies": summary.eval_melodies,
        "training_steps": summary.training_steps,
        "eval_steps": summary.eval_steps,
        "counters": dict(summary.counters),
        "statistics": summary.magenta_statistics(),
        "source": str(input_file),
        "compressed": compress,
        "num_shards": num_shards,
        "training_files": [path.name for path in shard_paths(TRAINING_FILE, num_shards)],
        "eval_files": [path.name for path in shard_paths(EVAL_FILE, num_shards)],
    }
    write_text_atomically(output_dir / INFO_FILE, json.dumps(info, indent=2, sort_keys=True))
    return summary


def _encode_all(
    input_file, config, config_dict, settings, eval_ratio, seed, num_workers, progress, consume
) -> None:
    """Encode every input sequence (in worker processes for large inputs), passing the results
    to `consume` in input order; at most a few chunks per worker are in flight at a time."""
    # Raw records go straight to the workers, which decode them: the parent never parses JSON.
    payloads = read_all_records(input_file, "input")
    workers = num_workers if num_workers is not None else (os.cpu_count() or 1)
    first = list(itertools.islice(payloads, SERIAL_THRESHOLD))
    if len(first) < SERIAL_THRESHOLD:
        workers = 1  # too few sequences for worker processes to pay for their start-up
    payloads = itertools.chain(first, payloads)
    from tqdm.auto import tqdm

    bar = tqdm(desc=f"create_dataset ({config.name})", unit="seq", disable=not progress)
    if workers <= 1:
        for chunk in _chunks(payloads, CHUNK_SIZE):
            consume(_process_chunk(chunk, config_dict, settings, eval_ratio, seed))
            bar.update(len(chunk))
    else:
        with ProcessPoolExecutor(max_workers=workers, mp_context=process_pool_context()) as pool:
            pending: collections.deque = collections.deque()
            for chunk in _chunks(payloads, CHUNK_SIZE):
                pending.append(
                    (
                        len(chunk),
                        pool.submit(_process_chunk, chunk, config_dict, settings, eval_ratio, seed),
                    )
                )
                while len(pending) > 4 * workers:
                    size, future = pending.popleft()
                    consume(future.result())
                    bar.update(size)
            for size, future in pending:
                consume(future.result())
                bar.update(size)
    bar.close()
