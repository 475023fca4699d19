"""Evaluation of models and baselines on an eval set, through the library and the CLI."""

import json

import numpy as np
import pytest

from melodylib.bundles.bundle import save_bundle
from melodylib.cli.main import main
from melodylib.data.sequence_examples import sequence_example_bytes
from melodylib.encoding.configs import get_config
from melodylib.evaluation.metrics import baseline_rows, evaluate_model, format_table
from melodylib.models.melody_rnn import build_model
from melodylib.tfrecords import write_records

CONFIG = get_config("basic_rnn", "rnn_layer_sizes=[8],batch_size=4")


def _melodies(count, seed=0):
    rng = np.random.default_rng(seed)
    melodies = []
    for _ in range(count):
        length = int(rng.integers(10, 60))
        events = rng.choice([-2, -2, -2, -1, 60, 62, 64, 65, 67], size=length).tolist()
        events[0] = 60
        melodies.append(events)
    return melodies


def _write(path, melodies):
    write_records(
        path, [sequence_example_bytes(*CONFIG.encoder.encode(events)) for events in melodies]
    )


def _numpy_metrics(model, melodies):
    total, steps, correct = 0.0, 0, 0
    for events in melodies:
        inputs, labels = CONFIG.encoder.encode(events)
        logits = np.asarray(model(inputs[None], training=False))[0].astype(np.float64)
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_probabilities = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        total -= log_probabilities[np.arange(len(labels)), labels].sum()
        correct += int((logits.argmax(axis=1) == labels).sum())
        steps += len(labels)
    return total / steps, correct / steps


def test_model_metrics_equal_a_numpy_computation_and_a_limit_takes_the_first_melodies(tmp_path):
    model = build_model(CONFIG)
    melodies = _melodies(12)
    _write(tmp_path / "eval.tfrecord", melodies)
    metrics = evaluate_model(model, str(tmp_path / "eval.tfrecord"), CONFIG)
    loss, accuracy = _numpy_metrics(model, melodies)
    assert metrics["loss"] == pytest.approx(loss, rel=1e-5)
    assert metrics["accuracy"] == pytest.approx(accuracy)
    assert metrics["perplexity"] == pytest.approx(np.exp(loss), rel=1e-5)
    # num_eval_examples = 5 scores the first five melodies in file order, as the baselines do.
    limited = evaluate_model(model, str(tmp_path / "eval.tfrecord"), CONFIG, num_eval_examples=5)
    assert limited["loss"] == pytest.approx(_numpy_metrics(model, melodies[:5])[0], rel=1e-5)


def test_baselines_are_named_and_scored_on_the_same_steps(tmp_path):
    motif = [60, -2, 62, -2, 64, -2, -1, -2]  # each event predicts the next: a bigram's world
    _write(tmp_path / "train.tfrecord", [motif * repeats for repeats in range(2, 12)])
    _write(tmp_path / "eval.tfrecord", [motif * repeats for repeats in range(3, 6)])
    rows = baseline_rows(CONFIG, str(tmp_path / "eval.tfrecord"), str(tmp_path / "train.tfrecord"))
    assert [row.name.split(",")[0] for row in rows] == [
        "unigram",
        "bigram (Markov)",
        "4-gram (Witten-Bell)",
    ]
    assert all(row.kind == "baseline" and 0 < row.metrics["loss"] < 10 for row in rows)
    # The bigram knows more than the unigram on these melodies, the 4-gram more still.
    assert rows[2].metrics["loss"] < rows[1].metrics["loss"] < rows[0].metrics["loss"]
    table = format_table(rows)
    assert table.count("\n") == 4 and "4-gram" in table


def test_the_evaluate_command_writes_one_json_object_per_row(tmp_path, capsys):
    bundle = tmp_path / "model.bundle"
    save_bundle(bundle, build_model(CONFIG), CONFIG, "test model")
    _write(tmp_path / "train.tfrecord", _melodies(20, seed=3))
    _write(tmp_path / "eval.tfrecord", _melodies(8, seed=4))
    output = tmp_path / "table.json"
    code = main(
        [
            "evaluate",
            "--bundle_file",
            str(bundle),
            "--sequence_example_file",
            str(tmp_path / "eval.tfrecord"),
            "--baseline_sequence_example_file",
            str(tmp_path / "train.tfrecord"),
            "--output_json",
            str(output),
        ]
    )
    assert code == 0
    rows = json.loads(output.read_text())
    assert [row["kind"] for row in rows] == ["model", "baseline", "baseline", "baseline"]
    for row in rows:
        assert {
            "name",
            "config",
            "loss",
            "perplexity",
            "accuracy",
            "event_accuracy",
            "no_event_accuracy",
        } <= set(row)
    assert "NLL/step" in capsys.readouterr().out


def test_the_evaluate_command_needs_exactly_one_model(tmp_path, capsys):
    _write(tmp_path / "eval.tfrecord", _melodies(3))
    assert main(["evaluate", "--sequence_example_file", str(tmp_path / "eval.tfrecord")]) == 1
    assert "--bundle_file" in capsys.readouterr().err


def test_the_course_verdict_compares_each_model_with_its_own_four_gram_and_plots_render(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from melodylib.course.comparison import CourseComparison, course_verdict
    from melodylib.course.display import plot_statistic_densities
    from melodylib.evaluation.metrics import EvaluationRow
    from melodylib.evaluation.music_statistics import compare_statistics

    real = [
        [60, -2, 62, -2, 64, -2, 65, -2] * 4,
        [67, -2, 65, -2, 64, -2, 62, -2] * 4,
        [60, 62, 64, 65] * 8,
    ]
    generated = {"basic_rnn": [[60, -2, -2, -2] * 8] * 3, "lookback_rnn": real}
    comparison = CourseComparison(
        rows=[
            EvaluationRow("basic_rnn", "model", "basic_rnn", {"loss": 1.2}),
            EvaluationRow(
                "4-gram (Witten-Bell), fitted on train", "baseline", "basic_rnn", {"loss": 1.0}
            ),
            EvaluationRow("lookback_rnn", "model", "lookback_rnn", {"loss": 0.9}),
            EvaluationRow(
                "4-gram (Witten-Bell), fitted on train", "baseline", "lookback_rnn", {"loss": 1.4}
            ),
        ],
        statistics={
            name: compare_statistics(melodies, real) for name, melodies in generated.items()
        },
        generated=generated,
        reference=real,
    )
    verdict = course_verdict(comparison)
    assert verdict.margins == pytest.approx({"basic_rnn": -0.2, "lookback_rnn": 0.5})
    assert verdict.beats_four_gram == {"basic_rnn": False, "lookback_rnn": True}
    assert verdict.closest_overall == "lookback_rnn"  # it generated the real tunes themselves
    assert (
        "does NOT beat" in verdict.format()
        and "largest margin over its 4-gram: lookback_rnn" in verdict.format()
    )
    figure = plot_statistic_densities(real, generated)
    figure.savefig(tmp_path / "densities.png")
    assert (tmp_path / "densities.png").stat().st_size > 10_000
    assert len([axis for axis in figure.axes if axis.get_visible()]) == 8
