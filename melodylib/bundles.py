"""Bundles: one file with everything needed to generate, loadable on any CPU-only machine.

Our bundle is a zip file holding `bundle.json` (config name, encoder settings, hparams,
description, and what data and how many steps it was trained on) and `weights.npz` (every
model variable by its Keras path). `load_bundle` also reads Magenta's `.mag` files (see
`melodylib.magenta_import`).
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from melodylib.atomic import atomic_path
from melodylib.configs import MelodyRnnConfig, config_from_dict, config_to_dict
from melodylib.errors import MelodylibError

BUNDLE_FORMAT = "melodylib-bundle"
BUNDLE_VERSION = 1


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
        from melodylib.models import build_model

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
        """Raise if `config` is another config than the bundle's (a different encoder)."""
        if config.name != self.config.name or config.encoder.input_size != self.config.encoder.input_size:
            raise MelodylibError(
                f"{self.path or 'bundle'} holds a {self.config.name} model, but --config is {config.name}; "
                f"leave out --config to use the bundle's own"
            )


def save_bundle(
    path: str | os.PathLike,
    model,
    config: MelodyRnnConfig,
    description: str = "",
    training: dict[str, Any] | None = None,
) -> Path:
    """Write `model`'s weights with its config and provenance to one bundle file (atomically)."""
    weights = {variable.path: np.asarray(variable.numpy()) for variable in model.weights}
    metadata = {
        "format": BUNDLE_FORMAT,
        "version": BUNDLE_VERSION,
        "config": config_to_dict(config),
        "description": description,
        "training": training or {},
    }
    buffer = io.BytesIO()
    np.savez(buffer, **weights)
    path = Path(path)
    with atomic_path(path) as temporary:
        with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("bundle.json", json.dumps(metadata, indent=2, sort_keys=True))
            archive.writestr("weights.npz", buffer.getvalue())
    return path


def load_bundle(path: str | os.PathLike) -> Bundle:
    """Read a bundle: ours (a zip) or Magenta's `.mag` (a GeneratorBundle protobuf)."""
    path = Path(path)
    if not path.exists():
        raise MelodylibError(f"--bundle_file {path}: no such file")
    if not path.is_file():
        raise MelodylibError(f"--bundle_file {path}: not a file")
    with open(path, "rb") as handle:
        head = handle.read(4)
    if head.startswith(b"PK"):
        return _load_our_bundle(path)
    from melodylib import magenta_import

    return magenta_import.load_magenta_bundle(path)


def _load_our_bundle(path: Path) -> Bundle:
    try:
        with zipfile.ZipFile(path) as archive:
            metadata = json.loads(archive.read("bundle.json"))
            with np.load(io.BytesIO(archive.read("weights.npz"))) as arrays:
                weights = {name: arrays[name] for name in arrays.files}
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, EOFError) as error:
        raise MelodylibError(f"{path}: not a readable melodylib bundle ({error})") from None
    if metadata.get("format") != BUNDLE_FORMAT:
        raise MelodylibError(f"{path}: a zip file, but not a melodylib bundle")
    return Bundle(
        config=config_from_dict(metadata["config"]),
        weights=weights,
        description=metadata.get("description", ""),
        training=metadata.get("training", {}),
        source="melodylib",
        path=str(path),
    )
