"""TFRecord files written without TensorFlow are read by TensorFlow, plain and GZIP-compressed."""

import os

import pytest

from melodylib.errors import MelodylibError
from melodylib.tfrecords import (
    compression_of,
    expand_paths,
    read_all_records,
    read_records,
    write_records,
)


@pytest.mark.parametrize("compress", [False, True])
def test_tensorflow_reads_what_we_write_and_we_read_it_back(tmp_path, compress):
    import tensorflow as tf

    records = [b"", b"a", os.urandom(1000), os.urandom(70_000)]
    path = tmp_path / "records.tfrecord"
    assert write_records(path, records, compress=compress) == len(records)
    assert compression_of(path) == ("GZIP" if compress else "")
    # TensorFlow checks both checksums of every record, so this also checks our CRC-32C.
    read_by_tensorflow = list(
        tf.data.TFRecordDataset(
            str(path), compression_type=compression_of(path)
        ).as_numpy_iterator()
    )
    assert read_by_tensorflow == records
    assert list(read_records(path)) == records


def test_a_failed_write_keeps_the_earlier_file(tmp_path):
    path = tmp_path / "records.tfrecord"
    write_records(path, [b"old"])

    def payloads():
        yield b"new"
        raise RuntimeError("the producer failed half-way")

    with pytest.raises(RuntimeError):
        write_records(path, payloads())
    assert list(read_records(path)) == [b"old"]
    assert [p.name for p in tmp_path.iterdir()] == ["records.tfrecord"]


def test_patterns_name_what_is_missing(tmp_path):
    write_records(tmp_path / "a.tfrecord", [b"1"])
    write_records(tmp_path / "b.tfrecord", [b"2"])
    assert list(read_all_records(f"{tmp_path}/*.tfrecord")) == [b"1", b"2"]
    assert list(read_all_records(f"{tmp_path}/a.tfrecord,{tmp_path}/b.tfrecord")) == [b"1", b"2"]
    with pytest.raises(MelodylibError, match="missing.tfrecord does not exist"):
        expand_paths(tmp_path / "missing.tfrecord")
    with pytest.raises(MelodylibError, match="is a folder"):
        expand_paths(tmp_path)
