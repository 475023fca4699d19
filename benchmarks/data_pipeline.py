"""Data-pipeline speed next to note_seq's: convert on MIDI and ABC, and create_dataset per config.

Run with the project's venv:  .venv/bin/python benchmarks/data_pipeline.py [--quick]

The note_seq side runs in its own process, `benchmarks/note_seq_driver.py`, under the Python of a
separate Magenta/note_seq environment (`--note-seq-python`, default /tmp/magenta-venv/bin/python;
see benchmarks/README.md): importing note_seq changes pretty_midi's globals, so it never enters
this process. Both sides run the same files in the same run, their repeats interleaved; the
tables give medians and ratios.

Measured:
1. convert, MIDI and ABC separately. Ours: `convert_directory` in a fresh child process, timed
   around the call only (Python start-up and `import melodylib` excluded):
   - "all cores, cold": the first call in a process, as `melody_rnn convert` runs it: reader
     workers are forked, and the call imports TensorFlow to write the TFRecord;
   - "all cores, TF loaded": TensorFlow imported before the timer (the workers are then spawned);
   - "1 worker": serial reading, TensorFlow imported before the timer.
   note_seq: `midi_io.midi_to_note_sequence` on each file's bytes (ABC: `abc_parser.parse_abc_tunebook`)
   plus ids and SerializeToString, serially, as Magenta's convert_dir_to_note_sequences does
   (its TFRecord write is not timed).
   Every cell also gives the CPU seconds (user + system, workers included): on a shared machine
   wall time depends on the other load, CPU time much less.
2. create_dataset per config, on the SAME NoteSequences: ours converted once from the MIDI files,
   note_seq's read by its own reader from the same files (the melody and step counts in the table
   must agree). (a) our `melodies_from_note_sequence` + `encode_melody` loop, one process;
   (b) our `create_dataset` end to end (read, all cores, serialise, write both files), TensorFlow
   already imported; (b1) the same with one worker; (c) note_seq's loop: split on time changes,
   quantize, Magenta's extract_melodies, squash, encode (driver op "pipeline"). A row marked
   "+ bytes" also serialises each melody to SequenceExample bytes on both sides
   (ours: `sequence_example_bytes`; Magenta: `make_sequence_example(...).SerializeToString()`).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import (  # noqa: E402
    PROJECT_ROOT,
    machine_header,
    markdown_table,
    median,
    progress,
    ratio,
)

REAL_MIDI_DIR = PROJECT_ROOT / "tests" / "data" / "magenta" / "real_midi"
DEFAULT_NOTE_SEQ_PYTHON = os.environ.get(
    "MELODYLIB_NOTE_SEQ_PYTHON", "/tmp/magenta-venv/bin/python"
)
DRIVER = Path(__file__).resolve().parent / "note_seq_driver.py"
CONFIGS = ("basic_rnn", "mono_rnn", "lookback_rnn", "attention_rnn")
SLOW_SECONDS = (
    10.0  # a note_seq run slower than this is repeated only once (its ratio is not close)
)


# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------
def essen_abc_file() -> Path:
    """music21's Essen collection file altdeu10.abc (313 tunes), found without importing music21."""
    import importlib.util

    spec = importlib.util.find_spec("music21")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("music21 is not installed in this environment")
    return (
        Path(list(spec.submodule_search_locations)[0]) / "corpus" / "essenFolksong" / "altdeu10.abc"
    )


def prepare_midi(folder: Path, copies: int) -> list[Path]:
    """`copies` copies of every real MIDI test file (distinct names), in one folder."""
    folder.mkdir(parents=True)
    originals = sorted(REAL_MIDI_DIR.glob("*.mid"))
    files = []
    for copy in range(copies):
        for original in originals:
            target = folder / f"{original.stem}_copy{copy}.mid"
            shutil.copyfile(original, target)
            files.append(target)
    return files


def prepare_abc(folder: Path, num_tunes: int) -> Path:
    """One ABC file holding the first `num_tunes` tunes of Essen's altdeu10.abc (313 tunes)."""
    folder.mkdir(parents=True)
    text = essen_abc_file().read_text(encoding="utf-8", errors="replace")
    tunes = [
        part.rstrip() + "\n" for part in re.split(r"(?m)^(?=X:)", text) if part.startswith("X:")
    ]
    target = folder / "essen.abc"
    target.write_text("\n".join(tunes[:num_tunes]), encoding="utf-8")
    return target


# --------------------------------------------------------------------------------------------
# The two sides
# --------------------------------------------------------------------------------------------
class NoteSeqDriver:
    """The note_seq process: one JSON command per line in, one JSON answer per line out."""

    def __init__(self, python: str, log_path: Path) -> None:
        self._log = open(log_path, "w")  # noqa: SIM115 (kept open for the driver's lifetime)
        self.process = subprocess.Popen(
            [python, str(DRIVER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            bufsize=1,
        )
        self.log_path = log_path

    def wait_ready(self) -> None:
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit(
                f"the note_seq driver did not start; see {self.log_path}:\n{self.log_path.read_text()[-3000:]}"
            )

    def ask(self, op: str, **arguments) -> dict:
        self.process.stdin.write(json.dumps({"op": op, **arguments}) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit(
                f"the note_seq driver died; see {self.log_path}:\n{self.log_path.read_text()[-3000:]}"
            )
        answer = json.loads(line)
        if "error" in answer:
            raise SystemExit(f"note_seq driver, op {op}: {answer['error']}")
        return answer

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.process.stdin.write(json.dumps({"op": "quit"}) + "\n")
                self.process.stdin.flush()
                self.process.wait(timeout=30)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.process.kill()
        self._log.close()


def run_convert_child(
    input_dir: Path, output_file: Path, workers: int, preload_tensorflow: bool
) -> dict:
    """Time one `convert_directory` call in a fresh process of this Python (see `child_convert`)."""
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child-convert",
        str(input_dir),
        str(output_file),
        str(workers),
        "1" if preload_tensorflow else "0",
    ]
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    completed = subprocess.run(command, capture_output=True, text=True, env=environment)
    if completed.returncode != 0:
        raise SystemExit(f"convert child failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def cpu_seconds_so_far() -> float:
    """CPU time of this process plus its finished (reaped) child processes, user + system."""
    import resource

    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def child_convert(input_dir: str, output_file: str, workers: str, preload_tensorflow: str) -> None:
    """In the child: optionally import TensorFlow, then time convert_directory; print one JSON line."""
    tensorflow_seconds = 0.0
    if preload_tensorflow == "1":
        started = time.perf_counter()
        import tensorflow  # noqa: F401

        tensorflow_seconds = time.perf_counter() - started
    from melodylib.music.readers import convert_directory

    loaded_before = "tensorflow" in sys.modules
    cpu_started = cpu_seconds_so_far()
    started = time.perf_counter()
    summary = convert_directory(
        input_dir,
        output_file,
        num_workers=int(workers) or None,
        progress=False,
        report=lambda message: None,
    )
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "seconds": seconds,
                "cpu_seconds": cpu_seconds_so_far()
                - cpu_started,  # the pool's workers are reaped by now
                "sequences": summary.sequences_written,
                "skipped": sum(summary.skipped.values()),
                "imported_tensorflow": (not loaded_before) and "tensorflow" in sys.modules,
                "tensorflow_import_seconds": tensorflow_seconds,
            }
        )
    )


class Timings:
    """Wall and CPU seconds of repeated runs, by name; medians and table cells."""

    def __init__(self) -> None:
        self.wall: dict[str, list[float]] = {}
        self.cpu: dict[str, list[float]] = {}

    def add(self, name: str, wall: float, cpu: float) -> None:
        self.wall.setdefault(name, []).append(wall)
        self.cpu.setdefault(name, []).append(cpu)

    def has(self, name: str) -> bool:
        return bool(self.wall.get(name))

    def cell(self, name: str, count: int, suffix: str = "") -> str:
        """'1.23 s, CPU 1.10 s (156/s)', the rate being count / median wall seconds."""
        if not self.has(name):
            return "-"
        wall, cpu = median(self.wall[name]), median(self.cpu[name])
        return f"{wall:.2f} s, CPU {cpu:.2f} s ({count / wall:.0f}/s){suffix}"

    def speed_up(self, slower: str, faster: str) -> str:
        """'note_seq / ours' on wall time, then on CPU time."""
        if not (self.has(slower) and self.has(faster)):
            return "-"
        return (
            f"{ratio(median(self.wall[slower]), median(self.wall[faster]))} "
            f"(CPU {ratio(median(self.cpu[slower]), median(self.cpu[faster]))})"
        )


# --------------------------------------------------------------------------------------------
# 1. convert
# --------------------------------------------------------------------------------------------
CONVERT_VARIANTS = {
    "cold": (0, False),
    "loaded": (0, True),
    "serial": (1, True),
}  # name: (workers, preload TF)


def bench_convert(
    kind: str,
    input_dir: Path,
    work_dir: Path,
    driver: NoteSeqDriver | None,
    repeats: int,
    note_seq_command: dict,
    num_inputs: int,
    variants: tuple[str, ...],
) -> tuple[list, dict]:
    """Interleaved repeats of our convert variants and note_seq's reading; returns a table row and raw numbers."""
    timings = Timings()
    counts: dict[str, object] = {}
    tensorflow_imports: list[float] = []
    slug = kind.split()[0]
    for repeat in range(repeats):
        order = list(variants) + (["note_seq"] if driver is not None else [])
        order = order[repeat % len(order) :] + order[: repeat % len(order)]  # rotate who goes first
        for name in order:
            if name == "note_seq":
                answer = driver.ask(**note_seq_command)
                counts["note_seq"] = answer["sequences"]
            else:
                workers, preload = CONVERT_VARIANTS[name]
                answer = run_convert_child(
                    input_dir, work_dir / f"{slug}_{name}.tfrecord", workers, preload
                )
                counts["ours"] = answer["sequences"]
                if name == "cold":
                    counts["cold_imported_tensorflow"] = answer["imported_tensorflow"]
                if answer["tensorflow_import_seconds"]:
                    tensorflow_imports.append(answer["tensorflow_import_seconds"])
            timings.add(name, answer["seconds"], answer["cpu_seconds"])
            progress(
                f"  convert {kind} repeat {repeat + 1}/{repeats}: {name} {answer['seconds']:.2f} s "
                f"(CPU {answer['cpu_seconds']:.2f} s)"
            )
    row = [
        kind,
        num_inputs,
        f"{counts['ours']} / {counts.get('note_seq', '-')}",
        timings.cell("cold", num_inputs),
        timings.cell("loaded", num_inputs),
        timings.cell("serial", num_inputs),
        timings.cell("note_seq", num_inputs),
        timings.speed_up("note_seq", "cold"),
        timings.speed_up("note_seq", "loaded"),
        timings.speed_up("note_seq", "serial"),
    ]
    return row, {"counts": counts, "tensorflow_import_seconds": tensorflow_imports}


# --------------------------------------------------------------------------------------------
# 2. create_dataset
# --------------------------------------------------------------------------------------------
def our_loop(sequences, config, serialize: bool) -> tuple[int, int]:
    """(a): melodies_from_note_sequence + encode_melody over every sequence; (melodies, steps)."""
    from melodylib.data.datasets import encode_melody, melodies_from_note_sequence
    from melodylib.data.sequence_examples import sequence_example_bytes

    melodies = steps = 0
    for sequence in sequences:
        for melody in melodies_from_note_sequence(sequence):
            inputs, labels = encode_melody(melody, config)
            if serialize:
                sequence_example_bytes(inputs, labels)
            melodies += 1
            steps += len(labels)
    return melodies, steps


def bench_create_dataset(
    sequences_file: Path,
    work_dir: Path,
    driver: NoteSeqDriver | None,
    configs,
    repeats: int,
    serialize_configs,
    end_to_end: bool,
) -> list[list]:
    """Per config (and '+ bytes' rows): (a), (b), (b1) and (c), repeats interleaved; returns table rows."""
    from melodylib.data.datasets import create_dataset
    from melodylib.encoding.configs import get_config
    from melodylib.music.notesequence import read_note_sequences

    sequences = list(read_note_sequences(sequences_file))
    rows = []
    cases = [(name, False) for name in configs] + [(name, True) for name in serialize_configs]
    for name, serialize in cases:
        config = get_config(name)
        label = name + (" + bytes" if serialize else "")
        timings = Timings()
        counts: dict[str, tuple[int, int]] = {}
        for repeat in range(repeats):
            measured = []
            cpu_started, started = cpu_seconds_so_far(), time.perf_counter()
            counts["a"] = our_loop(sequences, config, serialize)
            timings.add("a", time.perf_counter() - started, cpu_seconds_so_far() - cpu_started)
            measured.append("a")
            if end_to_end and not serialize:
                for key, workers in (("b", None), ("b1", 1)):
                    cpu_started, started = cpu_seconds_so_far(), time.perf_counter()
                    summary = create_dataset(
                        sequences_file,
                        config,
                        work_dir / f"dataset_{name}_{key}",
                        progress=False,
                        num_workers=workers,
                    )
                    timings.add(
                        key, time.perf_counter() - started, cpu_seconds_so_far() - cpu_started
                    )
                    counts[key] = (
                        summary.training_melodies + summary.eval_melodies,
                        summary.training_steps + summary.eval_steps,
                    )
                    measured.append(key)
            slow = timings.has("c") and timings.wall["c"][0] > SLOW_SECONDS
            if driver is not None and not slow:
                answer = driver.ask("pipeline", config=name, serialize=serialize)
                timings.add("c", answer["seconds"], answer["cpu_seconds"])
                counts["c"] = (answer["melodies"], answer["steps"])
                measured.append("c")
            progress(
                f"  create_dataset {label} repeat {repeat + 1}/{repeats}: "
                + ", ".join(f"{key} {timings.wall[key][-1]:.2f} s" for key in measured)
            )
        melodies = counts["a"][0]
        single = (
            " (1 run)" if timings.has("c") and len(timings.wall["c"]) == 1 and repeats > 1 else ""
        )
        rows.append(
            [
                label,
                f"{melodies} / {counts['c'][0] if 'c' in counts else '-'}",
                f"{counts['a'][1]} / {counts['c'][1] if 'c' in counts else '-'}",
                timings.cell("a", melodies),
                timings.cell("b", melodies),
                timings.cell("b1", melodies),
                timings.cell("c", melodies, single),
                timings.speed_up("c", "a"),
                timings.speed_up("c", "b"),
            ]
        )
    return rows


# --------------------------------------------------------------------------------------------
def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a short run: 32 MIDI files, 16 tunes, one repeat, no end-to-end create_dataset",
    )
    parser.add_argument(
        "--repeats", type=int, default=None, help="repeats per measurement (default 3; quick 1)"
    )
    parser.add_argument(
        "--midi-copies",
        type=int,
        default=None,
        help="copies of the 32 real MIDI test files (default 6 = 192 files; quick 1)",
    )
    parser.add_argument(
        "--abc-tunes",
        type=int,
        default=None,
        help="Essen tunes for the ABC test (default 100; quick 16)",
    )
    parser.add_argument(
        "--configs", default=",".join(CONFIGS), help="comma-separated configs for create_dataset"
    )
    parser.add_argument(
        "--serialize-configs",
        default=None,
        help="configs to time again with SequenceExample serialisation (default basic_rnn; quick none)",
    )
    parser.add_argument(
        "--note-seq-python",
        default=DEFAULT_NOTE_SEQ_PYTHON,
        help="Python of the Magenta/note_seq environment ('' to time our side only)",
    )
    parser.add_argument("--child-convert", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.repeats = args.repeats or (1 if args.quick else 3)
    args.midi_copies = args.midi_copies or (1 if args.quick else 6)
    args.abc_tunes = args.abc_tunes or (16 if args.quick else 100)
    if args.serialize_configs is None:
        args.serialize_configs = "" if args.quick else "basic_rnn"
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.child_convert:
        child_convert(*args.child_convert)
        return
    configs = [name for name in args.configs.split(",") if name]
    serialize_configs = [name for name in args.serialize_configs.split(",") if name]
    work_dir = Path(tempfile.mkdtemp(prefix="melodylib_bench_data_"))
    driver = None
    try:
        if args.note_seq_python:
            if not Path(args.note_seq_python).exists():
                raise SystemExit(
                    f"--note-seq-python {args.note_seq_python} does not exist; set up the note_seq "
                    "environment (benchmarks/README.md) or pass --note-seq-python '' for our side only"
                )
            progress("starting the note_seq driver (imports note_seq, Magenta and TensorFlow)...")
            driver = NoteSeqDriver(args.note_seq_python, work_dir / "note_seq_driver.log")
        # Load TensorFlow here (create_dataset writes with it) while the driver starts; nothing is timed yet.
        # The quick run skips the end-to-end create_dataset and so TensorFlow in this process.
        started = time.perf_counter()
        if not args.quick:
            import tensorflow  # noqa: F401

        tensorflow_seconds = time.perf_counter() - started
        midi_files = prepare_midi(work_dir / "midi", args.midi_copies)
        abc_file = prepare_abc(work_dir / "abc", args.abc_tunes)
        extra_versions = {}
        if driver is not None:
            driver.wait_ready()
            versions = driver.ask("versions")
            extra_versions = {f"(note_seq env) {name}": value for name, value in versions.items()}

        progress("convert, MIDI...")
        midi_row, midi_raw = bench_convert(
            "MIDI",
            midi_files[0].parent,
            work_dir,
            driver,
            args.repeats,
            {"op": "convert_midi", "files": [str(path) for path in midi_files]},
            len(midi_files),
            ("cold",) if args.quick else ("cold", "loaded", "serial"),
        )
        progress("convert, ABC...")
        abc_row, abc_raw = bench_convert(
            "ABC (Essen)",
            abc_file.parent,
            work_dir,
            driver,
            max(1, min(args.repeats, 2)),
            {"op": "convert_abc", "file": str(abc_file)},
            args.abc_tunes,
            ("cold",) if args.quick else ("cold", "serial"),
        )

        progress("create_dataset: converting the MIDI files once, loading them on both sides...")
        sequences_file = work_dir / "MIDI_cold.tfrecord"
        if driver is not None:
            loaded = driver.ask("load", files=[str(path) for path in midi_files])
            progress(f"  note_seq loaded {loaded['sequences']} sequences ({loaded['notes']} notes)")
        dataset_rows = bench_create_dataset(
            sequences_file,
            work_dir,
            driver,
            configs,
            args.repeats,
            serialize_configs,
            end_to_end=not args.quick,
        )

        tensorflow_imports = (
            midi_raw["tensorflow_import_seconds"] + abc_raw["tensorflow_import_seconds"]
        )
        notes = [
            f"inputs: {len(midi_files)} MIDI files ({args.midi_copies} copies of the {len(midi_files) // args.midi_copies} "
            f"files in tests/data/magenta/real_midi), {args.abc_tunes} tunes of music21's essenFolksong/altdeu10.abc",
            f"medians of {args.repeats} interleaved repeats (ABC: {max(1, min(args.repeats, 2))}); "
            f"a note_seq run over {SLOW_SECONDS:.0f} s is done once",
            "importing TensorFlow in a fresh process took "
            + (
                f"{median(tensorflow_imports):.1f} s (median of the convert children)"
                if tensorflow_imports
                else f"{tensorflow_seconds:.1f} s (this process)"
                if not args.quick
                else "(not measured in --quick)"
            ),
            f"'all cores, cold' imported TensorFlow inside the call: {midi_raw['counts'].get('cold_imported_tensorflow')}",
            "each cell: median wall time, median CPU time (user + system of the process and its worker "
            "processes), and inputs or melodies per wall-clock second",
            "load average at the end: " + " / ".join(f"{value:.1f}" for value in os.getloadavg()),
        ]
        print(machine_header("Data pipeline: melodylib vs note_seq", extra_versions, notes))
        print()
        print(
            "convert (rate = input files or tunes per second; speed-up = note_seq time / ours, wall and CPU):"
        )
        print()
        print(
            markdown_table(
                [
                    "input",
                    "files / tunes",
                    "sequences read ours / note_seq",
                    "ours all cores, cold",
                    "ours all cores, TF loaded",
                    "ours 1 worker",
                    "note_seq serial",
                    "speed-up cold",
                    "speed-up TF loaded",
                    "speed-up 1 worker",
                ],
                [midi_row, abc_row],
            )
        )
        print()
        print(
            "create_dataset on the same NoteSequences (rate = melodies per second; speed-up = note_seq time / ours, wall and CPU):"
        )
        print()
        print(
            markdown_table(
                [
                    "config",
                    "melodies ours / note_seq",
                    "steps ours / note_seq",
                    "(a) ours loop, 1 process",
                    "(b) create_dataset, all cores",
                    "(b1) create_dataset, 1 worker",
                    "(c) note_seq loop",
                    "speed-up (a)",
                    "speed-up (b)",
                ],
                dataset_rows,
            )
        )
    finally:
        if driver is not None:
            driver.close()
        shutil.rmtree(work_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
