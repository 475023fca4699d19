"""The command line's flags as Magenta wrote them: booleans, the config flags, the model source."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from melodylib.encoding.config_names import CONFIG_NAMES

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


def rewrite_negated_booleans(argv: Sequence[str]) -> list[str]:
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
        "--generator_id",
        default=None,
        help="The config's id (its name), e.g. for --melody_encoder_decoder; stored in a bundle "
        "written with --save_generator_bundle.",
    )
    parser.add_argument(
        "--generator_description",
        default=None,
        help="The config's description; stored in a bundle written with --save_generator_bundle.",
    )
    parser.add_argument(
        "--hparams",
        default="",
        help="Comma-separated name=value hyperparameters that override the config's, e.g. "
        "'batch_size=64,rnn_layer_sizes=[64,64]'. Names: batch_size, rnn_layer_sizes, "
        "dropout_keep_prob, attn_length, clip_norm, learning_rate.",
    )


def config_from_flags(flags: argparse.Namespace, required: bool = True, with_details: bool = True):
    """The MelodyRnnConfig named by --config or --melody_encoder_decoder, with --hparams applied
    (and --generator_id and --generator_description, unless `with_details` is False).

    None when neither is given and `required` is False (a bundle or run_dir brings its own).
    """
    from melodylib.encoding import configs

    if not (flags.config or flags.melody_encoder_decoder) and not required:
        return None
    return configs.config_from_flags(
        flags.config,
        flags.melody_encoder_decoder,
        flags.hparams or None,
        getattr(flags, "generator_id", None) if with_details else None,
        getattr(flags, "generator_description", None) if with_details else None,
    )


def model_from_flags(flags: argparse.Namespace, config):
    """The model named by --bundle_file or --run_dir/--checkpoint_file: (model, config, a name for it).

    --hparams apply to the loaded config too (as Magenta applies them to a bundle's config), as
    far as the weights allow: see `with_flag_overrides`.
    """
    from melodylib.bundles.sources import load_model, with_flag_overrides

    model, config, name = load_model(
        flags.bundle_file, flags.run_dir, flags.checkpoint_file, config
    )
    source = flags.bundle_file or flags.run_dir or flags.checkpoint_file
    return model, with_flag_overrides(config, str(source), flags.hparams or None), name


# --- convert -------------------------------------------------------------------------------------
