"""Export a one-hot melody model as a Magenta.js MusicRNN checkpoint folder, to run in a browser.

Magenta.js (`@magenta/music`, checked with 1.23.1) loads a MusicRNN from a folder of three kinds of
file (docs/magenta-js.md; the facts are in the interop reference, section 2):

- ``config.json``: the model's spec, ``{"type": "MusicRNN", "dataConverter": {"type":
  "MelodyConverter", "args": {"minPitch": lo, "maxPitch": hi}}}`` with both pitches inclusive
  (our configs keep ``max_note`` exclusive, so ``hi = max_note - 1``);
- ``weights_manifest.json``: TensorFlow.js's list of weight groups, each naming its shard files
  and its weights (name, shape, dtype) in the order their bytes follow one another;
- the shards: every weight's float32 bytes (little-endian, row-major) concatenated and cut into
  files of at most 4 MiB, named ``group1-shard{i}of{n}.bin`` as TensorFlow.js names them.

Magenta.js runs each layer as TF1's BasicLSTMCell, so the weights are rewritten in TF1's form:
Keras' kernel and recurrent kernel become one ``[inputs + units, 4 units]`` matrix, the gate
blocks go from Keras' order (input, forget, cell, output) to TF1's (input, cell, forget, output),
and 1.0 comes off the forget gate's bias because Magenta.js adds ``forgetBias = 1.0`` at run time.

Only one-hot melody models can be exported: Magenta.js feeds back nothing but the one-hot of each
sampled event (no lookback or key inputs), and its attention wrapper is not melodylib's (see
`check_exportable`). A fourth file, ``melodylib.json``, records where the export came from; the
web page of `melodylib.web` reads it, Magenta.js ignores it.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from melodylib.encoding.configs import MelodyRnnConfig
from melodylib.encoding.encoders import MelodyOneHotEncoding, OneHotEncoder
from melodylib.errors import MelodylibError
from melodylib.version import __version__

__all__ = [
    "MAGENTA_JS_VERSION",
    "check_exportable",
    "export_magenta_js",
    "magenta_js_weights",
    "music_rnn_spec",
    "shard_weights",
]

MAGENTA_JS_VERSION = "1.23.1"  # the @magenta/music release the export is tested against
SHARD_SIZE_BYTES = 4 * 1024 * 1024  # TensorFlow.js's default shard size
FORGET_BIAS = 1.0  # what Magenta.js adds to the forget gate at run time
CONFIG_NAME = "config.json"
MANIFEST_NAME = "weights_manifest.json"
DETAILS_NAME = "melodylib.json"
DETAILS_FORMAT = "melodylib-magenta-js"
_SHARD_PREFIX = "group1-shard"
LSTM_NAME = "rnn/multi_rnn_cell/cell_{index}/basic_lstm_cell/{part}"
SOFTMAX_WEIGHTS_NAME = "fully_connected/weights"
SOFTMAX_BIASES_NAME = "fully_connected/biases"


def export_magenta_js(
    bundle_or_model: Any,
    output_dir: str | os.PathLike,
    config: MelodyRnnConfig | None = None,
    *,
    shard_size_bytes: int = SHARD_SIZE_BYTES,
    source: str = "",
) -> Path:
    """Write `bundle_or_model` as a Magenta.js MusicRNN checkpoint folder at `output_dir`.

    `bundle_or_model` is a bundle file (ours or a Magenta `.mag`), a loaded `Bundle`, or a Keras
    model built by `build_model` (then pass its `config`). The folder is written beside
    `output_dir` under a temporary name and renamed when complete, so a failure leaves nothing
    half-written; a folder from an earlier export is replaced, any other non-empty folder is
    refused. Returns the folder's path.
    """
    from melodylib.bundles.sources import model_and_config

    if isinstance(bundle_or_model, (str, os.PathLike)) and not source:
        source = str(bundle_or_model)
    model, config = model_and_config(bundle_or_model, config)
    check_exportable(config)
    weights = magenta_js_weights(model, config)
    manifest, shards = shard_weights(weights, shard_size_bytes)
    files = {
        CONFIG_NAME: _json_bytes(music_rnn_spec(config)),
        MANIFEST_NAME: _json_bytes(manifest),
        DETAILS_NAME: _json_bytes(_details(config, source)),
        **shards,
    }
    output_dir = Path(output_dir)
    _write_folder_atomically(output_dir, files)
    return output_dir


def check_exportable(config: MelodyRnnConfig) -> None:
    """Raise a MelodylibError saying why Magenta.js cannot run `config`'s model, if it cannot.

    Magenta.js MusicRNN feeds each sampled event back as its one-hot vector and nothing else, so
    only one-hot encoders over a melody pitch range fit (basic_rnn, mono_rnn, any custom range).
    Attention is refused in both layouts: Magenta.js implements only the 2016 one around the
    whole stack, and that only in part (it reads the third layer's output whatever the depth and
    leaves out the query's bias), while melodylib's default wraps the first layer.
    """
    name = config.name
    encoder = config.encoder
    kind = getattr(encoder, "kind", type(encoder).__name__)
    if kind == "lookback":
        raise MelodylibError(
            f"cannot export {name} to Magenta.js: it uses the lookback encoder, whose inputs also "
            "hold the events one and two bars back, a binary step counter and repeat flags, and "
            "whose last two classes mean 'repeat'. Magenta.js feeds back only the one-hot of each "
            "sampled event, so the model would see inputs it was never trained on. Train a one-hot "
            "config (basic_rnn, mono_rnn or --melody_encoder_decoder=onehot) to run in a browser"
        )
    if kind == "key":
        raise MelodylibError(
            f"cannot export {name} to Magenta.js: it uses the key encoder (attention_rnn's), whose "
            "inputs hold pitch classes, repeat flags, a step counter and key histograms that "
            "Magenta.js has no code for; it feeds back only the one-hot of each sampled event. "
            "Train a one-hot config (basic_rnn, mono_rnn or --melody_encoder_decoder=onehot)"
        )
    if not isinstance(encoder, OneHotEncoder) or not isinstance(
        encoder.encoding, MelodyOneHotEncoding
    ):
        raise MelodylibError(
            f"cannot export {name} to Magenta.js: its encoder {encoder!r} is not a one-hot "
            "encoding of melody events, the only input Magenta.js's MelodyConverter makes"
        )
    if config.hparams.attn_length > 0:
        layout = getattr(config.hparams, "attention_layout", "first_layer")
        where = (
            "its attention wraps the whole stack (the 2016 layout), which Magenta.js implements "
            "only in part"
            if layout == "whole_stack"
            else "its attention wraps the first LSTM layer (Magenta's layout since 2017), while "
            "Magenta.js implements only the 2016 layout that wraps the whole stack, and that only "
            "in part"
        )
        raise MelodylibError(
            f"cannot export {name} to Magenta.js (attn_length={config.hparams.attn_length}): "
            f"{where}: its wrapper works only for exactly three layers of one size (it reads the "
            "third layer's output and takes the attention size from the first) and leaves out "
            "the query projection's bias. The export would compute something else; train with "
            "attn_length=0 to run in a browser"
        )
    if config.hparams.residual_connections:
        raise MelodylibError(
            f"cannot export {name} to Magenta.js: it has residual connections, which Magenta.js's "
            "stacked LSTM does not add"
        )


def music_rnn_spec(config: MelodyRnnConfig) -> dict:
    """config.json: a MusicRNN over a MelodyConverter with the config's pitch range, inclusive."""
    encoding = config.encoder.encoding
    return {
        "type": "MusicRNN",
        "dataConverter": {
            "type": "MelodyConverter",
            "args": {"minPitch": encoding.min_note, "maxPitch": encoding.max_note - 1},
        },
    }


def magenta_js_weights(model: Any, config: MelodyRnnConfig) -> list[tuple[str, np.ndarray]]:
    """The model's weights in TF1's form under Magenta.js's names, in the order it lists them.

    For each LSTM layer a kernel ``[inputs + units, 4 units]`` (rows: the input, then the
    previous output) and a bias ``[4 units]``, gates in TF1's order i, j, f, o and the forget
    bias less the 1.0 Magenta.js adds; then the softmax layer as ``fully_connected``.
    """
    weights = []
    for index, units in enumerate(config.hparams.rnn_layer_sizes):
        kernel, recurrent_kernel, bias = _lstm_arrays(model, index, units)
        tf1_kernel, tf1_bias = tf1_lstm_kernel_and_bias(kernel, recurrent_kernel, bias)
        weights.append((LSTM_NAME.format(index=index, part="kernel"), tf1_kernel))
        weights.append((LSTM_NAME.format(index=index, part="bias"), tf1_bias))
    logits = _layer(model, "logits")
    if logits.get_config().get("activation") not in ("linear", None):
        raise MelodylibError(
            f"cannot export {config.name}: its logits layer has an activation; Magenta.js "
            "applies the softmax itself to a plain linear layer"
        )
    softmax_weights, softmax_biases = (np.asarray(array) for array in logits.get_weights())
    weights.append((SOFTMAX_WEIGHTS_NAME, softmax_weights))
    weights.append((SOFTMAX_BIASES_NAME, softmax_biases))
    return [(name, np.ascontiguousarray(array, dtype="<f4")) for name, array in weights]


def tf1_lstm_kernel_and_bias(
    kernel: np.ndarray, recurrent_kernel: np.ndarray, bias: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """One Keras LSTM layer's weights as TF1 BasicLSTMCell's (kernel, bias) with forget bias 1.0.

    Keras splits the 4·units columns into gates (i, f, c, o); TF1 into (i, j, f, o) with j the
    cell candidate. TF1 adds the forget bias 1.0 at run time, Keras keeps it in the bias.
    """
    units = recurrent_kernel.shape[0]
    if kernel.shape[1] != 4 * units or bias.shape != (4 * units,):
        raise MelodylibError(
            f"an LSTM layer of {units} units must have 4·{units} gate columns, got a kernel of "
            f"shape {kernel.shape} and a bias of shape {bias.shape}"
        )
    # Keras' gate blocks 0..3 are i, f, c, o; TF1 wants i, c, f, o.
    order = np.concatenate([np.arange(units) + block * units for block in (0, 2, 1, 3)])
    stacked = np.concatenate([kernel, recurrent_kernel], axis=0)[:, order]
    tf1_bias = np.array(bias, dtype=np.float32)[order]
    tf1_bias[2 * units : 3 * units] -= FORGET_BIAS
    return stacked, tf1_bias


def shard_weights(
    weights: list[tuple[str, np.ndarray]], shard_size_bytes: int = SHARD_SIZE_BYTES
) -> tuple[list[dict], dict[str, bytes]]:
    """(weights_manifest.json's content, {shard file name: bytes}) for one weight group.

    The weights' float32 bytes are laid end to end in manifest order and cut every
    `shard_size_bytes`; a weight may straddle two shards (TensorFlow.js joins a group's shards
    before slicing them).
    """
    if int(shard_size_bytes) != shard_size_bytes or shard_size_bytes < 4:
        raise MelodylibError(
            f"the shard size must be a whole number of bytes, at least 4, got {shard_size_bytes}"
        )
    payload = b"".join(array.astype("<f4", copy=False).tobytes(order="C") for _, array in weights)
    pieces = [
        payload[start : start + shard_size_bytes]
        for start in range(0, max(len(payload), 1), shard_size_bytes)
    ]
    names = [f"{_SHARD_PREFIX}{index}of{len(pieces)}.bin" for index in range(1, len(pieces) + 1)]
    entries = [
        {"name": name, "shape": [int(size) for size in array.shape], "dtype": "float32"}
        for name, array in weights
    ]
    return [{"paths": names, "weights": entries}], dict(zip(names, pieces))


# --------------------------------------------------------------------------------------------
# Reading the Keras model
# --------------------------------------------------------------------------------------------


def _layer(model: Any, name: str) -> Any:
    """The model's layer called `name`, or a MelodylibError saying the model is not melodylib's."""
    try:
        return model.get_layer(name)
    except (ValueError, AttributeError):
        raise MelodylibError(
            f"cannot export this model to Magenta.js: it has no layer {name!r}; export a model "
            "built by melodylib.build_model (or a bundle of one)"
        ) from None


def _lstm_arrays(model: Any, index: int, units: int) -> tuple[np.ndarray, ...]:
    """(kernel, recurrent kernel, bias) of layer lstm_{index}, checked to be a plain LSTM."""
    layer = _layer(model, f"lstm_{index}")
    settings = layer.get_config()
    plain = (
        settings.get("units") == units
        and settings.get("activation") == "tanh"
        and settings.get("recurrent_activation") == "sigmoid"
        and settings.get("use_bias", True)
        and len(layer.get_weights()) == 3
    )
    if not plain:
        raise MelodylibError(
            f"cannot export layer lstm_{index} to Magenta.js: it is not a plain LSTM of {units} "
            "units with tanh and sigmoid activations and a bias, which is all Magenta.js runs"
        )
    return tuple(np.asarray(array, dtype=np.float32) for array in layer.get_weights())


# --------------------------------------------------------------------------------------------
# Writing the folder
# --------------------------------------------------------------------------------------------


def _details(config: MelodyRnnConfig, source: str) -> dict:
    """melodylib.json: what was exported, from where, and what Magenta.js leaves out."""
    return {
        "format": DETAILS_FORMAT,
        "config": config.to_dict(),
        "source": source,
        "steps_per_quarter": config.steps_per_quarter,
        "magenta_js_version": MAGENTA_JS_VERSION,
        "melodylib_version": __version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "note": "Magenta.js neither squashes nor transposes a primer into the range: it rejects "
        "a note outside minPitch..maxPitch",
    }


def _json_bytes(value: Any) -> bytes:
    return (json.dumps(value, indent=2) + "\n").encode("utf-8")


def _is_earlier_export(name: str) -> bool:
    """Whether a file name is one an export writes (so replacing it loses nothing else)."""
    return name in (CONFIG_NAME, MANIFEST_NAME, DETAILS_NAME) or name.startswith(_SHARD_PREFIX)


def _check_replaceable(output_dir: Path) -> None:
    """Refuse an output path that is a file, or a folder holding anything but an earlier export."""
    if not output_dir.exists():
        return
    if not output_dir.is_dir():
        raise MelodylibError(
            f"--output_dir {output_dir} is a file; give a folder to write the Magenta.js model to"
        )
    others = sorted(
        entry.name for entry in output_dir.iterdir() if not _is_earlier_export(entry.name)
    )
    if others:
        raise MelodylibError(
            f"--output_dir {output_dir} already holds other files ({', '.join(others[:3])}"
            f"{', ...' if len(others) > 3 else ''}); give a new or empty folder, or one an "
            "earlier export wrote"
        )


def _write_folder_atomically(output_dir: Path, files: dict[str, bytes]) -> None:
    """Write `files` into a temporary folder beside `output_dir`, then rename it into place."""
    _check_replaceable(output_dir)
    try:
        output_dir.parent.mkdir(parents=True, exist_ok=True)
        temporary = Path(
            tempfile.mkdtemp(prefix=f".{output_dir.name}.", suffix=".tmp", dir=output_dir.parent)
        )
    except OSError as error:
        raise MelodylibError(
            f"cannot write {output_dir}: {error.strerror or error}; "
            "choose a folder you can write to"
        ) from error
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.chmod(temporary, 0o777 & ~umask)  # mkdtemp makes an owner-only folder
        for name, payload in files.items():
            (temporary / name).write_bytes(payload)
        _swap_into_place(temporary, output_dir)
    except BaseException as error:
        shutil.rmtree(temporary, ignore_errors=True)
        if isinstance(error, OSError):
            raise MelodylibError(
                f"cannot write {output_dir}: {error.strerror or error}; nothing was changed"
            ) from error
        raise


def _swap_into_place(temporary: Path, output_dir: Path) -> None:
    """Rename `temporary` to `output_dir`, moving an earlier export aside until that succeeded."""
    if not output_dir.exists():
        os.replace(temporary, output_dir)
        return
    earlier = temporary.with_name(temporary.name.replace(".tmp", ".old"))
    os.replace(output_dir, earlier)
    try:
        os.replace(temporary, output_dir)
    except BaseException:
        os.replace(earlier, output_dir)
        raise
    shutil.rmtree(earlier, ignore_errors=True)
