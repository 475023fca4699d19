"""Play with a model live: enter a primer on piano keys, continue it, hear and see the answer.

`MelodyPanel` is an ipywidgets panel for notebook 09 (it runs offline in JupyterLab):

1. Piano keys (two octaves from C4), a rest key and a hold key build the primer; the note-length
   buttons say how many 16th-note steps one press adds.
2. The controls pick the pretrained config, the temperature, how many steps to add, the beam size
   and the instrument.
3. "Continue" runs the model and updates the audio, the piano roll and the score together, and
   says how long the continuation took.

Every button is an ordinary ipywidgets Button, so tests (and curious learners) drive the panel
from Python with `panel.key_buttons[60].click()` and read its state.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from melodylib.course.shipped import shipped_bundles
from melodylib.errors import MelodylibError
from melodylib.music.events import NO_EVENT, NOTE_OFF
from melodylib.music.pitch_names import BLACK_KEY_PITCH_CLASSES, pitch_name

LOWEST_KEY = 60  # C4
HIGHEST_KEY = 84  # C6
NOTE_LENGTHS = {"16th": 1, "8th": 2, "quarter": 4, "half": 8}
SAMPLE_RATE = 22050
DEFAULT_PRIMER = (
    60,
    NO_EVENT,
    62,
    NO_EVENT,
    64,
    NO_EVENT,
    65,
    NO_EVENT,
    67,
    NO_EVENT,
    NO_EVENT,
    NO_EVENT,
    NOTE_OFF,
    NO_EVENT,
    NO_EVENT,
    NO_EVENT,
)


def _widgets():
    try:
        import ipywidgets
    except ImportError as error:
        raise MelodylibError("the panel needs ipywidgets: pip install -e '.[notebooks]'") from error
    return ipywidgets


class MelodyPanel:
    """A primer on piano keys, a model's continuation heard, drawn and engraved at one click."""

    def __init__(
        self,
        bundles: Mapping[str, str | os.PathLike] | None = None,
        primer: list[int] | None = None,
        seed: int | None = 1,
    ) -> None:
        self.bundles = {name: Path(path) for name, path in (bundles or shipped_bundles()).items()}
        if not self.bundles:
            raise MelodylibError("no pretrained bundles found in data/bundles; the panel needs one")
        self.primer: list[int] = list(DEFAULT_PRIMER if primer is None else primer)
        self.seed = seed
        self.result: Any = None  # the last GeneratedMelody
        self.seconds: float | None = None  # how long the last continuation took
        self.roll_figure: Any = None  # the piano roll last drawn
        self._presses: list[int] = []  # steps each key press added, for undo
        self._generators: dict[str, Any] = {}
        self._build_widgets()
        self._show_primer()

    # -- the widgets ---------------------------------------------------------------------------

    def _build_widgets(self) -> None:
        widgets = _widgets()
        names = list(self.bundles)
        labelled = {"style": {"description_width": "initial"}}  # labels never cut short
        self.config = widgets.Dropdown(
            options=names, value=names[-1], description="config", **labelled
        )
        self.temperature = widgets.FloatSlider(
            value=1.0, min=0.1, max=2.0, step=0.1, description="temperature", **labelled
        )
        self.num_steps = widgets.IntSlider(
            value=64, min=16, max=256, step=16, description="add steps", **labelled
        )
        self.beam_size = widgets.IntSlider(
            value=1, min=1, max=8, description="beam size", **labelled
        )
        self.instrument = widgets.Dropdown(
            options=["piano", "flute", "violin", "clarinet", "guitar", "vibraphone"],
            description="sound",
            **labelled,
        )
        self.note_length = widgets.ToggleButtons(
            options=list(NOTE_LENGTHS),
            value="8th",
            description="note length",
            style={"description_width": "initial", "button_width": "76px"},
        )
        self.key_buttons = {
            pitch: self._key_button(pitch) for pitch in range(LOWEST_KEY, HIGHEST_KEY + 1)
        }
        self.rest_button = self._button("rest", lambda: self.press(NOTE_OFF))
        self.hold_button = self._button("hold", lambda: self.press(NO_EVENT))
        self.undo_button = self._button("undo", self.undo)
        self.clear_button = self._button("clear", self.clear)
        self.continue_button = self._button("Continue", self.continue_primer, style="success")
        self.status = widgets.HTML()
        self.audio = widgets.Audio(format="wav", autoplay=False, loop=False)
        self.score = widgets.HTML()
        self.roll = widgets.Output()
        self.widget = widgets.VBox(
            [
                self._keyboard(),
                widgets.HBox(
                    [
                        self.note_length,
                        self.rest_button,
                        self.hold_button,
                        self.undo_button,
                        self.clear_button,
                    ]
                ),
                widgets.HBox([self.config, self.temperature, self.num_steps]),
                widgets.HBox([self.beam_size, self.instrument, self.continue_button]),
                self.status,
                self.audio,
                self.score,
                self.roll,
            ]
        )

    def _button(self, label: str, action, style: str = "") -> Any:
        button = _widgets().Button(
            description=label, button_style=style, layout={"width": "88px", "margin": "0 4px"}
        )
        button.on_click(lambda _button: action())
        return button

    def _key_button(self, pitch: int) -> Any:
        black = pitch % 12 in BLACK_KEY_PITCH_CLASSES
        button = _widgets().Button(
            description=pitch_name(pitch),
            tooltip=f"MIDI {pitch}",
            layout={"width": "42px", "height": "48px" if black else "64px", "padding": "0"},
        )
        button.style.button_color = "#333333" if black else "#f2f2f2"
        button.style.text_color = "#ffffff" if black else "#000000"
        button.style.font_size = "9px"
        button.on_click(lambda _button: self.press(pitch))
        return button

    def _keyboard(self) -> Any:
        """Black keys on a row above the white keys, each over the gap it belongs in."""
        widgets = _widgets()
        black_row, white_row = [], []
        for pitch, button in self.key_buttons.items():
            if pitch % 12 in BLACK_KEY_PITCH_CLASSES:
                black_row[-1] = button
            else:
                white_row.append(button)
                black_row.append(widgets.Box(layout={"width": "42px"}))
        return widgets.VBox(
            [widgets.HBox(black_row, layout={"margin": "0 0 0 21px"}), widgets.HBox(white_row)]
        )

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    # -- the primer ------------------------------------------------------------------------------

    def press(self, event: int) -> None:
        """Add a key's event and hold it for the chosen note length (hold adds one length too)."""
        length = NOTE_LENGTHS[self.note_length.value]
        self.primer.append(int(event))
        self.primer.extend([NO_EVENT] * (length - 1))
        self._presses.append(length)
        self._show_primer()

    def undo(self) -> None:
        """Take back the last key press: as many steps as it added. (With no press to take back,
        the primer given at the start loses its last note and the steps that hold it.)"""
        if self._presses:
            del self.primer[-self._presses.pop() :]
        else:
            while self.primer and self.primer[-1] == NO_EVENT:
                self.primer.pop()
            if self.primer:
                self.primer.pop()
        self._show_primer()

    def clear(self) -> None:
        self.primer = []
        self._presses = []
        self._show_primer()

    def _show_primer(self) -> None:
        notes = sum(event >= 0 for event in self.primer)
        self.status.value = (
            f"primer: {len(self.primer)} steps, {notes} notes. Press keys, then Continue."
        )
        self._draw(self.primer, len(self.primer))

    # -- the continuation ----------------------------------------------------------------------

    def _generator(self, config_name: str) -> Any:
        if config_name not in self._generators:
            import melodylib

            bundle = melodylib.load_bundle(self.bundles[config_name])
            self._generators[config_name] = melodylib.MelodyGenerator(bundle)
        return self._generators[config_name]

    def continue_primer(self) -> Any:
        """Continue the primer with the chosen model and settings; update sound, roll and score."""
        if not any(event >= 0 for event in self.primer):
            self.status.value = "Play at least one note first: the model continues a melody."
            return None
        first_use = self.config.value not in self._generators
        started = time.perf_counter()
        generator = self._generator(self.config.value)
        self.result = generator.generate(
            self.primer,
            num_steps=len(self.primer) + self.num_steps.value,
            temperature=self.temperature.value,
            beam_size=self.beam_size.value,
            seed=self.seed,
        )[0]
        self.seconds = time.perf_counter() - started
        self.status.value = (
            f"{self.config.value} added {self.num_steps.value} steps in "
            f"{self.seconds:.2f} s (temperature {self.temperature.value:.1f}, "
            f"beam size {self.beam_size.value})"
            + ("; the first time, that includes loading the model." if first_use else ".")
        )
        self._draw(self.result.events, self.result.primer_length)
        return self.result

    def _draw(self, events: list[int], primer_steps: int) -> None:
        """The audio, the piano roll and the score of `events`, all at once."""
        from melodylib.course import display as course_display
        from melodylib.music import notation, synthesis

        has_notes = any(event >= 0 for event in events)
        self.roll.clear_output(wait=True)
        if not has_notes:
            self.score.value, self.audio.value, self.roll_figure = "", b"", None
            return
        marked = primer_steps if primer_steps < len(events) else 0
        self.score.value = notation.render_score(events, primer_steps=marked, width=2400)
        samples = course_display.synthesize(
            list(events), SAMPLE_RATE, instrument=self.instrument.value
        )
        self.audio.value = synthesis.wav_bytes(samples, SAMPLE_RATE)
        self._draw_roll(events, marked)

    def _draw_roll(self, events: list[int], primer_steps: int) -> None:
        import matplotlib.pyplot as plt
        from IPython.display import display

        from melodylib.course import display as course_display

        with self.roll:
            self.roll_figure = course_display.plot_piano_roll(
                events, primer_steps=primer_steps or None
            )
            display(self.roll_figure)
            plt.close(self.roll_figure)
