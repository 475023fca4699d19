"""Per-event one-hot encodings (magenta-behaviour.md: "Event one-hot mapping"): one melody event <-> one class index.

`MelodyOneHotEncoding` is the class order every one-hot and lookback encoder builds on: class 0
is NO_EVENT, class 1 is NOTE_OFF, and class k >= 2 is the pitch min_note + k - 2. Whole event
arrays are encoded with one table lookup, so encoding a melody costs O(N) vector operations.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from melodylib.errors import MelodylibError
from melodylib.music.events import MAX_MELODY_EVENT, NO_EVENT, NOTE_OFF
from melodylib.music.pitch_names import pitch_name


def as_event_array(events: Any) -> np.ndarray:
    """Events (a list, a numpy array or anything with an `events` list, e.g. a Melody) as int64."""
    events = getattr(events, "events", events)
    try:
        array = np.asarray(events, dtype=np.int64)
    except (TypeError, ValueError) as error:
        raise MelodylibError(
            f"melody events must be a list of integers, got {events!r:.80}"
        ) from error
    if array.ndim != 1:
        raise MelodylibError(
            f"melody events must be a flat list of integers, got an array of shape {array.shape}"
        )
    return array


def event_name(event: int) -> str:
    """A melody event in words: "no event", "note off", a pitch name ("C4"), else the number."""
    event = int(event)
    if event == NO_EVENT:
        return "no event"
    if event == NOTE_OFF:
        return "note off"
    if 0 <= event <= MAX_MELODY_EVENT:
        return pitch_name(event)
    return str(event)


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
        """Class indices (int64) of many events; subclasses override this with a vectorised
        version.
        """
        return np.array([self.encode_event(int(event)) for event in events], dtype=np.int64)

    def event_to_num_steps(self, event: int) -> int:
        """How many time steps an event lasts (1 for every melody event)."""
        return 1

    def class_names(self) -> list[str]:
        """A short name per class, in class order: the name of the event each class decodes to."""
        return [event_name(self.decode_event(index)) for index in range(self.num_classes)]


class MelodyOneHotEncoding(OneHotEncoding):
    """magenta-behaviour.md: "Event one-hot mapping": index 0 = NO_EVENT, 1 = NOTE_OFF, k >= 2 = pitch min_note + k - 2 (max_note
    exclusive).
    """

    def __init__(self, min_note: int, max_note: int) -> None:
        if min_note < 0:
            raise MelodylibError(f"min_note must be >= 0, got {min_note}")
        if max_note > 128:
            raise MelodylibError(f"max_note must be <= 128 (it is exclusive), got {max_note}")
        if max_note <= min_note:
            raise MelodylibError(
                f"max_note ({max_note}) must be greater than min_note ({min_note})"
            )
        self.min_note = int(min_note)
        self.max_note = int(max_note)
        self.num_classes = self.max_note - self.min_note + 2
        self.default_event = NO_EVENT
        # Class of every event -2..127 (indexed by event + 2); -1 marks pitches outside the range.
        self._class_of_offset = np.full(MAX_MELODY_EVENT - NO_EVENT + 1, -1, dtype=np.int64)
        self._class_of_offset[:2] = [0, 1]
        self._class_of_offset[self.min_note + 2 : self.max_note + 2] = np.arange(
            2, self.num_classes
        )

    def __repr__(self) -> str:
        return f"MelodyOneHotEncoding(min_note={self.min_note}, max_note={self.max_note})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MelodyOneHotEncoding) and (self.min_note, self.max_note) == (
            other.min_note,
            other.max_note,
        )

    def __hash__(self) -> int:
        return hash((self.min_note, self.max_note))

    def _range_error(self, event: int, position: int | None = None) -> MelodylibError:
        where = "" if position is None else f" at position {position}"
        return MelodylibError(
            f"melody event {event}{where} cannot be encoded: expected NO_EVENT ({NO_EVENT}), NOTE_OFF ({NOTE_OFF}) "
            f"or a pitch in {self.min_note}..{self.max_note - 1} (min_note={self.min_note}, "
            f"max_note={self.max_note} exclusive); squash the melody into the config's range first"
        )

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
            raise MelodylibError(
                f"class index {index} is outside 0..{self.num_classes - 1} for {self!r}"
            )
        return index - 2 if index < 2 else index - 2 + self.min_note

    def encode_events(self, events: np.ndarray) -> np.ndarray:
        """Class indices (int64) of a whole event array at once (one table lookup, one range
        check).
        """
        events = as_event_array(events)
        if len(events) == 0:
            return np.zeros(0, dtype=np.int64)
        offsets = events - NO_EVENT
        if offsets.min() >= 0 and offsets.max() < len(self._class_of_offset):
            indices = self._class_of_offset[offsets]
            if indices.min() >= 0:
                return indices
        bad = (
            (events < NO_EVENT)
            | ((events >= 0) & (events < self.min_note))
            | (events >= self.max_note)
        )
        position = int(np.flatnonzero(bad)[0])
        raise self._range_error(int(events[position]), position)

    def decode_events(self, indices: np.ndarray) -> np.ndarray:
        """Events (int64) of a whole class-index array at once."""
        indices = np.asarray(indices, dtype=np.int64)
        if indices.size and (indices.min() < 0 or indices.max() >= self.num_classes):
            raise MelodylibError(f"class indices must be in 0..{self.num_classes - 1} for {self!r}")
        return np.where(indices < 2, indices - 2, indices - 2 + self.min_note)
