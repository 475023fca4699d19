"""What a training run reports: TensorBoard summaries in run_dir/train and run_dir/eval under
Magenta's names (`loss`, `metrics/<name>`), and the matching log lines."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from melodylib.training.metrics import METRIC_NAMES

_FLOAT32_MAX = float(np.finfo(np.float32).max)


def write_summaries(metrics: dict[str, float], step: int) -> None:
    """Scalar summaries under Magenta's names (`loss`, `metrics/<name>`); values a float32 cannot hold are skipped."""
    import tensorflow as tf

    for name, value in metrics.items():
        if not (np.isfinite(value) and abs(value) <= _FLOAT32_MAX):
            continue
        tf.summary.scalar("loss" if name == "loss" else f"metrics/{name}", value, step=step)


class RunSummaries:
    """The TensorBoard writers of one run (the eval one only with an eval set) and its log lines."""

    def __init__(self, run_dir: Path, with_eval: bool, log: Callable[[str], None]) -> None:
        import tensorflow as tf

        self.log = log
        self.train_writer = tf.summary.create_file_writer(str(run_dir / "train"))
        self.eval_writer = (
            tf.summary.create_file_writer(str(run_dir / "eval")) if with_eval else None
        )

    def record_train(self, metrics: dict[str, float], step: int) -> None:
        """Summaries and a log line for the metrics of a logging window."""
        with self.train_writer.as_default():
            write_summaries(metrics, step)
        self.log(
            "Train  step {:>6}: loss {:.4f}, perplexity {:.3f}, accuracy {:.4f}, {:.2f} steps/s, "
            "padding {:.1%}".format(
                step,
                metrics["loss"],
                metrics["perplexity"],
                metrics["accuracy"],
                metrics["steps_per_second"],
                metrics["padded_fraction"],
            )
        )

    def record_eval(self, metrics: dict[str, float], step: int) -> None:
        """Summaries (flushed at once) and a log line for an evaluation on the eval set."""
        with self.eval_writer.as_default():
            write_summaries(metrics, step)
        self.eval_writer.flush()
        self.log(
            "Eval   step {:>6}: loss {:.4f}, perplexity {:.3f}, accuracy {:.4f}, event_accuracy {:.4f}, "
            "no_event_accuracy {:.4f}".format(step, *(metrics[name] for name in METRIC_NAMES))
        )

    def flush(self) -> None:
        self.train_writer.flush()
