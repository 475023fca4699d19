"""Seeing and hearing music: piano rolls, pictures of encodings and model outputs, and audio.

Every plot accepts the music the course works with: a `NoteSequence`, a melody (a `Melody` or a
plain list of events: -2 no event, -1 note-off, 0..127 note-on) or the path of a MIDI file.
Plots return the `matplotlib.figure.Figure` (handy for `fig.savefig(...)`). When a plot makes
its own figure it detaches it from pyplot, so a notebook shows it exactly once, when it is the
cell's last value (use `display(fig)` elsewhere in a cell). Audio needs no system packages: a
General MIDI SoundFont plays it (see `melodylib.music.synthesis` for the fallbacks), and scores
are engraved by verovio.

The modules, one idea each:

- `rolls`: piano rolls of one piece or several (`plot_piano_roll`, `plot_piano_rolls`);
- `audio`: `play`, `synthesize`, `write_wav` and `synthesizer_name`;
- `scores`: staff notation inline (`show_score`);
- `encodings`: what the network sees and says (`plot_encoding`, `plot_probabilities`);
- `curves`: training curves (`plot_training_curves`);
- `statistics`: music statistics against the real tunes (`plot_statistic_densities`);
- `music_input` and `common`: turning any music into notes; pitch names, colours and figures.

`from melodylib.course import display; display.plot_piano_roll(...)` works for every name here.
Matplotlib is imported only when something is drawn.
"""

from __future__ import annotations

from melodylib.course.display.audio import play, synthesize, synthesizer_name, write_wav
from melodylib.course.display.common import (
    BAR_LINE_COLOR,
    BLACK_KEY_PITCH_CLASSES,
    CONTINUATION_COLOR,
    PITCH_CLASS_NAMES,
    PRIMER_COLOR,
    SINGLE_COLOR,
    pitch_name,
)
from melodylib.course.display.curves import plot_training_curves
from melodylib.course.display.encodings import (
    KIND_COLORS,
    class_names,
    plot_encoding,
    plot_probabilities,
)
from melodylib.course.display.music_input import DEFAULT_STEPS_PER_QUARTER
from melodylib.course.display.rolls import plot_piano_roll, plot_piano_rolls
from melodylib.course.display.scores import show_score
from melodylib.course.display.statistics import plot_statistic_densities
from melodylib.music.events import event_note_spans

__all__ = [
    "BAR_LINE_COLOR",
    "BLACK_KEY_PITCH_CLASSES",
    "CONTINUATION_COLOR",
    "DEFAULT_STEPS_PER_QUARTER",
    "KIND_COLORS",
    "PITCH_CLASS_NAMES",
    "PRIMER_COLOR",
    "SINGLE_COLOR",
    "class_names",
    "event_note_spans",
    "pitch_name",
    "play",
    "show_score",
    "plot_encoding",
    "plot_piano_roll",
    "plot_piano_rolls",
    "plot_probabilities",
    "plot_statistic_densities",
    "plot_training_curves",
    "synthesize",
    "synthesizer_name",
    "write_wav",
]
