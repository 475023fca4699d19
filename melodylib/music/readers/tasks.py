"""The work of a folder conversion cut into tasks, and the reader processes that run them.

A task is a whole MIDI or MusicXML file, or a chunk of TUNES_PER_TASK tunes of an ABC file (a
tunebook of a thousand tunes would otherwise keep one process busy while the others wait).
Tasks run in this process for small jobs, else in a process pool; either way their outputs come
back in task order, so the output file is the same for any number of workers.

A worker process imports this module (and, through it, the readers) but never TensorFlow, and
music21 only when it reads MusicXML or ABC: each format's library is imported by the reader that
uses it, on first use.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from melodylib.errors import UnreadableFileError
from melodylib.music.readers.abc import (
    AbcTune,
    read_abc_text,
    split_abc_tunes,
    split_duplicate_tunes,
)
from melodylib.music.readers.common import SkipItem, source_type_of
from melodylib.music.readers.files import (
    collection_name_of,
    import_reader_libraries,
    read_abc_tunes,
    read_file_result,
    relative_filename,
)
from melodylib.music.readers.reader_pool import ReaderPool
from melodylib.music.readers.time_limit import can_limit_time
from melodylib.workers import process_pool_context

# Below this many pieces (files or ABC tunes), worker start-up costs more than it saves.
SERIAL_THRESHOLD = 16
TUNES_PER_TASK = 16


@dataclass(frozen=True)
class ReadingTask:
    """A unit of work for a reader process: a MIDI/MusicXML file, or some tunes of an ABC file."""

    path: str
    input_dir: str
    tunes: tuple[AbcTune, ...] = ()
    output_format: str = "protobuf"  # how the sequences are serialised: "protobuf" or "json"
    time_limit_secs: float | None = None  # per file or ABC tune (None: no limit)

    @property
    def weight(self) -> int:
        """The pieces this task reads (a file, or its tunes), for the progress bar."""
        return max(1, len(self.tunes))


@dataclass
class TaskOutput:
    """What crosses back from a worker: serialised sequences and plain-tuple errors.

    Both pickle cheaply, unlike NoteSequence and UnreadableFileError objects.
    """

    payloads: list[bytes]
    errors: list[SkipItem]


def run_task(task: ReadingTask) -> TaskOutput:
    """Read one task; runs in a worker process (which never imports TensorFlow)."""
    if task.tunes:
        if task.time_limit_secs:
            import_reader_libraries("abc")  # not on the clock: music21 takes seconds to import
        filename = relative_filename(task.path, task.input_dir)
        collection = collection_name_of(task.input_dir)
        result = read_abc_tunes(task.path, task.tunes, filename, collection, task.time_limit_secs)
    else:
        result = read_file_result(task.path, task.input_dir, task.time_limit_secs)
    return TaskOutput(
        [sequence.to_bytes(task.output_format) for sequence in result.sequences],
        [(error.path, error.reason, error.detail) for error in result.errors],
    )


def make_tasks(
    music_files: list[Path], input_dir: Path
) -> tuple[list[ReadingTask], dict[str, list[SkipItem]]]:
    """One task per MIDI/MusicXML file, and per chunk of TUNES_PER_TASK tunes of an ABC file.

    ABC files are split into tunes here, in this process. Also returns, per ABC file, the errors
    found while splitting (duplicate X: numbers).
    """
    tasks: list[ReadingTask] = []
    early_errors: dict[str, list[SkipItem]] = {}
    for path in music_files:
        if source_type_of(path) == "abc":
            try:
                tunes = split_abc_tunes(read_abc_text(str(path)))
            except UnreadableFileError:
                tunes = []  # the task below reads the file again and reports the error
            if tunes:
                tunes, refused = split_duplicate_tunes(tunes, str(path))
                early_errors[str(path)] = [
                    (error.path, error.reason, error.detail) for error in refused
                ]
                for start in range(0, len(tunes), TUNES_PER_TASK):
                    chunk = tuple(tunes[start : start + TUNES_PER_TASK])
                    tasks.append(ReadingTask(str(path), str(input_dir), chunk))
                continue
        tasks.append(ReadingTask(str(path), str(input_dir)))
    return tasks, early_errors


def run_tasks(
    tasks: list[ReadingTask], num_workers: int | None, progress: bool
) -> Iterator[TaskOutput]:
    """Run the tasks, serially or in worker processes, yielding their outputs in task order.

    Serially (few pieces, or one worker) the tasks run in this process, each piece under its time
    limit; in worker processes (`reader_pool`) a worker stuck past the limit is also killed and
    replaced, and one that dies costs only its task. Where this process cannot limit time (not
    its main thread, or no interval timer) a time-limited job goes to a worker even when serial.
    A progress bar (on stderr, unless `progress` is False) counts the pieces read.
    """
    from tqdm.auto import tqdm

    workers = num_workers if num_workers is not None else (os.cpu_count() or 1)
    total = sum(task.weight for task in tasks)
    limited = any(task.time_limit_secs for task in tasks)
    serial = workers == 1 or total < SERIAL_THRESHOLD or len(tasks) == 1
    with tqdm(
        total=total, unit="piece", desc="reading music", disable=not progress, file=sys.stderr
    ) as progress_bar:
        if serial and (can_limit_time() or not limited):
            for task in tasks:
                output = run_task(task)
                progress_bar.update(task.weight)
                yield output
            return
        pool_size = 1 if serial else min(workers, len(tasks))
        with ReaderPool(
            process_pool_context(), pool_size, run_task, task_deadline, failed_task_output
        ) as pool:
            for task, output in zip(tasks, pool.map(tasks), strict=True):
                progress_bar.update(task.weight)
                yield output


def task_deadline(task: ReadingTask) -> float | None:
    """Seconds after which the pool kills a worker reading `task` (None: never).

    A backstop: the reader stops each piece at its limit itself, so a worker still busy at half
    as long again as the limit of all its pieces (plus 2 s) is stuck where Python cannot stop it.
    """
    if not task.time_limit_secs:
        return None
    return 1.5 * task.time_limit_secs * task.weight + 2.0


def failed_task_output(task: ReadingTask, reason: str, detail: str) -> TaskOutput:
    """The output of a task the pool had to give up: one skip per file, or per ABC tune."""
    if task.tunes:
        return TaskOutput(
            [], [(task.path, reason, f"{tune.describe()}: {detail}") for tune in task.tunes]
        )
    return TaskOutput([], [(task.path, reason, detail)])
