"""TFRecord files: the container both NoteSequences and SequenceExamples are stored in.

A TFRecord file is a list of records, each: length (uint64, little-endian), a masked CRC-32C of
the length (uint32), the payload, a masked CRC-32C of the payload (uint32). Files are written
and read here in plain Python (google-crc32c computes the checksums), so converting music and
creating data sets never need TensorFlow; TensorFlow's tf.data reads the same files.

A large data set can be written as shards, in TensorFlow's naming: `name-00000-of-00004` ...
`name-00003-of-00004`, record i going to shard i mod 4. Reading the shards round-robin (as
`read_all_records` does, and tf.data's interleave with one slot per shard) gives back the
records in the order of the single file. Wherever a file name is expected, the base name `name`
stands for all its shards when no file of that name exists (see `expand_paths`).
"""

from __future__ import annotations

import contextlib
import glob
import gzip
import os
import re
import struct
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import google_crc32c

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


MAX_SHARDS = 256  # each shard is an open file while writing; this keeps well under ulimit -n
_SHARD_NAME = re.compile(r"^(?P<base>.+)-(?P<index>\d{5})-of-(?P<count>\d{5})$")
_SHARD_GLOB = "-[0-9][0-9][0-9][0-9][0-9]-of-[0-9][0-9][0-9][0-9][0-9]"


def ensure_open_files(needed: int, what: str) -> None:
    """Make sure this process may hold `needed` files open, raising its soft limit if it must.

    Writing many shards at once (and a shuffle's spill files beside them) can pass a small
    default limit (256 on macOS); rather than a bare "Too many open files" half-way through, the
    limit is raised up to the hard limit, or the run stops at once saying what to change.
    """
    try:
        import resource
    except ImportError:  # Windows: no such per-process limit to check
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return
    if hard == resource.RLIM_INFINITY or hard >= needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
        return
    raise MelodylibError(
        f"{what} needs about {needed} open files, but this system allows at most {hard} "
        "(ulimit -n); use fewer --num_shards, or raise the limit"
    )


def check_num_shards(num_shards: int) -> int:
    """`num_shards` if it is a whole number from 1 to MAX_SHARDS, else an error naming the flag."""
    if (
        isinstance(num_shards, bool)
        or int(num_shards) != num_shards
        or not (1 <= num_shards <= MAX_SHARDS)
    ):
        raise MelodylibError(
            f"--num_shards must be a whole number from 1 to {MAX_SHARDS}, got {num_shards}"
        )
    return int(num_shards)


def shard_paths(path: str | os.PathLike, num_shards: int) -> list[Path]:
    """The files a data set of `num_shards` shards is written to: `path` itself for one, else
    `path-00000-of-0000N` ... in TensorFlow's naming."""
    check_num_shards(num_shards)
    if num_shards == 1:
        return [Path(path)]
    return [_shard_name(path, index, num_shards) for index in range(num_shards)]


def _shard_name(path: str | os.PathLike, index: int, count: int) -> Path:
    return Path(f"{path}-{index:05d}-of-{count:05d}")


def _existing_shards(path: str | os.PathLike) -> list[Path]:
    """Every file named like a shard of `path` (`path-NNNNN-of-MMMMM`), of any count, sorted."""
    pattern = glob.escape(str(path)) + _SHARD_GLOB
    return sorted(Path(match) for match in glob.glob(pattern) if Path(match).is_file())


def find_shards(path: str | os.PathLike, what: str = "input") -> list[Path]:
    """The complete set of shards of `path`, in shard order; [] when there is none.

    An incomplete set, or shards of two different counts, is an error naming what is wrong:
    reading part of a data set would silently train on part of it.
    """
    found = _existing_shards(path)
    if not found:
        return []
    counts = sorted({int(_SHARD_NAME.match(shard.name)["count"]) for shard in found})
    if len(counts) > 1:
        listing = " and ".join(f"-of-{count:05d}" for count in counts)
        raise MelodylibError(
            f"--{what} {path}: holds shards of two data sets ({listing}); remove the old ones "
            "or name the shards you mean with a glob"
        )
    expected = [_shard_name(path, index, counts[0]) for index in range(counts[0])]
    missing = [shard.name for shard in expected if shard not in found]
    if missing:
        raise MelodylibError(
            f"--{what} {path}: {len(missing)} of its {counts[0]} shards are missing "
            f"({', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''}); write the data set again"
        )
    return expected


def remove_other_layouts(path: str | os.PathLike, num_shards: int) -> None:
    """Remove what an earlier write of `path` with another number of shards left, so that no
    reader mixes an old layout with the new one (`path` names both the file and its shards)."""
    keep = set(shard_paths(path, num_shards))
    stale = [shard for shard in _existing_shards(path) if shard not in keep]
    if num_shards > 1 and Path(path).is_file():
        stale.append(Path(path))
    for old in stale:
        with contextlib.suppress(FileNotFoundError):
            old.unlink()


class ShardedRecordWriter:
    """A context manager writing records round-robin into `num_shards` TFRecord files, atomically.

    Record i goes to shard i mod num_shards, so reading the shards round-robin gives back the
    order written. Every shard is written under a temporary name. On success, in two phases, all
    are closed (a failure there, such as a full disk at the last flush, removes them all and
    leaves the earlier files as they were), then all are renamed, and only then is an earlier
    layout of the same name with another shard count removed. On error all temporaries are
    removed. `compress` writes GZIP shards.
    """

    def __init__(
        self, path: str | os.PathLike, num_shards: int = 1, compress: bool = False
    ) -> None:
        self.path = Path(path)
        self.num_shards = check_num_shards(num_shards)
        self.compress = compress
        self.count = 0
        self._shards = shard_paths(self.path, self.num_shards)
        self._temporaries: list[Path] = []
        self._handles: list = []

    def __enter__(self) -> ShardedRecordWriter:
        try:
            for shard in self._shards:
                self._temporaries.append(_temporary_beside(shard))
                temporary = self._temporaries[-1]
                self._handles.append(
                    gzip.open(temporary, "wb", compresslevel=6)
                    if self.compress
                    else open(temporary, "wb")
                )
        except OSError as error:
            self._discard()
            raise MelodylibError(
                f"cannot write {self._shards[len(self._handles)]}: {error.strerror or error}"
            ) from error
        except BaseException:
            self._discard()
            raise
        return self

    def write(self, payload: bytes) -> None:
        """Append one record to the next shard in turn."""
        index = self.count % self.num_shards
        try:
            self._handles[index].write(encode_record(payload))
        except OSError as error:
            raise MelodylibError(
                f"cannot write {self._shards[index]}: {error.strerror or error}"
            ) from error
        self.count += 1

    def __exit__(self, exc_type, exc, traceback) -> bool:
        if exc_type is not None:
            self._discard()
            return False
        # 1. Close every shard: nothing is renamed unless all of them were written whole.
        for index, handle in enumerate(self._handles):
            try:
                handle.close()
            except OSError as error:
                self._discard()
                raise MelodylibError(
                    f"cannot write {self._shards[index]}: {error.strerror or error}"
                ) from error
        # 2. Rename them all, then remove what an earlier layout left.
        for temporary, shard in zip(self._temporaries, self._shards):
            os.replace(temporary, shard)
        remove_other_layouts(self.path, self.num_shards)
        return False

    def _discard(self) -> None:
        """Close and remove every temporary shard (the earlier files are untouched)."""
        for handle in self._handles:
            with contextlib.suppress(OSError):
                handle.close()
        for temporary in self._temporaries:
            with contextlib.suppress(OSError):
                temporary.unlink()


def _temporary_beside(path: Path) -> Path:
    """A new empty file beside `path` for its contents until they are complete (the same
    naming and permissions as `melodylib.atomic.atomic_path`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(name, 0o666 & ~umask)
    return Path(name)


def write_records(
    path: str | os.PathLike,
    payloads: Iterable[bytes],
    compress: bool = False,
    num_shards: int = 1,
) -> int:
    """Write byte strings to a TFRecord file (or `num_shards` shards) atomically; returns the count.

    An earlier file stays intact on error. `compress` writes a GZIP-compressed TFRecord (what
    TensorFlow's "GZIP" option reads): encoded melodies shrink about twentyfold, which keeps the
    course corpus small on a laptop. Magenta reads only uncompressed files, so `create_dataset`
    writes those unless asked. No TensorFlow is needed, so converting music never waits for it
    to load. With `num_shards` > 1 the records go round-robin to TensorFlow-named shards (see
    `ShardedRecordWriter`).
    """
    with ShardedRecordWriter(path, num_shards, compress) as writer:
        for payload in payloads:
            writer.write(payload)
    return writer.count


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
    """The files named by a path, a glob, or a comma-separated list of them; an error if none exist.

    A name that is a file is that file. A name that is not a file but has shards
    (`name-00000-of-00004` ...) stands for all of them, in shard order, and they must all be
    there. A glob (`name-*`) names what it matches, sorted, as it is.
    """
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
        if path.exists():
            if _existing_shards(path):
                raise MelodylibError(
                    f"--{what} {part} exists, and so do shards {part}-NNNNN-of-NNNNN (was a write "
                    "interrupted?); remove the older of the two, or name the shards with a glob"
                )
            files.append(path)
            continue
        shards = find_shards(path, what)
        if not shards:
            raise MelodylibError(
                f"--{what} {part} does not exist (nor do shards {part}-NNNNN-of-NNNNN); check the path"
            )
        files.extend(shards)
    if not files:
        raise MelodylibError(
            f"--{what}: no file matches '{pattern}'; check the path (globs are allowed)"
        )
    return files


def shard_groups(paths: Iterable[Path]) -> list[list[Path]]:
    """The paths cut into groups to read one after the other: each complete shard set that
    comes in shard order is one group (read round-robin), any other file a group of its own."""
    groups: list[list[Path]] = []
    for path in paths:
        match = _SHARD_NAME.match(path.name)
        previous = groups[-1] if groups else []
        if match and int(match["index"]) > 0 and previous:
            last = previous[-1]
            if last == _shard_name(
                path.parent / match["base"], int(match["index"]) - 1, int(match["count"])
            ):
                previous.append(path)
                continue
        groups.append([path])
    complete: list[list[Path]] = []
    for group in groups:
        match = _SHARD_NAME.match(group[0].name)
        whole_set = match and int(match["index"]) == 0 and len(group) == int(match["count"])
        complete.extend([group] if whole_set else [[path] for path in group])
    return complete


def interleave_records(paths: list[Path]) -> Iterator[bytes]:
    """Yield the records of the files round-robin (one from each in turn, skipping finished ones):
    for the shards of a `ShardedRecordWriter`, the order in which they were written."""
    for _, _, payload in _interleave_with_sources(paths):
        yield payload


def _interleave_with_sources(paths: list[Path]) -> Iterator[tuple[Path, int, bytes]]:
    """`interleave_records`, each record with its file and its index in that file."""
    readers = [(path, enumerate(read_records(path))) for path in paths]
    while readers:
        still_reading = []
        for path, reader in readers:
            found = next(reader, None)
            if found is not None:
                still_reading.append((path, reader))
                yield path, found[0], found[1]
        readers = still_reading


def read_records_with_sources(
    pattern: str | os.PathLike, what: str = "input"
) -> Iterator[tuple[Path, int, bytes]]:
    """`read_all_records` with each record's file and index in it, for messages that name them."""
    for group in shard_groups(expand_paths(pattern, what)):
        yield from _interleave_with_sources(group)


def read_all_records(pattern: str | os.PathLike, what: str = "input") -> Iterator[bytes]:
    """Yield the records of every file named by `pattern` (see `expand_paths`), file by file;
    a complete set of shards is read round-robin, so it gives the records of the single file it
    stands for, in that file's order."""
    for group in shard_groups(expand_paths(pattern, what)):
        yield from interleave_records(group)
