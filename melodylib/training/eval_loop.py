"""`melody_rnn train --eval`: Magenta's separate eval process, which evaluates every new checkpoint
of a training run while the run goes on (magenta-behaviour.md: "Evaluation").

As Magenta (tf_slim's evaluate_repeatedly on RUN_DIR/train):
- the latest checkpoint is evaluated as soon as it appears (checked every second); when several
  were written meanwhile, only the latest is, and none is evaluated twice;
- two evaluations start at least `eval_interval_secs` apart (Magenta: 60 s, hard-coded);
- the loop ends when no new checkpoint has appeared for `timeout_secs` after that interval
  (Magenta: 300 s);
- each evaluation's metrics go to TensorBoard in RUN_DIR/eval at the checkpoint's global step,
  under Magenta's tags, `metrics/per_class_accuracy` included, and to one log line.

Unlike Magenta, each evaluation scores the whole eval set once (or its first
`num_eval_examples` melodies) with dropout off, where Magenta's endless input queue scores
`num_eval_examples // batch_size` full batches from wherever it stopped last time, with dropout
on. Beyond Magenta, `final_step` ends the loop once a checkpoint at or past that step (the
training run's --num_training_steps) has been evaluated, and Ctrl-C or SIGTERM ends it cleanly
after the evaluation in progress.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from melodylib.encoding.configs import MelodyRnnConfig
from melodylib.errors import MelodylibError
from melodylib.tfrecords import expand_paths
from melodylib.training.signals import StopRequest, stop_on_signals

POLL_SECONDS = 1.0  # how often the train folder is looked at, as tf_slim's checkpoints_iterator


@dataclass
class EvalLoopResult:
    """What an eval loop did: one entry per evaluation ({"step": ..., **metrics}) and why it ended
    ("timeout", "final step" or "stopped")."""

    evaluations: list[dict[str, float]] = field(default_factory=list)
    stopped_because: str = ""


def evaluate_repeatedly(
    run_dir: str | os.PathLike,
    sequence_example_file: str,
    config: MelodyRnnConfig | None = None,
    *,
    num_eval_examples: int = 0,
    eval_interval_secs: float = 60.0,
    timeout_secs: float = 300.0,
    final_step: int = 0,
    log: Callable[[str], None] | None = None,
) -> EvalLoopResult:
    """Evaluate each new checkpoint in run_dir/train on `sequence_example_file` until none has
    appeared for `timeout_secs`, one at or past `final_step` (if > 0) was evaluated, or a signal.

    `config` is the run's (else run_dir's run_config.json, or for a Magenta run_dir the sizes
    of its checkpoint). Returns the metrics of every evaluation.
    """
    log = log or (lambda message: print(message, flush=True))
    _check_flags(sequence_example_file, num_eval_examples, eval_interval_secs, timeout_secs)
    run_dir = Path(run_dir)
    train_dir = run_dir / "train"
    result = EvalLoopResult()
    evaluator = _CheckpointEvaluator(run_dir, sequence_example_file, config, num_eval_examples, log)
    log(f"Evaluating every new checkpoint in {train_dir} on {sequence_example_file}.")
    last_checkpoint = None
    with stop_on_signals() as stop_request:
        try:
            while True:
                checkpoint = wait_for_new_checkpoint(
                    train_dir, last_checkpoint, timeout_secs, stop_request
                )
                if checkpoint is None:
                    result.stopped_because = "stopped" if stop_request.requested else "timeout"
                    break
                found_at = time.monotonic()
                last_checkpoint = checkpoint
                entry = evaluator.evaluate(checkpoint)
                if entry is not None:
                    result.evaluations.append(entry)
                if entry is not None and final_step and entry["step"] >= final_step:
                    result.stopped_because = "final step"
                    break
                if not _sleep_until(found_at + eval_interval_secs, stop_request):
                    result.stopped_because = "stopped"
                    break
        finally:
            evaluator.close()
    log(_closing_line(result, train_dir, timeout_secs))
    return result


def wait_for_new_checkpoint(
    train_dir: Path, last_checkpoint: str | None, timeout_secs: float, stop_request: StopRequest
) -> str | None:
    """The latest checkpoint prefix in `train_dir` once it differs from `last_checkpoint`; None
    after `timeout_secs` without one, or as soon as a stop is requested."""
    import tensorflow as tf

    deadline = time.monotonic() + timeout_secs
    while not stop_request.requested:
        latest = tf.train.latest_checkpoint(str(train_dir)) if train_dir.is_dir() else None
        if latest is not None and latest != last_checkpoint:
            return latest
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        _sleep_until(time.monotonic() + min(POLL_SECONDS, remaining), stop_request)
    return None


class _CheckpointEvaluator:
    """Loads a checkpoint, scores the eval set, writes the summaries and the log line."""

    def __init__(
        self,
        run_dir: Path,
        sequence_example_file: str,
        config: MelodyRnnConfig | None,
        num_eval_examples: int,
        log: Callable[[str], None],
    ) -> None:
        self.run_dir = run_dir
        self.sequence_example_file = sequence_example_file
        self.config = config
        self.num_eval_examples = num_eval_examples
        self.log = log
        self.summaries = None
        if config is not None:
            self._check_data(config)

    def _check_data(self, config: MelodyRnnConfig) -> None:
        from melodylib.data.datasets import check_input_size

        check_input_size(self.sequence_example_file, config.encoder.input_size, config.name)

    def evaluate(self, checkpoint: str) -> dict[str, float] | None:
        """{"step": the checkpoint's step, **metrics}; None if the checkpoint vanished first."""
        from melodylib.bundles.sources import load_trained_model
        from melodylib.training.batches import EvalSet
        from melodylib.training.summaries import RunSummaries

        try:
            model, config, step = load_trained_model(checkpoint_file=checkpoint, config=self.config)
        except MelodylibError:
            if Path(f"{checkpoint}.index").exists():
                raise
            # Training keeps only its latest checkpoints: this one was deleted before we got to it.
            self.log(
                f"{checkpoint} was deleted before it could be evaluated; waiting for the next."
            )
            return None
        if self.config is None:
            self._check_data(config)
            self.config = config
        metrics = EvalSet(self.sequence_example_file, config, self.num_eval_examples).evaluate(
            model
        )
        metrics.pop("padded_fraction", None)
        if self.summaries is None:
            self.summaries = RunSummaries(self.run_dir, True, self.log, with_train=False)
        self.summaries.record_eval(metrics, step)
        return {"step": step, **metrics}

    def close(self) -> None:
        if self.summaries is not None:
            self.summaries.close()


def _sleep_until(moment: float, stop_request: StopRequest) -> bool:
    """Sleep until `moment` (time.monotonic) in short naps; False if a stop was requested."""
    while not stop_request.requested:
        remaining = moment - time.monotonic()
        if remaining <= 0:
            return True
        time.sleep(min(remaining, 0.2))
    return False


def _closing_line(result: EvalLoopResult, train_dir: Path, timeout_secs: float) -> str:
    count = len(result.evaluations)
    done = f"{count} evaluation{'s' if count != 1 else ''}"
    if result.stopped_because == "timeout":
        return f"No new checkpoint in {train_dir} for {timeout_secs:g} s; stopping after {done}."
    if result.stopped_because == "final step":
        return f"Evaluated the final step {result.evaluations[-1]['step']}; stopping after {done}."
    return f"Stopped by a signal after {done}."


def _check_flags(
    sequence_example_file: str,
    num_eval_examples: int,
    eval_interval_secs: float,
    timeout_secs: float,
) -> None:
    """Reject flag values that make no sense, naming the flag."""
    if not sequence_example_file:
        raise MelodylibError(
            "--sequence_example_file is required with --eval (the eval_melodies.tfrecord from "
            "create_dataset)"
        )
    expand_paths(sequence_example_file, "sequence_example_file")  # names a missing file now
    if num_eval_examples < 0:
        raise MelodylibError(
            f"--num_eval_examples must be 0 (the whole eval set) or more, got {num_eval_examples}"
        )
    if not eval_interval_secs >= 0:
        raise MelodylibError(f"--eval_interval_secs must be 0 or more, got {eval_interval_secs}")
    if not timeout_secs >= 0:
        raise MelodylibError(f"--eval_timeout_secs must be 0 or more, got {timeout_secs}")
