"""Music statistics on hand-made melodies with known values, and the set distances."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest

from melodylib.errors import MelodylibError
from melodylib.evaluation.music_statistics import (
    STATISTIC_NAMES,
    bar_repetition,
    best_major_key,
    compare_statistics,
    in_scale_rate,
    kl_divergence,
    mean_interval,
    melody_statistics,
    note_density,
    overlapping_area,
    pitch_class_entropy,
    pitch_range,
    repeated_note_rate,
    repetition_one_bar,
    repetition_two_bars,
    statistics_table,
)
from melodylib.music.events import NO_EVENT as NO
from melodylib.music.events import NOTE_OFF as OFF

# One 4/4 bar: C D E F G A B in eighth notes, then a note-off.
C_MAJOR_SCALE = [60, NO, 62, NO, 64, NO, 65, NO, 67, NO, 69, NO, 71, NO, OFF, NO]
# A one-bar arpeggio C E G E in quarter notes, repeated for four bars.
ARPEGGIO_BAR = [60, NO, NO, NO, 64, NO, NO, NO, 67, NO, NO, NO, 64, NO, OFF, NO]
FOUR_ARPEGGIO_BARS = ARPEGGIO_BAR * 4
BAR_A = [60] + [NO] * 15
BAR_B = [62] + [NO] * 15
HELD_BAR = [NO] * 16


def test_c_major_scale() -> None:
    statistics = melody_statistics(C_MAJOR_SCALE)
    assert list(statistics) == list(STATISTIC_NAMES)
    assert statistics["pitch_range"] == 71 - 60
    assert statistics["pitch_class_entropy"] == pytest.approx(
        math.log2(7)
    )  # 7 pitch classes once each
    assert statistics["in_scale_rate"] == 1.0
    assert statistics["repeated_note_rate"] == 0.0
    assert statistics["note_density"] == 7.0  # 7 note-ons in one bar
    assert statistics["mean_interval"] == pytest.approx((2 + 2 + 1 + 2 + 2 + 2) / 6)
    assert math.isnan(statistics["repetition_one_bar"])  # no bar has a bar before it
    assert math.isnan(statistics["repetition_two_bars"])


def test_repeated_one_bar_pattern() -> None:
    statistics = melody_statistics(FOUR_ARPEGGIO_BARS)
    assert statistics["repetition_one_bar"] == 1.0
    assert statistics["repetition_two_bars"] == 1.0
    assert statistics["pitch_range"] == 7
    # pitch classes C 4, E 8, G 4 times: shares 1/4, 1/2, 1/4 -> 1.5 bits
    assert statistics["pitch_class_entropy"] == pytest.approx(1.5)
    assert statistics["note_density"] == 4.0
    # intervals 4, 3, 3 inside each of the 4 bars and 4 (E -> C) across each of the 3 bar lines
    assert statistics["mean_interval"] == pytest.approx((4 * (4 + 3 + 3) + 3 * 4) / 15)
    assert statistics["repeated_note_rate"] == 0.0


def test_two_bar_pattern_repeats_at_two_bars_only() -> None:
    melody = BAR_A + BAR_B + BAR_A + BAR_B
    assert repetition_one_bar(melody) == 0.0
    assert repetition_two_bars(melody) == 1.0


def test_bar_repetition_skips_bars_without_note_on_and_partial_bars() -> None:
    # Bars A A HELD A B, then a partial bar (ignored).
    melody = BAR_A + BAR_A + HELD_BAR + BAR_A + BAR_B + [60, NO, NO]
    # lag 1: bar 1 repeats bar 0; bar 2 has no note-on (skipped); bar 3 != bar 2; bar 4 != bar 3 -> 1/3
    assert repetition_one_bar(melody) == pytest.approx(1 / 3)
    # lag 2: bar 2 skipped; bar 3 == bar 1; bar 4 != bar 2 -> 1/2
    assert repetition_two_bars(melody) == pytest.approx(1 / 2)
    # 3 bars of 4 steps with steps_per_bar=4: [60 NO NO NO] [60 NO NO NO] [62 NO NO NO]
    assert bar_repetition(
        [60, NO, NO, NO] * 2 + [62, NO, NO, NO], 1, steps_per_bar=4
    ) == pytest.approx(1 / 2)
    assert math.isnan(repetition_one_bar(BAR_A + HELD_BAR))
    with pytest.raises(MelodylibError, match="lag_bars"):
        bar_repetition(melody, 0)


def test_repeated_notes_and_intervals() -> None:
    melody = [60, NO, 60, NO, 62, NO, 62, NO, 62, OFF]
    # note-ons 60 60 62 62 62: of the 4 after the first, 3 repeat the previous pitch
    assert repeated_note_rate(melody) == pytest.approx(3 / 4)
    assert mean_interval(melody) == pytest.approx((0 + 2 + 0 + 0) / 4)
    assert math.isnan(repeated_note_rate([60, NO, OFF]))
    assert math.isnan(mean_interval([60, NO, OFF]))


def test_in_scale_rate_and_key_choice() -> None:
    # C C# D E F G: C major holds 5 of the 6; no major scale holds C, C# and D together.
    assert best_major_key([60, 61, 62, 64, 65, 67]) == 0
    assert in_scale_rate([60, NO, 61, NO, 62, NO, 64, NO, 65, NO, 67, NO]) == pytest.approx(5 / 6)
    # C D E F# G: all in G major (tonic 7), which beats C major (4 of 5).
    assert best_major_key([60, 62, 64, 66, 67]) == 7
    assert in_scale_rate([60, 62, 64, 66, 67]) == 1.0
    # Ties go to the lowest tonic: D and E are in C major (0), the lowest of the keys holding both.
    assert best_major_key([62, 64]) == 0
    # F# B C#: not in C (0) major; C# major (1) holds F# and C# only; D major (2) holds all three.
    assert best_major_key([66, 71, 61]) == 2
    assert math.isnan(in_scale_rate([NO, OFF]))


def test_melodies_without_notes() -> None:
    silent = [NO] * 16
    assert pitch_range(silent) == 0.0
    assert pitch_range([OFF, 64, NO]) == 0.0  # a single note spans no range
    assert pitch_class_entropy(silent) == 0.0
    assert pitch_class_entropy([60, 72, 48]) == 0.0  # one pitch class
    assert note_density(silent) == 0.0
    assert math.isnan(note_density([]))


def test_note_density_uses_steps_per_bar() -> None:
    # 24 steps at 12 steps per bar = 2 bars, 3 note-ons -> 1.5 per bar
    melody = [60] + [NO] * 11 + [62, NO, NO, NO, NO, NO, 64] + [NO] * 5
    assert note_density(melody, steps_per_bar=12) == pytest.approx(1.5)
    assert note_density(melody) == pytest.approx(3 * 16 / 24)
    with pytest.raises(MelodylibError, match="steps_per_bar"):
        note_density(melody, steps_per_bar=0)


@dataclass
class FakeMelody:
    events: list[int]
    steps_per_bar: int = 16


def test_statistics_table_accepts_event_lists_and_melody_objects() -> None:
    table = statistics_table(
        [C_MAJOR_SCALE, FakeMelody(FOUR_ARPEGGIO_BARS), FakeMelody([60, NO, 60, NO], 2)]
    )
    assert set(table) == set(STATISTIC_NAMES)
    assert table["note_density"] == pytest.approx(
        [7.0, 4.0, 1.0]
    )  # the last melody: 2 notes in 2 bars of 2
    assert table["repetition_one_bar"][2] == 1.0
    assert table["pitch_range"].dtype == np.float64


def test_overlapping_area_and_kl_of_identical_and_disjoint_sets() -> None:
    values = np.random.default_rng(0).normal(size=200)
    assert overlapping_area(values, values) == pytest.approx(1.0, abs=1e-6)
    assert kl_divergence(values, values) == pytest.approx(0.0, abs=1e-12)
    assert overlapping_area(values, values + 100.0) == pytest.approx(0.0, abs=1e-6)
    assert kl_divergence(values, values + 100.0) > 10.0


def test_overlap_and_kl_of_shifted_gaussians_match_theory() -> None:
    rng = np.random.default_rng(1)
    first, second = rng.normal(0.0, 1.0, size=2000), rng.normal(1.0, 1.0, size=2000)
    # N(0,1) vs N(1,1): overlap 2 * Phi(-1/2) = 0.617, KL = 1/2 (the KDEs widen both a little).
    assert overlapping_area(first, second) == pytest.approx(0.617, abs=0.05)
    assert overlapping_area(first, second) == pytest.approx(
        overlapping_area(second, first), abs=1e-9
    )
    assert kl_divergence(first, second) == pytest.approx(0.5, abs=0.1)


def test_degenerate_sets() -> None:
    assert overlapping_area([3.0] * 10, [3.0] * 10) == pytest.approx(1.0, abs=1e-6)
    assert overlapping_area([3.0] * 10, [4.0] * 10) == pytest.approx(0.0, abs=1e-6)
    assert kl_divergence([3.0] * 10, [3.0] * 10) == pytest.approx(0.0, abs=1e-12)
    spread = np.linspace(0.0, 1.0, 50)
    area = overlapping_area([0.5] * 20, spread)
    assert 0.0 < area < 0.5
    assert math.isfinite(kl_divergence([0.5] * 20, spread))
    with pytest.raises(MelodylibError, match="empty"):
        overlapping_area([], spread)
    with pytest.raises(MelodylibError, match="nan"):
        kl_divergence([0.1, float("nan")], spread)


def test_compare_statistics() -> None:
    reference = [
        C_MAJOR_SCALE + ARPEGGIO_BAR,
        FOUR_ARPEGGIO_BARS,
        BAR_A + BAR_B + BAR_A + BAR_B,
    ] * 5
    same = compare_statistics(reference, reference)
    assert set(same) == set(STATISTIC_NAMES)
    for name, row in same.items():
        assert row["generated_mean"] == pytest.approx(row["reference_mean"]), name
        assert row["overlapping_area"] == pytest.approx(1.0, abs=1e-6), name
        assert row["kl_divergence"] == pytest.approx(0.0, abs=1e-9), name
    generated = [C_MAJOR_SCALE] * 20  # one bar each: no bar repetition is defined
    different = compare_statistics(generated, reference)
    assert different["note_density"]["generated_mean"] == 7.0
    assert different["note_density"]["overlapping_area"] < 0.5
    assert math.isnan(different["repetition_one_bar"]["overlapping_area"])
    assert different["repetition_one_bar"]["generated_count"] == 0
    assert different["repetition_one_bar"]["reference_count"] == 15
    with pytest.raises(MelodylibError, match="generated"):
        compare_statistics([], reference)
    with pytest.raises(MelodylibError, match="reference"):
        compare_statistics(generated, [])
