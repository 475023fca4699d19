"""Memorisation check: the longest stretch a melody shares, up to transposition, with a tune set.

A generated melody may be new, or copied from a training tune. `MemorisationIndex` answers the
question for one melody in about a millisecond, from an index built once per data set, and
`memorisation_summary` gives the distribution over many melodies, so that generated melodies
can be set beside real eval tunes (what real tunes share with each other is the baseline).

What "the same up to transposition" means here. A melody's notes are its note-ons, each with an
onset step, a pitch and a sounding length (steps until the next NOTE_OFF or note-on, or until
the end of the events). Each pair of consecutive notes gives one token

    (interval = pitch - previous pitch, gap = onset - previous onset, previous note's length)

and a stretch of N notes is N - 1 consecutive tokens. Two stretches are the same when their
tokens are equal: the same intervals (so the first note's pitch is free: any transposition),
the same onset-to-onset gaps, and the same length of every note but the last (so rests sit in
the same places: a rest is the part of a gap after the previous note has ended). The last
note's length is not compared, because a generated melody is often cut off mid-note; it counts
for as long as it sounds in both. Rests before the first note or after the last are not part
of a stretch. A stretch has at least two notes (one interval); when not even one interval is
shared, the answer has 0 notes and no tune.

Sizes: `notes` is N; `steps` is the span from the first onset to the last onset plus the steps
the last note sounds in both melodies; `bars` = steps / steps_per_bar. The longest stretch is
the one with the most notes; ties go to the earliest start in the query, then to the first tune
(in the order given to `build`) and the earliest position in it.

How it is fast. All reference tunes' tokens are laid end to end, each tune closed by a separator
token of its own, and sorted into a suffix array (numpy prefix doubling: seconds for millions of
notes). A query asks, for each start in the query, whether its next `best + 1` tokens occur
somewhere (two binary searches over the suffix array, comparing bytes); each yes lengthens the
best stretch, each no moves the start, so a query of m notes needs at most 2m searches.
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from melodylib.atomic import atomic_path
from melodylib.errors import MelodylibError
from melodylib.music.events import (
    DEFAULT_STEPS_PER_BAR,
    MAX_MELODY_EVENT,
    MIN_MELODY_EVENT,
    NO_EVENT,
    check_events,
    event_value_problem,
)

__all__ = [
    "MelodyTokens",
    "MemorisationIndex",
    "MemorisationSummary",
    "SharedStretch",
    "melody_tokens",
    "memorisation_summary",
    "shared_stretches",
    "summarise_stretches",
]

INDEX_FORMAT_VERSION = 1
# Token layout in one int64: (interval + 127) << 48 | gap << 24 | previous note's length.
_FIELD_BITS = 24
_FIELD_MASK = (1 << _FIELD_BITS) - 1
_INTERVAL_OFFSET = MAX_MELODY_EVENT
# Interval codes are 0..254; separators start above them, so they never equal a token.
_SEPARATOR_BASE = (2 * MAX_MELODY_EVENT + 1) << (2 * _FIELD_BITS)
_TOKEN_BYTES = 8
_TOKEN_DTYPE = np.dtype(">i8")  # big-endian: byte order then compares like the numbers

TuneName = tuple[str, str]
ExcludeSpec = None | int | str | TuneName | Iterable[int | str | TuneName]


@dataclass(frozen=True)
class SharedStretch:
    """The longest stretch a query shares with one reference tune (0 notes: nothing shared).

    Steps are counted from the start of each melody's events; `tune` is (collection, id) and
    `tune_index` its position in the reference set.
    """

    notes: int
    bars: float
    steps: int
    tune: TuneName | None = None
    tune_index: int | None = None
    tune_start_step: int | None = None
    query_start_step: int | None = None


@dataclass(frozen=True)
class MelodyTokens:
    """One melody's notes and tokens (see the module docstring).

    `onsets`, `lengths` hold one entry per note; `tokens[j]` describes notes j and j + 1.
    """

    onsets: np.ndarray
    lengths: np.ndarray
    tokens: np.ndarray


def _event_array(events: Any, what: str) -> np.ndarray:
    """The events as an int64 array; MelodylibError naming the first bad event.

    Checks the whole array at once (11,000 tunes of 1,000 steps in well under a second); only
    when the values are not plain numbers does it fall back to the event-by-event check.
    """
    events = getattr(events, "events", events)
    if isinstance(events, (str, bytes)) or not isinstance(events, (Sequence, np.ndarray)):
        return np.asarray(check_events(events, what), dtype=np.int64)
    if isinstance(events, (list, tuple)) and bool in set(map(type, events)):
        return np.asarray(check_events(events, what), dtype=np.int64)  # numpy would take True as 1
    try:
        values = np.asarray(events)
    except (TypeError, ValueError):
        return np.asarray(check_events(events, what), dtype=np.int64)
    if values.ndim != 1 or values.dtype.kind not in "iuf":
        if values.size == 0:
            return np.zeros(0, dtype=np.int64)
        return np.asarray(check_events(list(events), what), dtype=np.int64)
    bad = (values < MIN_MELODY_EVENT) | (values > MAX_MELODY_EVENT)
    if values.dtype.kind == "f":
        bad |= ~np.isfinite(values) | (values != np.round(values))
    if bad.any():
        position = int(np.argmax(bad))
        raise MelodylibError(event_value_problem(values[position].item(), position, what))
    if len(values) > _FIELD_MASK:
        raise MelodylibError(f"{what} has {len(values)} steps; at most {_FIELD_MASK} are supported")
    return values.astype(np.int64)


def melody_tokens(events: Any, what: str = "melody") -> MelodyTokens:
    """The notes and tokens of one melody (an event list, array or `Melody`)."""
    values = _event_array(events, what)
    changes = np.flatnonzero(values != NO_EVENT)  # note-ons and note-offs
    change_ends = np.append(changes[1:], len(values))
    is_onset = values[changes] >= 0
    onsets = changes[is_onset]
    lengths = (change_ends - changes)[is_onset]
    pitches = values[onsets]
    tokens = (
        ((np.diff(pitches) + _INTERVAL_OFFSET) << (2 * _FIELD_BITS))
        | (np.diff(onsets) << _FIELD_BITS)
        | lengths[:-1]
    )
    return MelodyTokens(onsets, lengths, tokens.astype(np.int64))


def _suffix_array(tokens: np.ndarray) -> np.ndarray:
    """The start positions of all suffixes of `tokens`, in sorted order (prefix doubling).

    Needs every suffix to differ (here each tune ends with its own separator); round r sorts by
    the first 2**r tokens, so the rounds are about log2 of the longest repeated stretch.
    """
    count = len(tokens)
    rank = np.unique(tokens, return_inverse=True)[1].astype(np.int64).reshape(-1)
    order = np.argsort(rank)
    span = 1
    while count and int(rank.max()) < count - 1:
        following = np.zeros(count, dtype=np.int64)
        following[: count - span] = rank[span:] + 1
        key = rank * (count + 1) + following
        order = np.argsort(key)
        sorted_key = key[order]
        rank = np.empty(count, dtype=np.int64)
        rank[order] = np.concatenate(([0], np.cumsum(sorted_key[1:] != sorted_key[:-1])))
        span *= 2
    return order


def _tune_names(names: Sequence[Any] | None, count: int) -> list[TuneName]:
    """(collection, id) pairs: pairs stay, a string s becomes ("", s), None numbers the tunes."""
    if names is None:
        return [("", str(index)) for index in range(count)]
    names = list(names)
    if len(names) != count:
        raise MelodylibError(
            f"got {count} melodies but {len(names)} names; give one name per melody"
        )
    pairs = []
    for position, name in enumerate(names):
        if isinstance(name, str):
            pairs.append(("", name))
        elif (
            isinstance(name, Sequence) and len(name) == 2 and all(isinstance(p, str) for p in name)
        ):
            pairs.append((name[0], name[1]))
        else:
            raise MelodylibError(
                f"name {name!r:.60} at position {position} is not a (collection, id) pair "
                "of strings"
            )
    return pairs


class MemorisationIndex:
    """An index of reference tunes for finding what a melody shares with them.

    Build it once per data set (`build`), keep it (`save`, `load`), then ask `longest_shared`
    for any melody. Arrays, one entry per position of the concatenated token text:
    `position_tune` (which tune), `position_onset` (onset step of the token's first note in
    that tune), `position_last_length` (sounding length of the token's second note).
    """

    def __init__(
        self,
        tokens: np.ndarray,
        suffix_array: np.ndarray,
        position_tune: np.ndarray,
        position_onset: np.ndarray,
        position_last_length: np.ndarray,
        names: Sequence[TuneName],
        steps_per_bar: int = DEFAULT_STEPS_PER_BAR,
    ) -> None:
        # The tokens live once, as big-endian bytes that the binary searches compare directly.
        self._text = np.asarray(tokens).astype(_TOKEN_DTYPE).tobytes()
        self.tokens = np.frombuffer(self._text, dtype=_TOKEN_DTYPE)
        self.suffix_array = np.ascontiguousarray(suffix_array)
        self.position_tune = np.asarray(position_tune)
        self.position_onset = np.asarray(position_onset)
        self.position_last_length = np.asarray(position_last_length)
        self.names: list[TuneName] = [(str(c), str(i)) for c, i in names]
        self.steps_per_bar = int(steps_per_bar)
        # Indexing a memoryview gives Python ints, which keeps the binary searches quick.
        self._suffixes = memoryview(self.suffix_array)
        self._name_to_indices: dict[TuneName, list[int]] = {}
        for index, name in enumerate(self.names):
            self._name_to_indices.setdefault(name, []).append(index)

    @classmethod
    def build(
        cls,
        melodies: Sequence[Any],
        names: Sequence[Any] | None = None,
        steps_per_bar: int = DEFAULT_STEPS_PER_BAR,
    ) -> MemorisationIndex:
        """Index the reference tunes (event lists, arrays or `Melody` objects).

        `names` gives each tune's (collection, id); several melodies may share a name (e.g. the
        melodies extracted from one tune), and excluding that name then excludes them all.
        """
        melodies = list(melodies)
        if not melodies:
            raise MelodylibError("the reference set is empty; give at least one training melody")
        if int(steps_per_bar) <= 0:
            raise MelodylibError(f"steps_per_bar must be > 0, got {steps_per_bar}")
        tune_names = _tune_names(names, len(melodies))
        token_parts, tune_parts, onset_parts, length_parts = [], [], [], []
        for index, melody in enumerate(melodies):
            notes = melody_tokens(melody, what=f"reference melody {index}")
            size = len(notes.tokens) + 1  # its tokens and its separator
            token_parts += [notes.tokens, np.array([_SEPARATOR_BASE + index], dtype=np.int64)]
            tune_parts.append(np.full(size, index, dtype=np.int32))
            onset_parts.append(np.append(notes.onsets[:-1], -1).astype(np.int32))
            length_parts.append(np.append(notes.lengths[1:], 0).astype(np.int32))
        tokens = np.concatenate(token_parts)
        order = _suffix_array(tokens)
        order = order[tokens[order] < _SEPARATOR_BASE]  # suffixes that start at a separator
        suffix_dtype = np.int32 if len(tokens) < 2**31 else np.int64
        return cls(
            tokens,
            order.astype(suffix_dtype),
            np.concatenate(tune_parts),
            np.concatenate(onset_parts),
            np.concatenate(length_parts),
            tune_names,
            steps_per_bar,
        )

    def __len__(self) -> int:
        """The number of reference tunes."""
        return len(self.names)

    @property
    def nbytes(self) -> int:
        """Memory held by the index arrays, in bytes."""
        arrays = (
            self.tokens,
            self.suffix_array,
            self.position_tune,
            self.position_onset,
            self.position_last_length,
        )
        return sum(array.nbytes for array in arrays)

    # --- queries ------------------------------------------------------------------------------

    def excluded_tunes(self, exclude: ExcludeSpec) -> frozenset[int]:
        """The tune indices that `exclude` names: an index, a name, or a collection of them.

        Names not in the index exclude nothing (an eval tune is not among the training tunes).
        """
        if exclude is None:
            return frozenset()
        single = isinstance(exclude, (int, str, np.integer)) or (
            isinstance(exclude, tuple)
            and len(exclude) == 2
            and all(isinstance(p, str) for p in exclude)
        )
        indices: set[int] = set()
        for item in [exclude] if single else exclude:
            if isinstance(item, (int, np.integer)) and not isinstance(item, bool):
                if not 0 <= int(item) < len(self.names):
                    raise MelodylibError(
                        f"cannot exclude tune {int(item)}: the index holds tunes "
                        f"0..{len(self.names) - 1}"
                    )
                indices.add(int(item))
            elif isinstance(item, str):
                indices.update(self._name_to_indices.get(("", item), []))
            elif isinstance(item, tuple) and len(item) == 2:
                indices.update(self._name_to_indices.get((str(item[0]), str(item[1])), []))
            else:
                raise MelodylibError(
                    f"cannot exclude {item!r:.60}; give a tune index, a name or a "
                    "(collection, id) pair"
                )
        return frozenset(indices)

    def _range(self, pattern: bytes, low: int, high: int) -> tuple[int, int]:
        """The suffix-array range [first, last) of suffixes starting with `pattern`."""
        size = len(pattern)
        text = self._text

        def prefix(start: int) -> bytes:
            return text[start * _TOKEN_BYTES : start * _TOKEN_BYTES + size]

        first = bisect.bisect_left(self._suffixes, pattern, low, high, key=prefix)
        last = bisect.bisect_right(self._suffixes, pattern, first, high, key=prefix)
        return first, last

    def _allowed_position(self, first: int, last: int, excluded: frozenset[int]) -> int | None:
        """The smallest text position in the range whose tune is not excluded, or None."""
        positions = np.asarray(self.suffix_array[first:last], dtype=np.int64)
        if excluded:
            positions = positions[~np.isin(self.position_tune[positions], list(excluded))]
        return int(positions.min()) if len(positions) else None

    def _has_allowed(self, first: int, last: int, excluded: frozenset[int]) -> bool:
        """Whether the range holds a position of a tune that is not excluded.

        Excluded tunes are few, so the first few positions nearly always answer; the rest of a
        long range (a common figure) is checked at once only when they do not.
        """
        tunes = self.position_tune
        for rank in range(first, min(last, first + 8)):
            if int(tunes[self._suffixes[rank]]) not in excluded:
                return True
        return last > first + 8 and self._allowed_position(first + 8, last, excluded) is not None

    def longest_shared(self, events: Any, exclude: ExcludeSpec = None) -> SharedStretch:
        """The longest stretch `events` shares with a reference tune not in `exclude`.

        1. Tokenise the query (one token per pair of consecutive notes).
        2. For each query start, in order, while its next best + 1 tokens occur in an allowed
           tune (a suffix-array range with an allowed position), lengthen the best by one and
           remember the start and range.
        3. Turn the best into notes, steps and bars, and locate it in the tune.
        """
        excluded = self.excluded_tunes(exclude)
        # 1. Tokenise.
        query = melody_tokens(events, what="query melody")
        query_text = query.tokens.astype(_TOKEN_DTYPE).tobytes()
        token_count = len(query.tokens)
        # 2. Lengthen the best stretch.
        best, found = 0, None
        for start in range(token_count):
            low, high = 0, len(self._suffixes)
            while start + best < token_count:
                end = (start + best + 1) * _TOKEN_BYTES
                low, high = self._range(query_text[start * _TOKEN_BYTES : end], low, high)
                if low == high or (excluded and not self._has_allowed(low, high, excluded)):
                    break
                best += 1
                found = (start, low, high)
        if found is None:
            return SharedStretch(notes=0, bars=0.0, steps=0)
        # 3. Measure and locate.
        start, low, high = found
        position = self._allowed_position(low, high, excluded)
        last_token = position + best - 1
        onset_span = int(query.onsets[start + best] - query.onsets[start])
        shared_last_length = min(
            int(query.lengths[start + best]), int(self.position_last_length[last_token])
        )
        steps = onset_span + shared_last_length
        tune_index = int(self.position_tune[position])
        return SharedStretch(
            notes=best + 1,
            bars=steps / self.steps_per_bar,
            steps=steps,
            tune=self.names[tune_index],
            tune_index=tune_index,
            tune_start_step=int(self.position_onset[position]),
            query_start_step=int(query.onsets[start]),
        )

    # --- files --------------------------------------------------------------------------------

    def save(self, path: str | os.PathLike) -> None:
        """Write the index to an .npz file, atomically (a killed run leaves no half file)."""
        collections = np.array([name[0] for name in self.names], dtype=str)
        tune_ids = np.array([name[1] for name in self.names], dtype=str)
        with atomic_path(path) as temporary, open(temporary, "wb") as handle:
            np.savez(
                handle,
                format_version=np.array(INDEX_FORMAT_VERSION),
                steps_per_bar=np.array(self.steps_per_bar),
                tokens=self.tokens,
                suffix_array=self.suffix_array,
                position_tune=self.position_tune,
                position_onset=self.position_onset,
                position_last_length=self.position_last_length,
                collections=collections,
                tune_ids=tune_ids,
            )

    @classmethod
    def load(cls, path: str | os.PathLike) -> MemorisationIndex:
        """Read an index written by `save`; MelodylibError when missing or not such a file."""
        path = Path(path)
        if not path.exists():
            raise MelodylibError(
                f"{path} is missing; build the index with MemorisationIndex.build and save it"
            )
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {key: data[key] for key in data.files}
        except (OSError, ValueError) as error:
            raise MelodylibError(f"{path} is not a memorisation index (.npz): {error}") from error
        expected = {
            "format_version",
            "steps_per_bar",
            "tokens",
            "suffix_array",
            "position_tune",
            "position_onset",
            "position_last_length",
            "collections",
            "tune_ids",
        }
        if not expected <= set(arrays):
            missing = ", ".join(sorted(expected - set(arrays)))
            raise MelodylibError(f"{path} is not a memorisation index: it lacks {missing}")
        if int(arrays["format_version"]) != INDEX_FORMAT_VERSION:
            raise MelodylibError(
                f"{path} has index format {int(arrays['format_version'])}, this melodylib reads "
                f"{INDEX_FORMAT_VERSION}; build the index again"
            )
        _check_loaded_arrays(path, arrays)
        names = list(zip(arrays["collections"].tolist(), arrays["tune_ids"].tolist(), strict=True))
        return cls(
            arrays["tokens"],
            arrays["suffix_array"],
            arrays["position_tune"],
            arrays["position_onset"],
            arrays["position_last_length"],
            names,
            int(arrays["steps_per_bar"]),
        )


def _check_loaded_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """MelodylibError when the arrays of a loaded index do not fit together (a damaged file)."""
    positions = len(arrays["tokens"])
    per_position = ("position_tune", "position_onset", "position_last_length")
    sizes_fit = all(len(arrays[key]) == positions for key in per_position)
    sizes_fit &= len(arrays["collections"]) == len(arrays["tune_ids"]) > 0
    sizes_fit &= len(arrays["suffix_array"]) <= positions
    if sizes_fit and len(arrays["suffix_array"]):
        suffixes = arrays["suffix_array"]
        sizes_fit = int(suffixes.min()) >= 0 and int(suffixes.max()) < positions
    if not sizes_fit:
        raise MelodylibError(f"{path} is a damaged memorisation index; build the index again")


# --- many melodies ------------------------------------------------------------------------------


@dataclass(frozen=True)
class MemorisationSummary:
    """How much a set of melodies shares with the reference tunes.

    Bars of each melody's longest shared stretch: median, 90th percentile, max; the share of
    melodies whose longest stretch reaches 2 and 4 bars; the median in notes.
    """

    count: int
    median_bars: float
    percentile_90_bars: float
    max_bars: float
    share_at_least_2_bars: float
    share_at_least_4_bars: float
    median_notes: float

    def to_dict(self) -> dict[str, float]:
        """The fields by name, for a table row or JSON."""
        return dict(self.__dict__)

    def format(self, label: str = "") -> str:
        """One line for a report, e.g. set generated melodies beside real eval tunes."""
        return (
            f"{label}{' ' if label else ''}n={self.count} median {self.median_bars:.2f} bars, "
            f"90th pct {self.percentile_90_bars:.2f}, max {self.max_bars:.2f}; "
            f">=2 bars {self.share_at_least_2_bars:.0%}, >=4 bars {self.share_at_least_4_bars:.0%}"
        )


def shared_stretches(
    index: MemorisationIndex,
    melodies: Sequence[Any],
    exclude: Sequence[ExcludeSpec] | None = None,
) -> list[SharedStretch]:
    """The longest shared stretch of each melody; `exclude`, if given, holds one spec per melody.

    For the baseline of real tunes against their own set, pass each tune's own name (leave one
    out); for eval tunes against a training index, nothing needs excluding.
    """
    melodies = list(melodies)
    if exclude is not None and len(exclude) != len(melodies):
        raise MelodylibError(
            f"got {len(melodies)} melodies but {len(exclude)} exclude entries; give one per melody"
        )
    return [
        index.longest_shared(melody, None if exclude is None else exclude[position])
        for position, melody in enumerate(melodies)
    ]


def summarise_stretches(stretches: Sequence[SharedStretch]) -> MemorisationSummary:
    """The distribution of the stretches' lengths (see `MemorisationSummary`)."""
    if not stretches:
        raise MelodylibError("no melodies to summarise; give at least one")
    bars = np.array([stretch.bars for stretch in stretches], dtype=np.float64)
    notes = np.array([stretch.notes for stretch in stretches], dtype=np.float64)
    return MemorisationSummary(
        count=len(stretches),
        median_bars=float(np.median(bars)),
        percentile_90_bars=float(np.percentile(bars, 90)),
        max_bars=float(bars.max()),
        share_at_least_2_bars=float(np.mean(bars >= 2)),
        share_at_least_4_bars=float(np.mean(bars >= 4)),
        median_notes=float(np.median(notes)),
    )


def memorisation_summary(
    index: MemorisationIndex,
    melodies: Sequence[Any],
    exclude: Sequence[ExcludeSpec] | None = None,
) -> MemorisationSummary:
    """`summarise_stretches` of `shared_stretches`: one call for a set of melodies."""
    return summarise_stretches(shared_stretches(index, melodies, exclude))
