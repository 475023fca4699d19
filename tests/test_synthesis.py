"""Instrument sound: measured with an FFT, not trusted because it ran."""

import numpy as np
import pytest

from melodylib.errors import MelodylibError
from melodylib.music import synthesis
from melodylib.music.notesequence import Note, NoteSequence

SAMPLE_RATE = 16000


def held(pitch, seconds=1.0):
    return NoteSequence(notes=[Note(pitch, 100, 0.0, seconds)], total_time=seconds)


def spectrum_peaks(samples, sample_rate=SAMPLE_RATE):
    """Magnitude of the spectrum at each frequency in Hz (a helper for the harmonic checks)."""
    window = samples[: sample_rate // 2] * np.hanning(sample_rate // 2)
    magnitudes = np.abs(np.fft.rfft(window))
    frequencies = np.fft.rfftfreq(window.size, 1.0 / sample_rate)
    return frequencies, magnitudes


def energy_near(frequencies, magnitudes, hertz, width=15.0):
    return magnitudes[np.abs(frequencies - hertz) < width].max()


@pytest.fixture(autouse=True)
def fresh_engine_choice(monkeypatch):
    monkeypatch.setattr(synthesis, "_choice", synthesis._EngineChoice())
    monkeypatch.delenv(synthesis.SOUNDFONT_ENV, raising=False)


needs_soundfont = pytest.mark.skipif(
    synthesis._availability_problem("soundfont") is not None,
    reason="midirenderer has no wheel for this platform (melodylib falls back to sine waves here)",
)


@needs_soundfont
def test_the_default_engine_is_the_soundfont_and_a_piano_a4_sounds_at_440_hz_with_harmonics():
    assert synthesis.synthesizer_name() == "soundfont"
    samples = synthesis.render(held(69), SAMPLE_RATE, "piano")
    frequencies, magnitudes = spectrum_peaks(samples)
    strongest = frequencies[np.argmax(magnitudes)]
    assert abs(strongest - 440.0) < 5.0 or abs(strongest - 880.0) < 5.0
    # A real instrument has overtones; a sine wave has none.
    noise_floor = np.median(magnitudes)
    assert energy_near(frequencies, magnitudes, 880.0) > 20 * noise_floor
    assert energy_near(frequencies, magnitudes, 1320.0) > 20 * noise_floor
    sine = synthesis._render_sine(held(69), SAMPLE_RATE)
    sine_frequencies, sine_magnitudes = spectrum_peaks(sine)
    assert energy_near(sine_frequencies, sine_magnitudes, 1320.0) < 0.01 * sine_magnitudes.max()


@needs_soundfont
def test_the_instrument_parameter_changes_the_timbre_not_the_pitch():
    flute = synthesis.render(held(72), SAMPLE_RATE, "flute")
    violin = synthesis.render(held(72), SAMPLE_RATE, "violin")
    flute_frequencies, flute_magnitudes = spectrum_peaks(flute)
    violin_frequencies, violin_magnitudes = spectrum_peaks(violin)
    for magnitudes in (flute_magnitudes, violin_magnitudes):
        assert energy_near(flute_frequencies, magnitudes, 523.25) > 0.1 * magnitudes.max()
    flute_shape = flute_magnitudes / flute_magnitudes.max()
    violin_shape = violin_magnitudes / violin_magnitudes.max()
    assert np.abs(flute_shape - violin_shape).sum() > 5.0


def test_instruments_by_name_or_program_and_clear_errors():
    assert synthesis.instrument("Flute").program == 73
    assert synthesis.instrument(40).program == 40
    with pytest.raises(MelodylibError, match="unknown instrument 'kazoo'.*piano"):
        synthesis.instrument("kazoo")
    with pytest.raises(MelodylibError, match="0..127"):
        synthesis.instrument(200)


def test_notes_outside_the_instruments_range_move_by_octaves(capsys):
    flute = synthesis.instrument("flute")
    sequence = NoteSequence(
        notes=[Note(43, 90, 0, 1), Note(72, 90, 1, 2), Note(110, 90, 2, 3)], total_time=3
    )
    fitted, moved = synthesis.fit_to_range(sequence, flute)
    assert [note.pitch for note in fitted.notes] == [67, 72, 86]
    assert moved == 2 and all(note.program == 73 for note in fitted.notes)
    synthesis.render(sequence, SAMPLE_RATE, "flute")
    assert "2 note(s) outside the flute's range moved by octaves" in capsys.readouterr().out


def test_normalise_sets_the_peak_and_never_clips():
    loud = np.array([0.0, 3.0, -5.0, 1.0])
    assert np.max(np.abs(synthesis.normalise(loud))) == pytest.approx(synthesis.PEAK)
    assert np.all(synthesis.normalise(np.zeros(4)) == 0)


def test_resampling_keeps_a_tone_at_its_frequency():
    rate = 48000
    tone = np.sin(2 * np.pi * 440.0 * np.arange(rate) / rate)
    for target in (16000, 22050):
        resampled = synthesis.resample(tone, rate, target)
        assert abs(resampled.size - target) <= 1
        frequencies, magnitudes = spectrum_peaks(resampled, target)
        assert abs(frequencies[np.argmax(magnitudes)] - 440.0) < 3.0


def test_an_unreadable_soundfont_falls_back_with_one_line_naming_it(tmp_path, monkeypatch, capsys):
    broken = tmp_path / "broken.sf2"
    broken.write_bytes(b"not a soundfont at all")
    monkeypatch.setenv(synthesis.SOUNDFONT_ENV, str(broken))
    monkeypatch.setattr(synthesis, "_soundfont_cache", {})
    monkeypatch.setitem(synthesis.ENGINES, "fluidsynth", _failing_engine)
    samples = synthesis.render(held(60), SAMPLE_RATE)
    assert synthesis.synthesizer_name() == "sine"
    assert samples.size > 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line]
    assert len(lines) == 1
    assert "sine waves" in lines[0] and "broken.sf2: not a SoundFont 2 file" in lines[0]
    synthesis.render(held(62), SAMPLE_RATE)
    assert capsys.readouterr().out == ""  # said once


def _failing_engine(sequence, sample_rate):
    raise OSError("libfluidsynth not found")


def test_drums_keep_their_notes_when_an_instrument_is_chosen():
    sequence = NoteSequence(
        notes=[Note(36, 90, 0, 1, 0, 0, True), Note(40, 90, 0, 1)], total_time=1
    )
    fitted, moved = synthesis.fit_to_range(sequence, synthesis.instrument("flute"))
    assert fitted.notes[0] == sequence.notes[0] and moved == 1
