"""Names of MIDI pitches ("C4", "F#4"): shared by the encoders' class names and the plots."""

from __future__ import annotations

import numpy as np

from melodylib.errors import MelodylibError

PITCH_CLASS_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
BLACK_KEY_PITCH_CLASSES = frozenset({1, 3, 6, 8, 10})


def pitch_name(midi_pitch: int) -> str:
    """The scientific name of a MIDI pitch, with sharps: 60 -> "C4", 66 -> "F#4", 0 -> "C-1"."""
    if (
        isinstance(midi_pitch, bool)
        or not isinstance(midi_pitch, (int, np.integer))
        or not 0 <= midi_pitch <= 127
    ):
        raise MelodylibError(
            f"pitch_name: {midi_pitch!r} is not a MIDI pitch; give an integer from 0 to 127"
        )
    octave, pitch_class = divmod(int(midi_pitch), 12)
    return f"{PITCH_CLASS_NAMES[pitch_class]}{octave - 1}"
