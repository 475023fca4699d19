"""The tf.distribute strategy behind `--strategy`: one device, each batch split between local
devices (tf.distribute.MirroredStrategy), or between the devices of several machines
(tf.distribute.MultiWorkerMirroredStrategy, configured from TF_CONFIG: see multi_worker)."""

from __future__ import annotations

from melodylib.errors import MelodylibError

STRATEGY_NAMES = ("default", "mirrored", "multi_worker")
# How MultiWorkerMirroredStrategy's all-reduce talks between workers (--communication).
COMMUNICATION_NAMES = ("auto", "ring", "nccl")


def is_default_strategy(name: str | None) -> bool:
    """True for the names that mean "no distribution" (None, '' and 'default')."""
    return name in (None, "", "default")


def is_multi_worker_strategy(name: str | None) -> bool:
    """True for the strategy that spans several worker processes or machines."""
    return name == "multi_worker"


def check_strategy_name(name: str | None, communication: str = "auto") -> None:
    """Refuse unknown --strategy and --communication values, naming the allowed ones."""
    if not is_default_strategy(name) and name not in STRATEGY_NAMES:
        raise MelodylibError(f"--strategy must be one of {', '.join(STRATEGY_NAMES)}, got '{name}'")
    if communication not in COMMUNICATION_NAMES:
        raise MelodylibError(
            f"--communication must be one of {', '.join(COMMUNICATION_NAMES)}, got '{communication}'"
        )


def make_strategy(name: str | None, communication: str = "auto"):
    """The tf.distribute strategy for --strategy: default (one device), mirrored (all local GPUs,
    or the CPU) or multi_worker (every worker's GPUs or CPU, the cluster read from TF_CONFIG).

    multi_worker must be made before TensorFlow runs anything in the process (TensorFlow's rule:
    the collective ops are configured when its runtime starts).
    """
    import tensorflow as tf

    check_strategy_name(name, communication)
    if is_default_strategy(name):
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    implementation = {
        "auto": tf.distribute.experimental.CommunicationImplementation.AUTO,
        "ring": tf.distribute.experimental.CommunicationImplementation.RING,
        "nccl": tf.distribute.experimental.CommunicationImplementation.NCCL,
    }[communication]
    options = tf.distribute.experimental.CommunicationOptions(implementation=implementation)
    return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)


def describe_strategy(distribution, batch_size: int, role=None) -> str:
    """The log line saying how a distributed run splits its batches: batch_size is the global
    batch, shared by all replicas of all workers."""
    replicas = int(distribution.num_replicas_in_sync)
    where = ""
    if role is not None:
        chief = "the chief, writing to --run_dir" if role.is_chief else "not the chief"
        where = f" ({role.num_workers} workers; this is {role.name}, {chief})"
    # MultiWorkerMirroredStrategy's class is named CollectiveAllReduceStrategy; say the public name.
    name = type(distribution).__name__.replace(
        "CollectiveAllReduceStrategy", "MultiWorkerMirroredStrategy"
    )
    return (
        f"Training with {name} on {replicas} replicas{where}; "
        f"batch_size {batch_size} is the global batch: each step's {batch_size} melodies are "
        f"split between all {replicas} replicas ({batch_size / replicas:g} each)."
    )


def check_global_batch(batch_size: int, replicas: int) -> None:
    """multi_worker gives each replica its own equal rows of every global batch: batch_size must
    divide evenly."""
    if batch_size % replicas:
        raise MelodylibError(
            f"--hparams batch_size={batch_size} is the global batch of --strategy multi_worker and "
            f"must be a multiple of the {replicas} replicas of all workers; use e.g. "
            f"batch_size={max(replicas, batch_size // replicas * replicas)}"
        )
