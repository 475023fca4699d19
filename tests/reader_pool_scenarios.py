"""Folder conversions whose reader hangs, ignores the alarm, or dies, run in a fresh process.

test_reader_mutations.py runs this file as a script, so the worker processes are forked from a
process that has not loaded TensorFlow, and they inherit the patched reader below. It prints one
JSON object: for each scenario, the skipped items, the sequences written, the seconds it took and
the worker processes still alive afterwards.

Usage: python tests/reader_pool_scenarios.py <empty folder>
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import sys
import time
from pathlib import Path

import midi_fixtures as fixtures

import melodylib.music.readers.files as files_module
from melodylib.music.readers import convert_directory

TIME_LIMIT = 2.0  # generous: a loaded machine may starve a worker for a while


def patched_midi_reader(data: bytes, path: str = "<bytes>"):
    """The real MIDI reader, except for files named to hang, to ignore the alarm or to die."""
    name = Path(str(path)).name
    if name.startswith("hang"):
        while True:  # a busy loop the alarm can interrupt
            pass
    if name.startswith("stuck"):
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})  # as if stuck in C code
        time.sleep(3600)
    if name.startswith("crash"):
        os._exit(3)
    return REAL_MIDI_READER(data, path)


REAL_MIDI_READER = files_module.midi_to_note_sequence


def run_scenario(folder: Path, special: str) -> dict:
    """Convert 20 good files and one `special` file with two workers."""
    folder.mkdir(parents=True)
    for index in range(20):
        (folder / f"good_{index:02d}.mid").write_bytes(fixtures.good_midi())
    (folder / f"{special}.mid").write_bytes(fixtures.good_midi())
    skipped = []
    started = time.monotonic()
    summary = convert_directory(
        folder,
        folder.parent / f"{special}.tfrecord",
        num_workers=2,
        progress=False,
        report=lambda line: None,
        file_timeout_secs=TIME_LIMIT,
    )
    skipped = [(Path(path).name, reason, detail) for path, reason, detail in summary.skipped_items]
    return {
        "skipped": skipped,
        "written": summary.sequences_written,
        "seconds": time.monotonic() - started,
        "alive": len(multiprocessing.active_children()),
    }


def main() -> None:
    root = Path(sys.argv[1])
    files_module.midi_to_note_sequence = patched_midi_reader
    results = {name: run_scenario(root / name, name) for name in ("hang", "stuck", "crash")}
    print(json.dumps(results))


if __name__ == "__main__":
    main()
