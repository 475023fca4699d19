"""Piano rolls: time against pitch, with bar lines, and the primer and its continuation in two
colours.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from melodylib.course.display.common import (
    BAR_LINE_COLOR,
    BLACK_KEY_PITCH_CLASSES,
    CONTINUATION_COLOR,
    PRIMER_COLOR,
    SINGLE_COLOR,
    new_figure,
    pitch_name,
)
from melodylib.course.display.music_input import Music, normalise_music
from melodylib.errors import MelodylibError


@dataclass
class _Roll:
    """What one piano roll draws, in the chosen time unit."""

    pitches: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    is_primer: np.ndarray
    length: float
    bar_length: float
    bar_offset: float
    beat_length: float
    primer_end: float | None
    num_drum_notes: int
    time_label: str


def _primer_end_seconds(
    normalised: Music, primer_steps: float | None, primer_end_time: float | None
) -> float | None:
    if primer_steps is not None and primer_end_time is not None:
        raise MelodylibError("give primer_steps or primer_end_time, not both")
    if primer_steps is not None:
        if primer_steps < 0:
            raise MelodylibError(f"primer_steps={primer_steps} must be 0 or more")
        return float(primer_steps) / normalised.steps_per_second
    if primer_end_time is not None:
        if primer_end_time < 0:
            raise MelodylibError(f"primer_end_time={primer_end_time} must be 0 or more (seconds)")
        return float(primer_end_time)
    return None


def _build_roll(
    music: Any,
    *,
    primer_steps: float | None,
    primer_end_time: float | None,
    time_unit: str,
    steps_per_bar: float | None,
    steps_per_quarter: int | None,
    qpm: float | None,
) -> _Roll:
    if time_unit not in ("steps", "seconds"):
        raise MelodylibError(f'time_unit="{time_unit}" is not known; use "steps" or "seconds"')
    normalised = normalise_music(
        music, qpm=qpm, steps_per_bar=steps_per_bar, steps_per_quarter=steps_per_quarter
    )
    if normalised.steps_per_bar <= 0:
        raise MelodylibError(f"steps_per_bar={steps_per_bar} must be positive")
    primer_seconds = _primer_end_seconds(normalised, primer_steps, primer_end_time)
    notes = [note for note in normalised.sequence.notes if not note.is_drum]
    scale = normalised.steps_per_second if time_unit == "steps" else 1.0
    starts = np.array([note.start_time for note in notes], dtype=float)
    ends = np.array([note.end_time for note in notes], dtype=float)
    # Compare in seconds with a small tolerance so a note exactly on the primer boundary counts as
    # continuation.
    is_primer = (
        starts < primer_seconds - 1e-9
        if primer_seconds is not None
        else np.zeros(len(notes), dtype=bool)
    )
    if time_unit == "steps":
        time_label = f"time (steps, {normalised.steps_per_bar:g} per bar)"
    else:
        time_label = "time (seconds)"
    return _Roll(
        pitches=np.array([note.pitch for note in notes], dtype=int),
        starts=starts * scale,
        ends=ends * scale,
        is_primer=is_primer,
        length=normalised.duration * scale,
        bar_length=normalised.steps_per_bar / normalised.steps_per_second * scale,
        bar_offset=normalised.bar_offset_steps / normalised.steps_per_second * scale,
        beat_length=normalised.steps_per_quarter / normalised.steps_per_second * scale,
        primer_end=None if primer_seconds is None else primer_seconds * scale,
        num_drum_notes=len(normalised.sequence.notes) - len(notes),
        time_label=time_label,
    )


def _pitch_limits(rolls: Sequence[_Roll], margin: int) -> tuple[int, int]:
    pitches = np.concatenate([roll.pitches for roll in rolls]) if rolls else np.array([], dtype=int)
    if pitches.size == 0:
        return 60 - margin, 72 + margin
    return max(0, int(pitches.min()) - margin), min(127, int(pitches.max()) + margin)


LABELS_PER_INCH = 7  # pitch names at the tick font size that still do not touch


def _pitch_ticks(low: int, high: int, height_inches: float = 4.0) -> list[int]:
    """Which pitch rows get a name: every row when they fit the axes' height, else C, E and G,
    else only the Cs, so that labels never overlap however small the panel."""
    span = high - low + 1
    room = max(1.0, height_inches * LABELS_PER_INCH)
    if span <= room:
        keep = set(range(12))
    elif span * 3 / 12 <= room:
        keep = {0, 4, 7}  # C, E, G
    else:
        keep = {0}  # C only
    return [pitch for pitch in range(low, high + 1) if pitch % 12 in keep]


def _bar_positions(roll: _Roll) -> list[float]:
    """Bar lines strictly inside the roll (the edges are the frame)."""
    positions = []
    position = roll.bar_offset if roll.bar_offset > 1e-9 else roll.bar_length
    while position < roll.length - 1e-9:
        positions.append(position)
        position += roll.bar_length
    return positions


def _primer_legend_handles() -> list:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    return [
        Patch(facecolor=PRIMER_COLOR, edgecolor="black", label="primer"),
        Patch(facecolor=CONTINUATION_COLOR, edgecolor="black", label="continuation"),
        Line2D([], [], color="black", linestyle="--", label="end of primer"),
    ]


def _draw_roll(
    axes,
    roll: _Roll,
    pitch_range: tuple[int, int],
    time_limit: float,
    title: str | None,
    legend: bool = True,
) -> None:
    from matplotlib.patches import Rectangle
    from matplotlib.ticker import FixedLocator, MultipleLocator

    low, high = pitch_range
    # Shade the black-key rows, as on a keyboard, so pitches are easy to follow across the roll.
    for pitch in range(low, high + 1):
        if pitch % 12 in BLACK_KEY_PITCH_CLASSES:
            axes.axhspan(pitch - 0.5, pitch + 0.5, color="#f0f0f0", zorder=0, linewidth=0)
        if pitch % 12 == 0:
            axes.axhline(pitch - 0.5, color="#cccccc", linewidth=0.6, zorder=0.5)
    for position in _bar_positions(roll):
        axes.axvline(position, color=BAR_LINE_COLOR, linewidth=0.9, zorder=1, gid="bar-line")
    has_primer = roll.primer_end is not None
    for pitch, start, end, primer in zip(
        roll.pitches, roll.starts, roll.ends, roll.is_primer, strict=False
    ):
        if has_primer:
            color, gid = (
                (PRIMER_COLOR, "note-primer")
                if primer
                else (CONTINUATION_COLOR, "note-continuation")
            )
        else:
            color, gid = SINGLE_COLOR, "note"
        axes.add_patch(
            Rectangle(
                (start, pitch - 0.4),
                max(end - start, 1e-6),
                0.8,
                facecolor=color,
                edgecolor="black",
                linewidth=0.5,
                zorder=2,
                gid=gid,
            )
        )
    if has_primer:
        axes.axvline(
            roll.primer_end,
            color="black",
            linestyle="--",
            linewidth=1.4,
            zorder=3,
            gid="primer-end",
        )
        if legend:
            axes.legend(
                handles=_primer_legend_handles(),
                loc="upper left",
                bbox_to_anchor=(1.0, 1.0),
                fontsize="small",
                frameon=False,
            )
    axes.set_xlim(0, max(time_limit, 1e-6))
    axes.set_ylim(low - 0.5, high + 0.5)
    ticks = _pitch_ticks(low, high, axes.get_position().height * axes.figure.get_figheight())
    axes.yaxis.set_major_locator(FixedLocator(ticks))
    axes.set_yticklabels([pitch_name(pitch) for pitch in ticks])
    # Time ticks on bar lines (every few bars when the piece is long), minor ticks on beats.
    num_bars = time_limit / roll.bar_length if roll.bar_length > 0 else 0
    bars_per_tick = max(1, math.ceil(num_bars / 12))
    if roll.bar_offset > 1e-9:
        axes.xaxis.set_major_locator(
            MultipleLocator(roll.bar_length * bars_per_tick, offset=roll.bar_offset)
        )
    else:
        axes.xaxis.set_major_locator(MultipleLocator(roll.bar_length * bars_per_tick))
    if roll.beat_length > 0 and time_limit / roll.beat_length <= 400:
        axes.xaxis.set_minor_locator(
            MultipleLocator(roll.beat_length, offset=roll.bar_offset % roll.beat_length)
        )
    axes.set_xlabel(roll.time_label)
    axes.set_ylabel("pitch")
    full_title = title or ""
    if roll.num_drum_notes:
        note = f"({roll.num_drum_notes} drum notes not shown)"
        full_title = f"{full_title} {note}".strip()
    if not len(roll.pitches):
        axes.text(
            0.5, 0.5, "no notes", transform=axes.transAxes, ha="center", va="center", color="grey"
        )
    if full_title:
        axes.set_title(full_title)


def _roll_figsize(
    time_limit_bars: float, pitch_span: int, nrows: int = 1, ncols: int = 1
) -> tuple[float, float]:
    width = (
        min(16.0, max(7.0, 2.0 + 1.3 * time_limit_bars))
        if ncols == 1
        else min(18.0, 1.5 + 5.5 * ncols)
    )
    if nrows == 1:
        row_height = min(6.0, max(2.6, 0.16 * pitch_span + 1.2))
    else:  # several rows: keep the whole figure on a screen or two
        row_height = min(3.6, max(2.2, 0.07 * pitch_span + 1.0))
    return width, row_height * nrows + (0.4 if nrows > 1 else 0.0)


def plot_piano_roll(
    music: Any,
    *,
    primer_steps: float | None = None,
    primer_end_time: float | None = None,
    time_unit: str = "steps",
    steps_per_bar: float | None = None,
    steps_per_quarter: int | None = None,
    qpm: float | None = None,
    title: str | None = None,
    pitch_range: tuple[int, int] | None = None,
    pitch_margin: int = 2,
    ax: Any = None,
):
    """Draw `music` as a piano roll (time against pitch) and return the matplotlib Figure.

    `music` is a NoteSequence, a Melody, a list of melody events or a MIDI file path. Notes before
    `primer_steps` (or `primer_end_time` seconds) are drawn blue as the primer, the rest orange as
    the continuation. Bar lines fall every `steps_per_bar` steps (default: the Melody's value, the
    sequence's time signature, else 16). `qpm` is the tempo of a melody (default 120); a
    NoteSequence uses its own first tempo to convert seconds to steps. Drum notes are skipped (the
    title says how many). Pitch rows cover the notes' range ± `pitch_margin` unless `pitch_range`
    (lowest, highest) is given. Pass `ax` to draw into your own axes.
    """
    roll = _build_roll(
        music,
        primer_steps=primer_steps,
        primer_end_time=primer_end_time,
        time_unit=time_unit,
        steps_per_bar=steps_per_bar,
        steps_per_quarter=steps_per_quarter,
        qpm=qpm,
    )
    limits = tuple(pitch_range) if pitch_range is not None else _pitch_limits([roll], pitch_margin)
    if ax is None:
        bars = roll.length / roll.bar_length if roll.bar_length else 4
        figure, axes = new_figure(1, 1, _roll_figsize(bars, limits[1] - limits[0] + 1))
        ax = axes[0][0]
    _draw_roll(ax, roll, limits, roll.length, title)
    if ax.figure.get_layout_engine() is None:
        ax.figure.set_layout_engine("constrained")
    return ax.figure


def _per_item(value: Any, count: int, name: str) -> list[Any]:
    if value is None or isinstance(value, (int, float, np.integer, np.floating)):
        return [value] * count
    values = list(value)
    if len(values) != count:
        raise MelodylibError(
            f"{name} has {len(values)} entries for {count} pieces of music; give one per piece or a single number"
        )
    return values


def plot_piano_rolls(
    musics: Sequence[Any],
    titles: Sequence[str] | None = None,
    *,
    ncols: int = 1,
    primer_steps: float | Sequence[float | None] | None = None,
    primer_end_time: float | Sequence[float | None] | None = None,
    time_unit: str = "steps",
    steps_per_bar: float | None = None,
    steps_per_quarter: int | None = None,
    qpm: float | None = None,
    pitch_margin: int = 2,
    suptitle: str | None = None,
):
    """Draw several pieces as piano rolls on one Figure with a shared pitch range and time axis,
    so they can be compared: stacked (`ncols=1`) or in a grid (e.g. `ncols=2` for four configs).

    `primer_steps` / `primer_end_time` is one number for all pieces or one per piece.
    """
    musics = list(musics)
    if not musics:
        raise MelodylibError("plot_piano_rolls needs at least one piece of music")
    if ncols < 1:
        raise MelodylibError(f"ncols={ncols} must be 1 or more")
    if titles is not None and len(titles) != len(musics):
        raise MelodylibError(
            f"{len(titles)} titles for {len(musics)} pieces of music; give one title per piece"
        )
    primers = _per_item(primer_steps, len(musics), "primer_steps")
    primer_times = _per_item(primer_end_time, len(musics), "primer_end_time")
    rolls = [
        _build_roll(
            music,
            primer_steps=primer,
            primer_end_time=primer_time,
            time_unit=time_unit,
            steps_per_bar=steps_per_bar,
            steps_per_quarter=steps_per_quarter,
            qpm=qpm,
        )
        for music, primer, primer_time in zip(musics, primers, primer_times, strict=False)
    ]
    limits = _pitch_limits(rolls, pitch_margin)
    time_limit = max(roll.length for roll in rolls)
    ncols = min(ncols, len(musics))
    nrows = math.ceil(len(musics) / ncols)
    bars = time_limit / rolls[0].bar_length if rolls[0].bar_length else 4
    figure, axes = new_figure(
        nrows,
        ncols,
        _roll_figsize(bars, limits[1] - limits[0] + 1, nrows, ncols),
        sharex=True,
        sharey=True,
        layout="constrained",
    )
    flat_axes = [axis for row in axes for axis in row]
    for index, (axis, roll) in enumerate(zip(flat_axes, rolls, strict=False)):
        _draw_roll(axis, roll, limits, time_limit, titles[index] if titles else None, legend=False)
        if index // ncols != nrows - 1 and index + ncols < len(rolls):
            axis.set_xlabel("")
        if index % ncols:
            axis.set_ylabel("")
    for axis in flat_axes[len(rolls) :]:
        axis.set_visible(False)
    if any(roll.primer_end is not None for roll in rolls):  # one legend for the whole figure
        figure.legend(
            handles=_primer_legend_handles(),
            loc="outside right upper",
            fontsize="small",
            frameon=False,
        )
    if suptitle:
        figure.suptitle(suptitle)
    return figure
