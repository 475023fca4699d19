"""Bundles: one file with everything needed to generate, loadable on any CPU-only machine.

Our bundle is a zip file holding `bundle.json` (config name, encoder settings, hparams,
description, and what data and how many steps it was trained on) and `weights.npz` (every
model variable by its Keras path). This module writes and reads that zip; to read any bundle
file, ours or Magenta's `.mag`, use `melodylib.bundles.reading.load_bundle`.
"""

from __future__ import annotations

import datetime
import io
import json
import os
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from melodylib.atomic import atomic_path
from melodylib.encoding.configs import MelodyRnnConfig, config_from_dict, config_to_dict
from melodylib.errors import MelodylibError
from melodylib.version import __version__

BUNDLE_FORMAT = "melodylib-bundle"
BUNDLE_VERSION = 1
METADATA_NAME = "bundle.json"
WEIGHTS_NAME = "weights.npz"


@dataclass
class Bundle:
    """A trained model's config, weights and provenance."""

    config: MelodyRnnConfig
    weights: dict[str, np.ndarray]
    description: str = ""
    training: dict[str, Any] = field(default_factory=dict)
    source: str = "melodylib"
    path: str = ""

    def build_model(self):
        """A Keras model of the bundle's config with the bundle's weights."""
        from melodylib.models.melody_rnn import build_model

        model = build_model(self.config)
        self.copy_weights_to(model)
        return model

    def copy_weights_to(self, model) -> None:
        """Set every variable of `model` from the bundle, matching by variable path and shape."""
        missing = [variable.path for variable in model.weights if variable.path not in self.weights]
        if missing:
            raise MelodylibError(
                f"{self.path or 'bundle'}: has no weights for {', '.join(missing[:4])}"
                f"{' ...' if len(missing) > 4 else ''}; was it made for another config or layer sizes?"
            )
        for variable in model.weights:
            value = self.weights[variable.path]
            if tuple(value.shape) != tuple(variable.shape):
                raise MelodylibError(
                    f"{self.path or 'bundle'}: {variable.path} has shape {tuple(value.shape)} in the bundle but "
                    f"{tuple(variable.shape)} in the model; the hparams (rnn_layer_sizes, attn_length) differ"
                )
        for variable in model.weights:
            variable.assign(self.weights[variable.path])

    def check_compatible(self, config: MelodyRnnConfig) -> None:
        """Raise if `config` is another config than the bundle's: another encoder, range or key.

        Only the name may differ (a config built with --melody_encoder_decoder can equal a default one).
        """

        def settings(candidate: MelodyRnnConfig) -> tuple:
            return (
                candidate.encoder,
                candidate.min_note,
                candidate.max_note,
                candidate.transpose_to_key,
            )

        if settings(config) != settings(self.config):
            raise MelodylibError(
                f"{self.path or 'bundle'} holds a {self.config.name} model ({self.config.encoder.input_size} "
                f"inputs per step), but --config is {config.name} ({config.encoder.input_size}); leave out "
                "--config to use the bundle's own"
            )


def save_bundle(
    path: str | os.PathLike,
    model,
    config: MelodyRnnConfig,
    description: str = "",
    training: dict[str, Any] | None = None,
) -> Path:
    """Write `model`'s weights with its config and provenance to one bundle file (atomically).

    `training` is free-form provenance (e.g. training_steps, run_dir, data set); it is stored
    as JSON, so its values must be JSON-serialisable.
    """
    model_input_size = int(model.inputs[0].shape[-1]) if getattr(model, "inputs", None) else None
    if model_input_size is not None and model_input_size != config.encoder.input_size:
        raise MelodylibError(
            f"cannot save a bundle: the model takes {model_input_size} inputs per step but {config.name} "
            f"encodes {config.encoder.input_size}; pass the config the model was built from"
        )
    weights = {variable.path: np.asarray(variable.numpy()) for variable in model.weights}
    metadata = {
        "format": BUNDLE_FORMAT,
        "version": BUNDLE_VERSION,
        "config": config_to_dict(config),
        "description": description,
        "training": training or {},
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "melodylib_version": __version__,
    }
    try:
        metadata_text = json.dumps(metadata, indent=2, sort_keys=True)
    except TypeError as error:
        raise MelodylibError(
            f"cannot save bundle {path}: the training information is not JSON ({error})"
        ) from None
    buffer = io.BytesIO()
    np.savez(buffer, **weights)
    path = Path(path)
    with (
        atomic_path(path) as temporary,
        zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED) as archive,
    ):
        archive.writestr(METADATA_NAME, metadata_text)
        archive.writestr(WEIGHTS_NAME, buffer.getvalue())
    return path


def read_bundle_zip(path: Path) -> Bundle:
    """Read our zip bundle, with a MelodylibError naming the file for anything that is not one."""
    damaged = "the file may be truncated or damaged, copy or save it again"
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if METADATA_NAME not in names or WEIGHTS_NAME not in names:
                raise MelodylibError(
                    f"{path}: a zip file, but not a melodylib bundle (it has no {METADATA_NAME} and "
                    f"{WEIGHTS_NAME}); write bundles with save_bundle or `melody_rnn generate --save_generator_bundle`"
                )
            metadata = json.loads(archive.read(METADATA_NAME))
            _check_metadata(path, metadata)
            with np.load(io.BytesIO(archive.read(WEIGHTS_NAME))) as arrays:
                weights = {name: arrays[name] for name in arrays.files}
    except MelodylibError:
        raise
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        KeyError,
        ValueError,
        OSError,
        EOFError,
        zlib.error,
    ) as error:
        raise MelodylibError(
            f"{path}: not a readable melodylib bundle ({error}); {damaged}"
        ) from None
    try:
        config = config_from_dict(metadata["config"])
    except (MelodylibError, KeyError, TypeError) as error:
        raise MelodylibError(f"{path}: the bundle's config cannot be read ({error})") from None
    return Bundle(
        config=config,
        weights=weights,
        description=metadata.get("description", ""),
        training=metadata.get("training", {}),
        source="melodylib",
        path=str(path),
    )


def _check_metadata(path: Path, metadata: Any) -> None:
    """Refuse bundle.json files of another format or of a newer version than this code reads."""
    if not isinstance(metadata, dict) or metadata.get("format") != BUNDLE_FORMAT:
        raise MelodylibError(
            f"{path}: a zip file, but not a melodylib bundle ({METADATA_NAME} does not say format '{BUNDLE_FORMAT}')"
        )
    version = metadata.get("version", 0)
    if not isinstance(version, int) or version > BUNDLE_VERSION:
        raise MelodylibError(
            f"{path}: bundle format version {version!r} is newer than this melodylib reads ({BUNDLE_VERSION}); "
            "upgrade melodylib"
        )
