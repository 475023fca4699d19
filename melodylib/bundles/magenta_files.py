"""Magenta's files, read without Magenta: the `.mag` generator bundle and TF1 checkpoints.

A `.mag` file is a GeneratorBundle protobuf (magenta-behaviour.md: "Bundles"): generator details (id, description), one
TF1 V1 checkpoint and the generation metagraph. It is decoded here by hand (four length-delimited
fields), so neither Magenta nor note_seq is needed; attn_length, which no variable's shape shows,
is read from the metagraph's state shapes. Checkpoints are read with TensorFlow's checkpoint
reader, which still reads V1 checkpoints in TF 2.21. What the variables mean is the business of
`melodylib.bundles.magenta_variables`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from melodylib.bundles.magenta_variables import canonical_name, is_optimizer_variable
from melodylib.errors import MelodylibError

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
        raise MelodylibError(
            f"--bundle_file {path}: cannot be read ({error.strerror or error})"
        ) from None
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
            raise MelodylibError(
                f"{not_a_bundle} (unexpected protobuf field {number}, wire type {wire_type})"
            )
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
        raise MelodylibError(
            f"{not_a_bundle} (its generator details are malformed: {error})"
        ) from None
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


def _metagraph_state_widths(metagraph: bytes) -> tuple[list[str], dict[str, int]] | None:
    """(the `initial_state` collection's node names in order, {node name: width}) of a metagraph.

    The widths are those of the initial_state nodes and of the attention wrapper's zero-state
    nodes (`AttentionCellWrapperZeroState/zeros...`, in training graphs), read from their
    `_output_shapes` [batch, width]; None if the metagraph cannot be decoded.
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
                    initial_state = [
                        value.decode()
                        for field, _, value in _decode_message(node_list)
                        if field == 1
                    ]
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
    return [name.split(":")[0] for name in initial_state], widths_by_name


def attention_length_from_metagraph(metagraph: bytes, units: int) -> int | None:
    """attn_length from the attention zero-state shapes [batch, attn_length × units], or None.

    attn_length is no variable's shape, but the generation graph's state tensors (the
    `initial_state` collection) and the zero state of a training graph carry it.
    """
    found = _metagraph_state_widths(metagraph)
    if found is None:
        return None
    ordered, widths_by_name = found
    # The generation graph's state order is (c, h) of layer 0, attns, attn_states, then the other layers.
    if (
        len(ordered) >= 4
        and ordered[3] in widths_by_name
        and widths_by_name[ordered[3]] % units == 0
    ):
        return widths_by_name[ordered[3]] // units
    zero_state = [width for name, width in widths_by_name.items() if _ZERO_STATE_NODE.search(name)]
    if zero_state and max(zero_state) % units == 0:
        return max(zero_state) // units
    return None


def whole_stack_attention_length_from_metagraph(
    metagraph: bytes, layer_sizes: list[int]
) -> int | None:
    """attn_length of the 2016 layout (attention around the whole stack), or None.

    Its state, one tensor (the 2016 generator's concatenated state) or a tuple, is
    Σ 2·n_k + A + attn_length·A wide in all, with A the top layer's size: the widths of the
    `initial_state` collection (generation graphs) or of the wrapper's zero state (training
    graphs) add up to that.
    """
    found = _metagraph_state_widths(metagraph)
    if found is None:
        return None
    ordered, widths_by_name = found
    if ordered and all(name in widths_by_name for name in ordered):
        total = sum(widths_by_name[name] for name in ordered)
    else:
        total = sum(
            width for name, width in widths_by_name.items() if _ZERO_STATE_NODE.search(name)
        )
    attn_size = layer_sizes[-1]
    window = total - 2 * sum(layer_sizes) - attn_size
    if window <= 0 or window % attn_size:
        return None
    return window // attn_size


# --------------------------------------------------------------------------------------------
# Reading checkpoints
# --------------------------------------------------------------------------------------------


def read_checkpoint(prefix: str, source: str) -> dict[str, np.ndarray]:
    """The model variables (and global_step) of a TF checkpoint, V1 or V2, by name."""
    import tensorflow as tf

    try:
        reader = tf.train.load_checkpoint(prefix)
        names = list(reader.get_variable_to_shape_map())
        tensors = {
            name: reader.get_tensor(name) for name in names if not is_optimizer_variable(name)
        }
    except (tf.errors.OpError, ValueError, RuntimeError, OSError) as error:
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise MelodylibError(
            f"{source}: its checkpoint cannot be read ({first_line[:300]})"
        ) from None
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
    return any(canonical_name(name).startswith(("rnn/", "fully_connected/")) for name in names)
