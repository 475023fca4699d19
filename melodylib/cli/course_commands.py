"""The course's subcommands: demo (music from the shipped bundles) and doctor (the set-up check)."""

from __future__ import annotations

import argparse

from melodylib.cli.flags import add_log_flag


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
