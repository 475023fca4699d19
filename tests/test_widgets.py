"""The live panel, driven through its own buttons as a learner's clicks would."""

import io
import wave

import pytest

from melodylib.course.shipped import shipped_bundles
from melodylib.music.events import NO_EVENT, NOTE_OFF

pytest.importorskip("ipywidgets")
from melodylib.course.widgets import MelodyPanel  # noqa: E402

BUNDLES = {name: path for name, path in shipped_bundles().items() if name == "basic_rnn"}


@pytest.fixture(scope="module")
def panel():
    return MelodyPanel(BUNDLES, primer=[], seed=3)


def wav_seconds(data):
    with wave.open(io.BytesIO(data), "rb") as reader:
        return reader.getnframes() / reader.getframerate()


def test_keys_build_the_primer_with_the_chosen_note_length(panel):
    panel.clear_button.click()
    panel.note_length.value = "quarter"
    panel.key_buttons[67].click()
    panel.note_length.value = "8th"
    panel.key_buttons[69].click()
    panel.rest_button.click()
    panel.note_length.value = "16th"
    panel.hold_button.click()
    panel.key_buttons[61].click()
    assert panel.primer == [
        67,
        NO_EVENT,
        NO_EVENT,
        NO_EVENT,
        69,
        NO_EVENT,
        NOTE_OFF,
        NO_EVENT,
        NO_EVENT,
        61,
    ]
    panel.undo_button.click()
    assert panel.primer[-1] == NO_EVENT and len(panel.primer) == 9
    panel.undo_button.click()  # each undo takes back one press: here the 16th-note hold
    panel.undo_button.click()  # and then the 8th-note rest
    assert panel.primer == [67, NO_EVENT, NO_EVENT, NO_EVENT, 69, NO_EVENT]
    assert "6 steps, 2 notes" in panel.status.value
    # The primer is heard and drawn as it grows: 6 steps of 16th notes at 120 qpm = 0.75 s.
    assert wav_seconds(panel.audio.value) == pytest.approx(0.75, abs=0.01)
    assert panel.score.value.count('class="note"') == 2


def test_continue_updates_sound_roll_and_score_together(panel):
    panel.clear_button.click()
    panel.note_length.value = "8th"
    for pitch in (60, 62, 64, 65):
        panel.key_buttons[pitch].click()
    panel.num_steps.value = 32
    panel.continue_button.click()
    result = panel.result
    assert result.events[:8] == panel.primer and len(result.events) == 8 + 32
    assert wav_seconds(panel.audio.value) == pytest.approx(40 * 0.125, abs=0.02)
    notes_played = sum(event >= 0 for event in result.events)
    assert panel.score.value.count('class="note"') >= notes_played
    assert "#E8702A" in panel.score.value.upper()  # the continuation is coloured apart
    assert panel.roll_figure is not None
    assert f"added 32 steps in {panel.seconds:.2f} s" in panel.status.value


def test_temperature_and_beam_change_the_continuation(panel):
    panel.clear_button.click()
    panel.note_length.value = "8th"
    for pitch in (67, 64, 62, 60):
        panel.key_buttons[pitch].click()
    panel.num_steps.value = 64
    panel.temperature.value = 1.0
    panel.continue_button.click()
    warm = list(panel.result.events)
    panel.temperature.value = 2.0
    panel.continue_button.click()
    hot = list(panel.result.events)
    assert warm[:8] == hot[:8] and warm != hot
    panel.temperature.value = 1.0
    panel.beam_size.value = 4
    panel.continue_button.click()
    assert panel.result.events[:8] == warm[:8]
    assert "beam size 4" in panel.status.value
    panel.beam_size.value = 1


def test_continuing_nothing_says_what_to_do(panel):
    panel.clear_button.click()
    panel.hold_button.click()
    panel.continue_button.click()
    assert "Play at least one note first" in panel.status.value
    assert panel.audio.value == b"" and panel.roll_figure is None
