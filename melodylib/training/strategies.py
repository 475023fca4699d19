"""The tf.distribute strategy behind `--strategy`: one device, or each batch split between
local devices (tf.distribute.MirroredStrategy)."""

from __future__ import annotations

from melodylib.errors import MelodylibError

STRATEGY_NAMES = ("default", "mirrored")


def is_default_strategy(name: str | None) -> bool:
    """True for the names that mean "no distribution" (None, '' and 'default')."""
    return name in (None, "", "default")


def make_strategy(name: str | None):
    """The tf.distribute strategy for --strategy: default (one device) or mirrored (all local GPUs, or CPUs)."""
    import tensorflow as tf

    if is_default_strategy(name):
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    raise MelodylibError(f"--strategy must be 'default' or 'mirrored', got '{name}'")


def describe_strategy(distribution, batch_size: int) -> str:
    """The log line saying how a distributed run splits its batches."""
    return (
        f"Training with {type(distribution).__name__} on {int(distribution.num_replicas_in_sync)} "
        f"replicas; each step's batch of {batch_size} melodies is split between them."
    )
