"""Training with evaluation in one process: Magenta's melody_rnn_train on Keras 3.

The loop is a compiled TensorFlow step over padded, masked batches:
- loss: softmax cross-entropy averaged over the real (unmasked) steps of the batch (spec §5.4);
- metrics with Magenta's names: loss, perplexity, accuracy, event_accuracy, no_event_accuracy;
- Adam (epsilon 1e-8) with each gradient clipped by its own norm at `clip_norm`, as tf_slim did;
- checkpoints every `save_checkpoint_secs` and at the end, the latest `num_checkpoints` kept;
  running again with the same run_dir resumes from the latest complete one, and the files of a
  save interrupted by a kill are removed first;
- a NaN or infinite loss (or weights) stops the run with TrainingDivergedError before anything
  bad is saved (Magenta's NanTensorHook only stops on NaN);
- TensorBoard summaries in run_dir/train and run_dir/eval;
- optionally an evaluation on the eval set every `eval_frequency` steps, with dropout off
  (Magenta evaluates in a second process, with dropout still on);
- `strategy="mirrored"` splits each batch between local devices (tf.distribute.MirroredStrategy).
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from melodylib.atomic import write_text_atomically
from melodylib.encoding.configs import MelodyRnnConfig, config_from_dict, config_to_dict
from melodylib.errors import MelodylibError

logger = logging.getLogger("melodylib.training.loop")

METRIC_NAMES = ("loss", "perplexity", "accuracy", "event_accuracy", "no_event_accuracy")
RUN_CONFIG_FILE = "run_config.json"


class TrainingDivergedError(MelodylibError):
    """The loss became NaN or infinite; the last good checkpoint is left in place."""


@dataclass
class MetricSums:
    """Running sums from which Magenta's metrics are computed over any number of batches."""

    cross_entropy: float = 0.0
    steps: float = 0.0
    correct: float = 0.0
    event_steps: float = 0.0
    event_correct: float = 0.0
    no_event_steps: float = 0.0
    no_event_correct: float = 0.0
    padded_steps: float = 0.0

    def add(self, values) -> None:
        (cross_entropy, steps, correct, event_steps, event_correct, no_event_steps, no_event_correct, total) = (
            float(v) for v in values
        )
        self.cross_entropy += cross_entropy
        self.steps += steps
        self.correct += correct
        self.event_steps += event_steps
        self.event_correct += event_correct
        self.no_event_steps += no_event_steps
        self.no_event_correct += no_event_correct
        self.padded_steps += total - steps

    def metrics(self) -> dict[str, float]:
        """loss, perplexity, accuracy, event_accuracy, no_event_accuracy (and the padded fraction)."""
        if self.steps == 0:
            raise MelodylibError("no steps were evaluated: the data set is empty")
        loss = self.cross_entropy / self.steps
        return {
            "loss": loss,
            "perplexity": math.exp(loss) if loss < 700.0 else float("inf"),
            "accuracy": self.correct / self.steps,
            "event_accuracy": self.event_correct / self.event_steps if self.event_steps else float("nan"),
            "no_event_accuracy": self.no_event_correct / self.no_event_steps if self.no_event_steps else float("nan"),
            "padded_fraction": self.padded_steps / (self.steps + self.padded_steps),
        }


def batch_metric_sums(labels, logits, mask, no_event_label: int):
    """The sums behind Magenta's metrics for one batch, as tensors (used inside compiled steps)."""
    import tensorflow as tf

    labels = tf.cast(labels, tf.int32)
    cross_entropy = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    predictions = tf.argmax(logits, axis=-1, output_type=tf.int32)
    correct = tf.cast(tf.equal(predictions, labels), tf.float32) * mask
    no_event = tf.cast(tf.equal(labels, no_event_label), tf.float32) * mask
    event = mask - no_event
    return tf.stack(
        [
            tf.reduce_sum(cross_entropy * mask),
            tf.reduce_sum(mask),
            tf.reduce_sum(correct),
            tf.reduce_sum(event),
            tf.reduce_sum(correct * event),
            tf.reduce_sum(no_event),
            tf.reduce_sum(correct * no_event),
            tf.cast(tf.size(mask), tf.float32),
        ]
    )


def make_optimizer(config: MelodyRnnConfig):
    """Adam with TF1's epsilon (1e-8) and per-variable gradient clipping at clip_norm."""
    import keras

    return keras.optimizers.Adam(
        learning_rate=config.hparams.learning_rate, epsilon=1e-8, clipnorm=config.hparams.clip_norm
    )


def make_train_step(model, optimizer, distribution, global_step, no_event_label: int, element_spec):
    """The compiled training step: one batch in, the summed metric terms of the batch out.

    The loss is the mean cross-entropy over the valid steps of the *whole* batch (spec §5.4), so
    with several replicas each divides its sum by the global count. Batch and time dimensions are
    left open in the signature, so one trace serves every batch shape.
    """
    import tensorflow as tf

    def replica_step(inputs, labels, mask):
        context = tf.distribute.get_replica_context()
        global_valid = context.all_reduce(tf.distribute.ReduceOp.SUM, tf.reduce_sum(mask))
        with tf.GradientTape() as tape:
            logits = model(inputs, training=True)
            sums = batch_metric_sums(labels, logits, mask, no_event_label)
            loss = sums[0] / tf.maximum(global_valid, 1.0)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return sums

    def train_step(batch):
        per_replica = distribution.run(replica_step, args=batch)
        global_step.assign_add(1)
        return distribution.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    return tf.function(train_step, input_signature=[element_spec])


def evaluate_dataset(model, dataset, no_event_label: int, max_examples: int = 0) -> dict[str, float]:
    """Magenta's metrics over a (finite) dataset of (inputs, labels, mask), with dropout off."""
    import tensorflow as tf

    def step(inputs, labels, mask):
        logits = model(inputs, training=False)
        return batch_metric_sums(labels, logits, mask, no_event_label)

    step = tf.function(step, input_signature=list(dataset.element_spec))

    sums = MetricSums()
    examples = 0
    for inputs, labels, mask in dataset:
        sums.add(step(inputs, labels, mask).numpy())
        examples += int(inputs.shape[0])
        if max_examples and examples >= max_examples:
            break
    return sums.metrics()


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



def _write_run_config(run_dir: Path, config: MelodyRnnConfig) -> None:
    path = run_dir / RUN_CONFIG_FILE
    write_text_atomically(path, json.dumps(config_to_dict(config), indent=2, sort_keys=True))


def _check_run_config(run_dir: Path, config: MelodyRnnConfig) -> None:
    """Refuse to resume a run_dir trained with another config or other layer sizes, naming both values."""
    path = run_dir / RUN_CONFIG_FILE
    if not path.exists():
        return
    try:
        stored = config_from_dict(json.loads(path.read_text()))
    except (OSError, ValueError) as error:
        raise MelodylibError(f"{path} is unreadable ({error}); delete it or use another --run_dir") from None
    if stored.name != config.name or stored.encoder.input_size != config.encoder.input_size:
        raise MelodylibError(
            f"{run_dir} holds a {stored.name} run (input size {stored.encoder.input_size}), but --config "
            f"is {config.name} (input size {config.encoder.input_size}); use another --run_dir"
        )
    for name in ("rnn_layer_sizes", "attn_length"):
        old, new = getattr(stored.hparams, name), getattr(config.hparams, name)
        if list(np.atleast_1d(old)) != list(np.atleast_1d(new)):
            shown = ",".join(str(v) for v in np.atleast_1d(old))
            shown = f"[{shown}]" if name == "rnn_layer_sizes" else shown
            raise MelodylibError(
                f"--hparams do not match the checkpoint in {run_dir}: {name} is {old} in the checkpoint "
                f"and {new} now; pass --hparams={name}={shown} (or use another --run_dir)"
            )


def latest_checkpoint(run_dir: str | os.PathLike) -> str | None:
    """The newest complete checkpoint prefix in run_dir/train, or None."""
    import tensorflow as tf

    return tf.train.latest_checkpoint(str(Path(run_dir) / "train"))


_CHECKPOINT_FILE = re.compile(r"^(?P<prefix>.+-(?P<number>\d+))(\.index|\.data-\d+-of-\d+)$")


def _checkpoint_number(prefix: str | None) -> int:
    match = re.search(r"-(\d+)$", prefix or "")
    return int(match.group(1)) if match else -1


def remove_partial_checkpoints(train_dir: Path, log: Callable[[str], None] = print) -> list[str]:
    """Delete what a killed save left behind: `*_temp` folders, `checkpoint.tmp*` files and checkpoint
    files newer than the latest complete one.

    TensorFlow records a checkpoint in the `checkpoint` state file (atomically) only after all
    its files are written, so files numbered beyond the recorded latest are from an interrupted
    save. Older files are left alone (keep_checkpoint_every_n_hours keeps some unlisted ones).
    """
    import tensorflow as tf

    if not train_dir.is_dir():
        return []
    state = tf.train.get_checkpoint_state(str(train_dir))
    listed = [state.model_checkpoint_path, *state.all_model_checkpoint_paths] if state else []
    # Without a state file no save ever completed; a new run numbers its checkpoints from 1 again.
    latest = max((_checkpoint_number(prefix) for prefix in listed), default=-1)
    removed = []
    for entry in sorted(train_dir.iterdir()):
        if entry.is_dir() and entry.name.endswith("_temp"):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry.name)
            continue
        if entry.is_file() and entry.name.startswith("checkpoint.tmp"):
            entry.unlink()  # the state file is written to checkpoint.tmp<id> and renamed
            removed.append(entry.name)
            continue
        match = _CHECKPOINT_FILE.match(entry.name)
        if match and entry.is_file() and int(match.group("number")) > latest:
            entry.unlink()
            removed.append(entry.name)
    if removed:
        log(f"Removed the files of an interrupted checkpoint save in {train_dir}: {', '.join(removed)}.")
    return removed


def _restore(checkpoint, prefix: str, what: str) -> None:
    """Restore `checkpoint` from `prefix`, turning TensorFlow's mismatch errors into MelodylibErrors."""
    import tensorflow as tf

    try:
        status = checkpoint.restore(prefix)
        status.expect_partial()  # values the program does not use (e.g. optimizer slots) are fine
        # Every variable of the model must come from the checkpoint: a layer missing from it
        # (more or other layers than were trained) would otherwise stay silently random.
        status.assert_existing_objects_matched()
    except (ValueError, AssertionError, tf.errors.InvalidArgumentError, tf.errors.NotFoundError,
            tf.errors.DataLossError) as error:
        detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise MelodylibError(f"{what} ({prefix}): {detail}") from None


def _all_finite(variables) -> bool:
    import tensorflow as tf

    return bool(all(tf.reduce_all(tf.math.is_finite(variable)).numpy() for variable in variables))


def _diverged(what: str, step: int, manager) -> TrainingDivergedError:
    return TrainingDivergedError(
        f"{what} at step {step}; training stopped and the last good checkpoint "
        f"({manager.latest_checkpoint or 'none yet'}) is left in place. Try a smaller learning_rate or "
        "clip_norm, or smaller rnn_layer_sizes, then run again (it resumes from that checkpoint)."
    )


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
) -> TrainingResult:
    """Train `config` on the SequenceExamples in `sequence_example_file`, writing to `run_dir`.

    num_training_steps is the global step to stop at; 0 trains until interrupted (Magenta's
    behaviour); `max_seconds` stops after that long (for notebooks). With a checkpoint in
    run_dir/train the run resumes from it. Returns the final step and metrics.
    """
    import keras
    import tensorflow as tf

    from melodylib.data.datasets import check_input_size, make_dataset
    from melodylib.models.melody_rnn import build_model

    log = log or (lambda message: print(message, flush=True))
    _check_training_flags(num_training_steps, summary_frequency, num_checkpoints, save_checkpoint_secs,
                          eval_frequency, num_eval_examples)
    if not sequence_example_file:
        raise MelodylibError("--sequence_example_file is required (the training_melodies.tfrecord from create_dataset)")
    run_dir = Path(run_dir)
    train_dir, eval_dir = run_dir / "train", run_dir / "eval"
    _check_run_config(run_dir, config)
    input_size = config.encoder.input_size
    check_input_size(sequence_example_file, input_size, config.name)
    if eval_sequence_example_file:
        check_input_size(eval_sequence_example_file, input_size, config.name)
    try:
        train_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise MelodylibError(f"--run_dir {run_dir}: cannot create {train_dir} ({error.strerror or error})") from None
    if seed is not None:
        keras.utils.set_random_seed(seed)

    distribution = _make_strategy(strategy)
    no_event_label = int(config.encoder.default_event_label)
    batch_size = config.hparams.batch_size
    with distribution.scope():
        model = build_model(config)
        optimizer = make_optimizer(config)
        global_step = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
        optimizer.build(model.trainable_variables)
    checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer, global_step=global_step)
    # Cleaned before the manager reads the folder; reported after the first line (which names the step).
    cleanup_lines: list[str] = []
    remove_partial_checkpoints(train_dir, cleanup_lines.append)
    manager = tf.train.CheckpointManager(
        checkpoint, str(train_dir), max_to_keep=num_checkpoints or None, keep_checkpoint_every_n_hours=1
    )
    resumed_from = 0
    if manager.latest_checkpoint:
        _restore(checkpoint, manager.latest_checkpoint, "--hparams do not match the checkpoint")
        resumed_from = int(global_step.numpy())
        ignored = f" (--warm_start_bundle {warm_start_bundle} is ignored when resuming)" if warm_start_bundle else ""
        log(f"Resuming from checkpoint {manager.latest_checkpoint} at step {resumed_from}{ignored}.")
    elif warm_start_bundle:
        from melodylib.bundles.bundle import load_bundle

        bundle = load_bundle(warm_start_bundle)
        bundle.check_compatible(config)
        bundle.copy_weights_to(model)
        log(f"Starting from the weights of bundle {warm_start_bundle} ({bundle.description or bundle.config.name}), "
            "at step 0.")
    else:
        log(f"Starting a new {config.name} run in {run_dir}.")
    for line in cleanup_lines:
        log(line)
    # Written only now that the checkpoint (if any) is known to match, so a refused run never
    # overwrites the record of what the checkpoint holds.
    _write_run_config(run_dir, config)
    num_replicas = int(distribution.num_replicas_in_sync)
    if strategy not in (None, "", "default"):
        log(f"Training with {type(distribution).__name__} on {num_replicas} replicas; each step's batch of "
            f"{batch_size} melodies is split between them.")

    dataset = make_dataset(sequence_example_file, input_size, batch_size, shuffle=True, repeat=True, seed=seed)
    distributed = distribution.experimental_distribute_dataset(dataset)

    train_step = make_train_step(model, optimizer, distribution, global_step, no_event_label,
                                 distributed.element_spec)

    train_writer = tf.summary.create_file_writer(str(train_dir))
    eval_writer = tf.summary.create_file_writer(str(eval_dir)) if eval_sequence_example_file else None
    result = TrainingResult(run_dir=str(run_dir), step=resumed_from, resumed_from=resumed_from,
                            num_replicas=num_replicas)
    window = MetricSums()
    window_start = last_save = started = time.perf_counter()
    steps_done = 0
    iterator = iter(distributed)
    step = resumed_from

    def save(at_step: int) -> None:
        # A finite loss at this step says nothing about the weights just updated from it:
        # check them, so a diverged model never replaces the last good checkpoint.
        if not _all_finite(model.trainable_variables):
            raise _diverged("the weights became NaN or infinite (the loss was still finite)", at_step, manager)
        manager.save(checkpoint_number=at_step)

    def run_eval(at_step: int) -> None:
        eval_dataset = make_dataset(
            eval_sequence_example_file, input_size, batch_size, shuffle=False, repeat=False, drop_remainder=False,
            max_examples=num_eval_examples,
        )
        metrics = evaluate_dataset(model, eval_dataset, no_event_label)
        result.eval_metrics = metrics
        result.eval_history.append({"step": at_step, **metrics})
        with eval_writer.as_default():
            _write_summaries(metrics, at_step)
        eval_writer.flush()
        log("Eval   step {:>6}: loss {:.4f}, perplexity {:.3f}, accuracy {:.4f}, event_accuracy {:.4f}, "
            "no_event_accuracy {:.4f}".format(at_step, *(metrics[name] for name in METRIC_NAMES)))

    interrupted = False
    stop_request, restore_signals = _stop_on_signals()
    try:
        while num_training_steps == 0 or step < num_training_steps:
            if stop_request.requested:
                raise KeyboardInterrupt
            try:
                batch = next(iterator)
            except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as error:
                raise MelodylibError(
                    f"--sequence_example_file {sequence_example_file}: a record cannot be read "
                    f"({str(error).strip().splitlines()[0]}); is the file complete and written by create_dataset?"
                ) from None
            sums = train_step(batch).numpy()
            step = int(global_step.numpy())
            steps_done += 1
            if not np.isfinite(sums[0]):
                raise _diverged(f"the loss became {sums[0]}", step, manager)
            window.add(sums)
            if step % summary_frequency == 0:
                elapsed = time.perf_counter() - window_start
                metrics = window.metrics()
                metrics["steps_per_second"] = _window_steps_per_second(summary_frequency, elapsed)
                result.train_metrics = metrics
                result.history.append({"step": step, **metrics})
                with train_writer.as_default():
                    _write_summaries(metrics, step)
                log("Train  step {:>6}: loss {:.4f}, perplexity {:.3f}, accuracy {:.4f}, {:.2f} steps/s, "
                    "padding {:.1%}".format(step, metrics["loss"], metrics["perplexity"], metrics["accuracy"],
                                            metrics["steps_per_second"], metrics["padded_fraction"]))
                window = MetricSums()
                window_start = time.perf_counter()
            if time.perf_counter() - last_save >= save_checkpoint_secs:
                save(step)
                last_save = time.perf_counter()
            if eval_writer is not None and eval_frequency and step % eval_frequency == 0:
                run_eval(step)
            if max_seconds is not None and time.perf_counter() - started >= max_seconds:
                log(f"Stopping after {max_seconds:.0f} s at step {step}.")
                break
    except KeyboardInterrupt:
        interrupted = True
        log(f"Interrupted at step {step}; saving a checkpoint.")
    finally:
        restore_signals()
        train_writer.flush()
    if steps_done and _checkpoint_number(manager.latest_checkpoint) != step:
        save(step)
    if not interrupted and eval_writer is not None and steps_done and not any(
        entry["step"] == step for entry in result.eval_history
    ):
        run_eval(step)
    result.step = step
    total = time.perf_counter() - started
    result.steps_per_second = steps_done / total if total > 0 else 0.0
    return result


class _StopRequest:
    """Set by a signal handler; the training loop looks at it between steps."""

    def __init__(self) -> None:
        self.requested = False


def _stop_on_signals():
    """Make Ctrl-C and SIGTERM (a scheduler, `kill`) stop training cleanly, with a final checkpoint.

    The first signal only asks the loop to stop after the step in progress: raising inside
    TensorFlow's C++ code (an input pipeline, a running step) can leave it in a broken state.
    A second signal stops at once. A background job started by a shell ignores SIGINT, so both
    are set here. Returns the request and a function that puts the previous handlers back; only
    the main thread can set handlers.
    """
    import signal
    import threading

    request = _StopRequest()
    if threading.current_thread() is not threading.main_thread():
        return request, lambda: None

    def interrupt(signum, frame):
        if request.requested:
            raise KeyboardInterrupt
        request.requested = True

    previous = {number: signal.signal(number, interrupt) for number in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for number, handler in previous.items():
            signal.signal(number, handler)

    return request, restore


def _window_steps_per_second(steps: int, seconds: float) -> float:
    """Steps per second over a logging window (NaN for an empty window)."""
    return steps / seconds if seconds > 0 else float("nan")


def _check_training_flags(num_training_steps: int, summary_frequency: int, num_checkpoints: int,
                          save_checkpoint_secs: float, eval_frequency: int, num_eval_examples: int) -> None:
    """Reject flag values that make no sense, naming the flag."""
    if summary_frequency < 1:
        raise MelodylibError(f"--summary_frequency must be 1 or more, got {summary_frequency}")
    if num_training_steps < 0:
        raise MelodylibError(f"--num_training_steps must be 0 (train until stopped) or more, got {num_training_steps}")
    if num_checkpoints < 0:
        raise MelodylibError(f"--num_checkpoints must be 0 (keep all) or more, got {num_checkpoints}")
    if not save_checkpoint_secs >= 0:
        raise MelodylibError(f"--save_checkpoint_secs must be 0 (every step) or more, got {save_checkpoint_secs}")
    if eval_frequency < 0:
        raise MelodylibError(f"--eval_frequency must be 0 (only at the end) or more, got {eval_frequency}")
    if num_eval_examples < 0:
        raise MelodylibError(f"--num_eval_examples must be 0 (the whole eval set) or more, got {num_eval_examples}")


_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _write_summaries(metrics: dict[str, float], step: int) -> None:
    """Scalar summaries under Magenta's names (`loss`, `metrics/<name>`); values a float32 cannot hold are skipped."""
    import tensorflow as tf

    for name, value in metrics.items():
        if not (np.isfinite(value) and abs(value) <= _FLOAT32_MAX):
            continue
        tf.summary.scalar("loss" if name == "loss" else f"metrics/{name}", value, step=step)


def _make_strategy(name: str | None):
    """The tf.distribute strategy for --strategy: default (one device) or mirrored (all local GPUs, or CPUs)."""
    import tensorflow as tf

    if name in (None, "", "default"):
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    raise MelodylibError(f"--strategy must be 'default' or 'mirrored', got '{name}'")


def load_trained_model(run_dir: str | os.PathLike | None = None, checkpoint_file: str | None = None,
                       config: MelodyRnnConfig | None = None):
    """Rebuild a model from a run_dir (its latest checkpoint) or a checkpoint prefix; returns (model, config, step)."""
    import tensorflow as tf

    from melodylib.models.melody_rnn import build_model

    if run_dir is None and checkpoint_file is None:
        raise MelodylibError("give --run_dir or --checkpoint_file")
    from melodylib.bundles.magenta import is_magenta_checkpoint, load_magenta_checkpoint

    magenta_path = run_dir if run_dir is not None else checkpoint_file
    if is_magenta_checkpoint(magenta_path):
        # A training directory or checkpoint written by Magenta itself (TF1 variable names).
        bundle = load_magenta_checkpoint(magenta_path, config)
        return bundle.build_model(), bundle.config, int(bundle.training.get("training_steps", 0))
    if run_dir is not None:
        run_dir = Path(run_dir)
        if not run_dir.is_dir():
            raise MelodylibError(f"--run_dir {run_dir} does not exist (or is not a folder)")
        checkpoint_file = latest_checkpoint(run_dir)
        if checkpoint_file is None:
            raise MelodylibError(f"--run_dir {run_dir}: no checkpoint in {run_dir / 'train'}; has training written one yet?")
        stored_config = run_dir / RUN_CONFIG_FILE
    else:
        if Path(checkpoint_file).is_dir():
            found = tf.train.latest_checkpoint(str(checkpoint_file))
            if found is None:
                raise MelodylibError(f"--checkpoint_file {checkpoint_file} is a folder with no checkpoint in it")
            checkpoint_file = found
        if not Path(f"{checkpoint_file}.index").exists():
            raise MelodylibError(
                f"--checkpoint_file {checkpoint_file}: no such checkpoint (expected {checkpoint_file}.index); "
                "give the prefix, e.g. RUN_DIR/train/ckpt-1000"
            )
        stored_config = Path(checkpoint_file).parent.parent / RUN_CONFIG_FILE
    if stored_config.exists():
        stored = config_from_dict(json.loads(stored_config.read_text()))
        if config is None:
            config = stored
        elif config.name != stored.name:
            raise MelodylibError(f"{checkpoint_file} was trained as {stored.name}, but --config is {config.name}")
    if config is None:
        raise MelodylibError(f"{checkpoint_file}: the config is unknown (no {RUN_CONFIG_FILE}); pass --config")
    model = build_model(config)
    global_step = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
    checkpoint = tf.train.Checkpoint(model=model, global_step=global_step)
    _restore(checkpoint, checkpoint_file,
             f"the checkpoint does not match {config.name} with hparams {config.hparams.to_string()}")
    return model, config, int(global_step.numpy())
