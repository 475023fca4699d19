"""TFRecord files: the container both NoteSequences and SequenceExamples are stored in.

A TFRecord file is a list of records, each: length (uint64, little-endian), a masked CRC-32C of
the length (uint32), the payload, a masked CRC-32C of the payload (uint32). Files are written
and read here in plain Python (google-crc32c computes the checksums), so converting music and
creating data sets never need TensorFlow; TensorFlow's tf.data reads the same files.
"""

from __future__ import annotations

import glob
import gzip
import os
import struct
from collections.abc import Iterable, Iterator
from pathlib import Path

import google_crc32c

from melodylib.atomic import atomic_path
from melodylib.errors import MelodylibError

GZIP_MAGIC = b"\x1f\x8b"


_CRC_MASK_DELTA = 0xA282EAD8


def _masked_crc32c(payload: bytes) -> int:
    """TFRecord's masked CRC-32C (Castagnoli) of `payload`."""
    crc = google_crc32c.value(payload)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + _CRC_MASK_DELTA) & 0xFFFFFFFF


def encode_record(payload: bytes) -> bytes:
    """One record in TFRecord framing: length, its checksum, the payload, its checksum."""
    length = struct.pack("<Q", len(payload))
    return (
        length
        + struct.pack("<I", _masked_crc32c(length))
        + payload
        + struct.pack("<I", _masked_crc32c(payload))
    )


def write_records(
    path: str | os.PathLike, payloads: Iterable[bytes], compress: bool = False
) -> int:
    """Write byte strings to a TFRecord file atomically (an earlier file stays intact on error); returns the count.

    `compress` writes a GZIP-compressed TFRecord (what TensorFlow's "GZIP" option reads): encoded
    melodies shrink about twentyfold, which keeps the course corpus small on a laptop. Magenta
    reads only uncompressed files, so `create_dataset` writes those unless asked. No TensorFlow
    is needed, so converting music never waits for it to load.
    """
    count = 0
    with atomic_path(path) as temporary:
        try:
            with (
                gzip.open(temporary, "wb", compresslevel=6) if compress else open(temporary, "wb")
            ) as handle:
                for payload in payloads:
                    handle.write(encode_record(payload))
                    count += 1
        except OSError as error:
            raise MelodylibError(f"cannot write {path}: {error.strerror or error}") from error
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
                raise MelodylibError(
                    f"{path}: record {index} is truncated; the file is incomplete, write it again"
                )
            length, length_crc = struct.unpack("<QI", header)
            if _masked_crc32c(header[:8]) != length_crc:
                raise MelodylibError(
                    f"{path}: record {index} has a bad header checksum; is it a TFRecord file?"
                )
            payload = handle.read(length)
            footer = handle.read(4)
            if len(payload) < length or len(footer) < 4:
                raise MelodylibError(
                    f"{path}: record {index} is truncated; the file is incomplete, write it again"
                )
            yield payload
            index += 1


def compression_of(path: str | os.PathLike) -> str:
    """ "GZIP" for a GZIP-compressed TFRecord file, "" for a plain one (TensorFlow's compression_type)."""
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
            raise MelodylibError(
                f"--{what} {part} is a folder; give a TFRecord file (or a glob such as {part}/*.tfrecord)"
            )
        if not path.exists():
            raise MelodylibError(f"--{what} {part} does not exist; check the path")
        files.append(path)
    if not files:
        raise MelodylibError(
            f"--{what}: no file matches '{pattern}'; check the path (globs are allowed)"
        )
    return files


def read_all_records(pattern: str | os.PathLike, what: str = "input") -> Iterator[bytes]:
    """Yield the records of every file named by `pattern` (see `expand_paths`), file by file."""
    for path in expand_paths(pattern, what):
        yield from read_records(path)
