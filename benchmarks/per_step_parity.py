"""Per-step training parity with Magenta 2.1.4: eval NLL after the same number of steps.

Both tools train basic_rnn at default hparams (batch 128, [128, 128], dropout 0.5) for the same
number of steps on the same data (the course corpus, whose SequenceExamples are bit-equal to
Magenta's own encoding; Magenta gets a decompressed copy, as it reads only plain TFRecords). Every
final model is scored by melodylib on the eval split with dropout off: a Magenta run is first
saved as a .mag bundle by its own `melody_rnn_generate --save_generator_bundle`. The script prints
the eval NLL (nats per step) of every run, the mean and spread per tool, each tool's useful tokens
(unpadded steps) per second of training, and melodylib's padding fraction.

    benchmarks/per_step_parity.py magenta --runs 1 2 3        # in the background: ~18 min a run
    benchmarks/per_step_parity.py melodylib --seeds 1 2 3 [--batching windows|random|buckets]
    benchmarks/per_step_parity.py report

`--batching` picks melodylib's training batches: `windows` (make_dataset's: random windows
sorted by length), `random` (windows of one batch: random batches padded to their longest, as
Magenta's queue gives) or `buckets` (the pipeline before this benchmark: length buckets 16 steps
wide filled from the repeated data, kept here only to measure it). Runs live in --work_dir
(default /tmp/parity), one directory each with a result.json; `report` scores those not yet
scored. Magenta's useful tokens per second are its steps per second (from its
`global_step/sec` log lines) times 128 times the mean melody length: its shuffle queue draws
melodies at random, so that is what a step learns from on average.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CORPUS = PROJECT_ROOT / "data" / "corpus" / "full" / "basic_rnn"
MAGENTA_VENV = Path(os.environ.get("MAGENTA_VENV", "/tmp/magenta-venv"))
RUN_MAGENTA = PROJECT_ROOT / "tools" / "magenta_reference" / "run_magenta.py"
BATCHINGS = ("windows", "random", "buckets")
NORMALISATIONS = ("batch", "running")
FILE_ORDERS = ("shuffled", "corpus")
CONFIG = "basic_rnn"


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


def plain_copy(work_dir: Path, split: str) -> Path:
    """A decompressed copy of the corpus's `split` file (Magenta reads only plain TFRecords)."""
    target = work_dir / "data" / f"{split}_melodies.tfrecord"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        source_path = CORPUS / f"{split}_melodies.tfrecord"
        with gzip.open(source_path, "rb") as source, open(partial, "wb") as sink:
            shutil.copyfileobj(source, sink)
        partial.rename(target)
    return target


def shuffled_copy(work_dir: Path) -> Path:
    """A plain copy of the corpus's training file with its records in a seeded random order.

    The corpus file is grouped by collection, as Magenta's create_dataset writes a folder of
    collections; Magenta's queue (at most 500 melodies) then trains on one collection at a time.
    """
    import numpy as np

    from melodylib.tfrecords import read_records, write_records

    target = work_dir / "data" / "shuffled" / "training_melodies.tfrecord"
    if not target.exists():
        records = list(read_records(CORPUS / "training_melodies.tfrecord"))
        order = np.random.default_rng(2026).permutation(len(records))
        target.parent.mkdir(parents=True, exist_ok=True)
        write_records(target, [records[index] for index in order])
    return target


def training_file(work_dir: Path, file_order: str) -> Path:
    """The training file a run reads: the corpus's own (`corpus`) or a shuffled copy."""
    if file_order == "shuffled":
        return shuffled_copy(work_dir)
    return CORPUS / "training_melodies.tfrecord"


def mean_melody_length(path: Path) -> float:
    """The mean number of (input, label) steps per melody of a SequenceExample file."""
    from melodylib.data.sequence_examples import read_sequence_examples

    lengths = [len(labels) for _, labels in read_sequence_examples(path)]
    return sum(lengths) / len(lengths)


# --------------------------------------------------------------------------------------------
# Magenta runs
# --------------------------------------------------------------------------------------------


def run_magenta(work_dir: Path, run: int, steps: int, file_order: str = "corpus") -> Path:
    """Train Magenta's basic_rnn for `steps` steps in its venv and save a .mag bundle."""
    python = MAGENTA_VENV / "bin" / "python"
    if not python.exists():
        sys.exit(f"{python} is missing: create it as tools/magenta_reference/README.md says")
    prefix = "shuffled_" if file_order == "shuffled" else ""
    run_dir = work_dir / "magenta" / f"{prefix}run{run}"
    run_dir.mkdir(parents=True, exist_ok=True)
    data = plain_copy(work_dir, "training") if file_order == "corpus" else shuffled_copy(work_dir)
    environment = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "CUDA_VISIBLE_DEVICES": "-1"}
    command = [str(python), str(RUN_MAGENTA), "magenta.models.melody_rnn.melody_rnn_train"]
    flags = [
        f"--config={CONFIG}",
        f"--run_dir={run_dir}",
        f"--sequence_example_file={data}",
        f"--num_training_steps={steps}",
        "--summary_frequency=50",
    ]
    started = time.time()
    with open(run_dir / "train.log", "w") as log:
        subprocess.run(command + flags, env=environment, stdout=log, stderr=log, check=True)
    finished = time.time()
    bundle = run_dir / f"{CONFIG}.mag"
    generate = [str(python), str(RUN_MAGENTA), "magenta.models.melody_rnn.melody_rnn_generate"]
    generate += [
        f"--config={CONFIG}",
        f"--run_dir={run_dir}",
        f"--bundle_file={bundle}",
        "--save_generator_bundle",
    ]
    with open(run_dir / "bundle.log", "w") as log:
        subprocess.run(generate, env=environment, stdout=log, stderr=log, check=True)
    (run_dir / "wall.txt").write_text(f"{started} {finished}\n")
    return run_dir


def magenta_steps_per_second(run_dir: Path) -> float:
    """The median of Magenta's `global_step/sec` log lines (the first window includes start-up)."""
    text = (run_dir / "train.log").read_text()
    pattern = r"INFO:tensorflow:global_step/sec: ([0-9.]+)"
    rates = [float(value) for value in re.findall(pattern, text)]
    # The first window holds the graph's start-up.
    return statistics.median(rates[1:] or rates) if rates else float("nan")


# --------------------------------------------------------------------------------------------
# melodylib runs
# --------------------------------------------------------------------------------------------


def legacy_bucketed_dataset(
    pattern, input_size, batch_size, *, shuffle=True, repeat=True, seed=None
):
    """make_dataset before this benchmark: length buckets 16 steps wide, filled after repeating.

    Kept only to measure it: a rare length's bucket fills over several epochs, so a batch can
    hold one melody several times, and each batch is one narrow band of lengths.
    """
    import tensorflow as tf

    from melodylib.data import datasets

    files = [str(path) for path in datasets.expand_paths(pattern, "sequence_example_file")]
    compression = datasets.compression_of(files[0])
    dataset = tf.data.TFRecordDataset(files, compression_type=compression)
    dataset = dataset.map(datasets._parse_function(input_size, True, str(pattern)))
    if shuffle:
        dataset = dataset.shuffle(1024, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()
    dataset = dataset.map(lambda inputs, labels: (inputs, labels, tf.shape(labels)[0]))
    boundaries = list(range(17, 2049, 16))
    dataset = dataset.bucket_by_sequence_length(
        element_length_func=lambda inputs, labels, length: length,
        bucket_boundaries=boundaries,
        bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
        padded_shapes=([None, input_size], [None], []),
        drop_remainder=True,
    )

    def add_mask(inputs, labels, lengths):
        mask = tf.sequence_mask(lengths, maxlen=tf.shape(labels)[1], dtype=tf.float32)
        return tf.cast(inputs, tf.float32), labels, mask

    return dataset.map(add_mask).prefetch(tf.data.AUTOTUNE)


def _training_dataset_factory(batching: str):
    """The make_dataset replacement a child uses for `batching` (None: the library's own)."""
    import functools

    from melodylib.data import datasets

    if batching == "windows":
        return datasets.make_dataset
    if batching == "random":
        return functools.partial(datasets.make_dataset, window_batches=1)
    return legacy_bucketed_dataset


def running_mean_train_step(model, optimizer, distribution, global_step, no_event_label, spec):
    """The training step with the summed cross-entropy divided by the running mean of the real
    steps per batch (not by this batch's own count), for the `running` normalisation.

    With batches of similar lengths, dividing by each batch's own count gives each step of a
    short-melody batch more weight than one of a long-melody batch; the running mean weighs every
    real step alike, as random batches of about equal size do. Default strategy only.
    """
    import tensorflow as tf

    from melodylib.training.metrics import batch_metric_sums

    tokens_seen = tf.Variable(0.0, dtype=tf.float64, trainable=False)
    batches_seen = tf.Variable(0.0, dtype=tf.float64, trainable=False)

    def train_step(batch):
        inputs, labels, mask = batch
        total = tokens_seen.assign_add(tf.cast(tf.reduce_sum(mask), tf.float64))
        count = batches_seen.assign_add(1.0)
        with tf.GradientTape() as tape:
            logits = model(inputs, training=True)
            sums = batch_metric_sums(labels, logits, mask, no_event_label)
            loss = sums[0] / tf.cast(total / count, tf.float32)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
        global_step.assign_add(1)
        return sums

    return tf.function(train_step, input_signature=[spec])


def train_melodylib_child(
    run_dir: Path,
    seed: int,
    steps: int,
    batching: str,
    normalisation: str = "batch",
    training_file: str = str(CORPUS / "training_melodies.tfrecord"),
) -> None:
    """In a child process: train, count the useful tokens of the batches trained on, save result.json."""
    import keras

    from melodylib.data import datasets
    from melodylib.encoding.configs import get_config
    from melodylib.training import loop
    from melodylib.training.loop import train

    if normalisation == "running":
        loop.make_train_step = running_mean_train_step
    factory = _training_dataset_factory(batching)
    datasets.make_dataset, library_make_dataset = factory, datasets.make_dataset
    config = get_config(CONFIG)
    result = train(
        config,
        training_file,
        run_dir,
        num_training_steps=steps,
        summary_frequency=50,
        save_checkpoint_secs=1e9,
        seed=seed,
        log=lambda message: None,
    )
    datasets.make_dataset = library_make_dataset
    # train() seeds everything and then builds the pipeline: replaying it gives the same batches.
    keras.utils.set_random_seed(seed)
    dataset = factory(training_file, config.encoder.input_size, 128, shuffle=True, seed=seed)
    real = slots = 0
    for _, _, mask in dataset.take(steps):
        real += float(mask.numpy().sum())
        slots += int(mask.shape[0]) * int(mask.shape[1])
    summary = {
        "tool": "melodylib",
        "batching": _label(
            batching if normalisation == "batch" else f"{batching}+{normalisation}",
            training_file,
        ),
        "seed": seed,
        "steps": result.step,
        "steps_per_second": result.steps_per_second,
        "useful_tokens": real,
        "padded_fraction": 1 - real / slots,
    }
    (run_dir / "result.json").write_text(json.dumps(summary, indent=2))


def _label(batching: str, training_file: str | Path) -> str:
    """The group a run is reported in: its batching, and the file order when not the corpus's."""
    return f"{batching}, shuffled file" if "shuffled" in str(training_file) else batching


def run_melodylib(
    work_dir: Path,
    seed: int,
    steps: int,
    batching: str,
    normalisation: str = "batch",
    file_order: str = "corpus",
) -> Path:
    """Train one melodylib run in a child process (a fresh TensorFlow per run)."""
    suffix = "" if normalisation == "batch" else f"_{normalisation}"
    suffix += "_shuffled" if file_order == "shuffled" else ""
    run_dir = work_dir / "melodylib" / f"{batching}{suffix}_seed{seed}"
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    command = [sys.executable, __file__, "child", str(run_dir), str(seed), str(steps), batching]
    command += [normalisation, "--training_file", str(training_file(work_dir, file_order))]
    with open(run_dir / "train.log", "w") as log:
        subprocess.run(command, stdout=log, stderr=log, check=True)
    return run_dir


# --------------------------------------------------------------------------------------------
# Scoring and the report
# --------------------------------------------------------------------------------------------


def score(model_source: Path) -> float:
    """Eval NLL (nats per step, dropout off) of a run_dir or .mag bundle on the corpus's eval split."""
    from melodylib.bundles.sources import load_model
    from melodylib.evaluation.metrics import evaluate_model

    if model_source.is_dir():
        model, config, _ = load_model(run_dir=str(model_source))
    else:
        model, config, _ = load_model(bundle_file=str(model_source))
    metrics = evaluate_model(
        model, str(CORPUS / "eval_melodies.tfrecord"), config=config, batch_size=128
    )
    return float(metrics["loss"])


def collect(work_dir: Path) -> list[dict]:
    """Every finished run of both tools, scoring those not scored yet (cached in score.json)."""
    runs = []
    for result_file in sorted((work_dir / "melodylib").glob("*/result.json")):
        runs.append(_scored(json.loads(result_file.read_text()), result_file.parent))
    mean_length = None
    for bundle in sorted((work_dir / "magenta").glob("*run*/basic_rnn.mag")):
        run_dir = bundle.parent
        if mean_length is None:
            mean_length = mean_melody_length(CORPUS / "training_melodies.tfrecord")
        rate = magenta_steps_per_second(run_dir)
        label = _label("queue", run_dir.name)
        entry = {"tool": "magenta", "batching": label, "seed": run_dir.name}
        entry.update(steps_per_second=rate, tokens_per_second=rate * 128 * mean_length)
        runs.append(_scored(entry, run_dir, bundle))
    return runs


def _scored(entry: dict, run_dir: Path, source: Path | None = None) -> dict:
    cache = run_dir / "score.json"
    if not cache.exists():
        cache.write_text(json.dumps({"eval_nll": score(source or run_dir)}))
    entry.update(json.loads(cache.read_text()))
    if "useful_tokens" in entry:
        seconds = entry["steps"] / entry["steps_per_second"]
        entry["tokens_per_second"] = entry["useful_tokens"] / seconds
    return entry


def report(work_dir: Path) -> None:
    """Print every run and, per tool and batching, the mean and spread of the eval NLL."""
    runs = collect(work_dir)
    print("| tool | batching | run | eval NLL | steps/s | useful tokens/s | padding |")
    print("|---|---|---|---|---|---|---|")
    for run in runs:
        padding = f"{run['padded_fraction']:.1%}" if "padded_fraction" in run else "-"
        print(
            f"| {run['tool']} | {run['batching']} | {run['seed']} | {run['eval_nll']:.4f} | "
            f"{run['steps_per_second']:.2f} | {run['tokens_per_second']:,.0f} | {padding} |"
        )
    groups: dict[tuple[str, str], list[dict]] = {}
    for run in runs:
        groups.setdefault((run["tool"], run["batching"]), []).append(run)
    reference = groups.get(("magenta", "queue, shuffled file")) or groups.get(("magenta", "queue"))
    magenta_mean = statistics.mean(r["eval_nll"] for r in reference) if reference else None
    magenta_rate = statistics.mean(r["tokens_per_second"] for r in reference) if reference else None
    print()
    print("| tool | batching | runs | mean eval NLL | min-max | vs Magenta | tokens/s vs Magenta |")
    print("|---|---|---|---|---|---|---|")
    for (tool, batching), members in groups.items():
        losses = [run["eval_nll"] for run in members]
        rate = statistics.mean(run["tokens_per_second"] for run in members)
        difference = f"{statistics.mean(losses) - magenta_mean:+.4f}" if magenta_mean else "-"
        speed = f"{rate / magenta_rate:.2f}x" if magenta_rate else "-"
        print(
            f"| {tool} | {batching} | {len(losses)} | {statistics.mean(losses):.4f} | "
            f"{min(losses):.4f}-{max(losses):.4f} | {difference} | {speed} |"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work_dir", type=Path, default=Path("/tmp/parity"))
    parser.add_argument("--steps", type=int, default=600)
    commands = parser.add_subparsers(dest="command", required=True)
    magenta = commands.add_parser("magenta", help="train Magenta runs and save their bundles")
    magenta.add_argument("--runs", type=int, nargs="+", default=[1, 2, 3])
    magenta.add_argument("--file_order", choices=FILE_ORDERS, default="shuffled")
    ours = commands.add_parser("melodylib", help="train melodylib runs")
    ours.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ours.add_argument("--batching", choices=BATCHINGS, default="windows")
    ours.add_argument("--normalisation", choices=NORMALISATIONS, default="batch")
    ours.add_argument("--file_order", choices=FILE_ORDERS, default="shuffled")
    commands.add_parser("report", help="score the finished runs and print the tables")
    child = commands.add_parser("child", help=argparse.SUPPRESS)
    child.add_argument("run_dir", type=Path)
    child.add_argument("seed", type=int)
    child.add_argument("child_steps", type=int)
    child.add_argument("batching", choices=BATCHINGS)
    child.add_argument("normalisation", choices=NORMALISATIONS, nargs="?", default="batch")
    child.add_argument("--training_file", default=str(CORPUS / "training_melodies.tfrecord"))
    args = parser.parse_args(argv)
    if args.command == "child":
        train_melodylib_child(
            args.run_dir,
            args.seed,
            args.child_steps,
            args.batching,
            args.normalisation,
            args.training_file,
        )
    elif args.command == "magenta":
        for run in args.runs:
            run_dir = run_magenta(args.work_dir, run, args.steps, args.file_order)
            print(f"Magenta run {run}: {run_dir}", flush=True)
    elif args.command == "melodylib":
        for seed in args.seeds:
            options = (args.batching, args.normalisation, args.file_order)
            run_dir = run_melodylib(args.work_dir, seed, args.steps, *options)
            print(f"melodylib seed {seed}: {run_dir}", flush=True)
    else:
        report(args.work_dir)


if __name__ == "__main__":
    sys.path.insert(0, str(PROJECT_ROOT))
    main()
