"""Tests for melodylib.models.numpy_step and generation on it (melodylib.generation.backends).

The references are independent of the numpy code: the Keras models of `build_model` (full-
sequence calls, teacher-forced over a real tune) and Magenta 2.1.4's own softmax and
log-likelihoods for its .mag fixtures, for the network; the TensorFlow generator (compiled
sampler and Python loop) for the melodies a seed gives.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest

from melodylib.bundles.bundle import save_bundle
from melodylib.bundles.reading import is_melodylib_bundle_file, load_bundle
from melodylib.course.exercises.real_melodies import corpus_melodies
from melodylib.encoding.configs import get_config
from melodylib.errors import MelodylibError
from melodylib.generation import backends
from melodylib.generation.backends import choose_backend
from melodylib.generation.generator import MelodyGenerator
from melodylib.models.melody_rnn import build_model
from melodylib.models.numpy_step import NumpyStepModel
from melodylib.music.melodies import NO_EVENT, NOTE_OFF

ROOT = Path(__file__).resolve().parent.parent
BUNDLES = {
    name: ROOT / "data" / "bundles" / f"{name}.bundle"
    for name in ("basic_rnn", "mono_rnn", "lookback_rnn", "attention_rnn")
}
# float32 softmax of the same network computed two ways: measured differences are below 2e-6.
SOFTMAX_TOLERANCE = 1e-5
PRIMER = [67, NO_EVENT, 64, NO_EVENT, 62, NOTE_OFF, 60, NO_EVENT, 62, 64]


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(-1, keepdims=True))
    return shifted / shifted.sum(-1, keepdims=True)


def real_tune_inputs(config) -> np.ndarray:
    """A real tune (the first of Aird's Airs in music21's corpus), encoded for `config`: [1, T, I]."""
    _, events = corpus_melodies(config.name if config.name in BUNDLES else "basic_rnn", 1)[0]
    return config.encoder.inputs(list(events)[:128])[None]


def assert_numpy_matches_keras(model, config, step_model=None) -> None:
    """Teacher-forced softmax, numpy (default: a copy of `model`'s weights) against the Keras
    model's full-sequence call, in one call and step by step."""
    inputs = real_tune_inputs(config)
    expected = softmax(model(inputs, training=False).numpy().astype(np.float64))
    step_model = step_model or NumpyStepModel.from_keras_model(model, config)
    logits, _ = step_model(inputs, step_model.zero_state(1))
    np.testing.assert_allclose(softmax(logits.astype(np.float64)), expected, atol=SOFTMAX_TOLERANCE)
    # The state carries over: a primer in one call, then one step per call, on two rows.
    primer_length = 40
    logits, state = step_model(inputs[:, :primer_length], step_model.zero_state(1))
    state = step_model.tile_state(state, 2)
    steps = [logits[0]]
    for position in range(primer_length, inputs.shape[1]):
        logits, state = step_model(np.repeat(inputs[:, position : position + 1], 2, 0), state)
        np.testing.assert_array_equal(logits[0], logits[1])
        state = step_model.gather_state(state, [1, 0])
        steps.append(logits[0])
    stepped = softmax(np.concatenate(steps).astype(np.float64))
    np.testing.assert_allclose(stepped, expected[0], atol=SOFTMAX_TOLERANCE)


@pytest.fixture(scope="module")
def generator_pairs() -> dict[str, tuple[MelodyGenerator, MelodyGenerator]]:
    """(TensorFlow, numpy) generators of every shipped bundle."""
    return {
        name: (
            MelodyGenerator(load_bundle(path), backend="tensorflow"),
            MelodyGenerator(path, backend="numpy"),
        )
        for name, path in BUNDLES.items()
    }


@pytest.mark.parametrize("name", sorted(BUNDLES))
def test_numpy_softmax_equals_keras_for_every_shipped_bundle(generator_pairs, name):
    # The Keras model built from the bundle, against the numpy network read from the file.
    tensorflow_generator, numpy_generator = generator_pairs[name]
    assert_numpy_matches_keras(
        tensorflow_generator.model, tensorflow_generator.config, numpy_generator.step_model
    )


@pytest.mark.parametrize(
    "hparams",
    [
        {"rnn_layer_sizes": [12, 10, 8], "attention_layout": "whole_stack"},
        {"rnn_layer_sizes": [12, 8, 6]},
    ],
    ids=["whole_stack", "first_layer_three_layers"],
)
def test_numpy_softmax_equals_keras_for_other_layouts(hparams):
    keras.utils.set_random_seed(3)
    config = get_config("attention_rnn", {"attn_length": 6, **hparams})
    model = build_model(config)
    # Sharper distributions than a fresh model's near-uniform ones.
    logits = model.get_layer("logits")
    kernel, bias = logits.get_weights()
    logits.set_weights([kernel * 6, np.random.default_rng(2).normal(0, 2, size=bias.shape)])
    assert_numpy_matches_keras(model, config)


def test_residual_connections_are_refused_as_build_model_refuses_them():
    config = get_config("basic_rnn", {"rnn_layer_sizes": [8, 8], "residual_connections": True})
    with pytest.raises(MelodylibError, match="residual_connections=True is not supported"):
        build_model(config)
    with pytest.raises(MelodylibError, match="my.bundle: hparam residual_connections=True"):
        NumpyStepModel.from_weights(config, {}, "my.bundle")


def test_weights_that_do_not_fit_the_config_name_the_source_and_the_weight():
    bundle = load_bundle(BUNDLES["basic_rnn"])
    weights = dict(bundle.weights)
    del weights["lstm_1/lstm_cell/bias"]
    with pytest.raises(
        MelodylibError, match=r"x\.bundle: has no weights for lstm_1/lstm_cell/bias"
    ):
        NumpyStepModel.from_weights(bundle.config, weights, "x.bundle")
    other = get_config("basic_rnn", {"rnn_layer_sizes": [64, 64]})
    with pytest.raises(MelodylibError, match=r"x\.bundle: lstm_0/lstm_cell/kernel has shape"):
        NumpyStepModel.from_weights(other, bundle.weights, "x.bundle")
    step_model = NumpyStepModel.from_bundle(bundle)
    with pytest.raises(MelodylibError, match=r"expected \[batch, time, 38\]"):
        step_model(np.zeros((1, 3, 40)), step_model.zero_state(1))


def melodies_and_scores(generator: MelodyGenerator, python_loop: bool = False, **options):
    sampler = generator._sampler
    if python_loop:
        generator._sampler = None
    try:
        melodies = generator.generate(PRIMER, **options)
    finally:
        generator._sampler = sampler
    return [melody.events for melody in melodies], [melody.log_likelihood for melody in melodies]


SEARCHES = {
    "sampling": {"num_steps": 64, "num_outputs": 4, "temperature": 0.9},
    "hot_sampling": {"num_steps": 48, "num_outputs": 3, "temperature": 1.5},
    "beam_search": {
        "num_steps": 40,
        "num_outputs": 2,
        "beam_size": 2,
        "branch_factor": 2,
        "steps_per_iteration": 2,
    },
}


@pytest.mark.parametrize("search", sorted(SEARCHES))
@pytest.mark.parametrize("name", sorted(BUNDLES))
def test_numpy_generates_what_tensorflow_generates(generator_pairs, name, search):
    tensorflow_generator, numpy_generator = generator_pairs[name]
    assert numpy_generator.backend == "numpy" and numpy_generator.model is None
    for seed in (0, 123):
        options = {**SEARCHES[search], "seed": seed}
        events, scores = melodies_and_scores(numpy_generator, **options)
        compiled_events, compiled_scores = melodies_and_scores(tensorflow_generator, **options)
        assert events == compiled_events
        np.testing.assert_allclose(scores, compiled_scores, rtol=1e-5)
        if seed == 0:
            python_events, _ = melodies_and_scores(tensorflow_generator, True, **options)
            assert events == python_events


def test_numpy_log_likelihood_equals_tensorflow(generator_pairs):
    _, events = corpus_melodies("attention_rnn", 1)[0]
    for tensorflow_generator, numpy_generator in generator_pairs.values():
        expected = tensorflow_generator.log_likelihood(list(events)[:96], temperature=0.8)
        assert numpy_generator.log_likelihood(list(events)[:96], temperature=0.8) == (
            pytest.approx(expected, rel=1e-5)
        )


def test_a_keras_model_runs_on_numpy_with_its_config(generator_pairs):
    tensorflow_generator, _ = generator_pairs["lookback_rnn"]
    generator = MelodyGenerator(
        tensorflow_generator.model, tensorflow_generator.config, backend="numpy"
    )
    options = {**SEARCHES["sampling"], "seed": 5}
    assert (
        melodies_and_scores(generator, **options)[0]
        == (melodies_and_scores(tensorflow_generator, **options)[0])
    )
    with pytest.raises(MelodylibError, match="pass the config"):
        MelodyGenerator(tensorflow_generator.model, backend="numpy")


def test_a_numpy_generator_refuses_a_bundle_of_another_config():
    with pytest.raises(MelodylibError, match="holds a basic_rnn model"):
        MelodyGenerator(BUNDLES["basic_rnn"], get_config("mono_rnn"), backend="numpy")


# --- choosing the engine ---------------------------------------------------------------------
def test_auto_is_numpy_only_for_a_melodylib_bundle_on_a_cpu(tmp_path, monkeypatch):
    magenta_file = tmp_path / "attention_rnn.mag"
    magenta_file.write_bytes(b"\n\x0fgenerator_details")
    assert is_melodylib_bundle_file(BUNDLES["basic_rnn"])
    assert not is_melodylib_bundle_file(magenta_file)
    monkeypatch.setattr(backends, "gpu_visible", lambda: False)
    assert choose_backend(BUNDLES["basic_rnn"]) == "numpy"
    assert choose_backend(str(BUNDLES["basic_rnn"])) == "numpy"
    assert choose_backend(load_bundle(BUNDLES["basic_rnn"])) == "numpy"
    assert choose_backend(magenta_file) == "tensorflow"
    assert choose_backend(object()) == "tensorflow"  # a Keras model
    assert choose_backend(magenta_file, "numpy") == "numpy"
    monkeypatch.setattr(backends, "gpu_visible", lambda: True)
    assert choose_backend(BUNDLES["basic_rnn"]) == "tensorflow"
    with pytest.raises(MelodylibError, match="--backend='jax' is unknown"):
        choose_backend(BUNDLES["basic_rnn"], "jax")
    with pytest.raises(MelodylibError, match="no such file"):
        choose_backend(tmp_path / "missing.bundle")


def test_gpu_visible_hides_devices_when_cuda_visible_devices_is_empty(monkeypatch):
    monkeypatch.delitem(sys.modules, "tensorflow", raising=False)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")
    assert backends.gpu_visible() is False


NO_TENSORFLOW_SCRIPT = textwrap.dedent(
    """
    import sys
    from melodylib.cli.main import main
    from melodylib.generation.generator import MelodyGenerator

    bundle, output_dir = sys.argv[1], sys.argv[2]
    code = main(["generate", f"--bundle_file={bundle}", f"--output_dir={output_dir}",
                 "--num_outputs=2", "--num_steps=32", "--seed=3", "--beam_size=2"])
    assert code == 0, code
    melodies = MelodyGenerator(bundle, backend="auto").generate([60, -2, 62], 24, seed=1)
    assert len(melodies[0].events) == 24
    loaded = sorted(name for name in sys.modules if name.split(".")[0] in ("tensorflow", "keras"))
    print("LOADED", loaded)
    """
)


def test_generating_from_a_bundle_on_numpy_never_imports_tensorflow_or_keras(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", NO_TENSORFLOW_SCRIPT, str(BUNDLES["attention_rnn"]), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "CUDA_VISIBLE_DEVICES": "-1"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "LOADED []" in result.stdout
    assert len(list(tmp_path.glob("*.mid"))) == 2


def test_cli_backends_write_the_same_melodies(tmp_path, capsys):
    from melodylib.cli.main import main

    # A small bundle of its own, so the TensorFlow side traces quickly.
    keras.utils.set_random_seed(4)
    config = get_config("lookback_rnn", {"rnn_layer_sizes": [16, 16]})
    bundle_file = save_bundle(tmp_path / "small.bundle", build_model(config), config)
    printed = {}
    for backend in ("numpy", "tensorflow"):
        code = main(
            [
                "generate",
                f"--bundle_file={bundle_file}",
                f"--output_dir={tmp_path / backend}",
                "--num_outputs=3",
                "--num_steps=48",
                "--seed=11",
                "--temperature=1.3",
                f"--backend={backend}",
            ]
        )
        assert code == 0
        printed[backend] = [
            line.split(": ")[1] for line in capsys.readouterr().out.splitlines() if ".mid:" in line
        ]
        assert len(printed[backend]) == 3
    assert printed["numpy"] == printed["tensorflow"]
    numpy_files = sorted((tmp_path / "numpy").glob("*.mid"))
    tensorflow_files = sorted((tmp_path / "tensorflow").glob("*.mid"))
    assert [path.read_bytes() for path in numpy_files] == [
        path.read_bytes() for path in tensorflow_files
    ]


def test_one_blas_thread_sets_one_thread_inside_and_restores_the_count():
    from melodylib.models import blas_threads

    functions = blas_threads._thread_functions()
    if functions is None:
        if os.environ.get("MELODYLIB_CI") == "1":
            pytest.fail("numpy's OpenBLAS was not found (MELODYLIB_CI=1: it must be)")
        pytest.skip("numpy uses no OpenBLAS here (Accelerate or MKL): nothing to limit")
    get_threads, set_threads = functions
    before = int(get_threads())
    set_threads(2)
    try:
        with blas_threads.one_blas_thread():
            assert int(get_threads()) == 1
        assert int(get_threads()) == 2
        # Overlapping callers (two generators in two threads): the count comes back only when
        # the last one leaves, and not to the 1 that the first one set.
        first, second = blas_threads.one_blas_thread(), blas_threads.one_blas_thread()
        first.__enter__()
        second.__enter__()
        first.__exit__(None, None, None)
        assert int(get_threads()) == 1
        second.__exit__(None, None, None)
        assert int(get_threads()) == 2
    finally:
        set_threads(before)


MAGENTA_DATA = ROOT / "tests" / "data" / "magenta"
MAGENTA_BUNDLES = [
    *(
        ("bundles", name)
        for name in (
            "basic_rnn_default",
            "basic_rnn_small",
            "mono_rnn_small",
            "lookback_rnn_small",
            "attention_rnn_small",
            "attention_rnn_small_attn40",
        )
    ),
    ("bundles/whole_stack", "attention_rnn_whole_stack"),
    ("bundles/whole_stack", "attention_rnn_whole_stack_tf0"),
]


@pytest.mark.parametrize("folder, name", MAGENTA_BUNDLES, ids=[name for _, name in MAGENTA_BUNDLES])
def test_numpy_softmax_equals_magentas_own(folder, name):
    """Against upstream itself: the softmax and log-likelihoods Magenta 2.1.4's graph computed for
    real melodies with its own .mag bundles (made by tools/magenta_reference; the expected
    values sit beside the .mag files, or one folder up for the first-layer ones)."""
    import json

    from melodylib.bundles.magenta import load_magenta_bundle

    bundle_folder = MAGENTA_DATA / folder
    expected_folder = (
        bundle_folder if (bundle_folder / "loglik_expected.json").exists() else (MAGENTA_DATA)
    )
    record = json.loads((expected_folder / "loglik_expected.json").read_text())["bundles"][name]
    expected_softmax = np.load(expected_folder / "loglik_softmax.npz")[f"{name}__softmax"]
    bundle = load_magenta_bundle(bundle_folder / record["bundle_file"])
    generator = MelodyGenerator(bundle, backend="numpy")
    melody = record["melodies"][record["softmax_melody_index"]]
    inputs, _ = bundle.config.encoder.encode(melody["squashed_events"])
    logits, _ = generator.step_model(inputs[None], generator.step_model.zero_state(1))
    np.testing.assert_allclose(
        softmax(logits[0].astype(np.float64)), expected_softmax, atol=SOFTMAX_TOLERANCE
    )
    for melody in record["melodies"]:
        ours = generator.log_likelihood(melody["events"])
        assert ours == pytest.approx(melody["log_likelihood"], rel=1e-3)
