"""Hearing music: render it to samples, play it in a notebook, or write a WAV file.

Audio needs no system packages. The synthesizer is chosen once per process:

1. "fluidsynth": pyfluidsynth with libfluidsynth, when both are installed (pretty_midi's bundled
   SoundFont gives instrument sounds);
2. "sine": pretty_midi's sine waves, which need nothing. When audio falls back to sine waves,
   one line says why, once per process; a fluidsynth that fails while rendering is not tried again.
"""

from __future__ import annotations

import os
import wave
from pathlib import Path
from typing import Any

import numpy as np

from melodylib.atomic import atomic_path
from melodylib.course.display.music_input import normalise_music
from melodylib.errors import MelodylibError
from melodylib.music.notesequence import (
    DEFAULT_QPM,
    Note,
    NoteSequence,
    note_sequence_to_pretty_midi,
)

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
        print(
            f"melodylib: {reason}; playing with simple sine waves (pip install pyfluidsynth and install libfluidsynth for instrument sounds)."
        )


def _clipped_sequence(sequence: NoteSequence, max_seconds: float) -> NoteSequence:
    notes = [
        Note(
            n.pitch,
            n.velocity,
            n.start_time,
            min(n.end_time, max_seconds),
            n.instrument,
            n.program,
            n.is_drum,
        )
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


def synthesize(
    music: Any, sample_rate: int = 16000, qpm: float = DEFAULT_QPM, max_seconds: float | None = None
) -> np.ndarray:
    """Render `music` to mono float32 audio in [-1, 1] (peak 0.9), exactly its duration long.

    The duration is the melody's length (trailing rests included) or the NoteSequence's total
    time. Uses fluidsynth when available, else pretty_midi's sine synthesizer; drums are silent
    with the sine synthesizer. `qpm` is the tempo of a melody (NoteSequences carry their own timing).
    """
    if sample_rate <= 0:
        raise MelodylibError(
            f"sample_rate={sample_rate} must be a positive number of samples per second, e.g. 16000"
        )
    normalised = normalise_music(music, qpm=qpm, steps_per_bar=None, steps_per_quarter=None)
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
        samples[count - fade : count] *= np.linspace(1.0, 0.0, fade)
    peak = float(np.max(np.abs(samples))) if num_samples else 0.0
    if peak > 0:
        samples *= 0.9 / peak
    return samples.astype(np.float32)


def play(
    music: Any, sample_rate: int = 16000, qpm: float = DEFAULT_QPM, max_seconds: float | None = 30.0
):
    """An `IPython.display.Audio` player for `music` (its first `max_seconds`); a low sample rate keeps
    notebooks small.
    """
    try:
        from IPython.display import Audio
    except ImportError as error:
        raise MelodylibError(
            "play() needs IPython (pip install ipykernel); use write_wav() outside notebooks"
        ) from error
    samples = synthesize(music, sample_rate=sample_rate, qpm=qpm, max_seconds=max_seconds)
    if samples.size == 0:
        raise MelodylibError("nothing to play: the music is empty (no events and no duration)")
    return Audio(data=samples, rate=sample_rate, normalize=False)


def write_wav(
    music: Any, path: str | os.PathLike, sample_rate: int = 16000, qpm: float = DEFAULT_QPM
) -> Path:
    """Write `music` as a mono 16-bit PCM WAV file, atomically; returns the path."""
    samples = synthesize(music, sample_rate=sample_rate, qpm=qpm)
    pcm = np.clip(np.round(samples.astype(np.float64) * 32767.0), -32768, 32767).astype("<i2")
    final = Path(path)
    with atomic_path(final) as temporary, wave.open(str(temporary), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(int(sample_rate))
        writer.writeframes(pcm.tobytes())
    return final
