"""What a training or eval run reports: TensorBoard summaries in run_dir/train and run_dir/eval
under Magenta's tags, and the matching log lines.

Magenta's tags: `loss`, `metrics/<name>` for the metrics, `metrics/loss_per_step` and
`metrics/perplexity_per_step` (equal to loss and perplexity for melodies, whose every label is
one step) and `global_step/sec` for the training speed, so TensorBoard shows runs of both side by
side under the same names.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from melodylib.training.metrics import METRIC_NAMES

_FLOAT32_MAX = float(np.finfo(np.float32).max)
# Our metric name -> Magenta's tag, where it is not `metrics/<name>`.
_TAGS = {"loss": "loss", "steps_per_second": "global_step/sec"}
# Magenta's per-step copies: loss_per_step = loss and perplexity_per_step = perplexity.
_PER_STEP_COPIES = {"loss": "metrics/loss_per_step", "perplexity": "metrics/perplexity_per_step"}


def summary_tags(metrics: dict[str, float]) -> dict[str, float]:
    """The scalars to write for `metrics`, by Magenta's tag."""
    tagged = {}
    for name, value in metrics.items():
        tagged[_TAGS.get(name, f"metrics/{name}")] = value
        if name in _PER_STEP_COPIES:
            tagged[_PER_STEP_COPIES[name]] = value
    return tagged


def write_summaries(metrics: dict[str, float], step: int) -> None:
    """Scalar summaries under Magenta's tags; values a float32 cannot hold are skipped."""
    import tensorflow as tf

    for tag, value in summary_tags(metrics).items():
        if not (np.isfinite(value) and abs(value) <= _FLOAT32_MAX):
            continue
        tf.summary.scalar(tag, value, step=step)


def eval_log_line(metrics: dict[str, float], step: int) -> str:
    """The log line of one evaluation (per-class accuracy when it was computed)."""
    line = (
        "Eval   step {:>6}: loss {:.4f}, perplexity {:.3f}, accuracy {:.4f}, event_accuracy {:.4f}, "
        "no_event_accuracy {:.4f}".format(step, *(metrics[name] for name in METRIC_NAMES))
    )
    if "per_class_accuracy" in metrics:
        line += f", per_class_accuracy {metrics['per_class_accuracy']:.4f}"
    return line


class RunSummaries:
    """The TensorBoard writers of one run (train and/or eval) and its log lines."""

    def __init__(
        self,
        run_dir: Path,
        with_eval: bool,
        log: Callable[[str], None],
        with_train: bool = True,
    ) -> None:
        import tensorflow as tf

        self.log = log
        self.train_writer = (
            tf.summary.create_file_writer(str(run_dir / "train")) if with_train else None
        )
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
        """Summaries (flushed at once, so TensorBoard sees them) and a log line for an evaluation."""
        with self.eval_writer.as_default():
            write_summaries(metrics, step)
        self.eval_writer.flush()
        self.log(eval_log_line(metrics, step))

    def flush(self) -> None:
        """Write out everything pending."""
        for writer in (self.train_writer, self.eval_writer):
            if writer is not None:
                writer.flush()

    def close(self) -> None:
        """Flush and close the event files."""
        for writer in (self.train_writer, self.eval_writer):
            if writer is not None:
                writer.close()
