"""Tests for melodylib.generation.generator: primers, sampling, beam search, scoring, MIDI output."""

from __future__ import annotations

import datetime
import re

import keras
import numpy as np
import pretty_midi
import pytest

from melodylib.bundles.bundle import save_bundle
from melodylib.bundles.reading import load_bundle
from melodylib.cli import main as cli
from melodylib.encoding.configs import get_config
from melodylib.errors import MelodylibError
from melodylib.generation.beam_search import beam_search
from melodylib.generation.generator import (
    GeneratedMelody,
    MelodyGenerator,
    melody_log_likelihood,
    output_filenames,
    write_melodies,
)
from melodylib.generation.primers import MIDDLE_C, parse_primer_melody, primer_from_midi
from melodylib.models.melody_rnn import build_model
from melodylib.music.melodies import NO_EVENT, NOTE_OFF, Melody

TWINKLE = [60, NO_EVENT, 60, NO_EVENT, 67, NO_EVENT, 67, NO_EVENT]


def tiny_config(name: str, **overrides):
    values = {"batch_size": 4, "rnn_layer_sizes": [8, 8]}
    if name == "attention_rnn":
        values["attn_length"] = 4
    return get_config(name, {**values, **overrides})


@pytest.fixture(scope="module")
def generators() -> dict[str, MelodyGenerator]:
    """One tiny random model per config, with a generator around it (built once: tracing is slow)."""
    keras.utils.set_random_seed(5)
    result = {}
    for name in ("basic_rnn", "mono_rnn", "lookback_rnn", "attention_rnn"):
        config = tiny_config(name)
        model = build_model(config)
        # Sharper, less uniform distributions than a fresh model's, so sampling has something to choose.
        logits = model.get_layer("logits")
        kernel, bias = logits.get_weights()
        logits.set_weights([kernel * 8, np.random.default_rng(1).normal(0, 2, size=bias.shape)])
        result[name] = MelodyGenerator(model, config)
    return result


def full_model_log_probabilities(model, inputs: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    logits = model(inputs[None], training=False).numpy()[0].astype(np.float64) / temperature
    return (
        logits
        - np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1, keepdims=True))
        - logits.max(-1, keepdims=True)
    )


# --- primers ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, expected",
    [
        ("[60, -2, 60, -2, 67, -2, 67, -2]", TWINKLE),
        ("  [60,-2,-1] ", [60, -2, -1]),
        ("(72, -2)", [72, -2]),
        ("60", [60]),
        ("[0, 127]", [0, 127]),
    ],
)
def test_valid_primers(text, expected):
    assert parse_primer_melody(text) == expected


@pytest.mark.parametrize(
    "text, message",
    [
        ("\u201c[60, -2, 62]\u201d", "typographic quotes"),
        ("[60, \u201862\u2019]", "typographic quotes"),
        ("[60, -2, 62", "is not a list of events"),
        ("60 -2 62", "is not a list of events"),
        ("", "is not a list of events"),
        ("[60.5, 62]", "whole numbers"),
        ("[True]", "whole numbers"),
        ("['60']", "whole numbers"),
        ("[[60]]", "whole numbers"),
        ("[]", "empty"),
        ("[60, 128]", "event 128 at position 1 is out of range"),
        ("[-3]", "event -3 at position 0 is out of range"),
        ("[" * 5000, "is not a list of events"),
    ],
)
def test_bad_primers_are_rejected_with_a_helpful_message(text, message):
    with pytest.raises(MelodylibError, match=message):
        parse_primer_melody(text)


def test_midi_primer_keeps_its_tempo_and_the_highest_note_of_each_onset(tmp_path):
    midi = pretty_midi.PrettyMIDI(initial_tempo=90.0)
    piano = pretty_midi.Instrument(0)
    seconds_per_step = 60.0 / 90.0 / 4
    # C E G chord on step 0 (G wins), then D alone on step 4, then an F/A dyad on step 8 (A wins).
    for pitch, start, end in [
        (60, 0, 4),
        (64, 0, 4),
        (67, 0, 4),
        (62, 4, 8),
        (65, 8, 12),
        (69, 8, 12),
    ]:
        piano.notes.append(
            pretty_midi.Note(90, pitch, start * seconds_per_step, end * seconds_per_step)
        )
    midi.instruments.append(piano)
    midi.write(str(tmp_path / "primer.mid"))
    events, qpm, polyphonic = primer_from_midi(tmp_path / "primer.mid")
    assert qpm == pytest.approx(90.0, rel=1e-4)
    assert polyphonic
    assert events == [67, -2, -2, -2, 62, -2, -2, -2, 69, -2, -2, -2]
    with pytest.raises(MelodylibError, match="no such file"):
        primer_from_midi(tmp_path / "missing.mid")


# --- checks on the generation request -----------------------------------------------------------
@pytest.mark.parametrize(
    "options, message",
    [
        ({"primer": [60] * 16, "num_steps": 16}, "the primer has 16 steps but --num_steps is 16"),
        ({"primer": [60] * 17, "num_steps": 16}, "must be larger"),
        ({"temperature": 0}, "temperature"),
        ({"temperature": -1.0}, "temperature"),
        ({"temperature": float("nan")}, "temperature"),
        ({"beam_size": 0}, "--beam_size must be a whole number of at least 1"),
        ({"branch_factor": 0}, "--branch_factor"),
        ({"steps_per_iteration": 0}, "--steps_per_iteration"),
        ({"num_steps": 32.5}, "--num_steps must be a whole number"),
        ({"num_steps": "many"}, "--num_steps must be a whole number"),
        ({"num_outputs": 0}, "--num_outputs"),
        ({"beam_size": 1.5}, "--beam_size"),
        ({"qpm": 0}, "--qpm"),
        ({"primer": [60, 200]}, "out of range"),
    ],
)
def test_bad_generation_requests_are_errors(generators, options, message):
    request = {"primer": [60], "num_steps": 32, **options}
    with pytest.raises(MelodylibError, match=message):
        generators["basic_rnn"].generate(**request)


def test_a_bundle_of_another_config_is_refused(generators, tmp_path):
    generator = generators["basic_rnn"]
    save_bundle(tmp_path / "basic.bundle", generator.model, generator.config)
    bundle = load_bundle(tmp_path / "basic.bundle")
    with pytest.raises(MelodylibError, match="holds a basic_rnn model"):
        MelodyGenerator(bundle, get_config("lookback_rnn"))
    with pytest.raises(MelodylibError, match="pass the config"):
        MelodyGenerator(generator.model)
    with pytest.raises(MelodylibError, match="inputs per step"):
        MelodyGenerator(generator.model, get_config("mono_rnn"))


# --- what comes out ----------------------------------------------------------------------------
def test_output_starts_with_the_primer_and_has_num_steps_events(generators):
    for name, generator in generators.items():
        melodies = generator.generate(TWINKLE, num_steps=20, num_outputs=2, seed=0)
        assert len(melodies) == 2
        for melody in melodies:
            assert len(melody.events) == 20 and melody.events[:8] == TWINKLE, name
            assert melody.primer_length == 8 and melody.continuation == melody.events[8:]
            assert all(-2 <= event <= 127 for event in melody.events)
            assert np.isfinite(melody.log_likelihood) and melody.log_likelihood < 0


def test_a_high_primer_is_squashed_for_the_model_and_the_output_transposed_back(generators):
    high_primer = [
        96,
        NO_EVENT,
        98,
        NO_EVENT,
        100,
        NO_EVENT,
        101,
        103,
    ]  # two octaves above the range
    melody = generators["basic_rnn"].generate(high_primer, num_steps=40, seed=1)[0]
    assert melody.events[:8] == high_primer
    assert melody.transposition == -36
    model_pitches = [event for event in melody.model_events if event >= 0]
    assert all(48 <= pitch < 84 for pitch in model_pitches)  # the model only ever saw its own range
    assert melody.model_events[:8] == [event - 36 if event >= 0 else event for event in high_primer]
    for event, model_event in zip(melody.continuation, melody.model_events[8:]):
        assert event == (model_event + 36 if model_event >= 0 else model_event)
    continuation_pitches = [event for event in melody.continuation if event >= 0]
    assert continuation_pitches and min(continuation_pitches) >= 84  # back in the primer's register


def test_mono_rnn_continuations_are_not_transposed(generators):
    primer = [96, NO_EVENT, 98, NO_EVENT, 100, NO_EVENT, 101, 103]
    melody = generators["mono_rnn"].generate(primer, num_steps=40, seed=1)[0]
    assert melody.transposition == 0
    assert melody.events == melody.model_events


def test_lookback_classes_decode_by_copying_from_history():
    config = tiny_config("lookback_rnn")
    model = build_model(config)
    logits = model.get_layer("logits")
    kernel, bias = logits.get_weights()
    bias[:] = -20.0
    bias[config.encoder.num_classes - 2] = 20.0  # "repeat the event one bar (16 steps) ago"
    logits.set_weights([np.zeros_like(kernel), bias])
    primer = [60, -2, 62, -2, 64, -1, 65, -2, 67, -2, 69, -2, 71, -1, 72, -2]
    melody = MelodyGenerator(model, config).generate(primer, num_steps=40, seed=0)[0]
    assert melody.events == primer + primer + primer[:8]


def test_seed_makes_generation_repeatable(generators):
    generator = generators["attention_rnn"]
    first = generator.generate(
        TWINKLE, num_steps=24, num_outputs=2, beam_size=2, branch_factor=2, seed=42
    )
    again = generator.generate(
        TWINKLE, num_steps=24, num_outputs=2, beam_size=2, branch_factor=2, seed=42
    )
    other = generator.generate(
        TWINKLE, num_steps=24, num_outputs=2, beam_size=2, branch_factor=2, seed=43
    )
    assert [melody.events for melody in first] == [melody.events for melody in again]
    assert [melody.log_likelihood for melody in first] == [
        melody.log_likelihood for melody in again
    ]
    assert [melody.events for melody in first] != [melody.events for melody in other]


@pytest.mark.parametrize("name", ["basic_rnn", "lookback_rnn"])
def test_beam_of_one_is_plain_ancestral_sampling(generators, name):
    """Reference: rerun the full model over the whole history every step, draw with the same generator."""
    generator = generators[name]
    temperature = 0.8
    melody = generator.generate(TWINKLE, num_steps=20, temperature=temperature, seed=7)[0]
    assert melody.transposition == 0  # twinkle already sits in the range, in C
    rng = np.random.default_rng(7)
    events = list(TWINKLE)
    score = 0.0
    log_probabilities = full_model_log_probabilities(
        generator.model, generator.encoder.inputs(events), temperature
    )
    labels = generator.encoder.labels(events)[1:]
    score += log_probabilities[np.arange(len(labels)), labels].sum()
    while len(events) < 20:
        log_probabilities = full_model_log_probabilities(
            generator.model, generator.encoder.inputs(events), temperature
        )[-1]
        probabilities = np.exp(log_probabilities)
        chosen = int((np.cumsum(probabilities) <= rng.random() * probabilities.sum()).sum())
        events.append(generator.encoder.class_index_to_event(chosen, events))
        score += log_probabilities[generator.encoder.labels(events)[-1]]
    assert melody.events == events
    assert melody.log_likelihood == pytest.approx(score, rel=1e-5)


@pytest.mark.parametrize("name", ["basic_rnn", "mono_rnn", "lookback_rnn", "attention_rnn"])
def test_beam_scores_are_the_log_likelihoods_of_the_returned_melodies(generators, name):
    generator = generators[name]
    primer = [
        76,
        NO_EVENT,
        79,
        NO_EVENT,
        81,
        NOTE_OFF,
        83,
        NO_EVENT,
    ]  # squashed by basic/lookback/attention
    for temperature in (1.0, 0.6):
        melodies = generator.generate(
            primer,
            num_steps=26,
            num_outputs=3,
            temperature=temperature,
            beam_size=3,
            branch_factor=2,
            steps_per_iteration=2,
            seed=3,
        )
        for melody in melodies:
            # The melody as the model saw it, primer included, scored from scratch by the full model.
            inputs, labels = generator.encoder.encode(melody.model_events)
            log_probabilities = full_model_log_probabilities(generator.model, inputs, temperature)
            direct = log_probabilities[np.arange(len(labels)), labels].sum()
            assert melody.log_likelihood == pytest.approx(direct, rel=1e-5, abs=1e-4)
            assert melody_log_likelihood(
                generator, melody, temperature=temperature
            ) == pytest.approx(melody.log_likelihood, rel=1e-5, abs=1e-4)


def test_beam_search_prefers_likelier_melodies(generators):
    generator = generators["basic_rnn"]
    sampled = generator.generate(TWINKLE, num_steps=24, num_outputs=8, seed=11)
    searched = generator.generate(
        TWINKLE, num_steps=24, num_outputs=8, beam_size=4, branch_factor=4, seed=11
    )
    assert np.mean([m.log_likelihood for m in searched]) > np.mean(
        [m.log_likelihood for m in sampled]
    )


def test_all_outputs_and_beams_advance_in_one_model_call_per_step(generators):
    """The Python loop: one StepModel call for the primer, then one per step for every row."""
    generator = generators["lookback_rnn"]
    calls = []
    real_step_model, sampler = generator.step_model, generator._sampler

    class CountingStepModel:
        def __init__(self, inner):
            self.inner = inner

        def __call__(self, inputs, state):
            calls.append(tuple(np.shape(inputs))[:2])
            return self.inner(inputs, state)

        def __getattr__(self, name):
            return getattr(self.inner, name)

    generator.step_model, generator._sampler = CountingStepModel(real_step_model), None
    try:
        generator.generate(
            TWINKLE, num_steps=8 + 16, num_outputs=3, beam_size=2, branch_factor=2, seed=0
        )
    finally:
        generator.step_model, generator._sampler = real_step_model, sampler
    assert calls[0] == (1, 8)  # the primer, once, for one row
    assert calls[1:] == [(3 * 2 * 2, 1)] * 15  # then one step of every row of every output per call


def test_compiled_beam_search_takes_one_call_per_step_and_sampling_one_call_in_all(generators):
    generator = generators["lookback_rnn"]
    sampler = generator._sampler
    extend_rows, sample_calls = [], []
    real_extend, real_sample = sampler.extend, sampler.sample

    def counting_extend(rows, position, uniforms, temperature):
        extend_rows.append((int(rows.histories.shape[0]), position))
        return real_extend(rows, position, uniforms, temperature)

    def counting_sample(rows, primer_length, uniforms, temperature):
        sample_calls.append(uniforms.shape)
        return real_sample(rows, primer_length, uniforms, temperature)

    sampler.extend, sampler.sample = counting_extend, counting_sample
    try:
        generator.generate(
            TWINKLE, num_steps=8 + 16, num_outputs=3, beam_size=2, branch_factor=2, seed=0
        )
        generator.generate(TWINKLE, num_steps=8 + 16, num_outputs=3, seed=0)
    finally:
        sampler.extend, sampler.sample = real_extend, real_sample
    assert extend_rows == [(3 * 2 * 2, position) for position in range(8, 24)]
    assert sample_calls == [(16, 3)]


def test_melody_log_likelihood_matches_the_full_model(generators):
    generator = generators["attention_rnn"]
    melody = [79, -2, 81, -2, 83, -1, 84, -2, 86, -2, -2, 88]
    squashed = Melody(list(melody))
    squashed.squash(48, 84, 0)
    inputs, labels = generator.encoder.encode(squashed.events)
    log_probabilities = full_model_log_probabilities(generator.model, inputs)
    expected = log_probabilities[np.arange(len(labels)), labels].sum()
    assert melody_log_likelihood(generator.model, melody, generator.config) == pytest.approx(
        expected, rel=1e-5
    )
    assert melody_log_likelihood(generator, Melody(melody)) == pytest.approx(expected, rel=1e-5)
    halved = log_probabilities_at(generator, squashed.events, 0.5)
    assert melody_log_likelihood(generator, melody, temperature=0.5) == pytest.approx(
        halved, rel=1e-5
    )
    assert melody_log_likelihood(generator, [60]) == 0.0


def log_probabilities_at(generator, events, temperature):
    inputs, labels = generator.encoder.encode(events)
    log_probabilities = full_model_log_probabilities(generator.model, inputs, temperature)
    return log_probabilities[np.arange(len(labels)), labels].sum()


# --- the beam search on its own, with toy step functions --------------------------------------
def counter_search(
    value_of, num_steps=5, beam_size=1, branch_factor=1, steps_per_iteration=1, calls=None
):
    """A toy in the spirit of Magenta's beam_search_test: each row appends value_of(row, length);
    a 0 doubles the row's state, a 1 adds the state to the score and resets it to 1. The best
    sequence of length 5 is [0, 0, 0, 0, 1] (score 16); greedy choices give [1, 1, 1, 1, 1] (5)."""

    def step(rows, state, scores):
        state, scores = state.copy(), scores.copy()
        if calls is not None:
            calls.append((len(rows), len(rows[0])))
        for row, sequence in enumerate(rows):
            value = value_of(row, len(sequence))
            sequence.append(value)
            if value == 0:
                state[row] *= 2
            else:
                scores[row] += state[row]
                state[row] = 1
        return state, scores

    return beam_search(
        [[]],
        np.array([1]),
        [0.0],
        step,
        lambda state, rows: state[rows],
        num_steps,
        beam_size,
        branch_factor,
        steps_per_iteration,
    )


def test_toy_beam_search_without_branching_is_plain_generation():
    calls = []
    sequences, state, scores = counter_search(lambda row, length: 0, calls=calls)
    assert sequences == [[0, 0, 0, 0, 0]] and state.tolist() == [32] and scores.tolist() == [0]
    assert calls == [(1, length) for length in range(5)]
    assert counter_search(lambda row, length: 0, steps_per_iteration=2)[0] == [[0, 0, 0, 0, 0]]


def test_toy_beam_search_with_one_step_per_iteration_is_greedy():
    # Each row's branches append 0 and 1; keeping the single best after every step never waits.
    sequences, state, scores = counter_search(lambda row, length: row % 2, branch_factor=2)
    assert sequences == [[1, 1, 1, 1, 1]] and scores.tolist() == [5] and state.tolist() == [1]


def test_toy_beam_search_looking_ahead_finds_the_best_sequence():
    # One iteration of 5 steps over 32 branches: branch r appends the bits of r, so every
    # sequence of five bits is tried and the best survives.
    sequences, state, scores = counter_search(
        lambda row, length: (row >> length) & 1, branch_factor=32, steps_per_iteration=5
    )
    assert sequences == [[0, 0, 0, 0, 1]] and scores.tolist() == [16] and state.tolist() == [1]


def test_toy_beam_search_iterations_prune_branch_and_extend():
    calls = []
    # 7 steps, 3 per iteration: a first iteration of 1 step, then 2 of 3 (magenta-behaviour.md: "Beam search").
    counter_search(
        lambda row, length: row % 2,
        num_steps=7,
        beam_size=2,
        branch_factor=3,
        steps_per_iteration=3,
        calls=calls,
    )
    assert calls == [(6, length) for length in range(7)]
    # A wide beam keeps the zeros alive long enough to cash in late: better than greedy.
    _, _, greedy = counter_search(lambda row, length: row % 2, branch_factor=2)
    _, _, wide = counter_search(
        lambda row, length: (row // 2**length) % 2,
        beam_size=1,
        branch_factor=32,
        steps_per_iteration=5,
    )
    assert wide[0] > greedy[0]


def test_toy_beam_search_runs_independent_searches_together():
    def make_step(num_searches):
        def step(rows, state, scores):
            rows_per_search = len(rows) // num_searches
            for row, sequence in enumerate(rows):
                value = (sum(sequence) * 7 + row % rows_per_search * 3) % 5
                sequence.append(value)
            return state, scores + np.array([row[-1] for row in rows], dtype=float) ** 1.5

        return step

    def select(state, rows):
        return state[rows]

    starts = [[1], [2, 3]]
    together = beam_search(starts, np.array([0, 1]), [0.0, 0.5], make_step(2), select, 6, 3, 2, 2)
    for search in range(2):
        alone = beam_search(
            [starts[search]],
            np.array([search]),
            [[0.0, 0.5][search]],
            make_step(1),
            select,
            6,
            3,
            2,
            2,
        )
        assert together[0][search] == alone[0][0]
        assert together[1][search] == alone[1][0] == search
        assert together[2][search] == alone[2][0]


# --- MIDI files and the CLI --------------------------------------------------------------------
def test_write_melodies_names_velocity_tempo_and_primer(tmp_path):
    melodies = [GeneratedMelody(TWINKLE + [69, -2, -1, 65], 8, -3.0, qpm=96.0) for _ in range(12)]
    when = datetime.datetime(2024, 5, 6, 7, 8, 9)
    paths = write_melodies(melodies, tmp_path / "out", when=when)
    assert [path.name for path in paths] == [f"2024-05-06_070809_{i:02d}.mid" for i in range(1, 13)]
    midi = pretty_midi.PrettyMIDI(str(paths[0]))
    notes = midi.instruments[0].notes
    assert [note.pitch for note in notes] == [60, 60, 67, 67, 69, 65]
    assert {note.velocity for note in notes} == {100}
    assert midi.get_tempo_changes()[1][0] == pytest.approx(96.0, rel=1e-3)
    seconds_per_step = 60.0 / 96.0 / 4
    assert notes[0].start == pytest.approx(0.0) and notes[1].start == pytest.approx(
        2 * seconds_per_step, abs=1e-3
    )
    assert notes[4].end == pytest.approx(10 * seconds_per_step, abs=1e-3)  # the note-off at step 10
    assert [path.name for path in output_filenames(tmp_path, 3, when)][
        0
    ] == "2024-05-06_070809_1.mid"


@pytest.fixture(scope="module")
def bundle_file(tmp_path_factory, generators):
    path = tmp_path_factory.mktemp("bundles") / "basic.bundle"
    save_bundle(
        path, generators["basic_rnn"].model, generators["basic_rnn"].config, "tiny test model"
    )
    return path


def test_cli_without_a_primer_starts_from_middle_c(bundle_file, tmp_path, capsys):
    status = cli.main(
        [
            "generate",
            "--bundle_file",
            str(bundle_file),
            "--output_dir",
            str(tmp_path),
            "--num_outputs",
            "2",
            "--num_steps",
            "16",
            "--seed",
            "1",
        ]
    )
    assert status == 0
    output = capsys.readouterr().out
    assert "middle C" in output and "Wrote 2 MIDI files" in output
    paths = sorted(tmp_path.glob("*.mid"))
    assert [
        re.fullmatch(r"\d{4}-\d{2}-\d{2}_\d{6}_(\d)\.mid", path.name).group(1) for path in paths
    ] == ["1", "2"]
    for path in paths:
        notes = pretty_midi.PrettyMIDI(str(path)).instruments[0].notes
        assert notes[0].pitch == MIDDLE_C and notes[0].start == pytest.approx(0.0)


def test_cli_midi_primer_reports_polyphony_and_keeps_the_tempo(bundle_file, tmp_path, capsys):
    midi = pretty_midi.PrettyMIDI(initial_tempo=80.0)
    piano = pretty_midi.Instrument(0)
    piano.notes += [pretty_midi.Note(90, 60, 0.0, 0.5), pretty_midi.Note(90, 64, 0.0, 0.5)]
    midi.instruments.append(piano)
    midi.write(str(tmp_path / "chord.mid"))
    status = cli.main(
        [
            "generate",
            "--bundle_file",
            str(bundle_file),
            "--output_dir",
            str(tmp_path / "out"),
            "--num_outputs",
            "1",
            "--num_steps",
            "16",
            "--primer_midi",
            str(tmp_path / "chord.mid"),
        ]
    )
    assert status == 0
    assert "simultaneous notes" in capsys.readouterr().out
    written = pretty_midi.PrettyMIDI(str(next((tmp_path / "out").glob("*.mid"))))
    assert written.get_tempo_changes()[1][0] == pytest.approx(80.0, rel=1e-3)
    assert written.instruments[0].notes[0].pitch == 64


def test_cli_errors(bundle_file, tmp_path, capsys):
    arguments = ["generate", "--bundle_file", str(bundle_file), "--output_dir", str(tmp_path)]
    assert cli.main(arguments + ["--config", "lookback_rnn"]) == 1
    assert "holds a basic_rnn model" in capsys.readouterr().err
    assert cli.main(arguments + ["--primer_melody", "\u201c[60]\u201d"]) == 1
    assert "typographic quotes" in capsys.readouterr().err
    assert cli.main(arguments + ["--num_steps", "16.5"]) == 1
    assert "whole number" in capsys.readouterr().err
    assert cli.main(arguments + ["--temperature", "0"]) == 1
    assert "temperature" in capsys.readouterr().err
    (tmp_path / "run").mkdir()
    assert (
        cli.main(["generate", "--run_dir", str(tmp_path / "run"), "--output_dir", str(tmp_path)])
        == 1
    )
    assert "no checkpoint" in capsys.readouterr().err
    assert (
        cli.main(
            ["generate", "--checkpoint_file", str(tmp_path / "ckpt-9"), "--config", "basic_rnn"]
        )
        == 1
    )
    assert "no such checkpoint" in capsys.readouterr().err
    assert not list(tmp_path.glob("*.mid"))
