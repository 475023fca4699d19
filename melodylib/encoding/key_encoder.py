"""The key encoder of attention_rnn (magenta-behaviour.md: "Key encoding"): what is sounding, where the melody goes, and its key.

Its input holds, per step, the sounding pitch, attack and direction flags, repeat flags, a step
counter, a bar-start flag and two guesses of the major key (from every note so far, and from the
last three distinct notes). Each is a prefix scan over the melody, computed for all positions at
once with numpy in O(N).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from melodylib.encoding.events_one_hot import MelodyOneHotEncoding, as_event_array
from melodylib.encoding.feature_blocks import FeatureBlock, lay_out_blocks, lookback_name, non_empty
from melodylib.encoding.sequence_encoder import (
    EventSequenceEncoder,
    counter_bits,
    look_back,
    repeat_flags,
    validate_counter_bits,
    validate_lookback_distances,
)
from melodylib.music.events import DEFAULT_STEPS_PER_BAR, NO_EVENT, NOTE_OFF, NOTES_PER_OCTAVE
from melodylib.music.pitch_names import pitch_name

MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)


def _major_key_membership() -> np.ndarray:
    """12x12 matrix: [pitch_class, key] is 1 when the pitch class belongs to that major key."""
    membership = np.zeros((NOTES_PER_OCTAVE, NOTES_PER_OCTAVE), dtype=np.float64)
    for pitch_class in range(NOTES_PER_OCTAVE):
        for key in range(NOTES_PER_OCTAVE):
            if (pitch_class - key) % NOTES_PER_OCTAVE in MAJOR_SCALE:
                membership[pitch_class, key] = 1.0
    return membership


KEY_MEMBERSHIP = _major_key_membership()


class KeyEncoder(EventSequenceEncoder):
    """magenta-behaviour.md: "Key encoding" (attention_rnn): sounding note, attack, direction, repeats, counters and key estimates.

    Input blocks, in order (`blocks_by_name` maps each name to its columns): "note", "sounding",
    "silence", "attack", "up/down", "repeat" (one flag per lookback), "counter", "bar start",
    "key (all notes)" and "key (last 3)".
    Classes: R = max_note - min_note pitches first, then NO_EVENT (R), NOTE_OFF (R + 1), then one
    lookback class per distance (a different order from the one-hot encoders).
    """

    kind = "key"

    def __init__(
        self,
        min_note: int,
        max_note: int,
        lookback_distances: Sequence[int] | None = None,
        binary_counter_bits: int = 7,
    ) -> None:
        # The same range checks as the one-hot encoding; it also validates events quickly.
        self._range_encoding = MelodyOneHotEncoding(min_note, max_note)
        self.min_note = int(min_note)
        self.max_note = int(max_note)
        self.lookback_distances = validate_lookback_distances(lookback_distances)
        self.binary_counter_bits = validate_counter_bits(binary_counter_bits)
        num_pitches = self.max_note - self.min_note
        self.num_pitches = num_pitches
        layout = self._layout()
        self.blocks_by_name: dict[str, FeatureBlock] = {block.name: block for block in layout}
        self.input_size = layout[-1].stop
        self.num_classes = num_pitches + 2 + len(self.lookback_distances)
        self.default_event_label = num_pitches
        # Key label of each one-hot class: NO_EVENT -> R, NOTE_OFF -> R + 1, pitches -> 0..R-1.
        self._label_of_one_hot = np.concatenate(
            [[num_pitches, num_pitches + 1], np.arange(num_pitches)]
        )

    def __repr__(self) -> str:
        return (
            f"KeyEncoder(min_note={self.min_note}, max_note={self.max_note}, "
            f"lookback_distances={list(self.lookback_distances)}, "
            f"binary_counter_bits={self.binary_counter_bits})"
        )

    def _layout(self) -> list[FeatureBlock]:
        """Every input block in order, empty ones included (the single place the layout is
        decided).
        """
        return lay_out_blocks(
            [
                ("note", self.num_pitches),
                ("sounding", 1),
                ("silence", 1),
                ("attack", 1),
                ("up/down", 1),
                ("repeat", len(self.lookback_distances)),
                ("counter", self.binary_counter_bits),
                ("bar start", 1),
                ("key (all notes)", NOTES_PER_OCTAVE),
                ("key (last 3)", NOTES_PER_OCTAVE),
            ]
        )

    def feature_blocks(self, steps_per_bar: int = DEFAULT_STEPS_PER_BAR) -> list[FeatureBlock]:
        """ "note", "sounding", "silence", "attack", "up/down", "repeat", "counter", "bar start",
        keys.
        """
        return non_empty(self._layout())

    def class_names(self, steps_per_bar: int = DEFAULT_STEPS_PER_BAR) -> list[str]:
        """The pitches ("C3", ...), "no event", "note off", then "repeat 1 bar ago", ..."""
        pitches = [pitch_name(pitch) for pitch in range(self.min_note, self.max_note)]
        repeats = [
            f"repeat {lookback_name(distance, steps_per_bar)}"
            for distance in self.lookback_distances
        ]
        return pitches + ["no event", "note off"] + repeats

    def _validated(self, events: Any) -> tuple[np.ndarray, np.ndarray]:
        """The events as an array and their one-hot indices; MelodylibError for events out of
        range.
        """
        events = as_event_array(events)
        return events, self._range_encoding.encode_events(events)

    def inputs(self, events: Any) -> np.ndarray:
        return self._inputs(self._validated(events)[0])

    def labels(self, events: Any) -> np.ndarray:
        return self._labels(*self._validated(events))

    def encode(self, events: Any) -> tuple[np.ndarray, np.ndarray]:
        events, indices = self._validated(events)
        # Row i depends only on events[0..i], so the inputs of all but the last event are those of
        # the prefix.
        return self._inputs(events[:-1]), self._labels(events, indices)[1:]

    def _inputs(self, events: np.ndarray) -> np.ndarray:
        """All rows at once: each state of the prefix scan (magenta-behaviour.md: "Key encoding") is computed for every position in
        O(N).
        """
        num_events = len(events)
        blocks = self.blocks_by_name
        positions = np.arange(num_events)
        inputs = np.zeros((num_events, self.input_size), dtype=np.float32)
        if num_events == 0:
            return inputs

        # current_note: set by the last event that is not NO_EVENT (a pitch, or None after
        # NOTE_OFF).
        last_change = np.maximum.accumulate(np.where(events != NO_EVENT, positions, -1))
        current_note = np.where(last_change >= 0, events[np.maximum(last_change, 0)], NOTE_OFF)
        # Magenta quirk, kept for compatibility with its encodings: "is a note sounding" is a
        # truthiness test on the pitch, so a sounding pitch 0 is encoded as silence. It only matters
        # when min_note is 0 (never for the default 48..84 range).
        sounding = current_note > 0
        inputs[
            positions[sounding], blocks["note"].start + current_note[sounding] - self.min_note
        ] = 1.0
        inputs[:, blocks["sounding"].start] = sounding
        inputs[:, blocks["silence"].start] = ~sounding

        # is_attack: note-on sets it, NO_EVENT clears it, and NOTE_OFF leaves it alone. Magenta
        # quirk,
        # kept (the upstream test vectors depend on it): the NOTE_OFF step right after a note-on
        # still
        # has attack = 1.
        last_non_off = np.maximum.accumulate(np.where(events != NOTE_OFF, positions, -1))
        inputs[:, blocks["attack"].start] = (last_non_off >= 0) & (
            events[np.maximum(last_non_off, 0)] >= 0
        )

        note_positions = np.flatnonzero(events >= 0)
        pitches = events[note_positions]
        # Index (among the note-ons) of the latest note-on at or before each position; -1 before the
        # first.
        latest_note = np.cumsum(events >= 0) - 1
        has_note = latest_note >= 0

        # is_ascending: compare each note-on with the previous one; equal pitches keep the old
        # value.
        if len(pitches):
            steps = np.zeros(len(pitches), dtype=np.int64)
            steps[1:] = np.sign(pitches[1:] - pitches[:-1])
            last_move = np.maximum.accumulate(np.where(steps != 0, np.arange(len(pitches)), -1))
            direction = np.where(last_move >= 0, steps[np.maximum(last_move, 0)], 0)
            inputs[has_note, blocks["up/down"].start] = direction[latest_note[has_note]]

        repeat_columns = range(blocks["repeat"].start, blocks["repeat"].stop)
        for column, distance in zip(repeat_columns, self.lookback_distances, strict=True):
            inputs[:, column] = repeat_flags(events, positions, distance)
        inputs[:, blocks["counter"].columns] = counter_bits(positions, self.binary_counter_bits)
        # The next event (n = i + 1) starts a bar. Magenta assumes 16-step (4/4) bars here.
        inputs[:, blocks["bar start"].start] = (positions + 1) % DEFAULT_STEPS_PER_BAR == 0

        # Key flags from the pitch-class histogram of every note-on so far (cumulative counts).
        histogram = np.zeros((num_events, NOTES_PER_OCTAVE), dtype=np.float64)
        histogram[note_positions, pitches % NOTES_PER_OCTAVE] = 1.0
        inputs[:, blocks["key (all notes)"].columns] = key_flags(np.cumsum(histogram, axis=0))

        # Key flags from the "last 3 distinct notes" list; with no notes yet every flag is 1.
        recent_flags = np.ones((num_events, NOTES_PER_OCTAVE), dtype=np.float32)
        if len(pitches):
            recent_flags[has_note] = _last_three_notes_key_flags(pitches)[latest_note[has_note]]
        inputs[:, blocks["key (last 3)"].columns] = recent_flags
        return inputs

    def _labels(self, events: np.ndarray, indices: np.ndarray) -> np.ndarray:
        positions = np.arange(len(events))
        num_pitches = self.num_pitches
        labels = self._label_of_one_hot[indices]
        # Lookbacks checked from the end of the list backwards, as in LookbackEncoder._labels.
        for number, distance in enumerate(self.lookback_distances):
            labels[repeat_flags(events, positions, distance) > 0] = num_pitches + 2 + number
        if self.lookback_distances:
            early_no_event = (positions < self.lookback_distances[-1]) & (events == NO_EVENT)
            labels[early_no_event] = self.num_classes - 1
        return labels

    def class_index_to_event(self, index: int, events: Any) -> int:
        index = self._check_class_index(index)
        num_pitches = self.num_pitches
        if index >= num_pitches + 2:
            return look_back(events, self.lookback_distances[index - num_pitches - 2], NO_EVENT)
        if index == num_pitches + 1:
            return NOTE_OFF
        if index == num_pitches:
            return NO_EVENT
        return self.min_note + index

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "min_note": self.min_note,
            "max_note": self.max_note,
            "lookback_distances": list(self.lookback_distances),
            "binary_counter_bits": self.binary_counter_bits,
        }

    def _settings(self) -> tuple:
        return (self.min_note, self.max_note, self.lookback_distances, self.binary_counter_bits)


def key_flags(histograms: np.ndarray) -> np.ndarray:
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
    return key_flags(histogram)[run_of_note]
