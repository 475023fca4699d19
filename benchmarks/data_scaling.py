"""How `convert` and `create_dataset` scale with the number of files: time and peak memory.

For each size (default 2,000, 20,000 and 100,000 files) the script fills a folder with copies of
the real MIDI files in tests/data/magenta/real_midi (in subfolders of 1,000, read with
--recursive), then runs `melody_rnn convert` and `melody_rnn create_dataset` on it, each as a
child process, and reports per step:

- wall time, CPU time (user + system of the child and its worker processes, from wait4) and
  files per CPU-second (= files/s per core: what one fully used core does);
- the main process's peak RSS (VmHWM from /proc, read while it runs) and the largest peak of any
  process of the run (ru_maxrss of wait4, the main process or one worker): the numbers that
  must not grow with the number of files;
- the largest sum of the RSS of all its processes seen while sampling every 0.2 s.

It ends with a projection for the Lakh MIDI data set (176,581 files) from the largest size
measured: on this machine with its workers, and per core, assuming the work divides evenly.
Our copies are small (a few KB each, 32 distinct pieces); Lakh's files are larger on average, so
scale the projection by their size. Run on an idle machine for the best numbers; `--sizes`
leaves out the large sizes on a small disk (100,000 files need about 15 GB in --work_dir,
mostly the training data and its temporary copy while create_dataset orders it).

    .venv/bin/python benchmarks/data_scaling.py                      # 2k, 20k, 100k: 15-40 min
    .venv/bin/python benchmarks/data_scaling.py --sizes 2000,20000   # 3-8 min
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import PROJECT_ROOT, machine_header, markdown_table, nproc  # noqa: E402

SOURCE_FOLDER = PROJECT_ROOT / "tests" / "data" / "magenta" / "real_midi"
LAKH_FILES = 176_581  # the Lakh MIDI Dataset v0.1, LMD-full
FILES_PER_FOLDER = 1000


@dataclass
class StepResult:
    """One child run: its command's name, times and memory."""

    step: str
    files: int
    wall_seconds: float
    cpu_seconds: float
    main_peak_rss_mb: float
    largest_process_peak_rss_mb: float
    peak_total_rss_mb: float
    output_mb: float
    exit_code: int


def make_input_folder(folder: Path, size: int) -> int:
    """Copy the real MIDI files round-robin into `size` files under `folder`; returns their bytes."""
    sources = sorted(SOURCE_FOLDER.glob("*.mid"))
    if not sources:
        sys.exit(f"no MIDI files in {SOURCE_FOLDER}")
    total = 0
    for index, source in zip(range(size), itertools.cycle(sources)):
        subfolder = folder / f"part_{index // FILES_PER_FOLDER:04d}"
        if index % FILES_PER_FOLDER == 0:
            subfolder.mkdir(parents=True, exist_ok=True)
        target = subfolder / f"{index:06d}_{source.name}"
        shutil.copyfile(source, target)
        total += target.stat().st_size
    return total


def _process_tree(pid: int) -> list[int]:
    """The process and all its descendants, from /proc/<pid>/task/*/children."""
    found, frontier = [], [pid]
    while frontier:
        current = frontier.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                frontier.extend(int(child) for child in (task / "children").read_text().split())
            except (OSError, ValueError):
                continue
    return found


def _status_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def run_child(step: str, files: int, command: list[str], output: Path) -> StepResult:
    """Run one command as a child, sampling its memory, and collect its rusage with wait4."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT
    )
    samples = {"main_hwm_kb": 0, "total_kb": 0}
    finished = threading.Event()

    def sample() -> None:
        while not finished.is_set():
            samples["main_hwm_kb"] = max(samples["main_hwm_kb"], _status_kb(process.pid, "VmHWM"))
            tree = _process_tree(process.pid)
            total = sum(_status_kb(pid, "VmRSS") for pid in tree)
            samples["total_kb"] = max(samples["total_kb"], total)
            finished.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    log = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    finished.set()
    sampler.join()
    if process.returncode != 0:
        print(log.decode(errors="replace")[-3000:], file=sys.stderr)
    output_bytes = sum(path.stat().st_size for path in output.rglob("*") if path.is_file())
    return StepResult(
        step=step,
        files=files,
        wall_seconds=wall,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        main_peak_rss_mb=samples["main_hwm_kb"] / 1024,
        largest_process_peak_rss_mb=usage.ru_maxrss / 1024,  # kilobytes on Linux
        peak_total_rss_mb=samples["total_kb"] / 1024,
        output_mb=output_bytes / 2**20,
        exit_code=process.returncode,
    )


def measure_size(size: int, work_dir: Path, arguments: argparse.Namespace) -> list[StepResult]:
    """Make the input folder of `size` files, run convert and create_dataset on it, clean up."""
    folder = work_dir / f"files_{size}"
    outputs = work_dir / f"outputs_{size}"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.rmtree(outputs, ignore_errors=True)
    print(f"[{size} files] copying", file=sys.stderr, flush=True)
    input_bytes = make_input_folder(folder, size)
    print(f"[{size} files] {input_bytes / 2**20:.0f} MB; convert", file=sys.stderr, flush=True)
    python = [sys.executable, "-m", "melodylib"]
    shards = ["--num_shards", str(arguments.num_shards)]
    workers = ["--num_workers", str(arguments.num_workers)]
    sequences = outputs / "notesequences"
    convert = run_child(
        "convert",
        size,
        [
            *python,
            "convert",
            "--input_dir",
            str(folder),
            "--recursive",
            "--output_file",
            str(sequences / "notesequences.tfrecord"),
            *workers,
            *shards,
        ],
        sequences,
    )
    print(f"[{size} files] create_dataset", file=sys.stderr, flush=True)
    dataset = outputs / "dataset"
    create = run_child(
        "create_dataset",
        size,
        [
            *python,
            "create_dataset",
            "--config",
            arguments.config,
            "--input",
            str(sequences / "notesequences.tfrecord"),
            "--output_dir",
            str(dataset),
            *workers,
            *shards,
        ],
        dataset,
    )
    info_path = dataset / "dataset_info.json"
    if info_path.exists():
        info = json.loads(info_path.read_text())
        print(
            f"[{size} files] {info['training_melodies']} training and {info['eval_melodies']} "
            "eval melodies",
            file=sys.stderr,
        )
    if not arguments.keep:
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(outputs, ignore_errors=True)
    return [convert, create]


def projection_rows(results: list[StepResult], workers: int) -> list[list[str]]:
    """Hours for LAKH_FILES files per step, from the largest size measured."""
    largest = max(result.files for result in results)
    rows = []
    for result in (result for result in results if result.files == largest):
        cpu_per_file = result.cpu_seconds / result.files
        wall_per_file = result.wall_seconds / result.files
        per_core = [
            f"{LAKH_FILES * cpu_per_file / cores / 3600:.2f} h" for cores in (1, 2, 4, 8, 16)
        ]
        rows.append(
            [result.step, f"{LAKH_FILES * wall_per_file / 3600:.2f} h ({workers} workers)"]
            + per_core
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="2000,20000,100000", help="comma-separated file counts")
    parser.add_argument(
        "--work_dir", default=None, help="where to copy files (default: a temp dir)"
    )
    parser.add_argument("--num_workers", type=int, default=nproc())
    parser.add_argument("--num_shards", type=int, default=1)
    parser.add_argument("--config", default="basic_rnn")
    parser.add_argument("--keep", action="store_true", help="keep the files and outputs")
    arguments = parser.parse_args()
    sizes = [int(size) for size in arguments.sizes.split(",") if size.strip()]
    work_dir = Path(arguments.work_dir or tempfile.mkdtemp(prefix="melodylib_scaling_"))
    work_dir.mkdir(parents=True, exist_ok=True)
    free_gb = shutil.disk_usage(work_dir).free / 2**30
    print(f"work dir {work_dir} ({free_gb:.0f} GB free)", file=sys.stderr)
    results: list[StepResult] = []
    header = machine_header(
        "Data scaling: convert and create_dataset",
        notes=[
            f"inputs: copies of the {len(list(SOURCE_FOLDER.glob('*.mid')))} MIDI files of "
            f"tests/data/magenta/real_midi; {arguments.num_workers} workers; "
            f"--num_shards {arguments.num_shards}; create_dataset --config {arguments.config}",
            "CPU s: user + system of the child and its workers; files/s per core = files / CPU s",
            "main peak: VmHWM of the main process; largest peak: ru_maxrss (the largest "
            "single process); total: the largest sum of RSS over the process tree (sampled)",
        ],
    )
    try:
        for size in sizes:
            for result in measure_size(size, work_dir, arguments):
                results.append(result)
                print(json.dumps(dataclasses.asdict(result)), file=sys.stderr, flush=True)
    finally:
        if not arguments.work_dir and not arguments.keep:
            shutil.rmtree(work_dir, ignore_errors=True)
    print(header)
    print()
    print(
        markdown_table(
            [
                "step",
                "files",
                "wall s",
                "CPU s",
                "files/s (wall)",
                "files/s per core",
                "main peak MB",
                "largest peak MB",
                "total peak MB",
                "output MB",
                "exit",
            ],
            [
                [
                    result.step,
                    f"{result.files:,}",
                    f"{result.wall_seconds:.1f}",
                    f"{result.cpu_seconds:.1f}",
                    f"{result.files / result.wall_seconds:.0f}",
                    f"{result.files / result.cpu_seconds:.0f}",
                    f"{result.main_peak_rss_mb:.0f}",
                    f"{result.largest_process_peak_rss_mb:.0f}",
                    f"{result.peak_total_rss_mb:.0f}",
                    f"{result.output_mb:.0f}",
                    result.exit_code,
                ]
                for result in results
            ],
        )
    )
    print()
    print(f"Projected time for the Lakh MIDI set ({LAKH_FILES:,} files of our size):")
    print()
    print(
        markdown_table(
            ["step", "this machine", "1 core", "2 cores", "4 cores", "8 cores", "16 cores"],
            projection_rows(results, arguments.num_workers),
        )
    )


if __name__ == "__main__":
    main()
