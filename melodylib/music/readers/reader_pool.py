"""Worker processes for reading music, one task at a time each, that outlive a stuck or dead worker.

A process pool from the standard library cannot stop one task: a worker stuck on a hostile file
holds the whole conversion, and a worker that dies (out of memory, a crash in C code) breaks the
pool and loses every file. This pool gives each worker one task at a time over a pipe and watches
it: a worker past its task's deadline is killed and replaced, a worker that dies is replaced, and
either way the task comes back as a failure output (a `timeout` or `reader_crashed` skip) while the
other tasks go on. Outputs come back in task order.

The deadline is a backstop: the readers stop themselves at the time limit (`time_limit`, inside
the worker), so the pool kills only a worker stuck where Python cannot interrupt it.
"""

from __future__ import annotations

import contextlib
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.context import BaseContext
from typing import Any

# How long a worker may take to start (import the readers) before it counts as dead.
START_SECONDS = 120.0
# How long a worker gets to exit after being told to, before it is killed.
EXIT_SECONDS = 5.0
READY = "ready"
# Tasks sent to a worker ahead of the one it reads.
TASKS_IN_FLIGHT = 4


@dataclass(frozen=True)
class _Failed:
    """What a worker sends back when the task raised: the exception's class and message."""

    detail: str


def _worker_main(connection: Connection, function: Callable[[Any], Any]) -> None:
    """A worker's loop: say it is ready, then run each task received until told to stop (None).

    An exception escaping `function` is sent back as a `_Failed` (its class and message), for the
    caller to turn into a failure output; the worker goes on with the next task.
    """
    connection.send(READY)
    while True:
        try:
            task = connection.recv()
        except (EOFError, OSError):
            return  # the parent has gone
        if task is None:
            return
        try:
            output = function(task)
        except Exception as error:  # noqa: BLE001 - reported to the parent, which decides
            output = _Failed(f"{type(error).__name__}: {' '.join(str(error).split())}")
        connection.send(output)


class _Worker:
    """One worker process, its end of the pipe, and the task it is reading (if any)."""

    def __init__(self, context: BaseContext, function: Callable[[Any], Any]) -> None:
        self.connection, child_end = context.Pipe()
        self.process = context.Process(target=_worker_main, args=(child_end, function), daemon=True)
        self.process.start()
        child_end.close()
        self.ready = False
        self.started = time.monotonic()
        # the tasks sent, in order: the first is being read, the others wait in the pipe (so the
        # worker never waits for this process between tasks)
        self.pending: deque[int] = deque()
        self.deadline = 0.0  # of the task being read

    def stop(self) -> None:
        """Ask an idle worker to exit; kill a busy or unresponsive one. Never leaves a process."""
        if not self.pending and self.process.is_alive():
            with contextlib.suppress(OSError, ValueError):  # the pipe may be broken already
                self.connection.send(None)
            self.process.join(EXIT_SECONDS)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(EXIT_SECONDS)
        self.connection.close()

    def exit_description(self) -> str:
        code = self.process.exitcode
        if code is not None and code < 0:
            return f"the reader process was killed by signal {-code} (out of memory?)"
        return f"the reader process died (exit code {code})"


class ReaderPool:
    """`workers` processes running `function` on tasks, with a deadline per task.

    `deadline_of(task)` gives the seconds a task may take (None: no deadline); `failure(task,
    reason, detail)` makes the output that stands for a task that timed out ('timeout'), whose
    worker died ('reader_crashed') or that raised an exception ('unknown_error').
    """

    def __init__(
        self,
        context: BaseContext,
        workers: int,
        function: Callable[[Any], Any],
        deadline_of: Callable[[Any], float | None],
        failure: Callable[[Any, str, str], Any],
    ) -> None:
        self.context, self.function = context, function
        self.deadline_of, self.failure = deadline_of, failure
        self.workers = [_Worker(context, function) for _ in range(workers)]

    def close(self) -> None:
        """Stop every worker (killing busy ones) and wait for them: no process is left behind."""
        for worker in self.workers:
            worker.stop()
        self.workers = []

    def __enter__(self) -> ReaderPool:
        return self

    def __exit__(self, *exception) -> None:
        self.close()

    def map(self, tasks: Iterable[Any]) -> Iterator[Any]:
        """The outputs of the tasks, in task order, as they come."""
        tasks = list(tasks)
        waiting = deque(range(len(tasks)))
        outputs: dict[int, Any] = {}
        next_index = 0
        while next_index < len(tasks):
            while next_index in outputs:
                yield outputs.pop(next_index)
                next_index += 1
            if next_index >= len(tasks):
                return
            self._dispatch(tasks, waiting)
            self._collect(tasks, outputs, waiting)

    def _dispatch(self, tasks: list, waiting: deque) -> None:
        for worker in self.workers:
            while waiting and worker.ready and len(worker.pending) < TASKS_IN_FLIGHT:
                index = waiting.popleft()
                worker.connection.send(tasks[index])
                worker.pending.append(index)
                if len(worker.pending) == 1:
                    self._start_clock(worker, tasks)

    def _start_clock(self, worker: _Worker, tasks: list) -> None:
        """The deadline of the task a worker starts reading now (its first pending one)."""
        seconds = self.deadline_of(tasks[worker.pending[0]]) if worker.pending else None
        worker.deadline = time.monotonic() + seconds if seconds else float("inf")

    def _collect(self, tasks: list, outputs: dict[int, Any], waiting: deque) -> None:
        """Wait for a message, a death or a deadline; record outputs and replace lost workers."""
        now = time.monotonic()
        deadlines = [
            worker.deadline if worker.pending else worker.started + START_SECONDS
            for worker in self.workers
            if worker.pending or not worker.ready
        ]
        timeout = max(0.0, min(deadlines) - now) if deadlines else None
        handles = [worker.connection for worker in self.workers]
        handles += [worker.process.sentinel for worker in self.workers]
        ready = set(wait(handles, timeout))
        now = time.monotonic()
        for position, worker in enumerate(self.workers):
            if worker.connection in ready:
                try:
                    message = worker.connection.recv()
                except (EOFError, OSError):
                    self._replace(position, tasks, outputs, waiting, "reader_crashed")
                    continue
                if not worker.ready and message == READY:
                    worker.ready = True
                elif worker.pending:
                    index = worker.pending.popleft()
                    if isinstance(message, _Failed):
                        message = self.failure(tasks[index], "unknown_error", message.detail)
                    outputs[index] = message
                    self._start_clock(worker, tasks)
            elif worker.process.sentinel in ready:
                self._replace(position, tasks, outputs, waiting, "reader_crashed")
            elif worker.pending and now >= worker.deadline:
                self._replace(position, tasks, outputs, waiting, "timeout")
            elif not worker.ready and now >= worker.started + START_SECONDS:
                raise RuntimeError(f"a reader process did not start in {START_SECONDS:g} s")

    def _replace(
        self, position: int, tasks: list, outputs: dict[int, Any], waiting: deque, reason: str
    ) -> None:
        """Kill a worker, give the task it was reading a failure output, start a new worker.

        The tasks queued behind that one go back to the front of the waiting line.
        """
        worker = self.workers[position]
        worker.process.kill()
        worker.process.join(EXIT_SECONDS)
        if worker.pending:
            index = worker.pending.popleft()
            waiting.extendleft(reversed(worker.pending))
            task = tasks[index]
            if reason == "timeout":
                seconds = self.deadline_of(task) or 0.0
                detail = (
                    f"the reader did not stop at --file_timeout_secs and was killed after "
                    f"{seconds:g} s"
                )
            else:
                detail = worker.exit_description()
            outputs[index] = self.failure(task, reason, detail)
        elif not worker.ready:
            worker.connection.close()
            raise RuntimeError(f"a reader process could not start: {worker.exit_description()}")
        worker.connection.close()
        self.workers[position] = _Worker(self.context, self.function)
