"""The whole `melody_rnn generate` process from each shipped bundle, numpy engine vs TensorFlow.

Run with the project's venv:  .venv/bin/python benchmarks/generate_process.py [--quick]

Per bundle in data/bundles (basic, mono, lookback, attention), each measurement one process,
start to exit (wall clock around `subprocess.run`):
`melody_rnn generate --bundle_file=data/bundles/<config>.bundle --num_outputs=10 --num_steps=128
--seed=0 --backend=numpy|tensorflow` (primer: the default middle C), writing into a fresh
temporary folder. The two engines alternate, the order rotating from round to round; the table
gives the median of the rounds, the ratio, and whether both wrote the same melodies (the same
seed must give the same log-likelihood lines; it does), with each process's peak resident memory
(`os.wait4`). Magenta 2.1.4's melody_rnn_generate on the
same task, measured before on this machine by vs_magenta.py (`MAGENTA_SECONDS`), is the reference
column.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import machine_header, markdown_table, median, progress, ratio  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ("basic_rnn", "mono_rnn", "lookback_rnn", "attention_rnn")
BACKENDS = ("numpy", "tensorflow")
# Magenta 2.1.4's melody_rnn_generate, 10 x 128, whole process, measured by vs_magenta.py on this
# machine: basic_rnn 17.7 s (2026-12), the others from the README's table (2026-11-25).
MAGENTA_SECONDS = {"basic_rnn": 17.7, "mono_rnn": 18.2, "lookback_rnn": 18.0, "attention_rnn": 27.3}


def generate_once(
    config: str, backend: str, args: argparse.Namespace
) -> tuple[float, float, list[str]]:
    """(wall seconds, peak RSS in MB, the log-likelihood lines) of one `melody_rnn generate`."""
    with tempfile.TemporaryDirectory() as folder:
        command = [
            sys.executable,
            "-m",
            "melodylib",
            "generate",
            f"--bundle_file={ROOT / 'data' / 'bundles' / f'{config}.bundle'}",
            f"--output_dir={folder}",
            f"--num_outputs={args.num_outputs}",
            f"--num_steps={args.num_steps}",
            "--seed=0",
            f"--backend={backend}",
        ]
        log = Path(folder) / "log.txt"
        with open(log, "w") as output:
            started = time.perf_counter()
            process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
            _, status, usage = os.wait4(process.pid, 0)
            seconds = time.perf_counter() - started
        text = log.read_text()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{text[-3000:]}")
    scores = [line.rsplit(" ", 1)[-1] for line in text.splitlines() if ".mid:" in line]
    return seconds, usage.ru_maxrss / 1024, scores


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="basic_rnn only, one round")
    parser.add_argument("--configs", default=None, help=f"default {','.join(CONFIGS)}")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default 3; quick 1)")
    parser.add_argument("--num-outputs", type=int, default=10)
    parser.add_argument("--num-steps", type=int, default=128)
    args = parser.parse_args(argv)
    args.rounds = args.rounds or (1 if args.quick else 3)
    if args.configs is None:
        args.configs = "basic_rnn" if args.quick else ",".join(CONFIGS)
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    header = machine_header(
        "Whole `melody_rnn generate` process: numpy engine vs TensorFlow",
        notes=[
            f"{args.num_outputs} outputs of {args.num_steps} steps from data/bundles/<config>.bundle, "
            f"seed 0; wall clock, start to exit; medians of {args.rounds} alternating rounds",
            "Magenta 2.1.4 melody_rnn_generate on the same task, measured before by vs_magenta.py "
            "(not in this run): "
            + ", ".join(f"{name} {seconds} s" for name, seconds in MAGENTA_SECONDS.items()),
        ],
    )
    rows = []
    for config in [name for name in args.configs.split(",") if name]:
        times: dict[str, list[float]] = {backend: [] for backend in BACKENDS}
        memory: dict[str, list[float]] = {backend: [] for backend in BACKENDS}
        scores: dict[str, list[str]] = {}
        for round_index in range(args.rounds):
            order = BACKENDS if round_index % 2 == 0 else BACKENDS[::-1]
            for backend in order:
                seconds, megabytes, scores[backend] = generate_once(config, backend, args)
                times[backend].append(seconds)
                memory[backend].append(megabytes)
            progress(
                f"{config} round {round_index + 1}/{args.rounds}: "
                + ", ".join(f"{backend} {times[backend][-1]:.2f} s" for backend in BACKENDS)
            )
        numpy_seconds, tensorflow_seconds = median(times["numpy"]), median(times["tensorflow"])
        rows.append(
            [
                config,
                f"{numpy_seconds:.2f} s",
                f"{tensorflow_seconds:.2f} s",
                ratio(tensorflow_seconds, numpy_seconds),
                f"{MAGENTA_SECONDS[config]} s",
                ratio(MAGENTA_SECONDS[config], numpy_seconds),
                f"{median(memory['numpy']):.0f} MB / {median(memory['tensorflow']):.0f} MB",
                "yes" if scores["numpy"] == scores["tensorflow"] else "NO",
            ]
        )
    print(header)
    print()
    print(
        markdown_table(
            [
                "bundle",
                "numpy",
                "tensorflow",
                "tensorflow / numpy",
                "Magenta 2.1.4 (earlier)",
                "Magenta / numpy",
                "peak RSS numpy / tensorflow",
                "same melodies",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
