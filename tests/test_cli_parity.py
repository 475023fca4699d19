"""The command line against Magenta 2.1.4's behaviour (magenta-behaviour.md): a MIDI primer's tempo
and leading bars, `train --eval` as a loop over new checkpoints with eval summaries, Magenta's
per-class accuracy, and --generator_id / --generator_description / --hparams with bundles."""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import midi_fixtures as fixtures
import numpy as np
import pretty_midi
import pytest
import tensorflow as tf

from melodylib.bundles.reading import load_bundle
from melodylib.bundles.sources import load_trained_model
from melodylib.cli import main as cli
from melodylib.data.sequence_examples import sequence_example_bytes
from melodylib.encoding.configs import get_config
from melodylib.errors import MelodylibError
from melodylib.evaluation.metrics import evaluate_model
from melodylib.generation.generator import MelodyGenerator
from melodylib.generation.primers import midi_primer, primer_from_events
from melodylib.tfrecords import write_records
from melodylib.training.eval_loop import evaluate_repeatedly, wait_for_new_checkpoint
from melodylib.training.loop import train
from melodylib.training.metrics import MetricSums, batch_metric_sums
from melodylib.training.signals import StopRequest

TINY = "batch_size=4,rnn_layer_sizes=[8,8]"
TICKS = fixtures.TICKS_PER_BEAT
STEP_TICKS = TICKS // 4  # one 16th step


def tiny_config(name: str = "basic_rnn"):
    return get_config(name, TINY)


def quiet(_message: str) -> None:
    """A log function that drops the lines."""


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """20 basic_rnn melodies of 20..39 random events (every class of the range can occur)."""
    rng = np.random.default_rng(3)
    examples = []
    for length in range(20, 40):
        draws = rng.random(length)
        pitches = rng.integers(48, 84, size=length)
        events = np.where(draws < 0.45, pitches, np.where(draws < 0.9, -2, -1)).tolist()
        events[0] = int(pitches[0])
        examples.append(tiny_config().encoder.encode([int(event) for event in events]))
    path = tmp_path_factory.mktemp("data") / "melodies.tfrecord"
    write_records(path, [sequence_example_bytes(inputs, labels) for inputs, labels in examples])
    return path


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, data) -> Path:
    """A run_dir trained 2 steps, with a checkpoint at each."""
    run_dir = tmp_path_factory.mktemp("runs") / "run"
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
    import shutil

    return Path(shutil.copytree(trained_run, tmp_path / "run"))


def eval_summaries(run_dir: Path) -> dict[str, dict[int, float]]:
    """tag -> {step: value} of the TensorBoard event files in run_dir/eval."""
    found: dict[str, dict[int, float]] = {}
    for path in sorted((run_dir / "eval").glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                number = float(tf.make_ndarray(value.tensor)) if value.HasField("tensor") else 0.0
                found.setdefault(value.tag, {})[int(event.step)] = number
    return found


# --- per-class accuracy ------------------------------------------------------------------------
def tf1_mean_per_class_accuracy(labels, predictions, num_classes: int) -> float:
    """TF1's streaming tf.metrics.mean_per_class_accuracy, as Magenta's eval graph used it."""
    graph = tf.Graph()
    with graph.as_default():
        value, update = tf.compat.v1.metrics.mean_per_class_accuracy(
            tf.constant(labels, tf.int64), tf.constant(predictions, tf.int64), num_classes
        )
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(tf.compat.v1.local_variables_initializer())
            session.run(update)
            return float(session.run(value))


def test_per_class_accuracy_is_tf1_mean_per_class_accuracy_over_batches():
    rng = np.random.default_rng(1)
    num_classes = 12
    batches = []
    for rows in (3, 5):
        logits = rng.normal(size=(rows, 7, num_classes)).astype(np.float32)
        # Classes 10 and 11 are never a label: TF1 counts them as accuracy 0 in the mean.
        labels = rng.integers(0, 10, size=(rows, 7))
        mask = (np.arange(7)[None, :] < rng.integers(1, 8, size=rows)[:, None]).astype(np.float32)
        batches.append((logits, labels, mask))
    sums = MetricSums()
    for logits, labels, mask in batches:
        sums.add(batch_metric_sums(labels, logits, mask, 0, per_class=True).numpy())
    valid_labels = np.concatenate([labels[mask > 0] for _, labels, mask in batches])
    valid_predictions = np.concatenate([logits.argmax(-1)[mask > 0] for logits, _, mask in batches])
    expected = tf1_mean_per_class_accuracy(valid_labels, valid_predictions, num_classes)
    assert sums.metrics()["per_class_accuracy"] == pytest.approx(expected, abs=1e-6)
    # Each class's own accuracy, by a plain count; NaN where a class is never a label.
    for label in range(num_classes):
        chosen = valid_labels == label
        own = sums.class_accuracies()[label]
        if chosen.any():
            assert own == pytest.approx((valid_predictions[chosen] == label).mean())
        else:
            assert np.isnan(own)
    # Training sums (no per_class) give the same five metrics and no per-class accuracy.
    plain = MetricSums()
    for logits, labels, mask in batches:
        plain.add(batch_metric_sums(labels, logits, mask, 0).numpy())
    assert "per_class_accuracy" not in plain.metrics()
    assert plain.metrics()["loss"] == pytest.approx(sums.metrics()["loss"])


def test_evaluate_model_reports_per_class_accuracy_of_the_models_own_predictions(data):
    from melodylib.data.sequence_examples import read_sequence_examples
    from melodylib.models.melody_rnn import build_model

    config = tiny_config()
    model = build_model(config)
    metrics = evaluate_model(model, str(data), config)
    labels, predictions = [], []
    for inputs, example_labels in read_sequence_examples(str(data)):
        logits = model(inputs[None].astype(np.float32), training=False).numpy()[0]
        labels.append(example_labels)
        predictions.append(logits.argmax(-1))
    labels, predictions = np.concatenate(labels), np.concatenate(predictions)
    expected = tf1_mean_per_class_accuracy(labels, predictions, config.encoder.num_classes)
    assert metrics["per_class_accuracy"] == pytest.approx(expected, abs=1e-5)
    assert metrics["accuracy"] == pytest.approx((labels == predictions).mean(), abs=1e-6)


# --- train --eval: a loop over new checkpoints -------------------------------------------------
def test_eval_loop_evaluates_each_new_checkpoint_once_then_times_out(trained_run, data, tmp_path):
    run_dir = copy_run(trained_run, tmp_path)
    lines: list[str] = []
    eval_times: list[float] = []

    def log(line: str) -> None:
        lines.append(line)
        if line.startswith("Eval   step"):
            eval_times.append(time.monotonic())
            if len(eval_times) == 1:
                # A training process writes two more checkpoints while the eval process waits:
                # only the latest of them is evaluated.
                train(
                    tiny_config(),
                    str(data),
                    run_dir,
                    num_training_steps=4,
                    save_checkpoint_secs=0,
                    seed=0,
                    log=quiet,
                )

    started = time.monotonic()
    result = evaluate_repeatedly(
        run_dir, str(data), eval_interval_secs=1.0, timeout_secs=0.5, log=log
    )
    assert [entry["step"] for entry in result.evaluations] == [2, 4]
    assert result.stopped_because == "timeout"
    # Two evaluations start at least eval_interval_secs apart; the timeout ends the loop.
    assert eval_times[1] - eval_times[0] >= 1.0
    assert time.monotonic() - started < 300  # (a loaded machine is slow, but not 300 s slow)
    assert lines[-1].startswith("No new checkpoint in") and "after 2 evaluations" in lines[-1]
    # Each evaluation is that checkpoint's model scored on the whole eval set.
    for entry in result.evaluations:
        model, config, _ = load_trained_model(
            checkpoint_file=str(run_dir / "train" / f"ckpt-{entry['step']}")
        )
        expected = evaluate_model(model, str(data), config)
        for name, value in expected.items():
            assert entry[name] == pytest.approx(value, rel=1e-5), name
    # TensorBoard summaries in run_dir/eval under Magenta's tags, at the checkpoints' steps.
    summaries = eval_summaries(run_dir)
    for tag in (
        "loss",
        "metrics/perplexity",
        "metrics/accuracy",
        "metrics/per_class_accuracy",
        "metrics/event_accuracy",
        "metrics/no_event_accuracy",
        "metrics/loss_per_step",
        "metrics/perplexity_per_step",
    ):
        assert set(summaries[tag]) == {2, 4}, tag
    for entry in result.evaluations:
        step = entry["step"]
        assert summaries["loss"][step] == pytest.approx(entry["loss"], rel=1e-5)
        assert summaries["metrics/per_class_accuracy"][step] == pytest.approx(
            entry["per_class_accuracy"], rel=1e-5
        )
        assert summaries["metrics/loss_per_step"][step] == pytest.approx(entry["loss"], rel=1e-5)
    assert not list((run_dir / "train").glob("events.out.tfevents.*.eval*"))


def test_eval_loop_stops_at_the_final_step_without_waiting(trained_run, data, tmp_path):
    run_dir = copy_run(trained_run, tmp_path)
    started = time.monotonic()
    result = evaluate_repeatedly(
        run_dir, str(data), eval_interval_secs=600, timeout_secs=600, final_step=2, log=quiet
    )
    assert [entry["step"] for entry in result.evaluations] == [2]
    assert result.stopped_because == "final step"
    assert time.monotonic() - started < 300  # far below the 600 s it would otherwise wait


def test_eval_loop_stops_cleanly_on_a_signal(trained_run, data, tmp_path):
    run_dir = copy_run(trained_run, tmp_path)

    def log(line: str) -> None:
        if line.startswith("Eval   step"):
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while the loop waits for the next one

    # Whatever SIGINT did before (a background job starts with it ignored) comes back after.
    handler_before = signal.getsignal(signal.SIGINT)
    started = time.monotonic()
    result = evaluate_repeatedly(
        run_dir, str(data), eval_interval_secs=60, timeout_secs=60, log=log
    )
    assert result.stopped_because == "stopped" and len(result.evaluations) == 1
    assert time.monotonic() - started < 300  # far below the 600 s it would otherwise wait
    assert signal.getsignal(signal.SIGINT) is handler_before


def test_waiting_for_a_checkpoint_ends_on_timeout_or_stop(tmp_path):
    started = time.monotonic()
    assert wait_for_new_checkpoint(tmp_path / "train", None, 0.3, StopRequest()) is None
    assert 0.3 <= time.monotonic() - started < 60
    stopped = StopRequest()
    stopped.requested = True
    started = time.monotonic()
    assert wait_for_new_checkpoint(tmp_path / "train", None, 60, stopped) is None
    assert time.monotonic() - started < 30


def test_train_eval_on_the_command_line(trained_run, data, tmp_path, capsys):
    run_dir = copy_run(trained_run, tmp_path)
    status = cli.main(
        [
            "train",
            "--eval",
            f"--run_dir={run_dir}",
            f"--sequence_example_file={data}",
            "--eval_timeout_secs=0",
            "--eval_interval_secs=0",
        ]
    )
    output = capsys.readouterr().out
    assert status == 0
    assert re.search(r"Eval   step      2: loss [\d.]+, .*per_class_accuracy [\d.]+", output)
    assert "after 1 evaluation." in output
    assert set(eval_summaries(run_dir)["metrics/per_class_accuracy"]) == {2}
    # Bad flags and files are named.
    for flags, message in [
        (["--eval_interval_secs=-1"], "--eval_interval_secs must be 0 or more"),
        (["--sequence_example_file="], "--sequence_example_file is required with --eval"),
        ([f"--sequence_example_file={tmp_path / 'none.tfrecord'}"], "none.tfrecord"),
    ]:
        status = cli.main(
            ["train", "--eval", f"--run_dir={run_dir}", f"--sequence_example_file={data}", *flags]
        )
        assert status == 1
        assert message in capsys.readouterr().err


# --- primers: tempo and leading bars -------------------------------------------------------------
def write_primer_midi(path: Path, qpm: float, notes: list[tuple[int, int, int]], meter=(4, 4)):
    """A MIDI file with a tempo, a meter and notes given as (pitch, start step, end step)."""
    messages, now = [], 0
    for pitch, start, end in notes:
        messages += fixtures.note(
            pitch, (end - start) * STEP_TICKS, delay=(start - now) * STEP_TICKS
        )
        now = end
    path.write_bytes(fixtures.midi_bytes([fixtures.meta_track(qpm, *meter), messages]))
    return path


@pytest.mark.parametrize(
    "notes, meter, leading, events",
    [
        # The first note in the third 4/4 bar: two empty bars are not read by the model.
        ([(60, 37, 39), (62, 40, 44)], (4, 4), 32, [-2] * 5 + [60, -2, -1, 62, -2, -2, -2]),
        # A pickup in the first bar: nothing to drop.
        ([(67, 12, 16), (72, 16, 20)], (4, 4), 0, [-2] * 12 + [67, -2, -2, -2, 72, -2, -2, -2]),
        # 3/4 has 12-step bars: a note at step 30 starts reading at step 24.
        ([(64, 30, 32)], (3, 4), 24, [-2] * 6 + [64, -2]),
    ],
)
def test_a_midi_primer_is_read_from_the_bar_of_its_first_note(
    tmp_path, notes, meter, leading, events
):
    primer = midi_primer(write_primer_midi(tmp_path / "primer.mid", 100.0, notes, meter))
    assert primer.leading_steps == leading
    assert primer.events == events
    assert primer.qpm == pytest.approx(100.0, rel=1e-4)


def test_a_primer_melody_drops_its_whole_empty_bars():
    assert primer_from_events([-2] * 20 + [60, -2]).leading_steps == 16
    assert primer_from_events([-2] * 20 + [60, -2]).events == [-2, -2, -2, -2, 60, -2]
    assert primer_from_events([-1, -2, 60]).leading_steps == 0
    assert primer_from_events([-2] * 40).events == [-2] * 40  # no note: kept whole


@pytest.fixture(scope="module")
def bundle_file(trained_run, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("bundles") / "tiny.zip"
    assert (
        cli.main(
            [
                "generate",
                "--save_generator_bundle",
                f"--run_dir={trained_run}",
                f"--bundle_file={path}",
                "--bundle_description=tiny",
            ]
        )
        == 0
    )
    return path


def generated_midi(output_dir: Path) -> pretty_midi.PrettyMIDI:
    (path,) = sorted(output_dir.glob("*.mid"))
    return pretty_midi.PrettyMIDI(str(path))


def test_generate_keeps_a_midi_primers_tempo_over_qpm_and_its_leading_bars(
    bundle_file, tmp_path, capsys
):
    primer_path = write_primer_midi(tmp_path / "primer.mid", 90.0, [(60, 36, 40), (64, 40, 44)])
    status = cli.main(
        [
            "generate",
            f"--bundle_file={bundle_file}",
            f"--primer_midi={primer_path}",
            "--qpm=140",
            "--num_steps=64",
            "--num_outputs=1",
            "--seed=5",
            f"--output_dir={tmp_path / 'out'}",
        ]
    )
    output = capsys.readouterr().out
    assert status == 0
    assert "--qpm 140 is not used" in output and "32 silent steps" in output
    midi = generated_midi(tmp_path / "out")
    _, tempos = midi.get_tempo_changes()
    assert tempos[0] == pytest.approx(90.0, rel=1e-4)
    seconds_per_step = 60.0 / 90.0 / 4
    notes = midi.instruments[0].notes
    # The primer's notes keep their times; the melody ends by num_steps.
    assert notes[0].pitch == 60 and notes[0].start == pytest.approx(36 * seconds_per_step, abs=1e-3)
    assert notes[1].pitch == 64 and notes[1].start == pytest.approx(40 * seconds_per_step, abs=1e-3)
    assert max(note.end for note in notes) <= 64 * seconds_per_step + 1e-3
    # The model read the primer from step 32: the same seed from the trimmed primer gives the
    # same continuation.
    model_primer = [-2, -2, -2, -2, 60, -2, -2, -2, 64, -2, -2, -2]
    (expected,) = MelodyGenerator(bundle_file).generate(model_primer, num_steps=32, seed=5)
    (printed,) = re.findall(r"log-likelihood (-?[\d.]+)", output)
    assert float(printed) == pytest.approx(expected.log_likelihood, abs=1e-3)
    expected_notes = expected.to_note_sequence().notes
    assert [note.pitch for note in notes] == [note.pitch for note in expected_notes]
    offset = 32 * seconds_per_step
    for note, reference in zip(notes, expected_notes):
        assert note.start == pytest.approx(reference.start_time * 120 / 90 + offset, abs=2e-3)


def test_generate_uses_qpm_with_a_primer_melody(bundle_file, tmp_path, capsys):
    status = cli.main(
        [
            "generate",
            f"--bundle_file={bundle_file}",
            "--primer_melody=[60, -2, 62]",
            "--qpm=140",
            "--num_steps=16",
            "--num_outputs=1",
            f"--output_dir={tmp_path / 'out'}",
        ]
    )
    assert status == 0
    _, tempos = generated_midi(tmp_path / "out").get_tempo_changes()
    assert tempos[0] == pytest.approx(140.0, rel=1e-4)
    too_long = write_primer_midi(tmp_path / "long.mid", 120.0, [(60, 40, 60)])
    status = cli.main(
        [
            "generate",
            f"--bundle_file={bundle_file}",
            f"--primer_midi={too_long}",
            "--num_steps=48",
            f"--output_dir={tmp_path / 'out2'}",
        ]
    )
    assert status == 1
    assert "the primer lasts 60 steps but --num_steps is 48" in capsys.readouterr().err


# --- generator details and hparams with bundles ------------------------------------------------
def test_save_generator_bundle_stores_the_generator_details_and_hparams(
    trained_run, tmp_path, capsys
):
    path = tmp_path / "mine.zip"
    status = cli.main(
        [
            "generate",
            "--save_generator_bundle",
            f"--run_dir={trained_run}",
            f"--bundle_file={path}",
            "--generator_id=my_melodies",
            "--generator_description=Folk tunes, tiny",
            "--bundle_description=two steps of training",
            "--hparams=batch_size=2,dropout_keep_prob=0.8",
        ]
    )
    assert status == 0, capsys.readouterr().err
    bundle = load_bundle(path)
    assert bundle.config.name == "my_melodies"
    assert bundle.config.description == "Folk tunes, tiny"
    assert bundle.description == "two steps of training"
    assert bundle.config.hparams.batch_size == 2
    assert bundle.config.hparams.dropout_keep_prob == pytest.approx(0.8)
    assert bundle.config.hparams.rnn_layer_sizes == [8, 8]  # from the run
    assert bundle.training["training_steps"] == 2
    # The bundle generates like the run it came from.
    (from_bundle,) = MelodyGenerator(path).generate([60, -2], num_steps=12, seed=1)
    model, config, _ = load_trained_model(trained_run)
    (from_run,) = MelodyGenerator(model, config).generate([60, -2], num_steps=12, seed=1)
    assert from_bundle.events == from_run.events
    # Architecture hparams other than the run's are refused, naming both values.
    status = cli.main(
        [
            "generate",
            "--save_generator_bundle",
            f"--run_dir={trained_run}",
            f"--bundle_file={tmp_path / 'other.zip'}",
            "--hparams=rnn_layer_sizes=[16,16]",
        ]
    )
    assert status == 1
    assert "rnn_layer_sizes" in capsys.readouterr().err
    assert not (tmp_path / "other.zip").exists()


def test_hparams_with_a_bundle_apply_where_the_weights_allow(bundle_file, tmp_path, capsys):
    common = ["generate", f"--bundle_file={bundle_file}", "--num_steps=8", "--num_outputs=1"]
    assert cli.main([*common, "--hparams=batch_size=3", f"--output_dir={tmp_path}"]) == 0
    capsys.readouterr()
    for hparams, message in [
        ("rnn_layer_sizes=[16,16]", "rnn_layer_sizes=[16, 16], but the model in"),
        ("attn_length=40", "attn_length=40"),
        ("batch_sise=3", "batch_sise"),
    ]:
        assert cli.main([*common, f"--hparams={hparams}", f"--output_dir={tmp_path}"]) == 1
        error = capsys.readouterr().err
        assert message in error, error
    # In library terms: the loaded config carries the override.
    from melodylib.bundles.sources import load_model, with_flag_overrides

    _, config, _ = load_model(bundle_file)
    assert with_flag_overrides(config, str(bundle_file), "batch_size=3").hparams.batch_size == 3
    with pytest.raises(MelodylibError, match=str(bundle_file)):
        with_flag_overrides(config, str(bundle_file), "rnn_layer_sizes=[4]")


def test_evaluate_prints_the_per_class_accuracy(bundle_file, data, capsys):
    status = cli.main(
        [
            "evaluate",
            f"--bundle_file={bundle_file}",
            f"--sequence_example_file={data}",
            "--nobaselines",
        ]
    )
    assert status == 0
    expected = evaluate_model(str(bundle_file), str(data))["per_class_accuracy"]
    (printed,) = re.findall(r"per-class accuracy ([\d.]+)", capsys.readouterr().out)
    assert float(printed) == pytest.approx(expected, abs=5e-4)
