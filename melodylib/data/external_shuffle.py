"""A seeded random order of any number of records, in bounded memory.

The order is defined simply: each record gets a 64-bit key, a hash of (seed, its position in
the input), and the records come out sorted by key (ties, which a 64-bit hash all but never
gives, keep the input order). Sorting by independent random keys is a uniformly random
permutation, the same kind of order as `numpy.random.Generator.permutation` of a list in memory.

What makes it scale is how the sort is done. Records are kept in memory until they pass
`memory_limit_bytes`; then they, and all later ones, are spilled to BUCKETS temporary files
chosen by the top bits of their key (a range partition, so bucket 0 holds the smallest keys).
At the end the buckets are read back one at a time, each sorted in memory and written out; a
bucket still too large is split again by the next bits of the key, into as few buckets as make
it fit. Only one bucket is ever in memory, and the result does not depend on the memory limit
or the number of buckets: it is always the sort by key.
"""

from __future__ import annotations

import hashlib
import math
import os
import shutil
import struct
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from melodylib.errors import MelodylibError
from melodylib.tfrecords import encode_record, read_records

BUCKET_BITS = 7  # the first split: 128 buckets (files open at once while spilling)
KEY_BITS = 64
DEFAULT_MEMORY_LIMIT_BYTES = 128 * 2**20


def shuffle_key(seed: int, position: int) -> int:
    """The sort key of the record at `position` of the input: 64 bits of BLAKE2b of (seed, position)."""
    digest = hashlib.blake2b(f"{seed}:{position}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


class ExternalShuffle:
    """Collect records with `add`, then iterate over them in the seeded order (see the module).

    Use it as a context manager: the temporary spill folder, created inside `folder` (on the
    same disk as the output, which is where there is room for a copy of it), is removed on exit.
    """

    def __init__(
        self,
        folder: str | os.PathLike,
        seed: int,
        memory_limit_bytes: int = DEFAULT_MEMORY_LIMIT_BYTES,
    ) -> None:
        if memory_limit_bytes < 1:
            raise MelodylibError(f"memory_limit_bytes must be positive, got {memory_limit_bytes}")
        self.folder = Path(folder)
        self.seed = int(seed)
        self.memory_limit_bytes = memory_limit_bytes
        self.count = 0
        self._spill_folder: Path | None = None
        self._partitions: list[_Partition] = []  # every partition made, so close() reaches all
        self._top = _Partition(self, free_bits=KEY_BITS, bits=BUCKET_BITS)

    def __enter__(self) -> ExternalShuffle:
        return self

    def __exit__(self, *exception) -> None:
        self.close()

    def close(self) -> None:
        """Close and remove the spilled files (also those of a sort abandoned half-way)."""
        for partition in self._partitions:
            partition.close_files()
        if self._spill_folder is not None:
            shutil.rmtree(self._spill_folder, ignore_errors=True)
            self._spill_folder = None

    def add(self, payload: bytes) -> None:
        """Take the next record of the input."""
        self._top.add(shuffle_key(self.seed, self.count), payload)
        self.count += 1

    def __iter__(self) -> Iterator[bytes]:
        """The records in the seeded order (once: spilled buckets are removed as they are read)."""
        for _, payload in self._top.sorted_records():
            yield payload

    def spill_path(self, name: str) -> Path:
        """A file for a bucket, inside a temporary folder made on first use."""
        if self._spill_folder is None:
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
                self._spill_folder = Path(tempfile.mkdtemp(prefix=".shuffle.", dir=self.folder))
            except OSError as error:
                raise MelodylibError(
                    f"cannot write temporary files in {self.folder}: {error.strerror or error}"
                ) from error
        return self._spill_folder / name


class _Partition:
    """Records whose keys share all but their low `free_bits` bits: in memory until they pass the
    memory limit, then in 2**`bits` bucket files chosen by the next `bits` bits of the key."""

    def __init__(self, owner: ExternalShuffle, free_bits: int, bits: int, name: str = "b") -> None:
        self.owner = owner
        self.free_bits = free_bits
        self.bits = min(bits, free_bits)
        self.name = name
        self.in_memory: list[tuple[int, bytes]] = []
        self.memory_bytes = 0
        self.bucket_files: list | None = None
        self.bucket_bytes = [0] * 2**self.bits
        self.bucket_counts = [0] * 2**self.bits
        owner._partitions.append(self)

    def add(self, key: int, payload: bytes) -> None:
        if self.bucket_files is None:
            self.in_memory.append((key, payload))
            self.memory_bytes += len(payload)
            if self.memory_bytes > self.owner.memory_limit_bytes and self.bits > 0:
                self._spill()
            return
        self._write_to_bucket(key, payload)

    def _spill(self) -> None:
        paths = [self.owner.spill_path(f"{self.name}-{index:02d}") for index in range(2**self.bits)]
        self.bucket_files = []
        try:
            for path in paths:
                self.bucket_files.append(open(path, "wb"))  # noqa: SIM115 (closed in sorted_records)
        except OSError as error:
            self.close_files()
            raise MelodylibError(
                f"cannot write temporary file {path}: {error.strerror or error}"
            ) from error
        for key, payload in self.in_memory:
            self._write_to_bucket(key, payload)
        self.in_memory = []
        self.memory_bytes = 0

    def _write_to_bucket(self, key: int, payload: bytes) -> None:
        bucket = (key >> (self.free_bits - self.bits)) & (2**self.bits - 1)
        try:
            self.bucket_files[bucket].write(encode_record(struct.pack(">Q", key) + payload))
        except OSError as error:
            raise MelodylibError(
                f"cannot write temporary file {self.bucket_files[bucket].name}: "
                f"{error.strerror or error} (is the disk full?)"
            ) from error
        self.bucket_bytes[bucket] += len(payload)
        self.bucket_counts[bucket] += 1

    def close_files(self) -> None:
        for handle in self.bucket_files or []:
            if not handle.closed:
                handle.close()

    def sorted_records(self) -> Iterator[tuple[int, bytes]]:
        """(key, payload) in key order; ties in the order added (Python's sort is stable)."""
        if self.bucket_files is None:
            records, self.in_memory = self.in_memory, []
            records.sort(key=lambda record: record[0])
            yield from records
            return
        self.close_files()
        limit = self.owner.memory_limit_bytes
        for bucket, handle in enumerate(self.bucket_files):
            path = Path(handle.name)
            size = self.bucket_bytes[bucket]
            if size > limit and self.bucket_counts[bucket] > 1:
                # Split again, into about twice as many buckets as the limit needs.
                bits = min(BUCKET_BITS, max(1, math.ceil(math.log2(2 * size / limit))))
                child = _Partition(
                    self.owner, self.free_bits - self.bits, bits, f"{self.name}-{bucket:02d}"
                )
                for key, payload in _read_spilled(path):
                    child.add(key, payload)
                path.unlink()
                yield from child.sorted_records()
            else:
                records = sorted(_read_spilled(path), key=lambda record: record[0])
                path.unlink()
                yield from records


def _read_spilled(path: Path) -> Iterable[tuple[int, bytes]]:
    for record in read_records(path):
        yield struct.unpack(">Q", record[:8])[0], record[8:]
