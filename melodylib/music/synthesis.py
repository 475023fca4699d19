"""Sound from a NoteSequence: a General MIDI SoundFont by default, sine waves as the last resort.

A music course should sound like music, with nothing to install but the project. pretty_midi ships a
General MIDI SoundFont (`TimGM6mb.sf2`) and `midirenderer` (a pip wheel with no dependencies)
renders a MIDI file with it, so instrument sound needs no system library. The engines are tried in
this order, and the first that works plays:

1. "soundfont": midirenderer with the SoundFont (pretty_midi's, or one the user names);
2. "fluidsynth": pyfluidsynth with libfluidsynth, where a user installed them;
3. "sine": pretty_midi's sine waves, which need nothing.

When an engine cannot play, one line says which engine plays instead and why, once per process.
`synthesizer_name()` says at any time which engine plays. Loudness is the caller's business:
`render` returns the raw mix; `normalise` scales a clip to a fixed peak so it never clips.
"""

from __future__ import annotations

import io
import os
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from melodylib.errors import MelodylibError
from melodylib.music.notesequence import Note, NoteSequence, note_sequence_to_pretty_midi

# General MIDI programs (0-based) of the instruments a course is likely to want, with the range of
# pitches each can play (a real player's range, a little generous). Any program number 0..127 works.
INSTRUMENTS: dict[str, tuple[int, int, int]] = {
    "piano": (0, 21, 108),
    "harpsichord": (6, 29, 89),
    "vibraphone": (11, 53, 89),
    "organ": (19, 24, 96),
    "guitar": (24, 40, 88),
    "violin": (40, 55, 103),
    "cello": (42, 36, 76),
    "trumpet": (56, 52, 84),
    "clarinet": (71, 50, 94),
    "flute": (73, 60, 96),
    "recorder": (74, 60, 96),
}
DEFAULT_INSTRUMENT = "piano"
PEAK = 0.9  # the peak of normalised audio: about -1 dBFS, never clipping
SOUNDFONT_ENV = "MELODYLIB_SOUNDFONT"  # a path to another .sf2 file


@dataclass(frozen=True)
class Instrument:
    """A General MIDI program and the pitch range it is played in."""

    name: str
    program: int
    lowest: int
    highest: int


def instrument(name_or_program: str | int = DEFAULT_INSTRUMENT) -> Instrument:
    """The instrument called `name_or_program` ("flute"), or a General MIDI program number (0..127)."""
    if isinstance(name_or_program, str):
        key = name_or_program.strip().lower()
        if key not in INSTRUMENTS:
            raise MelodylibError(
                f"unknown instrument {name_or_program!r}; choose one of {', '.join(INSTRUMENTS)} "
                "or give a General MIDI program number 0..127"
            )
        return Instrument(key, *INSTRUMENTS[key])
    if isinstance(name_or_program, bool) or not isinstance(name_or_program, (int, np.integer)):
        raise MelodylibError(
            f"instrument must be a name or a program number, got {name_or_program!r}"
        )
    program = int(name_or_program)
    if not 0 <= program <= 127:
        raise MelodylibError(f"instrument program {program} is not a General MIDI program (0..127)")
    return Instrument(f"program {program}", program, 0, 127)


def fit_to_range(sequence: NoteSequence, voice: Instrument) -> tuple[NoteSequence, int]:
    """The sequence with every note outside the instrument's range moved by octaves into it.

    A flute cannot play a low G; rather than a strange stretched sample, the note sounds an octave
    (or two) higher. Returns the new sequence and how many notes moved.
    """
    moved = 0
    notes = []
    for note in sequence.notes:
        if note.is_drum:  # a drum's pitch names the drum, not a note to move
            notes.append(note)
            continue
        pitch = note.pitch
        while pitch < voice.lowest and pitch + 12 <= 127:
            pitch += 12
        while pitch > voice.highest and pitch - 12 >= 0:
            pitch -= 12
        moved += pitch != note.pitch
        notes.append(
            Note(
                pitch,
                note.velocity,
                note.start_time,
                note.end_time,
                note.instrument,
                voice.program,
                note.is_drum,
            )
        )
    return sequence.replace(notes=notes), moved


# --------------------------------------------------------------------------------------------
# The engines
# --------------------------------------------------------------------------------------------


def default_soundfont() -> Path | None:
    """The SoundFont to use: $MELODYLIB_SOUNDFONT if set, else pretty_midi's TimGM6mb.sf2."""
    chosen = os.environ.get(SOUNDFONT_ENV)
    if chosen:
        return Path(chosen)
    try:
        import pretty_midi
    except ImportError:
        return None
    path = Path(pretty_midi.__file__).resolve().parent / "TimGM6mb.sf2"
    return path if path.exists() else None


_soundfont_cache: dict[Path, bytes] = {}


def _soundfont_bytes(path: Path) -> bytes:
    """The SoundFont's bytes, checked to be a RIFF sfbk file (read once per process)."""
    if path not in _soundfont_cache:
        try:
            data = path.read_bytes()
        except OSError as error:
            raise MelodylibError(
                f"SoundFont {path}: cannot read it ({error.strerror or error})"
            ) from error
        if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"sfbk":
            raise MelodylibError(f"SoundFont {path}: not a SoundFont 2 file (.sf2)")
        _soundfont_cache[path] = data
    return _soundfont_cache[path]


def _midi_bytes(sequence: NoteSequence) -> bytes:
    buffer = io.BytesIO()
    note_sequence_to_pretty_midi(sequence).write(buffer)
    return buffer.getvalue()


def _wav_to_mono(data: bytes) -> tuple[np.ndarray, int]:
    """A WAV file's samples as mono float64 in [-1, 1], and its sample rate."""
    with wave.open(io.BytesIO(data), "rb") as reader:
        channels, width, rate = reader.getnchannels(), reader.getsampwidth(), reader.getframerate()
        frames = reader.readframes(reader.getnframes())
    if width == 2:
        samples = np.frombuffer(frames, dtype="<i2").astype(np.float64) / 32768.0
    elif width == 4:
        samples = np.frombuffer(frames, dtype="<i4").astype(np.float64) / 2147483648.0
    else:
        raise MelodylibError(
            f"the SoundFont renderer wrote {8 * width}-bit audio, which is not supported"
        )
    return samples.reshape(-1, channels).mean(axis=1), rate


def resample(samples: np.ndarray, rate: int, target_rate: int) -> np.ndarray:
    """Samples at `rate` as samples at `target_rate`: block means for whole ratios (which also
    filter what would alias), linear interpolation otherwise."""
    if rate == target_rate or samples.size == 0:
        return samples
    if rate % target_rate == 0:
        factor = rate // target_rate
        usable = samples.size - samples.size % factor
        return samples[:usable].reshape(-1, factor).mean(axis=1)
    times = np.arange(int(samples.size * target_rate / rate)) * (rate / target_rate)
    return np.interp(times, np.arange(samples.size), samples)


def _render_soundfont(sequence: NoteSequence, sample_rate: int) -> np.ndarray:
    import midirenderer

    path = default_soundfont()
    if path is None:
        raise MelodylibError("no SoundFont found (pretty_midi's TimGM6mb.sf2 is missing)")
    wav = midirenderer.render_wave_from(_soundfont_bytes(path), _midi_bytes(sequence))
    samples, rate = _wav_to_mono(bytes(wav))
    return resample(samples, rate, sample_rate)


def _render_fluidsynth(sequence: NoteSequence, sample_rate: int) -> np.ndarray:
    import fluidsynth  # noqa: F401  (pyfluidsynth; pretty_midi imports it again)

    midi = note_sequence_to_pretty_midi(sequence)
    path = default_soundfont()
    return np.asarray(
        midi.fluidsynth(fs=sample_rate, sf2_path=str(path) if path else None), dtype=np.float64
    )


def _render_sine(sequence: NoteSequence, sample_rate: int) -> np.ndarray:
    midi = note_sequence_to_pretty_midi(sequence)
    # normalize=False: pretty_midi's own normalisation divides by zero when only drums sound.
    return np.asarray(midi.synthesize(fs=sample_rate, normalize=False), dtype=np.float64)


ENGINES: dict[str, Callable[[NoteSequence, int], np.ndarray]] = {
    "soundfont": _render_soundfont,
    "fluidsynth": _render_fluidsynth,
    "sine": _render_sine,
}
ENGINE_LABELS = {
    "soundfont": "General MIDI SoundFont (midirenderer)",
    "fluidsynth": "fluidsynth",
    "sine": "sine waves",
}


class _EngineChoice:
    """Which engine plays in this process, and why the ones before it do not."""

    def __init__(self) -> None:
        self.failed: dict[str, str] = {}
        self.reported = False

    def candidates(self) -> list[str]:
        return [name for name in ENGINES if name not in self.failed]

    def fail(self, name: str, reason: str) -> None:
        self.failed[name] = reason
        self.reported = False

    def report_once(self, playing: str, say: Callable[[str], None] = print) -> None:
        """One line, once, when an engine had to be skipped."""
        if self.reported or not self.failed:
            return
        self.reported = True
        reasons = "; ".join(f"{ENGINE_LABELS[name]}: {why}" for name, why in self.failed.items())
        say(f"melodylib plays with {ENGINE_LABELS[playing]} ({reasons}).")


_choice = _EngineChoice()


def _availability_problem(name: str) -> str | None:
    """Why an engine cannot play here (without rendering anything), or None if it may."""
    if name == "soundfont":
        try:
            import midirenderer  # noqa: F401
        except ImportError:
            return "midirenderer is not installed (it has no wheel for this platform)"
        path = default_soundfont()
        if path is None:
            return "no SoundFont found"
        try:
            _soundfont_bytes(path)
        except MelodylibError as error:
            return str(error)
    if name == "fluidsynth":
        try:
            import fluidsynth  # noqa: F401
        except (ImportError, OSError):
            return "pyfluidsynth or libfluidsynth is not installed"
    return None


def synthesizer_name() -> str:
    """Which engine plays in this process: "soundfont", "fluidsynth" or "sine"."""
    for name in _choice.candidates():
        problem = _availability_problem(name)
        if problem is None:
            return name
        _choice.fail(name, problem)
    return "sine"


def render(
    sequence: NoteSequence, sample_rate: int = 22050, voice: str | int = DEFAULT_INSTRUMENT
) -> np.ndarray:
    """The sequence played by `voice`, as raw mono float64 samples (not normalised).

    Notes outside the instrument's range move by octaves into it (and one line says so). If an
    engine fails while rendering, the next one plays and one line says why.
    """
    chosen = instrument(voice)
    sequence, moved = fit_to_range(sequence, chosen)
    if moved:
        print(
            f"melodylib: {moved} note(s) outside the {chosen.name}'s range moved by octaves into it."
        )
    while True:
        name = synthesizer_name()
        try:
            samples = ENGINES[name](sequence, int(sample_rate))
        except Exception as error:  # a broken renderer or library: the next engine plays
            if name == "sine":
                raise
            _choice.fail(name, f"{type(error).__name__}: {error}")
            continue
        _choice.report_once(name)
        return samples


def normalise(samples: np.ndarray, peak: float = PEAK) -> np.ndarray:
    """The samples scaled so their loudest point is `peak` (silence stays silent)."""
    loudest = float(np.max(np.abs(samples))) if samples.size else 0.0
    return samples * (peak / loudest) if loudest > 0 else samples


def wav_bytes(samples: np.ndarray, sample_rate: int) -> bytes:
    """Mono float samples in [-1, 1] as the bytes of a 16-bit PCM WAV file."""
    pcm = np.clip(np.round(np.asarray(samples, dtype=np.float64) * 32767.0), -32768, 32767)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(int(sample_rate))
        writer.writeframes(pcm.astype("<i2").tobytes())
    return buffer.getvalue()
