"""Generation: primers, temperature sampling, Magenta's stochastic beam search, log-likelihood.

All outputs and all beams advance together: one compiled model call per step on a batch of
(outputs x beams x branches) rows, the recurrent state (LSTM and attention FIFO) carried from
step to step (see `models.StepModel`).

Differences from Magenta, on purpose:
- Magenta's CLI starts generating one step after the primer's last note *ends*, rounded up, so
  an on-grid primer is followed by two forced steps (a note-off and a silence) before the
  model's first free choice (magenta#2051). Here the continuation starts right after the
  primer's events.
- Magenta's random draws are unseeded; here `seed` makes a run repeatable.
"""

from __future__ import annotations

import ast
import datetime
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from melodylib.configs import MelodyRnnConfig
from melodylib.errors import MelodylibError
from melodylib.melodies import NO_EVENT, Melody

MIDDLE_C = 60
TYPOGRAPHIC_QUOTES = "\u201c\u201d\u2018\u2019\u00ab\u00bb\u201e\u2032\u2033"


@dataclass
class GeneratedMelody:
    """One generated melody: the events (primer first), where the continuation starts, its score."""

    events: list[int]
    primer_length: int
    log_likelihood: float
    qpm: float = 120.0

    @property
    def continuation(self) -> list[int]:
        return self.events[self.primer_length :]

    def to_note_sequence(self, velocity: int = 100):
        """The melody as a NoteSequence at this melody's tempo (for MIDI files, plots and audio)."""
        return Melody(list(self.events)).to_note_sequence(velocity=velocity, qpm=self.qpm)


# --- primers ---------------------------------------------------------------------------------
def parse_primer_melody(text: str) -> list[int]:
    """Parse `--primer_melody`, a Python list of events such as "[60, -2, 60, -2, 67, -2]"."""
    if any(quote in text for quote in TYPOGRAPHIC_QUOTES):
        raise MelodylibError(
            f"--primer_melody {text!r} contains typographic quotes (“ ” ‘ ’), probably pasted from a "
            "document; use plain quotes or none, e.g. --primer_melody=\"[60, -2, 60, -2, 67]\""
        )
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError):
        raise MelodylibError(
            f"--primer_melody {text!r} is not a list of events; write e.g. \"[60, -2, 60, -2, 67, -2]\" "
            "(-2 = hold, -1 = note off, 0..127 = a new note)"
        ) from None
    if isinstance(value, int):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise MelodylibError(f"--primer_melody {text!r} must be a list of whole numbers, e.g. [60, -2, 62]")
    return check_events(list(value), "--primer_melody")


def check_events(events: Sequence[int], what: str = "primer") -> list[int]:
    """Check that every event is -2 (no event), -1 (note off) or a MIDI pitch 0..127."""
    events = [int(e) for e in events]
    if not events:
        raise MelodylibError(f"{what} is empty; give at least one event, e.g. [60]")
    for position, event in enumerate(events):
        if event < NO_EVENT or event > 127:
            raise MelodylibError(
                f"{what}: event {event} at position {position} is out of range; events are -2 (no event), "
                "-1 (note off) or a MIDI pitch 0..127"
            )
    return events


def primer_from_note_sequence(sequence, steps_per_quarter: int = 4) -> tuple[list[int], float, bool]:
    """A primer melody from a NoteSequence: (events, qpm, was_polyphonic).

    All non-drum notes are taken as one line; where several start together the highest wins.
    """
    from melodylib.melodies import melody_from_quantized_sequence
    from melodylib.quantize import quantize_note_sequence

    qpm = sequence.tempos[0].qpm if sequence.tempos else 120.0
    merged = sequence.copy()
    for note in merged.notes:
        note.instrument = 0
    merged.tempos = merged.tempos[:1]
    merged.time_signatures = merged.time_signatures[:1]
    quantized = quantize_note_sequence(merged, steps_per_quarter)
    starts = quantized.start_step[~quantized.is_drum.astype(bool)] if len(quantized.start_step) else []
    polyphonic = len(starts) != len(set(np.asarray(starts).tolist()))
    melody = melody_from_quantized_sequence(
        quantized, search_start_step=0, instrument=0, gap_bars=float("inf"), ignore_polyphonic_notes=True
    )
    events = list(melody.events)
    if not events:
        raise MelodylibError(f"{sequence.filename or 'the primer'} has no (non-drum) notes to use as a primer")
    # The primer starts at its first note's bar in extraction; keep the leading silence from step 0.
    events = [NO_EVENT] * int(melody.start_step) + events
    return events, float(qpm), polyphonic


def primer_from_midi(path: str | os.PathLike) -> tuple[list[int], float, bool]:
    """A primer melody from a MIDI file: (events, qpm, was_polyphonic)."""
    from melodylib.readers import read_note_sequence

    if not Path(path).exists():
        raise MelodylibError(f"--primer_midi {path}: no such file")
    return primer_from_note_sequence(read_note_sequence(path))


# --- the model side --------------------------------------------------------------------------
def _model_and_config(model_or_bundle: Any, config: MelodyRnnConfig | None) -> tuple[Any, MelodyRnnConfig]:
    """Accept a Bundle, a path to a bundle, or a Keras model (with its config)."""
    from melodylib.bundles import Bundle, load_bundle

    if isinstance(model_or_bundle, (str, os.PathLike)):
        model_or_bundle = load_bundle(model_or_bundle)
    if isinstance(model_or_bundle, Bundle):
        if config is not None:
            model_or_bundle.check_compatible(config)
        return model_or_bundle.build_model(), model_or_bundle.config
    if config is None:
        raise MelodylibError("pass the config the model was built from (config=get_config(...))")
    return model_or_bundle, config


class MelodyGenerator:
    """Generates melodies from a trained model; holds the compiled step function between calls."""

    def __init__(self, model_or_bundle: Any, config: MelodyRnnConfig | None = None) -> None:
        from melodylib.models import StepModel

        self.model, self.config = _model_and_config(model_or_bundle, config)
        self.step_model = StepModel(self.model)
        self.encoder = self.config.encoder

    # The generation loop ------------------------------------------------------------------
    def generate(
        self,
        primer: Sequence[int] | None = None,
        num_steps: int = 128,
        num_outputs: int = 1,
        temperature: float = 1.0,
        beam_size: int = 1,
        branch_factor: int = 1,
        steps_per_iteration: int = 1,
        seed: int | None = None,
        qpm: float = 120.0,
    ) -> list[GeneratedMelody]:
        """`num_outputs` melodies of `num_steps` events in total (primer included)."""
        primer = check_events(list(primer) if primer is not None else [MIDDLE_C])
        _check_whole("num_steps", num_steps, 1)
        _check_whole("num_outputs", num_outputs, 1)
        _check_whole("beam_size", beam_size, 1)
        _check_whole("branch_factor", branch_factor, 1)
        _check_whole("steps_per_iteration", steps_per_iteration, 1)
        if not temperature > 0:
            raise MelodylibError(f"--temperature must be greater than 0, got {temperature}")
        if len(primer) >= num_steps:
            raise MelodylibError(
                f"the primer has {len(primer)} steps but --num_steps is {num_steps}: num_steps counts the "
                f"primer too, so it must be larger (e.g. --num_steps={len(primer) + 64})"
            )
        rng = np.random.default_rng(seed)
        squashed = Melody(list(primer))
        amount = squashed.squash(self.config.min_note, self.config.max_note, self.config.transpose_to_key)
        primer_events = list(squashed.events)
        histories, scores = self._beam_search(
            primer_events, num_steps - len(primer_events), num_outputs, temperature, beam_size, branch_factor,
            steps_per_iteration, rng,
        )
        melodies = []
        for events, score in zip(histories, scores):
            restored = Melody(list(events))
            restored.transpose(-amount)
            # The primer is given back exactly as the user wrote it (squash may fold octaves).
            full = list(primer) + list(restored.events[len(primer) :])
            melodies.append(GeneratedMelody(full, len(primer), float(score), qpm))
        return melodies

    def _beam_search(self, primer, num_new_steps, num_outputs, temperature, beam_size, branch_factor,
                     steps_per_iteration, rng):
        """Magenta's stochastic beam search (spec §6.3), run for all outputs at once."""
        import tensorflow as tf

        # Prime once for one row, then copy the state to every beam of every output.
        primer_inputs = self.encoder.inputs(primer)[None, :, :]
        logits, state = self.step_model(primer_inputs, self.step_model.zero_state(1))
        logits = logits.numpy()[0] / temperature
        primer_score = 0.0
        if len(primer) > 1:
            log_probabilities = _log_softmax(logits[:-1])
            labels = self.encoder.labels(primer)[1:]
            primer_score = float(log_probabilities[np.arange(len(labels)), labels].sum())
        last_logits = np.repeat(logits[-1:], num_outputs * beam_size, axis=0)
        state = self.step_model.tile_state(state, num_outputs * beam_size)
        histories = [list(primer) for _ in range(num_outputs * beam_size)]
        scores = np.full(num_outputs * beam_size, primer_score)
        rows_per_output = beam_size
        first_steps = ((num_new_steps - 1) % steps_per_iteration) + 1 if num_new_steps > 0 else 0
        steps_done = 0
        first = True
        while steps_done < num_new_steps:
            if not first:
                # Prune each output's rows to its best beam_size.
                keep = []
                for output in range(num_outputs):
                    rows = np.arange(output * rows_per_output, (output + 1) * rows_per_output)
                    best = rows[np.argsort(-scores[rows], kind="stable")[:beam_size]]
                    keep.extend(best.tolist())
                histories, scores, last_logits, state = _select(histories, scores, last_logits, state, keep)
                rows_per_output = beam_size
            # Branch every surviving row branch_factor times.
            if branch_factor > 1:
                keep = np.repeat(np.arange(len(histories)), branch_factor).tolist()
                histories, scores, last_logits, state = _select(histories, scores, last_logits, state, keep)
                rows_per_output *= branch_factor
            steps = first_steps if first else steps_per_iteration
            first = False
            for _ in range(steps):
                probabilities = _softmax(last_logits)
                classes = _sample(probabilities, rng)
                scores = scores + np.log(np.maximum(probabilities[np.arange(len(classes)), classes], 1e-300))
                next_inputs = np.empty((len(histories), 1, self.encoder.input_size), np.float32)
                for row, (history, label) in enumerate(zip(histories, classes)):
                    history.append(int(self.encoder.class_index_to_event(int(label), history)))
                    next_inputs[row, 0] = self.encoder.input_for_last_position(history)
                steps_done += 1
                if steps_done < num_new_steps:
                    logits, state = self.step_model(tf.constant(next_inputs), state)
                    last_logits = logits.numpy()[:, -1, :] / temperature
        # The best row of each output.
        best_histories, best_scores = [], []
        for output in range(num_outputs):
            rows = np.arange(output * rows_per_output, (output + 1) * rows_per_output)
            best = rows[int(np.argmax(scores[rows]))]
            best_histories.append(histories[best])
            best_scores.append(scores[best])
        return best_histories, best_scores

    # Scoring ------------------------------------------------------------------------------
    def log_likelihood(self, events: Sequence[int]) -> float:
        """Sum of log p(event i | events before it) for i = 1..N-1, the melody squashed first."""
        events = check_events(events, "melody")
        if len(events) < 2:
            return 0.0
        squashed = Melody(list(events))
        squashed.squash(self.config.min_note, self.config.max_note, self.config.transpose_to_key)
        inputs, labels = self.encoder.encode(list(squashed.events))
        logits, _ = self.step_model(inputs[None, :, :], self.step_model.zero_state(1))
        log_probabilities = _log_softmax(logits.numpy()[0])
        return float(log_probabilities[np.arange(len(labels)), labels].sum())


def _check_whole(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not float(value).is_integer() or value < minimum:
        raise MelodylibError(f"--{name} must be a whole number of at least {minimum}, got {value}")


def _select(histories, scores, last_logits, state, rows):
    from melodylib.models import gather_state

    return (
        [list(histories[row]) for row in rows],
        scores[rows],
        last_logits[rows],
        gather_state(state, rows),
    )


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exponentials = np.exp(shifted)
    return exponentials / exponentials.sum(axis=-1, keepdims=True)


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _sample(probabilities: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One class per row, drawn from that row's distribution."""
    cumulative = np.cumsum(probabilities, axis=-1)
    draws = rng.random(len(probabilities))[:, None] * cumulative[:, -1:]
    return np.minimum((cumulative <= draws).sum(axis=-1), probabilities.shape[-1] - 1)


def melody_log_likelihood(model_or_bundle: Any, melody: Sequence[int] | Melody, config: MelodyRnnConfig | None = None) -> float:
    """Score any melody under a model or bundle: Magenta's melody_log_likelihood (spec §6.1).

    The melody is squashed as in training; the result is the sum of the log-probabilities of
    events 1..N-1 given the events before them.
    """
    events = list(melody.events) if isinstance(melody, Melody) else list(melody)
    generator = model_or_bundle if isinstance(model_or_bundle, MelodyGenerator) else MelodyGenerator(model_or_bundle, config)
    return generator.log_likelihood(events)


def output_filenames(output_dir: str | os.PathLike, num_outputs: int, when: datetime.datetime | None = None) -> list[Path]:
    """Magenta's file names: <output_dir>/<YYYY-MM-DD_HHMMSS>_<i>.mid, i zero-padded."""
    when = when or datetime.datetime.now()
    stamp = when.strftime("%Y-%m-%d_%H%M%S")
    digits = len(str(num_outputs))
    return [Path(output_dir) / f"{stamp}_{str(i + 1).zfill(digits)}.mid" for i in range(num_outputs)]


def write_melodies(melodies: Sequence[GeneratedMelody], output_dir: str | os.PathLike) -> list[Path]:
    """Write each melody (primer included, velocity 100) as a MIDI file; returns the paths."""
    from melodylib.music import write_midi

    paths = output_filenames(output_dir, len(melodies))
    for melody, path in zip(melodies, paths):
        write_midi(melody.to_note_sequence(), path)
    return paths
