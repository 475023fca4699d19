"""Magenta's training metrics: per-batch sums computed inside compiled steps, added up over any
number of batches, and turned into loss, perplexity and the three accuracies.

To add a metric: add the per-batch count it needs to `batch_metric_sums` (if any) and its formula
to `MetricSums.metrics`; everything else (training logs, TensorBoard, evaluation) follows.
"""

from __future__ import annotations

import math

import numpy as np

from melodylib.errors import MelodylibError

METRIC_NAMES = ("loss", "perplexity", "accuracy", "event_accuracy", "no_event_accuracy")

# The order of the sums in the vector `batch_metric_sums` returns; `cross_entropy` comes first
# (the training loop checks it for NaN).
SUM_NAMES = (
    "cross_entropy",
    "steps",
    "correct",
    "event_steps",
    "event_correct",
    "no_event_steps",
    "no_event_correct",
    "total_steps",
)


def batch_metric_sums(labels, logits, mask, no_event_label: int):
    """The sums behind Magenta's metrics for one batch, as one tensor in SUM_NAMES order.

    Used inside compiled steps. `mask` is 1.0 on the real steps of each melody, 0.0 on padding.
    """
    import tensorflow as tf

    labels = tf.cast(labels, tf.int32)
    cross_entropy = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    predictions = tf.argmax(logits, axis=-1, output_type=tf.int32)
    correct = tf.cast(tf.equal(predictions, labels), tf.float32) * mask
    no_event = tf.cast(tf.equal(labels, no_event_label), tf.float32) * mask
    event = mask - no_event
    sums = {
        "cross_entropy": tf.reduce_sum(cross_entropy * mask),
        "steps": tf.reduce_sum(mask),
        "correct": tf.reduce_sum(correct),
        "event_steps": tf.reduce_sum(event),
        "event_correct": tf.reduce_sum(correct * event),
        "no_event_steps": tf.reduce_sum(no_event),
        "no_event_correct": tf.reduce_sum(correct * no_event),
        "total_steps": tf.cast(tf.size(mask), tf.float32),
    }
    return tf.stack([sums[name] for name in SUM_NAMES])


class MetricSums:
    """Running sums from which Magenta's metrics are computed over any number of batches."""

    def __init__(self) -> None:
        self.totals = dict.fromkeys(SUM_NAMES, 0.0)

    def add(self, values) -> None:
        """Add one batch's sums (the vector from `batch_metric_sums`)."""
        for name, value in zip(SUM_NAMES, values, strict=True):
            self.totals[name] += float(value)

    def metrics(self) -> dict[str, float]:
        """loss, perplexity, accuracy, event_accuracy, no_event_accuracy (and the padded fraction)."""
        totals = self.totals
        steps = totals["steps"]
        if steps == 0:
            raise MelodylibError("no steps were evaluated: the data set is empty")

        def fraction(part: str, whole: str) -> float:
            return totals[part] / totals[whole] if totals[whole] else float("nan")

        loss = totals["cross_entropy"] / steps
        return {
            "loss": loss,
            "perplexity": math.exp(loss) if loss < 700.0 else float("inf"),
            "accuracy": totals["correct"] / steps,
            "event_accuracy": fraction("event_correct", "event_steps"),
            "no_event_accuracy": fraction("no_event_correct", "no_event_steps"),
            "padded_fraction": (totals["total_steps"] - steps) / totals["total_steps"],
        }


def evaluate_dataset(
    model, dataset, no_event_label: int, max_examples: int = 0
) -> dict[str, float]:
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


def is_finite_loss(sums: np.ndarray) -> bool:
    """False when a batch's summed cross-entropy is NaN or infinite (the run has diverged)."""
    return bool(np.isfinite(sums[SUM_NAMES.index("cross_entropy")]))
