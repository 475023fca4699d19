"""The contract every sequence encoder keeps (magenta-behaviour.md: "Encoder contract"), and the pieces the encoder families share.

A sequence encoder turns a list of already-squashed melody events into model inputs (one float
vector per step) and labels (one class per step), and turns a sampled class back into an event.
It also describes itself: `feature_blocks()` names the column ranges of its input vector and
`class_names()` names its output classes, so nothing else has to know its layout.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from melodylib.encoding.events_one_hot import as_event_array
from melodylib.encoding.feature_blocks import FeatureBlock
from melodylib.errors import MelodylibError
from melodylib.music.events import DEFAULT_STEPS_PER_BAR

DEFAULT_LOOKBACK_DISTANCES = (
    DEFAULT_STEPS_PER_BAR,
    2 * DEFAULT_STEPS_PER_BAR,
)  # one and two 4/4 bars


class EventSequenceEncoder:
    """Common contract (magenta-behaviour.md: "Encoder contract"): inputs for every position, labels for every position, training
    pairs.
    """

    input_size: int
    num_classes: int
    default_event_label: int
    kind: str = ""

    def inputs(self, events: Any) -> np.ndarray:
        """Input vectors (float32 [N, input_size]) for positions 0..N-1; row i sees events[0..i]."""
        raise NotImplementedError

    def labels(self, events: Any) -> np.ndarray:
        """Labels (int64 [N]); the label at p describes event p."""
        raise NotImplementedError

    def class_index_to_event(self, index: int, events: Any) -> int:
        """The event for a sampled class; `events` is the history, the new event goes at
        len(events).
        """
        raise NotImplementedError

    def feature_blocks(self, steps_per_bar: int = DEFAULT_STEPS_PER_BAR) -> list[FeatureBlock]:
        """The named column ranges of the input vector, in order, covering every column once.

        `steps_per_bar` only changes how lookbacks are named ("1 bar ago" or "16 steps ago").
        """
        raise NotImplementedError

    def class_names(self, steps_per_bar: int = DEFAULT_STEPS_PER_BAR) -> list[str]:
        """A short name per output class, in class order ("no event", "note off", "C4", ...)."""
        raise NotImplementedError

    def to_dict(self) -> dict:
        """Kind and settings, JSON-ready, so a config can be stored and rebuilt
        (encoder_from_dict).
        """
        raise NotImplementedError

    def _settings(self) -> tuple:
        """What makes two encoders of the same class encode identically."""
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self._settings() == other._settings()

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._settings()))

    def encode(self, events: Any) -> tuple[np.ndarray, np.ndarray]:
        """Training pairs: (inputs [N-1, input_size], labels [N-1]); input i is paired with label
        i+1.
        """
        events = as_event_array(events)
        return self.inputs(events)[:-1], self.labels(events)[1:]

    def input_for_last_position(self, events: Any) -> np.ndarray:
        """The input (float32 [input_size]) for the last event, for step-by-step generation."""
        events = as_event_array(events)
        if len(events) == 0:
            raise MelodylibError(
                "cannot build an input for an empty melody: give at least one primer event"
            )
        return self.inputs(events)[-1]

    def labels_to_num_steps(self, labels: Sequence[int]) -> int:
        """Number of time steps the labels cover (one per label for every melody encoder)."""
        return len(labels)

    def class_indices_to_events(self, indices: Sequence[int], events: Any = ()) -> list[int]:
        """Decode classes one after another, each seeing the events decoded before it (after
        `events`).
        """
        indices = [int(index) for index in indices]
        history = [int(event) for event in as_event_array(events)]
        for index in indices:
            history.append(self.class_index_to_event(int(index), history))
        return history[len(history) - len(indices) :]

    def evaluate_log_likelihood(self, events: Any, softmax: np.ndarray) -> float:
        """Sum of log p(label) of the last len(softmax) events; softmax rows are aligned to the end
        (magenta-behaviour.md: "Encoder contract").
        """
        events = as_event_array(events)
        softmax = np.asarray(softmax, dtype=np.float64)
        if softmax.ndim != 2 or softmax.shape[1] != self.num_classes:
            raise MelodylibError(
                f"softmax must have shape [steps, {self.num_classes}], got {softmax.shape}"
            )
        if len(softmax) >= len(events):
            raise MelodylibError(
                f"softmax has {len(softmax)} rows but the melody has only {len(events)} events: "
                "the softmax must be shorter than the event sequence (the first event is never predicted)"
            )
        num_rows = len(softmax)
        labels = self.labels(events)[len(events) - num_rows :]
        with np.errstate(divide="ignore"):
            return float(np.log(softmax[np.arange(num_rows), labels]).sum())

    def _check_class_index(self, index: int) -> int:
        index = int(index)
        if not 0 <= index < self.num_classes:
            raise MelodylibError(
                f"class index {index} is outside 0..{self.num_classes - 1} for {self!r}"
            )
        return index


# ---------------------------------------------------------------------------------------------
# Shared by the lookback and key encoders
# ---------------------------------------------------------------------------------------------


def counter_bits(positions: np.ndarray, num_bits: int) -> np.ndarray:
    """Binary counter of n = position + 1 (the next event's position): +1.0 for a set bit, -1.0
    otherwise.
    """
    bits = ((positions[:, None] + 1) >> np.arange(num_bits)) & 1
    return (2 * bits - 1).astype(np.float32)


def repeat_flags(events: np.ndarray, positions: np.ndarray, distance: int) -> np.ndarray:
    """1.0 where events[i] == events[i - distance] (and i - distance >= 0), else 0.0."""
    earlier = positions - distance
    valid = earlier >= 0
    flags = np.zeros(len(positions), dtype=np.float32)
    flags[valid] = events[positions[valid]] == events[earlier[valid]]
    return flags


def look_back(events: Any, distance: int, default_event: int) -> int:
    """The event `distance` steps before the new one (which goes at len(events)), or the default
    event.
    """
    if len(events) < distance:
        return default_event
    return int(events[len(events) - distance])


def validate_lookback_distances(lookback_distances: Sequence[int] | None) -> tuple[int, ...]:
    """Default [16, 32]; every distance must be a whole number of steps >= 1."""
    if lookback_distances is None:
        return DEFAULT_LOOKBACK_DISTANCES
    distances = tuple(lookback_distances)
    for distance in distances:
        if (
            isinstance(distance, bool)
            or not isinstance(distance, (int, np.integer))
            or distance < 1
        ):
            raise MelodylibError(
                f"lookback distance {distance!r} is invalid: lookback distances are whole numbers of steps >= 1, "
                "e.g. [16, 32]"
            )
    return tuple(int(distance) for distance in distances)


def validate_counter_bits(binary_counter_bits: int) -> int:
    """The number of binary-counter inputs: a whole number >= 0."""
    if (
        isinstance(binary_counter_bits, bool)
        or not isinstance(binary_counter_bits, (int, np.integer))
        or binary_counter_bits < 0
    ):
        raise MelodylibError(
            f"binary_counter_bits must be a whole number >= 0, got {binary_counter_bits!r}"
        )
    return int(binary_counter_bits)
