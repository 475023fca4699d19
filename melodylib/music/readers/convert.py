"""Converting a whole folder of music files into one TFRecord file (or shards) of NoteSequences.

`convert_directory` lists the folder, `convert_files` reads the files (in parallel processes, see
`tasks`) and writes the sequences atomically, as note_seq NoteSequence protobufs (what Magenta's
convert_dir_to_note_sequences writes and its create_dataset reads) or as melodylib's older JSON
records. Nothing unreadable stops a conversion: every skipped file, ABC tune or folder entry is
reported with its reason code and counted in the `ConversionSummary`.

Sequences stream from the readers to the file as they come (in file order), so memory does not
grow with the number of files beyond their names; `num_shards` writes TensorFlow-named shards
(`notesequences.tfrecord-00000-of-00004` ..., see melodylib.tfrecords).
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from melodylib.errors import MelodylibError
from melodylib.music.notesequence import OUTPUT_FORMATS
from melodylib.music.readers.common import SUPPORTED_EXTENSIONS, SkipItem, source_type_of
from melodylib.music.readers.tasks import TaskOutput, make_tasks, run_tasks
from melodylib.tfrecords import check_num_shards, write_records

# A file (or ABC tune) still being read after this long is skipped as `timeout`. Generous: music21
# reads a long score in seconds; only hostile input (a key of a million sharps) takes minutes.
DEFAULT_FILE_TIMEOUT_SECS = 60.0
# Files cut into tasks and read at a time (a process pool each): bounds the tasks held in memory.
FILES_PER_BATCH = 4096


@dataclass
class ConversionSummary:
    """What convert_directory did.

    `files_found` counts music files (supported extensions); `files_read` those that gave at least
    one sequence; `skipped` counts skipped files, ABC tunes and other entries by reason;
    `skipped_items` lists them as (path, reason, detail).
    """

    input_dir: str
    output_file: str
    recursive: bool = False
    files_found: int = 0
    files_read: int = 0
    sequences_written: int = 0
    output_written: bool = False
    num_shards: int = 1
    skipped: Counter = field(default_factory=Counter)
    skipped_items: list[SkipItem] = field(default_factory=list)

    def add_skip(self, path: str, reason: str, detail: str = "") -> None:
        """Count one skipped file, tune or folder entry."""
        self.skipped[reason] += 1
        self.skipped_items.append((path, reason, detail))

    def output_description(self) -> str:
        """The output file, or its shards' names when there are several."""
        if self.num_shards == 1:
            return self.output_file
        return f"{self.num_shards} shards {self.output_file}-00000-of-{self.num_shards:05d} ..."

    def format(self) -> str:
        """A short human-readable summary."""
        if self.files_found == 0:
            where = f"{self.input_dir} or its subfolders" if self.recursive else self.input_dir
            hint = "" if self.recursive else "; use --recursive to include subfolders"
            lines = [
                f"no music files found in {where} "
                f"(looked for {', '.join(SUPPORTED_EXTENSIONS)}{hint}); "
                f"nothing written to {self.output_file}"
            ]
        elif self.output_written:
            lines = [
                f"read {self.files_read} of {self.files_found} music files in {self.input_dir}; "
                f"wrote {self.sequences_written} NoteSequences to {self.output_description()}"
            ]
        else:
            lines = [
                f"read 0 of {self.files_found} music files in {self.input_dir}: no NoteSequences; "
                f"nothing written to {self.output_file}"
            ]
        if self.skipped:
            counts = ", ".join(
                f"{reason} {count}" for reason, count in sorted(self.skipped.items())
            )
            lines.append(f"skipped: {counts}")
        return "\n".join(lines)


def convert_directory(
    input_dir: str | os.PathLike,
    output_file: str | os.PathLike,
    recursive: bool = False,
    num_workers: int | None = None,
    progress: bool = True,
    report: Callable[[str], None] | None = None,
    output_format: str = "protobuf",
    file_timeout_secs: float | None = DEFAULT_FILE_TIMEOUT_SECS,
    num_shards: int = 1,
) -> ConversionSummary:
    """Read every music file in a folder into one TFRecord file of NoteSequences (magenta-behaviour.md: "File conversion").

    Unreadable files and tunes are skipped; `report` (default: print to stderr) gets one line per
    skipped item. Files are read in parallel processes (`num_workers`, default all cores; serial
    for small jobs or num_workers=1). The output is written atomically: if nothing is read or the
    run fails, an earlier output file stays as it was. In a script that has imported TensorFlow,
    call this under `if __name__ == "__main__":` (the workers are then spawned, and a spawned
    process imports the main module). `output_format` is "protobuf" (note_seq's NoteSequence, the
    default) or "json" (melodylib's older records). A file (or ABC tune) still being read after
    `file_timeout_secs` is skipped with reason `timeout` (None or 0: no limit). `num_shards` > 1
    writes that many shards, `output_file-00000-of-0000N` ..., instead of one file.
    """
    if num_workers is not None and num_workers < 1:
        raise MelodylibError(f"--num_workers must be at least 1, got {num_workers}")
    input_path = Path(input_dir)
    if not input_path.is_dir():
        what = "is not a folder" if input_path.exists() else "does not exist"
        raise MelodylibError(
            f"--input_dir {input_dir} {what}; give the folder that holds the music files"
        )
    music_files, skipped_entries = _list_music_file_names(input_path, recursive)
    return convert_files(
        music_files,
        input_path,
        output_file,
        num_workers=num_workers,
        progress=progress,
        report=report,
        skipped_entries=skipped_entries,
        recursive=recursive,
        output_format=output_format,
        file_timeout_secs=file_timeout_secs,
        num_shards=num_shards,
    )


def list_music_files(input_dir: Path, recursive: bool) -> tuple[list[Path], list[SkipItem]]:
    """Music files under `input_dir` and the skipped entries.

    As Magenta: a folder's files first, then its subfolders (we sort names, for a stable order).
    """
    names, skipped = _list_music_file_names(input_dir, recursive)
    return [Path(name) for name in names], skipped


def _list_music_file_names(input_dir: Path, recursive: bool) -> tuple[list[str], list[SkipItem]]:
    """`list_music_files` as strings: a third of the memory of Paths, for folders of 100,000s."""
    music_files: list[str] = []
    skipped: list[SkipItem] = []
    queue = [input_dir]
    while queue:
        folder = queue.pop(0)
        try:
            entries = sorted(folder.iterdir(), key=lambda entry: entry.name)
        except OSError as error:
            skipped.append((str(folder), "io_error", error.strerror or str(error)))
            continue
        subfolders = []
        for entry in entries:
            if entry.is_dir():
                if recursive:
                    subfolders.append(entry)
                else:
                    skipped.append(
                        (str(entry), "directory", "a subfolder (use --recursive to read it)")
                    )
            elif source_type_of(entry) is not None:
                music_files.append(str(entry))
            else:
                skipped.append(
                    (str(entry), "unsupported_extension", "not a MIDI, MusicXML or ABC file")
                )
        queue.extend(subfolders)
    return music_files, skipped


class _NothingToWrite(Exception):
    """Raised inside the atomic write to abandon it when no sequence was read."""


def convert_files(
    music_files: list[Path] | list[str],
    input_dir: str | os.PathLike,
    output_file: str | os.PathLike,
    num_workers: int | None = None,
    progress: bool = True,
    report: Callable[[str], None] | None = None,
    skipped_entries: Iterable[SkipItem] = (),
    recursive: bool = False,
    output_format: str = "protobuf",
    file_timeout_secs: float | None = DEFAULT_FILE_TIMEOUT_SECS,
    num_shards: int = 1,
) -> ConversionSummary:
    """Read the given music files into one TFRecord file (or `num_shards` shards) of NoteSequences.

    Ids and filenames are relative to `input_dir`. The work of `convert_directory` once the files
    are listed; the course corpus uses it for file lists that are not a whole folder (the Bach
    chorales among music21's Bach works).

    1. check the arguments, and that the output can be written, before reading anything;
    2. report the skipped folder entries;
    3. cut the files into tasks (ABC tunebooks into chunks of tunes, refusing duplicate X:),
       FILES_PER_BATCH files at a time, so memory does not grow with the number of files;
    4. run the tasks and stream their sequences into the output file, reporting each skipped
       file or tune; a file is read when any of its tasks gave a sequence;
    5. abandon the write when no file was read, so an earlier output file stays as it was.
    """
    # 1. arguments and output
    if num_workers is not None and num_workers < 1:
        raise MelodylibError(f"--num_workers must be at least 1, got {num_workers}")
    if file_timeout_secs is not None and not file_timeout_secs >= 0:
        raise MelodylibError(
            f"--file_timeout_secs must be 0 (no limit) or more, got {file_timeout_secs}"
        )
    if output_format not in OUTPUT_FORMATS:
        raise MelodylibError(
            f"--output_format must be one of {', '.join(OUTPUT_FORMATS)}, got '{output_format}'"
        )
    num_shards = check_num_shards(num_shards)
    input_path = Path(input_dir)
    output_path = Path(output_file)
    _check_output_writable(output_path)
    report = report or _print_to_stderr
    summary = ConversionSummary(
        str(input_dir), str(output_file), recursive=recursive, num_shards=num_shards
    )

    def skip(path: str, reason: str, detail: str) -> None:
        summary.add_skip(path, reason, detail)
        report(f"skipped {path}: {reason}" + (f" ({detail})" if detail else ""))

    # 2. skipped folder entries
    for entry in skipped_entries:
        skip(*entry)
    # Names only (about 120 bytes a file, a third of a Path): the one list that grows with the
    # number of files; tasks are made for FILES_PER_BATCH files at a time.
    music_files = [str(path) for path in music_files]
    summary.files_found = len(music_files)
    if not music_files:
        return summary
    from tqdm.auto import tqdm

    bar = tqdm(
        total=len(music_files),
        unit="file",
        desc="reading music",
        disable=not progress,
        file=sys.stderr,
    )

    # 3. tasks, a batch of files at a time, and 4. their sequences, in task order
    def outputs() -> Iterator[tuple[TaskOutput, bool]]:
        """(output of a task, whether it was its file's last; a file's tasks come together)."""
        for start in range(0, len(music_files), FILES_PER_BATCH):
            batch = [Path(path) for path in music_files[start : start + FILES_PER_BATCH]]
            tasks, early_errors = make_tasks(batch, input_path)
            tasks = [
                dataclasses.replace(
                    task, output_format=output_format, time_limit_secs=file_timeout_secs or None
                )
                for task in tasks
            ]
            remaining_tasks = Counter(task.path for task in tasks)
            for errors in early_errors.values():
                for error in errors:
                    skip(*error)
            for task, output in zip(tasks, run_tasks(tasks, num_workers, False), strict=True):
                remaining_tasks[task.path] -= 1
                last = remaining_tasks[task.path] == 0
                bar.update(1 if last else 0)
                yield output, last

    def payloads() -> Iterator[bytes]:
        file_has_sequences = False
        for output, last_task_of_file in outputs():
            for error in output.errors:
                skip(*error)
            file_has_sequences = file_has_sequences or bool(output.payloads)
            if last_task_of_file:
                summary.files_read += int(file_has_sequences)
                file_has_sequences = False
            yield from output.payloads
        if summary.files_read == 0:
            raise _NothingToWrite  # 5. nothing read: abandon the write

    # A reader process that dies costs only its own file (skipped as reader_crashed).
    try:
        summary.sequences_written = write_records(output_path, payloads(), num_shards=num_shards)
        summary.output_written = True
    except _NothingToWrite:
        summary.sequences_written = 0
    finally:
        bar.close()
    return summary


def _check_output_writable(output_path: Path) -> None:
    """Fail before reading anything when the output cannot be written."""
    if output_path.is_dir():
        raise MelodylibError(
            f"--output_file {output_path} is a folder; give a file name such as "
            f"{output_path}/notesequences.tfrecord"
        )
    folder = output_path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise MelodylibError(
            f"cannot write {output_path}: cannot create {folder} ({error.strerror or error})"
        ) from error
    if not os.access(folder, os.W_OK | os.X_OK):
        raise MelodylibError(f"cannot write {output_path}: the folder {folder} is not writable")


def _print_to_stderr(message: str) -> None:
    """The default report: one line on stderr that does not break a tqdm progress bar."""
    from tqdm.auto import tqdm

    tqdm.write(message, file=sys.stderr)
