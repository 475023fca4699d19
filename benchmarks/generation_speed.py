"""Generation speed: MelodyGenerator vs a naive model.predict loop vs one teacher-forced pass.

Run with the project's venv:  .venv/bin/python benchmarks/generation_speed.py [--quick]

Per config, on one model (freshly built at the config's default hparams, random weights: speed
does not depend on the weights), in the same process and with the measurements interleaved:
- "sampling": `MelodyGenerator.generate(num_outputs=10, num_steps=128)` (primer: middle C, so
  127 sampled steps; the whole loop runs in one compiled call, `melodylib.generation.sampler`);
- "beam": the same with beam_size=4, branch_factor=2 (10 outputs, so 80 rows per step; beam
  search keeps its loop in Python: one compiled call per step for all rows);
- "numpy sampling" and "numpy beam": the same two calls on `MelodyGenerator(model, config,
  backend="numpy")`, the network run in numpy (`melodylib.models.numpy_step`) by the Python loop,
  as `melody_rnn generate` does for a bundle (without ever importing TensorFlow there);
- "naive loop": the common approach of the TensorFlow text-generation tutorials: at every step,
  encode the whole history so far and call `model.predict` on it ([10, t, input_size], the 10
  outputs batched together), keep the last step's logits, sample, append. It is timed after a
  short untimed warm-up (Keras traces its predict function for the first lengths). It is slow
  (each predict call costs a hundred ms or more), so by default it runs only the first
  `--naive-steps` (64) steps; each step's time is recorded, a + b x (history length) is fitted
  to them by least squares, and the missing steps up to 127 are added from the fit (the table
  says when);
- "teacher-forced": one `model(inputs[10, 128, input_size], training=False)` call, the cost of
  the same number of steps when the inputs are known, both as called (eagerly: Keras then runs
  the recurrence step by step in Python) and compiled with tf.function (trace excluded).
The first generate call (tracing the step function) is reported on its own and not counted in
the sampling time.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import machine_header, markdown_table, median, progress, ratio  # noqa: E402

CONFIGS = ("basic_rnn", "mono_rnn", "lookback_rnn", "attention_rnn")
MIDDLE_C = 60


def timed_calls(generator, args):
    """(sampling, beam search 4 x 2) of `generator`: the two calls every engine is timed on."""

    def sampling():
        return generator.generate(num_steps=args.num_steps, num_outputs=args.num_outputs, seed=1)

    def beam():
        return generator.generate(
            num_steps=args.num_steps,
            num_outputs=args.num_outputs,
            beam_size=4,
            branch_factor=2,
            seed=2,
        )

    return sampling, beam


def naive_generate(model, encoder, num_outputs: int, num_steps: int, seed: int) -> list[float]:
    """The naive loop: model.predict on every output's full history at every step; returns each step's seconds."""
    import numpy as np

    rng = np.random.default_rng(seed)
    histories = [[MIDDLE_C] for _ in range(num_outputs)]
    durations = []
    while len(histories[0]) < num_steps:
        started = time.perf_counter()
        inputs = np.stack([encoder.inputs(history) for history in histories]).astype(np.float32)
        logits = model.predict(inputs, verbose=0)[:, -1, :]
        shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
        probabilities = shifted / shifted.sum(axis=-1, keepdims=True)
        for history, row in zip(histories, probabilities):
            label = int(rng.choice(len(row), p=row / row.sum()))
            history.append(int(encoder.class_index_to_event(label, history)))
        durations.append(time.perf_counter() - started)
    return durations


def extrapolate(durations: list[float], num_steps: int) -> float:
    """Total seconds of the naive loop run to num_steps, from the steps measured.

    Step k (history length k) costs a + b k; a and b are fitted to the measured steps by least
    squares and the missing steps are added to the measured total.
    """
    import numpy as np

    lengths = np.arange(1, len(durations) + 1)
    slope, intercept = np.polyfit(lengths, np.asarray(durations), 1)
    missing = np.arange(len(durations) + 1, num_steps)
    return float(sum(durations) + np.sum(intercept + slope * missing))


def teacher_forced_inputs(encoder, melodies: list[list[int]], num_steps: int):
    """[N, num_steps, input_size] inputs of generated melodies (the teacher-forced pass's input)."""
    import numpy as np

    return np.stack([encoder.inputs(events[:num_steps]) for events in melodies]).astype(np.float32)


def bench_config(name: str, args: argparse.Namespace) -> list:
    """One config's row: trace, sampling, beam, naive loop, teacher-forced, ratios."""
    import tensorflow as tf

    from melodylib.encoding.configs import get_config
    from melodylib.generation.generator import MelodyGenerator
    from melodylib.models.melody_rnn import build_model

    config = get_config(name)
    model = build_model(config)
    generator = MelodyGenerator(model, config)
    numpy_generator = MelodyGenerator(model, config, backend="numpy")
    encoder = config.encoder

    sampling, beam = timed_calls(generator, args)

    started = time.perf_counter()
    melodies = sampling()
    first_call = time.perf_counter() - started
    beam()  # warm (same trace: the batch dimension is open)

    numpy_sampling, numpy_beam = timed_calls(numpy_generator, args)

    inputs = tf.constant(
        teacher_forced_inputs(encoder, [melody.events for melody in melodies], args.num_steps)
    )
    model(inputs, training=False)  # warm

    compiled_forward = tf.function(lambda batch: model(batch, training=False))
    compiled_forward(inputs)  # trace

    naive_steps = min(args.naive_steps, args.num_steps)
    naive_generate(
        model, encoder, args.num_outputs, min(8, naive_steps), seed=3
    )  # warm: traces predict

    times = {
        "sampling": [],
        "beam": [],
        "numpy_sampling": [],
        "numpy_beam": [],
        "teacher": [],
        "compiled": [],
        "naive": [],
    }

    def teacher():
        return model(inputs, training=False).numpy()

    def compiled():
        return compiled_forward(inputs).numpy()

    naive_runs: list[list[float]] = []

    def naive():
        naive_runs.append(naive_generate(model, encoder, args.num_outputs, naive_steps, seed=3))

    runs = {
        "sampling": sampling,
        "beam": beam,
        "numpy_sampling": numpy_sampling,
        "numpy_beam": numpy_beam,
        "teacher": teacher,
        "compiled": compiled,
        "naive": naive,
    }
    order = list(runs)
    for round_index in range(args.rounds):
        rotated = order[round_index % len(order) :] + order[: round_index % len(order)]
        measured = []
        for key in rotated:
            if key == "naive" and round_index >= args.naive_rounds:
                continue
            started = time.perf_counter()
            runs[key]()
            times[key].append(time.perf_counter() - started)
            measured.append(key)
        progress(
            f"  {name} round {round_index + 1}/{args.rounds}: "
            + ", ".join(f"{key} {times[key][-1]:.2f} s" for key in measured)
        )
    medians = {key: median(values) for key, values in times.items()}
    naive_seconds = medians["naive"]
    naive_label = f"{naive_seconds:.2f} s"
    if naive_steps < args.num_steps:
        naive_seconds = median([extrapolate(durations, args.num_steps) for durations in naive_runs])
        naive_label = f"{naive_seconds:.1f} s (fitted: {medians['naive']:.1f} s for the first {naive_steps - 1} steps)"
    return [
        name,
        f"{first_call:.2f} s",
        f"{medians['sampling']:.2f} s",
        f"{medians['beam']:.2f} s",
        f"{medians['numpy_sampling']:.2f} s",
        f"{medians['numpy_beam']:.2f} s",
        naive_label,
        f"{medians['teacher'] * 1000:.0f} ms",
        f"{medians['compiled'] * 1000:.0f} ms",
        ratio(naive_seconds, medians["sampling"]),
        f"{ratio(medians['sampling'], medians['compiled'])} / {ratio(medians['sampling'], medians['teacher'])}",
        f"{ratio(medians['beam'], medians['compiled'])} / {ratio(medians['beam'], medians['teacher'])}",
    ]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="basic_rnn only, one round")
    parser.add_argument(
        "--configs",
        default=None,
        help=f"comma-separated (default {','.join(CONFIGS)}; quick basic_rnn)",
    )
    parser.add_argument(
        "--rounds", type=int, default=None, help="interleaved rounds (default 3; quick 1)"
    )
    parser.add_argument(
        "--naive-rounds",
        type=int,
        default=None,
        help="rounds that also time the naive loop (default 2; quick 1)",
    )
    parser.add_argument(
        "--naive-steps",
        type=int,
        default=None,
        help="length the naive loop runs to, below --num-steps: scaled up (default 64; quick 24)",
    )
    parser.add_argument("--num-outputs", type=int, default=10)
    parser.add_argument("--num-steps", type=int, default=128)
    args = parser.parse_args(argv)
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.naive_rounds = args.naive_rounds or (1 if args.quick else 2)
    args.naive_steps = args.naive_steps or (24 if args.quick else 64)
    if args.configs is None:
        args.configs = "basic_rnn" if args.quick else ",".join(CONFIGS)
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    rows = []
    for name in [name for name in args.configs.split(",") if name]:
        progress(f"{name} ...")
        rows.append(bench_config(name, args))
    print(
        machine_header(
            "Generation speed",
            notes=[
                f"{args.num_outputs} outputs of {args.num_steps} steps (primer: one middle C), default hparams, random weights",
                f"medians of {args.rounds} interleaved rounds (naive loop: {args.naive_rounds})",
                "naive loop = model.predict on the full history of the 10 outputs (batched) at every step",
                "teacher-forced = one model(inputs[10, 128, input_size], training=False) call, eager (as called) "
                "and compiled with tf.function; ratios to teacher-forced are given as compiled / eager",
                "sampling and beam exclude the first generate call (which traces the step function)",
            ],
        )
    )
    print()
    print(
        markdown_table(
            [
                "config",
                "first call (trace)",
                "sampling",
                "beam 4 x branch 2",
                "numpy sampling",
                "numpy beam",
                "naive predict loop",
                "teacher-forced, eager",
                "teacher-forced, compiled",
                "naive / sampling",
                "sampling / teacher-forced (compiled / eager)",
                "beam / teacher-forced (compiled / eager)",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
