"""The README's main job: music from the shipped pretrained bundles in a minute, no training.

Each of the four pretrained bundles continues the same primer; the result is MIDI files, one
WAV of all of them in turn, and a piano roll of the four configs side by side.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from melodylib.course.shipped import BUNDLE_DIR, shipped_bundles
from melodylib.errors import MelodylibError


@dataclass
class DemoResult:
    """What the demo wrote."""

    output_dir: Path
    midi_files: list[Path] = field(default_factory=list)
    wav_file: Path | None = None
    piano_roll: Path | None = None
    log_likelihoods: dict[str, list[float]] = field(default_factory=dict)

    def format(self) -> str:
        lines = [f"Wrote {len(self.midi_files)} MIDI files, {self.wav_file} and {self.piano_roll}."]
        for name, values in self.log_likelihoods.items():
            lines.append(
                f"  {name}: log-likelihood " + ", ".join(f"{value:.1f}" for value in values)
            )
        return "\n".join(lines)


def run_demo(
    output_dir: str | os.PathLike = "output/demo",
    bundle_dir: str | os.PathLike | None = None,
    num_outputs: int = 2,
    num_steps: int = 128,
    primer_melody: str = "[67, -2, 64, -2, 64, -2, -2, -2, 65, -2, 62, -2, 62, -2, -2, -2]",
    temperature: float = 1.0,
    seed: int | None = 2026,
) -> DemoResult:
    """Generate from every shipped bundle and write MIDI files, a WAV and a piano-roll PNG."""
    import matplotlib

    matplotlib.use("Agg")
    from melodylib.bundles.reading import load_bundle
    from melodylib.course.display import plot_piano_rolls, write_wav
    from melodylib.generation.generator import MelodyGenerator, write_melodies
    from melodylib.generation.primers import parse_primer_melody
    from melodylib.music.notesequence import NoteSequence

    bundles = shipped_bundles(bundle_dir)
    if not bundles:
        raise MelodylibError(
            f"no pretrained bundles in {bundle_dir or BUNDLE_DIR}; train them with `make bundles` "
            "(see data/README.md) or give --bundle_dir"
        )
    primer = parse_primer_melody(primer_melody)
    output_dir = Path(output_dir)
    result = DemoResult(output_dir)
    pieces, titles = [], []
    for name, path in bundles.items():
        generator = MelodyGenerator(load_bundle(path), backend="auto")
        melodies = generator.generate(
            primer, num_steps=num_steps, num_outputs=num_outputs, temperature=temperature, seed=seed
        )
        result.midi_files += write_melodies(melodies, output_dir / name)
        result.log_likelihoods[name] = [melody.log_likelihood for melody in melodies]
        pieces.append(melodies[0].events)
        titles.append(f"{name} (log-likelihood {melodies[0].log_likelihood:.1f})")
    figure = plot_piano_rolls(
        pieces, titles=titles, primer_steps=len(primer), suptitle="Primer (blue), continuations"
    )
    result.piano_roll = output_dir / "piano_roll.png"
    result.piano_roll.parent.mkdir(parents=True, exist_ok=True)
    from melodylib.atomic import atomic_path

    with atomic_path(result.piano_roll) as temporary:
        figure.savefig(temporary, format="png", dpi=110, bbox_inches="tight")
    # One WAV: the first melody of every config, one after another.
    from melodylib.music.melodies import Melody

    combined = NoteSequence()
    offset = 0.0
    for events in pieces:
        sequence = Melody(list(events)).to_note_sequence(qpm=120.0, sequence_start_time=offset)
        combined.notes.extend(sequence.notes)
        offset = max(offset + len(events) * 0.125 + 1.0, sequence.total_time + 1.0)
    combined.total_time = offset
    result.wav_file = write_wav(combined, output_dir / "melodies.wav")
    return result
