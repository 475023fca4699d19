"""Checkpoints of a training run in run_dir/train: where a run starts (resume, warm start from a
bundle, or fresh), saving (never a diverged model), and cleaning up after a killed save.

Checkpoints are TensorFlow object-based checkpoints of (model, optimizer, global_step), named
`ckpt-<step>`, the latest `num_checkpoints` kept (and one an hour). With several workers
(`multi_worker`) every worker saves, but only the chief into run_dir/train; the others save into
a scratch folder of their own, and all resume from run_dir/train.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

from melodylib.encoding.configs import MelodyRnnConfig
from melodylib.errors import MelodylibError


class TrainingDivergedError(MelodylibError):
    """The loss became NaN or infinite; the last good checkpoint is left in place."""


_CHECKPOINT_FILE = re.compile(r"^(?P<prefix>.+-(?P<number>\d+))(\.index|\.data-\d+-of-\d+)$")


def latest_checkpoint(run_dir: str | os.PathLike) -> str | None:
    """The newest complete checkpoint prefix in run_dir/train, or None."""
    import tensorflow as tf

    return tf.train.latest_checkpoint(str(Path(run_dir) / "train"))


def checkpoint_number(prefix: str | None) -> int:
    """The step in a checkpoint prefix (`.../ckpt-300` -> 300); -1 for None or an unnumbered one."""
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
    latest = max((checkpoint_number(prefix) for prefix in listed), default=-1)
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
        log(
            f"Removed the files of an interrupted checkpoint save in {train_dir}: {', '.join(removed)}."
        )
    return removed


def restore(checkpoint, prefix: str, what: str) -> None:
    """Restore `checkpoint` from `prefix`, turning TensorFlow's mismatch errors into MelodylibErrors."""
    import tensorflow as tf

    try:
        status = checkpoint.restore(prefix)
        status.expect_partial()  # values the program does not use (e.g. optimizer slots) are fine
        # Every variable of the model must come from the checkpoint: a layer missing from it
        # (more or other layers than were trained) would otherwise stay silently random.
        status.assert_existing_objects_matched()
    except (
        ValueError,
        AssertionError,
        tf.errors.InvalidArgumentError,
        tf.errors.NotFoundError,
        tf.errors.DataLossError,
    ) as error:
        detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise MelodylibError(f"{what} ({prefix}): {detail}") from None


def all_finite(variables) -> bool:
    """True if no variable holds a NaN or infinite value."""
    import tensorflow as tf

    return bool(all(tf.reduce_all(tf.math.is_finite(variable)).numpy() for variable in variables))


class Checkpointer:
    """The checkpoints of one run: (model, optimizer, global_step) saved to and restored from train_dir."""

    def __init__(
        self,
        model,
        optimizer,
        global_step,
        train_dir: Path,
        num_checkpoints: int,
        write_dir: Path | None = None,
    ) -> None:
        """Resume from `train_dir`; save into `write_dir` (a non-chief worker's scratch folder),
        by default `train_dir` itself."""
        import tensorflow as tf

        self.model = model
        self.global_step = global_step
        self.train_dir = train_dir
        self.writes_train_dir = write_dir is None
        self.checkpoint = tf.train.Checkpoint(
            model=model, optimizer=optimizer, global_step=global_step
        )
        # Cleaned before the manager reads the folder; reported by `start` after its first line.
        # Only the process that writes train_dir cleans it: another worker's save may be running.
        self._cleanup_lines: list[str] = []
        if self.writes_train_dir:
            remove_partial_checkpoints(train_dir, self._cleanup_lines.append)
        self.manager = tf.train.CheckpointManager(
            self.checkpoint,
            str(train_dir if write_dir is None else write_dir),
            max_to_keep=num_checkpoints or None,
            keep_checkpoint_every_n_hours=1,
        )

    @property
    def latest(self) -> str | None:
        """The latest checkpoint of the run (in train_dir), which a resumed run starts from."""
        if self.writes_train_dir:
            return self.manager.latest_checkpoint
        import tensorflow as tf

        return tf.train.latest_checkpoint(str(self.train_dir))

    def start(
        self,
        config: MelodyRnnConfig,
        run_dir: Path,
        warm_start_bundle: str | None,
        log: Callable[[str], None],
    ) -> int:
        """Resume from the latest checkpoint, else warm start from a bundle, else start fresh.

        Returns the step the run starts at; logs which of the three it was.
        """
        if self.latest:
            restore(self.checkpoint, self.latest, "--hparams do not match the checkpoint")
            step = int(self.global_step.numpy())
            ignored = (
                f" (--warm_start_bundle {warm_start_bundle} is ignored when resuming)"
                if warm_start_bundle
                else ""
            )
            log(f"Resuming from checkpoint {self.latest} at step {step}{ignored}.")
        elif warm_start_bundle:
            step = 0
            description = warm_start(self.model, config, warm_start_bundle)
            log(
                f"Starting from the weights of bundle {warm_start_bundle} ({description}), at step 0."
            )
        else:
            step = 0
            log(f"Starting a new {config.name} run in {run_dir}.")
        for line in self._cleanup_lines:
            log(line)
        return step

    def save(self, step: int) -> None:
        """Save a checkpoint numbered `step`, unless the weights are no longer finite.

        A finite loss at this step says nothing about the weights just updated from it: they are
        checked, so a diverged model never replaces the last good checkpoint.
        """
        if not all_finite(self.model.trainable_variables):
            raise self.diverged(
                "the weights became NaN or infinite (the loss was still finite)", step
            )
        self.manager.save(checkpoint_number=step)

    def has_saved(self, step: int) -> bool:
        """True if the latest checkpoint this process saved (or resumed from) is the one of `step`."""
        return checkpoint_number(self.manager.latest_checkpoint) == step

    def diverged(self, what: str, step: int) -> TrainingDivergedError:
        """The error for a run that diverged at `step`, naming the checkpoint left in place."""
        return TrainingDivergedError(
            f"{what} at step {step}; training stopped and the last good checkpoint "
            f"({self.latest or 'none yet'}) is left in place. Try a smaller learning_rate or "
            "clip_norm, or smaller rnn_layer_sizes, then run again (it resumes from that checkpoint)."
        )


def warm_start(model, config: MelodyRnnConfig, bundle_file: str) -> str:
    """Copy the weights of a bundle (ours or Magenta's) into `model`; returns the bundle's description."""
    from melodylib.bundles.reading import load_bundle

    bundle = load_bundle(bundle_file)
    bundle.check_compatible(config)
    bundle.copy_weights_to(model)
    return bundle.description or bundle.config.name
