"""Tests for melodylib.course.display: piano rolls, encoding pictures, probabilities, training curves, audio."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import types
import wave
from pathlib import Path
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")  # headless: tests never need a screen

import matplotlib.image
import matplotlib.pyplot as pyplot
import numpy as np
import pytest

from melodylib.course import display
from melodylib.errors import MelodylibError
from melodylib.music import synthesis
from melodylib.music.notesequence import Note, NoteSequence, Tempo, TimeSignature

NOTE_NAME = re.compile(r"^[A-G]#?-?\d+$")

# Two bars: a four-note primer bar (C4 G4 A4 G4) and a continuation bar with a rest.
PRIMER = [60, -2, -2, -2, 67, -2, -2, -2, 69, -2, -2, -2, 67, -2, -2, -1]
CONTINUATION = [65, -2, 64, -2, 62, -2, -1, -2, -2, -2, 60, -2, -2, -2, -2, -2]
MELODY = PRIMER + CONTINUATION


# --- helpers ------------------------------------------------------------------------------------


def save_and_check_png(figure, path: Path) -> np.ndarray:
    """Save `figure` as PNG, check it is a real, non-blank picture, and return its pixels."""
    figure.savefig(path, dpi=60)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 5000
    pixels = matplotlib.image.imread(path)
    assert pixels.shape[0] > 100 and pixels.shape[1] > 100
    assert pixels[..., :3].std() > 0.05  # not a blank image
    return pixels


def note_patches(axes, kind: str | None = None) -> list:
    prefix = "note" if kind is None else f"note-{kind}"
    return [patch for patch in axes.patches if (patch.get_gid() or "").startswith(prefix)]


def bar_lines(axes) -> list[float]:
    return sorted(float(line.get_xdata()[0]) for line in axes.lines if line.get_gid() == "bar-line")


def sequence_of(pitches_and_times, **fields) -> NoteSequence:
    notes = [Note(pitch, 80, start, end) for pitch, start, end in pitches_and_times]
    return NoteSequence(notes=notes, **fields)


@pytest.fixture
def fresh_synthesizer_state(monkeypatch):
    """Forget which synthesizer this process found and whether the fallback line was printed."""
    monkeypatch.setattr(synthesis, "_choice", synthesis._EngineChoice())
    monkeypatch.delenv(synthesis.SOUNDFONT_ENV, raising=False)


@pytest.fixture
def no_soundfont(monkeypatch, fresh_synthesizer_state):
    monkeypatch.setitem(sys.modules, "midirenderer", None)  # `import midirenderer` raises


@pytest.fixture
def no_fluidsynth(monkeypatch, no_soundfont):
    """Sine waves only: neither the SoundFont renderer nor fluidsynth can be imported."""
    monkeypatch.setitem(sys.modules, "fluidsynth", None)


@pytest.fixture
def fake_fluidsynth_module(monkeypatch, no_soundfont):
    monkeypatch.setitem(sys.modules, "fluidsynth", types.ModuleType("fluidsynth"))


# --- pitch names and note spans ----------------------------------------------------------------


@pytest.mark.parametrize(
    "pitch, name",
    [(60, "C4"), (66, "F#4"), (69, "A4"), (0, "C-1"), (127, "G9"), (48, "C3"), (83, "B5")],
)
def test_pitch_name(pitch, name):
    assert display.pitch_name(pitch) == name


@pytest.mark.parametrize("bad", [-1, 128, 60.5, True, "60"])
def test_pitch_name_rejects_non_pitches(bad):
    with pytest.raises(MelodylibError, match="0 to 127"):
        display.pitch_name(bad)


def test_event_note_spans_end_at_next_note_on_note_off_or_end():
    events = [60, -2, -2, 62, -1, -2, 64, 64, -2]
    assert display.event_note_spans(events) == [(60, 0, 3), (62, 3, 4), (64, 6, 7), (64, 7, 9)]
    assert display.event_note_spans([]) == []
    assert display.event_note_spans([-2, -1, -2]) == []


def test_event_note_spans_rejects_bad_events():
    with pytest.raises(MelodylibError, match="position 1"):
        display.event_note_spans([60, -3])


# --- piano rolls ---------------------------------------------------------------------------------


def test_piano_roll_of_events_with_primer(tmp_path):
    figure = display.plot_piano_roll(
        MELODY, primer_steps=len(PRIMER), title="primer and continuation"
    )
    save_and_check_png(figure, tmp_path / "roll.png")
    axes = figure.axes[0]
    spans = display.event_note_spans(MELODY)
    primer_patches, continuation_patches = (
        note_patches(axes, "primer"),
        note_patches(axes, "continuation"),
    )
    assert len(primer_patches) + len(continuation_patches) == len(spans) == 8
    assert len(primer_patches) == 4
    primer_colors = {patch.get_facecolor() for patch in primer_patches}
    continuation_colors = {patch.get_facecolor() for patch in continuation_patches}
    assert (
        len(primer_colors) == 1
        and len(continuation_colors) == 1
        and primer_colors != continuation_colors
    )
    # Rectangles sit where the events say: C4 from step 0 to 4, the last C4 from 26 to the end (32).
    rectangles = sorted(
        (patch.get_x(), patch.get_width(), patch.get_y() + patch.get_height() / 2)
        for patch in note_patches(axes)
    )
    assert rectangles[0] == pytest.approx((0.0, 4.0, 60.0))
    assert rectangles[-1] == pytest.approx((26.0, 6.0, 60.0))
    labels = [label.get_text() for label in axes.get_yticklabels()]
    assert labels and all(NOTE_NAME.match(label) for label in labels)
    assert "C4" in labels and "A4" in labels
    assert bar_lines(axes) == [16.0]  # 32 steps = 2 bars: one line between them
    assert any(line.get_gid() == "primer-end" and line.get_xdata()[0] == 16 for line in axes.lines)
    assert axes.get_xlim() == (0.0, 32.0)
    assert "primer" in [text.get_text() for text in axes.get_legend().get_texts()]


def test_piano_roll_pitch_axis_is_notes_range_plus_margin():
    axes = display.plot_piano_roll(MELODY, pitch_margin=3).axes[0]
    assert axes.get_ylim() == (60 - 3 - 0.5, 69 + 3 + 0.5)
    axes = display.plot_piano_roll(MELODY, pitch_range=(48, 84)).axes[0]
    assert axes.get_ylim() == (47.5, 84.5)


def test_piano_roll_without_primer_uses_one_colour():
    axes = display.plot_piano_roll(MELODY).axes[0]
    assert len({patch.get_facecolor() for patch in note_patches(axes)}) == 1
    assert not any(line.get_gid() == "primer-end" for line in axes.lines)


def test_piano_roll_bar_lines_every_steps_per_bar():
    events = [60] + [-2] * 63
    assert bar_lines(display.plot_piano_roll(events).axes[0]) == [16.0, 32.0, 48.0]
    assert bar_lines(display.plot_piano_roll(events, steps_per_bar=12).axes[0]) == [
        12.0,
        24.0,
        36.0,
        48.0,
        60.0,
    ]


def test_piano_roll_in_seconds_uses_the_tempo():
    events = [60] + [-2] * 63  # 64 sixteenths at 120 qpm = 8 s, 2 s per bar
    axes = display.plot_piano_roll(events, time_unit="seconds", primer_steps=16).axes[0]
    assert axes.get_xlim() == pytest.approx((0.0, 8.0))
    assert bar_lines(axes) == pytest.approx([2.0, 4.0, 6.0])
    assert [line.get_xdata()[0] for line in axes.lines if line.get_gid() == "primer-end"] == [
        pytest.approx(2.0)
    ]
    slower = display.plot_piano_roll(events, time_unit="seconds", qpm=60).axes[0]
    assert slower.get_xlim() == pytest.approx((0.0, 16.0))


def test_melody_start_step_shifts_the_bar_lines():
    melody = SimpleNamespace(
        events=[60] + [-2] * 31, start_step=4, steps_per_bar=16, steps_per_quarter=4
    )
    axes = display.plot_piano_roll(melody).axes[0]
    assert bar_lines(axes) == [12.0, 28.0]  # the melody starts 4 steps into a bar
    assert axes.get_xlim() == (0.0, 32.0)


def test_piano_roll_of_note_sequence_uses_its_tempo_and_meter_and_skips_drums(tmp_path):
    notes = [Note(60 + index % 12, 90, index * 0.5, index * 0.5 + 0.4) for index in range(24)]
    drums = [Note(36, 100, index * 0.5, index * 0.5 + 0.1, 1, 0, True) for index in range(10)]
    sequence = NoteSequence(
        notes=notes + drums,
        tempos=[Tempo(0.0, 90.0)],
        time_signatures=[TimeSignature(0.0, 3, 4)],
        total_time=12.0,
    )
    figure = display.plot_piano_roll(sequence, primer_end_time=3.0)
    save_and_check_png(figure, tmp_path / "sequence.png")
    axes = figure.axes[0]
    assert len(note_patches(axes)) == 24  # drums are not drawn
    assert len(note_patches(axes, "primer")) == 6  # notes starting before 3 s
    assert "10 drum notes not shown" in axes.get_title()
    # 12 s at 90 qpm, 4 steps per quarter = 72 steps; 3/4 gives 12 steps per bar.
    assert axes.get_xlim() == pytest.approx((0.0, 72.0))
    assert bar_lines(axes) == pytest.approx([12.0, 24.0, 36.0, 48.0, 60.0])


def test_piano_roll_of_a_midi_file(tmp_path):
    from melodylib.music.notesequence import write_midi

    sequence = sequence_of(
        [(60, 0.0, 0.5), (64, 0.5, 1.0), (67, 1.0, 2.0)], tempos=[Tempo(0.0, 120.0)], total_time=2.0
    )
    path = tmp_path / "three.mid"
    write_midi(sequence, path)
    figure = display.plot_piano_roll(path, title="from a MIDI file")
    save_and_check_png(figure, tmp_path / "midi.png")
    axes = figure.axes[0]
    assert len(note_patches(axes)) == 3
    assert axes.get_xlim()[1] == pytest.approx(16.0, abs=0.1)  # 2 s at 120 qpm = 16 steps


def test_piano_roll_of_an_empty_melody_still_draws():
    axes = display.plot_piano_roll([-2] * 16).axes[0]
    assert note_patches(axes) == []
    assert any(text.get_text() == "no notes" for text in axes.texts)


def test_piano_roll_errors_name_the_problem(tmp_path):
    with pytest.raises(MelodylibError, match="time_unit"):
        display.plot_piano_roll(MELODY, time_unit="beats")
    with pytest.raises(MelodylibError, match="not both"):
        display.plot_piano_roll(MELODY, primer_steps=4, primer_end_time=1.0)
    with pytest.raises(MelodylibError, match="cannot display a dict"):
        display.plot_piano_roll({"notes": []})
    with pytest.raises(MelodylibError, match="no such file"):
        display.plot_piano_roll(tmp_path / "missing.mid")
    with pytest.raises(MelodylibError, match="position 2"):
        display.plot_piano_roll([60, -2, 200])


def test_figures_are_detached_from_pyplot():
    before = pyplot.get_fignums()
    display.plot_piano_roll(MELODY)
    display.plot_piano_rolls([MELODY, MELODY])
    assert pyplot.get_fignums() == before  # a notebook shows the returned figure once, not twice


def test_piano_roll_draws_into_given_axes():
    figure, axes = pyplot.subplots()
    try:
        assert display.plot_piano_roll(MELODY, ax=axes) is figure
        assert len(note_patches(axes)) == 8
    finally:
        pyplot.close(figure)


def test_piano_rolls_side_by_side_share_pitch_and_time(tmp_path):
    musics = [MELODY, [72, -2, -2, -2, 74] + [-2] * 11, PRIMER, [55] + [-2] * 47]
    titles = ["basic_rnn", "mono_rnn", "lookback_rnn", "attention_rnn"]
    figure = display.plot_piano_rolls(musics, titles, ncols=2, primer_steps=[16, None, 8, 0])
    save_and_check_png(figure, tmp_path / "grid.png")
    axes = [axis for axis in figure.axes if axis.get_visible()]
    assert len(axes) == 4
    assert [axis.get_title() for axis in axes] == titles
    assert {axis.get_ylim() for axis in axes} == {(55 - 2.5, 74 + 2.5)}
    assert {axis.get_xlim() for axis in axes} == {(0.0, 48.0)}
    assert [len(note_patches(axis)) for axis in axes] == [8, 2, 4, 1]
    assert (
        len(note_patches(axes[2], "primer")) == 2
        and len(note_patches(axes[3], "continuation")) == 1
    )
    assert (
        all(axis.get_legend() is None for axis in axes) and len(figure.legends) == 1
    )  # one legend for all


def test_piano_rolls_stacked_temperature_sweep(tmp_path):
    musics = [PRIMER + CONTINUATION[: 4 * index] for index in range(1, 4)]
    figure = display.plot_piano_rolls(
        musics, [f"temperature {t}" for t in (0.5, 1.0, 1.5)], primer_steps=16
    )
    save_and_check_png(figure, tmp_path / "stack.png")
    assert len(figure.axes) == 3
    assert all(len(note_patches(axis, "primer")) == 4 for axis in figure.axes)


def test_piano_rolls_errors():
    with pytest.raises(MelodylibError, match="one title per piece"):
        display.plot_piano_rolls([MELODY, MELODY], ["only one"])
    with pytest.raises(MelodylibError, match="primer_steps has 1 entries"):
        display.plot_piano_rolls([MELODY, MELODY], primer_steps=[4])
    with pytest.raises(MelodylibError, match="at least one"):
        display.plot_piano_rolls([])


# --- audio ---------------------------------------------------------------------------------------


def test_synthesize_length_and_silence(no_fluidsynth):
    sample_rate = 8000
    events = (
        [-2] * 8 + [69] + [-2] * 7 + [-1] + [-2] * 15
    )  # rest 1 s, A4 for 1 s, rest 2 s at 120 qpm
    samples = display.synthesize(events, sample_rate=sample_rate)
    assert samples.dtype == np.float32
    assert samples.shape == (len(events) * sample_rate // 8,)  # 32 sixteenths at 120 qpm = 4 s
    assert np.all(samples[:sample_rate] == 0.0)  # silent before the note
    assert np.all(samples[2 * sample_rate + 10 :] == 0.0)  # and after it
    assert np.abs(samples[sample_rate : 2 * sample_rate]).max() == pytest.approx(0.9, abs=1e-3)
    # The note is an A4: 440 Hz, so about 880 zero crossings per second.
    crossings = np.count_nonzero(np.diff(np.signbit(samples[sample_rate : int(1.5 * sample_rate)])))
    assert crossings == pytest.approx(440, rel=0.05)


def test_synthesize_uses_the_tempo_for_melodies_and_total_time_for_sequences(no_fluidsynth):
    assert display.synthesize([60] + [-2] * 15, sample_rate=1000, qpm=60).shape == (4000,)
    sequence = sequence_of([(60, 0.5, 1.0)], total_time=3.0)
    samples = display.synthesize(sequence, sample_rate=1000)
    assert samples.shape == (3000,)
    assert (
        np.all(samples[:500] == 0.0) and np.all(samples[1010:] == 0.0) and samples[500:1000].any()
    )


def test_synthesize_empty_and_drum_only_music_is_silent(no_fluidsynth):
    assert display.synthesize([], sample_rate=1000).shape == (0,)
    drums = NoteSequence(notes=[Note(36, 100, 0.0, 0.5, 0, 0, True)], total_time=1.0)
    samples = display.synthesize(drums, sample_rate=1000)
    assert samples.shape == (1000,) and not np.isnan(samples).any() and not samples.any()


def test_synthesize_max_seconds_cuts_the_music(no_fluidsynth):
    samples = display.synthesize(MELODY, sample_rate=1000, max_seconds=1.5)
    assert samples.shape == (1500,)


def test_missing_fluidsynth_prints_one_line_once(no_fluidsynth, capsys, tmp_path):
    assert display.synthesizer_name() == "sine"
    display.synthesize(MELODY, sample_rate=2000)
    display.synthesize(MELODY, sample_rate=2000)
    display.write_wav(MELODY, tmp_path / "melody.wav", sample_rate=2000)
    output = capsys.readouterr()
    lines = (output.out + output.err).strip().splitlines()
    assert len(lines) == 1
    assert "midirenderer" in lines[0] and "fluidsynth" in lines[0] and "sine" in lines[0]


def test_fluidsynth_is_used_when_present(fake_fluidsynth_module, monkeypatch, capsys):
    import pretty_midi

    calls = []

    def fake_fluidsynth(self, fs=None, **options):
        calls.append(fs)
        return np.full(int(fs * 10), 0.5)  # longer than the music, like a release tail

    monkeypatch.setattr(pretty_midi.PrettyMIDI, "fluidsynth", fake_fluidsynth)
    assert display.synthesizer_name() == "fluidsynth"
    samples = display.synthesize(MELODY, sample_rate=1000)
    assert calls == [1000]
    assert samples.shape == (4000,)  # cut to the music's length
    assert samples.max() == pytest.approx(0.9)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 and "plays with fluidsynth" in lines[0]


def test_broken_fluidsynth_falls_back_to_sine_once(fake_fluidsynth_module, monkeypatch, capsys):
    import pretty_midi

    def broken(self, fs=None, **options):
        raise OSError("libfluidsynth.so: cannot open shared object file")

    monkeypatch.setattr(pretty_midi.PrettyMIDI, "fluidsynth", broken)
    samples = display.synthesize(MELODY, sample_rate=1000)
    display.synthesize(MELODY, sample_rate=1000)
    assert samples.shape == (4000,) and samples.any()
    assert display.synthesizer_name() == "sine"
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 and "libfluidsynth.so" in lines[0]


@pytest.mark.skipif(
    synthesis._availability_problem("soundfont") is not None,
    reason="midirenderer has no wheel for this platform",
)
def test_the_default_sound_is_an_instrument_chosen_by_name(fresh_synthesizer_state):
    assert display.synthesizer_name() == "soundfont"
    piano = display.synthesize(MELODY, sample_rate=8000)
    flute = display.synthesize(MELODY, sample_rate=8000, instrument="flute")
    assert piano.shape == flute.shape == (32000,)
    assert np.abs(piano).max() == pytest.approx(0.9, abs=1e-3)
    assert np.abs(flute).max() == pytest.approx(0.9, abs=1e-3)
    assert not np.allclose(piano, flute, atol=0.05)


def test_playing_nothing_says_so_instead_of_failing(no_fluidsynth, capsys):
    assert display.play([]) is None
    assert "nothing to play" in capsys.readouterr().out


def test_write_wav_round_trips(no_fluidsynth, tmp_path):
    path = tmp_path / "audio" / "melody.wav"
    assert display.write_wav(MELODY, path, sample_rate=8000) == path
    with wave.open(str(path), "rb") as reader:
        assert reader.getnchannels() == 1
        assert reader.getsampwidth() == 2
        assert reader.getframerate() == 8000
        assert reader.getnframes() == 32 * 1000  # 32 sixteenths at 120 qpm = 4 s
        pcm = np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2")
    expected = display.synthesize(MELODY, sample_rate=8000)
    assert np.abs(pcm / 32767.0 - expected).max() < 1.0 / 32767.0 + 1e-6
    assert [item.name for item in path.parent.iterdir()] == [
        "melody.wav"
    ]  # no temporary left behind


def test_play_returns_an_audio_player(no_fluidsynth):
    from IPython.display import Audio

    player = display.play(MELODY, sample_rate=4000, max_seconds=2.0)
    assert isinstance(player, Audio)
    with wave.open(io.BytesIO(player.data), "rb") as reader:
        assert reader.getframerate() == 4000
        assert reader.getnframes() == 8000  # cut to max_seconds


def test_synthesize_rejects_bad_sample_rate():
    with pytest.raises(MelodylibError, match="sample_rate"):
        display.synthesize(MELODY, sample_rate=0)


# --- encodings -----------------------------------------------------------------------------------


class TinyEncoder:
    """A hand-made encoder: 3 features (one with -1/+1 values), 3 classes."""

    input_size = 3
    num_classes = 3

    def encode(self, events):
        positions = np.arange(len(events) - 1)
        inputs = np.stack(
            [positions % 2, (positions % 3 == 0).astype(float), np.where(positions % 2, 1.0, -1.0)],
            axis=1,
        )
        labels = np.array([0 if event == -2 else 1 if event == -1 else 2 for event in events[1:]])
        return inputs.astype(np.float32), labels


def test_plot_encoding_with_given_blocks(tmp_path):
    events = [60, -2, -1, -2, 62, -2, -2, -1]
    blocks = [("odd", 0, 1), ("every third", 1, 2), ("counter", 2, 3)]
    figure = display.plot_encoding(TinyEncoder(), events, feature_blocks=blocks, steps_per_bar=4)
    save_and_check_png(figure, tmp_path / "tiny.png")
    image_axes, label_axes = figure.axes[0], figure.axes[1]
    inputs, labels = TinyEncoder().encode(events)
    np.testing.assert_array_equal(image_axes.images[0].get_array(), inputs.T)
    assert image_axes.images[0].get_cmap().name == "RdBu_r"
    assert image_axes.images[0].get_clim() == (-1.0, 1.0)
    assert [label.get_text() for label in image_axes.get_yticklabels()] == [
        "odd",
        "every third",
        "counter",
    ]
    assert [text.get_text() for text in label_axes.texts] == [str(label) for label in labels]
    with pytest.raises(MelodylibError, match="does not fit"):
        display.plot_encoding(TinyEncoder(), events, feature_blocks=[("too big", 0, 4)])
    with pytest.raises(MelodylibError, match="at least 2 events"):
        display.plot_encoding(TinyEncoder(), [60])


def encoders_module():
    from melodylib.encoding import encoders

    return encoders


def test_encoders_describe_the_spec_layouts():
    """The plots read each encoder's own description; it matches the layouts of the spec."""
    encoders = encoders_module()
    encoding = encoders.MelodyOneHotEncoding(48, 84)
    one_hot = encoders.OneHotEncoder(encoding).feature_blocks()
    assert len(one_hot) == 38
    assert one_hot[:3] == [("no event", 0, 1), ("note off", 1, 2), ("C3", 2, 3)]
    assert one_hot[-1] == ("B5", 37, 38)
    # magenta-behaviour.md: "Lookback encoding": one-hot [0, 37], lookbacks [38, 75] and [76, 113], counter 114..118, repeats 119, 120.
    assert encoders.LookbackEncoder(encoding).feature_blocks() == [
        ("current", 0, 38),
        ("1 bar ago", 38, 76),
        ("2 bars ago", 76, 114),
        ("counter", 114, 119),
        ("repeat", 119, 121),
    ]
    # magenta-behaviour.md: "Key encoding": note [0, 35], 36 sounding, 37 silence, 38 attack, 39 direction, 40-41 repeats,
    # 42..48 counter, 49 bar start, 50..61 and 62..73 key histograms.
    assert encoders.KeyEncoder(48, 84).feature_blocks() == [
        ("note", 0, 36),
        ("sounding", 36, 37),
        ("silence", 37, 38),
        ("attack", 38, 39),
        ("up/down", 39, 40),
        ("repeat", 40, 42),
        ("counter", 42, 49),
        ("bar start", 49, 50),
        ("key (all notes)", 50, 62),
        ("key (last 3)", 62, 74),
    ]
    mono = encoders.OneHotEncoder(encoders.MelodyOneHotEncoding(0, 128)).feature_blocks()
    assert len(mono) == 130 and mono[2][0] == "C-1" and mono[-1][0] == "G9"


def test_class_names_follow_each_encoders_class_order():
    encoders = encoders_module()
    encoding = encoders.MelodyOneHotEncoding(48, 84)
    one_hot = display.class_names(encoders.OneHotEncoder(encoding))
    assert one_hot[:3] == ["no event", "note off", "C3"] and len(one_hot) == 38
    lookback = display.class_names(encoders.LookbackEncoder(encoding))
    assert lookback[38:] == ["repeat 1 bar ago", "repeat 2 bars ago"]
    key = display.class_names(encoders.KeyEncoder(48, 84))
    assert (
        key[0] == "C3"
        and key[35] == "B5"
        and key[36:] == ["no event", "note off", "repeat 1 bar ago", "repeat 2 bars ago"]
    )
    assert display.class_names(TinyEncoder()) == [
        "0",
        "1",
        "2",
    ]  # an encoder that does not describe itself


def test_the_guessing_helpers_are_gone():
    """The plots take every layout from the encoders; nothing in display works one out."""
    for name in (
        "default_feature_blocks",
        "_guess_min_note",
        "_encoder_layout",
        "_encoder_kind",
        "_find_attribute",
    ):
        assert not hasattr(display, name) and not hasattr(display.encodings, name)


@pytest.mark.parametrize("kind", ["onehot", "lookback", "key"])
def test_plot_encoding_of_each_encoder(kind, tmp_path):
    encoders = encoders_module()
    encoding = encoders.MelodyOneHotEncoding(48, 84)
    encoder = {
        "onehot": lambda: encoders.OneHotEncoder(encoding),
        "lookback": lambda: encoders.LookbackEncoder(encoding),
        "key": lambda: encoders.KeyEncoder(48, 84),
    }[kind]()
    figure = display.plot_encoding(encoder, MELODY)
    save_and_check_png(figure, tmp_path / f"{kind}.png")
    image_axes, label_axes = figure.axes[0], figure.axes[1]
    inputs, labels = encoder.encode(MELODY)
    assert image_axes.images[0].get_array().shape == (encoder.input_size, len(MELODY) - 1)
    np.testing.assert_array_equal(image_axes.images[0].get_array(), inputs.T)
    assert [int(text.get_text()) for text in label_axes.texts] == [int(label) for label in labels]
    tick_labels = [label.get_text() for label in image_axes.get_yticklabels()]
    expected = {
        "onehot": {"no event", "C4"},
        "lookback": {"current", "1 bar ago", "counter"},
        "key": {"note", "attack", "key (last 3)"},
    }
    assert expected[kind] <= set(tick_labels)


# --- probabilities -------------------------------------------------------------------------------


def test_plot_probabilities_marks_the_actual_next_event(tmp_path):
    rng = np.random.default_rng(0)
    probabilities = rng.dirichlet(np.ones(38), size=len(MELODY) - 1)
    figure = display.plot_probabilities(probabilities, MELODY)
    save_and_check_png(figure, tmp_path / "probabilities.png")
    axes = figure.axes[0]
    np.testing.assert_allclose(axes.images[0].get_array(), probabilities.T)
    marks = [
        collection for collection in axes.collections if collection.get_gid() == "actual-next"
    ][0].get_offsets()
    # One-hot classes for 48..84: 0 no event, 1 note off, pitch p -> p - 46. Row t predicts event t + 1.
    expected = [0 if event == -2 else 1 if event == -1 else event - 46 for event in MELODY[1:]]
    np.testing.assert_array_equal(np.asarray(marks)[:, 1], expected)
    np.testing.assert_array_equal(np.asarray(marks)[:, 0], np.arange(len(MELODY) - 1))
    labels = [label.get_text() for label in axes.get_yticklabels()]
    assert labels[:3] == ["no event", "note off", "C3"]


def test_plot_probabilities_aligns_rows_to_the_end_and_uses_the_encoder():
    encoders = encoders_module()
    encoder = encoders.KeyEncoder(48, 84)
    probabilities = np.full((5, 40), 1 / 40)
    axes = display.plot_probabilities(probabilities, MELODY, encoder=encoder).axes[0]
    marks = np.asarray(
        [c for c in axes.collections if c.get_gid() == "actual-next"][0].get_offsets()
    )
    np.testing.assert_array_equal(marks[:, 1], encoder.labels(MELODY)[-5:])
    assert [label.get_text() for label in axes.get_yticklabels()][36:38] == ["no event", "note off"]


def test_plot_probabilities_errors_and_plain_labels(tmp_path):
    figure = display.plot_probabilities(
        np.full((4, 5), 0.2), actual_classes=[0, 1, 4, 2], class_labels=list("abcde")
    )
    save_and_check_png(figure, tmp_path / "small.png")
    assert [label.get_text() for label in figure.axes[0].get_yticklabels()] == list("abcde")
    with pytest.raises(MelodylibError, match="at least 5 events"):
        display.plot_probabilities(np.full((4, 38), 1 / 38), [60, -2, -2, -2])
    with pytest.raises(MelodylibError, match="one label per class"):
        display.plot_probabilities(np.full((4, 5), 0.2), class_labels=["a"])
    with pytest.raises(MelodylibError, match="encoder="):
        display.plot_probabilities(np.full((4, 40), 0.025), MELODY)
    with pytest.raises(MelodylibError, match="shape"):
        display.plot_probabilities(np.zeros(5))


# --- training curves -----------------------------------------------------------------------------


def lines_of(axes) -> list:
    return [line for line in axes.lines if not line.get_label().startswith("_")]


def test_training_curves_from_a_keras_style_history(tmp_path):
    history = {"loss": [2.0, 1.5, 1.2], "val_loss": [2.1, 1.7, 1.5], "accuracy": [0.3, 0.5, 0.6]}
    figure = display.plot_training_curves(history)
    save_and_check_png(figure, tmp_path / "curves.png")
    loss_axes, accuracy_axes = figure.axes
    assert loss_axes.get_title() == "loss" and accuracy_axes.get_title() == "accuracy"
    assert [line.get_linestyle() for line in lines_of(loss_axes)] == ["-", "--"]
    np.testing.assert_array_equal(lines_of(loss_axes)[1].get_ydata(), [2.1, 1.7, 1.5])
    np.testing.assert_array_equal(lines_of(loss_axes)[0].get_xdata(), [1, 2, 3])
    assert loss_axes.get_xlabel() == "epoch"
    assert len(display.plot_training_curves(history, metrics=["accuracy"]).axes) == 1
    with pytest.raises(MelodylibError, match='"perplexity" is not in the training history'):
        display.plot_training_curves(history, metrics=["perplexity"])


def test_training_curves_compare_named_runs():
    runs = [{"loss": [2.0, 1.0]}, {"loss": [2.5, 1.5]}]
    axes = display.plot_training_curves(runs, names=["basic_rnn", "lookback_rnn"]).axes[0]
    assert [line.get_label() for line in lines_of(axes)] == [
        "basic_rnn (train)",
        "lookback_rnn (train)",
    ]
    assert lines_of(axes)[0].get_color() != lines_of(axes)[1].get_color()
    as_dict = display.plot_training_curves({"a": {"loss": [1.0]}, "b": {"loss": [2.0]}}).axes[0]
    assert [line.get_label() for line in lines_of(as_dict)] == ["a (train)", "b (train)"]
    with pytest.raises(MelodylibError, match="one name per history"):
        display.plot_training_curves(runs, names=["only one"])


def test_training_curves_from_a_training_result():
    result = SimpleNamespace(
        history=[
            {
                "step": 100,
                "loss": 2.0,
                "accuracy": 0.4,
                "steps_per_second": 9.0,
                "no_event_accuracy": float("nan"),
            },
            {
                "step": 200,
                "loss": 1.6,
                "accuracy": 0.5,
                "steps_per_second": 9.5,
                "no_event_accuracy": float("nan"),
            },
        ],
        eval_history=[
            {"step": 200, "loss": 1.8, "accuracy": 0.45, "no_event_accuracy": float("nan")}
        ],
    )
    figure = display.plot_training_curves(result)
    titles = [axis.get_title() for axis in figure.axes if axis.get_visible()]
    assert titles == [
        "loss",
        "accuracy",
        "no_event_accuracy",
    ]  # bookkeeping (steps_per_second) left out
    loss_lines = lines_of(figure.axes[0])
    np.testing.assert_array_equal(loss_lines[0].get_xdata(), [100, 200])
    np.testing.assert_array_equal(loss_lines[1].get_xdata(), [200])
    assert figure.axes[0].get_xlabel() == "training step"
    assert lines_of(figure.axes[2]) == []  # all-NaN curves are not drawn
    records = display.plot_training_curves(result.history, metrics=["loss"]).axes[0]
    np.testing.assert_array_equal(lines_of(records)[0].get_ydata(), [2.0, 1.6])


# --- import cost ---------------------------------------------------------------------------------


def test_importing_display_does_not_import_matplotlib_or_tensorflow():
    code = "import sys, melodylib.course.display; print('matplotlib' in sys.modules, 'tensorflow' in sys.modules)"
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert output.split() == ["False", "False"]


# --- with melodylib.music.melodies.Melody --------------------------------------------------------------


def test_real_melody_objects_are_drawn_and_played(no_fluidsynth, tmp_path):
    from melodylib.music import melodies

    melody = melodies.Melody(MELODY, start_step=16, steps_per_bar=16, steps_per_quarter=4)
    figure = display.plot_piano_roll(melody, primer_steps=16)
    save_and_check_png(figure, tmp_path / "melody.png")
    axes = figure.axes[0]
    assert len(note_patches(axes)) == 8 and bar_lines(axes) == [16.0]
    assert display.synthesize(melody, sample_rate=1000).shape == (4000,)
    inputs_figure = display.plot_probabilities(np.full((len(MELODY) - 1, 38), 1 / 38), melody)
    assert len(inputs_figure.axes[0].collections) == 1
