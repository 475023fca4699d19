"""Music statistics of melodies, and distances between their distributions over two sets of melodies.

A melody here is its list of events (-2 NO_EVENT hold, -1 NOTE_OFF, 0..127 note-on) on a grid of
`steps_per_bar` steps per bar (16 for 4/4 in 16ths), bars counted from event 0. Each statistic is
defined in the first line of its docstring. Statistics that are undefined for a melody (a rate with
no note to count) are nan; `compare_statistics` leaves them out of the distributions.

The set comparison follows Yang & Lerch (2018), "On the evaluation of generative models in music":
a Gaussian kernel density estimate per set, then their overlapping area and KL divergence. Yang and
Lerch apply these to the distributions of pairwise feature distances within and across sets; here,
more simply, they are applied to the distributions of the feature values themselves.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from melodylib.errors import MelodylibError
from melodylib.music.events import DEFAULT_STEPS_PER_BAR, NOTES_PER_OCTAVE

MAJOR_SCALE_DEGREES = (0, 2, 4, 5, 7, 9, 11)  # semitones above the tonic
STATISTIC_NAMES = (
    "pitch_range",
    "pitch_class_entropy",
    "in_scale_rate",
    "repeated_note_rate",
    "note_density",
    "mean_interval",
    "repetition_one_bar",
    "repetition_two_bars",
)
KL_EPSILON = (
    1e-10  # added to every grid cell's probability so KL stays finite where a density is ~0
)
_MIN_GRID_POINTS = 1001
_MAX_GRID_POINTS = 100_001
_TAIL_BANDWIDTHS = 5.0  # the grid extends this many bandwidths beyond the data


def _pitches(events: Sequence[int] | np.ndarray) -> np.ndarray:
    """The note-on pitches of a melody, in order."""
    array = np.asarray(events, dtype=np.int64).reshape(-1)
    return array[array >= 0]


def pitch_range(events: Sequence[int] | np.ndarray) -> float:
    """Highest minus lowest note-on pitch, in semitones (0 when there is no note-on)."""
    pitches = _pitches(events)
    return float(pitches.max() - pitches.min()) if pitches.size else 0.0


def pitch_class_entropy(events: Sequence[int] | np.ndarray) -> float:
    """Shannon entropy, in bits, of the 12-bin pitch-class histogram of the note-ons (0 with none)."""
    pitches = _pitches(events)
    if pitches.size == 0:
        return 0.0
    counts = np.bincount(pitches % NOTES_PER_OCTAVE, minlength=NOTES_PER_OCTAVE)
    shares = counts[counts > 0] / pitches.size
    return float(-(shares * np.log2(shares)).sum()) + 0.0  # + 0.0 turns -0.0 into 0.0


def best_major_key(events: Sequence[int] | np.ndarray) -> int:
    """Tonic pitch class (0 = C) of the major scale containing the most note-ons; ties go to the lowest."""
    pitch_classes = _pitches(events) % NOTES_PER_OCTAVE
    histogram = np.bincount(pitch_classes, minlength=NOTES_PER_OCTAVE)
    in_scale_counts = [
        sum(histogram[(tonic + degree) % NOTES_PER_OCTAVE] for degree in MAJOR_SCALE_DEGREES)
        for tonic in range(NOTES_PER_OCTAVE)
    ]
    return int(np.argmax(in_scale_counts))  # argmax returns the first maximum: the lowest tonic


def in_scale_rate(events: Sequence[int] | np.ndarray) -> float:
    """Share of note-ons in the major scale of the best-fitting major key (best_major_key); nan with none."""
    pitches = _pitches(events)
    if pitches.size == 0:
        return float("nan")
    degrees = (pitches - best_major_key(pitches)) % NOTES_PER_OCTAVE
    return float(np.isin(degrees, MAJOR_SCALE_DEGREES).mean())


def repeated_note_rate(events: Sequence[int] | np.ndarray) -> float:
    """Share of note-ons after the first whose pitch equals the previous note-on's; nan with < 2 notes."""
    pitches = _pitches(events)
    if pitches.size < 2:
        return float("nan")
    return float((pitches[1:] == pitches[:-1]).mean())


def note_density(
    events: Sequence[int] | np.ndarray, steps_per_bar: int = DEFAULT_STEPS_PER_BAR
) -> float:
    """Note-ons per bar: number of note-ons / (number of steps / steps_per_bar); nan for no steps."""
    _check_steps_per_bar(steps_per_bar)
    num_steps = len(events)
    if num_steps == 0:
        return float("nan")
    return float(_pitches(events).size * steps_per_bar / num_steps)


def mean_interval(events: Sequence[int] | np.ndarray) -> float:
    """Mean absolute interval, in semitones, between consecutive note-ons; nan with < 2 notes."""
    pitches = _pitches(events)
    if pitches.size < 2:
        return float("nan")
    return float(np.abs(np.diff(pitches)).mean())


def bar_repetition(
    events: Sequence[int] | np.ndarray, lag_bars: int, steps_per_bar: int = DEFAULT_STEPS_PER_BAR
) -> float:
    """Share of complete bars b >= lag_bars with a note-on whose events equal bar b - lag_bars's (nan if none).

    Bars without a note-on (a held note, a rest) are left out, so long notes and silences do not count
    as repetition; bars are counted from event 0 and a trailing partial bar is ignored.
    """
    _check_steps_per_bar(steps_per_bar)
    if isinstance(lag_bars, bool) or not isinstance(lag_bars, (int, np.integer)) or lag_bars < 1:
        raise MelodylibError(f"lag_bars {lag_bars!r} is invalid: use a whole number of bars >= 1.")
    array = np.asarray(events, dtype=np.int64).reshape(-1)
    num_bars = array.size // steps_per_bar
    bars = array[: num_bars * steps_per_bar].reshape(num_bars, steps_per_bar)
    later, earlier = bars[lag_bars:], bars[: max(num_bars - lag_bars, 0)]
    counted = (later >= 0).any(axis=1)
    if not counted.any():
        return float("nan")
    return float((later == earlier).all(axis=1)[counted].mean())


def repetition_one_bar(
    events: Sequence[int] | np.ndarray, steps_per_bar: int = DEFAULT_STEPS_PER_BAR
) -> float:
    """bar_repetition with lag 1: share of note-holding bars that repeat the previous bar exactly."""
    return bar_repetition(events, 1, steps_per_bar)


def repetition_two_bars(
    events: Sequence[int] | np.ndarray, steps_per_bar: int = DEFAULT_STEPS_PER_BAR
) -> float:
    """bar_repetition with lag 2: share of note-holding bars that repeat the bar two bars back exactly."""
    return bar_repetition(events, 2, steps_per_bar)


def melody_statistics(
    events: Sequence[int] | np.ndarray, steps_per_bar: int = DEFAULT_STEPS_PER_BAR
) -> dict[str, float]:
    """All statistics of one melody, keyed by STATISTIC_NAMES (nan where undefined)."""
    return {
        "pitch_range": pitch_range(events),
        "pitch_class_entropy": pitch_class_entropy(events),
        "in_scale_rate": in_scale_rate(events),
        "repeated_note_rate": repeated_note_rate(events),
        "note_density": note_density(events, steps_per_bar),
        "mean_interval": mean_interval(events),
        "repetition_one_bar": repetition_one_bar(events, steps_per_bar),
        "repetition_two_bars": repetition_two_bars(events, steps_per_bar),
    }


def statistics_table(
    melodies: Iterable[Any], steps_per_bar: int | None = None
) -> dict[str, np.ndarray]:
    """Each statistic over a list of melodies (event lists or objects with .events), one array per name.

    steps_per_bar defaults to each melody's own `.steps_per_bar` when it has one, else 16.
    """
    rows = [
        melody_statistics(*_events_and_steps_per_bar(melody, steps_per_bar)) for melody in melodies
    ]
    return {
        name: np.array([row[name] for row in rows], dtype=np.float64) for name in STATISTIC_NAMES
    }


def _events_and_steps_per_bar(melody: Any, steps_per_bar: int | None) -> tuple[list[int], int]:
    events = getattr(melody, "events", melody)
    if steps_per_bar is None:
        steps_per_bar = getattr(melody, "steps_per_bar", DEFAULT_STEPS_PER_BAR)
        if float(steps_per_bar) != int(steps_per_bar):
            raise MelodylibError(
                f"a melody has {steps_per_bar} steps per bar, not a whole number: pass steps_per_bar explicitly."
            )
        steps_per_bar = int(steps_per_bar)
    return list(events), steps_per_bar


def _check_steps_per_bar(steps_per_bar: int) -> None:
    if (
        isinstance(steps_per_bar, bool)
        or not isinstance(steps_per_bar, (int, np.integer))
        or steps_per_bar < 1
    ):
        raise MelodylibError(
            f"steps_per_bar {steps_per_bar!r} is invalid: use a whole number >= 1 (16 for 4/4 in 16ths)."
        )


# -- distances between two sets of values ---------------------------------------------------------


def _finite_values(values: Iterable[float] | np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(
        list(values) if not isinstance(values, np.ndarray) else values, dtype=np.float64
    ).reshape(-1)
    if array.size == 0:
        raise MelodylibError(
            f"{name} is empty: a distribution needs at least one value (one melody)."
        )
    if not np.all(np.isfinite(array)):
        raise MelodylibError(
            f"{name} contains nan or infinite values: drop undefined statistics first."
        )
    return array


def _scott_bandwidth(values: np.ndarray) -> float:
    """Scott's rule in one dimension: sample standard deviation times n^(-1/5) (0 if undefined)."""
    if values.size < 2:
        return 0.0
    return float(values.std(ddof=1) * values.size ** (-1.0 / 5.0))


def _bandwidths(values_a: np.ndarray, values_b: np.ndarray) -> tuple[float, float]:
    """Scott bandwidths of both sets; a set whose values are all equal (or single) gets a tenth of the
    pooled set's bandwidth, or 1.0 when the pooled values are all equal too."""
    pooled = _scott_bandwidth(np.concatenate([values_a, values_b]))
    fallback = 0.1 * pooled if pooled > 0 else 1.0
    scale = max(float(np.abs(np.concatenate([values_a, values_b])).max()), 1.0)
    bandwidths = []
    for values in (values_a, values_b):
        bandwidth = _scott_bandwidth(values)
        bandwidths.append(bandwidth if bandwidth > 1e-9 * scale else fallback)
    return bandwidths[0], bandwidths[1]


def _kde(values: np.ndarray, bandwidth: float, grid: np.ndarray) -> np.ndarray:
    """Gaussian kernel density estimate of `values` on `grid` (chunked to bound memory)."""
    density = np.zeros(grid.size)
    normaliser = values.size * bandwidth * math.sqrt(2.0 * math.pi)
    chunk_size = max(1, 2_000_000 // grid.size)
    for start in range(0, values.size, chunk_size):
        chunk = values[start : start + chunk_size]
        density += np.exp(-0.5 * ((grid[:, None] - chunk[None, :]) / bandwidth) ** 2).sum(axis=1)
    return density / normaliser


def kernel_densities(
    values_a: Iterable[float] | np.ndarray, values_b: Iterable[float] | np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gaussian KDEs (Scott's bandwidth) of two sets on one common grid: (grid, density_a, density_b).

    The grid spans both sets plus 5 bandwidths each side, with a spacing of at most a quarter of the
    smaller bandwidth (1,001 to 100,001 points).
    """
    array_a = _finite_values(values_a, "values_a")
    array_b = _finite_values(values_b, "values_b")
    bandwidth_a, bandwidth_b = _bandwidths(array_a, array_b)
    widest = max(bandwidth_a, bandwidth_b)
    low = min(array_a.min(), array_b.min()) - _TAIL_BANDWIDTHS * widest
    high = max(array_a.max(), array_b.max()) + _TAIL_BANDWIDTHS * widest
    wanted = math.ceil((high - low) / (0.25 * min(bandwidth_a, bandwidth_b))) + 1
    grid = np.linspace(low, high, int(np.clip(wanted, _MIN_GRID_POINTS, _MAX_GRID_POINTS)))
    return grid, _kde(array_a, bandwidth_a, grid), _kde(array_b, bandwidth_b, grid)


def overlapping_area(
    values_a: Iterable[float] | np.ndarray, values_b: Iterable[float] | np.ndarray
) -> float:
    """Area under the minimum of the two sets' Gaussian KDEs: 1 for identical sets, ~0 for disjoint ones."""
    grid, density_a, density_b = kernel_densities(values_a, values_b)
    spacing = grid[1] - grid[0]  # uniform grid; the densities are ~0 at both ends
    return float(np.clip(np.minimum(density_a, density_b).sum() * spacing, 0.0, 1.0))


def kl_divergence(
    values_a: Iterable[float] | np.ndarray, values_b: Iterable[float] | np.ndarray
) -> float:
    """KL(a || b) in nats between the two sets' Gaussian KDEs, as probabilities on the common grid (+ epsilon)."""
    _, density_a, density_b = kernel_densities(values_a, values_b)
    probabilities_a = density_a / density_a.sum() + KL_EPSILON
    probabilities_b = density_b / density_b.sum() + KL_EPSILON
    probabilities_a /= probabilities_a.sum()
    probabilities_b /= probabilities_b.sum()
    return float(max(np.sum(probabilities_a * np.log(probabilities_a / probabilities_b)), 0.0))


def compare_statistics(
    generated_melodies: Iterable[Any],
    reference_melodies: Iterable[Any],
    steps_per_bar: int | None = None,
) -> dict[str, dict[str, float]]:
    """Per statistic: generated_mean, reference_mean, overlapping_area, kl_divergence (reference || generated).

    Undefined (nan) values are left out; generated_count and reference_count say how many remained, and
    a statistic with no value on one side gets nan distances. Use 100+ generated melodies per config.
    """
    generated = statistics_table(generated_melodies, steps_per_bar)
    reference = statistics_table(reference_melodies, steps_per_bar)
    if generated[STATISTIC_NAMES[0]].size == 0:
        raise MelodylibError(
            "no generated melodies to compare: generate some (100+ per config) first."
        )
    if reference[STATISTIC_NAMES[0]].size == 0:
        raise MelodylibError("no reference melodies to compare: pass the eval set's melodies.")
    comparison: dict[str, dict[str, float]] = {}
    for name in STATISTIC_NAMES:
        generated_values = generated[name][~np.isnan(generated[name])]
        reference_values = reference[name][~np.isnan(reference[name])]
        row = {
            "generated_mean": float(generated_values.mean())
            if generated_values.size
            else float("nan"),
            "reference_mean": float(reference_values.mean())
            if reference_values.size
            else float("nan"),
            "overlapping_area": float("nan"),
            "kl_divergence": float("nan"),
            "generated_count": float(generated_values.size),
            "reference_count": float(reference_values.size),
        }
        if generated_values.size and reference_values.size:
            row["overlapping_area"] = overlapping_area(generated_values, reference_values)
            row["kl_divergence"] = kl_divergence(reference_values, generated_values)
        comparison[name] = row
    return comparison
