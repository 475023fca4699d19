"""Worker processes for the parallel readers and data set writers, which never need TensorFlow."""

from __future__ import annotations

import multiprocessing
import sys
from multiprocessing.context import BaseContext


def process_pool_context() -> BaseContext:
    """fork when this process has not loaded TensorFlow (fast, works from any script); spawn otherwise.

    Forking a process that runs TensorFlow's threads can deadlock. Spawned workers import only the
    module that defines their task (and the caller's main module, hence the usual
    `if __name__ == "__main__":` advice); either way they never import TensorFlow.
    """
    if "tensorflow" not in sys.modules and "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")
