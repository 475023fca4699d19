"""melodylib next to the original Magenta 2.1.4 Melody RNN: same data, same config, one run.

Run with the project's venv:  .venv/bin/python benchmarks/vs_magenta.py [--quick] [--configs C,...]
Magenta runs in its own virtual environment (`--magenta_python`, default /tmp/magenta-venv/bin/python;
set-up in benchmarks/README.md); it is never imported here and never a melodylib dependency.

Data: the course corpus's `data/corpus/full/<config>/training_melodies.tfrecord`. Magenta's reader
(`tf.TFRecordReader`) cannot read GZIP, so the file is decompressed once into the work folder and
BOTH systems train on that same plain file (the records are Magenta's SequenceExample format).
Hparams: each config's defaults (batch 128, layers [128, 128], attention over 40 steps for
attention_rnn); no --hparams is passed to either side.

Per config, each measurement one process of each system, the two run back to back (which system goes
first alternates from config to config):

1. Training, 50 steps from a fresh run directory:
   ours `melody_rnn train --num_training_steps 50 --summary_frequency 10 --seed 0`;
   Magenta `melody_rnn_train --num_training_steps=50 --summary_frequency=10`.
   - whole process: wall time from the process's start to its exit (imports, graph building, the
     input pipeline's start-up, 50 steps, the final checkpoint);
   - steps/s after start-up: ours, from its log lines, steps 11-50 (the first window holds the trace of
     the step function); Magenta, from its StepCounterHook's `global_step/sec` lines (steps 2-41:
     the hook's clock starts after the first step);
   - useful tokens/s = real (non-padding) melody steps trained on per second after start-up:
     ours = the exact number of unmasked steps in the batches of steps 11-50 divided by their time.
       `train` is seeded, so the same `make_dataset(seed=0)` pipeline is replayed in a child process to
       count each batch's mask; the per-window padding it gives is checked against the log's
       `padding` column (the table says "replayed" when they agree);
     Magenta = steps/s x batch size (128) x the mean melody length of the training file (steps per
       SequenceExample). Its queue draws melodies at random and pads every batch to its longest one,
       so a step trains on 128 melodies of mean length, whatever the padding; the padding share of
       its batches is estimated as 1 - mean / E[longest of 128 random melodies] (the expectation by
       sampling the file's lengths);
   - peak memory: the maximum resident set size of the process (`os.wait4`'s rusage).
2. Generation, 10 outputs of 128 steps (primer: one middle C, temperature 1, no beam search):
   ours from `data/bundles/<config>.bundle`; Magenta from a bundle written by its own
   `melody_rnn_generate --save_generator_bundle` from its 50-step run (weights do not change speed;
   the bundle bakes in the batch size in force when it was written, the default 128 unless
   `--magenta_bundle_hparams` says otherwise).
   - whole process: `melody_rnn generate --bundle_file ... --num_outputs 10 --num_steps 128` and
     `melody_rnn_generate --bundle_file=... --num_outputs=10 --num_steps=128 --primer_melody=[60]`,
     start to exit (MIDI files written), and its peak memory;
   - sampling loop, in-process after a warm-up: ours `MelodyGenerator(bundle).generate(num_outputs=10,
     num_steps=128)` (median of `--sampling_repeats`); Magenta its generator's `generate()` called
     10 times as melody_rnn_generate does, by `tools/magenta_reference/time_generation.py` inside
     its venv (the sum of the 10 calls; median of `--magenta_sampling_repeats`).
3. Ratios ours vs Magenta against the project's targets: useful tokens/s >= 2x, sampling loop >= 50x,
   whole-process training >= 1.5x and generation >= 3x; attention_rnn's cost per training step (per
   useful token, so batches of different lengths compare) and per generation step (sampling loop)
   <= 2x basic_rnn's.

Every number is one run on a machine that may be shared: the header gives the load average at the
start and the end. Progress goes to stderr, the tables to stdout.
"""

from __future__ import annotations

import argparse
import gzip
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
from bench_common import PROJECT_ROOT, machine_header, markdown_table, median, progress  # noqa: E402

CONFIGS = ("basic_rnn", "mono_rnn", "lookback_rnn", "attention_rnn")
DEFAULT_MAGENTA_PYTHON = "/tmp/magenta-venv/bin/python"
MAGENTA_TOOLS = PROJECT_ROOT / "tools" / "magenta_reference"
BATCH_SIZE = 128  # every config's default; neither side is given --hparams
PADDING_SAMPLES = 2000  # random batches drawn to estimate Magenta's padding
TARGETS = {
    "tokens": 2.0,
    "sampling": 50.0,
    "train_process": 1.5,
    "generate_process": 3.0,
    "attention": 2.0,
}
MAGENTA_SETUP = """Magenta's virtual environment was not found at {python}.
Set it up once (about 3 minutes; Magenta 2.1.4 pins versions that no longer install, hence --no-deps):

    python3.11 -m venv /tmp/magenta-venv
    /tmp/magenta-venv/bin/pip install --no-deps magenta==2.1.4
    /tmp/magenta-venv/bin/pip install tensorflow==2.21.0 "tf-keras~=2.21.0" tensorflow-probability tf-slim note-seq==0.0.5

or point --magenta_python at the python of an existing one. See benchmarks/README.md (vs_magenta.py)
and tools/magenta_reference/README.md."""


# --------------------------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------------------------
def run_measured(command: list[str], log_path: Path, environment: dict[str, str]) -> dict:
    """Run a command to completion (stdout and stderr to log_path); its wall time and peak RSS."""
    with open(log_path, "w") as log:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=environment)
        _, status, usage = os.wait4(process.pid, 0)
        wall_seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(
        status
    )  # reaped here, so Popen must not wait again
    if process.returncode != 0:
        tail = log_path.read_text(errors="replace")[-3000:]
        raise SystemExit(
            f"{' '.join(command)} failed (exit {process.returncode}); log {log_path}:\n{tail}"
        )
    return {
        "wall_seconds": wall_seconds,
        "peak_rss_mb": usage.ru_maxrss / 1024.0,
    }  # kilobytes on Linux


def our_environment() -> dict[str, str]:
    """The environment of our processes (TensorFlow's C++ info lines off)."""
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")


def magenta_environment() -> dict[str, str]:
    """The environment of Magenta's processes: Keras 2 (its RNN cells need it), C++ info lines off."""
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", TF_USE_LEGACY_KERAS="1")


def our_cli() -> list[str]:
    """The `melody_rnn` console script next to this interpreter (else `python -m melodylib`)."""
    script = Path(sys.executable).parent / "melody_rnn"
    return [str(script)] if script.exists() else [sys.executable, "-m", "melodylib"]


def magenta_entry_point(args: argparse.Namespace, module: str) -> list[str]:
    """A Magenta console entry point run through tools/magenta_reference/run_magenta.py (the shims)."""
    return [
        args.magenta_python,
        str(MAGENTA_TOOLS / "run_magenta.py"),
        f"magenta.models.melody_rnn.{module}",
    ]


def check_magenta_python(path: str) -> dict[str, str]:
    """Magenta's and TensorFlow's versions in the given venv; exit with set-up instructions if unusable."""
    if not path or not Path(path).exists():
        raise SystemExit(MAGENTA_SETUP.format(python=path or "(empty --magenta_python)"))
    probe = (
        "import importlib.metadata as m, json; "
        "print(json.dumps({n: m.version(n) for n in ('magenta', 'tensorflow', 'note-seq')}))"
    )
    completed = subprocess.run([path, "-c", probe], capture_output=True, text=True)
    if completed.returncode != 0:
        raise SystemExit(
            MAGENTA_SETUP.format(python=path)
            + f"\n\n{path} has no Magenta:\n{completed.stderr[-800:]}"
        )
    return json.loads(completed.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------
def plain_training_file(corpus: Path, config_name: str, work_dir: Path) -> Path:
    """The config's training TFRecord without GZIP (Magenta cannot read GZIP); decompressed once, then reused."""
    source = corpus / config_name / "training_melodies.tfrecord"
    if not source.exists():
        raise SystemExit(
            f"{source} does not exist; build the course corpus first (melody_rnn build_corpus)"
        )
    with open(source, "rb") as handle:
        is_gzip = handle.read(2) == b"\x1f\x8b"
    if not is_gzip:
        return source
    target = work_dir / "data" / f"{config_name}_training_melodies.tfrecord"
    stamp = target.with_suffix(".source")
    signature = f"{source.resolve()} {source.stat().st_size} {source.stat().st_mtime_ns}"
    if target.exists() and stamp.exists() and stamp.read_text() == signature:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    progress(f"  decompressing {source} for Magenta's reader ...")
    partial = target.with_suffix(".partial")
    with gzip.open(source, "rb") as compressed, open(partial, "wb") as plain:
        shutil.copyfileobj(compressed, plain, 1 << 22)
    partial.replace(target)
    stamp.write_text(signature)
    return target


# --------------------------------------------------------------------------------------------
# Log parsing
# --------------------------------------------------------------------------------------------
OUR_WINDOW = re.compile(r"Train\s+step\s+(\d+):.*?([0-9.]+) steps/s, padding ([0-9.]+)%")
MAGENTA_RATE = re.compile(r"^INFO:tensorflow:global_step/sec: ([0-9.eE+-]+)", re.MULTILINE)


def our_windows(log_text: str) -> list[dict]:
    """Our train log's windows: the step that closes each, its steps/s and padded fraction."""
    return [
        {
            "step": int(step),
            "steps_per_second": float(rate),
            "padded_fraction": float(padding) / 100.0,
        }
        for step, rate, padding in OUR_WINDOW.findall(log_text)
    ]


def magenta_rates(log_text: str) -> list[float]:
    """The global_step/sec values Magenta's StepCounterHook logged (each line once)."""
    return [float(value) for value in MAGENTA_RATE.findall(log_text)]


# --------------------------------------------------------------------------------------------
# Children (project venv): replaying our pipeline, timing our sampling loop
# --------------------------------------------------------------------------------------------
def child_replay(args: argparse.Namespace) -> None:
    """Print JSON: real and padded slots of the first N batches `train --seed S` draws, and the file's lengths."""
    import keras
    import numpy as np
    import tensorflow as tf

    from melodylib.data.datasets import make_dataset
    from melodylib.encoding.configs import get_config

    config = get_config(args.child_replay)
    keras.utils.set_random_seed(args.seed)  # what train(seed=...) does before building its pipeline
    dataset = make_dataset(
        args.data,
        config.encoder.input_size,
        config.hparams.batch_size,
        shuffle=True,
        repeat=True,
        seed=args.seed,
    )
    real, slots = [], []
    for _, labels, mask in dataset.take(args.replay_steps):
        real.append(float(tf.reduce_sum(mask)))
        slots.append(float(tf.size(labels)))

    def label_length(record):
        _, sequence = tf.io.parse_single_sequence_example(
            record, sequence_features={"labels": tf.io.FixedLenSequenceFeature([], tf.int64)}
        )
        return tf.shape(sequence["labels"])[0]

    lengths = np.fromiter(
        tf.data.TFRecordDataset(args.data)
        .map(label_length, num_parallel_calls=tf.data.AUTOTUNE)
        .as_numpy_iterator(),
        dtype=np.int64,
    )
    rng = np.random.default_rng(0)
    longest = lengths[
        rng.integers(0, len(lengths), size=(PADDING_SAMPLES, config.hparams.batch_size))
    ].max(axis=1)
    print(
        json.dumps(
            {
                "real_steps": real,
                "slots": slots,
                "melodies": int(len(lengths)),
                "mean_length": float(lengths.mean()),
                "max_length": int(lengths.max()),
                "magenta_padded_fraction": float(1.0 - lengths.mean() / longest.mean()),
            }
        )
    )


def child_sampling(args: argparse.Namespace) -> None:
    """Print JSON: our sampling loop's first call and timed calls, from a bundle, in this process."""
    from melodylib.bundles.reading import load_bundle
    from melodylib.generation.generator import MelodyGenerator

    generator = MelodyGenerator(load_bundle(args.bundle))

    def generate():
        return generator.generate(num_outputs=args.num_outputs, num_steps=args.num_steps, seed=0)

    started = time.perf_counter()
    melodies = generate()
    first_call = time.perf_counter() - started
    timed = []
    for _ in range(args.sampling_repeats):
        started = time.perf_counter()
        generate()
        timed.append(time.perf_counter() - started)
    print(
        json.dumps(
            {
                "first_call_seconds": first_call,
                "seconds": timed,
                "lengths": [len(melody.events) for melody in melodies],
            }
        )
    )


def run_child_json(command: list[str], environment: dict[str, str], what: str) -> dict:
    """Run a child that prints one JSON line last; return it parsed."""
    completed = subprocess.run(command, capture_output=True, text=True, env=environment)
    if completed.returncode != 0:
        raise SystemExit(f"{what} failed ({completed.returncode}):\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def this_script(*options: str) -> list[str]:
    """This script run as a child with the given options, by this interpreter."""
    return [sys.executable, str(Path(__file__).resolve()), *options]


# --------------------------------------------------------------------------------------------
# One config
# --------------------------------------------------------------------------------------------
def train_ours(config_name: str, data: Path, folder: Path, args: argparse.Namespace) -> dict:
    """`melody_rnn train` from a fresh run directory: wall time, peak RSS and the log's windows."""
    run_dir = folder / "ours_run"
    shutil.rmtree(run_dir, ignore_errors=True)
    log_path = folder / "ours_train.log"
    measured = run_measured(
        our_cli()
        + [
            "train",
            "--config",
            config_name,
            "--run_dir",
            str(run_dir),
            "--sequence_example_file",
            str(data),
            "--num_training_steps",
            str(args.num_training_steps),
            "--summary_frequency",
            str(args.summary_frequency),
            "--seed",
            "0",
        ],
        log_path,
        our_environment(),
    )
    measured["windows"] = our_windows(log_path.read_text(errors="replace"))
    return measured


def train_magenta(config_name: str, data: Path, folder: Path, args: argparse.Namespace) -> dict:
    """Magenta's melody_rnn_train from a fresh run directory: wall time, peak RSS, StepCounterHook rates."""
    run_dir = folder / "magenta_run"
    shutil.rmtree(run_dir, ignore_errors=True)
    log_path = folder / "magenta_train.log"
    measured = run_measured(
        magenta_entry_point(args, "melody_rnn_train")
        + [
            f"--config={config_name}",
            f"--run_dir={run_dir}",
            f"--sequence_example_file={data}",
            f"--num_training_steps={args.num_training_steps}",
            f"--summary_frequency={args.summary_frequency}",
        ],
        log_path,
        magenta_environment(),
    )
    measured["rates"] = magenta_rates(log_path.read_text(errors="replace"))
    return measured


def magenta_bundle(config_name: str, folder: Path, args: argparse.Namespace) -> Path:
    """Magenta's own bundle from its training run (not timed)."""
    bundle = folder / f"magenta_{config_name}.mag"
    command = magenta_entry_point(args, "melody_rnn_generate") + [
        f"--config={config_name}",
        f"--run_dir={folder / 'magenta_run'}",
        f"--bundle_file={bundle}",
        "--save_generator_bundle",
        "--bundle_description=vs_magenta.py benchmark bundle",
    ]
    if args.magenta_bundle_hparams:
        command.append(f"--hparams={args.magenta_bundle_hparams}")
    run_measured(command, folder / "magenta_bundle.log", magenta_environment())
    return bundle


def generate_ours(bundle: Path, folder: Path, args: argparse.Namespace) -> dict:
    """`melody_rnn generate` from our bundle, start to exit."""
    output_dir = folder / "ours_generated"
    shutil.rmtree(output_dir, ignore_errors=True)
    return run_measured(
        our_cli()
        + [
            "generate",
            "--bundle_file",
            str(bundle),
            "--output_dir",
            str(output_dir),
            "--num_outputs",
            str(args.num_outputs),
            "--num_steps",
            str(args.num_steps),
            "--seed",
            "0",
        ],
        folder / "ours_generate.log",
        our_environment(),
    )


def generate_magenta(bundle: Path, folder: Path, args: argparse.Namespace) -> dict:
    """Magenta's melody_rnn_generate from its bundle, start to exit."""
    output_dir = folder / "magenta_generated"
    shutil.rmtree(output_dir, ignore_errors=True)
    return run_measured(
        magenta_entry_point(args, "melody_rnn_generate")
        + [
            f"--bundle_file={bundle}",
            f"--output_dir={output_dir}",
            f"--num_outputs={args.num_outputs}",
            f"--num_steps={args.num_steps}",
            "--primer_melody=[60]",
        ],
        folder / "magenta_generate.log",
        magenta_environment(),
    )


def sampling_ours(bundle: Path, args: argparse.Namespace) -> dict:
    """Our sampling loop timed in a fresh child process (see child_sampling)."""
    return run_child_json(
        this_script(
            "--child_sampling",
            str(bundle),
            "--num_outputs",
            str(args.num_outputs),
            "--num_steps",
            str(args.num_steps),
            "--sampling_repeats",
            str(args.sampling_repeats),
        ),
        our_environment(),
        "our sampling child",
    )


def sampling_magenta(bundle: Path, args: argparse.Namespace) -> dict:
    """Magenta's sampling loop timed inside its venv by tools/magenta_reference/time_generation.py."""
    return run_child_json(
        [
            args.magenta_python,
            str(MAGENTA_TOOLS / "time_generation.py"),
            "--bundle_file",
            str(bundle),
            "--num_outputs",
            str(args.num_outputs),
            "--num_steps",
            str(args.num_steps),
            "--repeats",
            str(args.magenta_sampling_repeats),
        ],
        magenta_environment(),
        "Magenta's time_generation.py",
    )


def our_bundle(config_name: str) -> Path:
    """data/bundles/<config>.bundle (the project's shipped bundle)."""
    path = PROJECT_ROOT / "data" / "bundles" / f"{config_name}.bundle"
    if not path.exists():
        raise SystemExit(
            f"{path} does not exist; train it or pass a config that has a bundle in data/bundles"
        )
    return path


def in_order(ours_first: bool, ours, magenta):
    """Run the two callables, ours first or Magenta first; return (ours' result, Magenta's result)."""
    if ours_first:
        first = ours()
        return first, magenta()
    second = magenta()
    return ours(), second


def bench_config(config_name: str, index: int, args: argparse.Namespace) -> dict:
    """All the measurements of one config (raw numbers; `summarize` turns them into rates)."""
    folder = args.work_dir / config_name
    folder.mkdir(parents=True, exist_ok=True)
    data = plain_training_file(args.corpus, config_name, args.work_dir)
    ours_first = index % 2 == 0
    progress(
        f"{config_name}: training {args.num_training_steps} steps ({'ours' if ours_first else 'Magenta'} first) ..."
    )
    train = in_order(
        ours_first,
        lambda: train_ours(config_name, data, folder, args),
        lambda: train_magenta(config_name, data, folder, args),
    )
    progress(
        f"  train wall: ours {train[0]['wall_seconds']:.1f} s, Magenta {train[1]['wall_seconds']:.1f} s;"
        " replaying our input pipeline ..."
    )
    replay = run_child_json(
        this_script(
            "--child_replay",
            config_name,
            "--data",
            str(data),
            "--replay_steps",
            str(args.num_training_steps),
            "--seed",
            "0",
        ),
        our_environment(),
        "the replay child",
    )
    progress(
        f"{config_name}: Magenta's bundle, then generation ({args.num_outputs} x {args.num_steps} steps) ..."
    )
    magenta_bundle_path = magenta_bundle(config_name, folder, args)
    ours_bundle_path = our_bundle(config_name)
    generate = in_order(
        ours_first,
        lambda: generate_ours(ours_bundle_path, folder, args),
        lambda: generate_magenta(magenta_bundle_path, folder, args),
    )
    progress(
        f"  generate wall: ours {generate[0]['wall_seconds']:.1f} s, Magenta {generate[1]['wall_seconds']:.1f} s;"
        " sampling loops ..."
    )
    sampling = in_order(
        ours_first,
        lambda: sampling_ours(ours_bundle_path, args),
        lambda: sampling_magenta(magenta_bundle_path, args),
    )
    return {
        "config": config_name,
        "data": str(data),
        "ours_first": ours_first,
        "replay": replay,
        "train": {"ours": train[0], "magenta": train[1]},
        "generate": {"ours": generate[0], "magenta": generate[1]},
        "sampling": {"ours": sampling[0], "magenta": sampling[1]},
        "bundles": {"ours": str(ours_bundle_path), "magenta": str(magenta_bundle_path)},
    }


# --------------------------------------------------------------------------------------------
# From raw numbers to rates and ratios
# --------------------------------------------------------------------------------------------
def summarize(raw: dict, args: argparse.Namespace) -> dict:
    """Rates, useful tokens/s and sampling medians of one config (see the module docstring)."""
    frequency = args.summary_frequency
    replay = raw["replay"]
    windows = raw["train"]["ours"]["windows"]
    later = windows[1:] or windows  # the first window holds the trace
    our_seconds = sum(frequency / window["steps_per_second"] for window in later)
    our_steps = frequency * len(later)
    first_step = later[0]["step"] - frequency if later else 0
    our_tokens = sum(replay["real_steps"][first_step : first_step + our_steps])
    replayed = all(
        abs(
            window["padded_fraction"]
            - (
                1.0
                - sum(replay["real_steps"][window["step"] - frequency : window["step"]])
                / sum(replay["slots"][window["step"] - frequency : window["step"]])
            )
        )
        < 0.0011
        for window in windows
    )
    if not replayed:  # fall back to the expectation Magenta's figure uses
        our_tokens = our_steps * BATCH_SIZE * replay["mean_length"]
    our_rate = our_steps / our_seconds if our_seconds else float("nan")
    our_padding = 1.0 - sum(replay["real_steps"]) / sum(replay["slots"])
    magenta_window_rates = raw["train"]["magenta"]["rates"]
    magenta_seconds = sum(frequency / rate for rate in magenta_window_rates)
    magenta_rate = (
        frequency * len(magenta_window_rates) / magenta_seconds if magenta_seconds else float("nan")
    )
    ours_sampling = median(raw["sampling"]["ours"]["seconds"])
    magenta_sampling = median(
        [sum(durations) for durations in raw["sampling"]["magenta"]["output_seconds"]]
    )
    return {
        "config": raw["config"],
        "mean_length": replay["mean_length"],
        "replayed": replayed,
        "ours": {
            "train_seconds": raw["train"]["ours"]["wall_seconds"],
            "steps_per_second": our_rate,
            "tokens_per_second": our_tokens / our_seconds if our_seconds else float("nan"),
            "padded_fraction": our_padding,
            "train_rss_mb": raw["train"]["ours"]["peak_rss_mb"],
            "generate_seconds": raw["generate"]["ours"]["wall_seconds"],
            "generate_rss_mb": raw["generate"]["ours"]["peak_rss_mb"],
            "sampling_seconds": ours_sampling,
        },
        "magenta": {
            "train_seconds": raw["train"]["magenta"]["wall_seconds"],
            "steps_per_second": magenta_rate,
            "tokens_per_second": magenta_rate * BATCH_SIZE * replay["mean_length"],
            "padded_fraction": replay["magenta_padded_fraction"],
            "train_rss_mb": raw["train"]["magenta"]["peak_rss_mb"],
            "generate_seconds": raw["generate"]["magenta"]["wall_seconds"],
            "generate_rss_mb": raw["generate"]["magenta"]["peak_rss_mb"],
            "sampling_seconds": magenta_sampling,
            "graph_batch_size": raw["sampling"]["magenta"].get("graph_batch_size"),
        },
    }


def times_better(ours: float, magenta: float, higher_is_better: bool) -> float:
    """How many times better ours is (rates: ours / Magenta; times: Magenta / ours)."""
    if higher_is_better:
        return ours / magenta if magenta else float("nan")
    return magenta / ours if ours else float("nan")


def against(value: float, target: float, at_most: bool = False) -> str:
    """'3.10x (met: >= 2x)'; 'n/a' when a rate is missing (too few steps for a log window)."""
    if value != value:  # NaN
        return "n/a"
    met = value <= target if at_most else value >= target
    return f"{value:.2f}x ({'met' if met else 'NOT met'}: {'<=' if at_most else '>='} {target:g}x)"


def per_config_rows(summary: dict) -> list[list[str]]:
    """The main table's two rows of one config (ours, then Magenta's)."""
    rows = []
    for system, label in (("ours", "melodylib"), ("magenta", "Magenta 2.1.4")):
        numbers = summary[system]
        note = ""
        if system == "magenta":
            note = (
                f" (graph batch {numbers['graph_batch_size']})"
                if numbers.get("graph_batch_size")
                else ""
            )
        tokens_note = (
            "" if system == "magenta" else (" replayed" if summary["replayed"] else " expected")
        )
        padding = f"{numbers['padded_fraction']:.1%}" + (" (est.)" if system == "magenta" else "")
        rows.append(
            [
                summary["config"],
                label,
                f"{numbers['train_seconds']:.1f} s",
                f"{numbers['steps_per_second']:.2f}",
                f"{numbers['tokens_per_second']:,.0f}{tokens_note}",
                padding,
                f"{numbers['train_rss_mb']:,.0f} MB",
                f"{numbers['generate_seconds']:.1f} s",
                f"{seconds_text(numbers['sampling_seconds'])}{note}",
                f"{numbers['generate_rss_mb']:,.0f} MB",
            ]
        )
    return rows


def ratio_row(summary: dict) -> list[str]:
    """The ratio table's row of one config."""
    ours, magenta = summary["ours"], summary["magenta"]
    return [
        summary["config"],
        against(
            times_better(ours["tokens_per_second"], magenta["tokens_per_second"], True),
            TARGETS["tokens"],
        ),
        against(
            times_better(ours["sampling_seconds"], magenta["sampling_seconds"], False),
            TARGETS["sampling"],
        ),
        against(
            times_better(ours["train_seconds"], magenta["train_seconds"], False),
            TARGETS["train_process"],
        ),
        against(
            times_better(ours["generate_seconds"], magenta["generate_seconds"], False),
            TARGETS["generate_process"],
        ),
        f"{times_better(ours['train_rss_mb'], magenta['train_rss_mb'], False):.2f}x / "
        f"{times_better(ours['generate_rss_mb'], magenta['generate_rss_mb'], False):.2f}x",
    ]


def attention_rows(summaries: dict[str, dict]) -> list[list[str]]:
    """attention_rnn's cost per training token and per generated step relative to basic_rnn's."""
    if "basic_rnn" not in summaries or "attention_rnn" not in summaries:
        return []
    basic, attention = summaries["basic_rnn"], summaries["attention_rnn"]
    rows = []
    for system, label in (("ours", "melodylib"), ("magenta", "Magenta 2.1.4")):
        training = basic[system]["tokens_per_second"] / attention[system]["tokens_per_second"]
        sampling = attention[system]["sampling_seconds"] / basic[system]["sampling_seconds"]
        if system == "ours":
            rows.append(
                [
                    label,
                    against(training, TARGETS["attention"], at_most=True),
                    against(sampling, TARGETS["attention"], at_most=True),
                ]
            )
        else:
            rows.append([label, f"{training:.2f}x", f"{sampling:.2f}x"])
    return rows


def header(args: argparse.Namespace, versions: dict[str, str]) -> str:
    """The machine header (made at the start, so its load average is the start's) and the run's settings."""
    corpus = (
        args.corpus.relative_to(PROJECT_ROOT)
        if args.corpus.is_relative_to(PROJECT_ROOT)
        else args.corpus
    )
    return machine_header(
        "melodylib vs Magenta 2.1.4",
        extra_versions={
            "magenta": versions.get("magenta", "?"),
            "tensorflow (Magenta's venv)": versions.get("tensorflow", "?"),
        },
        notes=[
            f"data: {corpus}/<config>/training_melodies.tfrecord (decompressed; both systems read the same file); "
            "default hparams (batch 128, [128, 128]); one process of each system per measurement, run back to back",
            f"training: {args.num_training_steps} steps from a fresh run directory; steps/s and tokens/s after "
            f"start-up (ours steps {args.summary_frequency + 1}-{args.num_training_steps}, Magenta's StepCounterHook); "
            "useful tokens = non-padding melody steps (ours counted in the replayed batches, "
            "Magenta's = steps/s x 128 x the mean melody length)",
            f"generation: {args.num_outputs} outputs of {args.num_steps} steps, primer one middle C; our bundle "
            "data/bundles/<config>.bundle, Magenta's written by its --save_generator_bundle from its training run; "
            f"sampling loop in-process after a warm-up (median of {args.sampling_repeats} for ours, "
            f"{args.magenta_sampling_repeats} for Magenta)",
        ],
    )


def seconds_text(seconds: float) -> str:
    """Milliseconds below a second, else seconds."""
    return f"{seconds * 1000:.0f} ms" if seconds < 1.0 else f"{seconds:.2f} s"


def report(
    summaries: dict[str, dict],
    args: argparse.Namespace,
    header_text: str,
    load_at_end: str,
    failures: dict[str, str],
) -> str:
    """The header and the three Markdown tables (plus the configs that failed, if any)."""
    headers = [
        "config",
        "system",
        f"train {args.num_training_steps} steps (process)",
        "steps/s",
        "useful tokens/s",
        "padding",
        "train peak RSS",
        f"generate {args.num_outputs}x{args.num_steps} (process)",
        "sampling loop",
        "generate peak RSS",
    ]
    rows = [row for summary in summaries.values() for row in per_config_rows(summary)]
    parts = [
        header_text,
        f"- load average at the end {load_at_end}",
        "",
        markdown_table(headers, rows),
        "",
        "Ours vs Magenta (how many times faster / smaller) against the project's targets:",
        "",
        markdown_table(
            [
                "config",
                "useful tokens/s",
                "sampling loop",
                "training process",
                "generation process",
                "peak RSS (train / generate)",
            ],
            [ratio_row(summary) for summary in summaries.values()],
        ),
    ]
    attention = attention_rows(summaries)
    if attention:
        parts += [
            "",
            "attention_rnn's cost relative to basic_rnn's (per useful training token; per generated step):",
            "",
            markdown_table(["system", "training step", "generation step"], attention),
        ]
    if failures:
        parts += [
            "",
            "Failed: "
            + "; ".join(
                f"{name}: {message.strip().splitlines()[0][:300] if message.strip() else '?'}"
                for name, message in failures.items()
            ),
        ]
    return "\n".join(parts)


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------
def parse_args(argv=None) -> argparse.Namespace:
    """The flags (quick defaults filled in)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--configs",
        default=None,
        help=f"comma-separated (default {','.join(CONFIGS)}; with --quick basic_rnn)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke test: 10 training steps, 2 outputs of 32 steps, one sampling repeat",
    )
    parser.add_argument(
        "--output_json", default=None, help="also write the raw numbers and the summaries here"
    )
    parser.add_argument(
        "--magenta_python",
        default=DEFAULT_MAGENTA_PYTHON,
        help=f"the python of Magenta's own venv (default {DEFAULT_MAGENTA_PYTHON})",
    )
    parser.add_argument(
        "--corpus",
        type=Path,
        default=PROJECT_ROOT / "data" / "corpus" / "full",
        help="folder with <config>/training_melodies.tfrecord (default data/corpus/full)",
    )
    parser.add_argument(
        "--work_dir",
        type=Path,
        default=None,
        help="run directories, logs and the decompressed data (default: a new temporary folder, "
        "removed at the end); given, it is kept and its decompressed data reused",
    )
    parser.add_argument(
        "--num_training_steps", type=int, default=None, help="default 50 (quick 10)"
    )
    parser.add_argument("--summary_frequency", type=int, default=None, help="default 10 (quick 5)")
    parser.add_argument("--num_outputs", type=int, default=None, help="default 10 (quick 2)")
    parser.add_argument("--num_steps", type=int, default=None, help="default 128 (quick 32)")
    parser.add_argument(
        "--sampling_repeats", type=int, default=None, help="ours, default 5 (quick 1)"
    )
    parser.add_argument("--magenta_sampling_repeats", type=int, default=1, help="default 1")
    parser.add_argument(
        "--magenta_bundle_hparams",
        default="",
        help="--hparams when writing Magenta's bundle, e.g. batch_size=1 (default none: batch 128)",
    )
    # Children (internal)
    parser.add_argument("--child_replay", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--child_sampling", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--data", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--replay_steps", type=int, default=50, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.bundle = args.child_sampling
    quick = args.quick
    args.num_training_steps = args.num_training_steps or (10 if quick else 50)
    args.summary_frequency = args.summary_frequency or (5 if quick else 10)
    args.num_outputs = args.num_outputs or (2 if quick else 10)
    args.num_steps = args.num_steps or (32 if quick else 128)
    args.sampling_repeats = args.sampling_repeats or (1 if quick else 5)
    if args.configs is None:
        args.configs = "basic_rnn" if quick else ",".join(CONFIGS)
    names = [name for name in args.configs.split(",") if name]
    unknown = [name for name in names if name not in CONFIGS]
    if unknown:
        parser.error(f"--configs: unknown {', '.join(unknown)}; choose from {', '.join(CONFIGS)}")
    if args.num_training_steps % args.summary_frequency:
        parser.error("--num_training_steps must be a multiple of --summary_frequency")
    args.config_names = names
    return args


def load_average() -> str:
    """'1.2 / 0.9 / 0.8' (1, 5 and 15 minutes)."""
    return " / ".join(f"{value:.1f}" for value in os.getloadavg())


def main(argv=None) -> None:
    """Measure every config, print the tables, optionally write the JSON."""
    args = parse_args(argv)
    if args.child_replay:
        return child_replay(args)
    if args.child_sampling:
        return child_sampling(args)
    versions = check_magenta_python(args.magenta_python)
    temporary = args.work_dir is None
    args.work_dir = (
        Path(tempfile.mkdtemp(prefix="vs_magenta_")) if temporary else args.work_dir.resolve()
    )
    args.work_dir.mkdir(parents=True, exist_ok=True)
    args.corpus = args.corpus.resolve()
    header_text = header(args, versions)
    progress(f"work folder {args.work_dir}; load average {load_average()}")
    raw, summaries, failures = {}, {}, {}
    try:
        for index, name in enumerate(args.config_names):
            try:  # one config failing (e.g. Magenta out of memory) still leaves the others' numbers
                raw[name] = bench_config(name, index, args)
                summaries[name] = summarize(raw[name], args)
            except (SystemExit, Exception) as error:  # noqa: BLE001 - reported in the output
                failures[name] = str(error)[-2000:]
                progress(f"{name} FAILED:\n{failures[name]}")
            if (
                args.output_json
            ):  # after every config, so a long run interrupted later keeps what it measured
                write_json(args.output_json, raw, summaries, failures, versions, None)
    finally:
        if temporary:
            shutil.rmtree(args.work_dir, ignore_errors=True)
    text = report(summaries, args, header_text, load_average(), failures)
    print(text)
    if args.output_json:
        write_json(args.output_json, raw, summaries, failures, versions, text)
    if failures:
        sys.exit(1)


def write_json(
    path: str, raw: dict, summaries: dict, failures: dict, versions: dict, table: str | None
) -> None:
    """The raw numbers, the summaries, the failures and the printed tables, as JSON."""
    Path(path).write_text(
        json.dumps(
            {
                "raw": raw,
                "summaries": summaries,
                "failures": failures,
                "table": table,
                "versions": versions,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
