"""Training with evaluation in one process: Magenta's melody_rnn_train on Keras 3.

`train` is a loop over the pieces of a run, each in a module of its own:
- `step`: the compiled step (masked cross-entropy, magenta-behaviour.md: "Loss and metrics") and the optimizer (Adam, epsilon
  1e-8, each gradient clipped by its own norm at `clip_norm`, as tf_slim did);
- `metrics`: Magenta's metrics: loss, perplexity, accuracy, event_accuracy, no_event_accuracy
  (and in evaluation per_class_accuracy);
- `checkpoints`: resuming from the latest complete checkpoint (after removing the files of a save
  interrupted by a kill), warm starting from a bundle, and saving every `save_checkpoint_secs`
  and at the end, the latest `num_checkpoints` kept. A NaN or infinite loss (or weights) stops
  the run with TrainingDivergedError before anything bad is saved (Magenta's NanTensorHook only
  stops on NaN);
- `batches`: the training batches and the eval set;
- `summaries`: TensorBoard summaries in run_dir/train and run_dir/eval, and the log lines;
- `signals`: Ctrl-C or SIGTERM stops after the current step, with a final checkpoint;
- `strategies`: `strategy="mirrored"` splits each batch between local devices, and
  `strategy="multi_worker"` between the devices of several machines (`multi_worker`: the
  cluster from TF_CONFIG, the chief writing run_dir, the workers agreeing on saves and stops).
Optionally the eval set is scored every `eval_frequency` steps, with dropout off (Magenta
evaluates in a second process, with dropout still on; `eval_loop` is melodylib's version of that
process, with dropout off).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from melodylib.encoding.configs import MelodyRnnConfig
from melodylib.errors import MelodylibError
from melodylib.training.batches import EvalSet, TrainingBatches
from melodylib.training.best_checkpoint import BestCheckpoint
from melodylib.training.checkpoints import Checkpointer, TrainingDivergedError  # noqa: F401 (public)
from melodylib.training.metrics import MetricSums, is_finite_loss
from melodylib.training.multi_worker import (
    ClusterRole,
    WorkerAgreement,
    lost_worker_error,
    lost_worker_errors,
    read_tf_config,
    worker_scratch_dir,
)
from melodylib.training.run_config import check_run_config, write_run_config
from melodylib.training.signals import stop_on_signals
from melodylib.training.step import make_optimizer, make_train_step
from melodylib.training.strategies import (
    check_global_batch,
    check_strategy_name,
    describe_strategy,
    is_default_strategy,
    is_multi_worker_strategy,
    make_strategy,
)
from melodylib.training.summaries import RunSummaries


@dataclass
class TrainingResult:
    """What a training run did: the final step, the last logged metrics and eval metrics."""

    run_dir: str
    step: int
    train_metrics: dict[str, float] = field(default_factory=dict)
    eval_metrics: dict[str, float] = field(default_factory=dict)
    history: list[dict[str, float]] = field(default_factory=list)
    eval_history: list[dict[str, float]] = field(default_factory=list)
    resumed_from: int = 0
    steps_per_second: float = 0.0
    num_replicas: int = 1
    is_chief: bool = True
    # The trained Keras model (with multi_worker, every worker's holds the same weights).
    model: object = field(default=None, repr=False, compare=False)


def train(
    config: MelodyRnnConfig,
    sequence_example_file: str,
    run_dir: str | os.PathLike,
    *,
    num_training_steps: int = 0,
    summary_frequency: int = 10,
    num_checkpoints: int = 10,
    save_checkpoint_secs: float = 60.0,
    eval_sequence_example_file: str | None = None,
    eval_frequency: int = 100,
    num_eval_examples: int = 0,
    warm_start_bundle: str | None = None,
    strategy: str | None = None,
    seed: int | None = None,
    log: Callable[[str], None] | None = None,
    max_seconds: float | None = None,
    communication: str = "auto",
) -> TrainingResult:
    """Train `config` on the SequenceExamples in `sequence_example_file`, writing to `run_dir`.

    num_training_steps is the global step to stop at; 0 trains until interrupted (Magenta's
    behaviour); `max_seconds` stops after that long (for notebooks). With a checkpoint in
    run_dir/train the run resumes from it. Returns the final step and metrics.

    `strategy`: "default" (one device), "mirrored" (local devices) or "multi_worker" (several
    processes or machines, from TF_CONFIG; `communication` picks its all-reduce: auto, ring or
    nccl). hparams.batch_size is always the global batch, split between all replicas.

    1. Check the flags and files, and prepare run_dir.
    2. Build the model, optimizer and step counter under the distribution strategy.
    3. Resume, warm start or start fresh; only then record the config in run_dir.
    4. Loop: a step, then a summary, checkpoint, evaluation when each is due, until the last
       step, the time limit or a stop signal.
    5. Save a final checkpoint and run a final evaluation unless already done at that step.
    """
    # 1. Flags, files and run_dir; with several workers, this one's role (from TF_CONFIG).
    log = log or (lambda message: print(message, flush=True))
    _check_training_flags(
        num_training_steps,
        summary_frequency,
        num_checkpoints,
        save_checkpoint_secs,
        eval_frequency,
        num_eval_examples,
    )
    check_strategy_name(strategy, communication)
    role = read_tf_config() if is_multi_worker_strategy(strategy) else None
    run_dir = Path(run_dir)
    is_chief = role is None or role.is_chief
    _prepare_run_dir(config, sequence_example_file, eval_sequence_example_file, run_dir, is_chief)
    with worker_scratch_dir(role) as scratch_dir:
        return _train_in(
            config,
            sequence_example_file,
            run_dir,
            scratch_dir,
            role,
            _RunSettings(
                num_training_steps,
                summary_frequency,
                num_checkpoints,
                save_checkpoint_secs,
                eval_sequence_example_file,
                eval_frequency,
                num_eval_examples,
                warm_start_bundle,
                strategy,
                seed,
                max_seconds,
                communication,
            ),
            log,
        )


@dataclass(frozen=True)
class _RunSettings:
    """The arguments of `train` that the run itself needs, passed on in one piece."""

    num_training_steps: int
    summary_frequency: int
    num_checkpoints: int
    save_checkpoint_secs: float
    eval_sequence_example_file: str | None
    eval_frequency: int
    num_eval_examples: int
    warm_start_bundle: str | None
    strategy: str | None
    seed: int | None
    max_seconds: float | None
    communication: str


def _train_in(
    config: MelodyRnnConfig,
    sequence_example_file: str,
    run_dir: Path,
    scratch_dir: Path | None,
    role: ClusterRole | None,
    settings: _RunSettings,
    log: Callable[[str], None],
) -> TrainingResult:
    """Steps 2 to 5 of `train`; a non-chief worker writes to `scratch_dir` instead of run_dir."""
    import keras

    # 2. The model and its training state. The strategy comes first: TensorFlow must not have
    # run anything before MultiWorkerMirroredStrategy configures its collective ops.
    distribution = make_strategy(settings.strategy, settings.communication)
    agreement = WorkerAgreement(distribution, role)
    seed = _agreed_seed(settings.seed, agreement)
    if role is not None:
        check_global_batch(config.hparams.batch_size, int(distribution.num_replicas_in_sync))
    if settings.seed is not None:
        keras.utils.set_random_seed(settings.seed)
    model, optimizer, global_step = _build_training_state(config, distribution)

    # 3. Where the run starts. The config is written only once the checkpoint (if any) is known to
    # match, so a refused run never overwrites the record of what the checkpoint holds.
    is_chief = role is None or role.is_chief
    checkpointer = Checkpointer(
        model,
        optimizer,
        global_step,
        run_dir / "train",
        settings.num_checkpoints,
        write_dir=None if is_chief else scratch_dir / "train",
    )
    resumed_from = checkpointer.start(config, run_dir, settings.warm_start_bundle, log)
    agreement.check_same_start(resumed_from, run_dir / "train")
    if is_chief:
        write_run_config(run_dir, config)
    if not is_default_strategy(settings.strategy):
        log(describe_strategy(distribution, config.hparams.batch_size, role))

    # 4. The loop.
    batches = TrainingBatches(
        sequence_example_file, config, distribution, seed, rows_per_worker=role is not None
    )
    train_step = make_train_step(
        model,
        optimizer,
        distribution,
        global_step,
        int(config.encoder.default_event_label),
        batches.element_spec,
    )
    eval_set = EvalSet.optional(
        settings.eval_sequence_example_file if is_chief else None,
        config,
        settings.num_eval_examples,
    )
    summaries = RunSummaries(scratch_dir or run_dir, eval_set is not None, log)
    result = TrainingResult(
        str(run_dir),
        resumed_from,
        resumed_from=resumed_from,
        num_replicas=int(distribution.num_replicas_in_sync),
        is_chief=is_chief,
        model=model,
    )
    best = BestCheckpoint(model, optimizer, global_step, run_dir) if eval_set is not None else None
    loop = _TrainingLoop(
        settings, result, checkpointer, agreement, summaries, eval_set, model, best, log
    )
    try:
        loop.run(lambda: train_step(batches.next()).numpy(), global_step)
    except lost_worker_errors() as error:
        if role is None:
            raise
        raise lost_worker_error(error, role, run_dir / "train", checkpointer.latest) from None
    return result


def _agreed_seed(seed: int | None, agreement: WorkerAgreement) -> int | None:
    """The data seed: `seed`; with several workers and no seed, one the chief draws, so that every
    worker builds the same global batches."""
    if seed is not None or not agreement.distributed:
        return seed
    import random

    return int(agreement.chief_value(float(random.randrange(2**31))))


class _TrainingLoop:
    """Step 4 and 5 of `train`: steps with their summaries, checkpoints and evaluations, until the
    last step, the time limit or a stop signal; then the final checkpoint and evaluation."""

    def __init__(
        self, settings, result, checkpointer, agreement, summaries, eval_set, model, best, log
    ) -> None:
        self.settings, self.result, self.checkpointer = settings, result, checkpointer
        self.agreement, self.summaries, self.eval_set = agreement, summaries, eval_set
        self.model, self.best, self.log = model, best, log

    def evaluate(self, at_step: int) -> None:
        metrics = self.eval_set.evaluate(self.model)
        self.result.eval_metrics = metrics
        self.result.eval_history.append({"step": at_step, **metrics})
        self.summaries.record_eval(metrics, at_step)
        if self.best is not None:
            self.best.consider(at_step, metrics, self.log)

    def run(self, one_step: Callable, global_step) -> None:
        """Train from result.step on; fills in self.result."""
        settings, result, checkpointer = self.settings, self.result, self.checkpointer
        last_step, eval_frequency = settings.num_training_steps, settings.eval_frequency
        window = _MetricWindow()
        started = last_save = time.perf_counter()
        step, steps_done, interrupted = result.step, 0, False
        with stop_on_signals() as stop_request:
            try:
                while last_step == 0 or step < last_step:
                    if stop_request.requested and not self.agreement.distributed:
                        raise KeyboardInterrupt
                    sums = one_step()
                    step = int(global_step.numpy())
                    steps_done += 1
                    if not is_finite_loss(sums):
                        raise checkpointer.diverged(f"the loss became {sums[0]}", step)
                    window.add(sums)
                    # A resumed run's first window may hold a step or two: it joins the next.
                    if step % settings.summary_frequency == 0 and (
                        window.steps >= settings.summary_frequency
                    ):
                        metrics = window.close()
                        result.train_metrics = metrics
                        result.history.append({"step": step, **metrics})
                        self.summaries.record_train(metrics, step)
                    now = time.perf_counter()
                    decision = self.agreement.decide(
                        save=now - last_save >= settings.save_checkpoint_secs,
                        time_up=settings.max_seconds is not None
                        and now - started >= settings.max_seconds,
                        stop=stop_request.requested,
                    )
                    if decision.save:
                        checkpointer.save(step)
                        last_save = time.perf_counter()
                    if self.eval_set is not None and eval_frequency and step % eval_frequency == 0:
                        self.evaluate(step)
                    if decision.time_up:
                        self.log(f"Stopping after {settings.max_seconds:.0f} s at step {step}.")
                        break
                    if decision.stop:
                        raise KeyboardInterrupt
            except KeyboardInterrupt:
                interrupted = True
                self.log(f"Interrupted at step {step}; saving a checkpoint.")
            finally:
                self.summaries.flush()

        # 5. The last checkpoint and evaluation.
        if steps_done and not checkpointer.has_saved(step):
            checkpointer.save(step)
        evaluated = any(entry["step"] == step for entry in result.eval_history)
        if not interrupted and self.eval_set is not None and steps_done and not evaluated:
            self.evaluate(step)
        result.step = step
        total = time.perf_counter() - started
        result.steps_per_second = steps_done / total if total > 0 else 0.0


def _build_training_state(config: MelodyRnnConfig, distribution):
    """(model, optimizer, global step), built under the distribution strategy."""
    import tensorflow as tf

    from melodylib.models.melody_rnn import build_model

    with distribution.scope():
        model = build_model(config)
        optimizer = make_optimizer(config)
        global_step = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
        optimizer.build(model.trainable_variables)
    return model, optimizer, global_step


class _MetricWindow:
    """The metric sums of the steps since the last log line, and how long they took."""

    def __init__(self) -> None:
        self.sums = MetricSums()
        self.steps = 0
        self.started = time.perf_counter()

    def add(self, sums) -> None:
        self.sums.add(sums)
        self.steps += 1

    def close(self) -> dict[str, float]:
        """The window's metrics with its steps per second; a new window starts."""
        elapsed = time.perf_counter() - self.started
        metrics = self.sums.metrics()
        metrics["steps_per_second"] = _window_steps_per_second(self.steps, elapsed)
        self.sums, self.steps, self.started = MetricSums(), 0, time.perf_counter()
        return metrics


def _prepare_run_dir(
    config: MelodyRnnConfig,
    sequence_example_file: str,
    eval_sequence_example_file: str | None,
    run_dir: Path,
    is_chief: bool = True,
) -> None:
    """Check that the data files suit `config` and run_dir may be resumed with it; the chief
    creates run_dir/train."""
    from melodylib.data.datasets import check_input_size

    if not sequence_example_file:
        raise MelodylibError(
            "--sequence_example_file is required (the training_melodies.tfrecord from create_dataset)"
        )
    train_dir = run_dir / "train"
    check_run_config(run_dir, config)
    check_input_size(sequence_example_file, config.encoder.input_size, config.name)
    if eval_sequence_example_file:
        check_input_size(eval_sequence_example_file, config.encoder.input_size, config.name)
    if not is_chief:
        return
    try:
        train_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise MelodylibError(
            f"--run_dir {run_dir}: cannot create {train_dir} ({error.strerror or error})"
        ) from None


def _window_steps_per_second(steps: int, seconds: float) -> float:
    """Steps per second over a logging window (NaN for an empty window)."""
    return steps / seconds if seconds > 0 else float("nan")


def _check_training_flags(
    num_training_steps: int,
    summary_frequency: int,
    num_checkpoints: int,
    save_checkpoint_secs: float,
    eval_frequency: int,
    num_eval_examples: int,
) -> None:
    """Reject flag values that make no sense, naming the flag."""
    if summary_frequency < 1:
        raise MelodylibError(f"--summary_frequency must be 1 or more, got {summary_frequency}")
    if num_training_steps < 0:
        raise MelodylibError(
            f"--num_training_steps must be 0 (train until stopped) or more, got {num_training_steps}"
        )
    if num_checkpoints < 0:
        raise MelodylibError(
            f"--num_checkpoints must be 0 (keep all) or more, got {num_checkpoints}"
        )
    if not save_checkpoint_secs >= 0:
        raise MelodylibError(
            f"--save_checkpoint_secs must be 0 (every step) or more, got {save_checkpoint_secs}"
        )
    if eval_frequency < 0:
        raise MelodylibError(
            f"--eval_frequency must be 0 (only at the end) or more, got {eval_frequency}"
        )
    if num_eval_examples < 0:
        raise MelodylibError(
            f"--num_eval_examples must be 0 (the whole eval set) or more, got {num_eval_examples}"
        )
