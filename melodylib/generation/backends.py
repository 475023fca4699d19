"""Which engine runs the network during generation: numpy (no TensorFlow) or TensorFlow.

A melodylib bundle is a zip of a config and numpy weights, so `melodylib.models.numpy_step`
can run it without importing TensorFlow, which alone takes longer (2.5 to 4 s) than generating
ten melodies. Magenta `.mag` files, run_dirs and checkpoints need TensorFlow to be read; a GPU
needs TensorFlow to be used. `choose_backend` applies those rules to ``auto``;
`numpy_step_model` builds the numpy network from whatever the user handed over.
"""

from __future__ import annotations

import glob
import os
import sys
from pathlib import Path
from typing import Any

from melodylib.errors import MelodylibError

__all__ = ["BACKENDS", "choose_backend", "gpu_visible", "numpy_step_model"]

BACKENDS = ("auto", "numpy", "tensorflow")


def gpu_visible() -> bool:
    """Whether TensorFlow would find a GPU, judged without importing it when it is not loaded.

    With TensorFlow already imported it is asked; otherwise an NVIDIA device (the only kind the
    TensorFlow wheels use) counts unless CUDA_VISIBLE_DEVICES hides every device.
    """
    tensorflow = sys.modules.get("tensorflow")
    if tensorflow is not None and hasattr(tensorflow, "config"):
        return bool(tensorflow.config.list_physical_devices("GPU"))
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return False
    return bool(glob.glob("/dev/nvidia[0-9]*"))


def _is_melodylib_bundle_source(source: Any) -> bool:
    """True for a Bundle object or the path of a melodylib (zip) bundle file."""
    from melodylib.bundles.bundle import Bundle
    from melodylib.bundles.reading import is_melodylib_bundle_file

    if isinstance(source, Bundle):
        return True
    return isinstance(source, (str, os.PathLike)) and is_melodylib_bundle_file(Path(source))


def choose_backend(source: Any, backend: str = "auto") -> str:
    """``numpy`` or ``tensorflow`` for generating from `source` (a bundle path, Bundle or model).

    ``auto`` is numpy for a melodylib bundle (a path or a loaded Bundle) when no GPU is visible,
    TensorFlow otherwise (a Keras model, a Magenta `.mag` path, or a GPU to use).
    """
    if backend not in BACKENDS:
        raise MelodylibError(
            f"--backend={backend!r} is unknown: choose auto (numpy for a melodylib bundle on a "
            "CPU), numpy or tensorflow"
        )
    if backend != "auto":
        return backend
    return "numpy" if _is_melodylib_bundle_source(source) and not gpu_visible() else "tensorflow"


def numpy_step_model(source: Any, config: Any = None) -> tuple[Any, Any]:
    """(NumpyStepModel, config) for a bundle path, a Bundle or a built Keras model (with config).

    A bundle brings its own config; `config`, if given, must agree with it (as for TensorFlow)
    and is the one returned, so flag overrides of training-only hparams and the name survive.
    """
    from melodylib.bundles.bundle import Bundle
    from melodylib.bundles.reading import load_bundle
    from melodylib.models.numpy_step import NumpyStepModel

    if isinstance(source, (str, os.PathLike)):
        source = load_bundle(source)
    if isinstance(source, Bundle):
        if config is not None:
            source.check_compatible(config)
        return NumpyStepModel.from_bundle(source), config or source.config
    if config is None:
        raise MelodylibError("pass the config the model was built from (config=get_config(...))")
    return NumpyStepModel.from_keras_model(source, config), config
