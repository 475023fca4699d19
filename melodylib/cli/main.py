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

from melodylib.cli.course_commands import add_demo, add_doctor
from melodylib.cli.data_commands import add_build_corpus, add_convert, add_create_dataset
from melodylib.cli.export_commands import add_export_magenta_js, add_serve_web
from melodylib.cli.flags import PROGRAM, rewrite_negated_booleans
from melodylib.cli.model_commands import add_convert_bundle, add_evaluate, add_generate, add_train
from melodylib.errors import MelodylibError

SUBCOMMANDS: list[Callable] = [
    add_convert,
    add_create_dataset,
    add_train,
    add_generate,
    add_evaluate,
    add_convert_bundle,
    add_export_magenta_js,
    add_serve_web,
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
    arguments = rewrite_negated_booleans(list(sys.argv[1:] if argv is None else argv))
    flags = parser.parse_args(arguments)
    level = getattr(logging, getattr(flags, "log", "INFO").replace("FATAL", "CRITICAL"))
    logging.basicConfig(level=level, format="%(levelname)s: %(message)s")
    # TensorFlow's own INFO lines (one per checkpoint save: "Sharding callback duration ...",
    # through absl) are noise in a terminal; --log=DEBUG still shows them.
    for library in ("tensorflow", "absl"):
        logging.getLogger(library).setLevel(
            level if level <= logging.DEBUG else max(level, logging.WARNING)
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
