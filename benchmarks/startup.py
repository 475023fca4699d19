"""Start-up time: `import melodylib`, `melody_rnn --help`, `convert --help`, a small convert.

Run with the project's venv:  .venv/bin/python benchmarks/startup.py [--quick]

Each command runs as a fresh subprocess, the commands round-robin, median of 5 (quick: 2). The
convert runs on 5 small MIDI files from tests/data/magenta/real_midi and is timed twice: until
its summary line ("read 5 of 5 music files ...") appears on stdout, and until the process exits.
A baseline `python -c pass` and `python -c "import tensorflow"` are timed too, for reference. One extra, instrumented run of each command (through
`melodylib.cli.main.main`, with an exit hook) reports whether TensorFlow ended up in sys.modules.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import PROJECT_ROOT, machine_header, markdown_table, median, progress  # noqa: E402

SMALL_FILES = (
    "oneill_101_air_3-4.mid",
    "oneill_119_slipjig_9-8.mid",
    "oneill_1001_jig_6-8.mid",
    "ryan_admirals_hornpipe.mid",
    "oneill_1376_reel_2-2.mid",
)

INSTRUMENTED = """
import atexit, json, sys
def report():
    sys.stderr.write("\\nSTARTUP_PROBE " + json.dumps({"tensorflow": "tensorflow" in sys.modules,
        "music21": "music21" in sys.modules, "pretty_midi": "pretty_midi" in sys.modules,
        "numpy": "numpy" in sys.modules, "modules": len(sys.modules)}) + "\\n")
atexit.register(report)
arguments = json.loads(sys.argv[1])
if arguments is None:
    import melodylib
else:
    from melodylib.cli.main import main
    sys.argv = ["melody_rnn", *arguments]
    code = main(arguments)
    sys.exit(code)
"""


def melody_rnn_command() -> list[str]:
    """The console script next to this Python (the venv's), else `python -m melodylib`."""
    script = Path(sys.executable).parent / "melody_rnn"
    return [str(script)] if script.exists() else [sys.executable, "-m", "melodylib"]


def time_command(
    command: list[str], summary_prefix: str | None = None
) -> tuple[float, float | None]:
    """(seconds to exit, seconds until a stdout line starting with summary_prefix, or None)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    summary_at = None
    for line in process.stdout:
        if summary_prefix and summary_at is None and line.startswith(summary_prefix):
            summary_at = time.perf_counter() - started
    process.stderr.read()
    code = process.wait()
    total = time.perf_counter() - started
    if code != 0:
        raise SystemExit(f"{' '.join(command)} exited with {code}")
    return total, summary_at


def probe(arguments: list[str] | None) -> dict:
    """Which heavy modules the command left in sys.modules (one instrumented run)."""
    completed = subprocess.run(
        [sys.executable, "-c", INSTRUMENTED, json.dumps(arguments)], capture_output=True, text=True
    )
    for line in completed.stderr.splitlines():
        if line.startswith("STARTUP_PROBE "):
            return json.loads(line[len("STARTUP_PROBE ") :])
    raise SystemExit(
        f"instrumented run of {arguments} printed no probe:\n{completed.stderr[-2000:]}"
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 repeats instead of 5")
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args(argv)
    repeats = args.repeats or (2 if args.quick else 5)

    work_dir = Path(tempfile.mkdtemp(prefix="melodylib_bench_startup_"))
    try:
        input_dir = work_dir / "small"
        input_dir.mkdir()
        for name in SMALL_FILES:
            shutil.copyfile(
                PROJECT_ROOT / "tests" / "data" / "magenta" / "real_midi" / name, input_dir / name
            )
        output_file = work_dir / "out" / "notesequences.tfrecord"
        cli = melody_rnn_command()
        convert_arguments = [
            "convert",
            "--input_dir",
            str(input_dir),
            "--output_file",
            str(output_file),
        ]
        cases = [
            ("python -c pass (baseline)", [sys.executable, "-c", "pass"], None, "skip"),
            (
                'python -c "import melodylib"',
                [sys.executable, "-c", "import melodylib"],
                None,
                None,
            ),
            (
                'python -c "import tensorflow" (reference)',
                [sys.executable, "-c", "import tensorflow"],
                None,
                "skip",
            ),
            ("melody_rnn --help", [*cli, "--help"], None, ["--help"]),
            ("melody_rnn convert --help", [*cli, "convert", "--help"], None, ["convert", "--help"]),
            (
                "melody_rnn convert (5 small MIDI files)",
                [*cli, *convert_arguments],
                "read ",
                convert_arguments,
            ),
        ]
        # One untimed run of each first (disk caches, .pyc files).
        for _, command, prefix, _ in cases:
            time_command(command, prefix)
        totals: dict[str, list[float]] = {label: [] for label, *_ in cases}
        summaries: dict[str, list[float]] = {label: [] for label, *_ in cases}
        for repeat in range(repeats):
            rotated = cases[repeat % len(cases) :] + cases[: repeat % len(cases)]
            for label, command, prefix, _ in rotated:
                total, summary_at = time_command(command, prefix)
                totals[label].append(total)
                if summary_at is not None:
                    summaries[label].append(summary_at)
            progress(f"repeat {repeat + 1}/{repeats} done")
        rows = []
        for label, _command, _prefix, probe_arguments in cases:
            found = {} if probe_arguments == "skip" else probe(probe_arguments)
            rows.append(
                [
                    label,
                    f"{median(totals[label]):.2f} s",
                    f"{median(summaries[label]):.2f} s" if summaries[label] else "-",
                    "-" if not found else ("yes" if found["tensorflow"] else "no"),
                    "-"
                    if not found
                    else ", ".join(
                        name for name in ("numpy", "pretty_midi", "music21") if found[name]
                    )
                    or "none",
                ]
            )
        print(
            machine_header(
                "Start-up",
                notes=[
                    f"each command a fresh subprocess; medians of {repeats} round-robin repeats after one untimed run",
                    "convert input: 5 small MIDI files from tests/data/magenta/real_midi (read serially: under the "
                    "parallel threshold)",
                ],
            )
        )
        print()
        print(
            markdown_table(
                [
                    "command",
                    "wall time to exit",
                    "until the summary line",
                    "TensorFlow imported",
                    "other heavy modules imported",
                ],
                rows,
            )
        )
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
