"""Sharded TFRecords, the bounded-memory seeded order of create_dataset, and reading shards back.

References are independent of the code under test: the order of records is checked against a
sort by a BLAKE2b key computed here from the documented formula, shard contents against the
round-robin rule, and shard sets against the single file written from the same records.
"""

from __future__ import annotations

import collections
import hashlib
import json
import os
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from melodylib.cli import main as cli
from melodylib.data import external_shuffle
from melodylib.data.dataset_files import EVAL_FILE, INFO_FILE, TRAINING_FILE
from melodylib.data.datasets import create_dataset, encode_melody, melodies_from_note_sequence
from melodylib.data.external_shuffle import ExternalShuffle
from melodylib.data.input_pipeline import make_dataset
from melodylib.data.sequence_examples import read_sequence_examples, sequence_example_bytes
from melodylib.encoding.configs import get_config
from melodylib.errors import MelodylibError
from melodylib.music.notesequence import (
    Note,
    NoteSequence,
    Tempo,
    TimeSignature,
    read_note_sequences,
)
from melodylib.tfrecords import (
    ShardedRecordWriter,
    expand_paths,
    read_all_records,
    read_records,
    shard_paths,
    write_records,
)

REAL_MIDI = Path(__file__).parent / "data" / "magenta" / "real_midi"


def numbered(count: int, start: int = 0) -> list[bytes]:
    return [f"record {index}".encode() for index in range(start, start + count)]


def files_in(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


# --- shard files ---------------------------------------------------------------------------
def test_shards_are_named_the_tensorflow_way_and_filled_round_robin(tmp_path):
    records = numbered(10)
    assert write_records(tmp_path / "data.tfrecord", records, num_shards=4) == 10
    assert files_in(tmp_path) == [f"data.tfrecord-0000{index}-of-00004" for index in range(4)]
    for index in range(4):
        shard = tmp_path / f"data.tfrecord-0000{index}-of-00004"
        assert list(read_records(shard)) == records[index::4]
    # TensorFlow reads every shard as a TFRecord file (it checks both checksums of each record).
    import tensorflow as tf

    by_tensorflow = tf.data.TFRecordDataset(
        [str(path) for path in shard_paths(tmp_path / "data.tfrecord", 4)]
    )
    assert sorted(by_tensorflow.as_numpy_iterator()) == sorted(records)


@pytest.mark.parametrize("compress", [False, True])
def test_every_name_of_a_shard_set_reads_the_single_files_records_in_order(tmp_path, compress):
    records = numbered(11)
    write_records(tmp_path / "one.tfrecord", records, compress=compress)
    write_records(tmp_path / "many.tfrecord", records, compress=compress, num_shards=3)
    base = tmp_path / "many.tfrecord"
    assert list(read_all_records(tmp_path / "one.tfrecord")) == records
    assert list(read_all_records(base)) == records  # the base name stands for the shards
    assert list(read_all_records(f"{base}-*")) == records  # a glob of all of them
    assert list(read_all_records(f"{tmp_path / 'one.tfrecord'},{base}")) == records + records
    # Part of a set named by a glob is read as it is, file by file.
    assert list(read_all_records(f"{base}-0000[12]-of-00003")) == records[1::3] + records[2::3]
    assert expand_paths(base) == shard_paths(base, 3)


def test_an_incomplete_or_mixed_shard_set_is_an_error_naming_it(tmp_path):
    base = tmp_path / "data.tfrecord"
    write_records(base, numbered(6), num_shards=3)
    shard_paths(base, 3)[1].unlink()
    with pytest.raises(MelodylibError, match=r"1 of its 3 shards are missing.*00001-of-00003"):
        expand_paths(base)
    write_records(tmp_path / "other", numbered(2))
    (tmp_path / "other").rename(tmp_path / "data.tfrecord-00000-of-00002")
    with pytest.raises(MelodylibError, match="two data sets"):
        expand_paths(base)
    with pytest.raises(MelodylibError, match="does not exist"):
        expand_paths(tmp_path / "nothing.tfrecord")
    with pytest.raises(MelodylibError, match="num_shards must be a whole number from 1"):
        write_records(tmp_path / "x.tfrecord", [], num_shards=0)


def test_writing_another_layout_removes_the_old_one(tmp_path):
    base = tmp_path / "data.tfrecord"
    write_records(base, numbered(5))
    write_records(base, numbered(6), num_shards=4)
    assert files_in(tmp_path) == [f"data.tfrecord-0000{index}-of-00004" for index in range(4)]
    write_records(base, numbered(7), num_shards=2)
    assert files_in(tmp_path) == ["data.tfrecord-00000-of-00002", "data.tfrecord-00001-of-00002"]
    assert list(read_all_records(base)) == numbered(7)
    write_records(base, numbered(3))
    assert files_in(tmp_path) == ["data.tfrecord"]


def test_a_failed_sharded_write_keeps_every_earlier_shard(tmp_path):
    base = tmp_path / "data.tfrecord"
    write_records(base, numbered(6), num_shards=3)

    def payloads():
        yield from numbered(4)
        raise RuntimeError("the producer failed half-way")

    with pytest.raises(RuntimeError):
        write_records(base, payloads(), num_shards=3)
    with pytest.raises(RuntimeError):
        write_records(base, payloads(), num_shards=2)  # another layout: nothing removed either
    assert files_in(tmp_path) == [f"data.tfrecord-0000{index}-of-00003" for index in range(3)]
    assert list(read_all_records(base)) == numbered(6)


def test_a_shard_that_fails_to_close_leaves_every_earlier_file_as_it_was(tmp_path):
    # A full disk often shows only at the last flush, when a file is closed: then no shard of
    # the new set may replace an old one, or readers would mix the two sets without an error.
    class FullDiskAtClose:
        def __init__(self, handle):
            self.handle = handle

        def write(self, data: bytes) -> int:
            return self.handle.write(data)

        def close(self) -> None:
            self.handle.close()
            raise OSError(28, "No space left on device")

    base = tmp_path / "data.tfrecord"
    write_records(base, numbered(6), num_shards=3)
    writer = ShardedRecordWriter(base, num_shards=3)
    expected = r"cannot write .*data.tfrecord-00001-of-00003: No space left"
    with pytest.raises(MelodylibError, match=expected), writer:
        for payload in numbered(9, start=100):
            writer.write(payload)
        writer._handles[1] = FullDiskAtClose(writer._handles[1])
    assert files_in(tmp_path) == [f"data.tfrecord-0000{index}-of-00003" for index in range(3)]
    assert list(read_all_records(base)) == numbered(6)


def test_a_file_beside_shards_of_the_same_name_is_an_error_naming_both(tmp_path):
    # What a write killed between renaming the new layout and removing the old one leaves.
    base = tmp_path / "data.tfrecord"
    write_records(base, numbered(4), num_shards=2)
    base.write_bytes(b"")
    with pytest.raises(MelodylibError, match="exists, and so do shards"):
        expand_paths(base)


# --- the seeded order ------------------------------------------------------------------------
def reference_order(records: list[bytes], seed: int) -> list[bytes]:
    """The documented order, the obvious way: sort by 64 bits of BLAKE2b("seed:position")."""

    def key(position: int) -> int:
        digest = hashlib.blake2b(f"{seed}:{position}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big")

    return [records[position] for position in sorted(range(len(records)), key=key)]


@pytest.mark.parametrize("memory_limit", [10**9, 20_000, 1_000])
def test_external_shuffle_is_the_sort_by_seeded_key_whatever_the_memory_limit(
    tmp_path, memory_limit, monkeypatch
):
    # 3000 records of 10..99 bytes (165 kB): 20 kB spills them to 128 buckets of about 1.3 kB;
    # 1 kB also splits those buckets again.
    partitions = []

    class CountedPartition(external_shuffle._Partition):
        def __init__(self, *arguments, **options):
            super().__init__(*arguments, **options)
            partitions.append(self)

    monkeypatch.setattr(external_shuffle, "_Partition", CountedPartition)
    rng = np.random.default_rng(0)
    records = [bytes(rng.integers(0, 256, size=int(size))) for size in rng.integers(10, 100, 3000)]
    with ExternalShuffle(tmp_path, seed=42, memory_limit_bytes=memory_limit) as shuffle:
        for record in records:
            shuffle.add(record)
        ordered = list(shuffle)
    assert ordered == reference_order(records, 42)
    assert files_in(tmp_path) == []  # the spill folder is gone
    spilled = [partition for partition in partitions if partition.bucket_files is not None]
    assert (len(spilled), len(partitions) > 1) == {
        10**9: (0, False),
        20_000: (1, False),
        1_000: (len(partitions), True),
    }[memory_limit]


def test_records_larger_than_the_memory_limit_still_come_out_in_order(tmp_path):
    records = [bytes([index]) * 100 for index in range(6)]
    with ExternalShuffle(tmp_path, seed=5, memory_limit_bytes=50) as shuffle:
        for record in records:
            shuffle.add(record)
        assert list(shuffle) == reference_order(records, 5)


def test_a_sort_abandoned_half_way_leaves_no_open_file_and_no_spill_folder(tmp_path):
    # As when writing the sorted records fails on a full disk: the nested buckets being read
    # must be closed and removed too, not only the first level's.
    records = [index.to_bytes(2, "big") * 50 for index in range(2_000)]
    open_files = len(os.listdir("/proc/self/fd")) if Path("/proc/self/fd").exists() else None
    with ExternalShuffle(tmp_path, seed=5, memory_limit_bytes=2_000) as shuffle:
        for record in records:
            shuffle.add(record)
        order = iter(shuffle)
        next(order)  # the first bucket is split again: its children's files are open now
    assert [path.name for path in tmp_path.iterdir()] == []
    if open_files is not None:
        assert len(os.listdir("/proc/self/fd")) == open_files


def test_the_seeded_order_is_uniform_and_changes_with_the_seed(tmp_path):
    records = [b"a", b"b", b"c"]
    counts = collections.Counter()
    for seed in range(1200):
        with ExternalShuffle(tmp_path, seed=seed) as shuffle:
            for record in records:
                shuffle.add(record)
            counts[tuple(shuffle)] += 1
    # All six orders, each about 200 times (a fixed set of seeds: the counts never change).
    assert len(counts) == 6 and all(150 < count < 250 for count in counts.values())


def test_external_shuffle_holds_at_most_about_its_memory_limit(tmp_path):
    limit = 1_000_000
    digest = hashlib.sha256()
    tracemalloc.start()
    try:
        with ExternalShuffle(tmp_path, seed=1, memory_limit_bytes=limit) as shuffle:
            for index in range(2000):  # 20 MB in all
                shuffle.add(index.to_bytes(4, "big") * 2500)
            for record in shuffle:
                digest.update(record)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 3 * limit, f"peak {peak / 1e6:.1f} MB for a limit of {limit / 1e6:.1f} MB"


# --- create_dataset and convert ------------------------------------------------------------
def tune(index: int) -> NoteSequence:
    """A monophonic tune of 8 bars of eighth notes in 4/4 at 120 qpm, different for each index."""
    rng = np.random.default_rng(index)
    pitches = rng.choice([60, 62, 64, 65, 67, 69, 71, 72], size=64)
    notes = [
        Note(int(pitch), 80, step * 0.25, (step + 1) * 0.25) for step, pitch in enumerate(pitches)
    ]
    return NoteSequence(
        notes=notes,
        tempos=[Tempo(0.0, 120.0)],
        time_signatures=[TimeSignature(0.0, 4, 4)],
        total_time=16.0,
        id=f"/id/tune/{index}",
        filename=f"tune_{index}.mid",
    )


@pytest.fixture(scope="module")
def note_sequences(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sequences")
    records = [tune(index).to_bytes() for index in range(40)]
    write_records(folder / "one.tfrecord", records)
    write_records(folder / "sharded.tfrecord", records, num_shards=3)
    return folder


def test_create_dataset_writes_the_training_melodies_in_the_seeded_order(note_sequences, tmp_path):
    config = get_config("basic_rnn")
    create_dataset(
        note_sequences / "one.tfrecord", config, tmp_path, eval_ratio=0.0, seed=7, progress=False
    )
    in_input_order = [
        sequence_example_bytes(*encode_melody(melody, config))
        for sequence in read_note_sequences(note_sequences / "one.tfrecord")
        for melody in melodies_from_note_sequence(sequence)
    ]
    assert len(in_input_order) == 40
    assert list(read_records(tmp_path / TRAINING_FILE)) == reference_order(in_input_order, 7)


def test_sharded_input_and_output_give_the_single_files_records(note_sequences, tmp_path):
    def made(name, input_name, **options):
        create_dataset(
            note_sequences / input_name,
            "basic_rnn",
            tmp_path / name,
            eval_ratio=0.3,
            seed=3,
            num_workers=1,
            progress=False,
            **options,
        )
        return tmp_path / name

    one = made("one", "one.tfrecord")
    assert files_in(one) == [INFO_FILE, EVAL_FILE, TRAINING_FILE]
    from_shards = made("from_shards", "sharded.tfrecord")  # the base name of 3 shards
    sharded = made("sharded", "one.tfrecord", num_shards=4, memory_limit_bytes=2_000)
    for name in (TRAINING_FILE, EVAL_FILE):
        assert (from_shards / name).read_bytes() == (one / name).read_bytes()
        assert list(read_all_records(sharded / name)) == list(read_records(one / name))
        assert [path.name for path in expand_paths(sharded / name)] == [
            f"{name}-0000{index}-of-00004" for index in range(4)
        ]
    info = json.loads((sharded / INFO_FILE).read_text())
    assert (
        info["num_shards"] == 4 and info["training_files"][3] == f"{TRAINING_FILE}-00003-of-00004"
    )
    assert sorted(path.name for path in sharded.iterdir() if path.name.startswith(".")) == []


def test_the_cli_converts_and_creates_shards_and_reads_them_by_base_name(tmp_path, capsys):
    music = tmp_path / "music"
    music.mkdir()
    for source in sorted(REAL_MIDI.glob("*.mid"))[:6]:
        (music / source.name).write_bytes(source.read_bytes())
    common = ["--input_dir", str(music), "--num_workers", "1"]
    assert cli.main(["convert", *common, "--output_file", str(tmp_path / "one.tfrecord")]) == 0
    sharded = tmp_path / "ns.tfrecord"
    assert cli.main(["convert", *common, "--output_file", str(sharded), "--num_shards", "3"]) == 0
    assert "3 shards" in capsys.readouterr().out
    assert not sharded.exists() and len(expand_paths(sharded)) == 3
    assert list(read_all_records(sharded)) == list(read_records(tmp_path / "one.tfrecord"))
    dataset = ["create_dataset", "--config", "basic_rnn", "--num_workers", "1", "--eval_ratio", "0"]
    assert cli.main([*dataset, "--input", str(sharded), "--output_dir", str(tmp_path / "a")]) == 0
    assert (
        cli.main(
            [
                *dataset,
                "--input",
                f"{sharded}-*",
                "--output_dir",
                str(tmp_path / "b"),
                "--num_shards",
                "2",
            ]
        )
        == 0
    )
    assert list(read_all_records(tmp_path / "b" / TRAINING_FILE)) == list(
        read_records(tmp_path / "a" / TRAINING_FILE)
    )
    capsys.readouterr()
    assert (
        cli.main([*dataset, "--input", str(sharded), "--output_dir", "x", "--num_shards", "0"]) == 1
    )
    assert "--num_shards must be a whole number from 1 to 256, got 0" in capsys.readouterr().err


# --- reading shards for training -------------------------------------------------------------
def numbered_melodies(lengths: list[int]) -> list[bytes]:
    """Melodies whose inputs hold their own number (1-based) in column 0, so a row names its melody."""
    records = []
    for number, length in enumerate(lengths, start=1):
        inputs = np.full((length, 2), 0.5, np.float32)
        inputs[:, 0] = number
        records.append(sequence_example_bytes(inputs, np.full(length, number % 3, np.int64)))
    return records


def rows(batch) -> list[tuple[int, int]]:
    inputs, _, mask = (tensor.numpy() for tensor in batch)
    return [(int(inputs[row, 0, 0]), int(mask[row].sum())) for row in range(len(mask))]


@pytest.fixture(scope="module")
def melody_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("melodies")
    lengths = np.random.default_rng(5).integers(20, 200, size=203).tolist()
    records = numbered_melodies(lengths)
    write_records(folder / "one.tfrecord", records)
    write_records(folder / "sharded.tfrecord", records, num_shards=5)  # 41 41 41 40 40
    return folder, lengths


@pytest.mark.parametrize("name", ["sharded.tfrecord", "sharded.tfrecord-*"])
def test_unshuffled_shards_give_the_single_files_batches(melody_files, name):
    folder, _ = melody_files

    def batches(pattern, **options):
        dataset = make_dataset(
            str(folder / pattern), 2, 8, shuffle=False, repeat=False, window_batches=4, **options
        )
        return [rows(batch) for batch in dataset]

    for options in ({"drop_remainder": False}, {"drop_remainder": True}, {"max_examples": 50}):
        assert batches(name, **options) == batches("one.tfrecord", **options)


def test_shuffled_shards_give_each_melody_once_per_epoch_and_never_twice_in_a_batch(melody_files):
    folder, lengths = melody_files
    window_batches, batch_size = 4, 8
    dataset = make_dataset(
        folder / "sharded.tfrecord",
        2,
        batch_size,
        window_batches=window_batches,
        seed=11,
        shuffle_buffer=16,
    )
    # 203 melodies: 6 windows of 32 (24 batches) and one of 11 (1 batch, 3 melodies left out).
    per_epoch = 25
    taken = [rows(batch) for batch in dataset.take(2 * per_epoch)]
    epochs = [taken[:per_epoch], taken[per_epoch:]]
    for epoch in epochs:
        numbers = [number for batch in epoch for number, _ in batch]
        assert len(numbers) == len(set(numbers)) == len(lengths) - 3
        for batch in epoch:
            assert len({number for number, _ in batch}) == len(batch) == batch_size
        # Every row is its melody, whole: its length is the one written.
        assert all(length == lengths[number - 1] for batch in epoch for number, length in batch)
    assert epochs[0] != epochs[1]
    # The multiset of an epoch of the single file is the same (the same melodies left out or not
    # depends on the draw, so compare what both hold: all but at most batch_size - 1).
    single = make_dataset(
        folder / "one.tfrecord",
        2,
        batch_size,
        window_batches=window_batches,
        seed=11,
        repeat=False,
        drop_remainder=False,
    )
    sharded = make_dataset(
        folder / "sharded.tfrecord",
        2,
        batch_size,
        window_batches=window_batches,
        seed=11,
        repeat=False,
        drop_remainder=False,
    )
    assert sorted(row for batch in single for row in rows(batch)) == sorted(
        row for batch in sharded for row in rows(batch)
    )


def test_the_python_readers_give_a_shard_set_in_the_single_files_order(note_sequences, tmp_path):
    one = list(read_note_sequences(note_sequences / "one.tfrecord"))
    sharded = list(read_note_sequences(note_sequences / "sharded.tfrecord"))
    assert [sequence.id for sequence in sharded] == [sequence.id for sequence in one]
    examples = [
        sequence_example_bytes(np.full((length, 2), length, np.float32), np.zeros(length, np.int64))
        for length in range(3, 13)
    ]
    write_records(tmp_path / "examples.tfrecord", examples, num_shards=4)
    lengths = [len(labels) for _, labels in read_sequence_examples(tmp_path / "examples.tfrecord")]
    assert lengths == list(range(3, 13))


def test_too_small_an_open_file_limit_is_raised_or_named_before_writing(monkeypatch):
    import resource

    from melodylib.tfrecords import ensure_open_files

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    ensure_open_files(min(soft, 64), "a small write")  # within the limit: nothing changes
    assert resource.getrlimit(resource.RLIMIT_NOFILE) == (soft, hard)
    limits = {"soft": 256, "hard": 300}
    monkeypatch.setattr(resource, "getrlimit", lambda _which: (limits["soft"], limits["hard"]))
    monkeypatch.setattr(resource, "setrlimit", lambda _which, values: limits.update(soft=values[0]))
    ensure_open_files(290, "a write")  # raised up to what is needed, under the hard limit
    assert limits["soft"] == 290
    with pytest.raises(MelodylibError, match=r"needs about 400 open files.*at most 300"):
        ensure_open_files(400, "create_dataset --num_shards=100")
