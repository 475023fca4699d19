"""Magenta interop: read Magenta's `.mag` generator bundles and training checkpoints as melodylib Bundles.

A `.mag` file is a GeneratorBundle protobuf (spec §6.5): generator details (id, description), one
TF1 V1 checkpoint and the generation metagraph. It is decoded here by hand (four length-delimited
fields), so neither Magenta nor note_seq is needed; the checkpoint is read with TensorFlow's
checkpoint reader, which still reads V1 checkpoints in TF 2.21. The TF1 variables are then renamed
and reshaped onto our Keras variable paths (spec §5.2, §11):

- BasicLSTMCell: one kernel over [x; h] with gate columns (i, j, f, o) and a constant forget bias of
  1.0 → Keras `kernel` / `recurrent_kernel` with columns (i, f, c=j, o) and the 1.0 folded into `bias`;
- the attention wrapper around layer 0: input projection, `attention/{attn_w, attn_v, kernel, bias}`
  and `attn_output_projection` → the weights of `melodylib.models.attention.AttentionCell`;
- `fully_connected/{weights, biases}` → `logits/{kernel, bias}`.

The 2016 layout, where attention wraps the whole stack of layers (`rnn/attention_cell_wrapper/...`),
needs a different model (its query is every layer's state) and is refused with a message saying so.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from melodylib.bundles.bundle import Bundle
from melodylib.encoding.configs import CONFIG_NAMES, MelodyRnnConfig, get_config
from melodylib.errors import MelodylibError

__all__ = [
    "MagentaGeneratorBundle",
    "MagentaLayout",
    "convert_bundle",
    "find_magenta_checkpoint",
    "is_magenta_checkpoint",
    "keras_weights_from_magenta",
    "load_magenta_bundle",
    "load_magenta_checkpoint",
    "magenta_layout",
    "read_generator_bundle",
]

logger = logging.getLogger(__name__)

DEFAULT_ATTN_LENGTH = 40


# --------------------------------------------------------------------------------------------
# The protobuf wire format, just enough of it
# --------------------------------------------------------------------------------------------


class _WireError(Exception):
    """Bytes that are not a well-formed protobuf message (`reason` says how)."""


def _read_varint(data: bytes, offset: int) -> tuple[int, int]:
    """(value, next offset) of the base-128 varint at `offset`."""
    value = 0
    shift = 0
    while True:
        if offset >= len(data):
            raise _WireError("truncated")
        byte = data[offset]
        offset += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, offset
        shift += 7
        if shift > 63:
            raise _WireError("a varint longer than 10 bytes")


def _decode_message(data: bytes) -> list[tuple[int, int, Any]]:
    """Every (field number, wire type, value) of one message; length-delimited values are bytes."""
    fields = []
    offset = 0
    while offset < len(data):
        key, offset = _read_varint(data, offset)
        number, wire_type = key >> 3, key & 7
        if number == 0:
            raise _WireError("field number 0")
        if wire_type == 0:
            value, offset = _read_varint(data, offset)
        elif wire_type == 1 or wire_type == 5:
            size = 8 if wire_type == 1 else 4
            if offset + size > len(data):
                raise _WireError("truncated")
            value, offset = data[offset : offset + size], offset + size
        elif wire_type == 2:
            size, offset = _read_varint(data, offset)
            if offset + size > len(data):
                raise _WireError("truncated")
            value, offset = data[offset : offset + size], offset + size
        else:
            raise _WireError(f"wire type {wire_type}")
        fields.append((number, wire_type, value))
    return fields


def _signed(value: int) -> int:
    """A varint-encoded int64 as a Python int (-1 is written as 2**64 - 1)."""
    return value - (1 << 64) if value >= 1 << 63 else value


def _text(value: bytes, what: str) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _WireError(f"{what} is not UTF-8 text") from error


# --------------------------------------------------------------------------------------------
# The GeneratorBundle
# --------------------------------------------------------------------------------------------

# GeneratorBundle fields (note_seq/protobuf/generator.proto): generator_details = 1
# {id = 1, description = 2}, checkpoint_file = 2 (repeated bytes), metagraph_file = 3,
# bundle_details = 4 {description = 1}.
_GENERATOR_DETAILS, _CHECKPOINT_FILE, _METAGRAPH_FILE, _BUNDLE_DETAILS = 1, 2, 3, 4


@dataclass
class MagentaGeneratorBundle:
    """The decoded fields of a Magenta `.mag` file."""

    generator_id: str
    generator_description: str
    bundle_description: str
    checkpoint: bytes
    metagraph: bytes


def read_generator_bundle(path: str | os.PathLike) -> MagentaGeneratorBundle:
    """Decode a `.mag` file's GeneratorBundle protobuf without Magenta; MelodylibError if it is not one."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise MelodylibError(f"--bundle_file {path}: cannot be read ({error.strerror or error})") from None
    not_a_bundle = (
        f"--bundle_file {path} is neither a melodylib bundle nor a Magenta generator bundle (.mag)"
    )
    if not data:
        raise MelodylibError(f"{not_a_bundle}: the file is empty")
    try:
        fields = _decode_message(data)
    except _WireError as error:
        if str(error) == "truncated":
            raise MelodylibError(
                f"--bundle_file {path}: the Magenta bundle is truncated (the file ends inside a field); "
                "download or copy it again"
            ) from None
        raise MelodylibError(f"{not_a_bundle} ({error})") from None
    details: dict[int, list[Any]] = {}
    for number, wire_type, value in fields:
        if number not in (1, 2, 3, 4) or wire_type != 2:
            raise MelodylibError(f"{not_a_bundle} (unexpected protobuf field {number}, wire type {wire_type})")
        details.setdefault(number, []).append(value)
    try:
        generator_id, generator_description = "", ""
        for number, _, value in _decode_message(details.get(_GENERATOR_DETAILS, [b""])[-1]):
            if number == 1:
                generator_id = _text(value, "the generator id")
            elif number == 2:
                generator_description = _text(value, "the generator description")
        bundle_description = ""
        for number, _, value in _decode_message(details.get(_BUNDLE_DETAILS, [b""])[-1]):
            if number == 1:
                bundle_description = _text(value, "the bundle description")
    except _WireError as error:
        raise MelodylibError(f"{not_a_bundle} (its generator details are malformed: {error})") from None
    checkpoints = details.get(_CHECKPOINT_FILE, [])
    if _GENERATOR_DETAILS not in details or not generator_id:
        raise MelodylibError(f"{not_a_bundle}: it has no generator id")
    if len(checkpoints) != 1:
        if not checkpoints:
            raise MelodylibError(
                f"--bundle_file {path}: the Magenta bundle has no checkpoint; the file may be truncated"
            )
        raise MelodylibError(
            f"--bundle_file {path}: the Magenta bundle holds {len(checkpoints)} checkpoint files; "
            "exactly one is supported (as in Magenta)"
        )
    if _METAGRAPH_FILE not in details:
        raise MelodylibError(
            f"--bundle_file {path}: the Magenta bundle has no metagraph; the file may be truncated"
        )
    return MagentaGeneratorBundle(
        generator_id=generator_id,
        generator_description=generator_description,
        bundle_description=bundle_description,
        checkpoint=checkpoints[0],
        metagraph=details[_METAGRAPH_FILE][-1],
    )


# --------------------------------------------------------------------------------------------
# attn_length from the metagraph
# --------------------------------------------------------------------------------------------

# The zero state of the attention wrapper: zeros (c), zeros_1 (h), zeros_2 (attns) of width u and
# zeros_3 (attn_states) of width attn_length × u.
_ZERO_STATE_NODE = re.compile(r"(^|/)AttentionCellWrapperZeroState/zeros(_\d+)?$")


def _output_shapes(attributes: dict[str, bytes]) -> list[list[int]]:
    """The `_output_shapes` attr of a NodeDef (the metagraph is exported with shapes)."""
    shapes = []
    value = attributes.get("_output_shapes")
    if value is None:
        return shapes
    for number, _, list_value in _decode_message(value):
        if number != 1:  # AttrValue.list
            continue
        for list_number, _, shape in _decode_message(list_value):
            if list_number != 7:  # ListValue.shape
                continue
            dims = []
            for dim_number, _, dim in _decode_message(shape):
                if dim_number == 2:  # TensorShapeProto.dim
                    size = 0
                    for field_number, _, field_value in _decode_message(dim):
                        if field_number == 1:
                            size = _signed(field_value)
                    dims.append(size)
            shapes.append(dims)
    return shapes


def _attention_length_from_metagraph(metagraph: bytes, units: int) -> int | None:
    """attn_length from the attention zero-state shapes [batch, attn_length × units], or None.

    attn_length is no variable's shape, but the generation graph's state tensors (the
    `initial_state` collection) and the zero state of a training graph carry it.
    """
    try:
        top = _decode_message(metagraph)
        initial_state: list[str] = []
        for number, _, entry in top:
            if number != 4:  # MetaGraphDef.collection_def (map entry: key 1, value 2)
                continue
            entry_fields = {field: value for field, _, value in _decode_message(entry)}
            if entry_fields.get(1) != b"initial_state":
                continue
            for kind, _, node_list in _decode_message(entry_fields.get(2, b"")):
                if kind == 1:  # CollectionDef.node_list
                    initial_state = [value.decode() for field, _, value in _decode_message(node_list) if field == 1]
        wanted = {name.split(":")[0] for name in initial_state}
        widths_by_name: dict[str, int] = {}
        for number, _, graph in top:
            if number != 2:  # MetaGraphDef.graph_def
                continue
            for node_number, _, node in _decode_message(graph):
                if node_number != 1:  # GraphDef.node
                    continue
                node_fields = _decode_message(node)
                name = next((value.decode() for field, _, value in node_fields if field == 1), "")
                if name not in wanted and not _ZERO_STATE_NODE.search(name):
                    continue
                attributes = {}
                for field, _, value in node_fields:
                    if field == 5:  # NodeDef.attr
                        entry_fields = {key: item for key, _, item in _decode_message(value)}
                        attributes[entry_fields.get(1, b"").decode()] = entry_fields.get(2, b"")
                shapes = _output_shapes(attributes)
                if shapes and len(shapes[0]) == 2 and shapes[0][1] > 0:
                    widths_by_name[name] = shapes[0][1]
    except (_WireError, UnicodeDecodeError, KeyError):
        return None
    # The generation graph's state order is (c, h) of layer 0, attns, attn_states, then the other layers.
    ordered = [name.split(":")[0] for name in initial_state]
    if len(ordered) >= 4 and ordered[3] in widths_by_name and widths_by_name[ordered[3]] % units == 0:
        return widths_by_name[ordered[3]] // units
    zero_state = [width for name, width in widths_by_name.items() if _ZERO_STATE_NODE.search(name)]
    if zero_state and max(zero_state) % units == 0:
        return max(zero_state) // units
    return None


# --------------------------------------------------------------------------------------------
# Variable names and the layout of the checkpoint
# --------------------------------------------------------------------------------------------

# Name variants of older TF versions, by lower-cased path segment: TF 0.x wrote CamelCase scopes
# and Linear/Matrix, TF 1.0 `weights`/`biases`, later TF 1.x `kernel`/`bias`.
_SEGMENT_ALIASES = {
    "multirnncell": "multi_rnn_cell",
    "basiclstmcell": "lstm",
    "basic_lstm_cell": "lstm",
    "lstmcell": "lstm",
    "lstm_cell": "lstm",
    "attentioncellwrapper": "attention_cell_wrapper",
    "attnoutputprojection": "attn_output_projection",
    "attnw": "attn_w",
    "attnv": "attn_v",
    "weights": "kernel",
    "matrix": "kernel",
    "biases": "bias",
}
_OPTIMIZER_SLOTS = re.compile(r"/(adam|adam_\d+|momentum|rmsprop|rmsprop_\d+|adagrad|ftrl)$")
_IGNORED_NAMES = {"global_step", "beta1_power", "beta2_power"}


def _canonical_name(name: str) -> str:
    """The variable name in one spelling: `rnn/multi_rnn_cell/cell_0/lstm/kernel`, `fully_connected/bias`."""
    segments = []
    for segment in name.split("/"):
        lowered = segment.lower()
        if lowered == "linear":  # TF 0.x: .../BasicLSTMCell/Linear/Matrix
            continue
        cell = re.fullmatch(r"cell_?(\d+)", lowered)
        if cell:
            segments.append(f"cell_{int(cell.group(1))}")
            continue
        lowered = re.sub(r"^(attnw|attn_w|attnv|attn_v|attention)_0$", r"\1", lowered)
        segments.append(_SEGMENT_ALIASES.get(lowered, lowered))
    return "/".join(segments)


_LAYER_VARIABLE = re.compile(r"^rnn/multi_rnn_cell/cell_(\d+)/(.+)$")
_LAYER_PARTS = {
    "lstm/kernel": "lstm_kernel",
    "lstm/bias": "lstm_bias",
    "attention_cell_wrapper/lstm/kernel": "lstm_kernel",
    "attention_cell_wrapper/lstm/bias": "lstm_bias",
    "attention_cell_wrapper/kernel": "input_projection_kernel",
    "attention_cell_wrapper/bias": "input_projection_bias",
    "attention_cell_wrapper/attention/attn_w": "attn_w",
    "attention_cell_wrapper/attention/attn_v": "attn_v",
    "attention_cell_wrapper/attention/kernel": "query_kernel",
    "attention_cell_wrapper/attention/bias": "query_bias",
    "attention_cell_wrapper/attn_output_projection/kernel": "output_projection_kernel",
    "attention_cell_wrapper/attn_output_projection/bias": "output_projection_bias",
}
_ATTENTION_PARTS = (
    "input_projection_kernel",
    "input_projection_bias",
    "attn_w",
    "attn_v",
    "query_kernel",
    "query_bias",
    "output_projection_kernel",
    "output_projection_bias",
)


@dataclass
class MagentaLayout:
    """What a Magenta checkpoint holds: sizes read from the shapes, and each tensor by its role."""

    input_size: int
    num_classes: int
    layer_sizes: list[int]
    attention: bool
    layers: list[dict[str, np.ndarray]]
    logits_kernel: np.ndarray
    logits_bias: np.ndarray
    global_step: int | None = None


def _historical_attention_error(source: str, name: str) -> MelodylibError:
    return MelodylibError(
        f"{source} has the 2016 attention layout, where attention wraps the whole stack of LSTM layers "
        f"({name}, under rnn/attention_cell_wrapper/): its attention query is the state of every layer, "
        "which melodylib's model does not have (it follows Magenta since May 2017, attention on the first "
        "layer only: rnn/multi_rnn_cell/cell_0/attention_cell_wrapper/). This bundle cannot be imported; "
        "use one written by a newer Magenta, or train the attention_rnn config with melodylib"
    )


def _sort_variable_names(names: list[str], source: str) -> tuple[dict[str, str], str | None]:
    """{role key -> original name} for the model's variables, and the global_step name if any.

    Raises on the 2016 attention layout and on names inside `rnn/` that have no place in the model.
    """
    roles: dict[str, str] = {}
    global_step = None
    for name in names:
        canonical = _canonical_name(name)
        if canonical == "global_step":
            global_step = name
            continue
        if canonical in _IGNORED_NAMES or _OPTIMIZER_SLOTS.search(canonical):
            continue
        if canonical.startswith("rnn/attention_cell_wrapper/"):
            raise _historical_attention_error(source, name)
        if canonical in ("fully_connected/kernel", "fully_connected/bias"):
            roles[canonical] = name
            continue
        match = _LAYER_VARIABLE.match(canonical)
        if match and match.group(2) in _LAYER_PARTS:
            is_attention = match.group(2).startswith("attention_cell_wrapper/")
            roles[f"{int(match.group(1))}/{_LAYER_PARTS[match.group(2)]}/{'a' if is_attention else 'l'}"] = name
            continue
        if canonical.startswith(("rnn/", "fully_connected/")):
            raise MelodylibError(
                f"{source}: the checkpoint variable {name} has no place in a Melody RNN model (is it a "
                "checkpoint of another Magenta model, or one trained with residual_connections?)"
            )
    return roles, global_step


def _shape_error(source: str, name: str, shape: tuple[int, ...], expected: str) -> MelodylibError:
    return MelodylibError(
        f"{source}: the checkpoint variable {name} has shape {list(shape)}, expected {expected}; "
        "the checkpoint's shapes do not form a Melody RNN model"
    )


def magenta_layout(tensors: dict[str, np.ndarray], source: str) -> MagentaLayout:
    """Read the layer sizes, input size and classes of a Magenta Melody RNN from its variables.

    `tensors` maps checkpoint variable names (any TF version's spelling) to arrays; optimizer slots
    and other variables outside the model are ignored.
    """
    roles, global_step_name = _sort_variable_names(list(tensors), source)
    layer_indices = sorted({int(key.split("/")[0]) for key in roles if key[0].isdigit()})
    if not layer_indices or "fully_connected/kernel" not in roles or "fully_connected/bias" not in roles:
        raise MelodylibError(
            f"{source}: not a Melody RNN checkpoint (it has no rnn/multi_rnn_cell/cell_<k>/... LSTM "
            "variables and fully_connected/{weights,biases} logits)"
        )
    if layer_indices != list(range(len(layer_indices))):
        raise MelodylibError(
            f"{source}: the checkpoint has LSTM layers {layer_indices}; expected 0..{len(layer_indices) - 1}"
        )
    attention_layers = sorted({int(key.split("/")[0]) for key in roles if key.endswith("/a")})
    if attention_layers and attention_layers != [0]:
        raise MelodylibError(
            f"{source}: attention wraps layer(s) {attention_layers}; Magenta and melodylib put it on layer 0 only"
        )
    attention = bool(attention_layers)

    def tensor(key: str) -> np.ndarray:
        if key not in roles:
            layer, role = (key.split("/") + [""])[:2] if key[0].isdigit() else ("", key)
            where = f"layer {layer} " if layer else ""
            raise MelodylibError(f"{source}: the checkpoint has no {where}{role} variable; it is incomplete")
        return np.asarray(tensors[roles[key]], dtype=np.float32)

    layers: list[dict[str, np.ndarray]] = []
    sizes: list[int] = []
    input_size = 0
    for index in layer_indices:
        kind = "a" if attention and index == 0 else "l"
        kernel, bias = tensor(f"{index}/lstm_kernel/{kind}"), tensor(f"{index}/lstm_bias/{kind}")
        kernel_name, bias_name = roles[f"{index}/lstm_kernel/{kind}"], roles[f"{index}/lstm_bias/{kind}"]
        if bias.ndim != 1 or bias.shape[0] % 4 or bias.shape[0] == 0:
            raise _shape_error(source, bias_name, bias.shape, "[4 × units]")
        units = bias.shape[0] // 4
        layer_input = kernel.shape[0] - units if kernel.ndim == 2 else -1
        if kernel.ndim != 2 or kernel.shape[1] != 4 * units or layer_input <= 0:
            raise _shape_error(source, kernel_name, kernel.shape, f"[input + {units}, {4 * units}]")
        if index == 0:
            input_size = layer_input
        elif layer_input != sizes[-1]:
            raise _shape_error(source, kernel_name, kernel.shape, f"[{sizes[-1]} + {units}, {4 * units}]")
        layer = {"lstm_kernel": kernel, "lstm_bias": bias}
        if kind == "a":
            for part in _ATTENTION_PARTS:
                layer[part] = tensor(f"0/{part}/a")
            expected = {
                "input_projection_kernel": (input_size + units, input_size),
                "input_projection_bias": (input_size,),
                "attn_w": (units, units),
                "attn_v": (units,),
                "query_kernel": (2 * units, units),
                "query_bias": (units,),
                "output_projection_kernel": (2 * units, units),
                "output_projection_bias": (units,),
            }
            # attn_w is a [1, 1, u, u] 1×1 convolution kernel upstream.
            if layer["attn_w"].ndim == 4 and layer["attn_w"].shape[:2] == (1, 1):
                layer["attn_w"] = layer["attn_w"][0, 0]
            for part, shape in expected.items():
                if tuple(layer[part].shape) != shape:
                    name = roles[f"0/{part}/a"]
                    raise _shape_error(source, name, tensors[name].shape, str(list(shape)))
        layers.append(layer)
        sizes.append(units)
    logits_kernel, logits_bias = tensor("fully_connected/kernel"), tensor("fully_connected/bias")
    if logits_bias.ndim != 1 or logits_kernel.shape != (sizes[-1], logits_bias.shape[0]):
        raise _shape_error(
            source, roles["fully_connected/kernel"], logits_kernel.shape, f"[{sizes[-1]}, classes] with matching biases"
        )
    global_step = None
    if global_step_name is not None:
        global_step = int(np.asarray(tensors[global_step_name]).reshape(-1)[0])
    return MagentaLayout(
        input_size=input_size,
        num_classes=int(logits_bias.shape[0]),
        layer_sizes=sizes,
        attention=attention,
        layers=layers,
        logits_kernel=logits_kernel,
        logits_bias=logits_bias,
        global_step=global_step,
    )


def _keras_lstm_weights(kernel: np.ndarray, bias: np.ndarray, input_size: int) -> tuple[np.ndarray, ...]:
    """TF1 BasicLSTMCell (joint kernel, gates i, j, f, o, constant forget bias 1.0) → Keras LSTMCell.

    Returns (kernel [input, 4u], recurrent_kernel [u, 4u], bias [4u]) with gates i, f, c, o.
    """
    units = bias.shape[0] // 4

    def reorder(array: np.ndarray) -> np.ndarray:
        gate_i, gate_j, gate_f, gate_o = np.split(array, 4, axis=-1)
        return np.concatenate([gate_i, gate_f, gate_j, gate_o], axis=-1)

    kernel, bias = reorder(kernel), reorder(bias).copy()
    # TF1 adds forget_bias = 1.0 to the forget gate at run time; Keras has it in the variable.
    bias[units : 2 * units] += 1.0
    return (
        np.ascontiguousarray(kernel[:input_size]),
        np.ascontiguousarray(kernel[input_size:]),
        bias.astype(np.float32),
    )


def keras_weights_from_magenta(layout: MagentaLayout) -> dict[str, np.ndarray]:
    """The weights of `melodylib.models.melody_rnn.build_model` for this layout, keyed by Keras variable path."""
    weights: dict[str, np.ndarray] = {}
    layer_input = layout.input_size
    for index, layer in enumerate(layout.layers):
        kernel, recurrent_kernel, bias = _keras_lstm_weights(layer["lstm_kernel"], layer["lstm_bias"], layer_input)
        if layout.attention and index == 0:
            prefix = "lstm_0/attention_cell/"
            for part in _ATTENTION_PARTS:
                weights[prefix + part] = np.ascontiguousarray(layer[part], dtype=np.float32)
        else:
            prefix = f"lstm_{index}/lstm_cell/"
        weights[prefix + "kernel"] = kernel
        weights[prefix + "recurrent_kernel"] = recurrent_kernel
        weights[prefix + "bias"] = bias
        layer_input = layout.layer_sizes[index]
    weights["logits/kernel"] = layout.logits_kernel
    weights["logits/bias"] = layout.logits_bias
    return weights


# --------------------------------------------------------------------------------------------
# Reading checkpoints
# --------------------------------------------------------------------------------------------


def _read_checkpoint(prefix: str, source: str) -> dict[str, np.ndarray]:
    """The model variables (and global_step) of a TF checkpoint, V1 or V2, by name."""
    import tensorflow as tf

    try:
        reader = tf.train.load_checkpoint(prefix)
        names = list(reader.get_variable_to_shape_map())
        tensors = {}
        for name in names:
            canonical = _canonical_name(name)
            if canonical in ("beta1_power", "beta2_power") or _OPTIMIZER_SLOTS.search(canonical):
                continue
            tensors[name] = reader.get_tensor(name)
    except (tf.errors.OpError, ValueError, RuntimeError, OSError) as error:
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise MelodylibError(f"{source}: its checkpoint cannot be read ({first_line[:300]})") from None
    return tensors


def _checkpoint_number(name: str) -> int | None:
    match = re.fullmatch(r".*\.ckpt-(\d+)(\.index)?", name)
    return int(match.group(1)) if match else None


def find_magenta_checkpoint(path: str | os.PathLike) -> str | None:
    """The checkpoint prefix for a run_dir, its train/ folder or a checkpoint path; None if there is none.

    A run_dir's `train/checkpoint` file names the latest checkpoint; when it names files that are not
    there (a run_dir copied from another machine keeps absolute paths), the highest `model.ckpt-N` is used.
    """
    import tensorflow as tf

    path = Path(path)
    if path.is_dir():
        folder = path / "train" if (path / "train").is_dir() else path
        latest = tf.train.latest_checkpoint(str(folder))
        if latest:
            return latest
        numbered = []
        for entry in folder.iterdir():
            number = _checkpoint_number(entry.name)
            if number is None:
                continue
            prefix = str(entry)[: -len(".index")] if entry.name.endswith(".index") else str(entry)
            numbered.append((number, prefix))
        return max(numbered)[1] if numbered else None
    text = str(path)
    text = re.sub(r"(\.index|\.meta|\.data-\d+-of-\d+)$", "", text)
    if Path(text + ".index").is_file() or Path(text).is_file():
        return text
    return None


def is_magenta_checkpoint(path: str | os.PathLike) -> bool:
    """True if `path` (a run_dir, its train/ folder or a checkpoint) holds a Magenta (TF1 name-based) checkpoint.

    melodylib's own checkpoints are object-based (`model/...` and an object graph), so they give False.
    """
    try:
        import tensorflow as tf

        prefix = find_magenta_checkpoint(path)
        if prefix is None:
            return False
        names = [name for name, _ in tf.train.list_variables(prefix)]
    except Exception:  # noqa: BLE001 - any unreadable path is simply "not a Magenta checkpoint"
        return False
    if "_CHECKPOINTABLE_OBJECT_GRAPH" in names:
        return False
    return any(_canonical_name(name).startswith(("rnn/", "fully_connected/")) for name in names)


# --------------------------------------------------------------------------------------------
# Configs
# --------------------------------------------------------------------------------------------


def _sizes_text(config: MelodyRnnConfig) -> str:
    return f"input size {config.encoder.input_size}, {config.encoder.num_classes} classes"


def _check_encoder_sizes(layout: MagentaLayout, config: MelodyRnnConfig, source: str, what: str) -> None:
    """Raise if the checkpoint's input size / classes are not those of `config`'s encoder."""
    if (layout.input_size, layout.num_classes) == (config.encoder.input_size, config.encoder.num_classes):
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
        if (config.encoder.input_size, config.encoder.num_classes) == (layout.input_size, layout.num_classes):
            return config
    known = "; ".join(f"{name}: {_sizes_text(get_config(name))}" for name in CONFIG_NAMES)
    raise MelodylibError(
        f"{source}: the checkpoint has input size {layout.input_size} and {layout.num_classes} classes, which "
        f"match no Melody RNN config ({known}); pass --config, or --melody_encoder_decoder for a custom encoder"
    )


def _attn_length(layout: MagentaLayout, metagraph: bytes | None, fallback: int, source: str) -> tuple[int, str]:
    """(attn_length, where it came from) for an attention checkpoint; (0, 'no attention') otherwise."""
    if not layout.attention:
        return 0, "no attention"
    if metagraph:
        found = _attention_length_from_metagraph(metagraph, layout.layer_sizes[0])
        if found:
            return found, "metagraph"
    logger.warning(
        "%s: attn_length is not in the checkpoint's shapes and the metagraph does not reveal it; "
        "using %d (the attention_rnn default)", source, fallback
    )
    return fallback, "default"


# --------------------------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------------------------


def load_magenta_bundle(path: str | os.PathLike) -> Bundle:
    """Read a Magenta `.mag` generator bundle as a Bundle with our Keras weights (`source='magenta'`).

    The config comes from the generator id, rnn_layer_sizes from the shapes and attn_length from
    the metagraph (or 40 when it cannot be found).
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
        tensors = _read_checkpoint(checkpoint_path, source)
    layout = magenta_layout(tensors, source)
    attn_length, attn_length_source = _attn_length(layout, magenta.metagraph, DEFAULT_ATTN_LENGTH, source)
    base = get_config(magenta.generator_id)
    _check_encoder_sizes(layout, base, source, "its generator id")
    config = get_config(
        magenta.generator_id,
        {"rnn_layer_sizes": list(layout.layer_sizes), "attn_length": attn_length},
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
    layout = magenta_layout(_read_checkpoint(prefix, source), source)
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
    hparams = config.hparams.with_overrides(
        {"rnn_layer_sizes": list(layout.layer_sizes), "attn_length": attn_length}
    )
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
