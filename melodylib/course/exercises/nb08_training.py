"""Exercises of notebook 08_training: one training step, written by the learner (a build
exercise), and perplexity and event accuracy from the sums of an evaluation.

The build checker runs the learner's `train_step` and the library's own compiled step
(`melodylib.training.step.make_train_step`) side by side, from the same weights, over the same
batches of real melodies (Aird's Airs, encoded for basic_rnn), and compares the loss of each
step and every weight after it, naming the step and the variable that differ and by how much.

The evaluation is given as the sums a training loop adds up (EVAL_EXERCISE_SUMS); the checkers
work the metrics out from them and name the usual slips (the loss itself, the wrong base, the
wrong denominator).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from melodylib.course.exercises.common import as_number, verdict
from melodylib.course.exercises.real_melodies import corpus_melodies
from melodylib.course.exercises.registry import Exercise

__all__ = [
    "TRAIN_STEP_HPARAMS",
    "check_train_step",
    "solution_train_step",
    "train_step_yours_or_reference",
    "EVAL_EXERCISE_SUMS",
    "check_eval_perplexity",
    "solution_eval_perplexity",
    "check_eval_event_accuracy",
    "solution_eval_event_accuracy",
]

NOTEBOOK = "08_training"

# One evaluation, as sums over its labels (what melodylib.training.loop.MetricSums adds up).
EVAL_EXERCISE_SUMS = {
    "labels": 2000,  # real (unpadded) steps
    "no_event_labels": 1500,  # of them, labels that are the no-event class
    "no_event_correct": 1410,  # no-event labels the network predicted right
    "event_correct": 210,  # the other 500 labels (note-ons, note-offs) predicted right
    "cross_entropy_sum": 1650.0,  # sum of -ln p(label) over the 2000 labels, in nats
}


# --- build: one training step --------------------------------------------------------------------

# The network the step checker trains: basic_rnn, small, with dropout off (dropout is random, so
# two steps with it on would differ even when both are right) and a clip norm low enough that
# clipping changes the gradients of this batch.
TRAIN_STEP_HPARAMS = "rnn_layer_sizes=[32,32],dropout_keep_prob=1.0,clip_norm=0.25"
_STEP_BATCHES = 3  # steps the checker compares (one batch each); from step 2 on Adam sees clipping
_STEP_BATCH_SIZE = 4
_STEP_LENGTHS = (96, 80, 64, 41)  # melodies are cut to these lengths, so the batch has padding
_LOSS_TOLERANCE = 1e-5  # relative
_WEIGHT_TOLERANCE = 2e-6  # absolute; an Adam step moves a weight by about the learning rate, 1e-3

_STEP_HINT = (
    "follow melodylib/training/step.py: under a tf.GradientTape, the logits of "
    "model(inputs, training=True) and the masked mean of "
    "tf.nn.sparse_softmax_cross_entropy_with_logits (real steps only); tape.gradient for every "
    "trainable variable; each gradient clipped by its own norm (tf.clip_by_norm); "
    "optimizer.apply_gradients; return the loss."
)


def _step_batches(config: Any) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """_STEP_BATCHES padded batches (inputs, labels, mask) of real melodies for `config`."""
    melodies = corpus_melodies(config.name, _STEP_BATCHES * _STEP_BATCH_SIZE)
    batches = []
    for first in range(0, len(melodies) - _STEP_BATCH_SIZE + 1, _STEP_BATCH_SIZE):
        encoded = [
            config.encoder.encode(events[:length])
            for (_, events), length in zip(
                melodies[first : first + _STEP_BATCH_SIZE], _STEP_LENGTHS, strict=True
            )
        ]
        longest = max(len(labels) for _, labels in encoded)
        inputs = np.zeros((len(encoded), longest, config.encoder.input_size), dtype="float32")
        labels = np.zeros((len(encoded), longest), dtype="int32")
        mask = np.zeros((len(encoded), longest), dtype="float32")
        for row, (melody_inputs, melody_labels) in enumerate(encoded):
            inputs[row, : len(melody_labels)] = melody_inputs
            labels[row, : len(melody_labels)] = melody_labels
            mask[row, : len(melody_labels)] = 1.0
        batches.append((inputs, labels, mask))
    return batches


def _library_run(config: Any, weights: list[np.ndarray], batches: list) -> list[tuple]:
    """The library's compiled step over `batches` from `weights`: [(loss, weights after)]."""
    import tensorflow as tf

    from melodylib.models.melody_rnn import build_model
    from melodylib.training.step import make_optimizer, make_train_step

    model = build_model(config)
    model.set_weights(weights)
    optimizer = make_optimizer(config)
    optimizer.build(model.trainable_variables)
    global_step = tf.Variable(0, dtype=tf.int64, trainable=False)
    spec = (
        tf.TensorSpec([None, None, config.encoder.input_size], tf.float32),
        tf.TensorSpec([None, None], tf.int32),
        tf.TensorSpec([None, None], tf.float32),
    )
    step = make_train_step(
        model, optimizer, tf.distribute.get_strategy(), global_step, config.no_event_label, spec
    )
    results = []
    for batch in batches:
        sums = step(tuple(tf.constant(part) for part in batch)).numpy()
        results.append((float(sums[0] / sums[1]), [np.array(w) for w in model.get_weights()]))
    return results


def _learner_run(train_step: Any, config: Any, weights: list[np.ndarray], batches: list) -> Any:
    """The learner's step over `batches` from `weights`: [(loss, weights after)], or a message."""
    import keras
    import tensorflow as tf

    from melodylib.models.melody_rnn import build_model

    model = build_model(config)
    model.set_weights(weights)
    optimizer = keras.optimizers.Adam(learning_rate=config.hparams.learning_rate, epsilon=1e-8)
    results = []
    for number, batch in enumerate(batches, start=1):
        inputs, labels, mask = (tf.constant(part) for part in batch)
        try:
            loss = train_step(model, optimizer, inputs, labels, mask, config.hparams.clip_norm)
        except NotImplementedError:
            return "train_step is not written yet (it still raises NotImplementedError)."
        except Exception as error:  # the learner's code: any error becomes a verdict
            return f"step {number}: train_step raised {type(error).__name__}: {error}"
        try:
            value = float(np.asarray(keras.ops.convert_to_numpy(loss)).reshape(()))
        except Exception:
            return (
                f"step {number}: train_step returned {type(loss).__name__} {loss!r:.60}, "
                "not the loss (one number)."
            )
        results.append((value, [np.array(w) for w in model.get_weights()]))
    return results


def _loss_slip(config: Any, weights: list[np.ndarray], batch: tuple, given: float) -> str:
    """What a wrong first loss most likely is."""
    from melodylib.models.melody_rnn import build_model

    model = build_model(config)
    model.set_weights(weights)
    inputs, labels, mask = batch
    logits = np.asarray(model(inputs, training=False), dtype="float64")
    logits -= logits.max(axis=-1, keepdims=True)
    log_p = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
    cross_entropy = -np.take_along_axis(log_p, labels[..., None], axis=-1)[..., 0]
    slips = [
        (cross_entropy.mean(), "That is the mean over EVERY step, padding too; mask it out."),
        ((cross_entropy * mask).sum(), "That is the sum; divide it by the number of real steps."),
        (
            ((cross_entropy * mask).sum(axis=1) / mask.sum(axis=1)).mean(),
            "That is the mean of each melody's mean; divide the sum over the batch by the "
            "number of real steps in the batch (every step counts once).",
        ),
        (
            (cross_entropy * mask).sum() / mask.size,
            "That divides by every step, padding too; divide by the real steps, sum(mask).",
        ),
    ]
    for value, message in slips:
        if abs(given - value) <= 1e-4 * max(1.0, abs(value)):
            return message
    return ""


def _slipped_step(slip: str) -> Callable[..., Any]:
    """A train_step with one usual slip: "no clipping" or "global clipping"."""
    import tensorflow as tf

    def train_step(model, optimizer, inputs, labels, mask, clip_norm):
        with tf.GradientTape() as tape:
            logits = model(inputs, training=True)
            cross_entropy = tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels=labels, logits=logits
            )
            loss = tf.reduce_sum(cross_entropy * mask) / tf.reduce_sum(mask)
        gradients = tape.gradient(loss, model.trainable_variables)
        if slip == "global clipping":
            gradients, _ = tf.clip_by_global_norm(gradients, clip_norm)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return loss

    return train_step


_UPDATE_SLIPS = {
    "no clipping": (
        "does not clip the gradients. Clip each one by its own norm: "
        "[tf.clip_by_norm(g, clip_norm) for g in gradients]."
    ),
    "global clipping": (
        "clips all gradients together by their global norm. The library (tf_slim, Keras's "
        "clipnorm) clips each variable's gradient by its OWN norm: tf.clip_by_norm(g, clip_norm)."
    ),
}


def _update_slip(config: Any, weights: list, batches: list, given: list) -> str:
    """Which usual slip the learner's weights match (e.g. no clipping), or ""."""
    for slip, explanation in _UPDATE_SLIPS.items():
        slipped = _learner_run(_slipped_step(slip), config, weights, batches[: len(given)])
        if all(
            np.max(np.abs(a - b)) <= _WEIGHT_TOLERANCE
            for (_, after), (_, expected) in zip(given, slipped, strict=True)
            for a, b in zip(after, expected, strict=True)
        ):
            return explanation
    return ""


def check_train_step(train_step: Any) -> bool:
    """08_training (build): `train_step(model, optimizer, inputs, labels, mask, clip_norm)` does
    one step of melodylib's training loop and returns the loss.

    The checker trains two copies of the same small basic_rnn (TRAIN_STEP_HPARAMS, dropout off)
    for 3 steps on batches of real melodies: one with your function and a plain Adam
    (epsilon 1e-8, no clipping of its own), one with the library's compiled step. Each step's
    loss must agree within 1e-5 (relative) and every weight after it within 2e-6.
    """
    from melodylib.encoding.configs import get_config
    from melodylib.models.melody_rnn import build_model

    if not callable(train_step):
        return verdict(
            False,
            f"give the function itself (train_step, no brackets); got {train_step!r:.60}",
            _STEP_HINT,
        )
    import keras

    config = get_config("basic_rnn", TRAIN_STEP_HPARAMS)
    keras.utils.set_random_seed(8)
    start = build_model(config)
    names = [weight.path for weight in start.weights]
    weights = [np.array(w) for w in start.get_weights()]
    batches = _step_batches(config)
    given = _learner_run(train_step, config, weights, batches)
    if isinstance(given, str):
        return verdict(False, given, _STEP_HINT)
    truth = _library_run(config, weights, batches)
    before = weights
    for number, ((loss, after), (expected_loss, expected)) in enumerate(
        zip(given, truth, strict=True), start=1
    ):
        if abs(loss - expected_loss) > _LOSS_TOLERANCE * max(1.0, abs(expected_loss)):
            slip = _loss_slip(config, before, batches[number - 1], loss) if number == 1 else ""
            return verdict(
                False,
                f"step {number}: your loss is {loss:.6f}, the library's {expected_loss:.6f}. "
                + slip,
                _STEP_HINT,
            )
        differences = [float(np.max(np.abs(a - b))) for a, b in zip(after, expected, strict=True)]
        worst = int(np.argmax(differences))
        if differences[worst] > _WEIGHT_TOLERANCE:
            unchanged = all(np.array_equal(a, b) for a, b in zip(after, before, strict=True))
            if unchanged:
                message = f"step {number}: the loss is right, but no weight changed."
                hint = "apply the gradients: optimizer.apply_gradients(zip(gradients, variables))."
            else:
                message = (
                    f"step {number}: the loss is right, but after the update {names[worst]} "
                    f"differs from the library's by up to {differences[worst]:.2g} (tolerance "
                    f"{_WEIGHT_TOLERANCE:g})."
                )
                slip = _update_slip(config, weights, batches, given[:number])
                hint = (
                    f"your weights are those of a step that {slip}"
                    if slip
                    else "the loss is right, so look at what follows it: tape.gradient of that "
                    "loss, each gradient clipped by its own norm, optimizer.apply_gradients."
                )
            return verdict(False, message, hint)
        before = expected
    return verdict(
        True,
        f"{len(truth)} steps on batches of {_STEP_BATCH_SIZE} corpus melodies: each loss "
        f"({', '.join(f'{loss:.4f}' for loss, _ in truth)}) and all {len(names)} weight "
        f"tensors match the library's own training step (largest weight difference within "
        f"{_WEIGHT_TOLERANCE:g}).",
    )


def solution_train_step() -> Callable[..., Any]:
    """A model answer to check_train_step: the function `train_step`."""
    import tensorflow as tf

    def train_step(model, optimizer, inputs, labels, mask, clip_norm):
        """One training step: the masked mean cross-entropy, per-variable clipping, Adam."""
        with tf.GradientTape() as tape:
            logits = model(inputs, training=True)
            cross_entropy = tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels=labels, logits=logits
            )
            loss = tf.reduce_sum(cross_entropy * mask) / tf.reduce_sum(mask)
        gradients = tape.gradient(loss, model.trainable_variables)
        gradients = [tf.clip_by_norm(gradient, clip_norm) for gradient in gradients]
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return loss

    return train_step


def train_step_yours_or_reference(train_step: Any) -> Callable[..., Any]:
    """Your `train_step` if it passes check_train_step, else the model answer (said in one line)."""
    from melodylib.course.exercises.real_melodies import yours_or_reference

    return yours_or_reference(check_train_step, train_step, solution_train_step(), "train_step")


def _eval_exercise_values() -> dict[str, float]:
    """The metrics of the evaluation in EVAL_EXERCISE_SUMS, worked out from its sums."""
    sums = EVAL_EXERCISE_SUMS
    loss = sums["cross_entropy_sum"] / sums["labels"]
    event_labels = sums["labels"] - sums["no_event_labels"]
    return {
        "loss": loss,
        "perplexity": float(np.exp(loss)),
        "accuracy": (sums["no_event_correct"] + sums["event_correct"]) / sums["labels"],
        "event_accuracy": sums["event_correct"] / event_labels,
        "no_event_accuracy": sums["no_event_correct"] / sums["no_event_labels"],
    }


def _close(value: float, target: float, tolerance: float) -> bool:
    return abs(value - target) <= tolerance * max(1.0, abs(target))


def check_eval_perplexity(answer: Any) -> bool:
    """08_training (a): the perplexity of the evaluation in EVAL_EXERCISE_SUMS (e to the mean
    cross-entropy).

    Any value within 0.01 of the truth passes (two decimals are enough).
    """
    value = as_number(answer, "the perplexity")
    hint = (
        "the loss is the mean cross-entropy per label (sum / number of labels), and "
        "perplexity = e ** loss."
    )
    if isinstance(value, str):
        return verdict(False, value, hint)
    truth = _eval_exercise_values()
    sums = EVAL_EXERCISE_SUMS
    if abs(value - truth["perplexity"]) <= 0.01:
        return verdict(
            True,
            f"loss {truth['loss']:.3f} nats, perplexity "
            f"{truth['perplexity']:.3f}: the network is as unsure as a fair "
            f"choice among {truth['perplexity']:.1f} classes (a network that "
            "knows nothing, with every class equally likely, has basic_rnn's 38).",
        )
    if _close(value, truth["perplexity"], 0.05):
        return verdict(False, f"{value:g} is close; give two decimals.", hint)
    loss = truth["loss"]
    use_e = "the loss is in nats (natural logarithms), so use e: np.exp(loss)."
    mistakes = [
        (loss, "that is the loss; perplexity is e raised to it."),
        (2.0**loss, f"that is 2 ** loss; {use_e}"),
        (10.0**loss, f"that is 10 ** loss; {use_e}"),
        (
            float(np.exp(sums["cross_entropy_sum"] / sums["no_event_labels"])),
            "divide the sum by all the labels, not only the no-event ones.",
        ),
        (
            float(np.exp(sums["cross_entropy_sum"] / (sums["labels"] - sums["no_event_labels"]))),
            "divide the sum by all the labels, not only the events.",
        ),
        (
            1.0 / truth["accuracy"],
            "perplexity comes from the cross-entropy, not from the accuracy.",
        ),
    ]
    for target, message in mistakes:
        if _close(value, target, 0.01):
            return verdict(False, message, hint)
    if value > 1e6:
        return verdict(False, "that is e to the whole sum; average it over the labels first.", hint)
    return verdict(False, f"{value:g} is not it.", hint)


def solution_eval_perplexity() -> float:
    """A model answer to check_eval_perplexity: e ** (cross-entropy sum / labels)."""
    return float(np.exp(EVAL_EXERCISE_SUMS["cross_entropy_sum"] / EVAL_EXERCISE_SUMS["labels"]))


def check_eval_event_accuracy(answer: Any) -> bool:
    """08_training (b): the event accuracy of the evaluation in EVAL_EXERCISE_SUMS.

    A fraction (0.42) or a percentage (42, or the text "42%") passes, within 0.005.
    """
    value = as_number(answer, "the event accuracy")
    hint = (
        "event accuracy counts only the labels that are not the no-event class: the right ones "
        "among them divided by how many there are."
    )
    if isinstance(value, str):
        return verdict(False, value, hint)
    truth = _eval_exercise_values()
    as_percentage = 1.0 < value <= 100.0
    fraction = value / 100.0 if as_percentage else value
    if abs(fraction - truth["event_accuracy"]) <= 0.005:
        return verdict(
            True,
            f"{truth['event_accuracy']:.0%} of the events, while accuracy over "
            f"all labels is {truth['accuracy']:.0%}: holding notes is easy, the "
            "notes themselves are the hard part.",
        )
    sums = EVAL_EXERCISE_SUMS
    mistakes = [
        (
            truth["accuracy"],
            "that is the accuracy over all labels; event accuracy leaves out the no-event labels.",
        ),
        (
            sums["event_correct"] / sums["labels"],
            "divide by the number of event labels (2000 - 1500), not by all labels.",
        ),
        (
            truth["no_event_accuracy"],
            "that is the no-event accuracy; event accuracy is about the other labels.",
        ),
        (1.0 - truth["event_accuracy"], "that is the share of events the network got wrong."),
    ]
    for target, message in mistakes:
        if abs(fraction - target) <= 0.005:
            return verdict(False, message, hint)
    return verdict(False, f"{value:g} is not it.", hint)


def solution_eval_event_accuracy() -> float:
    """A model answer to check_eval_event_accuracy: right events / event labels."""
    sums = EVAL_EXERCISE_SUMS
    return sums["event_correct"] / (sums["labels"] - sums["no_event_labels"])


EXERCISES = (
    Exercise(check_train_step, solution_train_step),
    Exercise(check_eval_perplexity, solution_eval_perplexity),
    Exercise(check_eval_event_accuracy, solution_eval_event_accuracy),
)
