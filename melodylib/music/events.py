"""Melody event values shared by melodies and encoders (§2.1): one int per 16th-note step."""

from __future__ import annotations

NO_EVENT = -2  # hold: sustain the current note, or continue the silence
NOTE_OFF = -1  # end the sounding note; silence starts
# 0..127 are note-ons at that MIDI pitch (a note-on also ends any previous note).

NUM_SPECIAL_MELODY_EVENTS = 2
MIN_MELODY_EVENT = -2
MAX_MELODY_EVENT = 127
DEFAULT_STEPS_PER_BAR = 16
NOTES_PER_OCTAVE = 12
