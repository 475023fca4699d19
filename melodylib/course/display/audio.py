"""Hearing music: render it to samples, play it in a notebook, or write a WAV file.

The sound comes from `melodylib.music.synthesis`: a General MIDI SoundFont by default (nothing to
install), fluidsynth where a user has it, sine waves as the last resort; one line says which plays
when the first choice cannot. `instrument` picks the sound ("piano", "flute", "violin", ... or a
General MIDI program number). Loudness is normalised to a fixed peak, so nothing clips.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from melodylib.atomic import atomic_path
from melodylib.course.display.music_input import normalise_music
from melodylib.errors import MelodylibError
from melodylib.music import synthesis
from melodylib.music.notesequence import DEFAULT_QPM, Note, NoteSequence
from melodylib.music.synthesis import DEFAULT_INSTRUMENT, synthesizer_name

__all__ = ["play", "synthesize", "synthesizer_name", "write_wav"]

DEFAULT_SAMPLE_RATE = 22050  # mono at 22.05 kHz keeps a saved notebook small and sounds clean


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


def synthesize(
    music: Any,
    sample_rate: int = DEFAULT_SAMPLE_RATE,
    qpm: float = DEFAULT_QPM,
    max_seconds: float | None = None,
    instrument: str | int = DEFAULT_INSTRUMENT,
) -> np.ndarray:
    """Render `music` to mono float32 audio in [-1, 1] (peak 0.9), exactly its duration long.

    The duration is the melody's length (trailing rests included) or the NoteSequence's total
    time. `qpm` is the tempo of a melody (NoteSequences carry their own timing).
    """
    if sample_rate <= 0:
        raise MelodylibError(
            f"sample_rate={sample_rate} must be a positive number of samples per second, e.g. 22050"
        )
    normalised = normalise_music(music, qpm=qpm, steps_per_bar=None, steps_per_quarter=None)
    sequence, duration = normalised.sequence, normalised.duration
    if max_seconds is not None and duration > max_seconds:
        sequence, duration = _clipped_sequence(sequence, max_seconds), float(max_seconds)
    num_samples = int(round(duration * sample_rate))
    rendered = np.zeros(0)
    if any(not note.is_drum for note in sequence.notes):
        rendered = synthesis.render(sequence, int(sample_rate), instrument)
    samples = np.zeros(num_samples, dtype=np.float64)
    count = min(num_samples, rendered.shape[0])
    samples[:count] = rendered[:count]
    fade = min(count, int(0.02 * sample_rate))  # avoid a click where a release tail is cut off
    if fade:
        samples[count - fade : count] *= np.linspace(1.0, 0.0, fade)
    return synthesis.normalise(samples).astype(np.float32)


def play(
    music: Any,
    sample_rate: int = DEFAULT_SAMPLE_RATE,
    qpm: float = DEFAULT_QPM,
    max_seconds: float | None = 30.0,
    instrument: str | int = DEFAULT_INSTRUMENT,
):
    """An `IPython.display.Audio` player for `music` (its first `max_seconds`), or, for music with
    nothing in it, a printed line saying so (a lesson goes on rather than stopping on an error)."""
    try:
        from IPython.display import Audio
    except ImportError as error:
        raise MelodylibError(
            "play() needs IPython (pip install ipykernel); use write_wav() outside notebooks"
        ) from error
    samples = synthesize(music, sample_rate, qpm, max_seconds, instrument)
    if samples.size == 0:
        print("nothing to play: the music is empty (no events and no duration)")
        return None
    return Audio(data=samples, rate=sample_rate, normalize=False)


def write_wav(
    music: Any,
    path: str | os.PathLike,
    sample_rate: int = DEFAULT_SAMPLE_RATE,
    qpm: float = DEFAULT_QPM,
    instrument: str | int = DEFAULT_INSTRUMENT,
) -> Path:
    """Write `music` as a mono 16-bit PCM WAV file, atomically; returns the path."""
    samples = synthesize(music, sample_rate, qpm, None, instrument)
    final = Path(path)
    with atomic_path(final) as temporary:
        Path(temporary).write_bytes(synthesis.wav_bytes(samples, sample_rate))
    return final
