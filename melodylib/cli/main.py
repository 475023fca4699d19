"""`melody_rnn`: one command with Magenta's scripts as subcommands, and Magenta's flag names.

    melody_rnn convert         (convert_dir_to_note_sequences)
    melody_rnn create_dataset  (melody_rnn_create_dataset)
    melody_rnn train           (melody_rnn_train)
    melody_rnn generate        (melody_rnn_generate)

Flags are written as in Magenta (`--flag=value` or `--flag value`; booleans also as `--flag`,
`--noflag` or `--flag=false`). This module only parses flags and prints: the work is done by the
library, imported inside each subcommand so that `--help` never waits for TensorFlow.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from melodylib.encoding.config_names import CONFIG_NAMES
from melodylib.errors import MelodylibError

PROGRAM = "melody_rnn"
_BOOLEAN_FLAGS: set[str] = set()


def parse_boolean(text: str | bool) -> bool:
    """absl-style boolean flag values: true/false, 1/0, yes/no."""
    if isinstance(text, bool):
        return text
    lowered = text.strip().lower()
    if lowered in ("true", "1", "yes", "t", "y"):
        return True
    if lowered in ("false", "0", "no", "f", "n"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got '{text}'")


def add_boolean(parser: argparse.ArgumentParser, name: str, default: bool, help_text: str) -> None:
    """A boolean flag accepted as --name, --noname, --name=true or --name=false."""
    _BOOLEAN_FLAGS.add(name)
    parser.add_argument(
        f"--{name}",
        nargs="?",
        const=True,
        default=default,
        type=parse_boolean,
        metavar="BOOL",
        help=f"{help_text} (default: {default}; also --no{name})",
    )


def _rewrite_negated_booleans(argv: Sequence[str]) -> list[str]:
    """Turn absl's `--noflag` into `--flag=false` for the boolean flags."""
    rewritten = []
    for argument in argv:
        if argument.startswith("--no") and "=" not in argument and argument[4:] in _BOOLEAN_FLAGS:
            rewritten.append(f"--{argument[4:]}=false")
        else:
            rewritten.append(argument)
    return rewritten


def add_log_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--log",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR", "FATAL"],
        help="The threshold for what messages will be logged (default: INFO).",
    )


def add_config_flags(parser: argparse.ArgumentParser, required: bool = True) -> None:
    """Magenta's config flags (melody_rnn_config_flags.py)."""
    parser.add_argument(
        "--config",
        choices=CONFIG_NAMES,
        default=None,
        help="Which config to use: basic_rnn (one-hot, range C3..B5, transposed to C), mono_rnn "
        "(one-hot, all 128 pitches, not transposed), lookback_rnn (lookback encoding) or "
        "attention_rnn (key encoding and attention over the last 40 steps).",
    )
    parser.add_argument(
        "--melody_encoder_decoder",
        choices=["onehot", "lookback", "key"],
        default=None,
        help="Instead of --config: build a config from an encoder name with range 48..84, "
        "transposed to C, and the base hyperparameters.",
    )
    parser.add_argument(
        "--generator_id", default=None, help="With --melody_encoder_decoder: the config's id."
    )
    parser.add_argument(
        "--generator_description",
        default=None,
        help="With --melody_encoder_decoder: the config's description.",
    )
    parser.add_argument(
        "--hparams",
        default="",
        help="Comma-separated name=value hyperparameters that override the config's, e.g. "
        "'batch_size=64,rnn_layer_sizes=[64,64]'. Names: batch_size, rnn_layer_sizes, "
        "dropout_keep_prob, attn_length, clip_norm, learning_rate.",
    )


def config_from_flags(flags: argparse.Namespace, required: bool = True):
    """The MelodyRnnConfig named by --config or --melody_encoder_decoder, with --hparams applied.

    None when neither is given and `required` is False (a bundle or run_dir brings its own).
    """
    from melodylib.encoding import configs

    if not (flags.config or flags.melody_encoder_decoder) and not required:
        return None
    return configs.config_from_flags(
        flags.config,
        flags.melody_encoder_decoder,
        flags.hparams or None,
        getattr(flags, "generator_id", None),
        getattr(flags, "generator_description", None),
    )


def model_from_flags(flags: argparse.Namespace, config):
    """The model named by --bundle_file or --run_dir/--checkpoint_file: (model, config, a name for it)."""
    from melodylib.bundles.sources import load_model

    return load_model(flags.bundle_file, flags.run_dir, flags.checkpoint_file, config)


# --- convert -------------------------------------------------------------------------------------
def add_convert(subparsers) -> None:
    parser = subparsers.add_parser(
        "convert",
        help="Convert a folder of MIDI, MusicXML and ABC files to NoteSequences.",
        description="Read every MIDI (.mid, .midi), MusicXML (.xml, .mxl, .musicxml) and ABC (.abc) "
        "file in a folder into NoteSequences written to one TFRecord file (Magenta's "
        "convert_dir_to_note_sequences). Unreadable files are skipped with a line naming the "
        "reason; the run goes on.",
    )
    parser.add_argument("--input_dir", required=True, help="The folder of music files to read.")
    parser.add_argument(
        "--output_file",
        required=True,
        help="The TFRecord file to write (overwritten; its folders are created; written to a "
        "temporary name and renamed when complete).",
    )
    add_boolean(parser, "recursive", False, "Also read the files in subfolders")
    parser.add_argument(
        "--num_workers",
        type=int,
        default=None,
        help="Processes reading files in parallel (default: all cores).",
    )
    add_log_flag(parser)
    parser.set_defaults(run=run_convert)


def run_convert(flags: argparse.Namespace) -> int:
    from melodylib.music.readers import convert_directory

    summary = convert_directory(
        flags.input_dir,
        flags.output_file,
        recursive=flags.recursive,
        num_workers=flags.num_workers,
        progress=sys.stderr.isatty(),
    )
    print(summary.format())
    return 0 if summary.sequences_written else 1


# --- create_dataset ----------------------------------------------------------------------------
def add_create_dataset(subparsers) -> None:
    parser = subparsers.add_parser(
        "create_dataset",
        help="Extract and encode melodies into training and eval SequenceExamples.",
        description="Extract melodies from a TFRecord of NoteSequences, squash them into the "
        "config's range and key, encode them and write training_melodies.tfrecord and "
        "eval_melodies.tfrecord (Magenta's melody_rnn_create_dataset). The split into training "
        "and eval depends only on each sequence's id and --seed, so it is reproducible.",
    )
    add_config_flags(parser)
    parser.add_argument(
        "--input", required=True, help="TFRecord file of NoteSequences (from `convert`)."
    )
    parser.add_argument(
        "--output_dir", required=True, help="Folder for the two SequenceExample files."
    )
    parser.add_argument(
        "--eval_ratio",
        type=float,
        default=0.1,
        help="Fraction of input sequences that go to the eval set (default 0.1).",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="Seed of the reproducible train/eval split (default 0)."
    )
    parser.add_argument(
        "--min_bars",
        type=int,
        default=7,
        help="Discard melodies shorter than this many bars (Magenta: 7).",
    )
    parser.add_argument(
        "--max_steps",
        type=int,
        default=512,
        help="Truncate melodies longer than this many 16th steps (Magenta: 512).",
    )
    parser.add_argument(
        "--min_unique_pitches",
        type=int,
        default=5,
        help="Discard melodies with fewer distinct pitch classes (Magenta: 5).",
    )
    parser.add_argument(
        "--gap_bars",
        type=float,
        default=1.0,
        help="A silence this many bars long ends a melody (Magenta: 1.0).",
    )
    add_boolean(
        parser,
        "ignore_polyphonic_notes",
        False,
        "Keep the highest note of simultaneous onsets instead of discarding the whole track "
        "(Magenta hard-codes false)",
    )
    parser.add_argument(
        "--num_workers",
        type=int,
        default=None,
        help="Processes encoding in parallel (default: all cores).",
    )
    add_boolean(
        parser,
        "compress",
        False,
        "Write GZIP-compressed TFRecords, about 20x smaller (melodylib reads them; Magenta does not)",
    )
    add_log_flag(parser)
    parser.set_defaults(run=run_create_dataset)


def run_create_dataset(flags: argparse.Namespace) -> int:
    from melodylib.data.datasets import ExtractionSettings, create_dataset

    config = config_from_flags(flags)
    settings = ExtractionSettings(
        min_bars=flags.min_bars,
        max_steps=flags.max_steps,
        min_unique_pitches=flags.min_unique_pitches,
        gap_bars=flags.gap_bars,
        ignore_polyphonic_notes=flags.ignore_polyphonic_notes,
    )
    summary = create_dataset(
        flags.input,
        config,
        flags.output_dir,
        eval_ratio=flags.eval_ratio,
        seed=flags.seed,
        settings=settings,
        num_workers=flags.num_workers,
        progress=sys.stderr.isatty(),
        compress=flags.compress,
    )
    print(summary.format())
    if summary.training_melodies + summary.eval_melodies == 0:
        print(
            "No melodies were extracted: see the statistics above (polyphonic_tracks_discarded counts "
            "tracks with chords; try --ignore_polyphonic_notes, or a smaller --min_bars).",
            file=sys.stderr,
        )
        return 1
    return 0


# --- train -------------------------------------------------------------------------------------
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
        "the primer (Magenta leaves two forced steps, magenta#2051).",
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
        primer = generation.parse_primer_melody(flags.primer_melody)
    elif flags.primer_midi:
        primer, primer_qpm, polyphonic = generation.primer_from_midi(flags.primer_midi)
        qpm = qpm or primer_qpm
        if polyphonic:
            print(
                f"Note: {flags.primer_midi} has simultaneous notes; the highest note of each onset is kept."
            )
    else:
        print("No primer given: starting from a single middle C.")
        primer = [generation.MIDDLE_C]
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
def add_build_corpus(subparsers) -> None:
    parser = subparsers.add_parser(
        "build_corpus",
        help="Build the course corpus from music21's folk collections (reused if present).",
        description="Read the folk tunes and chorales that ship inside music21 into data/corpus/<subset>/ "
        "and create a data set per config with the course's fixed train/eval split. A second run "
        "reuses what is there.",
    )
    parser.add_argument(
        "--subset",
        choices=["small", "full"],
        default="full",
        help="'small' (a few hundred tunes) or 'full' (default).",
    )
    parser.add_argument(
        "--configs",
        default="basic_rnn,mono_rnn,lookback_rnn,attention_rnn",
        help="Comma-separated configs to create data sets for (default: all four).",
    )
    parser.add_argument(
        "--corpus_dir", default=None, help="Where to build (default data/corpus/<subset>)."
    )
    add_boolean(parser, "force", False, "Rebuild even if the corpus is there")
    parser.add_argument(
        "--num_workers",
        type=int,
        default=None,
        help="Processes reading in parallel (default: all cores).",
    )
    add_log_flag(parser)
    parser.set_defaults(run=run_build_corpus)


def run_build_corpus(flags: argparse.Namespace) -> int:
    from melodylib.course.corpus import build_corpus, format_report

    configs = [name.strip() for name in flags.configs.split(",") if name.strip()]
    unknown = [name for name in configs if name not in CONFIG_NAMES]
    if unknown:
        raise MelodylibError(
            f"--configs: unknown config {', '.join(unknown)}; choose from {', '.join(CONFIG_NAMES)}"
        )
    report = build_corpus(
        flags.subset,
        configs,
        root=flags.corpus_dir,
        num_workers=flags.num_workers,
        progress=sys.stderr.isatty(),
        force=flags.force,
    )
    print(format_report(report))
    return 0


def add_demo(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="Generate melodies from the shipped pretrained bundles: MIDI, a WAV and a piano roll.",
        description="Continue a primer with each shipped pretrained bundle (data/bundles/) and write "
        "MIDI files, one WAV and a piano-roll PNG to --output_dir.",
    )
    parser.add_argument(
        "--output_dir", default="output/demo", help="Where to write (default output/demo)."
    )
    parser.add_argument(
        "--bundle_dir", default=None, help="Folder of bundles (default: the shipped data/bundles)."
    )
    parser.add_argument(
        "--num_outputs", type=int, default=2, help="Melodies per config (default 2)."
    )
    parser.add_argument(
        "--num_steps",
        type=int,
        default=128,
        help="Total steps per melody, primer included (default 128).",
    )
    parser.add_argument(
        "--primer_melody",
        default="[67, -2, 64, -2, 64, -2, -2, -2, 65, -2, 62, -2, 62, -2, -2, -2]",
        help="The primer given to every model (default: the opening of a German folk song).",
    )
    parser.add_argument(
        "--temperature", type=float, default=1.0, help="Sampling temperature (default 1.0)."
    )
    parser.add_argument("--seed", type=int, default=2026, help="Random seed (default 2026).")
    add_log_flag(parser)
    parser.set_defaults(run=run_demo)


def run_demo(flags: argparse.Namespace) -> int:
    from melodylib.cli.demo import run_demo as demo

    result = demo(
        flags.output_dir,
        bundle_dir=flags.bundle_dir,
        num_outputs=flags.num_outputs,
        num_steps=flags.num_steps,
        primer_melody=flags.primer_melody,
        temperature=flags.temperature,
        seed=flags.seed,
    )
    print(result.format())
    return 0


def add_doctor(subparsers) -> None:
    parser = subparsers.add_parser(
        "doctor",
        help="Check the installation: versions, GPU, corpus, bundles, audio, training speed.",
        description="Check an installation in one command; every problem comes with its fix.",
    )
    add_log_flag(parser)
    parser.set_defaults(run=run_doctor)


def run_doctor(flags: argparse.Namespace) -> int:
    from melodylib.cli.doctor import run_checks

    results = run_checks()
    return 0 if all(result.ok for result in results) else 1


SUBCOMMANDS: list[Callable] = [
    add_convert,
    add_create_dataset,
    add_train,
    add_generate,
    add_evaluate,
    add_convert_bundle,
    add_build_corpus,
    add_demo,
    add_doctor,
]


def build_parser() -> argparse.ArgumentParser:
    """The `melody_rnn` parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog=PROGRAM,
        description="Magenta's Melody RNN on Keras 3: convert music, create data sets, train, generate.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for add in SUBCOMMANDS:
        add(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `melody_rnn` console script and `python -m melodylib`."""
    parser = build_parser()
    arguments = _rewrite_negated_booleans(list(sys.argv[1:] if argv is None else argv))
    flags = parser.parse_args(arguments)
    logging.basicConfig(
        level=getattr(logging, getattr(flags, "log", "INFO").replace("FATAL", "CRITICAL")),
        format="%(levelname)s: %(message)s",
    )
    try:
        return flags.run(flags)
    except MelodylibError as error:
        print(f"{PROGRAM} {flags.command}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROGRAM} {flags.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
