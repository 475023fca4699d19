"""The mapping of Magenta's TF1 variable names and shapes onto melodylib's Keras layers (magenta-behaviour.md: "Network", "Keras port notes").

- BasicLSTMCell: one kernel over [x; h] with gate columns (i, j, f, o) and a constant forget bias of
  1.0 → Keras `kernel` / `recurrent_kernel` with columns (i, f, c=j, o) and the 1.0 folded into `bias`;
- the attention wrapper around layer 0: input projection, `attention/{attn_w, attn_v, kernel, bias}`
  and `attn_output_projection` → the weights of `melodylib.models.attention_cell.AttentionCell`;
- the 2016 layout, the same wrapper around the whole stack (`rnn/attention_cell_wrapper/...`, its
  LSTM layers under `.../multi_rnn_cell/cell_<k>/`) → the weights of
  `melodylib.models.whole_stack_attention.WholeStackAttentionCell` (hparam
  attention_layout=whole_stack; magenta-behaviour.md: "The 2016 attention layout");
- `fully_connected/{weights, biases}` → `logits/{kernel, bias}`.

Every TF version's spelling is read: TF 0.x (`RNN/AttentionCellWrapper/Linear/Matrix`,
`Attention/AttnW`, `AttnOutputProjection`, `MultiRNNCell/Cell0/BasicLSTMCell/Linear/Bias`),
TF 1.0-1.1 (`weights`, `biases`), TF >= 1.2 (`kernel`, `bias`), and Magenta.js's
`attention_output_projection`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from melodylib.errors import MelodylibError

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
    "attention_output_projection": "attn_output_projection",  # Magenta.js's converted checkpoints
    "attnw": "attn_w",
    "attnv": "attn_v",
    "weights": "kernel",
    "matrix": "kernel",
    "biases": "bias",
}
_OPTIMIZER_SLOTS = re.compile(r"/(adam|adam_\d+|momentum|rmsprop|rmsprop_\d+|adagrad|ftrl)$")
_IGNORED_NAMES = {"global_step", "beta1_power", "beta2_power"}


def is_optimizer_variable(name: str) -> bool:
    """True for the optimizer's own variables (Adam's beta powers and every slot), which are not read."""
    canonical = canonical_name(name)
    return canonical in ("beta1_power", "beta2_power") or bool(_OPTIMIZER_SLOTS.search(canonical))


def canonical_name(name: str) -> str:
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
# The 2016 layout: the wrapper's own variables, directly under rnn/attention_cell_wrapper/.
_WHOLE_STACK_PARTS = {
    "kernel": "input_projection_kernel",
    "bias": "input_projection_bias",
    "attention/attn_w": "attn_w",
    "attention/attn_v": "attn_v",
    "attention/kernel": "query_kernel",
    "attention/bias": "query_bias",
    "attn_output_projection/kernel": "output_projection_kernel",
    "attn_output_projection/bias": "output_projection_bias",
}
_WHOLE_STACK_LAYER = re.compile(r"^rnn/attention_cell_wrapper/multi_rnn_cell/cell_(\d+)/(lstm/.+)$")
_WHOLE_STACK_PREFIX = "rnn/attention_cell_wrapper/"
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
    # "first_layer" (attention parts in layers[0]) or "whole_stack" (in whole_stack_attention).
    attention_layout: str = "first_layer"
    whole_stack_attention: dict[str, np.ndarray] | None = None


def _sort_variable_names(names: list[str], source: str) -> tuple[dict[str, str], str | None]:
    """{role key -> original name} for the model's variables, and the global_step name if any.

    Role keys: `<k>/<part>/l` for a plain LSTM layer, `<k>/<part>/a` for layer 0 inside the
    first-layer attention wrapper, `<k>/<part>/w` for an LSTM layer inside the 2016 whole-stack
    wrapper and `stack/<part>` for that wrapper's own variables. Raises on names inside `rnn/`
    that have no place in the model.
    """
    roles: dict[str, str] = {}
    global_step = None
    for name in names:
        canonical = canonical_name(name)
        if canonical == "global_step":
            global_step = name
            continue
        if canonical in _IGNORED_NAMES or _OPTIMIZER_SLOTS.search(canonical):
            continue
        whole_stack_layer = _WHOLE_STACK_LAYER.match(canonical)
        if whole_stack_layer and whole_stack_layer.group(2) in _LAYER_PARTS:
            part = _LAYER_PARTS[whole_stack_layer.group(2)]
            roles[f"{int(whole_stack_layer.group(1))}/{part}/w"] = name
            continue
        stack_part = canonical[len(_WHOLE_STACK_PREFIX) :]
        if canonical.startswith(_WHOLE_STACK_PREFIX) and stack_part in _WHOLE_STACK_PARTS:
            roles[f"stack/{_WHOLE_STACK_PARTS[stack_part]}"] = name
            continue
        if canonical in ("fully_connected/kernel", "fully_connected/bias"):
            roles[canonical] = name
            continue
        match = _LAYER_VARIABLE.match(canonical)
        if match and match.group(2) in _LAYER_PARTS:
            is_attention = match.group(2).startswith("attention_cell_wrapper/")
            roles[
                f"{int(match.group(1))}/{_LAYER_PARTS[match.group(2)]}/{'a' if is_attention else 'l'}"
            ] = name
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
    if (
        not layer_indices
        or "fully_connected/kernel" not in roles
        or "fully_connected/bias" not in roles
    ):
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
    whole_stack = any(key.endswith("/w") or key.startswith("stack/") for key in roles)
    if whole_stack and any(key.endswith(("/a", "/l")) for key in roles):
        raise MelodylibError(
            f"{source}: the checkpoint mixes the 2016 layout (LSTM layers inside "
            "rnn/attention_cell_wrapper/) with LSTM layers outside it (rnn/multi_rnn_cell/...); "
            "its variables do not form one Melody RNN model"
        )

    def tensor(key: str) -> np.ndarray:
        if key not in roles:
            layer, role = (key.split("/") + [""])[:2] if key[0].isdigit() else ("", key)
            where = f"layer {layer} " if layer else ""
            if layer == "stack":
                where = "rnn/attention_cell_wrapper/ "
            raise MelodylibError(
                f"{source}: the checkpoint has no {where}{role} variable; it is incomplete"
            )
        return np.asarray(tensors[roles[key]], dtype=np.float32)

    kind_of_layer = {index: "l" for index in layer_indices}
    kind_of_layer.update({0: "a"} if attention_layers else {})
    kind_of_layer.update({index: "w" for index in layer_indices} if whole_stack else {})
    layers, sizes, input_size = _lstm_layers(kind_of_layer, tensor, roles, source)
    whole_stack_attention = None
    if whole_stack:
        parts = {part: tensor(f"stack/{part}") for part in _ATTENTION_PARTS}
        whole_stack_attention = _checked_parts(
            parts, _whole_stack_shapes(input_size, sizes), "stack/{}", roles, source
        )
    logits_kernel, logits_bias = tensor("fully_connected/kernel"), tensor("fully_connected/bias")
    if logits_bias.ndim != 1 or logits_kernel.shape != (sizes[-1], logits_bias.shape[0]):
        raise _shape_error(
            source,
            roles["fully_connected/kernel"],
            logits_kernel.shape,
            f"[{sizes[-1]}, classes] with matching biases",
        )
    global_step = None
    if global_step_name is not None:
        global_step = int(np.asarray(tensors[global_step_name]).reshape(-1)[0])
    return MagentaLayout(
        input_size=input_size,
        num_classes=int(logits_bias.shape[0]),
        layer_sizes=sizes,
        attention=bool(attention_layers) or whole_stack,
        layers=layers,
        logits_kernel=logits_kernel,
        logits_bias=logits_bias,
        global_step=global_step,
        attention_layout="whole_stack" if whole_stack else "first_layer",
        whole_stack_attention=whole_stack_attention,
    )


def _lstm_layers(
    kind_of_layer: dict[int, str], tensor: Any, roles: dict[str, str], source: str
) -> tuple[list[dict[str, np.ndarray]], list[int], int]:
    """(each layer's tensors, layer sizes, input size) read from the LSTM kernels and biases.

    `kind_of_layer` gives each layer's role-key suffix: "l" plain, "a" inside the first-layer
    attention wrapper (its wrapper's tensors are added to the layer), "w" inside the whole stack's.
    """
    layers: list[dict[str, np.ndarray]] = []
    sizes: list[int] = []
    input_size = 0
    for index, kind in sorted(kind_of_layer.items()):
        kernel, bias = tensor(f"{index}/lstm_kernel/{kind}"), tensor(f"{index}/lstm_bias/{kind}")
        kernel_name, bias_name = (
            roles[f"{index}/lstm_kernel/{kind}"],
            roles[f"{index}/lstm_bias/{kind}"],
        )
        if bias.ndim != 1 or bias.shape[0] % 4 or bias.shape[0] == 0:
            raise _shape_error(source, bias_name, bias.shape, "[4 × units]")
        units = bias.shape[0] // 4
        layer_input = kernel.shape[0] - units if kernel.ndim == 2 else -1
        if kernel.ndim != 2 or kernel.shape[1] != 4 * units or layer_input <= 0:
            raise _shape_error(source, kernel_name, kernel.shape, f"[input + {units}, {4 * units}]")
        if index == 0:
            input_size = layer_input
        elif layer_input != sizes[-1]:
            raise _shape_error(
                source, kernel_name, kernel.shape, f"[{sizes[-1]} + {units}, {4 * units}]"
            )
        layer = {"lstm_kernel": kernel, "lstm_bias": bias}
        if kind == "a":
            parts = {part: tensor(f"0/{part}/a") for part in _ATTENTION_PARTS}
            layer.update(
                _checked_parts(
                    parts, _first_layer_shapes(input_size, units), "0/{}/a", roles, source
                )
            )
        layers.append(layer)
        sizes.append(units)
    return layers, sizes, input_size


def _first_layer_shapes(input_size: int, units: int) -> dict[str, tuple[int, ...]]:
    """The shapes of the attention wrapper's tensors around layer 0 (units wide)."""
    return {
        "input_projection_kernel": (input_size + units, input_size),
        "input_projection_bias": (input_size,),
        "attn_w": (units, units),
        "attn_v": (units,),
        "query_kernel": (2 * units, units),
        "query_bias": (units,),
        "output_projection_kernel": (2 * units, units),
        "output_projection_bias": (units,),
    }


def _whole_stack_shapes(input_size: int, sizes: list[int]) -> dict[str, tuple[int, ...]]:
    """The shapes of the 2016 wrapper's tensors around the whole stack: A = the top layer's size."""
    attn_size = sizes[-1]
    return {
        "input_projection_kernel": (input_size + attn_size, input_size),
        "input_projection_bias": (input_size,),
        "attn_w": (attn_size, attn_size),
        "attn_v": (attn_size,),
        "query_kernel": (2 * sum(sizes), attn_size),
        "query_bias": (attn_size,),
        "output_projection_kernel": (sizes[-1] + attn_size, attn_size),
        "output_projection_bias": (attn_size,),
    }


def _checked_parts(
    parts: dict[str, np.ndarray],
    expected: dict[str, tuple[int, ...]],
    role_key: str,
    roles: dict[str, str],
    source: str,
) -> dict[str, np.ndarray]:
    """An attention wrapper's tensors checked against `expected` (`role_key`: a part's role key)."""
    original_shapes = {part: parts[part].shape for part in parts}
    # attn_w is a [1, 1, A, A] 1×1 convolution kernel upstream.
    if parts["attn_w"].ndim == 4 and parts["attn_w"].shape[:2] == (1, 1):
        parts = {**parts, "attn_w": parts["attn_w"][0, 0]}
    for part, shape in expected.items():
        if tuple(parts[part].shape) != shape:
            raise _shape_error(
                source, roles[role_key.format(part)], original_shapes[part], str(list(shape))
            )
    return parts


def _keras_lstm_weights(
    kernel: np.ndarray, bias: np.ndarray, input_size: int
) -> tuple[np.ndarray, ...]:
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
        kernel, recurrent_kernel, bias = _keras_lstm_weights(
            layer["lstm_kernel"], layer["lstm_bias"], layer_input
        )
        if layout.attention_layout == "whole_stack":
            prefix = f"lstm_0/whole_stack_attention/layer_{index}_"
        elif layout.attention and index == 0:
            prefix = "lstm_0/attention_cell/"
            for part in _ATTENTION_PARTS:
                weights[prefix + part] = np.ascontiguousarray(layer[part], dtype=np.float32)
        else:
            prefix = f"lstm_{index}/lstm_cell/"
        weights[prefix + "kernel"] = kernel
        weights[prefix + "recurrent_kernel"] = recurrent_kernel
        weights[prefix + "bias"] = bias
        layer_input = layout.layer_sizes[index]
    for part, value in (layout.whole_stack_attention or {}).items():
        weights[f"lstm_0/whole_stack_attention/{part}"] = np.ascontiguousarray(value, np.float32)
    weights["logits/kernel"] = layout.logits_kernel
    weights["logits/bias"] = layout.logits_bias
    return weights
