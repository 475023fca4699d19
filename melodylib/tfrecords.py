"""TFRecord files: the container both NoteSequences and SequenceExamples are stored in.

A TFRecord file is a list of records, each: length (uint64, little-endian), a masked CRC-32C of
the length (uint32), the payload, a masked CRC-32C of the payload (uint32). Files are written
with TensorFlow's writer (imported lazily, atomically) and read with the small reader below, so
that reading them never needs TensorFlow.
"""

from __future__ import annotations

import glob
import gzip
import itertools
import os
import struct
from pathlib import Path
from typing import Iterable, Iterator

from melodylib.atomic import atomic_path
from melodylib.errors import MelodylibError

GZIP_MAGIC = b"\x1f\x8b"


_CRC32C_POLYNOMIAL = 0x82F63B78  # Castagnoli, bit-reversed
_CRC_MASK_DELTA = 0xA282EAD8
_crc32c_table: list[int] = []


def _crc32c(payload: bytes) -> int:
    """CRC-32C of `payload` (used only on the 8-byte length fields, so pure Python is fast enough)."""
    if not _crc32c_table:
        for byte in range(256):
            crc = byte
            for _ in range(8):
                crc = (crc >> 1) ^ _CRC32C_POLYNOMIAL if crc & 1 else crc >> 1
            _crc32c_table.append(crc)
    crc = 0xFFFFFFFF
    for byte in payload:
        crc = _crc32c_table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _masked_crc32c(payload: bytes) -> int:
    crc = _crc32c(payload)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + _CRC_MASK_DELTA) & 0xFFFFFFFF


def write_records(path: str | os.PathLike, payloads: Iterable[bytes], compress: bool = False) -> int:
    """Write byte strings to a TFRecord file atomically (an earlier file stays intact on error); returns the count.

    `compress` writes a GZIP-compressed TFRecord (TensorFlow's own option): encoded melodies
    shrink about twentyfold, which keeps the course corpus small on a laptop. Magenta reads
    only uncompressed files, so `create_dataset` writes those unless asked.
    """
    payloads = iter(payloads)
    # Take the first payload before loading TensorFlow: a producer that reads files in worker
    # processes starts them now, while this process has no TensorFlow threads yet.
    first = next(payloads, None)
    import tensorflow as tf  # lazy: only writing TFRecords needs TensorFlow

    count = 0
    with atomic_path(path) as temporary:
        try:
            with tf.io.TFRecordWriter(str(temporary), options="GZIP" if compress else None) as writer:
                for payload in itertools.chain([first] if first is not None else [], payloads):
                    writer.write(payload)
                    count += 1
        except (OSError, tf.errors.OpError) as error:
            raise MelodylibError(f"cannot write {path}: {error}") from error
    return count


def read_records(path: str | os.PathLike) -> Iterator[bytes]:
    """Yield the payloads of one TFRecord file, checking its framing (payload checksums are not verified).

    GZIP-compressed files are recognised by their first bytes and read the same way.
    """
    opener = gzip.open if compression_of(path) == "GZIP" else open
    with opener(path, "rb") as handle:
        index = 0
        while True:
            header = handle.read(12)
            if not header:
                return
            if len(header) < 12:
                raise MelodylibError(f"{path}: record {index} is truncated; the file is incomplete, write it again")
            length, length_crc = struct.unpack("<QI", header)
            if _masked_crc32c(header[:8]) != length_crc:
                raise MelodylibError(f"{path}: record {index} has a bad header checksum; is it a TFRecord file?")
            payload = handle.read(length)
            footer = handle.read(4)
            if len(payload) < length or len(footer) < 4:
                raise MelodylibError(f"{path}: record {index} is truncated; the file is incomplete, write it again")
            yield payload
            index += 1


def compression_of(path: str | os.PathLike) -> str:
    """"GZIP" for a GZIP-compressed TFRecord file, "" for a plain one (TensorFlow's compression_type)."""
    try:
        with open(path, "rb") as handle:
            return "GZIP" if handle.read(2) == GZIP_MAGIC else ""
    except OSError as error:
        raise MelodylibError(f"cannot read {path}: {error.strerror or error}") from None


def expand_paths(pattern: str | os.PathLike, what: str = "input") -> list[Path]:
    """The files named by a path, a glob, or a comma-separated list of them; an error if none exist."""
    files: list[Path] = []
    for part in str(pattern).split(","):
        part = part.strip()
        if not part:
            continue
        if glob.has_magic(part):
            files.extend(Path(match) for match in sorted(glob.glob(part)) if Path(match).is_file())
            continue
        path = Path(part)
        if path.is_dir():
            raise MelodylibError(f"--{what} {part} is a folder; give a TFRecord file (or a glob such as {part}/*.tfrecord)")
        if not path.exists():
            raise MelodylibError(f"--{what} {part} does not exist; check the path")
        files.append(path)
    if not files:
        raise MelodylibError(f"--{what}: no file matches '{pattern}'; check the path (globs are allowed)")
    return files


def read_all_records(pattern: str | os.PathLike, what: str = "input") -> Iterator[bytes]:
    """Yield the records of every file named by `pattern` (see `expand_paths`), file by file."""
    for path in expand_paths(pattern, what):
        yield from read_records(path)
