"""Generation: primers, temperature sampling, Magenta's stochastic beam search, log-likelihood.

All outputs and all beams advance together: one compiled model call per step on a batch of
(outputs x beams x branches) rows, the recurrent state (LSTM and attention FIFO) carried from
step to step (see `models.StepModel`). The beam search itself (`beam_search`) knows nothing of
models: it takes a batched step function, so tests can drive it with a toy one.

Two engines run the network (`generation.backends`): TensorFlow (`models.StepModel`, with the
compiled sampler) or numpy (`models.numpy_step.NumpyStepModel`, for a bundle, without importing
TensorFlow at all); the numpy one runs the Python loop below, which draws the same uniforms from
the same seeded generator, so a seed gives the same melodies on either.

Differences from Magenta, on purpose:
- Magenta's CLI starts generating one step after the primer's last note *ends*, rounded up, so
  an on-grid primer is followed by two forced steps (a note-off and a silence) before the
  model's first free choice. Here the continuation starts right after the
  primer's events.
- Magenta's random draws are unseeded; here `seed` makes a run repeatable.
- Magenta feeds its fixed-batch generate graph one batch of beams per output; here every
  output and beam shares one batch per step.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from melodylib.encoding.configs import MelodyRnnConfig
from melodylib.errors import MelodylibError
from melodylib.generation.beam_search import beam_search
from melodylib.generation.primers import (
    MIDDLE_C,
    check_events,
)
from melodylib.music.melodies import Melody


@dataclass
class GeneratedMelody:
    """One generated melody: the events (primer first), where the continuation starts, its score.

    `log_likelihood` is the sum of the log-probabilities (under the temperature-scaled softmax)
    of every event after the first, as the model saw them: `model_events` is the melody in the
    model's range and key (the squashed primer and the continuation before transposing back),
    and `transposition` the shift that squash applied (events = model_events shifted back).
    """

    events: list[int]
    primer_length: int
    log_likelihood: float
    qpm: float = 120.0
    model_events: list[int] = field(default_factory=list)
    transposition: int = 0
    temperature: float = 1.0

    @property
    def continuation(self) -> list[int]:
        """The generated events after the primer."""
        return self.events[self.primer_length :]

    def to_note_sequence(self, velocity: int = 100):
        """The melody as a NoteSequence at this melody's tempo (for MIDI files, plots and audio)."""
        return Melody(list(self.events)).to_note_sequence(velocity=velocity, qpm=self.qpm)


# --- the model side --------------------------------------------------------------------------
@dataclass
class _Rows:
    """The generation state of every row: RNN state, last logits (already / temperature) and next inputs."""

    rnn_state: list
    logits: np.ndarray
    pending_inputs: np.ndarray | None = None


class MelodyGenerator:
    """Generates melodies from a trained model; holds the step function between calls.

    `backend` picks the engine: ``tensorflow`` (the default: a Keras `StepModel` and the compiled
    sampler; `model` is the Keras model), ``numpy`` (a `NumpyStepModel` over a copy of the
    weights, never importing TensorFlow for a melodylib bundle; `model` is None) or ``auto``
    (numpy for a melodylib bundle on a CPU, else TensorFlow). A seed gives the same melodies on
    both.
    """

    def __init__(
        self,
        model_or_bundle: Any,
        config: MelodyRnnConfig | None = None,
        backend: str = "tensorflow",
    ) -> None:
        from melodylib.encoding.encoders import OneHotEncoder
        from melodylib.generation.backends import choose_backend, numpy_step_model

        self.backend = choose_backend(model_or_bundle, backend)
        if self.backend == "numpy":
            self.model = None
            self.step_model, self.config = numpy_step_model(model_or_bundle, config)
            self.encoder = self.config.encoder
            self._sampler = None
        else:
            self._start_tensorflow(model_or_bundle, config)
        # One-hot classes map one-to-one onto events; lookback and key classes do not.
        self._ambiguous_classes = not isinstance(self.encoder, OneHotEncoder)

    def _start_tensorflow(self, model_or_bundle: Any, config: MelodyRnnConfig | None) -> None:
        """The Keras model, its StepModel and (where the encoder has graph ops) the sampler."""
        from melodylib.bundles.sources import model_and_config
        from melodylib.generation.sampler import CompiledSampler, supports_compiled_sampling
        from melodylib.models.step import StepModel

        self.model, self.config = model_and_config(model_or_bundle, config)
        if int(self.model.inputs[0].shape[-1]) != self.config.encoder.input_size:
            raise MelodylibError(
                f"the model takes {int(self.model.inputs[0].shape[-1])} inputs per step but {self.config.name} "
                f"encodes {self.config.encoder.input_size}; pass the config the model was built from"
            )
        self.step_model = StepModel(self.model)
        self.encoder = self.config.encoder
        # Compiled steps: plain sampling runs its whole loop in one call, beam search one call per step.
        self._sampler = (
            CompiledSampler(self.step_model, self.encoder)
            if supports_compiled_sampling(self.encoder)
            else None
        )

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
        """`num_outputs` melodies of `num_steps` events in total (primer included; default primer: middle C).

        The primer is squashed into the config's range and key, the continuation generated
        there, and the result transposed back (magenta-behaviour.md: "Generation"); the primer comes back unchanged.
        """
        primer = check_events(list(primer) if primer is not None else [MIDDLE_C])
        num_steps = _whole("num_steps", num_steps, 1)
        num_outputs = _whole("num_outputs", num_outputs, 1)
        beam_size = _whole("beam_size", beam_size, 1)
        branch_factor = _whole("branch_factor", branch_factor, 1)
        steps_per_iteration = _whole("steps_per_iteration", steps_per_iteration, 1)
        if (
            isinstance(temperature, bool)
            or not isinstance(temperature, (int, float, np.number))
            or not (np.isfinite(temperature) and temperature > 0)
        ):
            raise MelodylibError(
                f"--temperature must be a number greater than 0, got {temperature!r}"
            )
        if not (isinstance(qpm, (int, float, np.number)) and np.isfinite(qpm) and qpm > 0):
            raise MelodylibError(f"--qpm must be a positive number, got {qpm!r}")
        if len(primer) >= num_steps:
            raise MelodylibError(
                f"the primer has {len(primer)} steps but --num_steps is {num_steps}: num_steps counts the "
                f"primer too, so it must be larger (e.g. --num_steps={len(primer) + 64})"
            )
        rng = np.random.default_rng(seed)
        squashed = Melody(list(primer))
        amount = squashed.squash(
            self.config.min_note, self.config.max_note, self.config.transpose_to_key
        )
        model_primer = list(squashed.events)
        histories, scores = self._search(
            model_primer,
            num_steps - len(model_primer),
            num_outputs,
            float(temperature),
            beam_size,
            branch_factor,
            steps_per_iteration,
            rng,
        )
        melodies = []
        for events, score in zip(histories, scores):
            restored = Melody(list(events))
            restored.transpose(-amount)
            # The primer is given back exactly as the user wrote it (squash may fold octaves).
            full = list(primer) + list(restored.events[len(primer) :])
            melodies.append(
                GeneratedMelody(
                    full,
                    len(primer),
                    float(score),
                    float(qpm),
                    list(events),
                    int(amount),
                    float(temperature),
                )
            )
        return melodies

    def _search(
        self,
        primer,
        num_new_steps,
        num_outputs,
        temperature,
        beam_size,
        branch_factor,
        steps_per_iteration,
        rng,
    ) -> tuple[list[list[int]], np.ndarray]:
        """Prime once, then run `beam_search` over every output at once; returns the histories and scores."""
        # The primer runs once, for one row; its state is then copied to every output and beam.
        logits, rnn_state = self.step_model(
            self.encoder.inputs(primer)[None, :, :], self.step_model.zero_state(1)
        )
        raw_logits = _as_numpy(logits)[0].astype(np.float64)
        logits = raw_logits / temperature
        primer_score = 0.0
        if len(primer) > 1:
            log_probabilities = _log_softmax(logits[:-1])
            labels = self.encoder.labels(primer)[1:]
            primer_score = float(log_probabilities[np.arange(len(labels)), labels].sum())
        if self._sampler is not None:
            return self._compiled_search(
                primer,
                rnn_state,
                raw_logits[-1:],
                primer_score,
                num_new_steps,
                num_outputs,
                temperature,
                beam_size,
                branch_factor,
                steps_per_iteration,
                rng,
            )
        # The Python loop: the reference the compiled one is tested against, the numpy engine's
        # loop, and the path for encoders that have no TensorFlow-ops version.
        start = _Rows(rnn_state, logits[-1:], None)
        gather = self.step_model.gather_state

        def select(rows: _Rows, indices: np.ndarray) -> _Rows:
            return _select_rows(rows, indices, gather)

        def step(
            histories: list[list[int]], rows: _Rows, scores: np.ndarray
        ) -> tuple[_Rows, np.ndarray]:
            return self._extend(histories, rows, scores, temperature, rng)

        histories, _, scores = beam_search(
            [list(primer) for _ in range(num_outputs)],
            select(start, np.zeros(num_outputs, np.int64)),
            [primer_score] * num_outputs,
            step,
            select,
            num_new_steps,
            beam_size,
            branch_factor,
            steps_per_iteration,
        )
        return histories, scores

    def _compiled_search(
        self,
        primer,
        rnn_state,
        last_logits,
        primer_score,
        num_new_steps,
        num_outputs,
        temperature,
        beam_size,
        branch_factor,
        steps_per_iteration,
        rng,
    ) -> tuple[list[list[int]], np.ndarray]:
        """`_search` with compiled steps: plain sampling in one call, beam search in one call per step."""
        histories = np.zeros((1, len(primer) + num_new_steps), np.int64)
        histories[0, : len(primer)] = primer
        start = self._sampler.start(histories, len(primer), rnn_state, last_logits)
        if beam_size == 1 and branch_factor == 1:
            # One uniform draw per output and step, in the same order as the Python loop.
            uniforms = np.stack([rng.random(num_outputs) for _ in range(num_new_steps)])
            rows = start.select(np.zeros(num_outputs, np.int64))
            histories, scores = self._sampler.sample(rows, len(primer), uniforms, temperature)
            return [list(map(int, row)) for row in histories], primer_score + scores

        def step(histories: list[list[int]], rows, scores: np.ndarray):
            rows, events, step_scores = self._sampler.extend(
                rows, len(histories[0]), rng.random(len(histories)), temperature
            )
            for history, event in zip(histories, events):
                history.append(int(event))
            return rows, scores + step_scores

        histories, _, scores = beam_search(
            [list(primer) for _ in range(num_outputs)],
            start.select(np.zeros(num_outputs, np.int64)),
            [primer_score] * num_outputs,
            step,
            lambda rows, indices: rows.select(indices),
            num_new_steps,
            beam_size,
            branch_factor,
            steps_per_iteration,
        )
        return histories, scores

    def _extend(
        self,
        histories: list[list[int]],
        rows: _Rows,
        scores: np.ndarray,
        temperature: float,
        rng: np.random.Generator,
    ) -> tuple[_Rows, np.ndarray]:
        """One step for every row: run the model on the pending inputs, sample, decode, append, score."""
        rnn_state, logits = rows.rnn_state, rows.logits
        if rows.pending_inputs is not None:
            step_logits, rnn_state = self.step_model(rows.pending_inputs, rnn_state)
            logits = _as_numpy(step_logits)[:, -1, :].astype(np.float64) / temperature
        log_probabilities = _log_softmax(logits)
        classes = _sample(np.exp(log_probabilities), rng)
        scored = classes.copy()
        next_inputs = np.empty((len(histories), 1, self.encoder.input_size), np.float32)
        for row, (history, chosen) in enumerate(zip(histories, classes)):
            history.append(int(self.encoder.class_index_to_event(int(chosen), history)))
            next_inputs[row, 0] = self.encoder.input_for_last_position(history)
            if self._ambiguous_classes:
                scored[row] = self.encoder.labels(history)[-1]
        # Magenta adds log p(sampled class). With lookback classes two classes can decode to the
        # same event (a pitch and "repeat the bar before"), and Magenta's melody_log_likelihood
        # scores the encoder's own label of the event; scoring that label here too makes a beam's
        # score exactly the log-likelihood of its melody (the project's change).
        scores = scores + log_probabilities[np.arange(len(scored)), scored]
        return _Rows(rnn_state, logits, next_inputs), scores

    # Scoring ------------------------------------------------------------------------------
    def log_likelihood(
        self, events: Sequence[int], temperature: float = 1.0, squash: bool = True
    ) -> float:
        """Sum of log p(event i | events before it) for i = 1..N-1 under softmax(logits / temperature).

        With `squash` (the default) the melody is first squashed into the config's range and key,
        as in training; pass squash=False for events already in the model's space (e.g. a
        GeneratedMelody's `model_events`).
        """
        events = check_events(events, "melody")
        if not (np.isfinite(temperature) and temperature > 0):
            raise MelodylibError(f"temperature must be greater than 0, got {temperature}")
        if len(events) < 2:
            return 0.0
        model_melody = Melody(list(events))
        if squash:
            model_melody.squash(
                self.config.min_note, self.config.max_note, self.config.transpose_to_key
            )
        inputs, labels = self.encoder.encode(list(model_melody.events))
        logits, _ = self.step_model(inputs[None, :, :], self.step_model.zero_state(1))
        log_probabilities = _log_softmax(_as_numpy(logits)[0].astype(np.float64) / temperature)
        return float(log_probabilities[np.arange(len(labels)), labels].sum())


def _whole(name: str, value: Any, minimum: int) -> int:
    """`value` as an int if it is a whole number >= minimum, else a MelodylibError naming the flag."""
    try:
        whole = not isinstance(value, (bool, np.bool_)) and float(value).is_integer()
    except (TypeError, ValueError, OverflowError):
        whole = False
    if not whole or value < minimum:
        raise MelodylibError(
            f"--{name} must be a whole number of at least {minimum}, got {value!r}"
        )
    return int(value)


def _select_rows(rows: _Rows, indices: np.ndarray, gather_state: Any) -> _Rows:
    """The rows at `indices`; `gather_state` is the step model's (TensorFlow or numpy)."""
    indices = np.asarray(indices, dtype=np.int64)
    return _Rows(
        gather_state(rows.rnn_state, indices),
        rows.logits[indices],
        None if rows.pending_inputs is None else rows.pending_inputs[indices],
    )


def _as_numpy(values: Any) -> np.ndarray:
    """A step model's output as a numpy array (TensorFlow tensors have .numpy())."""
    return values.numpy() if hasattr(values, "numpy") else np.asarray(values)


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _sample(probabilities: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One class per row, drawn from that row's distribution (one uniform draw per row)."""
    cumulative = np.cumsum(probabilities, axis=-1)
    draws = rng.random(len(probabilities))[:, None] * cumulative[:, -1:]
    return np.minimum((cumulative <= draws).sum(axis=-1), probabilities.shape[-1] - 1)


def melody_log_likelihood(
    model_or_bundle: Any,
    melody: Sequence[int] | Melody | GeneratedMelody,
    config: MelodyRnnConfig | None = None,
    temperature: float = 1.0,
    squash: bool = True,
    backend: str = "tensorflow",
) -> float:
    """Score any melody under a model, bundle or MelodyGenerator: Magenta's melody_log_likelihood.

    The melody is squashed as in training (unless squash=False); the result is the sum of the
    log-probabilities of events 1..N-1 given the events before them. A GeneratedMelody is
    scored as the model saw it (its `model_events`, not squashed again). `backend` is
    MelodyGenerator's (numpy scores a bundle without TensorFlow).
    """
    if isinstance(melody, GeneratedMelody):
        events, squash = (
            list(melody.model_events or melody.events),
            not melody.model_events and squash,
        )
    else:
        events = list(melody.events) if isinstance(melody, Melody) else list(melody)
    generator = (
        model_or_bundle
        if isinstance(model_or_bundle, MelodyGenerator)
        else MelodyGenerator(model_or_bundle, config, backend=backend)
    )
    return generator.log_likelihood(events, temperature=temperature, squash=squash)


def output_filenames(
    output_dir: str | os.PathLike, num_outputs: int, when: datetime.datetime | None = None
) -> list[Path]:
    """Magenta's file names: <output_dir>/<YYYY-MM-DD_HHMMSS>_<i>.mid, i from 1, zero-padded to num_outputs' digits."""
    when = when or datetime.datetime.now()
    stamp = when.strftime("%Y-%m-%d_%H%M%S")
    digits = len(str(num_outputs))
    return [
        Path(output_dir) / f"{stamp}_{str(i + 1).zfill(digits)}.mid" for i in range(num_outputs)
    ]


def write_melodies(
    melodies: Sequence[GeneratedMelody],
    output_dir: str | os.PathLike,
    when: datetime.datetime | None = None,
    musicxml: bool = False,
) -> list[Path]:
    """Write each melody (primer included, velocity 100, its qpm) as a MIDI file; returns the paths.

    With `musicxml`, a MusicXML score of each melody (the primer coloured apart) goes beside its
    MIDI file, with the same name and the suffix .musicxml.
    """
    from melodylib.music.notesequence import write_midi

    paths = output_filenames(output_dir, len(melodies), when)
    for melody, path in zip(melodies, paths):
        write_midi(melody.to_note_sequence(), path)
        if musicxml and not any(event >= 0 for event in melody.events):
            print(f"{path.name}: no notes, so no score")
        elif musicxml:
            from melodylib.music.notation import write_musicxml

            write_musicxml(
                melody.events,
                path.with_suffix(".musicxml"),
                primer_steps=melody.primer_length,
                title=path.stem,
            )
    return paths
