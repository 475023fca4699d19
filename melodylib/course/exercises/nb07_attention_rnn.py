"""Exercises of notebook 07_attention_rnn: one attention step, written by the learner in
`keras.ops` (a build exercise), and, at the last step of a tune, which step the attention weighs
most.

The build checker runs the pretrained attention_rnn bundle's attention cell over two corpus tunes
(Aird's Airs, encoded for attention_rnn), hands the learner's `attend` the cell's real state at
every step, and compares its scores, weights and context with the cell's, naming the tune, the
step, the slot and the difference. `attention_map` and `attention_peaks` give the notebook its
picture from the learner's function.

The peak exercise works on the attention weights the notebook computed, so its checker and
solution both take them as `weights`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from melodylib.course.exercises.common import as_whole_number, verdict
from melodylib.course.exercises.real_melodies import corpus_melodies, yours_or_reference
from melodylib.course.exercises.registry import Exercise
from melodylib.errors import MelodylibError

__all__ = [
    "AttentionStates",
    "attention_states",
    "check_attend",
    "solution_attend",
    "attend_yours_or_reference",
    "attention_map",
    "attention_peaks",
    "check_attention_peak",
    "solution_attention_peak",
]

NOTEBOOK = "07_attention_rnn"


# --- build: one attention step ---------------------------------------------------------------------

_ATTEND_STEPS = 72  # steps of each tune the checker tries: the first 40 meet the empty slots
_ATTEND_TUNES = 2  # tunes run side by side, a batch of 2, so a sum over the wrong axis shows
_ATTEND_TOLERANCE = 1e-4  # absolute, for float32 sums of 40 terms

_ATTEND_HINT = (
    "follow steps 3-5 of AttentionCell.step (melodylib/models/attention_cell.py): the query "
    "from [c ; h] (c first) with cell.query_kernel and cell.query_bias; a score per slot, "
    "cell.attn_v · tanh(key + query); the softmax of the scores over the 40 slots; the context, "
    "the weighted sum of the stored outputs (memory). keras.ops has concatenate, matmul, "
    "expand_dims, tanh, sum and softmax."
)


@dataclass
class AttentionStates:
    """What the attention cell of a model saw at each step of a batch of tunes, run step by step.

    For step t: `c[t]`, `h[t]` the LSTM's new state ([batch, units]); `memory[t]`, `keys[t]` the
    stored outputs and their keys before the step ([batch, attn_length, units], oldest first);
    `weights[t]` ([batch, attn_length]) and `context[t]` ([batch, units]) what the cell computed.
    """

    titles: list[str]
    cell: Any
    c: list[np.ndarray]
    h: list[np.ndarray]
    memory: list[np.ndarray]
    keys: list[np.ndarray]
    weights: list[np.ndarray]
    context: list[np.ndarray]


def attention_states(model: Any, inputs: Any, titles: Any = None) -> AttentionStates:
    """Run the attention cell of `model` (layer lstm_0) over `inputs` ([batch, time, input_size],
    or [time, input_size] for one tune) and keep, at every step, what it attended with."""
    from melodylib.models.attention_cell import AttentionCell

    cell = model.get_layer("lstm_0").cell
    if not isinstance(cell, AttentionCell):
        raise MelodylibError(f"model {model.name!r} has no attention cell (attention_rnn has one)")
    inputs = np.asarray(inputs, dtype="float32")
    inputs = inputs[None] if inputs.ndim == 2 else inputs
    batch = inputs.shape[0]
    state = [np.zeros((batch, size), dtype="float32") for size in cell.state_size]
    shape = (batch, cell.attn_length, cell.units)
    names = list(titles) if titles else [f"tune {number + 1}" for number in range(batch)]
    seen = AttentionStates(names, cell, [], [], [], [], [], [])
    for position in range(inputs.shape[1]):
        memory, keys = np.reshape(state[3], shape), np.reshape(state[4], shape)
        _, state, weights = cell.step(inputs[:, position], state)
        state = [np.asarray(part) for part in state]
        seen.c.append(state[0])
        seen.h.append(state[1])
        seen.memory.append(memory)
        seen.keys.append(keys)
        seen.weights.append(np.asarray(weights))
        seen.context.append(state[2])
    return seen


def _reference_scores(seen: AttentionStates, step: int, query_order: str = "ch") -> np.ndarray:
    """The cell's scores at `step` (the cell returns only their softmax), in float64."""
    cell = seen.cell
    c, h = seen.c[step].astype("float64"), seen.h[step].astype("float64")
    joined = np.concatenate([c, h] if query_order == "ch" else [h, c], axis=-1)
    query = joined @ np.asarray(cell.query_kernel) + np.asarray(cell.query_bias)
    keys = seen.keys[step].astype("float64")
    return np.sum(np.asarray(cell.attn_v) * np.tanh(keys + query[:, None, :]), axis=-1)


@functools.lru_cache(maxsize=1)
def _pretrained_states() -> AttentionStates:
    """The pretrained attention_rnn bundle run over two corpus tunes (a batch of 2)."""
    from melodylib.course.lesson import pretrained_model

    lesson_model = pretrained_model("attention_rnn")
    if lesson_model is None:
        raise MelodylibError("the pretrained attention_rnn bundle is not in data/bundles")
    config = lesson_model.config
    tunes = corpus_melodies("attention_rnn", _ATTEND_TUNES)
    length = min(_ATTEND_STEPS, *(len(events) for _, events in tunes))
    inputs = np.stack([config.encoder.inputs(events[:length]) for _, events in tunes])
    return attention_states(lesson_model.model, inputs, [title for title, _ in tunes])


def _as_array(value: Any) -> np.ndarray:
    import keras

    return np.asarray(keras.ops.convert_to_numpy(value), dtype="float64")


def _where(seen: AttentionStates, step: int, row: int, slot: int | None = None) -> str:
    """'tune 'X', step 12, slot 30 (10 steps back)' for a message."""
    place = f"tune '{seen.titles[row]}', step {step}"
    if slot is not None:
        back = seen.cell.attn_length - slot
        place += f", slot {slot} ({back} step{'s' if back != 1 else ''} back)"
    return place


def _compare(name: str, given: np.ndarray, expected: np.ndarray, seen, step: int) -> str:
    """'' when `given` matches `expected`, else what differs, where and by how much."""
    if given.shape != expected.shape:
        return (
            f"step {step}: {name} has shape {given.shape}; expected {expected.shape} "
            f"([batch, {'attn_length' if expected.ndim == 2 and name != 'context' else 'units'}])."
        )
    difference = np.abs(given - expected)
    if not np.all(np.isfinite(given)) or difference.max() > _ATTEND_TOLERANCE:
        row, column = np.unravel_index(
            np.nanargmax(np.where(np.isfinite(difference), difference, np.inf)), difference.shape
        )
        slot = int(column) if name != "context" else None
        unit = f", unit {int(column)}" if name == "context" else ""
        return (
            f"{_where(seen, step, int(row), slot)}{unit}: {name} {'differs' if name == 'context' else 'differ'}, yours "
            f"{given[row, column]:.4f}, the cell's {expected[row, column]:.4f} (off by "
            f"{difference[row, column]:.2g}; tolerance {_ATTEND_TOLERANCE:g})."
        )
    return ""


def _scores_hint(given: np.ndarray, seen: AttentionStates, step: int) -> str:
    """A hint aimed at the usual mistake in the scores."""
    if np.allclose(given, _reference_scores(seen, step, "hc"), atol=_ATTEND_TOLERANCE):
        return "the query is [c ; h], c first (as upstream), not [h ; c]."
    cell = seen.cell
    joined = np.concatenate([seen.c[step], seen.h[step]], axis=-1).astype("float64")
    no_bias = joined @ np.asarray(cell.query_kernel)
    keys = seen.keys[step].astype("float64")
    without_bias = np.sum(np.asarray(cell.attn_v) * np.tanh(keys + no_bias[:, None, :]), -1)
    if np.allclose(given, without_bias, atol=_ATTEND_TOLERANCE):
        return "add the query bias: query = [c ; h] @ cell.query_kernel + cell.query_bias."
    with_bias = no_bias + np.asarray(cell.query_bias)
    without_tanh = np.sum(np.asarray(cell.attn_v) * (keys + with_bias[:, None, :]), -1)
    if np.allclose(given, without_tanh, atol=_ATTEND_TOLERANCE):
        return "squash with tanh before the dot product with attn_v: v · tanh(k_j + query)."
    memory_scores = np.sum(
        np.asarray(cell.attn_v) * np.tanh(seen.memory[step] + with_bias[:, None, :]), -1
    )
    if np.allclose(given, memory_scores, atol=_ATTEND_TOLERANCE):
        return "score the keys (k_j = m_j · attn_w, given as `keys`), not the stored outputs."
    return _ATTEND_HINT


def check_attend(attend: Any, states: Any = None) -> bool:
    """07_attention_rnn (build): `attend(c, h, memory, keys, cell)` returns (scores, weights,
    context), steps 3-5 of AttentionCell.step.

    Run on the real states of the pretrained attention_rnn bundle reading two corpus tunes (or
    on `states`, an AttentionStates), at every one of their first 72 steps: the scores, then the
    weights, then the context must match the cell's within 1e-4.
    """
    if not callable(attend):
        return verdict(
            False,
            f"give the function itself (attend, no brackets); got {attend!r:.60}",
            _ATTEND_HINT,
        )
    try:
        seen = states if isinstance(states, AttentionStates) else _pretrained_states()
    except MelodylibError as error:
        return verdict(False, f"could not get the real states to check with: {error}")
    for step in range(len(seen.c)):
        try:
            result = attend(
                seen.c[step], seen.h[step], seen.memory[step], seen.keys[step], seen.cell
            )
        except NotImplementedError:
            return verdict(
                False,
                "attend is not written yet (it still raises NotImplementedError).",
                _ATTEND_HINT,
            )
        except Exception as error:  # the learner's code: any error becomes a verdict
            return verdict(
                False, f"step {step}: attend raised {type(error).__name__}: {error}", _ATTEND_HINT
            )
        if not isinstance(result, (tuple, list)) or len(result) != 3:
            return verdict(
                False,
                f"attend returned {type(result).__name__}; return three things: "
                "scores, weights, context.",
                _ATTEND_HINT,
            )
        try:
            scores, weights, context = (_as_array(part) for part in result)
        except Exception:
            return verdict(False, "attend must return three arrays (tensors).", _ATTEND_HINT)
        expected = [
            ("scores", scores, _reference_scores(seen, step)),
            ("weights", weights, seen.weights[step].astype("float64")),
            ("context", context, seen.context[step].astype("float64")),
        ]
        for name, given, truth in expected:
            problem = _compare(name, given, truth, seen, step)
            if not problem:
                continue
            if name == "scores" and given.shape == truth.shape:
                hint = _scores_hint(given, seen, step)
            elif name == "weights" and given.shape == truth.shape:
                sums = given.sum(axis=-1)
                hint = (
                    f"the weights of a row sum to {sums[0]:.3f}, not 1: softmax over the 40 "
                    "slots, axis=-1."
                    if not np.allclose(sums, 1.0, atol=1e-3)
                    else "weights = ops.softmax(scores, axis=-1)."
                )
            elif name == "context" and given.shape == truth.shape:
                hint = (
                    "the context mixes the stored outputs (`memory`), not their keys: "
                    "sum over slots of weights[:, :, None] * memory."
                    if np.allclose(
                        given,
                        np.sum(seen.weights[step][..., None] * seen.keys[step], axis=1),
                        atol=_ATTEND_TOLERANCE,
                    )
                    else "context = ops.sum(ops.expand_dims(weights, -1) * memory, axis=1)."
                )
            else:
                hint = _ATTEND_HINT
            return verdict(False, problem, hint)
    given_states = isinstance(states, AttentionStates)
    source = "the given states" if given_states else "the pretrained attention_rnn"
    return verdict(
        True,
        f"scores, weights and context equal the cell's at all {len(seen.c)} steps of "
        f"{len(seen.titles)} tunes ({len(seen.c) * len(seen.titles)} attention steps of "
        f"{source}, within {_ATTEND_TOLERANCE:g}).",
    )


def solution_attend() -> Callable[..., tuple[Any, Any, Any]]:
    """A model answer to check_attend: the function `attend`."""
    from keras import ops

    def attend(c, h, memory, keys, cell):
        """Steps 3-5 of the attention cell: (scores, weights, context)."""
        query = ops.matmul(ops.concatenate([c, h], axis=-1), cell.query_kernel) + cell.query_bias
        scores = ops.sum(cell.attn_v * ops.tanh(keys + ops.expand_dims(query, 1)), axis=-1)
        weights = ops.softmax(scores, axis=-1)
        context = ops.sum(ops.expand_dims(weights, -1) * memory, axis=1)
        return scores, weights, context

    return attend


def attend_yours_or_reference(attend: Any) -> Callable[..., tuple[Any, Any, Any]]:
    """Your `attend` if it passes check_attend, else the model answer (said in one line)."""
    return yours_or_reference(check_attend, attend, solution_attend(), "attend")


def attention_map(attend: Any, model: Any, inputs: Any) -> np.ndarray:
    """The attention weights of `model` over one encoded tune ([time, input_size]), computed at
    every step by `attend` on the cell's own states: [time, attn_length], oldest slot first."""
    seen = attention_states(model, inputs)
    rows = [
        _as_array(attend(seen.c[t], seen.h[t], seen.memory[t], seen.keys[t], seen.cell)[1])[0]
        for t in range(len(seen.c))
    ]
    return np.stack(rows) if rows else np.zeros((0, seen.cell.attn_length))


def attention_peaks(weights: Any, count: int = 2) -> list[int]:
    """The `count` distances (in steps back, 1 = the previous step) where the mean attention over
    the steps with a full window has its highest local peaks, nearest first."""
    matrix = np.asarray(weights, dtype=float)
    length = matrix.shape[1]
    full = matrix[length:] if len(matrix) > length else matrix
    mean = full[:, ::-1].mean(axis=0)  # index k: k + 1 steps back
    padded = np.concatenate([[-np.inf], mean, [-np.inf]])
    local = [
        k for k in range(length) if padded[k + 1] >= padded[k] and padded[k + 1] > padded[k + 2]
    ]
    best = sorted(local, key=lambda k: mean[k], reverse=True)[:count]
    return sorted(k + 1 for k in best)


def _attention_matrix(weights: Any) -> np.ndarray | str:
    """`weights` as a [steps, attn_length] array of attention weights, or why it is not one."""
    try:
        matrix = np.asarray(weights, dtype=float)
    except (TypeError, ValueError):
        return (
            "the weights must be the array that melodylib.attention_weights(model, inputs) returns"
        )
    if matrix.ndim != 2 or 0 in matrix.shape or not np.all(np.isfinite(matrix)):
        return (
            "the weights must be a [steps, attn_length] array from "
            f"melodylib.attention_weights; got shape {matrix.shape}"
        )
    return matrix


def check_attention_peak(answer: Any, weights: Any) -> bool:
    """07_attention_rnn: at the last step of the melody, which step does the attention weigh most?

    `weights` is `attention_weights(model, inputs)` ([steps, attn_length]); row t holds the weights
    over the outputs of steps t - attn_length .. t - 1 (column attn_length - 1 is the step before
    t). The answer is a step number of the melody (0 is its first step); ties all count as right.
    """
    matrix = _attention_matrix(weights)
    if isinstance(matrix, str):
        return verdict(
            False,
            matrix,
            "pass the weights of the notebook: check_attention_peak(my_step, weights).",
        )
    step = as_whole_number(answer, "the step")
    last = matrix.shape[0] - 1
    length = matrix.shape[1]
    row = matrix[last]
    best = row.max()
    peaks = [last - length + column for column in range(length) if row[column] >= best - 1e-6]
    hint = (
        f"row {last} of weights is the last step; its column j is the output of step {last} - "
        f"{length} + j, so the last column ({length - 1}) is step {last - 1}. Find the column "
        "with the largest weight (np.argmax)."
    )
    if isinstance(step, str):
        return verdict(False, step, hint)
    if step in peaks:
        back = last - step
        return verdict(
            True,
            f"At step {last} the network weighs step {step} most ({back} "
            f"step{'s' if back != 1 else ''} back, weight {best:.3f}; an even "
            f"spread would give each slot {1 / length:.3f}).",
        )
    columns = [peak - last + length for peak in peaks]
    if step in columns:
        return verdict(False, f"{step} is the column; turn it into a step of the melody.", hint)
    if step in [last - peak for peak in peaks]:
        return verdict(
            False, f"{step} is how many steps back it looks; give the step number itself.", hint
        )
    if 0 <= step <= last and last - length <= step < last:
        weight = row[step - last + length]
        return verdict(
            False, f"step {step} has weight {weight:.3f}, but another step has {best:.3f}.", hint
        )
    return verdict(
        False,
        f"at step {last} the network can only look at steps {max(0, last - length)}..{last - 1}.",
        hint,
    )


def solution_attention_peak(weights: Any = None) -> int:
    """A model answer to check_attention_peak for the notebook's `weights` (pass weights=...)."""
    matrix = _attention_matrix(weights) if weights is not None else "no weights were given"
    if isinstance(matrix, str):
        raise MelodylibError(
            f"solution_attention_peak needs the notebook's weights ({matrix}); "
            "call exercises.solution('07', weights=weights)"
        )
    last, length = matrix.shape[0] - 1, matrix.shape[1]
    return int(last - length + int(np.argmax(matrix[last])))


EXERCISES = (
    Exercise(check_attend, solution_attend),
    Exercise(check_attention_peak, solution_attention_peak),
)
