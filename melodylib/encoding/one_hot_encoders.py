"""The two encoders built on a per-event one-hot encoding: one-hot (magenta-behaviour.md: "One-hot encoding") and lookback (magenta-behaviour.md: "Lookback encoding").

Both name their classes after the one-hot encoding's classes ("no event", "note off", "C3", ...);
the lookback encoder adds one "repeat the event d steps back" class per lookback distance.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from melodylib.encoding.events_one_hot import MelodyOneHotEncoding, OneHotEncoding, as_event_array
from melodylib.encoding.feature_blocks import FeatureBlock, lay_out_blocks, lookback_name, non_empty
from melodylib.encoding.sequence_encoder import (
    EventSequenceEncoder,
    counter_bits,
    look_back,
    repeat_flags,
    validate_counter_bits,
    validate_lookback_distances,
)
from melodylib.errors import MelodylibError
from melodylib.music.events import DEFAULT_STEPS_PER_BAR


class _OnOneHotEncoding:
    """The note range of encoders built on a one-hot encoding (`self.encoding`)."""

    @property
    def min_note(self) -> int | None:
        """Lowest encodable pitch (None for a non-melody encoding)."""
        return getattr(self.encoding, "min_note", None)

    @property
    def max_note(self) -> int | None:
        """One above the highest encodable pitch (None for a non-melody encoding)."""
        return getattr(self.encoding, "max_note", None)


class OneHotEncoder(_OnOneHotEncoding, EventSequenceEncoder):
    """magenta-behaviour.md: "One-hot encoding" (basic_rnn, mono_rnn): input = one-hot of the current event, label = its class."""

    kind = "onehot"

    def __init__(self, encoding: OneHotEncoding) -> None:
        self.encoding = encoding
        self.input_size = encoding.num_classes
        self.num_classes = encoding.num_classes
        self.default_event_label = encoding.encode_event(encoding.default_event)
        self._identity = np.eye(self.num_classes, dtype=np.float32)

    def __repr__(self) -> str:
        return f"OneHotEncoder({self.encoding!r})"

    def feature_blocks(self, steps_per_bar: int = DEFAULT_STEPS_PER_BAR) -> list[FeatureBlock]:
        """One single-column block per class, named after the class: input column k is class k."""
        return lay_out_blocks([(name, 1) for name in self.encoding.class_names()])

    def class_names(self, steps_per_bar: int = DEFAULT_STEPS_PER_BAR) -> list[str]:
        """The one-hot encoding's class names: "no event", "note off", then the pitches."""
        return self.encoding.class_names()

    def inputs(self, events: Any) -> np.ndarray:
        return self._one_hot_rows(self.encoding.encode_events(as_event_array(events)))

    def labels(self, events: Any) -> np.ndarray:
        return self.encoding.encode_events(as_event_array(events)).astype(np.int64, copy=False)

    def encode(self, events: Any) -> tuple[np.ndarray, np.ndarray]:
        indices = self.encoding.encode_events(as_event_array(events)).astype(np.int64, copy=False)
        return self._one_hot_rows(indices[:-1]), indices[1:]

    def _one_hot_rows(self, indices: np.ndarray) -> np.ndarray:
        """Rows of the identity matrix (a fresh array), one per class index."""
        return self._identity[indices]

    def input_for_last_position(self, events: Any) -> np.ndarray:
        events = as_event_array(events)
        if len(events) == 0:
            raise MelodylibError(
                "cannot build an input for an empty melody: give at least one primer event"
            )
        return self.inputs(events[-1:])[0]

    def class_index_to_event(self, index: int, events: Any) -> int:
        return int(self.encoding.decode_event(self._check_class_index(index)))

    def labels_to_num_steps(self, labels: Sequence[int]) -> int:
        return int(
            sum(
                self.encoding.event_to_num_steps(self.encoding.decode_event(int(label)))
                for label in labels
            )
        )

    def to_dict(self) -> dict:
        return {"kind": self.kind, **encoding_range(self.encoding)}

    def _settings(self) -> tuple:
        return (self.encoding,)


class LookbackEncoder(_OnOneHotEncoding, EventSequenceEncoder):
    """magenta-behaviour.md: "Lookback encoding" (lookback_rnn): one-hot plus the events 1 and 2 bars back, a step counter and repeat flags.

    Input blocks, in order: "current" (one-hot of the event, `event_block`), one one-hot block per
    lookback distance ("1 bar ago", ..., `lookback_blocks`), "counter" (the binary counter,
    `counter_block`) and "repeat" (one flag per distance, `repeat_block`).
    Classes: the C one-hot classes, then one "repeat the event d_k steps back" class per lookback.
    """

    kind = "lookback"

    def __init__(
        self,
        encoding: OneHotEncoding,
        lookback_distances: Sequence[int] | None = None,
        binary_counter_bits: int = 5,
    ) -> None:
        self.encoding = encoding
        self.lookback_distances = validate_lookback_distances(lookback_distances)
        self.binary_counter_bits = validate_counter_bits(binary_counter_bits)
        blocks = self._layout(DEFAULT_STEPS_PER_BAR)
        self.event_block = blocks[0]
        self.lookback_blocks = tuple(blocks[1:-2])
        self.counter_block, self.repeat_block = blocks[-2], blocks[-1]
        self.input_size = blocks[-1].stop
        self.num_classes = encoding.num_classes + len(self.lookback_distances)
        self.default_event_label = encoding.encode_event(encoding.default_event)

    def __repr__(self) -> str:
        return (
            f"LookbackEncoder({self.encoding!r}, lookback_distances={list(self.lookback_distances)}, "
            f"binary_counter_bits={self.binary_counter_bits})"
        )

    def _layout(self, steps_per_bar: int) -> list[FeatureBlock]:
        """Every input block in order, empty ones included (the single place the layout is
        decided).
        """
        num_one_hot = self.encoding.num_classes
        looked_back = [
            (lookback_name(distance, steps_per_bar), num_one_hot)
            for distance in self.lookback_distances
        ]
        return lay_out_blocks(
            [
                ("current", num_one_hot),
                *looked_back,
                ("counter", self.binary_counter_bits),
                ("repeat", len(self.lookback_distances)),
            ]
        )

    def feature_blocks(self, steps_per_bar: int = DEFAULT_STEPS_PER_BAR) -> list[FeatureBlock]:
        """ "current", one block per lookback ("1 bar ago", "2 bars ago"), "counter", "repeat"."""
        return non_empty(self._layout(steps_per_bar))

    def class_names(self, steps_per_bar: int = DEFAULT_STEPS_PER_BAR) -> list[str]:
        """The one-hot classes' names, then "repeat 1 bar ago", "repeat 2 bars ago", ..."""
        repeats = [
            f"repeat {lookback_name(distance, steps_per_bar)}"
            for distance in self.lookback_distances
        ]
        return self.encoding.class_names() + repeats

    def inputs(self, events: Any) -> np.ndarray:
        events = as_event_array(events)
        return self._input_rows(events, self.encoding.encode_events(events), 0, len(events))

    def labels(self, events: Any) -> np.ndarray:
        events = as_event_array(events)
        return self._labels(events, self.encoding.encode_events(events))

    def encode(self, events: Any) -> tuple[np.ndarray, np.ndarray]:
        events = as_event_array(events)
        indices = self.encoding.encode_events(events)
        return self._input_rows(events, indices, 0, max(len(events) - 1, 0)), self._labels(
            events, indices
        )[1:]

    def input_for_last_position(self, events: Any) -> np.ndarray:
        events = as_event_array(events)
        if len(events) == 0:
            raise MelodylibError(
                "cannot build an input for an empty melody: give at least one primer event"
            )
        # Every block looks a fixed distance back, so only the last row needs computing.
        return self._input_rows(
            events, self.encoding.encode_events(events), len(events) - 1, len(events)
        )[0]

    def _input_rows(
        self, events: np.ndarray, indices: np.ndarray, start: int, stop: int
    ) -> np.ndarray:
        """Input rows for positions start..stop-1, given the events and their one-hot indices."""
        positions = np.arange(start, stop)
        rows = np.arange(len(positions))
        inputs = np.zeros((len(positions), self.input_size), dtype=np.float32)
        inputs[rows, self.event_block.start + indices[positions]] = 1.0
        for block, distance in zip(self.lookback_blocks, self.lookback_distances, strict=True):
            # The event one lookback before the event being predicted (position i + 1).
            source = positions - distance + 1
            looked_back = np.where(
                source >= 0, indices[np.maximum(source, 0)], self.default_event_label
            )
            inputs[rows, block.start + looked_back] = 1.0
        inputs[:, self.counter_block.columns] = counter_bits(positions, self.binary_counter_bits)
        for column, distance in zip(
            range(self.repeat_block.start, self.repeat_block.stop),
            self.lookback_distances,
            strict=False,
        ):
            inputs[:, column] = repeat_flags(events, positions, distance)
        return inputs

    def _labels(self, events: np.ndarray, indices: np.ndarray) -> np.ndarray:
        labels = indices.astype(np.int64, copy=True)
        positions = np.arange(len(events))
        num_one_hot = self.encoding.num_classes
        # Lookbacks are checked from the end of the list backwards (longest first for [16, 32]):
        # applying them in list order lets the later ones overwrite the earlier ones.
        for number, distance in enumerate(self.lookback_distances):
            labels[repeat_flags(events, positions, distance) > 0] = num_one_hot + number
        if self.lookback_distances:
            # Magenta's rule (magenta-behaviour.md: "Lookback encoding"): before the last lookback distance every default event is
            # labelled
            # with the last lookback class ("repeat 2 bars ago"), which decodes to the default event
            # there.
            early_default = (positions < self.lookback_distances[-1]) & (
                events == self.encoding.default_event
            )
            labels[early_default] = self.num_classes - 1
        return labels

    def class_index_to_event(self, index: int, events: Any) -> int:
        index = self._check_class_index(index)
        num_one_hot = self.encoding.num_classes
        if index >= num_one_hot:
            return look_back(
                events, self.lookback_distances[index - num_one_hot], self.encoding.default_event
            )
        return int(self.encoding.decode_event(index))

    def labels_to_num_steps(self, labels: Sequence[int]) -> int:
        """Decode the labels into events one after another and add up each event's steps."""
        events = self.class_indices_to_events(labels)
        return int(sum(self.encoding.event_to_num_steps(event) for event in events))

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            **encoding_range(self.encoding),
            "lookback_distances": list(self.lookback_distances),
            "binary_counter_bits": self.binary_counter_bits,
        }

    def _settings(self) -> tuple:
        return (self.encoding, self.lookback_distances, self.binary_counter_bits)


def encoding_range(encoding: OneHotEncoding) -> dict:
    """{"min_note", "max_note"} of a melody one-hot encoding, for `to_dict`; others cannot be
    stored.
    """
    if not isinstance(encoding, MelodyOneHotEncoding):
        raise MelodylibError(
            f"only encoders over a MelodyOneHotEncoding can be stored, not over {type(encoding).__name__}"
        )
    return {"min_note": encoding.min_note, "max_note": encoding.max_note}
