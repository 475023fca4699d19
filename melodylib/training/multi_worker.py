"""Training on several machines: who this process is in the cluster (from TF_CONFIG), where it
writes, and how the workers agree on what to do at each step.

`--strategy multi_worker` runs tf.distribute.MultiWorkerMirroredStrategy, which reads the cluster
from the standard `TF_CONFIG` environment variable: every worker runs the same command with its own
`task`. The chief (the `chief` task, else worker 0) writes checkpoints and summaries to --run_dir;
the other workers save theirs too (every worker must take part in saving) but to a scratch folder
of their own, removed at the end. Every worker resumes from the chief's latest checkpoint, so
--run_dir must be one folder all of them read (a shared filesystem when they are on several
machines).

Every worker must run the same steps, saves and stop: a worker that stops alone leaves the others
waiting in the next step's all-reduce. So the decisions each worker would take from its own clock
or signals (save now, the time limit is up, a SIGTERM arrived) are summed over all replicas with
the strategy's own collectives once per step (`WorkerAgreement`), and all act on the result.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from melodylib.errors import MelodylibError

TF_CONFIG_EXAMPLE = '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}'
TASK_TYPES = ("chief", "worker")


@dataclass(frozen=True)
class ClusterRole:
    """This process's place in the cluster: its task, the number of training tasks, and whether
    it is the chief (the one that writes to --run_dir)."""

    task_type: str
    task_index: int
    num_workers: int
    is_chief: bool

    @property
    def name(self) -> str:
        """The task as TF_CONFIG names it, e.g. `worker 1`."""
        return f"{self.task_type} {self.task_index}"


def _tf_config_error(reason: str) -> MelodylibError:
    return MelodylibError(
        f"--strategy multi_worker: the TF_CONFIG environment variable {reason}. Set it on every "
        f"worker to JSON naming all workers (host:port) and this worker's task, e.g. "
        f"TF_CONFIG='{TF_CONFIG_EXAMPLE}' (docs/multi-worker.md)."
    )


def read_tf_config(environment: dict[str, str] | None = None) -> ClusterRole:
    """This process's ClusterRole from TF_CONFIG; a MelodylibError naming what is wrong with it.

    TensorFlow itself would fail later and less clearly (or, with no TF_CONFIG, silently train
    alone), so the variable is checked here first.
    """
    text = (os.environ if environment is None else environment).get("TF_CONFIG", "")
    if not text.strip():
        raise _tf_config_error("is not set")
    try:
        tf_config = json.loads(text)
    except ValueError as error:
        raise _tf_config_error(f"is not valid JSON ({error})") from None
    if not isinstance(tf_config, dict):
        raise _tf_config_error("must be a JSON object with 'cluster' and 'task'")
    cluster, task = tf_config.get("cluster"), tf_config.get("task")
    if not isinstance(cluster, dict) or not cluster:
        raise _tf_config_error("has no 'cluster' object (task type -> list of host:port)")
    if not isinstance(task, dict):
        raise _tf_config_error("has no 'task' object ({'type': ..., 'index': ...})")
    others = sorted(set(cluster) - set(TASK_TYPES))
    if others:
        raise _tf_config_error(
            f"lists {', '.join(others)} tasks; multi_worker trains with 'chief' and 'worker' tasks "
            "only (evaluate beside it with `melody_rnn train --eval`)"
        )
    for task_type, addresses in cluster.items():
        if not isinstance(addresses, list) or not all(
            isinstance(address, str) and ":" in address for address in addresses
        ):
            raise _tf_config_error(f"has cluster['{task_type}'] that is not a list of host:port")
    if len(cluster.get("chief", [])) > 1:
        raise _tf_config_error("lists more than one chief")
    task_type, task_index = task.get("type"), task.get("index")
    if task_type not in cluster:
        raise _tf_config_error(
            f"has task type {task_type!r}, which is not in its cluster ({', '.join(cluster)})"
        )
    if not isinstance(task_index, int) or not 0 <= task_index < len(cluster[task_type]):
        raise _tf_config_error(
            f"has task index {task_index!r}; cluster['{task_type}'] has "
            f"{len(cluster[task_type])} entries (index from 0)"
        )
    is_chief = task_type == "chief" or ("chief" not in cluster and task_index == 0)
    num_workers = sum(len(cluster.get(name, [])) for name in TASK_TYPES)
    return ClusterRole(task_type, task_index, num_workers, is_chief)


@contextlib.contextmanager
def worker_scratch_dir(role: ClusterRole | None) -> Iterator[Path | None]:
    """A temporary folder for a non-chief worker's checkpoints and summaries, removed on leaving;
    None for the chief or a run on one machine (they write to --run_dir)."""
    if role is None or role.is_chief:
        yield None
        return
    folder = Path(tempfile.mkdtemp(prefix=f"melodylib-{role.task_type}-{role.task_index}-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@dataclass(frozen=True)
class StepDecision:
    """What every worker does after a step: save a checkpoint, stop for the time limit, stop for a
    signal."""

    save: bool
    time_up: bool
    stop: bool


class WorkerAgreement:
    """Decisions summed over all replicas, so that every worker takes the same ones.

    In one process (no `role`) nothing is exchanged: the decision is the local one, and a signal
    is looked at before each step by the loop itself (`stop` stays False here).
    """

    def __init__(self, distribution, role: ClusterRole | None) -> None:
        self.role = role
        self._sum = _summing_function(distribution) if role is not None else None

    @property
    def distributed(self) -> bool:
        return self._sum is not None

    def decide(self, save: bool, time_up: bool, stop: bool) -> StepDecision:
        """The decision of all workers: each part is true when any worker wants it."""
        if self._sum is None:
            return StepDecision(save, time_up, False)
        totals = self._sum([float(save), float(time_up), float(stop)], chief_only=False)
        return StepDecision(*(bool(total > 0) for total in totals))

    def chief_value(self, value: float) -> float:
        """The chief's `value`, on every worker (a float64: integers up to 2**53 stay exact)."""
        if self._sum is None:
            return value
        return float(self._sum([value], chief_only=True)[0])

    def check_same_start(self, step: int, train_dir: Path) -> None:
        """Refuse to train when the workers start from different steps (a worker that cannot read
        the chief's --run_dir would start from scratch while the others resume)."""
        if self._sum is None:
            return
        chief_step = int(self.chief_value(float(step)))
        differs = self._sum([float(step != chief_step)], chief_only=False)[0] > 0
        if differs:
            who = (
                f"{self.role.name} starts at step {step}, not at the chief's step {chief_step}"
                if step != chief_step
                else f"another worker does not start at the chief's step {chief_step}"
            )
            raise MelodylibError(
                f"--strategy multi_worker: {who}: every worker must read the chief's checkpoints "
                f"in {train_dir}. Put --run_dir on a filesystem all workers share and give them "
                "all the same path."
            )


def lost_worker_error(
    error: Exception, role: ClusterRole, train_dir: Path, latest: str | None
) -> MelodylibError:
    """The MelodylibError for a collective op that failed because another worker died or cannot
    be reached: what happened, and how to go on (start every worker again; the run resumes)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    telling = [
        index
        for index, line in enumerate(lines)
        if "unhealthy" in line or "aborted" in line.lower()
    ]
    if telling:
        detail = lines[telling[0]]
        if detail.endswith(":") and telling[0] + 1 < len(lines):
            detail += " " + lines[telling[0] + 1]  # the task it names is on the next line
    else:
        detail = lines[0] if lines else type(error).__name__
    return MelodylibError(
        f"--strategy multi_worker: another worker stopped or cannot be reached ({detail}), so "
        f"{role.name} stops too; the steps since the last checkpoint are lost. Start every "
        "worker again with the same command and TF_CONFIG: the run resumes from the latest "
        f"checkpoint in {train_dir} ({latest or 'none yet: it starts again from step 0'})."
    )


def lost_worker_errors() -> tuple[type[Exception], ...]:
    """The TensorFlow errors a collective op raises when a peer worker is gone."""
    import tensorflow as tf

    return (
        tf.errors.UnavailableError,
        tf.errors.AbortedError,
        tf.errors.CancelledError,
        tf.errors.DeadlineExceededError,
    )


def _summing_function(distribution):
    """A compiled function: a float64 vector in, its sum over all replicas out (`chief_only`:
    only global replica 0, which is on the chief, contributes)."""
    import tensorflow as tf

    def replica_sum(values, chief_only):
        context = tf.distribute.get_replica_context()
        values = tf.identity(values)  # placed on the replica's device, which all_reduce needs
        if chief_only:
            is_first = tf.equal(context.replica_id_in_sync_group, 0)
            values = values * tf.cast(is_first, tf.float64)
        return context.all_reduce(tf.distribute.ReduceOp.SUM, values)

    compiled = {}

    def summed(values: list[float], chief_only: bool):
        if chief_only not in compiled:

            def cross_replica(vector):
                result = distribution.run(replica_sum, args=(vector, chief_only))
                return distribution.experimental_local_results(result)[0]

            signature = [tf.TensorSpec([None], tf.float64)]
            compiled[chief_only] = tf.function(cross_replica, input_signature=signature)
        return compiled[chief_only](tf.constant(values, tf.float64)).numpy()

    return summed
