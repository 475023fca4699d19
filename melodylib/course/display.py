"""Seeing and hearing music: piano rolls, pictures of encodings and model outputs, and audio.

Every plot accepts the music the course works with: a `NoteSequence`, a melody (a `Melody` or a
plain list of events: -2 no event, -1 note-off, 0..127 note-on) or the path of a MIDI file.
Plots return the `matplotlib.figure.Figure` (handy for `fig.savefig(...)`). When a plot makes
its own figure it detaches it from pyplot, so a notebook shows it exactly once, when it is the
cell's last value (use `display(fig)` elsewhere in a cell). Audio needs no system packages: a
sine-wave synthesizer (pretty_midi's) is used unless pyfluidsynth and libfluidsynth are present.
"""

from __future__ import annotations

import math
import os
import re
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from melodylib.atomic import atomic_path
from melodylib.errors import MelodylibError
from melodylib.music.events import DEFAULT_STEPS_PER_BAR, NO_EVENT, check_events
from melodylib.music.notesequence import DEFAULT_QPM, Note, NoteSequence, Tempo, note_sequence_to_pretty_midi

DEFAULT_STEPS_PER_QUARTER = 4

PITCH_CLASS_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
BLACK_KEY_PITCH_CLASSES = frozenset({1, 3, 6, 8, 10})

PRIMER_COLOR = "#3b75af"  # blue
CONTINUATION_COLOR = "#e8702a"  # orange
SINGLE_COLOR = PRIMER_COLOR
BAR_LINE_COLOR = "#555555"


def pitch_name(midi_pitch: int) -> str:
    """The scientific name of a MIDI pitch, with sharps: 60 -> "C4", 66 -> "F#4", 0 -> "C-1"."""
    if isinstance(midi_pitch, bool) or not isinstance(midi_pitch, (int, np.integer)) or not 0 <= midi_pitch <= 127:
        raise MelodylibError(f"pitch_name: {midi_pitch!r} is not a MIDI pitch; give an integer from 0 to 127")
    octave, pitch_class = divmod(int(midi_pitch), 12)
    return f"{PITCH_CLASS_NAMES[pitch_class]}{octave - 1}"


# --------------------------------------------------------------------------------------------
# Turning any kind of music into notes
# --------------------------------------------------------------------------------------------


@dataclass
class _Music:
    """Music normalised for display: notes in seconds plus the grid it came from."""

    sequence: NoteSequence
    steps_per_second: float
    steps_per_bar: float
    steps_per_quarter: int
    bar_offset_steps: float  # steps from time 0 to the first bar line (for melodies not starting on a bar)
    duration: float  # seconds, including trailing rests of a melody


def _is_event_list(music: Any) -> bool:
    if isinstance(music, np.ndarray):
        return music.ndim == 1 and np.issubdtype(music.dtype, np.integer)
    return isinstance(music, (list, tuple)) and all(
        isinstance(event, (int, np.integer)) and not isinstance(event, bool) for event in music
    )


def _is_melody(music: Any) -> bool:
    return hasattr(music, "events") and hasattr(music, "steps_per_quarter")


def event_note_spans(events: Sequence[int]) -> list[tuple[int, int, int]]:
    """The notes of a melody as (pitch, start_step, end_step): a note lasts from its note-on to the
    next note-on, the next note-off or the end of the melody."""
    spans: list[tuple[int, int, int]] = []
    sounding: tuple[int, int] | None = None  # (pitch, start_step)
    checked = check_events(events)
    for step, event in enumerate(checked):
        if event == NO_EVENT:
            continue
        if sounding is not None:
            spans.append((sounding[0], sounding[1], step))
            sounding = None
        if event >= 0:
            sounding = (event, step)
    if sounding is not None:
        spans.append((sounding[0], sounding[1], len(checked)))
    return spans


def _read_music_file(path: Path) -> NoteSequence:
    from melodylib.music.readers import read_note_sequence  # lazily: readers pulls in music21

    if not path.is_file():
        raise MelodylibError(f"{path}: no such file; give the path of a MIDI or MusicXML file")
    return read_note_sequence(path)


def _events_to_sequence(events: Sequence[int], seconds_per_step: float, qpm: float, velocity: int = 100) -> NoteSequence:
    notes = [
        Note(pitch, velocity, start * seconds_per_step, end * seconds_per_step)
        for pitch, start, end in event_note_spans(events)
    ]
    return NoteSequence(notes=notes, tempos=[Tempo(0.0, qpm)], total_time=len(events) * seconds_per_step)


def _sequence_qpm(sequence: NoteSequence, fallback_qpm: float) -> float:
    return float(sequence.tempos[0].qpm) if sequence.tempos else float(fallback_qpm)


def _steps_per_bar_from_sequence(sequence: NoteSequence, steps_per_quarter: int) -> float:
    if not sequence.time_signatures:
        return float(DEFAULT_STEPS_PER_BAR * steps_per_quarter / DEFAULT_STEPS_PER_QUARTER)
    signature = sequence.time_signatures[0]
    return signature.numerator * steps_per_quarter * 4.0 / signature.denominator


def _normalise_music(
    music: Any, *, qpm: float | None, steps_per_bar: float | None, steps_per_quarter: int | None
) -> _Music:
    """Any accepted music -> `_Music`. Melodies are laid out from their first event (start_step is
    only used to place the bar lines), so a melody cut from the middle of a piece starts at once.

    Unlike Magenta's Melody.to_sequence, which shifts the notes by start_step and ends the sequence
    at the last note-off, display keeps a melody's trailing rests: its length is len(events) steps.
    """
    fallback_qpm = DEFAULT_QPM if qpm is None else float(qpm)
    if fallback_qpm <= 0:
        raise MelodylibError(f"qpm={qpm!r} must be positive (quarter notes per minute, e.g. 120)")
    if isinstance(music, (str, os.PathLike)):
        music = _read_music_file(Path(music))
    if isinstance(music, NoteSequence):
        quarter = DEFAULT_STEPS_PER_QUARTER if steps_per_quarter is None else int(steps_per_quarter)
        sequence_qpm = _sequence_qpm(music, fallback_qpm)
        bar = _steps_per_bar_from_sequence(music, quarter) if steps_per_bar is None else float(steps_per_bar)
        end_of_notes = max((note.end_time for note in music.notes), default=0.0)
        return _Music(
            sequence=music,
            steps_per_second=sequence_qpm / 60.0 * quarter,
            steps_per_bar=bar,
            steps_per_quarter=quarter,
            bar_offset_steps=0.0,
            duration=max(float(music.total_time), end_of_notes),
        )
    if _is_melody(music) or _is_event_list(music):
        events = list(music.events) if _is_melody(music) else list(music)
        quarter = int(steps_per_quarter or getattr(music, "steps_per_quarter", DEFAULT_STEPS_PER_QUARTER))
        bar = float(steps_per_bar or getattr(music, "steps_per_bar", DEFAULT_STEPS_PER_BAR))
        start_step = int(getattr(music, "start_step", 0) or 0)
        steps_per_second = fallback_qpm / 60.0 * quarter
        sequence = _events_to_sequence(events, 1.0 / steps_per_second, fallback_qpm)
        return _Music(
            sequence=sequence,
            steps_per_second=steps_per_second,
            steps_per_bar=bar,
            steps_per_quarter=quarter,
            bar_offset_steps=(-start_step) % bar,
            duration=len(events) / steps_per_second,
        )
    raise MelodylibError(
        f"cannot display a {type(music).__name__}; give a NoteSequence, a Melody, a list of melody "
        "events (-2, -1, 0..127) or the path of a MIDI file"
    )


# --------------------------------------------------------------------------------------------
# Piano rolls
# --------------------------------------------------------------------------------------------


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
    normalised: _Music, primer_steps: float | None, primer_end_time: float | None
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
    normalised = _normalise_music(music, qpm=qpm, steps_per_bar=steps_per_bar, steps_per_quarter=steps_per_quarter)
    if normalised.steps_per_bar <= 0:
        raise MelodylibError(f"steps_per_bar={steps_per_bar} must be positive")
    primer_seconds = _primer_end_seconds(normalised, primer_steps, primer_end_time)
    notes = [note for note in normalised.sequence.notes if not note.is_drum]
    scale = normalised.steps_per_second if time_unit == "steps" else 1.0
    starts = np.array([note.start_time for note in notes], dtype=float)
    ends = np.array([note.end_time for note in notes], dtype=float)
    # Compare in seconds with a small tolerance so a note exactly on the primer boundary counts as continuation.
    is_primer = (
        starts < primer_seconds - 1e-9 if primer_seconds is not None else np.zeros(len(notes), dtype=bool)
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


def _pitch_ticks(low: int, high: int) -> list[int]:
    """Which pitch rows get a name: all of them in a narrow range, fewer as the range grows."""
    span = high - low + 1
    if span <= 26:
        keep = set(range(12))
    elif span <= 50:
        keep = {0, 4, 7}  # C, E, G
    else:
        keep = {0}  # C only
    return [pitch for pitch in range(low, high + 1) if pitch % 12 in keep]


def _new_figure(nrows: int, ncols: int, figsize: tuple[float, float], **options: Any):
    """A figure detached from pyplot, so notebooks show it once (as the cell's value), never twice."""
    import matplotlib.pyplot as pyplot

    figure, axes = pyplot.subplots(nrows, ncols, figsize=figsize, squeeze=False, **options)
    pyplot.close(figure)
    return figure, axes


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
    axes, roll: _Roll, pitch_range: tuple[int, int], time_limit: float, title: str | None, legend: bool = True
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
    for pitch, start, end, primer in zip(roll.pitches, roll.starts, roll.ends, roll.is_primer):
        if has_primer:
            color, gid = (PRIMER_COLOR, "note-primer") if primer else (CONTINUATION_COLOR, "note-continuation")
        else:
            color, gid = SINGLE_COLOR, "note"
        axes.add_patch(
            Rectangle(
                (start, pitch - 0.4), max(end - start, 1e-6), 0.8,
                facecolor=color, edgecolor="black", linewidth=0.5, zorder=2, gid=gid,
            )
        )
    if has_primer:
        axes.axvline(roll.primer_end, color="black", linestyle="--", linewidth=1.4, zorder=3, gid="primer-end")
        if legend:
            axes.legend(
                handles=_primer_legend_handles(), loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small", frameon=False
            )
    axes.set_xlim(0, max(time_limit, 1e-6))
    axes.set_ylim(low - 0.5, high + 0.5)
    ticks = _pitch_ticks(low, high)
    axes.yaxis.set_major_locator(FixedLocator(ticks))
    axes.set_yticklabels([pitch_name(pitch) for pitch in ticks])
    # Time ticks on bar lines (every few bars when the piece is long), minor ticks on beats.
    num_bars = time_limit / roll.bar_length if roll.bar_length > 0 else 0
    bars_per_tick = max(1, math.ceil(num_bars / 12))
    if roll.bar_offset > 1e-9:
        axes.xaxis.set_major_locator(MultipleLocator(roll.bar_length * bars_per_tick, offset=roll.bar_offset))
    else:
        axes.xaxis.set_major_locator(MultipleLocator(roll.bar_length * bars_per_tick))
    if roll.beat_length > 0 and time_limit / roll.beat_length <= 400:
        axes.xaxis.set_minor_locator(MultipleLocator(roll.beat_length, offset=roll.bar_offset % roll.beat_length))
    axes.set_xlabel(roll.time_label)
    axes.set_ylabel("pitch")
    full_title = title or ""
    if roll.num_drum_notes:
        note = f"({roll.num_drum_notes} drum notes not shown)"
        full_title = f"{full_title} {note}".strip()
    if not len(roll.pitches):
        axes.text(0.5, 0.5, "no notes", transform=axes.transAxes, ha="center", va="center", color="grey")
    if full_title:
        axes.set_title(full_title)


def _roll_figsize(time_limit_bars: float, pitch_span: int, nrows: int = 1, ncols: int = 1) -> tuple[float, float]:
    width = min(16.0, max(7.0, 2.0 + 1.3 * time_limit_bars)) if ncols == 1 else min(18.0, 1.5 + 5.5 * ncols)
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
        music, primer_steps=primer_steps, primer_end_time=primer_end_time, time_unit=time_unit,
        steps_per_bar=steps_per_bar, steps_per_quarter=steps_per_quarter, qpm=qpm,
    )
    limits = tuple(pitch_range) if pitch_range is not None else _pitch_limits([roll], pitch_margin)
    if ax is None:
        bars = roll.length / roll.bar_length if roll.bar_length else 4
        figure, axes = _new_figure(1, 1, _roll_figsize(bars, limits[1] - limits[0] + 1))
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
        raise MelodylibError(f"{name} has {len(values)} entries for {count} pieces of music; give one per piece or a single number")
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
        raise MelodylibError(f"{len(titles)} titles for {len(musics)} pieces of music; give one title per piece")
    primers = _per_item(primer_steps, len(musics), "primer_steps")
    primer_times = _per_item(primer_end_time, len(musics), "primer_end_time")
    rolls = [
        _build_roll(
            music, primer_steps=primer, primer_end_time=primer_time, time_unit=time_unit,
            steps_per_bar=steps_per_bar, steps_per_quarter=steps_per_quarter, qpm=qpm,
        )
        for music, primer, primer_time in zip(musics, primers, primer_times)
    ]
    limits = _pitch_limits(rolls, pitch_margin)
    time_limit = max(roll.length for roll in rolls)
    ncols = min(ncols, len(musics))
    nrows = math.ceil(len(musics) / ncols)
    bars = time_limit / rolls[0].bar_length if rolls[0].bar_length else 4
    figure, axes = _new_figure(
        nrows, ncols, _roll_figsize(bars, limits[1] - limits[0] + 1, nrows, ncols),
        sharex=True, sharey=True, layout="constrained",
    )
    flat_axes = [axis for row in axes for axis in row]
    for index, (axis, roll) in enumerate(zip(flat_axes, rolls)):
        _draw_roll(axis, roll, limits, time_limit, titles[index] if titles else None, legend=False)
        if index // ncols != nrows - 1 and index + ncols < len(rolls):
            axis.set_xlabel("")
        if index % ncols:
            axis.set_ylabel("")
    for axis in flat_axes[len(rolls):]:
        axis.set_visible(False)
    if any(roll.primer_end is not None for roll in rolls):  # one legend for the whole figure
        figure.legend(handles=_primer_legend_handles(), loc="outside right upper", fontsize="small", frameon=False)
    if suptitle:
        figure.suptitle(suptitle)
    return figure


# --------------------------------------------------------------------------------------------
# Audio
# --------------------------------------------------------------------------------------------

_fluidsynth_status: bool | None = None  # None: not checked yet in this process
_fallback_reported = False


def _fluidsynth_importable() -> bool:
    try:
        import fluidsynth  # noqa: F401  (pyfluidsynth; fails when libfluidsynth is missing too)
    except Exception:  # ImportError, or OSError from a missing shared library
        return False
    return hasattr(fluidsynth, "Synth")


def synthesizer_name() -> str:
    """Which synthesizer audio uses in this process: "fluidsynth" (pyfluidsynth with pretty_midi's
    bundled SoundFont) or "sine" (pretty_midi's sine waves, needs nothing installed)."""
    global _fluidsynth_status
    if _fluidsynth_status is None:
        _fluidsynth_status = _fluidsynth_importable()
    return "fluidsynth" if _fluidsynth_status else "sine"


def _report_fallback(reason: str) -> None:
    """Say once per process that audio falls back to sine waves, and why."""
    global _fallback_reported
    if not _fallback_reported:
        _fallback_reported = True
        print(f"melodylib: {reason}; playing with simple sine waves (pip install pyfluidsynth and install libfluidsynth for instrument sounds).")


def _clipped_sequence(sequence: NoteSequence, max_seconds: float) -> NoteSequence:
    notes = [
        Note(n.pitch, n.velocity, n.start_time, min(n.end_time, max_seconds), n.instrument, n.program, n.is_drum)
        for n in sequence.notes
        if n.start_time < max_seconds
    ]
    return sequence.replace(notes=notes, total_time=min(sequence.total_time, max_seconds))


def _render(sequence: NoteSequence, sample_rate: int) -> np.ndarray:
    midi = note_sequence_to_pretty_midi(sequence)
    if not any(instrument.notes for instrument in midi.instruments):
        return np.zeros(0)
    if synthesizer_name() == "fluidsynth":
        try:
            return np.asarray(midi.fluidsynth(fs=sample_rate), dtype=np.float64)
        except Exception as error:  # a broken libfluidsynth: fall back for the rest of the process
            global _fluidsynth_status
            _fluidsynth_status = False
            _report_fallback(f"fluidsynth failed ({type(error).__name__}: {error})")
    else:
        _report_fallback("pyfluidsynth or libfluidsynth is not installed")
    # normalize=False: pretty_midi's own normalisation divides by zero when only drums sound.
    return np.asarray(midi.synthesize(fs=sample_rate, normalize=False), dtype=np.float64)


def synthesize(music: Any, sample_rate: int = 16000, qpm: float = DEFAULT_QPM, max_seconds: float | None = None) -> np.ndarray:
    """Render `music` to mono float32 audio in [-1, 1] (peak 0.9), exactly its duration long.

    The duration is the melody's length (trailing rests included) or the NoteSequence's total
    time. Uses fluidsynth when available, else pretty_midi's sine synthesizer; drums are silent
    with the sine synthesizer. `qpm` is the tempo of a melody (NoteSequences carry their own timing).
    """
    if sample_rate <= 0:
        raise MelodylibError(f"sample_rate={sample_rate} must be a positive number of samples per second, e.g. 16000")
    normalised = _normalise_music(music, qpm=qpm, steps_per_bar=None, steps_per_quarter=None)
    sequence, duration = normalised.sequence, normalised.duration
    if max_seconds is not None and duration > max_seconds:
        sequence, duration = _clipped_sequence(sequence, max_seconds), float(max_seconds)
    num_samples = int(round(duration * sample_rate))
    rendered = _render(sequence, int(sample_rate))
    samples = np.zeros(num_samples, dtype=np.float64)
    count = min(num_samples, rendered.shape[0])
    samples[:count] = rendered[:count]
    fade = min(count, int(0.02 * sample_rate))  # avoid a click where a release tail is cut off
    if fade:
        samples[count - fade:count] *= np.linspace(1.0, 0.0, fade)
    peak = float(np.max(np.abs(samples))) if num_samples else 0.0
    if peak > 0:
        samples *= 0.9 / peak
    return samples.astype(np.float32)


def play(music: Any, sample_rate: int = 16000, qpm: float = DEFAULT_QPM, max_seconds: float | None = 30.0):
    """An `IPython.display.Audio` player for `music` (its first `max_seconds`); a low sample rate keeps notebooks small."""
    try:
        from IPython.display import Audio
    except ImportError as error:
        raise MelodylibError("play() needs IPython (pip install ipykernel); use write_wav() outside notebooks") from error
    samples = synthesize(music, sample_rate=sample_rate, qpm=qpm, max_seconds=max_seconds)
    if samples.size == 0:
        raise MelodylibError("nothing to play: the music is empty (no events and no duration)")
    return Audio(data=samples, rate=sample_rate, normalize=False)


def write_wav(music: Any, path: str | os.PathLike, sample_rate: int = 16000, qpm: float = DEFAULT_QPM) -> Path:
    """Write `music` as a mono 16-bit PCM WAV file, atomically; returns the path."""
    samples = synthesize(music, sample_rate=sample_rate, qpm=qpm)
    pcm = np.clip(np.round(samples.astype(np.float64) * 32767.0), -32768, 32767).astype("<i2")
    final = Path(path)
    with atomic_path(final) as temporary:
        with wave.open(str(temporary), "wb") as writer:
            writer.setnchannels(1)
            writer.setsampwidth(2)
            writer.setframerate(int(sample_rate))
            writer.writeframes(pcm.tobytes())
    return final


# --------------------------------------------------------------------------------------------
# Encoders: feature blocks and class names
# --------------------------------------------------------------------------------------------

FeatureBlock = tuple[str, int, int]  # (name, start, stop): input features start..stop-1


@dataclass
class _EncoderLayout:
    kind: str  # "one_hot", "lookback", "key" or "unknown"
    min_note: int | None
    num_one_hot: int  # one-hot classes (C) or key-encoder pitches (R)
    lookback_distances: list[int]
    counter_bits: int


def _find_attribute(encoder: Any, names: Sequence[str]) -> Any:
    """Look for an attribute on the encoder or on the one-hot encoding it wraps."""
    holders = [encoder]
    for nested in ("one_hot_encoding", "_one_hot_encoding", "encoding", "_encoding", "melody_encoding"):
        if getattr(encoder, nested, None) is not None:
            holders.append(getattr(encoder, nested))
    for holder in holders:
        for name in names:
            value = getattr(holder, name, None)
            if value is not None and not callable(value):
                return value
    return None


def _guess_min_note(num_pitch_rows: int) -> int | None:
    # The course's ranges: 48..84 (36 pitches) for basic/lookback/attention, 0..128 for mono.
    return {36: 48, 128: 0}.get(num_pitch_rows)


def _encoder_kind(encoder: Any) -> str:
    """ "onehot", "lookback", "key" or "": the encoder's `kind` if it has one, else from its class name."""
    kind = getattr(encoder, "kind", "")
    name = (kind if isinstance(kind, str) and kind else type(encoder).__name__).lower().replace("_", "")
    for known in ("lookback", "key", "onehot"):
        if known in name:
            return known
    return ""


def _encoder_layout(encoder: Any) -> _EncoderLayout:
    kind = _encoder_kind(encoder)
    input_size = int(encoder.input_size)
    num_classes = int(encoder.num_classes)
    distances = _find_attribute(encoder, ("lookback_distances", "_lookback_distances"))
    distances = [16, 32] if distances is None else [int(distance) for distance in distances]
    min_note = _find_attribute(encoder, ("min_note", "_min_note"))
    if kind == "lookback":
        one_hot = num_classes - len(distances)
        bits = input_size - one_hot * (len(distances) + 1) - len(distances)  # = encoder.binary_counter_bits
        min_note = int(min_note) if min_note is not None else _guess_min_note(one_hot - 2)
        return _EncoderLayout("lookback", min_note, one_hot, distances, bits)
    if kind == "key":
        pitches = num_classes - 2 - len(distances)
        bits = input_size - (pitches + 2 + 1 + 1 + len(distances) + 1 + 24)
        min_note = int(min_note) if min_note is not None else _guess_min_note(pitches)
        return _EncoderLayout("key", min_note, pitches, distances, bits)
    if kind == "onehot" or input_size == num_classes:
        min_note = int(min_note) if min_note is not None else _guess_min_note(num_classes - 2)
        return _EncoderLayout("one_hot", min_note, num_classes, [], 0)
    return _EncoderLayout("unknown", None, 0, [], 0)


def _lookback_name(distance: int, steps_per_bar: int) -> str:
    if steps_per_bar and distance % steps_per_bar == 0:
        bars = distance // steps_per_bar
        return f"{bars} bar{'s' if bars != 1 else ''} ago"
    return f"{distance} steps ago"


def _pitch_label(min_note: int | None, offset: int) -> str:
    if min_note is None:
        return f"pitch {offset}"
    pitch = min_note + offset
    return pitch_name(pitch) if 0 <= pitch <= 127 else f"pitch {pitch}"


def default_feature_blocks(encoder: Any, steps_per_bar: int = DEFAULT_STEPS_PER_BAR) -> list[FeatureBlock]:
    """The named blocks of an encoder's input vector, derived from its class name and sizes:
    one-hot -> one row per class (no event, note off, pitch names); lookback -> current, N bars ago,
    counter, repeat; key -> note, sounding, silence, attack, up/down, repeat, counter, bar start, keys."""
    layout = _encoder_layout(encoder)
    input_size = int(encoder.input_size)
    if layout.kind == "one_hot":
        return [("no event", 0, 1), ("note off", 1, 2)] + [
            (_pitch_label(layout.min_note, index - 2), index, index + 1) for index in range(2, layout.num_one_hot)
        ]
    if layout.kind == "lookback":
        size = layout.num_one_hot
        blocks = [("current", 0, size)]
        for index, distance in enumerate(layout.lookback_distances):
            blocks.append((_lookback_name(distance, steps_per_bar), size * (index + 1), size * (index + 2)))
        counter_start = size * (len(layout.lookback_distances) + 1)
        blocks.append(("counter", counter_start, counter_start + layout.counter_bits))
        if layout.lookback_distances:
            blocks.append(("repeat", counter_start + layout.counter_bits, input_size))
        return [block for block in blocks if block[2] > block[1]]
    if layout.kind == "key":
        pitches, lookbacks = layout.num_one_hot, len(layout.lookback_distances)
        sizes = [
            ("note", pitches), ("sounding", 1), ("silence", 1), ("attack", 1), ("up/down", 1),
            ("repeat", lookbacks), ("counter", layout.counter_bits), ("bar start", 1),
            ("key (all notes)", 12), ("key (last 3)", 12),
        ]
        blocks, start = [], 0
        for block_name, size in sizes:
            if size > 0:
                blocks.append((block_name, start, start + size))
            start += size
        return blocks
    return [("inputs", 0, input_size)]


def class_names(encoder: Any, steps_per_bar: int = DEFAULT_STEPS_PER_BAR) -> list[str]:
    """A short name for each output class of `encoder` (e.g. "no event", "note off", "C4", "repeat 1 bar ago")."""
    layout = _encoder_layout(encoder)
    repeats = [f"repeat {_lookback_name(distance, steps_per_bar)}" for distance in layout.lookback_distances]
    if layout.kind in ("one_hot", "lookback"):
        names = ["no event", "note off"] + [_pitch_label(layout.min_note, index) for index in range(layout.num_one_hot - 2)]
        return names + (repeats if layout.kind == "lookback" else [])
    if layout.kind == "key":
        return [_pitch_label(layout.min_note, index) for index in range(layout.num_one_hot)] + ["no event", "note off"] + repeats
    return [str(index) for index in range(int(encoder.num_classes))]


def _class_kinds(names: Sequence[str]) -> list[str]:
    kinds = []
    for name in names:
        if name in ("no event", "note off"):
            kinds.append(name)
        elif name.startswith("repeat"):
            kinds.append("repeat")
        elif re.fullmatch(r"[A-G]#?-?\d+|pitch -?\d+", name):
            kinds.append("note-on")
        else:
            kinds.append("other")
    return kinds


def _thinned_labels(names: Sequence[str], max_labels: int = 40) -> list[str]:
    """Keep every label when there are few; otherwise keep special ones and octave Cs only."""
    if len(names) <= max_labels:
        return list(names)
    return [name if not re.fullmatch(r"[A-G]#?-?\d+", name) or re.fullmatch(r"C-?\d+", name) else "" for name in names]


def _without_collisions(labels: Sequence[str], centers_in_points: Sequence[float], font_sizes: Sequence[float]) -> list[str]:
    """Blank out labels that would overlap a more important one (specials before octave Cs before other pitches)."""

    def priority(index: int) -> int:
        name = labels[index]
        if re.fullmatch(r"C-?\d+", name):
            return 1
        return 2 if re.fullmatch(r"[A-G]#?-?\d+", name) else 0

    kept: list[int] = []
    for index in sorted((index for index, name in enumerate(labels) if name), key=lambda index: (priority(index), index)):
        if all(
            abs(centers_in_points[index] - centers_in_points[other]) >= 0.45 * (font_sizes[index] + font_sizes[other])
            for other in kept
        ):
            kept.append(index)
    return [name if index in kept else "" for index, name in enumerate(labels)]


def _hide_blank_ticks(axis) -> None:
    for tick in axis.get_major_ticks():
        if not tick.label1.get_text():
            tick.tick1line.set_visible(False)


# --------------------------------------------------------------------------------------------
# Pictures of encodings and model outputs
# --------------------------------------------------------------------------------------------


def _check_blocks(blocks: Sequence[FeatureBlock], input_size: int) -> list[FeatureBlock]:
    checked = []
    for block in blocks:
        try:
            name, start, stop = block
            start, stop = int(start), int(stop)
        except (TypeError, ValueError) as error:
            raise MelodylibError(f"feature block {block!r} must be (name, start, stop)") from error
        if not 0 <= start < stop <= input_size:
            raise MelodylibError(
                f"feature block {block!r} does not fit the encoder's {input_size} input features; need 0 <= start < stop <= {input_size}"
            )
        checked.append((str(name), start, stop))
    return checked


KIND_COLORS = {"no event": "#d9d9d9", "note off": "#555555", "note-on": "#f2a65a", "repeat": "#9b7fd1", "other": "#8fc0a9"}


def plot_encoding(
    encoder: Any,
    events: Any,
    *,
    feature_blocks: Sequence[FeatureBlock] | None = None,
    steps_per_bar: int = DEFAULT_STEPS_PER_BAR,
    title: str | None = None,
):
    """Picture what the network sees: the encoder's input matrix (features × positions; -1 blue,
    0 white, +1 red) with its feature blocks named, and under it the label at each position (the
    class of the next event), coloured by kind. Returns the Figure.

    `feature_blocks` is a list of (name, start, stop) for the input rows; by default it is derived
    from the encoder (see `default_feature_blocks`).
    """
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    event_list = list(events.events) if _is_melody(events) else list(events)
    if len(event_list) < 2:
        raise MelodylibError("plot_encoding needs a melody of at least 2 events (an input and the next event)")
    inputs, labels = encoder.encode(event_list)
    inputs = np.asarray(inputs, dtype=float)
    labels = np.asarray(labels, dtype=int)
    input_size = int(encoder.input_size)
    blocks = _check_blocks(feature_blocks if feature_blocks is not None else default_feature_blocks(encoder, steps_per_bar), input_size)
    names = class_names(encoder, steps_per_bar)
    kinds = _class_kinds(names)
    num_positions = inputs.shape[0]

    has_single_rows = any(stop - start == 1 for _, start, stop in blocks)
    rows_height = min(11.0, max(3.0, (0.13 if has_single_rows else 0.07) * input_size + 1.5))
    width = min(18.0, max(8.0, 0.16 * num_positions + 3.0))
    figure, axes = _new_figure(
        2, 1, (width, rows_height + 1.4), sharex=True, layout="constrained",
        gridspec_kw={"height_ratios": [rows_height, 0.8]},
    )
    image_axes, label_axes = axes[0][0], axes[1][0]
    image = image_axes.imshow(
        inputs.T, aspect="auto", cmap="RdBu_r", vmin=-1.0, vmax=1.0, interpolation="nearest",
        extent=(-0.5, num_positions - 0.5, input_size - 0.5, -0.5),
    )
    colorbar = figure.colorbar(image, ax=image_axes, ticks=[-1, 0, 1], fraction=0.03, pad=0.01)
    colorbar.set_label("input value")
    # Name each block at its middle; separate blocks of several rows with lines.
    centers = [(start + stop - 1) / 2.0 for _, start, stop in blocks]
    block_labels = _thinned_labels([name for name, _, _ in blocks])
    # Size each block's name to the block's height, then drop names that would still overlap.
    points_per_row = rows_height * 0.85 * 72.0 / input_size
    font_sizes = [max(7.0, min(10.0, 0.92 * points_per_row * (stop - start))) for _, start, stop in blocks]
    block_labels = _without_collisions(block_labels, [center * points_per_row for center in centers], font_sizes)
    image_axes.set_yticks(centers)
    image_axes.set_yticklabels(block_labels)
    for tick_label, font_size in zip(image_axes.get_yticklabels(), font_sizes):
        tick_label.set_fontsize(font_size)
    _hide_blank_ticks(image_axes.yaxis)
    for (_, start, stop), (_, next_start, next_stop) in zip(blocks, blocks[1:]):
        if stop - start > 1 or next_stop - next_start > 1:
            image_axes.axhline(stop - 0.5, color="black", linewidth=0.8)
    for position in range(steps_per_bar, num_positions, steps_per_bar) if steps_per_bar else []:
        image_axes.axvline(position - 0.5, color="#444444", linewidth=0.8, linestyle=":")
    image_axes.set_ylabel("input features")
    image_axes.set_title(title or f"{type(encoder).__name__}: inputs ({num_positions} positions × {input_size} features) and labels")

    # The label row: one cell per position, coloured by what kind of event comes next.
    kind_order = ["no event", "note off", "note-on", "repeat", "other"]
    cell_kinds = [kinds[label] if 0 <= label < len(kinds) else "other" for label in labels]
    kind_indices = np.array([[kind_order.index(kind) for kind in cell_kinds]])
    label_axes.imshow(
        kind_indices, aspect="auto", interpolation="nearest", vmin=-0.5, vmax=len(kind_order) - 0.5,
        cmap=ListedColormap([KIND_COLORS[kind] for kind in kind_order]),
        extent=(-0.5, num_positions - 0.5, 0.5, -0.5),
    )
    if num_positions <= 96:
        font_size = 8 if num_positions <= 48 else 6
        for position, (label, kind) in enumerate(zip(labels, cell_kinds)):
            label_axes.text(
                position, 0, str(label), ha="center", va="center", fontsize=font_size,
                color="white" if kind == "note off" else "black", rotation=90 if num_positions > 48 else 0,
            )
    label_axes.set_yticks([0])
    label_axes.set_yticklabels(["label"])
    label_axes.set_xlabel("position in the melody (the label is the class of the next event)")
    present = [kind for kind in kind_order if kind in cell_kinds]
    label_axes.legend(
        handles=[Patch(facecolor=KIND_COLORS[kind], edgecolor="black", label=kind) for kind in present],
        loc="upper center", bbox_to_anchor=(0.5, -0.9), ncol=len(present), fontsize="small", frameon=False,
    )
    return figure


def _one_hot_classes(events: Sequence[int], num_classes: int) -> np.ndarray:
    """Class indices of the one-hot encoding (0 no event, 1 note off, 2.. pitches) for 38 or 130 classes."""
    min_note = _guess_min_note(num_classes - 2)
    if min_note is None:
        raise MelodylibError(
            f"cannot tell which class each event is for {num_classes} classes; pass encoder= (the config's encoder)"
        )
    classes = []
    for event in check_events(events):
        if event < 0:
            classes.append(event + 2)
        elif min_note <= event < min_note + num_classes - 2:
            classes.append(event - min_note + 2)
        else:
            raise MelodylibError(f"event {event} is outside the range {min_note}..{min_note + num_classes - 3}; pass encoder=")
    return np.array(classes, dtype=int)


def plot_probabilities(
    probabilities: Any,
    events: Any = None,
    class_labels: Sequence[str] | None = None,
    *,
    encoder: Any = None,
    actual_classes: Sequence[int] | None = None,
    title: str | None = None,
):
    """Heat map of the model's next-event distribution over time (classes × steps), returned as a Figure.

    Row t of `probabilities` ([T, num_classes]) is the distribution of the event after step t. If
    `events` (the melody, T+1 events or more; rows are aligned to its end) or `actual_classes`
    (T class indices) is given, the event that really came next is marked with a circle. Class
    names come from `class_labels`, else from `encoder`, else from the size (38 basic, 130 mono).
    """
    from matplotlib.colors import PowerNorm

    matrix = np.asarray(probabilities, dtype=float)
    if matrix.ndim == 3 and matrix.shape[0] == 1:
        matrix = matrix[0]
    if matrix.ndim != 2:
        raise MelodylibError(f"probabilities must be a [steps, classes] array; got shape {matrix.shape}")
    num_steps, num_classes = matrix.shape
    if class_labels is None:
        if encoder is not None:
            class_labels = class_names(encoder)
        elif _guess_min_note(num_classes - 2) is not None:
            class_labels = ["no event", "note off"] + [_pitch_label(_guess_min_note(num_classes - 2), i) for i in range(num_classes - 2)]
        else:
            class_labels = [str(index) for index in range(num_classes)]
    if len(class_labels) != num_classes:
        raise MelodylibError(f"{len(class_labels)} class labels for {num_classes} classes; give one label per class")
    marked = None
    if actual_classes is not None:
        marked = np.asarray(actual_classes, dtype=int)
    elif events is not None:
        event_list = list(events.events) if _is_melody(events) else list(events)
        if len(event_list) <= num_steps:
            raise MelodylibError(
                f"{len(event_list)} events for {num_steps} probability rows; row t predicts the event after t, so give at least {num_steps + 1} events"
            )
        all_classes = np.asarray(encoder.labels(event_list), dtype=int) if encoder is not None else _one_hot_classes(event_list, num_classes)
        marked = all_classes[len(event_list) - num_steps:]  # aligned to the end, as in the log-likelihood
    if marked is not None and marked.shape != (num_steps,):
        raise MelodylibError(f"actual_classes has {marked.shape[0]} entries for {num_steps} probability rows")

    height = min(10.0, max(3.5, 0.13 * num_classes + 1.5))
    width = min(18.0, max(7.0, 0.14 * num_steps + 3.0))
    figure, axes = _new_figure(1, 1, (width, height), layout="constrained")
    axes = axes[0][0]
    # A square-root colour scale keeps small but real probabilities visible.
    image = axes.imshow(
        matrix.T, aspect="auto", origin="lower", cmap="Blues", norm=PowerNorm(0.5, vmin=0.0, vmax=1.0),
        interpolation="nearest", extent=(-0.5, num_steps - 0.5, -0.5, num_classes - 0.5),
    )
    colorbar = figure.colorbar(image, ax=axes, fraction=0.03, pad=0.01, ticks=[0, 0.05, 0.25, 0.5, 1.0])
    colorbar.set_label("probability")
    font_size = 8.0 if num_classes > 24 else 10.0
    points_per_row = height * 0.85 * 72.0 / num_classes
    labels = _without_collisions(
        _thinned_labels(class_labels), [row * points_per_row for row in range(num_classes)], [font_size] * num_classes
    )
    axes.set_yticks(range(num_classes))
    axes.set_yticklabels(labels, fontsize=font_size)
    _hide_blank_ticks(axes.yaxis)
    if marked is not None:
        axes.scatter(
            np.arange(num_steps), marked, s=36, facecolors="none", edgecolors="#e8702a", linewidths=1.6,
            label="actual next event", zorder=3, gid="actual-next",
        )
        axes.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize="small", frameon=False, borderaxespad=0.2)
    axes.set_xlabel("step t (the row shows p(event at t+1 | events up to t))")
    axes.set_ylabel("next event")
    axes.set_title(title or "next-event probabilities", loc="left")
    return figure


# --------------------------------------------------------------------------------------------
# Training curves
# --------------------------------------------------------------------------------------------

VALIDATION_PREFIXES = ("val_", "eval_")
BOOKKEEPING_KEYS = frozenset({"step", "epoch", "steps_per_second", "padded_fraction", "learning_rate", "lr"})

Curve = tuple[list[float], list[float]]  # (x values, y values)


@dataclass
class _Run:
    """One training run's curves: metric -> (xs, ys) for training and for validation."""

    name: str
    train: dict[str, Curve]
    validation: dict[str, Curve]
    x_label: str


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _is_records(value: Any) -> bool:
    """A list of per-step rows such as [{"step": 100, "loss": 2.1}, ...] (melodylib's TrainingResult.history)."""
    return isinstance(value, (list, tuple)) and bool(value) and all(
        isinstance(row, Mapping) and all(_is_number(number) for number in row.values()) for row in value
    )


def _curves_from_records(rows: Sequence[Mapping[str, float]]) -> tuple[dict[str, Curve], str]:
    curves: dict[str, Curve] = {}
    uses_steps = all("step" in row for row in rows)
    for index, row in enumerate(rows):
        x = float(row["step"]) if uses_steps else float(index + 1)
        for key, value in row.items():
            if key != "step":
                curves.setdefault(str(key), ([], []))
                curves[str(key)][0].append(x)
                curves[str(key)][1].append(float(value))
    return curves, "training step" if uses_steps else "epoch"


def _split_validation(curves: dict[str, Curve]) -> tuple[dict[str, Curve], dict[str, Curve]]:
    train, validation = {}, {}
    for key, curve in curves.items():
        base = _base_metric(key)
        (validation if base != key else train)[base] = curve
    return train, validation


def _as_run(name: str, value: Any) -> _Run:
    """One history in any accepted form -> `_Run`."""
    history = getattr(value, "history", None)
    if _is_records(history) or (isinstance(history, list) and hasattr(value, "eval_history")):  # TrainingResult
        train, x_label = _curves_from_records(history) if history else ({}, "training step")
        eval_rows = getattr(value, "eval_history", None) or []
        validation = _curves_from_records(eval_rows)[0] if eval_rows else {}
        return _Run(name, train, validation, x_label)
    if isinstance(history, Mapping):  # a keras History
        value = history
    if _is_records(value):
        curves, x_label = _curves_from_records(value)
        return _Run(name, *_split_validation(curves), x_label)
    if not isinstance(value, Mapping):
        raise MelodylibError(
            f"a training history must be a dict of metric name -> list of numbers, a list of per-step dicts "
            f"or a TrainingResult; got {type(value).__name__}"
        )
    columns = {str(key): [float(number) for number in numbers] for key, numbers in value.items()}
    steps = columns.pop("step", None)
    curves: dict[str, Curve] = {}
    for key, series in columns.items():
        if steps is not None and len(steps) == len(series):
            curves[key] = (list(steps), series)
        else:
            curves[key] = ([float(index + 1) for index in range(len(series))], series)
    x_label = "training step" if steps is not None else "epoch"
    return _Run(name, *_split_validation(curves), x_label)


def _is_single_history(value: Any) -> bool:
    if hasattr(value, "history"):
        return True
    if _is_records(value):
        return True
    return isinstance(value, Mapping) and all(
        isinstance(series, (list, tuple, np.ndarray)) and all(_is_number(number) for number in series) for series in value.values()
    )


def _named_runs(history: Any, names: Sequence[str] | None) -> list[_Run]:
    if _is_single_history(history):
        runs = [_as_run("", history)]
    elif isinstance(history, Mapping):  # run name -> history
        runs = [_as_run(str(name), value) for name, value in history.items()]
    elif isinstance(history, (list, tuple)):
        runs = []
        for index, item in enumerate(history):
            if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
                runs.append(_as_run(item[0], item[1]))
            else:
                runs.append(_as_run(f"run {index + 1}", item))
    else:
        runs = [_as_run("", history)]
    if names is not None:
        if len(names) != len(runs):
            raise MelodylibError(f"{len(names)} names for {len(runs)} training histories; give one name per history")
        for run, name in zip(runs, names):
            run.name = str(name)
    if not runs:
        raise MelodylibError("plot_training_curves needs at least one training history")
    return runs


def _base_metric(key: str) -> str:
    for prefix in VALIDATION_PREFIXES:
        if key.startswith(prefix):
            return key[len(prefix):]
    return key


def plot_training_curves(
    history: Any,
    metrics: Sequence[str] | None = None,
    *,
    names: Sequence[str] | None = None,
    title: str | None = None,
    log_scale: bool = False,
):
    """Plot training curves, one panel per metric: training solid, validation dashed; returns the Figure.

    `history` is one run or several. A run is a dict of metric -> values (keys `val_...`/`eval_...`
    are validation; a "step" list gives the x axis, else epochs), a Keras History, a list of
    per-step dicts, or a melodylib TrainingResult (its `history` and `eval_history`). Several runs
    are a list (named by `names`, or as (name, run) pairs) or a dict of run name -> run.
    `metrics` defaults to every metric found except bookkeeping (step, steps_per_second, ...).
    """
    from matplotlib.ticker import MaxNLocator

    runs = _named_runs(history, names)
    found: list[str] = []
    for run in runs:
        for key in list(run.train) + list(run.validation):
            if key not in found and key not in ("step", "epoch"):
                found.append(key)
    chosen = [key for key in found if key not in BOOKKEEPING_KEYS] if metrics is None else [str(m) for m in metrics]
    for metric in chosen:
        if metric not in found:
            raise MelodylibError(f'metric "{metric}" is not in the training history; it has: {", ".join(found) or "nothing"}')
    if not chosen:
        raise MelodylibError("the training history has no metrics to plot")
    ncols = min(3, len(chosen))
    nrows = math.ceil(len(chosen) / ncols)
    figure, axes = _new_figure(nrows, ncols, (4.6 * ncols + 0.6, 3.4 * nrows), layout="constrained")
    flat_axes = [axis for row in axes for axis in row]
    for axis, metric in zip(flat_axes, chosen):
        for index, run in enumerate(runs):
            color = f"C{index % 10}"
            for curves, style, part in ((run.train, "-", "train"), (run.validation, "--", "validation")):
                if metric not in curves:
                    continue
                xs, ys = curves[metric]
                if not ys or all(math.isnan(y) for y in ys):
                    continue
                label = f"{run.name} ({part})" if run.name else part
                axis.plot(xs, ys, linestyle=style, color=color, label=label, marker="o" if len(ys) <= 12 else None, markersize=3)
            axis.set_xlabel(run.x_label)
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.set_title(metric)
        axis.grid(True, alpha=0.3)
        if log_scale:
            axis.set_yscale("log")
        if axis.get_legend_handles_labels()[0]:
            axis.legend(fontsize="small")
    for axis in flat_axes[len(chosen):]:
        axis.set_visible(False)
    if title:
        figure.suptitle(title)
    return figure


def plot_statistic_densities(reference_melodies: Sequence[Any], generated: Mapping[str, Sequence[Any]], *,
                             title: str | None = None):
    """One panel per music statistic: the real tunes' distribution (grey) and each config's (a line).

    `reference_melodies` and each value of `generated` are melodies (event lists or Melodys);
    the curves are the kernel density estimates the overlapping areas are computed from. A
    config whose values are (nearly) all equal shows as a spike, cut at 2.5x the real peak.
    """
    from melodylib.evaluation.music_statistics import STATISTIC_NAMES, kernel_densities, statistics_table

    real = statistics_table(reference_melodies)
    tables = {name: statistics_table(melodies) for name, melodies in generated.items()}
    columns = 4
    rows = math.ceil(len(STATISTIC_NAMES) / columns)
    figure, axes = _new_figure(rows, columns, (4 * columns, 3.2 * rows), layout="constrained")
    for axis, statistic in zip(axes.flat, STATISTIC_NAMES):
        real_values = real[statistic][~np.isnan(real[statistic])]
        pooled = [real_values]
        peak = 1.0
        if real_values.size:
            grid, density, _ = kernel_densities(real_values, real_values)
            axis.fill_between(grid, density, color="0.8", label=f"real tunes ({real_values.size})")
            peak = float(density.max())
        for name, table in tables.items():
            values = table[statistic][~np.isnan(table[statistic])]
            if values.size and real_values.size:
                grid, density, _ = kernel_densities(values, real_values)
                axis.plot(grid, density, label=name)
                pooled.append(values)
        low = min((float(values.min()) for values in pooled if values.size), default=0.0)
        high = max((float(values.max()) for values in pooled if values.size), default=1.0)
        margin = 0.15 * (high - low) or 0.5
        axis.set(title=statistic.replace("_", " "), yticks=[], xlim=(low - margin, high + margin), ylim=(0, 2.5 * peak))
    for axis in list(axes.flat)[len(STATISTIC_NAMES):]:
        axis.set_visible(False)
    axes.flat[0].legend(fontsize="small")
    figure.suptitle(title or "music statistics: generated melodies against the real tunes")
    return figure
