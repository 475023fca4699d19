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
    read_abc_tunes,
    read_file_result,
    relative_filename,
)
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
        filename = relative_filename(task.path, task.input_dir)
        collection = collection_name_of(task.input_dir)
        result = read_abc_tunes(task.path, task.tunes, filename, collection)
    else:
        result = read_file_result(task.path, task.input_dir)
    return TaskOutput(
        [sequence.to_bytes() for sequence in result.sequences],
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

    A progress bar (on stderr, unless `progress` is False) counts the pieces read.
    """
    from tqdm.auto import tqdm

    workers = num_workers if num_workers is not None else (os.cpu_count() or 1)
    total = sum(task.weight for task in tasks)

    def bar():
        return tqdm(
            total=total, unit="piece", desc="reading music", disable=not progress, file=sys.stderr
        )

    if workers == 1 or total < SERIAL_THRESHOLD or len(tasks) == 1:
        with bar() as progress_bar:
            for task in tasks:
                output = run_task(task)
                progress_bar.update(task.weight)
                yield output
        return
    from concurrent.futures import ProcessPoolExecutor

    executor = ProcessPoolExecutor(
        max_workers=min(workers, len(tasks)), mp_context=process_pool_context()
    )
    try:
        # map starts the workers before tqdm starts its monitor thread
        outputs = executor.map(run_task, tasks)
        with bar() as progress_bar:
            for task, output in zip(tasks, outputs, strict=True):
                progress_bar.update(task.weight)
                yield output
    finally:
        # on an error (or an abandoned write) do not wait for the files still queued
        executor.shutdown(wait=True, cancel_futures=True)
