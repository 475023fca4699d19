"""Melody event encodings (§2) and the three sequence encoders of the Melody RNN configs (§3).

An encoder turns a list of already-squashed melody events into model inputs (one float vector per
step) and labels (one class per step), and turns a sampled class back into an event. Everything is
computed for a whole melody at once with numpy: no per-position Python loops and no prefix rescans,
so encoding a melody costs O(N) vector operations (note_seq rescans the prefix at every position).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from melodylib.errors import MelodylibError
from melodylib.music.events import DEFAULT_STEPS_PER_BAR, MAX_MELODY_EVENT, NO_EVENT, NOTE_OFF, NOTES_PER_OCTAVE

DEFAULT_LOOKBACK_DISTANCES = (DEFAULT_STEPS_PER_BAR, 2 * DEFAULT_STEPS_PER_BAR)  # one and two 4/4 bars
MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)


def _major_key_membership() -> np.ndarray:
    """12x12 matrix: entry [pitch_class, key] is 1 when the pitch class belongs to that major key."""
    membership = np.zeros((NOTES_PER_OCTAVE, NOTES_PER_OCTAVE), dtype=np.float64)
    for pitch_class in range(NOTES_PER_OCTAVE):
        for key in range(NOTES_PER_OCTAVE):
            if (pitch_class - key) % NOTES_PER_OCTAVE in MAJOR_SCALE:
                membership[pitch_class, key] = 1.0
    return membership


KEY_MEMBERSHIP = _major_key_membership()


def as_event_array(events: Any) -> np.ndarray:
    """Events (a list, a numpy array or anything with an `events` list, such as a Melody) as int64."""
    events = getattr(events, "events", events)
    try:
        array = np.asarray(events, dtype=np.int64)
    except (TypeError, ValueError) as error:
        raise MelodylibError(f"melody events must be a list of integers, got {events!r:.80}") from error
    if array.ndim != 1:
        raise MelodylibError(f"melody events must be a flat list of integers, got an array of shape {array.shape}")
    return array


def _counter_bits(positions: np.ndarray, num_bits: int) -> np.ndarray:
    """Binary counter of n = position + 1 (the next event's position): +1.0 for a set bit, -1.0 otherwise."""
    bits = ((positions[:, None] + 1) >> np.arange(num_bits)) & 1
    return (2 * bits - 1).astype(np.float32)


def _repeat_flags(events: np.ndarray, positions: np.ndarray, distance: int) -> np.ndarray:
    """1.0 where events[i] == events[i - distance] (and i - distance >= 0), else 0.0."""
    earlier = positions - distance
    valid = earlier >= 0
    flags = np.zeros(len(positions), dtype=np.float32)
    flags[valid] = events[positions[valid]] == events[earlier[valid]]
    return flags


def _validate_lookback_distances(lookback_distances: Sequence[int] | None) -> tuple[int, ...]:
    """Default [16, 32]; every distance must be a whole number of steps >= 1."""
    if lookback_distances is None:
        return DEFAULT_LOOKBACK_DISTANCES
    distances = tuple(lookback_distances)
    for distance in distances:
        if isinstance(distance, bool) or not isinstance(distance, (int, np.integer)) or distance < 1:
            raise MelodylibError(
                f"lookback distance {distance!r} is invalid: lookback distances are whole numbers of steps >= 1, "
                "e.g. [16, 32]")
    return tuple(int(distance) for distance in distances)


def _validate_counter_bits(binary_counter_bits: int) -> int:
    if isinstance(binary_counter_bits, bool) or not isinstance(binary_counter_bits, (int, np.integer)) \
            or binary_counter_bits < 0:
        raise MelodylibError(f"binary_counter_bits must be a whole number >= 0, got {binary_counter_bits!r}")
    return int(binary_counter_bits)


# ---------------------------------------------------------------------------------------------
# Per-event one-hot encodings (§2)
# ---------------------------------------------------------------------------------------------


class OneHotEncoding:
    """Maps single events to class indices 0..num_classes-1 and back; subclasses set the mapping."""

    num_classes: int
    default_event: int

    def encode_event(self, event: int) -> int:
        """Class index of one event."""
        raise NotImplementedError

    def decode_event(self, index: int) -> int:
        """Event of one class index."""
        raise NotImplementedError

    def encode_events(self, events: np.ndarray) -> np.ndarray:
        """Class indices (int64) of many events; subclasses override this with a vectorised version."""
        return np.array([self.encode_event(int(event)) for event in events], dtype=np.int64)

    def event_to_num_steps(self, event: int) -> int:
        """How many time steps an event lasts (1 for every melody event)."""
        return 1


class MelodyOneHotEncoding(OneHotEncoding):
    """§2.2: index 0 = NO_EVENT, 1 = NOTE_OFF, k >= 2 = pitch min_note + k - 2 (max_note exclusive)."""

    def __init__(self, min_note: int, max_note: int) -> None:
        if min_note < 0:
            raise MelodylibError(f"min_note must be >= 0, got {min_note}")
        if max_note > 128:
            raise MelodylibError(f"max_note must be <= 128 (it is exclusive), got {max_note}")
        if max_note <= min_note:
            raise MelodylibError(f"max_note ({max_note}) must be greater than min_note ({min_note})")
        self.min_note = int(min_note)
        self.max_note = int(max_note)
        self.num_classes = self.max_note - self.min_note + 2
        self.default_event = NO_EVENT
        # Class of every event -2..127 (indexed by event + 2); -1 marks pitches outside the range.
        self._class_of_offset = np.full(MAX_MELODY_EVENT - NO_EVENT + 1, -1, dtype=np.int64)
        self._class_of_offset[:2] = [0, 1]
        self._class_of_offset[self.min_note + 2:self.max_note + 2] = np.arange(2, self.num_classes)

    def __repr__(self) -> str:
        return f"MelodyOneHotEncoding(min_note={self.min_note}, max_note={self.max_note})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MelodyOneHotEncoding) and (self.min_note, self.max_note) == (
            other.min_note, other.max_note)

    def __hash__(self) -> int:
        return hash((self.min_note, self.max_note))

    def _range_error(self, event: int, position: int | None = None) -> MelodylibError:
        where = "" if position is None else f" at position {position}"
        return MelodylibError(
            f"melody event {event}{where} cannot be encoded: expected NO_EVENT ({NO_EVENT}), NOTE_OFF ({NOTE_OFF}) "
            f"or a pitch in {self.min_note}..{self.max_note - 1} (min_note={self.min_note}, "
            f"max_note={self.max_note} exclusive); squash the melody into the config's range first")

    def encode_event(self, event: int) -> int:
        """Class index of one event; MelodylibError if it is outside the range."""
        event = int(event)
        if event < NO_EVENT or 0 <= event < self.min_note or event >= self.max_note:
            raise self._range_error(event)
        return event + 2 if event < 0 else event - self.min_note + 2

    def decode_event(self, index: int) -> int:
        """Event of one class index."""
        index = int(index)
        if not 0 <= index < self.num_classes:
            raise MelodylibError(f"class index {index} is outside 0..{self.num_classes - 1} for {self!r}")
        return index - 2 if index < 2 else index - 2 + self.min_note

    def encode_events(self, events: np.ndarray) -> np.ndarray:
        """Class indices (int64) of a whole event array at once (one table lookup, one range check)."""
        events = as_event_array(events)
        if len(events) == 0:
            return np.zeros(0, dtype=np.int64)
        offsets = events - NO_EVENT
        if offsets.min() >= 0 and offsets.max() < len(self._class_of_offset):
            indices = self._class_of_offset[offsets]
            if indices.min() >= 0:
                return indices
        bad = (events < NO_EVENT) | ((events >= 0) & (events < self.min_note)) | (events >= self.max_note)
        position = int(np.flatnonzero(bad)[0])
        raise self._range_error(int(events[position]), position)

    def decode_events(self, indices: np.ndarray) -> np.ndarray:
        """Events (int64) of a whole class-index array at once."""
        indices = np.asarray(indices, dtype=np.int64)
        if indices.size and (indices.min() < 0 or indices.max() >= self.num_classes):
            raise MelodylibError(f"class indices must be in 0..{self.num_classes - 1} for {self!r}")
        return np.where(indices < 2, indices - 2, indices - 2 + self.min_note)


# ---------------------------------------------------------------------------------------------
# Sequence encoders (§3)
# ---------------------------------------------------------------------------------------------


class EventSequenceEncoder:
    """Common contract (§3.1): inputs for every position, labels for every position, training pairs."""

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
        """The event for a sampled class; `events` is the history, the new event goes at len(events)."""
        raise NotImplementedError

    def to_dict(self) -> dict:
        """Kind and settings, JSON-ready, so a config can be stored and rebuilt (encoder_from_dict)."""
        raise NotImplementedError

    def _settings(self) -> tuple:
        """What makes two encoders of the same class encode identically."""
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self._settings() == other._settings()

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._settings()))

    def encode(self, events: Any) -> tuple[np.ndarray, np.ndarray]:
        """Training pairs: (inputs [N-1, input_size], labels [N-1]); input i is paired with label i+1."""
        events = as_event_array(events)
        return self.inputs(events)[:-1], self.labels(events)[1:]

    def input_for_last_position(self, events: Any) -> np.ndarray:
        """The input vector (float32 [input_size]) for the last event, for step-by-step generation."""
        events = as_event_array(events)
        if len(events) == 0:
            raise MelodylibError("cannot build an input for an empty melody: give at least one primer event")
        return self.inputs(events)[-1]

    def labels_to_num_steps(self, labels: Sequence[int]) -> int:
        """Number of time steps the labels cover (one per label for every melody encoder)."""
        return len(labels)

    def class_indices_to_events(self, indices: Sequence[int], events: Any = ()) -> list[int]:
        """Decode classes one after another, each seeing the events decoded before it (after `events`)."""
        indices = [int(index) for index in indices]
        history = [int(event) for event in as_event_array(events)]
        for index in indices:
            history.append(self.class_index_to_event(int(index), history))
        return history[len(history) - len(indices):]

    def evaluate_log_likelihood(self, events: Any, softmax: np.ndarray) -> float:
        """Sum of log p(label) of the last len(softmax) events; softmax rows are aligned to the end (§3.1)."""
        events = as_event_array(events)
        softmax = np.asarray(softmax, dtype=np.float64)
        if softmax.ndim != 2 or softmax.shape[1] != self.num_classes:
            raise MelodylibError(
                f"softmax must have shape [steps, {self.num_classes}], got {softmax.shape}")
        if len(softmax) >= len(events):
            raise MelodylibError(
                f"softmax has {len(softmax)} rows but the melody has only {len(events)} events: "
                "the softmax must be shorter than the event sequence (the first event is never predicted)")
        num_rows = len(softmax)
        labels = self.labels(events)[len(events) - num_rows:]
        with np.errstate(divide="ignore"):
            return float(np.log(softmax[np.arange(num_rows), labels]).sum())

    def _check_class_index(self, index: int) -> int:
        index = int(index)
        if not 0 <= index < self.num_classes:
            raise MelodylibError(f"class index {index} is outside 0..{self.num_classes - 1} for {self!r}")
        return index


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
    """§3.2 (basic_rnn, mono_rnn): input = one-hot of the current event, label = its class."""

    kind = "onehot"

    def __init__(self, encoding: OneHotEncoding) -> None:
        self.encoding = encoding
        self.input_size = encoding.num_classes
        self.num_classes = encoding.num_classes
        self.default_event_label = encoding.encode_event(encoding.default_event)
        self._identity = np.eye(self.num_classes, dtype=np.float32)

    def __repr__(self) -> str:
        return f"OneHotEncoder({self.encoding!r})"

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
            raise MelodylibError("cannot build an input for an empty melody: give at least one primer event")
        return self.inputs(events[-1:])[0]

    def class_index_to_event(self, index: int, events: Any) -> int:
        return int(self.encoding.decode_event(self._check_class_index(index)))

    def labels_to_num_steps(self, labels: Sequence[int]) -> int:
        return int(sum(self.encoding.event_to_num_steps(self.encoding.decode_event(int(label))) for label in labels))

    def to_dict(self) -> dict:
        return {"kind": self.kind, **_encoding_range(self.encoding)}

    def _settings(self) -> tuple:
        return (self.encoding,)


class LookbackEncoder(_OnOneHotEncoding, EventSequenceEncoder):
    """§3.3 (lookback_rnn): one-hot plus the events 1 and 2 bars back, a step counter and repeat flags.

    Classes: the C one-hot classes, then one "repeat the event d_k steps back" class per lookback.
    """

    kind = "lookback"

    def __init__(self, encoding: OneHotEncoding, lookback_distances: Sequence[int] | None = None,
                 binary_counter_bits: int = 5) -> None:
        self.encoding = encoding
        self.lookback_distances = _validate_lookback_distances(lookback_distances)
        self.binary_counter_bits = _validate_counter_bits(binary_counter_bits)
        num_one_hot = encoding.num_classes
        num_lookbacks = len(self.lookback_distances)
        self.input_size = num_one_hot + num_lookbacks * num_one_hot + self.binary_counter_bits + num_lookbacks
        self.num_classes = num_one_hot + num_lookbacks
        self.default_event_label = encoding.encode_event(encoding.default_event)

    def __repr__(self) -> str:
        return (f"LookbackEncoder({self.encoding!r}, lookback_distances={list(self.lookback_distances)}, "
                f"binary_counter_bits={self.binary_counter_bits})")

    def inputs(self, events: Any) -> np.ndarray:
        events = as_event_array(events)
        return self._input_rows(events, self.encoding.encode_events(events), 0, len(events))

    def labels(self, events: Any) -> np.ndarray:
        events = as_event_array(events)
        return self._labels(events, self.encoding.encode_events(events))

    def encode(self, events: Any) -> tuple[np.ndarray, np.ndarray]:
        events = as_event_array(events)
        indices = self.encoding.encode_events(events)
        return self._input_rows(events, indices, 0, max(len(events) - 1, 0)), self._labels(events, indices)[1:]

    def input_for_last_position(self, events: Any) -> np.ndarray:
        events = as_event_array(events)
        if len(events) == 0:
            raise MelodylibError("cannot build an input for an empty melody: give at least one primer event")
        # Every block looks a fixed distance back, so only the last row needs computing.
        return self._input_rows(events, self.encoding.encode_events(events), len(events) - 1, len(events))[0]

    def _input_rows(self, events: np.ndarray, indices: np.ndarray, start: int, stop: int) -> np.ndarray:
        """Input rows for positions start..stop-1, given the events and their one-hot indices."""
        num_one_hot = self.encoding.num_classes
        positions = np.arange(start, stop)
        rows = np.arange(len(positions))
        inputs = np.zeros((len(positions), self.input_size), dtype=np.float32)
        inputs[rows, indices[positions]] = 1.0
        for block, distance in enumerate(self.lookback_distances, start=1):
            # The event one lookback before the event being predicted (position i + 1).
            source = positions - distance + 1
            looked_back = np.where(source >= 0, indices[np.maximum(source, 0)], self.default_event_label)
            inputs[rows, block * num_one_hot + looked_back] = 1.0
        offset = (1 + len(self.lookback_distances)) * num_one_hot
        inputs[:, offset:offset + self.binary_counter_bits] = _counter_bits(positions, self.binary_counter_bits)
        offset += self.binary_counter_bits
        for number, distance in enumerate(self.lookback_distances):
            inputs[:, offset + number] = _repeat_flags(events, positions, distance)
        return inputs

    def _labels(self, events: np.ndarray, indices: np.ndarray) -> np.ndarray:
        labels = indices.astype(np.int64, copy=True)
        positions = np.arange(len(events))
        num_one_hot = self.encoding.num_classes
        # Lookbacks are checked from the end of the list backwards (longest first for [16, 32]):
        # applying them in list order lets the later ones overwrite the earlier ones.
        for number, distance in enumerate(self.lookback_distances):
            labels[_repeat_flags(events, positions, distance) > 0] = num_one_hot + number
        if self.lookback_distances:
            # Magenta's rule (§3.3): before the last lookback distance every default event is labelled
            # with the last lookback class ("repeat 2 bars ago"), which decodes to the default event there.
            early_default = (positions < self.lookback_distances[-1]) & (events == self.encoding.default_event)
            labels[early_default] = self.num_classes - 1
        return labels

    def class_index_to_event(self, index: int, events: Any) -> int:
        index = self._check_class_index(index)
        num_one_hot = self.encoding.num_classes
        if index >= num_one_hot:
            return _look_back(events, self.lookback_distances[index - num_one_hot], self.encoding.default_event)
        return int(self.encoding.decode_event(index))

    def labels_to_num_steps(self, labels: Sequence[int]) -> int:
        """Decode the labels into events one after another and add up each event's steps."""
        events = self.class_indices_to_events(labels)
        return int(sum(self.encoding.event_to_num_steps(event) for event in events))

    def to_dict(self) -> dict:
        return {"kind": self.kind, **_encoding_range(self.encoding),
                "lookback_distances": list(self.lookback_distances),
                "binary_counter_bits": self.binary_counter_bits}

    def _settings(self) -> tuple:
        return (self.encoding, self.lookback_distances, self.binary_counter_bits)


class KeyEncoder(EventSequenceEncoder):
    """§3.4 (attention_rnn): sounding note, attack, direction, repeats, counters and key estimates.

    Classes: R = max_note - min_note pitches first, then NO_EVENT (R), NOTE_OFF (R + 1), then one
    lookback class per distance (a different order from the one-hot encoders).
    """

    kind = "key"

    def __init__(self, min_note: int, max_note: int, lookback_distances: Sequence[int] | None = None,
                 binary_counter_bits: int = 7) -> None:
        # The same range checks as the one-hot encoding; it also validates events quickly.
        self._range_encoding = MelodyOneHotEncoding(min_note, max_note)
        self.min_note = int(min_note)
        self.max_note = int(max_note)
        self.lookback_distances = _validate_lookback_distances(lookback_distances)
        self.binary_counter_bits = _validate_counter_bits(binary_counter_bits)
        num_pitches = self.max_note - self.min_note
        num_lookbacks = len(self.lookback_distances)
        self.num_pitches = num_pitches
        self.input_size = (num_pitches + 2 + 1 + 1 + num_lookbacks + self.binary_counter_bits + 1
                           + NOTES_PER_OCTAVE + NOTES_PER_OCTAVE)
        self.num_classes = num_pitches + 2 + num_lookbacks
        self.default_event_label = num_pitches
        # Key label of each one-hot class: NO_EVENT -> R, NOTE_OFF -> R + 1, pitches -> 0..R-1.
        self._label_of_one_hot = np.concatenate([[num_pitches, num_pitches + 1], np.arange(num_pitches)])

    def __repr__(self) -> str:
        return (f"KeyEncoder(min_note={self.min_note}, max_note={self.max_note}, "
                f"lookback_distances={list(self.lookback_distances)}, "
                f"binary_counter_bits={self.binary_counter_bits})")

    def _validated(self, events: Any) -> tuple[np.ndarray, np.ndarray]:
        """The events as an array and their one-hot indices; MelodylibError for events out of range."""
        events = as_event_array(events)
        return events, self._range_encoding.encode_events(events)

    def inputs(self, events: Any) -> np.ndarray:
        return self._inputs(self._validated(events)[0])

    def labels(self, events: Any) -> np.ndarray:
        return self._labels(*self._validated(events))

    def encode(self, events: Any) -> tuple[np.ndarray, np.ndarray]:
        events, indices = self._validated(events)
        # Row i depends only on events[0..i], so the inputs of all but the last event are those of the prefix.
        return self._inputs(events[:-1]), self._labels(events, indices)[1:]

    def _inputs(self, events: np.ndarray) -> np.ndarray:
        """All rows at once: each state of the prefix scan (§3.4) is computed for every position in O(N)."""
        num_events = len(events)
        num_pitches = self.num_pitches
        positions = np.arange(num_events)
        inputs = np.zeros((num_events, self.input_size), dtype=np.float32)
        if num_events == 0:
            return inputs

        # current_note: set by the last event that is not NO_EVENT (a pitch, or None after NOTE_OFF).
        last_change = np.maximum.accumulate(np.where(events != NO_EVENT, positions, -1))
        current_note = np.where(last_change >= 0, events[np.maximum(last_change, 0)], NOTE_OFF)
        # Magenta quirk, kept for compatibility with its encodings: "is a note sounding" is a
        # truthiness test on the pitch, so a sounding pitch 0 is encoded as silence. It only matters
        # when min_note is 0 (never for the default 48..84 range).
        sounding = current_note > 0
        inputs[positions[sounding], current_note[sounding] - self.min_note] = 1.0
        inputs[:, num_pitches] = sounding
        inputs[:, num_pitches + 1] = ~sounding

        # is_attack: note-on sets it, NO_EVENT clears it, and NOTE_OFF leaves it alone. Magenta quirk,
        # kept (the upstream test vectors depend on it): the NOTE_OFF step right after a note-on still
        # has attack = 1.
        last_non_off = np.maximum.accumulate(np.where(events != NOTE_OFF, positions, -1))
        inputs[:, num_pitches + 2] = (last_non_off >= 0) & (events[np.maximum(last_non_off, 0)] >= 0)

        note_positions = np.flatnonzero(events >= 0)
        pitches = events[note_positions]
        # Index (among the note-ons) of the latest note-on at or before each position; -1 before the first.
        latest_note = np.cumsum(events >= 0) - 1
        has_note = latest_note >= 0

        # is_ascending: compare each note-on with the previous one; equal pitches keep the old value.
        if len(pitches):
            steps = np.zeros(len(pitches), dtype=np.int64)
            steps[1:] = np.sign(pitches[1:] - pitches[:-1])
            last_move = np.maximum.accumulate(np.where(steps != 0, np.arange(len(pitches)), -1))
            direction = np.where(last_move >= 0, steps[np.maximum(last_move, 0)], 0)
            inputs[has_note, num_pitches + 3] = direction[latest_note[has_note]]

        offset = num_pitches + 4
        for number, distance in enumerate(self.lookback_distances):
            inputs[:, offset + number] = _repeat_flags(events, positions, distance)
        offset += len(self.lookback_distances)
        inputs[:, offset:offset + self.binary_counter_bits] = _counter_bits(positions, self.binary_counter_bits)
        offset += self.binary_counter_bits
        # The next event (n = i + 1) starts a bar. Magenta assumes 16-step (4/4) bars here.
        inputs[:, offset] = (positions + 1) % DEFAULT_STEPS_PER_BAR == 0
        offset += 1

        # Key flags from the pitch-class histogram of every note-on so far (cumulative counts).
        histogram = np.zeros((num_events, NOTES_PER_OCTAVE), dtype=np.float64)
        histogram[note_positions, pitches % NOTES_PER_OCTAVE] = 1.0
        inputs[:, offset:offset + NOTES_PER_OCTAVE] = _key_flags(np.cumsum(histogram, axis=0))
        offset += NOTES_PER_OCTAVE

        # Key flags from the "last 3 distinct notes" list; with no notes yet every flag is 1.
        recent_flags = np.ones((num_events, NOTES_PER_OCTAVE), dtype=np.float32)
        if len(pitches):
            recent_flags[has_note] = _last_three_notes_key_flags(pitches)[latest_note[has_note]]
        inputs[:, offset:offset + NOTES_PER_OCTAVE] = recent_flags
        return inputs

    def _labels(self, events: np.ndarray, indices: np.ndarray) -> np.ndarray:
        positions = np.arange(len(events))
        num_pitches = self.num_pitches
        labels = self._label_of_one_hot[indices]
        # Lookbacks checked from the end of the list backwards, as in LookbackEncoder._labels.
        for number, distance in enumerate(self.lookback_distances):
            labels[_repeat_flags(events, positions, distance) > 0] = num_pitches + 2 + number
        if self.lookback_distances:
            early_no_event = (positions < self.lookback_distances[-1]) & (events == NO_EVENT)
            labels[early_no_event] = self.num_classes - 1
        return labels

    def class_index_to_event(self, index: int, events: Any) -> int:
        index = self._check_class_index(index)
        num_pitches = self.num_pitches
        if index >= num_pitches + 2:
            return _look_back(events, self.lookback_distances[index - num_pitches - 2], NO_EVENT)
        if index == num_pitches + 1:
            return NOTE_OFF
        if index == num_pitches:
            return NO_EVENT
        return self.min_note + index

    def to_dict(self) -> dict:
        return {"kind": self.kind, "min_note": self.min_note, "max_note": self.max_note,
                "lookback_distances": list(self.lookback_distances),
                "binary_counter_bits": self.binary_counter_bits}

    def _settings(self) -> tuple:
        return (self.min_note, self.max_note, self.lookback_distances, self.binary_counter_bits)


def _key_flags(histograms: np.ndarray) -> np.ndarray:
    """Rows of 12 flags: 1.0 for every major key whose note count equals the row's maximum."""
    totals = histograms @ KEY_MEMBERSHIP
    return (totals == totals.max(axis=1, keepdims=True)).astype(np.float32)


def _last_three_notes_key_flags(pitches: np.ndarray) -> np.ndarray:
    """Key flags of the "last 3 distinct pitches" list after each note-on, without a Python loop.

    After merging repeated pitches into runs Q, the list after run r holds Q[r], Q[r-1] and, when the
    runs before r are not just an alternation of those two, Q[b - 2], where b is the last run index
    <= r with Q[b] != Q[b - 2] (the alternation Q[b-1..r] only contains Q[r-1] and Q[r]).
    """
    run_starts = np.ones(len(pitches), dtype=bool)
    run_starts[1:] = pitches[1:] != pitches[:-1]
    runs = pitches[run_starts]
    run_of_note = np.cumsum(run_starts) - 1
    num_runs = len(runs)
    run_numbers = np.arange(num_runs)
    histogram = np.zeros((num_runs, NOTES_PER_OCTAVE), dtype=np.float64)
    histogram[run_numbers, runs % NOTES_PER_OCTAVE] += 1.0
    histogram[run_numbers[1:], runs[:-1] % NOTES_PER_OCTAVE] += 1.0
    breaks = np.full(num_runs, -1, dtype=np.int64)
    breaks[2:] = np.where(runs[2:] != runs[:-2], run_numbers[2:], -1)
    last_break = np.maximum.accumulate(breaks)
    has_third = last_break >= 2
    histogram[run_numbers[has_third], runs[last_break[has_third] - 2] % NOTES_PER_OCTAVE] += 1.0
    return _key_flags(histogram)[run_of_note]


def _look_back(events: Any, distance: int, default_event: int) -> int:
    """The event `distance` steps before the new one (which goes at len(events)), or the default event."""
    if len(events) < distance:
        return default_event
    return int(events[len(events) - distance])


def _encoding_range(encoding: OneHotEncoding) -> dict:
    if not isinstance(encoding, MelodyOneHotEncoding):
        raise MelodylibError(
            f"only encoders over a MelodyOneHotEncoding can be stored, not over {type(encoding).__name__}")
    return {"min_note": encoding.min_note, "max_note": encoding.max_note}


ENCODER_KINDS = ("onehot", "lookback", "key")


def encoder_from_dict(settings: dict) -> EventSequenceEncoder:
    """Rebuild an encoder from `EventSequenceEncoder.to_dict()` output (as stored in a bundle)."""
    settings = dict(settings)
    kind = settings.pop("kind", None)
    try:
        if kind == "onehot":
            return OneHotEncoder(MelodyOneHotEncoding(**settings))
        if kind == "lookback":
            encoding = MelodyOneHotEncoding(settings.pop("min_note"), settings.pop("max_note"))
            return LookbackEncoder(encoding, **settings)
        if kind == "key":
            return KeyEncoder(**settings)
    except (KeyError, TypeError) as error:
        raise MelodylibError(f"stored {kind!r} encoder settings are incomplete or unknown: {error}") from error
    raise MelodylibError(f"unknown encoder kind {kind!r}: expected one of {', '.join(ENCODER_KINDS)}")
