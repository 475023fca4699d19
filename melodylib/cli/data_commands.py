"""Subcommands that make data: convert (music files to NoteSequences), create_dataset and build_corpus."""

from __future__ import annotations

import argparse
import sys

from melodylib.cli.flags import add_boolean, add_config_flags, add_log_flag, config_from_flags
from melodylib.encoding.config_names import CONFIG_NAMES
from melodylib.errors import MelodylibError

SHARDS_HELP = (
    "With N > 1, write N shards named the TensorFlow way, {name}-00000-of-0000N ... (record i "
    "in shard i mod N), for large data sets; default 1: one file. Every melodylib reader accepts "
    "the base name {name} for the whole set when no file of that name exists (or a glob such as "
    "{name}-*); an earlier output of the same name with another shard count is removed."
)


def add_convert(subparsers) -> None:
    parser = subparsers.add_parser(
        "convert",
        help="Convert a folder of MIDI, MusicXML and ABC files to NoteSequences.",
        description="Read every MIDI (.mid, .midi), MusicXML (.xml, .mxl, .musicxml) and ABC (.abc) "
        "file in a folder into NoteSequences written to one TFRecord file (Magenta's "
        "convert_dir_to_note_sequences, whose note_seq NoteSequence protobuf records it writes, so "
        "Magenta reads the file too). Unreadable files are skipped with a line naming the "
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
    parser.add_argument(
        "--output_format",
        choices=["protobuf", "json"],
        default="protobuf",
        help="Record form: 'protobuf' (note_seq's NoteSequence, as Magenta writes; the default) "
        "or 'json' (melodylib's older records; melodylib reads both).",
    )
    parser.add_argument(
        "--file_timeout_secs",
        type=float,
        default=60.0,
        help="Skip a file (or ABC tune) still being read after this many seconds, with reason "
        "'timeout', and go on (default: 60; 0: no limit).",
    )
    parser.add_argument(
        "--num_shards",
        type=int,
        default=1,
        help=SHARDS_HELP.format(name="OUTPUT_FILE"),
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
        output_format=flags.output_format,
        file_timeout_secs=flags.file_timeout_secs,
        num_shards=flags.num_shards,
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
        "--input",
        required=True,
        help="TFRecord file of NoteSequences (from `convert` or Magenta's "
        "convert_dir_to_note_sequences); also a glob, a comma-separated list, or the base name "
        "of shards (NAME standing for NAME-00000-of-0000N ... when no file NAME exists).",
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
    parser.add_argument(
        "--num_shards",
        type=int,
        default=1,
        help=SHARDS_HELP.format(name="training_melodies.tfrecord") + " Both splits get N shards.",
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
        num_shards=flags.num_shards,
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
