"""Magenta's training and eval metrics: per-batch sums computed inside compiled steps, added up
over any number of batches, and turned into loss, perplexity and the three accuracies, plus, in
evaluation, Magenta's `metrics/per_class_accuracy`.

To add a metric: add the per-batch count it needs to `batch_metric_sums` (if any) and its formula
to `MetricSums.metrics`; everything else (training logs, TensorBoard, evaluation) follows.
"""

from __future__ import annotations

import math
import weakref

import numpy as np

from melodylib.errors import MelodylibError

METRIC_NAMES = ("loss", "perplexity", "accuracy", "event_accuracy", "no_event_accuracy")
# Evaluation adds Magenta's eval-only metric.
EVAL_METRIC_NAMES = (*METRIC_NAMES, "per_class_accuracy")

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


def batch_metric_sums(labels, logits, mask, no_event_label: int, per_class: bool = False):
    """The sums behind Magenta's metrics for one batch, as one tensor in SUM_NAMES order.

    Used inside compiled steps. `mask` is 1.0 on the real steps of each melody, 0.0 on padding.
    With `per_class` (evaluation), the vector goes on with the steps of each label class and then
    the correct ones of each class (2 x num_classes values), for the per-class accuracy.
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
    vector = tf.stack([sums[name] for name in SUM_NAMES])
    if not per_class:
        return vector
    num_classes = int(logits.shape[-1])
    class_steps = tf.math.unsorted_segment_sum(mask, labels, num_classes)
    class_correct = tf.math.unsorted_segment_sum(correct, labels, num_classes)
    return tf.concat([vector, class_steps, class_correct], axis=0)


class MetricSums:
    """Running sums from which Magenta's metrics are computed over any number of batches."""

    def __init__(self) -> None:
        self.totals = dict.fromkeys(SUM_NAMES, 0.0)
        self.class_steps: np.ndarray | None = None
        self.class_correct: np.ndarray | None = None

    def add(self, values) -> None:
        """Add one batch's sums (the vector from `batch_metric_sums`, with or without per_class)."""
        values = np.asarray(values, dtype=np.float64)
        for name, value in zip(SUM_NAMES, values[: len(SUM_NAMES)], strict=True):
            self.totals[name] += float(value)
        per_class = values[len(SUM_NAMES) :]
        if per_class.size:
            steps, correct = np.split(per_class, 2)
            if self.class_steps is None:
                self.class_steps, self.class_correct = np.zeros_like(steps), np.zeros_like(steps)
            self.class_steps += steps
            self.class_correct += correct

    def class_accuracies(self) -> np.ndarray:
        """The accuracy on the steps whose label is each class (NaN for a class never a label)."""
        if self.class_steps is None:
            raise MelodylibError("per-class accuracy needs sums made with per_class=True")
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.class_steps > 0, self.class_correct / self.class_steps, np.nan)

    def per_class_accuracy(self) -> float:
        """Magenta's `metrics/per_class_accuracy` (TF1's mean_per_class_accuracy): the mean over
        *all* classes of each class's accuracy, a class that is never a label counting as 0."""
        return float(np.nan_to_num(self.class_accuracies(), nan=0.0).mean())

    def metrics(self) -> dict[str, float]:
        """loss, perplexity, accuracy, event_accuracy, no_event_accuracy (and the padded fraction)."""
        totals = self.totals
        steps = totals["steps"]
        if steps == 0:
            raise MelodylibError("no steps were evaluated: the data set is empty")

        def fraction(part: str, whole: str) -> float:
            return totals[part] / totals[whole] if totals[whole] else float("nan")

        loss = totals["cross_entropy"] / steps
        metrics = {
            "loss": loss,
            "perplexity": math.exp(loss) if loss < 700.0 else float("inf"),
            "accuracy": totals["correct"] / steps,
            "event_accuracy": fraction("event_correct", "event_steps"),
            "no_event_accuracy": fraction("no_event_correct", "no_event_steps"),
            "padded_fraction": (totals["total_steps"] - steps) / totals["total_steps"],
        }
        if self.class_steps is not None:
            metrics["per_class_accuracy"] = self.per_class_accuracy()
        return metrics


def evaluate_dataset(
    model, dataset, no_event_label: int, max_examples: int = 0
) -> dict[str, float]:
    """Magenta's eval metrics (per_class_accuracy included) over a finite dataset of
    (inputs, labels, mask), with dropout off."""
    step = _eval_step(model, no_event_label, tuple(dataset.element_spec))
    sums = MetricSums()
    examples = 0
    for inputs, labels, mask in dataset:
        sums.add(step(inputs, labels, mask).numpy())
        examples += int(inputs.shape[0])
        if max_examples and examples >= max_examples:
            break
    return sums.metrics()


_EVAL_STEPS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _eval_step(model, no_event_label: int, element_spec: tuple):
    """The compiled eval step of a model, traced once per model and batch signature.

    A run evaluates every few hundred steps; a new tf.function each time would trace again
    and again (and TensorFlow warns about that).
    """
    import tensorflow as tf

    steps = _EVAL_STEPS.setdefault(model, {})
    key = (no_event_label, element_spec)
    if key not in steps:
        model_reference = weakref.ref(model)  # the cache must not keep the model alive

        def step(inputs, labels, mask):
            logits = model_reference()(inputs, training=False)
            return batch_metric_sums(labels, logits, mask, no_event_label, per_class=True)

        steps[key] = tf.function(step, input_signature=list(element_spec))
    return steps[key]


def is_finite_loss(sums: np.ndarray) -> bool:
    """False when a batch's summed cross-entropy is NaN or infinite (the run has diverged)."""
    return bool(np.isfinite(sums[SUM_NAMES.index("cross_entropy")]))
