"""Magenta interop: read Magenta's `.mag` generator bundles and training checkpoints as melodylib Bundles.

The files are decoded by `melodylib.bundles.magenta_files` and their TF1 variables renamed and
reshaped onto our Keras variable paths by `melodylib.bundles.magenta_variables`; this module
works out the config (from the generator id, or from the sizes in the checkpoint), attn_length
(from the metagraph) and the provenance, and returns a Bundle.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import tempfile
from pathlib import Path

from melodylib.bundles.bundle import Bundle
from melodylib.bundles.magenta_files import (
    attention_length_from_metagraph,
    find_magenta_checkpoint,
    is_magenta_checkpoint,
    read_checkpoint,
    read_generator_bundle,
    whole_stack_attention_length_from_metagraph,
)
from melodylib.bundles.magenta_variables import (
    MagentaLayout,
    keras_weights_from_magenta,
    magenta_layout,
)
from melodylib.encoding.configs import CONFIG_NAMES, MelodyRnnConfig, get_config
from melodylib.errors import MelodylibError

__all__ = [
    "convert_bundle",
    "find_magenta_checkpoint",
    "is_magenta_checkpoint",
    "load_magenta_bundle",
    "load_magenta_checkpoint",
    "read_generator_bundle",
]

logger = logging.getLogger(__name__)

DEFAULT_ATTN_LENGTH = 40


# --------------------------------------------------------------------------------------------
# Configs
# --------------------------------------------------------------------------------------------


def _sizes_text(config: MelodyRnnConfig) -> str:
    return f"input size {config.encoder.input_size}, {config.encoder.num_classes} classes"


def _check_encoder_sizes(
    layout: MagentaLayout, config: MelodyRnnConfig, source: str, what: str
) -> None:
    """Raise if the checkpoint's input size / classes are not those of `config`'s encoder."""
    if (layout.input_size, layout.num_classes) == (
        config.encoder.input_size,
        config.encoder.num_classes,
    ):
        return
    matching = [
        name
        for name in CONFIG_NAMES
        if (get_config(name).encoder.input_size, get_config(name).encoder.num_classes)
        == (layout.input_size, layout.num_classes)
    ]
    found = f"input size {layout.input_size} and {layout.num_classes} classes"
    if matching:
        hint = f"those are the sizes of {' or '.join(matching)}"
    else:
        known = "; ".join(f"{name}: {_sizes_text(get_config(name))}" for name in CONFIG_NAMES)
        hint = f"they match no Melody RNN config ({known})"
    raise MelodylibError(
        f"{source}: {what} is {config.name} ({_sizes_text(config)}), but the checkpoint has {found}: {hint}"
    )


def _config_from_sizes(layout: MagentaLayout, source: str) -> MelodyRnnConfig:
    """The default config whose encoder has the checkpoint's input size and classes."""
    for name in CONFIG_NAMES:
        config = get_config(name)
        if (config.encoder.input_size, config.encoder.num_classes) == (
            layout.input_size,
            layout.num_classes,
        ):
            return config
    known = "; ".join(f"{name}: {_sizes_text(get_config(name))}" for name in CONFIG_NAMES)
    raise MelodylibError(
        f"{source}: the checkpoint has input size {layout.input_size} and {layout.num_classes} classes, which "
        f"match no Melody RNN config ({known}); pass --config, or --melody_encoder_decoder for a custom encoder"
    )


def _attn_length(
    layout: MagentaLayout, metagraph: bytes | None, fallback: int, source: str
) -> tuple[int, str]:
    """(attn_length, where it came from) for an attention checkpoint; (0, 'no attention') otherwise."""
    if not layout.attention:
        return 0, "no attention"
    if metagraph:
        if layout.attention_layout == "whole_stack":
            found = whole_stack_attention_length_from_metagraph(metagraph, layout.layer_sizes)
        else:
            found = attention_length_from_metagraph(metagraph, layout.layer_sizes[0])
        if found:
            return found, "metagraph"
    logger.warning(
        "%s: attn_length is not in the checkpoint's shapes and the metagraph does not reveal it; "
        "using %d (the attention_rnn default)",
        source,
        fallback,
    )
    return fallback, "default"


def _layout_hparams(layout: MagentaLayout, attn_length: int) -> dict:
    """The hparams the checkpoint decides: layer sizes, attn_length and where attention sits."""
    return {
        "rnn_layer_sizes": list(layout.layer_sizes),
        "attn_length": attn_length,
        "attention_layout": layout.attention_layout,
    }


# --------------------------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------------------------


def load_magenta_bundle(path: str | os.PathLike) -> Bundle:
    """Read a Magenta `.mag` generator bundle as a Bundle with our Keras weights (`source='magenta'`).

    The config comes from the generator id, rnn_layer_sizes and the attention layout (the 2016
    whole-stack one or Magenta's first-layer one) from the variables and their shapes, and
    attn_length from the metagraph (or 40 when it cannot be found).
    """
    path = Path(path)
    magenta = read_generator_bundle(path)
    if magenta.generator_id not in CONFIG_NAMES:
        raise MelodylibError(
            f"--bundle_file {path}: its generator id is {magenta.generator_id!r}, not a Melody RNN config; "
            f"melodylib imports bundles of {', '.join(CONFIG_NAMES)}"
        )
    source = f"--bundle_file {path}"
    with tempfile.TemporaryDirectory(prefix="melodylib_mag_") as folder:
        checkpoint_path = os.path.join(folder, "model.ckpt")
        with open(checkpoint_path, "wb") as handle:
            handle.write(magenta.checkpoint)
        tensors = read_checkpoint(checkpoint_path, source)
    layout = magenta_layout(tensors, source)
    attn_length, attn_length_source = _attn_length(
        layout, magenta.metagraph, DEFAULT_ATTN_LENGTH, source
    )
    base = get_config(magenta.generator_id)
    _check_encoder_sizes(layout, base, source, "its generator id")
    config = get_config(
        magenta.generator_id,
        _layout_hparams(layout, attn_length),
        description=magenta.generator_description or None,
    )
    training = {
        "magenta_generator_id": magenta.generator_id,
        "magenta_generator_description": magenta.generator_description,
        "imported_from": str(path),
        "attn_length_source": attn_length_source,
    }
    return Bundle(
        config=config,
        weights=keras_weights_from_magenta(layout),
        description=magenta.bundle_description or magenta.generator_description,
        training=training,
        source="magenta",
        path=str(path),
    )


def load_magenta_checkpoint(
    checkpoint_prefix_or_run_dir: str | os.PathLike, config: MelodyRnnConfig | None = None
) -> Bundle:
    """Read a Magenta training checkpoint (a run_dir, its train/ folder or a checkpoint prefix) for `config`.

    rnn_layer_sizes come from the shapes (they override `config`'s), attn_length from the
    checkpoint's `.meta` file when there is one, else from `config` (40 if it has none).
    With `config=None` the config whose input size and classes match the shapes is used (the four
    configs' sizes all differ). `training['training_steps']` is the checkpoint's global step (0 if none).
    """
    source = f"checkpoint {checkpoint_prefix_or_run_dir}"
    prefix = find_magenta_checkpoint(checkpoint_prefix_or_run_dir)
    if prefix is None:
        raise MelodylibError(
            f"{checkpoint_prefix_or_run_dir}: no checkpoint found (expected a run_dir with train/checkpoint, "
            "or a checkpoint prefix such as run_dir/train/model.ckpt-300)"
        )
    source = f"checkpoint {prefix}"
    layout = magenta_layout(read_checkpoint(prefix, source), source)
    if config is None:
        config = _config_from_sizes(layout, source)
    _check_encoder_sizes(layout, config, source, "--config")
    metagraph = None
    meta_path = Path(prefix + ".meta")
    if meta_path.is_file():
        metagraph = meta_path.read_bytes()
    fallback = int(config.hparams.attn_length) or DEFAULT_ATTN_LENGTH
    attn_length, attn_length_source = _attn_length(layout, metagraph, fallback, source)
    if attn_length_source == "default" and config.hparams.attn_length:
        attn_length_source = "config"
    hparams = config.hparams.with_overrides(_layout_hparams(layout, attn_length))
    config = dataclasses.replace(config, hparams=hparams)
    training = {
        "training_steps": int(layout.global_step or 0),
        "imported_from": prefix,
        "attn_length_source": attn_length_source,
    }
    return Bundle(
        config=config,
        weights=keras_weights_from_magenta(layout),
        description=f"Imported from the Magenta checkpoint {prefix}",
        training=training,
        source="magenta",
        path=prefix,
    )


def convert_bundle(magenta_path: str | os.PathLike, output_path: str | os.PathLike) -> Path:
    """Write a melodylib bundle (zip) with the model and description of a Magenta `.mag` bundle."""
    from melodylib.bundles.bundle import save_bundle

    bundle = load_magenta_bundle(magenta_path)
    model = bundle.build_model()
    return save_bundle(output_path, model, bundle.config, bundle.description, bundle.training)
