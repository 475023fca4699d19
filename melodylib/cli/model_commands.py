"""Subcommands that use trained models: generate, evaluate and convert_bundle (train is in
`train_commands`)."""

from __future__ import annotations

import argparse
import dataclasses

from melodylib.cli.flags import (
    add_boolean,
    add_config_flags,
    add_log_flag,
    config_from_flags,
    model_from_flags,
)
from melodylib.cli.train_commands import add_train  # noqa: F401 (the parser takes it from here)
from melodylib.errors import MelodylibError
from melodylib.generation.backends import BACKENDS
from melodylib.music.events import NO_EVENT


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
        help="A MIDI file to use as the primer. As in Magenta, its tempo overrides --qpm, the "
        "highest of simultaneous notes is kept, and the model reads it from the bar of its first "
        "note (earlier empty bars stay in the output's timing).",
    )
    parser.add_argument(
        "--qpm",
        type=float,
        default=None,
        help="Tempo of the output in quarters per minute (default 120); a --primer_midi's own "
        "tempo overrides it, as in Magenta.",
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
    add_backend_flag(parser)
    add_log_flag(parser)
    parser.set_defaults(run=run_generate)


def add_backend_flag(parser: argparse.ArgumentParser) -> None:
    """--backend: what runs the network while generating (melodylib.generation.backends)."""
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default="auto",
        help="What runs the network: numpy (no TensorFlow: starts seconds sooner), tensorflow, or "
        "auto (default): numpy for a melodylib bundle on a CPU, TensorFlow for a Magenta .mag, a "
        "run_dir or checkpoint, or when a GPU is visible (judged by /dev/nvidia* and "
        "CUDA_VISIBLE_DEVICES, without loading TensorFlow). A seed gives the same melodies on both.",
    )


def run_generate(flags: argparse.Namespace) -> int:
    from melodylib.generation import generator as generation

    if flags.save_generator_bundle:
        return run_save_generator_bundle(flags)
    generator = generator_from_flags(flags)
    if float(flags.num_steps) != int(flags.num_steps):
        raise MelodylibError(
            f"--num_steps must be a whole number of 16th steps, got {flags.num_steps}"
        )
    num_steps = int(flags.num_steps)
    primer, qpm = primer_from_flags(flags)
    if primer.leading_steps + len(primer.events) >= num_steps:
        raise MelodylibError(
            f"the primer lasts {primer.leading_steps + len(primer.events)} steps but --num_steps is "
            f"{num_steps}: num_steps counts the primer too, so it must be larger (e.g. "
            f"--num_steps={primer.leading_steps + len(primer.events) + 64})"
        )
    melodies = generator.generate(
        primer.events,
        num_steps=num_steps - primer.leading_steps,
        num_outputs=flags.num_outputs,
        temperature=flags.temperature,
        beam_size=flags.beam_size,
        branch_factor=flags.branch_factor,
        steps_per_iteration=flags.steps_per_iteration,
        seed=flags.seed,
        qpm=qpm,
    )
    melodies = [with_leading_silence(melody, primer.leading_steps) for melody in melodies]
    paths = generation.write_melodies(melodies, flags.output_dir, musicxml=flags.musicxml)
    for melody, path in zip(melodies, paths):
        print(f"{path}: log-likelihood {melody.log_likelihood:.3f}")
    scores = " and MusicXML scores" if flags.musicxml else ""
    print(f"Wrote {len(paths)} MIDI files{scores} to {flags.output_dir}.")
    return 0


def generator_from_flags(flags: argparse.Namespace):
    """The MelodyGenerator for --bundle_file or --run_dir/--checkpoint_file on --backend.

    On numpy a melodylib bundle is read without TensorFlow, with the same config checks and
    --hparams overrides as `model_from_flags` applies on TensorFlow.
    """
    from melodylib.generation.backends import choose_backend
    from melodylib.generation.generator import MelodyGenerator

    config = config_from_flags(flags, required=False)
    backend = getattr(flags, "backend", "auto")
    bundle_only = flags.bundle_file and not (flags.run_dir or flags.checkpoint_file)
    if bundle_only and choose_backend(flags.bundle_file, backend) == "numpy":
        from melodylib.bundles.reading import load_bundle
        from melodylib.bundles.sources import with_flag_overrides

        bundle = load_bundle(flags.bundle_file)
        if config is not None:
            bundle.check_compatible(config)
        config = with_flag_overrides(bundle.config, str(flags.bundle_file), flags.hparams or None)
        return MelodyGenerator(bundle, config, backend="numpy")
    model, config, _ = model_from_flags(flags, config)
    return MelodyGenerator(model, config, backend="numpy" if backend == "numpy" else "tensorflow")


def primer_from_flags(flags: argparse.Namespace):
    """(Primer, qpm) from --primer_melody, else --primer_midi, else a middle C, as Magenta:
    a MIDI primer's own tempo overrides --qpm; otherwise --qpm, else 120."""
    from melodylib.generation import primers

    if flags.qpm is not None and not flags.qpm > 0:
        raise MelodylibError(f"--qpm must be positive, got {flags.qpm}")
    qpm = flags.qpm or 120.0
    if flags.primer_melody:
        return primers.primer_from_events(primers.parse_primer_melody(flags.primer_melody)), qpm
    if flags.primer_midi:
        primer = primers.midi_primer(flags.primer_midi)
        if primer.polyphonic:
            print(
                f"Note: {flags.primer_midi} has simultaneous notes; the highest note of each "
                "onset is kept."
            )
        if flags.qpm and abs(flags.qpm - primer.qpm) > 1e-6:
            print(
                f"Note: --qpm {flags.qpm:g} is not used: a MIDI primer keeps its own tempo "
                f"({primer.qpm:g} qpm), as in Magenta."
            )
        if primer.leading_steps:
            print(
                f"Note: {flags.primer_midi} starts with {primer.leading_steps} silent steps; the "
                "model reads it from the bar of its first note, as in Magenta."
            )
        return primer, primer.qpm
    print("No primer given: starting from a single middle C.")
    return primers.Primer([primers.MIDDLE_C]), qpm


def with_leading_silence(melody, steps: int):
    """A GeneratedMelody with `steps` silent steps put back in front (the empty bars of the primer
    that the model did not read), so the notes keep their times in the output."""
    if not steps:
        return melody
    silence = [NO_EVENT] * steps
    return dataclasses.replace(
        melody,
        events=silence + list(melody.events),
        primer_length=melody.primer_length + steps,
        model_events=silence + list(melody.model_events) if melody.model_events else [],
    )


def run_save_generator_bundle(flags: argparse.Namespace) -> int:
    """--save_generator_bundle: a bundle of --run_dir/--checkpoint_file, whose config carries
    --generator_id, --generator_description and --hparams (as Magenta's bundle details)."""
    from melodylib.bundles.bundle import save_bundle
    from melodylib.bundles.sources import load_trained_model, with_flag_overrides

    if not flags.bundle_file:
        raise MelodylibError("--save_generator_bundle needs --bundle_file, the bundle to write")
    if not (flags.run_dir or flags.checkpoint_file):
        raise MelodylibError("--save_generator_bundle needs --run_dir or --checkpoint_file")
    config = config_from_flags(flags, required=False, with_details=False)
    model, config, step = load_trained_model(flags.run_dir, flags.checkpoint_file, config)
    source = str(flags.run_dir or flags.checkpoint_file)
    config = with_flag_overrides(
        config,
        source,
        flags.hparams or None,
        flags.generator_id,
        flags.generator_description,
    )
    if flags.bundle_description is None:
        print("Note: no --bundle_description given; the bundle has none.")
    path = save_bundle(
        flags.bundle_file,
        model,
        config,
        flags.bundle_description or "",
        {"training_steps": step, "run_dir": source},
    )
    print(f"Wrote bundle {path} ({config.name}, step {step}).")
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
    add_memorisation_flags(parser)
    add_log_flag(parser)
    parser.set_defaults(run=run_evaluate)


def add_memorisation_flags(parser: argparse.ArgumentParser) -> None:
    """evaluate's memorisation check: what generated melodies copy from the training tunes."""
    parser.add_argument(
        "--note_sequence_file",
        default="",
        help="The NoteSequences the data set was made from (create_dataset's --input). With it, "
        "evaluate also continues the first bar of eval tunes and reports the longest stretch each "
        "continuation shares with a training tune (up to transposition), beside the same figure "
        "for the real eval tunes.",
    )
    parser.add_argument(
        "--eval_ratio",
        type=float,
        default=0.1,
        help="create_dataset's --eval_ratio, to split the tunes as it did (default 0.1).",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="create_dataset's --seed (the split; default 0); also seeds the generated melodies.",
    )
    parser.add_argument(
        "--num_generated",
        type=int,
        default=100,
        help="Eval tunes to continue for the memorisation check (default 100).",
    )
    parser.add_argument(
        "--num_steps",
        type=int,
        default=128,
        help="Steps of each continuation and of each real tune it is compared with (default 128).",
    )


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
    print(
        f"{name}: per-class accuracy {metrics['per_class_accuracy']:.3f} (Magenta's "
        "metrics/per_class_accuracy: the mean over all classes, a class never seen counting 0)"
    )
    report = None
    if flags.note_sequence_file:
        from melodylib.evaluation.memorisation_report import memorisation_check

        report = memorisation_check(
            model,
            flags.note_sequence_file,
            flags.eval_ratio,
            flags.seed,
            flags.num_generated,
            flags.num_steps,
            config,
        )
        print(report.format())
    if flags.output_json:
        evaluation.write_json(rows, flags.output_json, memorisation=report)
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
