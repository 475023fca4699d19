"""Time Magenta 2.1.4's own sampling loop in-process: its generator's generate() call, from a bundle.

Usage (from the magenta venv, never the project's; benchmarks/vs_magenta.py runs it):
    /tmp/magenta-venv/bin/python time_generation.py --bundle_file B.mag [--num_outputs 10]
        [--num_steps 128] [--repeats 1]
Prints one JSON line on stdout: the seconds to read the bundle and initialize the generator (graph
import and checkpoint restore), of one untimed warm-up output, and of each timed output.

It builds the same request as `melody_rnn_generate` does with its defaults (primer: a single
middle C at 120 qpm; generate from the step after the primer's last note to `num_steps` steps;
temperature 1, beam_size 1, branch_factor 1, steps_per_iteration 1) and calls the generator once
per output, as that script does, but writes no MIDI file. Only Magenta's public API is called; the
IndexedSlices shim is the one from run_magenta.py (shared/reference/running-magenta.md step 3).
"""

import argparse
import contextlib
import json
import os
import sys
import time


def apply_shims() -> None:
    """Keras 2 for Magenta's cells; IndexedSlices where tf_slim 1.1.0 looks for it (TF 2.21 moved it)."""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    from tensorflow.python.framework import indexed_slices, ops

    if not hasattr(ops, "IndexedSlices"):
        ops.IndexedSlices = indexed_slices.IndexedSlices


def build_request(generator, num_steps: int, note_seq_module, generator_pb2):
    """(primer NoteSequence, GeneratorOptions) as melody_rnn_generate builds them from its defaults."""
    qpm = note_seq_module.DEFAULT_QUARTERS_PER_MINUTE
    primer_sequence = note_seq_module.Melody([60]).to_sequence(qpm=qpm)
    seconds_per_step = 60.0 / qpm / generator.steps_per_quarter
    last_end_time = max(note.end_time for note in primer_sequence.notes)
    options = generator_pb2.GeneratorOptions()
    options.generate_sections.add(
        start_time=last_end_time + seconds_per_step, end_time=num_steps * seconds_per_step
    )
    options.args["temperature"].float_value = 1.0
    options.args["beam_size"].int_value = 1
    options.args["branch_factor"].int_value = 1
    options.args["steps_per_iteration"].int_value = 1
    return primer_sequence, options


def main() -> None:
    """Load the bundle, warm up once, time `repeats` x `num_outputs` generate calls; print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle_file", required=True)
    parser.add_argument("--num_outputs", type=int, default=10)
    parser.add_argument("--num_steps", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    apply_shims()
    import note_seq
    import tensorflow.compat.v1 as tf
    from magenta.models.melody_rnn import melody_rnn_model, melody_rnn_sequence_generator
    from magenta.models.shared import sequence_generator_bundle
    from note_seq.protobuf import generator_pb2

    tf.disable_v2_behavior()  # what the console entry points do first
    tf.logging.set_verbosity(tf.logging.ERROR)
    started = time.perf_counter()
    bundle = sequence_generator_bundle.read_bundle_file(os.path.expanduser(args.bundle_file))
    config = melody_rnn_model.default_configs[bundle.generator_details.id]
    generator = melody_rnn_sequence_generator.MelodyRnnSequenceGenerator(
        model=melody_rnn_model.MelodyRnnModel(config),
        details=config.details,
        steps_per_quarter=config.steps_per_quarter,
        checkpoint=None,
        bundle=bundle,
    )
    generator.initialize()
    initialize_seconds = time.perf_counter() - started
    primer_sequence, options = build_request(generator, args.num_steps, note_seq, generator_pb2)

    started = time.perf_counter()
    warm_up = generator.generate(primer_sequence, options)
    warm_up_seconds = time.perf_counter() - started
    repeats = []
    for _ in range(args.repeats):
        durations = []
        for _ in range(args.num_outputs):
            started = time.perf_counter()
            generator.generate(primer_sequence, options)
            durations.append(time.perf_counter() - started)
        repeats.append(durations)
    graph_batch = None
    with contextlib.suppress(Exception):  # the batch baked into the bundle's graph; informative
        graph_batch = int(generator._model._session.graph.get_collection("inputs")[0].shape[0])
    print(
        json.dumps(
            {
                "config": bundle.generator_details.id,
                "initialize_seconds": initialize_seconds,
                "warm_up_seconds": warm_up_seconds,
                "warm_up_notes": len(warm_up.notes),
                "output_seconds": repeats,
                "graph_batch_size": graph_batch,
                "python": sys.version.split()[0],
            }
        )
    )


if __name__ == "__main__":
    main()
