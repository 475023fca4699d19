"""Tests for melodylib.training: loss and metrics, optimiser, checkpoints and resuming,
a SIGKILLed run, warm start, divergence, MirroredStrategy and clear errors for bad input."""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from melodylib.bundles.bundle import save_bundle
from melodylib.bundles.sources import load_trained_model
from melodylib.cli import main as cli
from melodylib.data.sequence_examples import sequence_example_bytes
from melodylib.encoding.configs import get_config
from melodylib.errors import MelodylibError
from melodylib.models.melody_rnn import build_model
from melodylib.tfrecords import write_records
from melodylib.training.checkpoints import TrainingDivergedError, remove_partial_checkpoints
from melodylib.training.loop import train
from melodylib.training.metrics import MetricSums, batch_metric_sums
from melodylib.training.step import make_optimizer

TINY = "batch_size=4,rnn_layer_sizes=[8,8]"
REPOSITORY = Path(__file__).resolve().parents[1]


def tiny_config(name: str = "basic_rnn", **overrides):
    """A config with tiny layers and batches (fast), plus any hparam overrides."""
    return get_config(name, {"batch_size": 4, "rnn_layer_sizes": [8, 8], **overrides})


def random_events(rng: np.random.Generator, length: int) -> list[int]:
    draws = rng.random(length)
    pitches = rng.integers(48, 84, size=length)
    events = np.where(draws < 0.45, pitches, np.where(draws < 0.9, -2, -1)).tolist()
    events[0] = int(pitches[0])
    return [int(event) for event in events]


def write_melodies(
    path: Path, config, lengths, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Encode random valid melodies of the given lengths (events) and write them as SequenceExamples."""
    rng = np.random.default_rng(seed)
    examples = [config.encoder.encode(random_events(rng, length)) for length in lengths]
    write_records(path, [sequence_example_bytes(inputs, labels) for inputs, labels in examples])
    return examples


def quiet(_message: str) -> None:
    """A log function that drops the lines (tests that do not read them)."""


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """24 basic_rnn melodies of 20..40 events."""
    folder = tmp_path_factory.mktemp("data")
    write_melodies(folder / "training.tfrecord", tiny_config(), list(range(20, 44)))
    return folder / "training.tfrecord"


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, data) -> Path:
    """A run_dir trained 2 steps (a checkpoint at each step); tests copy it before changing it."""
    run_dir = tmp_path_factory.mktemp("runs") / "base"
    train(
        tiny_config(),
        str(data),
        run_dir,
        num_training_steps=2,
        save_checkpoint_secs=0,
        seed=0,
        log=quiet,
    )
    return run_dir


def copy_run(trained_run: Path, tmp_path: Path) -> Path:
    run_dir = tmp_path / "run"
    shutil.copytree(trained_run, run_dir)
    return run_dir


def checkpoint_prefixes(run_dir: Path) -> list[str]:
    names = [path.name[: -len(".index")] for path in (run_dir / "train").glob("ckpt-*.index")]
    return sorted(names, key=lambda name: int(name.rsplit("-", 1)[1]))


# --- loss and metrics --------------------------------------------------------------------------
def numpy_sums(labels, logits, mask, no_event_label):
    log_probabilities = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
    cross_entropy = -np.take_along_axis(log_probabilities, labels[..., None], axis=-1)[..., 0]
    correct = (logits.argmax(axis=-1) == labels) & (mask > 0)
    no_event = (labels == no_event_label) & (mask > 0)
    event = (labels != no_event_label) & (mask > 0)
    return (
        (cross_entropy * mask).sum(),
        mask.sum(),
        correct.sum(),
        event.sum(),
        (correct & event).sum(),
        no_event.sum(),
        (correct & no_event).sum(),
    )


@pytest.mark.parametrize("no_event_label", [0, 36])
def test_metrics_on_a_hand_made_batch(no_event_label):
    # Two rows; the second has 2 padded steps whose labels are 0 (a real class): they must not count.
    logits = np.full((2, 4, 40), -2.0, dtype=np.float32)
    labels = np.array([[no_event_label, 5, 7, no_event_label], [5, no_event_label, 0, 0]])
    mask = np.array([[1, 1, 1, 1], [1, 1, 0, 0]], dtype=np.float32)
    predictions = np.array(
        [[no_event_label, 5, 9, 3], [5, 12, 0, 0]]
    )  # right, right, wrong, wrong; right, wrong
    for row in range(2):
        for step in range(4):
            logits[row, step, predictions[row, step]] = 3.0
    sums = MetricSums()
    sums.add(batch_metric_sums(labels, logits, mask, no_event_label).numpy())
    metrics = sums.metrics()
    expected = numpy_sums(labels, logits.astype(np.float64), mask, no_event_label)
    assert metrics["loss"] == pytest.approx(expected[0] / 6, rel=1e-5)
    assert metrics["perplexity"] == pytest.approx(math.exp(expected[0] / 6), rel=1e-5)
    assert metrics["accuracy"] == pytest.approx(3 / 6)
    # Events (label != no-event): 5, 7 in row 0 and 5 in row 1 -> 2 of 3 right.
    assert metrics["event_accuracy"] == pytest.approx(2 / 3)
    # No events: steps 0 and 3 of row 0 and step 1 of row 1 -> 1 of 3 right.
    assert metrics["no_event_accuracy"] == pytest.approx(1 / 3)
    assert metrics["padded_fraction"] == pytest.approx(2 / 8)


def test_metric_sums_accumulate_over_batches_as_one_batch():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(6, 9, 38)).astype(np.float32)
    labels = rng.integers(0, 3, size=(6, 9))
    mask = (np.arange(9)[None, :] < rng.integers(1, 10, size=6)[:, None]).astype(np.float32)
    whole = MetricSums()
    whole.add(batch_metric_sums(labels, logits, mask, 0).numpy())
    parts = MetricSums()
    for rows in (slice(0, 2), slice(2, 6)):
        parts.add(batch_metric_sums(labels[rows], logits[rows], mask[rows], 0).numpy())
    for name, value in whole.metrics().items():
        assert parts.metrics()[name] == pytest.approx(value, rel=1e-5)
    expected = numpy_sums(labels, logits.astype(np.float64), mask, 0)
    assert whole.metrics()["loss"] == pytest.approx(expected[0] / expected[1], rel=1e-5)
    with pytest.raises(MelodylibError, match="empty"):
        MetricSums().metrics()


def test_encoders_give_their_own_no_event_label():
    assert tiny_config("basic_rnn").encoder.default_event_label == 0
    assert tiny_config("lookback_rnn").encoder.default_event_label == 0
    assert tiny_config("attention_rnn").encoder.default_event_label == 36


@pytest.mark.parametrize("name, clip_norm", [("basic_rnn", 5.0), ("attention_rnn", 3.0)])
def test_optimizer_is_adam_with_tf1_epsilon_and_per_variable_clipping(name, clip_norm):
    import keras

    optimizer = make_optimizer(get_config(name))
    assert isinstance(optimizer, keras.optimizers.Adam)
    optimizer_config = optimizer.get_config()
    assert optimizer_config["epsilon"] == pytest.approx(1e-8)
    assert optimizer_config["clipnorm"] == pytest.approx(clip_norm)
    assert optimizer_config["global_clipnorm"] is None
    assert optimizer_config["learning_rate"] == pytest.approx(1e-3)
    assert optimizer_config["beta_1"] == pytest.approx(0.9) and optimizer_config[
        "beta_2"
    ] == pytest.approx(0.999)


def test_first_training_loss_is_the_mean_over_the_valid_steps_of_the_batch(tmp_path):
    """Warm start from known weights; the first logged loss (before any update) is the numpy one."""
    config = tiny_config(dropout_keep_prob=1.0)
    # Four melodies of different lengths in one length bucket: the first batch holds all four.
    examples = write_melodies(tmp_path / "data.tfrecord", config, [21, 26, 29, 33], seed=4)
    model = build_model(config)
    save_bundle(tmp_path / "start.bundle", model, config)
    result = train(
        config,
        str(tmp_path / "data.tfrecord"),
        tmp_path / "run",
        num_training_steps=1,
        summary_frequency=1,
        warm_start_bundle=str(tmp_path / "start.bundle"),
        log=quiet,
    )
    cross_entropy, correct, steps = 0.0, 0, 0
    for inputs, labels in examples:
        logits = model(inputs[None], training=False).numpy()[0].astype(np.float64)
        log_probabilities = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
        cross_entropy -= log_probabilities[np.arange(len(labels)), labels].sum()
        correct += int((logits.argmax(axis=-1) == labels).sum())
        steps += len(labels)
    first = result.history[0]
    assert first["step"] == 1
    assert first["loss"] == pytest.approx(
        cross_entropy / steps, rel=1e-5
    )  # token-level mean, not per melody
    assert first["accuracy"] == pytest.approx(correct / steps)
    assert first["padded_fraction"] == pytest.approx(1 - steps / (4 * 32))


# --- checkpoints, resuming, summaries ----------------------------------------------------------
def test_keeps_the_latest_checkpoints_and_resumes_with_the_step(data, tmp_path):
    run_dir = tmp_path / "run"
    lines: list[str] = []
    first = train(
        tiny_config(),
        str(data),
        run_dir,
        num_training_steps=4,
        save_checkpoint_secs=0,
        num_checkpoints=2,
        summary_frequency=2,
        eval_sequence_example_file=str(data),
        eval_frequency=2,
        log=lines.append,
    )
    assert first.step == 4 and first.resumed_from == 0
    assert lines[0].startswith("Starting a new basic_rnn run")
    assert checkpoint_prefixes(run_dir) == ["ckpt-3", "ckpt-4"]
    assert [entry["step"] for entry in first.eval_history] == [2, 4]
    # TensorBoard summaries under Magenta's names, in run_dir/train and run_dir/eval.
    for folder in ("train", "eval"):
        tags = set()
        for path in (run_dir / folder).glob("events.out.tfevents.*"):
            for event in tf.compat.v1.train.summary_iterator(str(path)):
                tags.update(value.tag for value in event.summary.value)
        assert {
            "loss",
            "metrics/perplexity",
            "metrics/accuracy",
            "metrics/event_accuracy",
            "metrics/no_event_accuracy",
        } <= tags, folder
    lines.clear()
    second = train(
        tiny_config(),
        str(data),
        run_dir,
        num_training_steps=6,
        save_checkpoint_secs=3600,
        num_checkpoints=2,
        summary_frequency=1,
        log=lines.append,
    )
    assert lines[0] == f"Resuming from checkpoint {run_dir / 'train' / 'ckpt-4'} at step 4."
    assert second.resumed_from == 4 and second.step == 6
    assert [entry["step"] for entry in second.history] == [5, 6]
    # Without a save during the run (3600 s), the end of the run still saves.
    assert checkpoint_prefixes(run_dir) == ["ckpt-4", "ckpt-6"]
    model, config, step = load_trained_model(run_dir)
    assert step == 6 and config.name == "basic_rnn" and config.hparams.rnn_layer_sizes == [8, 8]
    # Asking for a step already reached trains nothing.
    third = train(tiny_config(), str(data), run_dir, num_training_steps=6, log=quiet)
    assert third.step == 6 and third.history == []


def test_a_killed_training_run_resumes_to_the_same_step(data, tmp_path):
    run_dir = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "melodylib",
        "train",
        "--config",
        "basic_rnn",
        "--hparams",
        TINY,
        "--sequence_example_file",
        str(data),
        "--run_dir",
        str(run_dir),
        "--num_training_steps",
        "100000",
        "--save_checkpoint_secs",
        "0",
        "--summary_frequency",
        "1",
        "--num_checkpoints",
        "3",
    ]
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(REPOSITORY))
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=environment
    )
    try:
        deadline = time.monotonic() + 120
        while not (run_dir / "train" / "checkpoint").exists():
            assert process.poll() is None, process.stdout.read().decode()
            assert time.monotonic() < deadline, "no checkpoint appeared within 120 s"
            time.sleep(0.02)
        time.sleep(0.3)  # a few more steps, each saving: the kill lands during or between saves
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert process.returncode == -signal.SIGKILL
    killed_at = int(tf.train.latest_checkpoint(str(run_dir / "train")).rsplit("-", 1)[1])
    assert killed_at >= 1
    target = killed_at + 3
    lines: list[str] = []
    result = train(
        tiny_config(),
        str(data),
        run_dir,
        num_training_steps=target,
        save_checkpoint_secs=0,
        num_checkpoints=3,
        log=lines.append,
    )
    assert (
        lines[0]
        == f"Resuming from checkpoint {run_dir / 'train' / f'ckpt-{killed_at}'} at step {killed_at}."
    )
    assert result.step == target and result.resumed_from == killed_at
    # Every checkpoint left is complete and readable; nothing half-written remains.
    train_dir = run_dir / "train"
    assert not [
        path for path in train_dir.iterdir() if path.name.endswith("_temp") or ".tmp" in path.name
    ]
    prefixes = checkpoint_prefixes(run_dir)
    assert prefixes[-1] == f"ckpt-{target}" and len(prefixes) == 3
    for prefix in prefixes:
        assert (train_dir / f"{prefix}.data-00000-of-00001").exists()
        reader = tf.train.load_checkpoint(str(train_dir / prefix))
        assert reader.get_tensor("global_step/.ATTRIBUTES/VARIABLE_VALUE") == int(
            prefix.split("-")[1]
        )
    data_files = {path.name.split(".")[0] for path in train_dir.glob("ckpt-*.data-*")}
    assert data_files == set(prefixes)
    assert load_trained_model(run_dir)[2] == target


def test_sigterm_stops_a_background_run_with_a_final_checkpoint(data, tmp_path):
    run_dir = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "melodylib",
        "train",
        "--config",
        "basic_rnn",
        "--hparams",
        TINY,
        "--sequence_example_file",
        str(data),
        "--run_dir",
        str(run_dir),
        "--num_training_steps",
        "100000",
        "--save_checkpoint_secs",
        "3600",
        "--summary_frequency",
        "1",
    ]
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(REPOSITORY))
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=environment, text=True
    )
    lines = []
    for line in process.stdout:  # wait until it trains
        lines.append(line)
        if line.startswith("Train  step      3"):
            break
    process.send_signal(signal.SIGTERM)
    lines += process.stdout.readlines()
    assert process.wait(timeout=120) == 0, "".join(lines)
    stopped = [line for line in lines if line.startswith("Interrupted at step")]
    assert stopped, "".join(lines)
    step = int(stopped[0].split()[3].rstrip(";"))
    # No periodic save happened (3600 s): the checkpoint is the one written on the way out.
    assert checkpoint_prefixes(run_dir) == [f"ckpt-{step}"]


def test_partial_files_of_an_interrupted_save_are_removed(trained_run, tmp_path):
    run_dir = copy_run(trained_run, tmp_path)
    train_dir = run_dir / "train"
    (train_dir / "ckpt-3.index").write_bytes(b"half an index")
    (train_dir / "ckpt-3_temp").mkdir()
    (train_dir / "ckpt-3_temp" / "part-00000-of-00001.data-00000-of-00001").write_bytes(b"x")
    (train_dir / "checkpoint.tmp1a2b3c").write_text('model_checkpoint_path: "ckpt-3"')
    lines: list[str] = []
    removed = remove_partial_checkpoints(train_dir, lines.append)
    assert sorted(removed) == ["checkpoint.tmp1a2b3c", "ckpt-3.index", "ckpt-3_temp"]
    assert "interrupted checkpoint save" in lines[0]
    assert checkpoint_prefixes(run_dir) == ["ckpt-1", "ckpt-2"]
    assert remove_partial_checkpoints(train_dir, lines.append) == [] and len(lines) == 1


def test_warm_start_begins_from_the_bundle_weights(data, tmp_path):
    config = tiny_config(learning_rate=1e-9)
    import keras

    keras.utils.set_random_seed(123)
    bundle_model = build_model(config)
    save_bundle(tmp_path / "start.bundle", bundle_model, config, description="a start")
    lines: list[str] = []
    result = train(
        config,
        str(data),
        tmp_path / "run",
        num_training_steps=1,
        warm_start_bundle=str(tmp_path / "start.bundle"),
        log=lines.append,
    )
    assert result.step == 1  # the step count starts at 0 (Magenta's warm start skips global_step)
    assert "Starting from the weights of bundle" in lines[0]
    model, _, _ = load_trained_model(tmp_path / "run")
    for trained, original in zip(model.weights, bundle_model.weights):
        np.testing.assert_allclose(trained.numpy(), original.numpy(), atol=1e-6)
    lookback = tiny_config("lookback_rnn")
    write_melodies(tmp_path / "lookback.tfrecord", lookback, [30] * 4)
    with pytest.raises(MelodylibError, match="holds a basic_rnn model"):
        train(
            lookback,
            str(tmp_path / "lookback.tfrecord"),
            tmp_path / "other",
            num_training_steps=1,
            warm_start_bundle=str(tmp_path / "start.bundle"),
            log=quiet,
        )
    wider = tiny_config(rnn_layer_sizes=[16, 8])
    with pytest.raises(MelodylibError, match=r"has shape \(38, 32\) in the bundle but \(38, 64\)"):
        train(
            wider,
            str(data),
            tmp_path / "wider",
            num_training_steps=1,
            warm_start_bundle=str(tmp_path / "start.bundle"),
            log=quiet,
        )


def test_a_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(trained_run, tmp_path):
    run_dir = copy_run(trained_run, tmp_path)
    config = tiny_config()
    rng = np.random.default_rng(0)
    inputs, labels = config.encoder.encode(random_events(rng, 30))
    inputs[3, 0] = np.nan  # a corrupted data set
    write_records(tmp_path / "nan.tfrecord", [sequence_example_bytes(inputs, labels)] * 8)
    with pytest.raises(TrainingDivergedError) as error:
        train(
            config,
            str(tmp_path / "nan.tfrecord"),
            run_dir,
            num_training_steps=10,
            save_checkpoint_secs=0,
            log=quiet,
        )
    message = str(error.value)
    assert "the loss became nan at step 3" in message and "ckpt-2" in message
    assert checkpoint_prefixes(run_dir) == ["ckpt-1", "ckpt-2"]
    model, _, step = load_trained_model(run_dir)
    assert step == 2 and all(np.isfinite(weight.numpy()).all() for weight in model.weights)


def test_weights_that_became_nan_are_never_saved(trained_run, data, tmp_path, monkeypatch):
    import melodylib.training.checkpoints as checkpoints

    run_dir = copy_run(trained_run, tmp_path)
    monkeypatch.setattr(
        checkpoints, "all_finite", lambda variables: False
    )  # as if the last update overflowed
    with pytest.raises(
        TrainingDivergedError, match="the weights became NaN or infinite .* at step 3.*ckpt-2"
    ):
        train(
            tiny_config(),
            str(data),
            run_dir,
            num_training_steps=10,
            save_checkpoint_secs=0,
            log=quiet,
        )
    assert checkpoint_prefixes(run_dir) == ["ckpt-1", "ckpt-2"]


def test_a_huge_learning_rate_ends_in_a_clear_divergence_error(data, tmp_path):
    config = tiny_config(learning_rate=1e38)
    with pytest.raises(TrainingDivergedError, match="became"):
        train(
            config,
            str(data),
            tmp_path / "run",
            num_training_steps=50,
            save_checkpoint_secs=0,
            log=quiet,
        )
    # Whatever was saved before holds finite weights only.
    if checkpoint_prefixes(tmp_path / "run"):
        model, _, _ = load_trained_model(tmp_path / "run")
        assert all(np.isfinite(weight.numpy()).all() for weight in model.weights)


MIRRORED_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])
    from melodylib.encoding.configs import get_config
    from melodylib.training.loop import train
    config = get_config("basic_rnn", "batch_size=4,rnn_layer_sizes=[8,8]")
    result = train(config, sys.argv[1], sys.argv[2], num_training_steps=3, summary_frequency=1,
                   strategy="mirrored", seed=0)
    print("RESULT " + json.dumps({"replicas": result.num_replicas, "step": result.step,
                                  "losses": [entry["loss"] for entry in result.history]}))
    """
)


def test_mirrored_strategy_trains_on_two_cpu_replicas(data, tmp_path):
    script = tmp_path / "mirrored.py"
    script.write_text(MIRRORED_SCRIPT)
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(REPOSITORY))
    completed = subprocess.run(
        [sys.executable, str(script), str(data), str(tmp_path / "run")],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "MirroredStrategy on 2 replicas" in completed.stdout
    result = json.loads(completed.stdout.split("RESULT ", 1)[1])
    assert result["replicas"] == 2 and result["step"] == 3
    assert len(result["losses"]) == 3 and all(
        np.isfinite(loss) and 0 < loss < 10 for loss in result["losses"]
    )
    assert load_trained_model(tmp_path / "run")[2] == 3


# --- bad input ---------------------------------------------------------------------------------
def test_hparams_that_do_not_match_the_checkpoint_name_both_values(trained_run, data, tmp_path):
    run_dir = copy_run(trained_run, tmp_path)
    wider = tiny_config(rnn_layer_sizes=[16, 8])
    with pytest.raises(MelodylibError) as error:
        train(wider, str(data), run_dir, num_training_steps=3, log=quiet)
    assert "rnn_layer_sizes is [8, 8] in the checkpoint and [16, 8] now" in str(error.value)
    assert json.loads((run_dir / "run_config.json").read_text())["hparams"]["rnn_layer_sizes"] == [
        8,
        8,
    ]
    # Without the run's config file, the checkpoint itself is compared: both shapes are named.
    (run_dir / "run_config.json").unlink()
    with pytest.raises(MelodylibError) as error:
        train(wider, str(data), run_dir, num_training_steps=3, log=quiet)
    assert "(38, 32)" in str(error.value) and "(38, 64)" in str(error.value)
    with pytest.raises(MelodylibError, match="does not match"):
        load_trained_model(run_dir, config=wider)
    with pytest.raises(MelodylibError, match="holds a basic_rnn run"):
        train(
            tiny_config("mono_rnn"), str(data), copy_run(trained_run, tmp_path / "again"), log=quiet
        )


def test_data_encoded_for_another_config_is_refused(data, tmp_path):
    with pytest.raises(MelodylibError) as error:
        train(
            tiny_config("attention_rnn"),
            str(data),
            tmp_path / "run",
            num_training_steps=1,
            log=quiet,
        )
    assert "38 inputs per step" in str(error.value) and "expects 74" in str(error.value)
    assert not (tmp_path / "run").exists()


def test_an_empty_or_missing_eval_set_is_an_error(data, tmp_path):
    write_records(tmp_path / "empty.tfrecord", [])
    with pytest.raises(MelodylibError, match="holds no melodies"):
        train(
            tiny_config(),
            str(data),
            tmp_path / "run",
            num_training_steps=1,
            eval_sequence_example_file=str(tmp_path / "empty.tfrecord"),
            log=quiet,
        )
    with pytest.raises(MelodylibError, match="does not exist"):
        train(
            tiny_config(),
            str(data),
            tmp_path / "run",
            num_training_steps=1,
            eval_sequence_example_file=str(tmp_path / "missing.tfrecord"),
            log=quiet,
        )


def test_missing_or_unreadable_training_files_are_errors(tmp_path):
    with pytest.raises(MelodylibError, match="is required"):
        train(tiny_config(), "", tmp_path / "run", log=quiet)
    with pytest.raises(MelodylibError, match="does not exist"):
        train(tiny_config(), str(tmp_path / "missing.tfrecord"), tmp_path / "run", log=quiet)
    with pytest.raises(MelodylibError, match="no file matches"):
        train(tiny_config(), str(tmp_path / "*.tfrecord"), tmp_path / "run", log=quiet)
    (tmp_path / "garbage.tfrecord").write_bytes(b"this is not a TFRecord file at all")
    with pytest.raises(MelodylibError, match="garbage.tfrecord"):
        train(tiny_config(), str(tmp_path / "garbage.tfrecord"), tmp_path / "run", log=quiet)
    with pytest.raises(MelodylibError, match="summary_frequency"):
        train(
            tiny_config(),
            str(tmp_path / "garbage.tfrecord"),
            tmp_path / "run",
            summary_frequency=0,
            log=quiet,
        )


def test_cli_errors_are_clear(data, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", "--config", "basic_rnnn", "--sequence_example_file", str(data)])
    assert exit_info.value.code == 2
    assert "invalid choice: 'basic_rnnn'" in capsys.readouterr().err
    status = cli.main(
        [
            "train",
            "--config",
            "basic_rnn",
            "--hparams",
            TINY,
            "--run_dir",
            str(tmp_path / "run"),
            "--sequence_example_file",
            str(tmp_path / "missing.tfrecord"),
        ]
    )
    assert status == 1
    assert "missing.tfrecord does not exist" in capsys.readouterr().err


def test_load_trained_model_errors(tmp_path, trained_run):
    with pytest.raises(MelodylibError, match="does not exist"):
        load_trained_model(tmp_path / "nowhere")
    (tmp_path / "empty_run").mkdir()
    with pytest.raises(MelodylibError, match="no checkpoint"):
        load_trained_model(tmp_path / "empty_run")
    with pytest.raises(MelodylibError, match="no such checkpoint"):
        load_trained_model(checkpoint_file=str(tmp_path / "ckpt-5"))
    model, config, step = load_trained_model(checkpoint_file=str(trained_run / "train" / "ckpt-1"))
    assert step == 1 and config.name == "basic_rnn"


def test_the_training_command_prints_its_own_lines_not_tensorflows(data, tmp_path):
    # TensorFlow logs a line through absl at every checkpoint save ("Sharding callback
    # duration ..."); in a terminal only melodylib's lines (and warnings) should appear.
    command = [
        sys.executable,
        "-m",
        "melodylib",
        "train",
        "--config=basic_rnn",
        f"--hparams={TINY}",
    ]
    command += [f"--run_dir={tmp_path / 'run'}", f"--sequence_example_file={data}"]
    command += ["--num_training_steps=2", "--summary_frequency=1", "--save_checkpoint_secs=0"]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    output = completed.stdout + completed.stderr
    assert "Train  step      2" in output and "Finished at step 2" in output
    assert "Sharding callback" not in output and "INFO:" not in output
