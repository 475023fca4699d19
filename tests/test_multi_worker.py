"""Tests for `melody_rnn train --strategy multi_worker` (tf.distribute.MultiWorkerMirroredStrategy
from TF_CONFIG): clear errors for a bad TF_CONFIG, and two worker processes on 127.0.0.1 that
train one model together exactly as one process trains on the same global batches, leave an
evaluable checkpoint in the chief's --run_dir, and resume from it after being stopped.

The data are the 54 real melodies Magenta 2.1.4 itself encoded for basic_rnn (tests/data/magenta).
Dropout is off (dropout_keep_prob=1.0): each replica draws its own dropout masks, which a single
process cannot reproduce; everything else in a step is the same maths.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from melodylib.bundles.sources import load_trained_model
from melodylib.cli import main as cli
from melodylib.encoding.configs import get_config
from melodylib.errors import MelodylibError
from melodylib.evaluation.metrics import evaluate_model
from melodylib.models.melody_rnn import build_model
from melodylib.training.loop import train
from melodylib.training.multi_worker import lost_worker_error, read_tf_config
from melodylib.training.strategies import check_global_batch

REPOSITORY = Path(__file__).resolve().parents[1]
DATA = REPOSITORY / "tests" / "data" / "magenta" / "basic_rnn_training_melodies.tfrecord.gz"
HPARAMS = "batch_size=8,rnn_layer_sizes=[16],dropout_keep_prob=1.0"
WORKER_TIMEOUT = 300  # seconds; a run takes about 20 s on a busy 2-core CPU

# One worker: trains with the library's `train` until stopped, then writes its weights (to compare
# workers) and its result as JSON.
WORKER_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    from melodylib.encoding.configs import get_config
    from melodylib.training.loop import train
    data, run_dir, weights_file, hparams = sys.argv[1:5]
    result = train(get_config("basic_rnn", hparams), data, run_dir, num_training_steps=0,
                   summary_frequency=1, save_checkpoint_secs=3600, eval_sequence_example_file=data,
                   eval_frequency=1, strategy="multi_worker", seed=0)
    np.savez(weights_file, *[weight.numpy() for weight in result.model.weights])
    print("RESULT " + json.dumps({"step": result.step, "is_chief": result.is_chief,
                                  "replicas": result.num_replicas, "eval": result.eval_metrics,
                                  "losses": [entry["loss"] for entry in result.history]}))
    """
)


def free_ports(count: int) -> list[int]:
    """Ports nobody listens on now (held open together, so they differ)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for each in sockets:
            each.bind(("127.0.0.1", 0))
        return [each.getsockname()[1] for each in sockets]
    finally:
        for each in sockets:
            each.close()


def tf_config(ports: list[int], index: int) -> str:
    workers = [f"127.0.0.1:{port}" for port in ports]
    return json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})


def start_workers(command_of, tmp_path: Path, name: str) -> list[tuple]:
    """Start worker 0 (the chief) and worker 1, each with `command_of(index)`; returns
    (process, log file) each.

    Their temporary folders (where a non-chief worker keeps its checkpoints) are under
    tmp_path/scratch, so a test can check they are removed.
    """
    ports = free_ports(2)
    (tmp_path / "scratch").mkdir(exist_ok=True)
    started = []
    for index in range(2):
        log_file = tmp_path / f"{name}-worker{index}.log"
        environment = dict(
            os.environ,
            TF_CONFIG=tf_config(ports, index),
            TF_CPP_MIN_LOG_LEVEL="3",
            PYTHONPATH=str(REPOSITORY),
            TMPDIR=str(tmp_path / "scratch"),
        )
        with open(log_file, "w") as output:
            process = subprocess.Popen(
                command_of(index),
                stdout=output,
                stderr=subprocess.STDOUT,
                env=environment,
                text=True,
            )
        started.append((process, log_file))
    return started


def wait_for(workers: list[tuple]) -> list[str]:
    """Wait for every worker to end (killing all if one takes too long); their logs."""
    try:
        for process, _ in workers:
            process.wait(timeout=WORKER_TIMEOUT)
    finally:
        for process, _ in workers:
            if process.poll() is None:
                process.kill()
    logs = [log_file.read_text() for _, log_file in workers]
    for (process, _), log in zip(workers, logs, strict=True):
        assert process.returncode == 0, log
    return logs


def wait_for_line(log_file: Path, start: str, process) -> None:
    """Wait until a worker's log has a line starting with `start`."""
    deadline = time.monotonic() + WORKER_TIMEOUT
    while time.monotonic() < deadline:
        text = log_file.read_text()
        if any(line.startswith(start) for line in text.splitlines()):
            return
        assert process.poll() is None, text
        time.sleep(0.2)
    raise AssertionError(f"no line {start!r} in time:\n{log_file.read_text()}")


def cli_command(run_dir: Path, num_training_steps: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "melodylib",
        "train",
        "--config=basic_rnn",
        f"--hparams={HPARAMS}",
        f"--sequence_example_file={DATA}",
        f"--run_dir={run_dir}",
        f"--num_training_steps={num_training_steps}",
        "--save_checkpoint_secs=3600",
        "--summary_frequency=1",
        "--strategy=multi_worker",
        "--communication=ring",
    ]


def checkpoint_steps(run_dir: Path) -> list[int]:
    return sorted(int(path.name[5:-6]) for path in (run_dir / "train").glob("ckpt-*.index"))


# --- TF_CONFIG -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "is not set"),
        ("{cluster: 1}", "is not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"task": {"type": "worker", "index": 0}}', "has no 'cluster'"),
        ('{"cluster": {"worker": ["a:1"]}}', "has no 'task'"),
        ('{"cluster": {"worker": ["a:1"], "ps": ["b:1"]}, "task": {}}', "lists ps tasks"),
        ('{"cluster": {"worker": ["a"]}, "task": {"type": "worker", "index": 0}}', "host:port"),
        ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "chief", "index": 0}}', "'chief'"),
        ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 1}}', "index 1"),
    ],
)
def test_a_missing_or_malformed_tf_config_is_a_clear_error(text, reason):
    with pytest.raises(MelodylibError) as error:
        read_tf_config({"TF_CONFIG": text})
    message = str(error.value)
    assert reason in message
    assert "TF_CONFIG" in message and '"cluster"' in message  # names the variable and its form


def test_the_chief_is_the_chief_task_else_worker_0():
    workers = {"worker": ["a:1", "b:1"]}
    as_worker = [
        read_tf_config({"TF_CONFIG": json.dumps({"cluster": workers, "task": task})})
        for task in ({"type": "worker", "index": 0}, {"type": "worker", "index": 1})
    ]
    assert [role.is_chief for role in as_worker] == [True, False]
    assert as_worker[1].num_workers == 2 and as_worker[1].name == "worker 1"
    with_chief = {"chief": ["c:1"], **workers}
    roles = [
        read_tf_config({"TF_CONFIG": json.dumps({"cluster": with_chief, "task": task})})
        for task in ({"type": "chief", "index": 0}, {"type": "worker", "index": 0})
    ]
    assert [role.is_chief for role in roles] == [True, False] and roles[0].num_workers == 3


def test_the_cli_names_tf_config_when_it_is_missing(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    code = cli.main(
        [
            "train",
            "--config=basic_rnn",
            f"--sequence_example_file={DATA}",
            f"--run_dir={tmp_path / 'run'}",
            "--strategy=multi_worker",
        ]
    )
    assert code == 1
    assert "TF_CONFIG environment variable is not set" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_the_global_batch_must_split_evenly_between_replicas():
    check_global_batch(8, 2)
    with pytest.raises(MelodylibError, match="batch_size=9 is the global batch.*batch_size=8"):
        check_global_batch(9, 2)


def test_a_lost_worker_is_reported_with_how_to_restart():
    # The message TensorFlow's collective ops gave when worker 1 was killed (measured here).
    error = RuntimeError(
        "Graph execution error:\n\nCollective ops is aborted by: Error reported from "
        "/job:worker/task:1: The following tasks are unhealthy (stopped sending heartbeats):\n"
        "/job:worker/replica:0/task:1\nThe tasks have crashed."
    )
    role = read_tf_config({"TF_CONFIG": tf_config([1, 2], 0)})
    message = str(lost_worker_error(error, role, Path("run/train"), "run/train/ckpt-40"))
    assert "unhealthy (stopped sending heartbeats): /job:worker/replica:0/task:1" in message
    assert "worker 0 stops too" in message and "Start every worker again" in message
    assert "run/train (run/train/ckpt-40)" in message


# --- two workers -----------------------------------------------------------------------------------
def result_of(log: str) -> dict:
    return json.loads(log.split("RESULT ", 1)[1])


@pytest.fixture(scope="module")
def stopped_run(tmp_path_factory) -> dict:
    """Two workers train with `train(strategy="multi_worker")` until SIGTERM reaches one of them;
    their logs, results, weights, run_dir and the step they stopped at."""
    tmp_path = tmp_path_factory.mktemp("stopped")
    script = tmp_path / "worker.py"
    script.write_text(WORKER_SCRIPT)
    run_dir = tmp_path / "run"
    weight_files = [tmp_path / f"weights{index}.npz" for index in range(2)]
    workers = start_workers(
        lambda index: (
            [sys.executable, str(script), str(DATA), str(run_dir)]
            + [str(weight_files[index]), HPARAMS]
        ),
        tmp_path,
        "first",
    )
    (chief, chief_log), (other, _) = workers
    wait_for_line(chief_log, "Train  step      5", chief)
    # SIGTERM to one worker stops both after the same step (they agree on it), each saving.
    other.send_signal(signal.SIGTERM)
    logs = wait_for(workers)
    return {
        "tmp_path": tmp_path,
        "run_dir": run_dir,
        "logs": logs,
        "results": [result_of(log) for log in logs],
        "weights": [[*np.load(path).values()] for path in weight_files],
    }


def test_two_workers_train_one_model_and_stop_together(stopped_run):
    logs, (chief, other) = stopped_run["logs"], stopped_run["results"]
    assert (chief["is_chief"], other["is_chief"]) == (True, False)
    assert chief["replicas"] == 2
    assert "batch_size 8 is the global batch" in logs[0] and "(4 each)" in logs[0]
    stops = [
        [line for line in log.splitlines() if line.startswith("Interrupted at step")]
        for log in logs
    ]
    assert stops[0] and stops[0] == stops[1], logs
    assert chief["step"] == other["step"] == int(stops[0][0].split()[3].rstrip(";")) >= 5
    assert chief["losses"] == other["losses"] and len(chief["losses"]) == chief["step"]
    # One model: both workers end with the very same weights (one all-reduce result for both).
    for mine, theirs in zip(*stopped_run["weights"], strict=True):
        np.testing.assert_array_equal(mine, theirs)
    # Only the chief wrote run_dir, and only the chief evaluated; the other's scratch folder is gone.
    run_dir = stopped_run["run_dir"]
    assert checkpoint_steps(run_dir) == [chief["step"]]
    assert (run_dir / "run_config.json").exists() and list((run_dir / "train").glob("events.*"))
    assert chief["eval"] and other["eval"] == {}
    assert list((stopped_run["tmp_path"] / "scratch").iterdir()) == []


def test_the_loss_is_that_of_one_process_on_the_same_global_batches(stopped_run, tmp_path):
    chief = stopped_run["results"][0]
    # One process with the same seed: the same initial weights and the same global batches.
    single = train(
        get_config("basic_rnn", HPARAMS),
        str(DATA),
        tmp_path / "single",
        num_training_steps=chief["step"],
        summary_frequency=1,
        save_checkpoint_secs=3600,
        seed=0,
        log=lambda line: None,
    )
    # The same sums added in another order (each worker's half, then the two halves): float32
    # rounding only, about 1e-7 relative (measured: at most 1.1e-7 on the loss over 8 steps).
    np.testing.assert_allclose(chief["losses"], [entry["loss"] for entry in single.history], 1e-5)
    for mine, reference in zip(stopped_run["weights"][0], single.model.weights, strict=True):
        np.testing.assert_allclose(mine, reference.numpy(), rtol=0, atol=1e-6)


def test_the_chiefs_checkpoint_holds_its_weights_and_evaluates_like_them(stopped_run):
    chief, chief_weights = stopped_run["results"][0], stopped_run["weights"][0]
    restored, config, step = load_trained_model(stopped_run["run_dir"])
    assert step == chief["step"]
    for mine, theirs in zip(chief_weights, restored.weights, strict=True):
        np.testing.assert_array_equal(mine, theirs.numpy())
    direct = build_model(config)
    direct.set_weights(chief_weights)
    from_checkpoint = evaluate_model(restored, str(DATA), config)
    assert from_checkpoint == evaluate_model(direct, str(DATA), config)
    assert all(np.isfinite(value) for value in from_checkpoint.values())
    # The evaluation the chief ran at the end of training saw the same model.
    assert from_checkpoint["loss"] == pytest.approx(chief["eval"]["loss"], rel=1e-6)


def test_a_stopped_run_restarts_from_the_chiefs_checkpoint(stopped_run, tmp_path):
    run_dir, stopped_at = stopped_run["run_dir"], stopped_run["results"][0]["step"]
    final = stopped_at + 3
    workers = start_workers(lambda index: cli_command(run_dir, final), tmp_path, "again")
    logs = wait_for(workers)
    for log in logs:
        assert f"Resuming from checkpoint {run_dir / 'train' / f'ckpt-{stopped_at}'}" in log, log
        assert f"Finished at step {final}" in log
    assert checkpoint_steps(run_dir) == [stopped_at, final]
    assert load_trained_model(run_dir)[2] == final
    assert list((tmp_path / "scratch").iterdir()) == []
