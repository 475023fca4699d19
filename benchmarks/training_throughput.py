"""Training throughput: tokens per second with the real input pipeline vs batches in memory.

Run with the project's venv:  .venv/bin/python benchmarks/training_throughput.py [--quick]

For each config, a fresh child process (so that its peak memory is its own) builds the model at
the config's default hparams (batch 128) and times, in interleaved blocks:
- "real": the training step fed by `melodylib.data.datasets.make_dataset` over the course corpus's
  `training_melodies.tfrecord` (shuffled, sorted in windows by length, padded, masked), as `train` does;
- "memory": the SAME compiled step fed a few batches taken from that pipeline once and kept in
  memory as tensors (cycled), so the only difference is the input pipeline;
- "matmul": a float32 [B*T, 256] x [256, 512] TensorFlow matmul, the machine's attainable rate
  at that moment.
The step mirrors `melodylib.training.loop.train`'s (default tf.distribute strategy, the model called
with training=True, `batch_metric_sums`, loss = masked cross-entropy sum / real steps, Adam with
clipnorm from `make_optimizer`, `.numpy()` on the sums every step). `train` itself is then run for
a few steps as a cross-check of steps per second and padding.

Tokens = real (unmasked) steps. Model GFLOP/s = 6 x parameters x tokens per second / 1e9
(2 flops per multiply-add, x3 for forward + backward; biases and the attention arithmetic that
has no weights are not counted, padded steps are not counted). Peak memory = the child's
maximum resident set size (getrusage), read before the `train` cross-check.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import PROJECT_ROOT, machine_header, markdown_table, median, progress  # noqa: E402

CONFIGS = ("basic_rnn", "mono_rnn", "lookback_rnn", "attention_rnn")
MATMUL_INNER, MATMUL_OUTER = 256, 512


def corpus_file(config_name: str, subset: str | None) -> Path:
    """The course corpus's training file: the full corpus if it has been built, else the small one."""
    root = PROJECT_ROOT / "data" / "corpus"
    if subset is None:
        subset = "full" if (root / "full" / "report.json").exists() else "small"
    path = root / subset / config_name / "training_melodies.tfrecord"
    if not path.exists():
        raise SystemExit(
            f"{path} does not exist; build the course corpus first (melody_rnn build_corpus)"
        )
    return path


# --------------------------------------------------------------------------------------------
# The child: one config
# --------------------------------------------------------------------------------------------
def make_train_step(model, optimizer, no_event_label: int, element_spec):
    """melodylib.training.loop's own compiled training step, under the default strategy."""
    import tensorflow as tf

    from melodylib.training import step as training

    global_step = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
    return training.make_train_step(
        model, optimizer, tf.distribute.get_strategy(), global_step, no_event_label, element_spec
    )


def make_matmul(rows: int):
    """A compiled [rows, 256] x [256, 512] float32 matmul (5 per call); returns (function, flops per call)."""
    import tensorflow as tf

    left = tf.random.normal([rows, MATMUL_INNER])
    right = tf.random.normal([MATMUL_INNER, MATMUL_OUTER])

    @tf.function
    def five_matmuls():
        total = tf.constant(0.0)
        for _ in range(5):
            total += tf.reduce_sum(tf.matmul(left, right)[:1, :1])
        return total

    return five_matmuls, 5 * 2.0 * rows * MATMUL_INNER * MATMUL_OUTER


def timed_block(run_one, block_seconds: float) -> dict:
    """Call run_one() until block_seconds have passed (at least twice); sum what it returns."""
    steps, tokens, slots = 0, 0.0, 0.0
    started = time.perf_counter()
    while True:
        step_tokens, step_slots = run_one()
        steps += 1
        tokens += step_tokens
        slots += step_slots
        elapsed = time.perf_counter() - started
        if elapsed >= block_seconds and steps >= 2:
            return {"seconds": elapsed, "steps": steps, "tokens": tokens, "slots": slots}


def child_main(args: argparse.Namespace) -> None:
    """Measure one config; print one JSON line."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np
    import tensorflow as tf

    from melodylib.data.datasets import make_dataset
    from melodylib.encoding.configs import get_config
    from melodylib.models.melody_rnn import build_model, count_parameters
    from melodylib.training.loop import train
    from melodylib.training.step import make_optimizer

    config = get_config(args.child)
    batch_size = config.hparams.batch_size
    model = build_model(config)
    optimizer = make_optimizer(config)
    optimizer.build(model.trainable_variables)
    dataset = make_dataset(
        args.data, config.encoder.input_size, batch_size, shuffle=True, repeat=True, seed=0
    )
    train_step = make_train_step(
        model, optimizer, int(config.encoder.default_event_label), dataset.element_spec
    )
    iterator = iter(dataset)
    warm_up = [next(iterator), next(iterator)]  # fills the pipeline's shuffle buffer
    rss_before_mb = (
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    )  # kilobytes on Linux
    started = time.perf_counter()
    train_step(warm_up[0]).numpy()  # traces once for every batch shape
    first_call = time.perf_counter() - started
    train_step(warm_up[1]).numpy()  # the pipeline's buffers are warm after this
    cached = [next(iterator) for _ in range(args.memory_batches)]
    position = {"next": 0}

    seen_lengths: list[int] = [int(batch[1].shape[1]) for batch in warm_up + cached]

    def real_step():
        batch = next(iterator)
        seen_lengths.append(int(batch[1].shape[1]))
        sums = train_step(batch).numpy()
        return float(sums[1]), float(sums[7])

    def memory_step():
        batch = cached[position["next"] % len(cached)]
        position["next"] += 1
        sums = train_step(batch).numpy()
        return float(sums[1]), float(sums[7])

    rows = (
        int(np.mean([int(batch[1].shape[1]) for batch in cached]) * batch_size)
        if cached
        else batch_size * 128
    )
    matmul, flops_per_call = make_matmul(rows)
    matmul().numpy()

    def matmul_step():
        matmul().numpy()
        return flops_per_call, 0.0

    blocks = {"real": [], "memory": [], "matmul": []}
    kinds = [("real", real_step), ("memory", memory_step), ("matmul", matmul_step)]
    for round_index in range(args.rounds):
        order = kinds[round_index % 3 :] + kinds[: round_index % 3]
        for name, run_one in order:
            seconds = args.block_seconds if name != "matmul" else max(1.0, args.block_seconds / 3)
            blocks[name].append(timed_block(run_one, seconds))
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kilobytes on Linux

    train_check = {}
    if args.train_check_steps:
        with tempfile.TemporaryDirectory(prefix="melodylib_bench_train_") as run_dir:
            result = train(
                config,
                str(args.data),
                run_dir,
                num_training_steps=args.train_check_steps,
                summary_frequency=max(1, args.train_check_steps // 4),
                save_checkpoint_secs=1e9,
                log=lambda message: None,
                seed=0,
            )
        windows = result.history[1:] or result.history  # the first window holds the trace
        train_check = {
            "steps_per_second": median([window["steps_per_second"] for window in windows]),
            "padded_fraction": median([window["padded_fraction"] for window in result.history]),
        }

    parameters = count_parameters(model)
    print(
        json.dumps(
            {
                "config": config.name,
                "batch_size": batch_size,
                "parameters": parameters,
                "first_call_seconds": first_call,
                "blocks": blocks,
                "memory_batch_lengths": [int(batch[1].shape[1]) for batch in cached],
                "matmul_rows": rows,
                "peak_rss_mb": peak_rss_mb,
                "rss_before_mb": rss_before_mb,
                "longest_batch": max(int(block_length) for block_length in seen_lengths)
                if seen_lengths
                else 0,
                "train_check": train_check,
                "tensorflow": tf.__version__,
            }
        )
    )


# --------------------------------------------------------------------------------------------
# The parent: one child per config, then the table
# --------------------------------------------------------------------------------------------
def run_child(config_name: str, data: Path, args: argparse.Namespace) -> dict:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        config_name,
        "--data",
        str(data),
        "--rounds",
        str(args.rounds),
        "--block-seconds",
        str(args.block_seconds),
        "--memory-batches",
        str(args.memory_batches),
        "--train-check-steps",
        str(args.train_check_steps),
    ]
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    completed = subprocess.run(command, capture_output=True, text=True, env=environment)
    if completed.returncode != 0:
        raise SystemExit(f"the {config_name} child failed:\n{completed.stderr[-4000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def rates(blocks: list[dict], field: str) -> list[float]:
    return [block[field] / block["seconds"] for block in blocks]


def table_row(result: dict) -> list:
    blocks = result["blocks"]
    real_tokens = median(rates(blocks["real"], "tokens"))
    memory_tokens = median(rates(blocks["memory"], "tokens"))
    real_steps = median(rates(blocks["real"], "steps"))
    matmul_gflops = (
        median(rates(blocks["matmul"], "tokens")) / 1e9
    )  # the matmul block sums flops as "tokens"
    real_slots = sum(block["slots"] for block in blocks["real"])
    padding = (
        1.0 - sum(block["tokens"] for block in blocks["real"]) / real_slots
        if real_slots
        else float("nan")
    )
    model_gflops = 6.0 * result["parameters"] * real_tokens / 1e9
    check = result["train_check"]
    return [
        result["config"],
        result["batch_size"],
        f"{result['parameters']:,}",
        f"{real_tokens:,.0f} ({real_steps:.2f} steps/s)",
        f"{memory_tokens:,.0f}",
        f"{real_tokens / memory_tokens:.0%}" if memory_tokens else "n/a",
        f"{padding:.1%}",
        f"{result['peak_rss_mb']:,.0f} MB ({result['rss_before_mb']:,.0f} MB before the first step; "
        f"longest batch {result['longest_batch']} steps)",
        f"{model_gflops:.1f}",
        f"{matmul_gflops:.1f}",
        f"{model_gflops / matmul_gflops:.1%}" if matmul_gflops else "n/a",
        f"{result['first_call_seconds']:.1f} s",
        (
            f"{check['steps_per_second']:.2f} steps/s, padding {check['padded_fraction']:.1%}"
            if check
            else "-"
        ),
    ]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="basic_rnn only, one short round, no train() check"
    )
    parser.add_argument(
        "--configs",
        default=None,
        help=f"comma-separated (default {','.join(CONFIGS)}; quick basic_rnn)",
    )
    parser.add_argument(
        "--subset",
        choices=("small", "full"),
        default=None,
        help="course corpus subset (default: full if built, else small)",
    )
    parser.add_argument(
        "--rounds", type=int, default=None, help="interleaved rounds of blocks (default 3; quick 1)"
    )
    parser.add_argument(
        "--block-seconds",
        type=float,
        default=None,
        help="length of a timed block (default 4; quick 3)",
    )
    parser.add_argument(
        "--memory-batches",
        type=int,
        default=8,
        help="pipeline batches kept in memory and cycled for the in-memory rate (1 = one constant batch)",
    )
    parser.add_argument(
        "--train-check-steps",
        type=int,
        default=None,
        help="steps of melodylib.training.loop.train as a cross-check (default 8; quick 0 = skip)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.block_seconds = args.block_seconds or (3.0 if args.quick else 4.0)
    if args.train_check_steps is None:
        args.train_check_steps = 0 if args.quick else 8
    if args.configs is None:
        args.configs = "basic_rnn" if args.quick else ",".join(CONFIGS)
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.child:
        child_main(args)
        return
    results = []
    for name in [name for name in args.configs.split(",") if name]:
        data = corpus_file(name, args.subset)
        progress(f"{name}: {data} ...")
        started = time.perf_counter()
        results.append(run_child(name, data, args))
        progress(f"{name}: done in {time.perf_counter() - started:.0f} s")
    data_note = corpus_file(results[0]["config"], args.subset).parent.parent
    print(
        machine_header(
            "Training throughput",
            notes=[
                f"data: {data_note.relative_to(PROJECT_ROOT)}/<config>/training_melodies.tfrecord; default hparams (batch 128)",
                f"medians of {args.rounds} interleaved rounds of {args.block_seconds:.0f}-second blocks (real, in-memory, matmul); "
                f"in-memory = {args.memory_batches} pipeline batches cycled from memory",
                "tokens = real (unmasked) steps; model GFLOP/s = 6 x parameters x tokens/s / 1e9; "
                f"matmul = float32 [B*T, {MATMUL_INNER}] x [{MATMUL_INNER}, {MATMUL_OUTER}] with B*T = 128 x the mean length of the cached batches",
                "peak RSS of the config's own process, read after the timed blocks (before the train() cross-check); "
                "in brackets its peak before the first training step (TensorFlow, model, pipeline built) and the "
                "longest padded batch the timed steps saw",
            ],
        )
    )
    print()
    print(
        markdown_table(
            [
                "config",
                "batch",
                "parameters",
                "tokens/s, real pipeline",
                "tokens/s, in memory",
                "real / memory",
                "padding",
                "peak RSS",
                "model GFLOP/s",
                "matmul GFLOP/s",
                "model / matmul",
                "first call (trace)",
                "train() cross-check",
            ],
            [table_row(result) for result in results],
        )
    )


if __name__ == "__main__":
    main()
