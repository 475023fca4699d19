"""Subcommands that train and use models: train, generate, evaluate and convert_bundle."""

from __future__ import annotations

import argparse

from melodylib.cli.flags import (
    add_boolean,
    add_config_flags,
    add_log_flag,
    config_from_flags,
    model_from_flags,
)
from melodylib.errors import MelodylibError


def add_train(subparsers) -> None:
    parser = subparsers.add_parser(
        "train",
        help="Train a model on SequenceExamples, with evaluation in the same process.",
        description="Train a Melody RNN (Magenta's melody_rnn_train). Checkpoints and TensorBoard "
        "summaries go to RUN_DIR/train (and RUN_DIR/eval); running again with the same --run_dir "
        "resumes from the latest checkpoint.",
    )
    add_config_flags(parser)
    parser.add_argument(
        "--run_dir",
        default="/tmp/melody_rnn/logdir/run1",
        help="Folder for checkpoints and summaries: RUN_DIR/train and RUN_DIR/eval (default "
        "/tmp/melody_rnn/logdir/run1).",
    )
    parser.add_argument(
        "--sequence_example_file",
        default="",
        help="TFRecord of SequenceExamples to train on (training_melodies.tfrecord); globs and "
        "comma-separated lists are allowed. Required.",
    )
    parser.add_argument(
        "--num_training_steps",
        type=int,
        default=0,
        help="Train until this global step; 0 (the default) trains until interrupted.",
    )
    parser.add_argument(
        "--summary_frequency",
        type=int,
        default=10,
        help="Steps between log lines and TensorBoard summaries (default 10).",
    )
    parser.add_argument(
        "--num_checkpoints",
        type=int,
        default=10,
        help="How many latest checkpoints to keep; 0 keeps all (default 10).",
    )
    parser.add_argument(
        "--save_checkpoint_secs",
        type=float,
        default=60.0,
        help="Seconds between checkpoints (default 60, as Magenta); one is always written at the end.",
    )
    add_boolean(
        parser,
        "eval",
        False,
        "Evaluate the latest checkpoint in RUN_DIR on --sequence_example_file instead of training "
        "(Magenta's separate eval process; see --eval_sequence_example_file for evaluation during training)",
    )
    parser.add_argument(
        "--num_eval_examples",
        type=int,
        default=0,
        help="Melodies per evaluation; 0 (the default) uses the whole eval set.",
    )
    parser.add_argument(
        "--eval_sequence_example_file",
        default="",
        help="Beyond Magenta: evaluate on this eval set (eval_melodies.tfrecord) every "
        "--eval_frequency steps inside the training process, with dropout off.",
    )
    parser.add_argument(
        "--eval_frequency",
        type=int,
        default=100,
        help="Steps between evaluations during training (default 100).",
    )
    parser.add_argument(
        "--warm_start_bundle",
        default="",
        help="Start from the weights of this bundle (ours or a Magenta .mag) instead of random ones: fine-tuning.",
    )
    parser.add_argument(
        "--strategy",
        choices=["default", "mirrored"],
        default="default",
        help="'mirrored' trains on all local GPUs with tf.distribute.MirroredStrategy; for several "
        "machines see MultiWorkerMirroredStrategy in the README.",
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="Random seed for weights and shuffling."
    )
    add_log_flag(parser)
    parser.set_defaults(run=run_train)


def run_train(flags: argparse.Namespace) -> int:
    config = config_from_flags(flags)
    if flags.eval:
        from melodylib.bundles.sources import load_model
        from melodylib.evaluation.metrics import evaluate_model

        model, config, _ = load_model(run_dir=flags.run_dir, config=config)
        metrics = evaluate_model(
            model, flags.sequence_example_file, config, flags.num_eval_examples
        )
        print("Eval: " + ", ".join(f"{name} {value:.4f}" for name, value in metrics.items()))
        return 0
    from melodylib.training.loop import train

    result = train(
        config,
        flags.sequence_example_file,
        flags.run_dir,
        num_training_steps=flags.num_training_steps,
        summary_frequency=flags.summary_frequency,
        num_checkpoints=flags.num_checkpoints,
        save_checkpoint_secs=flags.save_checkpoint_secs,
        eval_sequence_example_file=flags.eval_sequence_example_file or None,
        eval_frequency=flags.eval_frequency,
        num_eval_examples=flags.num_eval_examples,
        warm_start_bundle=flags.warm_start_bundle or None,
        strategy=flags.strategy,
        seed=flags.seed,
    )
    print(f"Finished at step {result.step}; checkpoints in {flags.run_dir}/train.")
    return 0


# --- generate ----------------------------------------------------------------------------------
def add_generate(subparsers) -> None:
    parser = subparsers.add_parser(
        "generate",
        help="Generate melodies from a bundle or a training run.",
        description="Continue a primer melody with a trained model (Magenta's melody_rnn_generate) "
        "and write one MIDI file per output. Unlike Magenta, the continuation starts right after "
        "the primer (Magenta leaves two forced steps).",
    )
    add_config_flags(parser)
    parser.add_argument(
        "--run_dir",
        default=None,
        help="A training run: its latest checkpoint in RUN_DIR/train is used.",
    )
    parser.add_argument(
        "--checkpoint_file", default=None, help="A checkpoint to use (--run_dir takes priority)."
    )
    parser.add_argument(
        "--bundle_file",
        default=None,
        help="A bundle to generate from (ours or a Magenta .mag); its config is used. With "
        "--save_generator_bundle, the bundle file to write.",
    )
    add_boolean(
        parser,
        "save_generator_bundle",
        False,
        "Write a bundle to --bundle_file from --run_dir/--checkpoint_file instead of generating",
    )
    parser.add_argument(
        "--bundle_description", default=None, help="A description stored in the bundle."
    )
    parser.add_argument(
        "--output_dir",
        default="/tmp/melody_rnn/generated",
        help="Folder for the MIDI files (default /tmp/melody_rnn/generated).",
    )
    parser.add_argument(
        "--num_outputs", type=int, default=10, help="How many melodies to write (default 10)."
    )
    parser.add_argument(
        "--num_steps",
        type=float,
        default=128,
        help="Total length in 16th-note steps, primer included (default 128 = 8 bars of 4/4).",
    )
    parser.add_argument(
        "--primer_melody",
        default="",
        help='A primer as a list of events, e.g. "[60, -2, 60, -2, 67, -2, 67, -2]": one element per '
        "16th step; -2 holds, -1 ends the note, 0..127 starts a note. Default: a single middle C.",
    )
    parser.add_argument(
        "--primer_midi",
        default="",
        help="A MIDI file to use as the primer (its tempo is kept; of simultaneous notes the highest is kept).",
    )
    parser.add_argument(
        "--qpm",
        type=float,
        default=None,
        help="Tempo of the output in quarters per minute (default: the primer's, else 120).",
    )
    parser.add_argument(
        "--temperature",
        type=float,
        default=1.0,
        help="Divides the logits: above 1 is more random, below 1 more conservative (default 1.0).",
    )
    parser.add_argument(
        "--beam_size", type=int, default=1, help="Beams kept per output in beam search (default 1)."
    )
    parser.add_argument(
        "--branch_factor", type=int, default=1, help="Branches sampled from each beam (default 1)."
    )
    parser.add_argument(
        "--steps_per_iteration",
        type=int,
        default=1,
        help="Steps each branch is extended before pruning (default 1).",
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="Random seed, for repeatable output."
    )
    add_boolean(
        parser,
        "musicxml",
        False,
        "Also write a MusicXML score beside each MIDI file (the primer coloured apart)",
    )
    add_log_flag(parser)
    parser.set_defaults(run=run_generate)


def run_generate(flags: argparse.Namespace) -> int:
    from melodylib.generation import generator as generation
    from melodylib.generation import primers

    config = config_from_flags(flags, required=False)
    if flags.save_generator_bundle:
        if not flags.bundle_file:
            raise MelodylibError("--save_generator_bundle needs --bundle_file, the bundle to write")
        from melodylib.bundles.bundle import save_bundle
        from melodylib.bundles.sources import load_trained_model

        model, config, step = load_trained_model(flags.run_dir, flags.checkpoint_file, config)
        path = save_bundle(
            flags.bundle_file,
            model,
            config,
            flags.bundle_description or "",
            {"training_steps": step, "run_dir": str(flags.run_dir or flags.checkpoint_file)},
        )
        print(f"Wrote bundle {path} ({config.name}, step {step}).")
        return 0
    model, config, _ = model_from_flags(flags, config)
    generator = generation.MelodyGenerator(model, config)
    if float(flags.num_steps) != int(flags.num_steps):
        raise MelodylibError(
            f"--num_steps must be a whole number of 16th steps, got {flags.num_steps}"
        )
    qpm = flags.qpm
    if flags.primer_melody:
        primer = primers.parse_primer_melody(flags.primer_melody)
    elif flags.primer_midi:
        primer, primer_qpm, polyphonic = primers.primer_from_midi(flags.primer_midi)
        qpm = qpm or primer_qpm
        if polyphonic:
            print(
                f"Note: {flags.primer_midi} has simultaneous notes; the highest note of each onset is kept."
            )
    else:
        print("No primer given: starting from a single middle C.")
        primer = [primers.MIDDLE_C]
    if qpm is not None and not qpm > 0:
        raise MelodylibError(f"--qpm must be positive, got {qpm}")
    melodies = generator.generate(
        primer,
        num_steps=int(flags.num_steps),
        num_outputs=flags.num_outputs,
        temperature=flags.temperature,
        beam_size=flags.beam_size,
        branch_factor=flags.branch_factor,
        steps_per_iteration=flags.steps_per_iteration,
        seed=flags.seed,
        qpm=qpm or 120.0,
    )
    paths = generation.write_melodies(melodies, flags.output_dir, musicxml=flags.musicxml)
    for melody, path in zip(melodies, paths):
        print(f"{path}: log-likelihood {melody.log_likelihood:.3f}")
    scores = " and MusicXML scores" if flags.musicxml else ""
    print(f"Wrote {len(paths)} MIDI files{scores} to {flags.output_dir}.")
    return 0


# --- evaluate ----------------------------------------------------------------------------------
def add_evaluate(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="Score a model and n-gram baselines on an eval set.",
        description="Compute, on an eval set of SequenceExamples, the negative log-likelihood per step "
        "(loss), perplexity, accuracy, event accuracy and no-event accuracy of a model (dropout off), "
        "next to unigram, bigram and 4-gram baselines scored on the same encoded labels.",
    )
    add_config_flags(parser)
    parser.add_argument(
        "--bundle_file", default=None, help="A bundle to evaluate (ours or a Magenta .mag)."
    )
    parser.add_argument(
        "--run_dir", default=None, help="A training run to evaluate (its latest checkpoint)."
    )
    parser.add_argument("--checkpoint_file", default=None, help="A checkpoint to evaluate.")
    parser.add_argument(
        "--sequence_example_file",
        required=True,
        help="The eval set (eval_melodies.tfrecord), encoded for the config.",
    )
    parser.add_argument(
        "--baseline_sequence_example_file",
        default="",
        help="The training set the n-gram baselines are fitted on (training_melodies.tfrecord); "
        "without it they are fitted on the eval set itself (an optimistic upper bound).",
    )
    add_boolean(parser, "baselines", True, "Also score the unigram, bigram and 4-gram baselines")
    parser.add_argument(
        "--num_eval_examples",
        type=int,
        default=0,
        help="Melodies to score; 0 (default) scores all.",
    )
    parser.add_argument(
        "--output_json", default="", help="Also write the table as JSON, one object per row."
    )
    add_log_flag(parser)
    parser.set_defaults(run=run_evaluate)


def run_evaluate(flags: argparse.Namespace) -> int:
    from melodylib.evaluation import metrics as evaluation

    model, config, name = model_from_flags(flags, config_from_flags(flags, required=False))
    metrics = evaluation.evaluate_model(
        model, flags.sequence_example_file, config, flags.num_eval_examples
    )
    rows = [evaluation.EvaluationRow(name, "model", config.name, metrics)]
    if flags.baselines:
        rows += evaluation.baseline_rows(
            config,
            flags.sequence_example_file,
            flags.baseline_sequence_example_file or None,
            num_eval_examples=flags.num_eval_examples,
        )
    print(evaluation.format_table(rows))
    if flags.output_json:
        evaluation.write_json(rows, flags.output_json)
        print(f"Wrote {flags.output_json}.")
    return 0


# --- convert_bundle ----------------------------------------------------------------------------


def add_convert_bundle(subparsers) -> None:
    parser = subparsers.add_parser(
        "convert_bundle",
        help="Turn a Magenta .mag bundle into a melodylib bundle.",
        description="Read a Magenta GeneratorBundle (.mag) and write the same model as a melodylib bundle.",
    )
    parser.add_argument("--bundle_file", required=True, help="The Magenta .mag file to read.")
    parser.add_argument(
        "--output_bundle", required=True, help="The melodylib bundle file to write."
    )
    add_log_flag(parser)
    parser.set_defaults(run=run_convert_bundle)


def run_convert_bundle(flags: argparse.Namespace) -> int:
    from melodylib.bundles.magenta import convert_bundle

    path = convert_bundle(flags.bundle_file, flags.output_bundle)
    print(f"Wrote {path}.")
    return 0


# --- course commands ---------------------------------------------------------------------------
