"""Issue 2's exactness check: our `convert` + `create_dataset` against Magenta's own outputs.

The fixtures in tests/data/magenta/ were written by the original Magenta 2.1.4 / note_seq 0.0.5 on
32 real MIDI files (see its README.md). Here the files go through `melody_rnn convert` and
`melody_rnn create_dataset --eval_ratio 0` exactly as a user runs them, and everything Magenta
produced must come out the same: the NoteSequences, the time-change segments, the melodies before
and after squash, every (inputs, labels) SequenceExample of the four configs, and the statistics.

To check another set made the same way (a folder with real_midi/ and the files that
tools/magenta_reference/make_pipeline_fixtures.sh writes), set MELODYLIB_MAGENTA_FIXTURES to it.
"""

from __future__ import annotations

import collections
import dataclasses
import gzip
import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest

from melodylib.cli import main as cli
from melodylib.data.datasets import (
    INFO_FILE,
    TRAINING_FILE,
    DatasetSummary,
    melodies_from_note_sequence,
)
from melodylib.encoding.configs import CONFIG_NAMES, get_config
from melodylib.music.extraction import extract_melodies_with_statistics
from melodylib.music.melodies import Melody
from melodylib.music.notesequence import read_note_sequences
from melodylib.music.quantize import (
    QuantizationError,
    QuantizedSequence,
    quantize_note_sequence,
    split_and_quantize,
    split_on_time_changes,
)
from melodylib.tfrecords import read_records

SHIPPED_FIXTURES = Path(__file__).parent / "data" / "magenta"
# Another set made the same way (real_midi/ + Magenta's outputs) can be checked by pointing this at it.
DATA = Path(os.environ.get("MELODYLIB_MAGENTA_FIXTURES", SHIPPED_FIXTURES))
REAL_MIDI = DATA / "real_midi"
IS_SHIPPED_SET = DATA.resolve() == SHIPPED_FIXTURES.resolve()
TIME_TOLERANCE = 1e-6  # for note and meter times; tempos must be the same doubles (see below)


def load_json(name: str) -> dict:
    with gzip.open(DATA / name, "rt") as handle:
        return json.load(handle)


@pytest.fixture(scope="module")
def reference() -> dict:
    return load_json("pipeline_reference.json.gz")


@pytest.fixture(scope="module")
def magenta_sequences() -> dict[str, dict]:
    return {
        sequence["filename"]: sequence
        for sequence in load_json("notesequences.json.gz")["sequences"]
    }


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> Path:
    """`melody_rnn convert` on the real MIDI folder, as a user runs it."""
    output_file = tmp_path_factory.mktemp("convert") / "notesequences.tfrecord"
    status = cli.main(
        [
            "convert",
            "--input_dir",
            str(REAL_MIDI),
            "--output_file",
            str(output_file),
            "--num_workers",
            "1",
        ]
    )
    assert status == 0
    return output_file


@pytest.fixture(scope="module")
def our_sequences(converted) -> dict:
    return {sequence.filename: sequence for sequence in read_note_sequences(converted)}


@pytest.fixture(scope="module")
def datasets(converted, tmp_path_factory) -> dict[str, Path]:
    """`melody_rnn create_dataset --eval_ratio 0` for each of the four configs."""
    output_dirs = {}
    for config_name in CONFIG_NAMES:
        output_dir = tmp_path_factory.mktemp(f"dataset_{config_name}")
        status = cli.main(
            [
                "create_dataset",
                "--config",
                config_name,
                "--input",
                str(converted),
                "--output_dir",
                str(output_dir),
                "--eval_ratio",
                "0",
                "--num_workers",
                "1",
            ]
        )
        assert status == 0
        output_dirs[config_name] = output_dir
    return output_dirs


# --- reading SequenceExamples (TensorFlow's own parser, independent of melodylib's) -------------


def parse_examples(path: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """(inputs float32 [T, I], labels int64 [T]) of every SequenceExample in a TFRecord file."""
    import tensorflow as tf

    examples = []
    for payload in read_records(path):
        example = tf.train.SequenceExample.FromString(payload)
        assert not example.context.feature, f"{path}: context features (Magenta writes none)"
        feature_lists = example.feature_lists.feature_list
        assert set(feature_lists) == {"inputs", "labels"}
        inputs = np.array(
            [list(row.float_list.value) for row in feature_lists["inputs"].feature],
            dtype=np.float32,
        )
        labels = np.array(
            [list(row.int64_list.value) for row in feature_lists["labels"].feature], dtype=np.int64
        )
        assert labels.ndim == 2 and labels.shape[1] == 1
        examples.append((inputs, labels[:, 0]))
    return examples


def example_key(inputs: np.ndarray, labels: np.ndarray) -> tuple:
    """A content key of one example: equal keys mean exactly equal inputs and labels."""
    digest = hashlib.sha256(np.ascontiguousarray(inputs, dtype="<f4").tobytes()).hexdigest()
    return (len(labels), tuple(labels.tolist()), inputs.shape, digest)


def magenta_examples(config_name: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """Magenta's records (a gzip of the TFRecord file; read_records recognises gzip by its magic bytes)."""
    return parse_examples(DATA / f"{config_name}_training_melodies.tfrecord.gz")


# --- NoteSequences --------------------------------------------------------------------------------


def test_convert_reads_every_file_with_magentas_metadata(our_sequences, magenta_sequences):
    assert set(our_sequences) == set(magenta_sequences)
    if IS_SHIPPED_SET:
        assert len(our_sequences) == 32
    for filename, theirs in magenta_sequences.items():
        ours = our_sequences[filename]
        assert ours.id == theirs["id"]
        assert ours.collection_name == theirs["collection_name"]
        assert ours.ticks_per_quarter == theirs["ticks_per_quarter"]


def test_note_sequences_equal_note_seqs(our_sequences, magenta_sequences):
    differences = []
    for filename, theirs in sorted(magenta_sequences.items()):
        ours = our_sequences.get(filename)
        if ours is None:
            differences.append(f"{filename}: not converted")
            continue
        our_notes = [
            (n.pitch, n.velocity, n.start_time, n.end_time, n.instrument, n.program, n.is_drum)
            for n in ours.notes
        ]
        their_notes = [tuple(note) for note in theirs["notes"]]
        if len(our_notes) != len(their_notes):
            differences.append(f"{filename}: {len(our_notes)} notes, note_seq {len(their_notes)}")
            continue
        for index, (mine, other) in enumerate(zip(our_notes, their_notes)):
            same_fields = mine[:2] == tuple(other[:2]) and mine[4:] == (
                other[4],
                other[5],
                bool(other[6]),
            )
            same_times = (
                abs(mine[2] - other[2]) <= TIME_TOLERANCE
                and abs(mine[3] - other[3]) <= TIME_TOLERANCE
            )
            if not (same_fields and same_times):
                differences.append(f"{filename} note {index}: {mine} != {other}")
                break
        # Tempos feed plain float comparisons when splitting, so they must be the very same doubles.
        if [(t.time, t.qpm) for t in ours.tempos] != [tuple(t) for t in theirs["tempos"]]:
            differences.append(f"{filename}: tempos {ours.tempos} != {theirs['tempos']}")
        our_meters = [(t.time, t.numerator, t.denominator) for t in ours.time_signatures]
        their_meters = [tuple(t) for t in theirs["time_signatures"]]
        if len(our_meters) != len(their_meters) or any(
            abs(a[0] - b[0]) > TIME_TOLERANCE or a[1:] != b[1:]
            for a, b in zip(our_meters, their_meters)
        ):
            differences.append(f"{filename}: time signatures {our_meters} != {their_meters}")
        our_keys = [(k.time, k.key, k.mode) for k in ours.key_signatures]
        if our_keys != [tuple(k) for k in theirs["key_signatures"]]:
            differences.append(
                f"{filename}: key signatures {our_keys} != {theirs['key_signatures']}"
            )
        if abs(ours.total_time - theirs["total_time"]) > TIME_TOLERANCE:
            differences.append(
                f"{filename}: total_time {ours.total_time} != {theirs['total_time']}"
            )
    assert not differences, "\n".join(differences)


# --- segments and melodies --------------------------------------------------------------------------


def test_time_change_segments_equal_magentas(our_sequences, reference):
    differences = []
    for record in reference["files"]:
        sequence = our_sequences.get(record["filename"])
        if sequence is None:
            differences.append(f"{record['filename']}: not converted")
            continue
        pieces = split_on_time_changes(sequence)
        segments = record["segments"]
        if len(pieces) != len(segments):
            differences.append(
                f"{record['filename']}: {len(pieces)} segments, Magenta {len(segments)}"
            )
            continue
        quantized, _ = split_and_quantize(sequence)
        kept = [segment for segment in segments if segment["quantized"]]
        if len(quantized) != len(kept):
            differences.append(
                f"{record['filename']}: {len(quantized)} quantized segments, Magenta {len(kept)}"
            )
            continue
        for piece, segment in zip(pieces, segments):
            if (
                len(piece.notes) != segment["num_notes"]
                or abs(piece.total_time - segment["total_time"]) > TIME_TOLERANCE
            ):
                differences.append(
                    f"{record['filename']} segment {segment['index']}: notes/total_time differ"
                )
        for ours, segment in zip(quantized, kept):
            theirs = (
                segment["qpm"],
                tuple(segment["time_signature"] or (4, 4)),
                segment["total_quantized_steps"],
                segment["steps_per_bar"],
            )
            mine = (
                ours.qpm,
                (ours.numerator, ours.denominator),
                ours.total_steps,
                ours.steps_per_bar,
            )
            if mine != theirs:
                differences.append(
                    f"{record['filename']} segment {segment['index']}: {mine} != {theirs}"
                )
    assert not differences, "\n".join(differences)


def only_instrument(piece: QuantizedSequence, instrument: int) -> QuantizedSequence:
    """A quantized piece keeping one instrument's notes."""
    keep = piece.instrument == instrument
    columns = ("pitch", "velocity", "start_step", "end_step", "instrument", "program", "is_drum")
    return dataclasses.replace(piece, **{name: getattr(piece, name)[keep] for name in columns})


def our_melodies(sequence) -> dict[tuple[int, int, int], Melody]:
    """Our melodies keyed by (segment, instrument, start_step), segments numbered as Magenta numbers them.

    Each melody is attributed to its instrument by extracting one instrument at a time (in
    ascending order, as Magenta iterates its set of instruments); that must give exactly the
    melodies of the whole piece, in the same order.
    """
    segments = split_on_time_changes(sequence)
    quantized, _ = split_and_quantize(sequence)
    # split_and_quantize leaves out the segments it cannot quantize: find which those are.
    kept_indices = []
    for index, segment in enumerate(segments):
        try:
            quantize_note_sequence(segment)
        except QuantizationError:
            continue
        kept_indices.append(index)
    assert len(kept_indices) == len(quantized)
    result = {}
    for segment_index, piece in zip(kept_indices, quantized):
        whole, _ = extract_melodies_with_statistics(piece)
        attributed = []
        for instrument in sorted(set(piece.instrument.tolist())):
            found, _ = extract_melodies_with_statistics(only_instrument(piece, instrument))
            attributed += [(instrument, melody) for melody in found]
        assert [melody for _, melody in attributed] == whole, (
            f"{sequence.filename}: instrument attribution failed"
        )
        for instrument, melody in attributed:
            result[(segment_index, instrument, melody.start_step)] = melody
    return result


def test_melodies_before_and_after_squash_equal_magentas(our_sequences, reference):
    configs = {name: get_config(name) for name in CONFIG_NAMES}
    differences = []
    compared = 0
    for record in reference["files"]:
        filename = record["filename"]
        if filename not in our_sequences:
            differences.append(f"{filename}: not converted")
            continue
        ours = our_melodies(our_sequences[filename])
        theirs = {(m["segment"], m["instrument"], m["start_step"]): m for m in record["melodies"]}
        if set(ours) != set(theirs):
            differences.append(
                f"{filename}: melodies (segment, instrument, start_step) only ours {sorted(set(ours) - set(theirs))}, "
                f"only Magenta's {sorted(set(theirs) - set(ours))}"
            )
        for key in sorted(set(ours) & set(theirs)):
            melody, expected = ours[key], theirs[key]
            compared += 1
            where = f"{filename} segment {key[0]} instrument {key[1]} step {key[2]}"
            if (melody.events, melody.end_step, melody.steps_per_bar, melody.steps_per_quarter) != (
                expected["events"],
                expected["end_step"],
                expected["steps_per_bar"],
                expected["steps_per_quarter"],
            ):
                differences.append(f"{where}: the melody before squash differs")
                continue
            for name, config in configs.items():
                squashed = melody.copy()
                amount = squashed.squash(config.min_note, config.max_note, config.transpose_to_key)
                if (
                    amount != expected["transpose_amount"][name]
                    or squashed.events != expected["squashed_events"][name]
                ):
                    differences.append(f"{where}: {name}: the squashed melody differs")
                    continue
                _, labels = config.encoder.encode(squashed.events)
                if labels.tolist() != expected["labels"][name]:
                    differences.append(f"{where}: {name}: the labels differ")
    assert not differences, "\n".join(differences)
    assert compared == sum(len(record["melodies"]) for record in reference["files"])
    if IS_SHIPPED_SET:
        assert compared == 54


# --- SequenceExamples and statistics -------------------------------------------------------------


@pytest.mark.parametrize("config_name", CONFIG_NAMES)
def test_sequence_examples_equal_magentas(datasets, config_name, reference):
    ours = parse_examples(datasets[config_name] / TRAINING_FILE)
    theirs = magenta_examples(config_name)
    assert len(theirs) == reference["configs"][config_name]["num_records"]
    if IS_SHIPPED_SET:
        assert len(theirs) == 54
    config = get_config(config_name)
    for inputs, _ in ours:
        assert inputs.shape[1] == config.encoder.input_size
    our_keys = collections.Counter(example_key(*example) for example in ours)
    their_keys = collections.Counter(example_key(*example) for example in theirs)
    missing = their_keys - our_keys
    extra = our_keys - their_keys
    assert not missing and not extra, (
        f"{config_name}: {sum(missing.values())} of Magenta's examples missing, {sum(extra.values())} extra; "
        f"missing label lengths {sorted(key[0] for key in missing)}, extra {sorted(key[0] for key in extra)}"
    )
    # eval_ratio 0: nothing in the eval file.
    assert parse_examples(datasets[config_name] / "eval_melodies.tfrecord") == []


def magenta_counter_names(statistics: dict) -> dict:
    """Our statistics in the shape of Magenta's log: histogram buckets merged into one dict, zeros dropped."""
    result: dict = {}
    histogram: dict = {}
    for name, value in statistics.items():
        if "melody_lengths_in_bars_[" in name:
            base, bucket = name.split("_[", 1)
            lower = bucket.split(",", 1)[0]
            if value:
                histogram[str(int(float(lower))) if lower != "-inf" else lower] = value
            result[base] = histogram
        elif value:
            result[name] = value
    return result


def magenta_run_statistics(reference: dict) -> dict:
    """The counters Magenta's melody_rnn_create_dataset logged for the whole run, zeros dropped."""
    return {name: value for name, value in reference["total_statistics"].items() if value}


@pytest.mark.skipif(not IS_SHIPPED_SET, reason="the logged numbers are those of the shipped set")
def test_magentas_logged_statistics(reference):
    """The numbers melody_rnn_create_dataset logged on the 32 shipped files (same for every config)."""
    assert magenta_run_statistics(reference) == {
        "DAGPipeline_MelodyExtractor_training_melodies_discarded_too_few_pitches": 1,
        "DAGPipeline_MelodyExtractor_training_melodies_discarded_too_short": 49,
        "DAGPipeline_MelodyExtractor_training_melodies_truncated": 1,
        "DAGPipeline_MelodyExtractor_training_melody_lengths_in_bars": {
            "7": 4,
            "8": 2,
            "10": 30,
            "20": 17,
            "40": 1,
        },
        "DAGPipeline_MelodyExtractor_training_polyphonic_tracks_discarded": 37,
        "DAGPipeline_RandomPartition_training_melodies_count": 32,
        "DAGPipeline_TranspositionPipeline_training_transpositions_generated": 42,
    }


@pytest.mark.parametrize("config_name", CONFIG_NAMES)
def test_statistics_equal_magentas(datasets, config_name, reference):
    info = json.loads((datasets[config_name] / INFO_FILE).read_text())
    assert magenta_counter_names(info["statistics"]) == magenta_run_statistics(reference)
    assert info["training_melodies"] == reference["configs"][config_name]["num_records"]
    assert info["eval_melodies"] == 0


def test_statistics_per_file_equal_magentas(our_sequences, reference):
    differences = []
    for record in reference["files"]:
        if record["filename"] not in our_sequences:
            differences.append(f"{record['filename']}: not converted")
            continue
        counters: collections.Counter = collections.Counter()
        melodies = melodies_from_note_sequence(our_sequences[record["filename"]], counters=counters)
        summary = DatasetSummary(config="basic_rnn")
        summary.add_sequence("training", counters, [len(melody) - 1 for melody in melodies])
        ours = magenta_counter_names(summary.magenta_statistics())
        theirs = {name: value for name, value in record["statistics"].items() if value}
        if ours != theirs:
            differences.append(f"{record['filename']}: {ours} != {theirs}")
    assert not differences, "\n".join(differences)


def test_histogram_bucket_names_parse():
    assert magenta_counter_names(
        {"X_melody_lengths_in_bars_[10,20)": 3, "X_melody_lengths_in_bars_[0,1)": 0}
    ) == {"X_melody_lengths_in_bars": {"10": 3}}
