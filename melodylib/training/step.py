"""One training step: the optimizer (with its learning rate) and the compiled step function.

The loss is softmax cross-entropy averaged over the real (unmasked) steps of the batch (magenta-behaviour.md: "Loss and metrics");
Adam (epsilon 1e-8) clips each gradient by its own norm at `clip_norm`, as tf_slim did.
"""

from __future__ import annotations

from melodylib.encoding.configs import MelodyRnnConfig
from melodylib.training.metrics import batch_metric_sums


def learning_rate(config: MelodyRnnConfig):
    """The learning rate Adam uses: a float, or a keras.optimizers.schedules schedule.

    Magenta trains at a constant rate; a schedule (decay, warm-up) is added here and nowhere else.
    """
    return config.hparams.learning_rate


def make_optimizer(config: MelodyRnnConfig):
    """Adam with TF1's epsilon (1e-8) and per-variable gradient clipping at clip_norm."""
    import keras

    return keras.optimizers.Adam(
        learning_rate=learning_rate(config), epsilon=1e-8, clipnorm=config.hparams.clip_norm
    )


def make_train_step(model, optimizer, distribution, global_step, no_event_label: int, element_spec):
    """The compiled training step: one batch in, the summed metric terms of the batch out.

    The loss is the mean cross-entropy over the valid steps of the *whole* batch (magenta-behaviour.md: "Loss and metrics"), so
    with several replicas each divides its sum by the global count. Batch and time dimensions are
    left open in the signature, so one trace serves every batch shape.
    """
    import tensorflow as tf

    def replica_step(inputs, labels, mask):
        context = tf.distribute.get_replica_context()
        global_valid = context.all_reduce(tf.distribute.ReduceOp.SUM, tf.reduce_sum(mask))
        with tf.GradientTape() as tape:
            logits = model(inputs, training=True)
            sums = batch_metric_sums(labels, logits, mask, no_event_label)
            loss = sums[0] / tf.maximum(global_valid, 1.0)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
        return sums

    def train_step(batch):
        per_replica = distribution.run(replica_step, args=batch)
        global_step.assign_add(1)
        return distribution.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    return tf.function(train_step, input_signature=[element_spec])
