"""The best checkpoint of a run (run_dir/best) and the log windows of a resumed run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_training import quiet, tiny_config, write_melodies

from melodylib.bundles.sources import load_model
from melodylib.evaluation.metrics import evaluate_model
from melodylib.training.best_checkpoint import read_best
from melodylib.training.loop import train


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> tuple[Path, Path]:
    """Training and eval melodies of different tunes, so the eval loss is not the training loss."""
    folder = tmp_path_factory.mktemp("best_data")
    write_melodies(folder / "training.tfrecord", tiny_config(), list(range(20, 44)), seed=1)
    write_melodies(folder / "eval.tfrecord", tiny_config(), list(range(20, 32)), seed=2)
    return folder / "training.tfrecord", folder / "eval.tfrecord"


def run(data, run_dir: Path, steps: int, lines: list[str] | None = None, **options):
    training_file, eval_file = data
    return train(
        # A learning rate this high makes the eval loss go up and down from one step to the next.
        tiny_config(learning_rate=0.3),
        str(training_file),
        run_dir,
        num_training_steps=steps,
        save_checkpoint_secs=3600,
        eval_sequence_example_file=str(eval_file),
        eval_frequency=1,
        seed=3,
        log=lines.append if lines is not None else quiet,
        **options,
    )


def test_the_best_evaluation_of_the_whole_run_is_kept_and_loads(data, tmp_path):
    run_dir = tmp_path / "run"
    lines: list[str] = []
    first = run(data, run_dir, 5, lines)
    losses = {entry["step"]: entry["loss"] for entry in first.eval_history}
    best_step = min(losses, key=losses.get)
    record = read_best(run_dir)
    assert record["step"] == best_step and record["loss"] == pytest.approx(losses[best_step])
    assert sorted(path.name for path in (run_dir / "best").glob("*.index")) == [
        f"ckpt-{best_step}.index"
    ]
    assert any(line.startswith("Best eval loss so far") for line in lines)

    # The kept weights are the ones that scored that loss: scored again from the checkpoint.
    model, config, _ = load_model(checkpoint_file=str(run_dir / "best"))
    again = evaluate_model(model, str(data[1]), config=config, batch_size=4)
    assert again["loss"] == pytest.approx(record["loss"], rel=1e-5)

    # A resumed run compares with the best of the first part, not with its own evaluations only.
    second = run(data, run_dir, 9)
    losses.update({entry["step"]: entry["loss"] for entry in second.eval_history})
    best_step = min(losses, key=losses.get)
    assert read_best(run_dir)["step"] == best_step
    assert len(list((run_dir / "best").glob("*.index"))) == 1
    assert json.loads((run_dir / "best" / "best.json").read_text())["checkpoint"] == (
        f"ckpt-{best_step}"
    )


def test_a_run_without_evaluation_keeps_no_best(data, tmp_path):
    train(tiny_config(), str(data[0]), tmp_path / "run", num_training_steps=2, log=quiet)
    assert read_best(tmp_path / "run") is None and not (tmp_path / "run" / "best").exists()


def test_a_resumed_run_logs_no_window_of_a_single_step(data, tmp_path):
    training_file, _ = data
    run_dir = tmp_path / "run"
    options = dict(save_checkpoint_secs=3600, summary_frequency=2, log=quiet)
    train(tiny_config(), str(training_file), run_dir, num_training_steps=3, **options)
    resumed = train(tiny_config(), str(training_file), run_dir, num_training_steps=6, **options)
    # Resumed at step 3: step 4 closes a window of one step, which joins the next (steps 4-6).
    assert [entry["step"] for entry in resumed.history] == [6]
    assert np.isfinite(resumed.history[0]["loss"])


def test_a_record_left_behind_by_a_kill_is_made_to_name_the_saved_weights(data, tmp_path):
    run_dir = tmp_path / "run"
    run(data, run_dir, 3)
    record = read_best(run_dir)
    # As if killed after saving new best weights but before writing their record.
    stale = {**record, "step": 0, "checkpoint": "ckpt-0", "loss": record["loss"] + 1.0}
    (run_dir / "best" / "best.json").write_text(json.dumps(stale))
    (run_dir / "best" / "ckpt-9_temp").mkdir()  # and a save that never finished
    run(data, run_dir, 3)  # resumes at step 3: nothing to train, the record is mended
    mended = read_best(run_dir)
    assert mended["checkpoint"] == record["checkpoint"] and mended["step"] == record["step"]
    assert mended["loss"] == stale["loss"] and mended["loss_is_an_upper_bound"] is True
    assert not (run_dir / "best" / "ckpt-9_temp").exists()
