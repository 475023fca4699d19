"""The data of a training run: the endless, shuffled training batches (split between replicas
by the strategy) and the eval set, scored with dropout off.

With several workers (`multi_worker`), every worker builds the same global batches (the same
files, the same seed) and keeps its replicas' rows of each: replica r of R gets rows
r * B/R .. (r + 1) * B/R - 1 of the global batch of B. The global batches are thus exactly those
of a run in one process with the same seed, padded to the same length, at the cost of each worker
reading the whole data set.
"""

from __future__ import annotations

from melodylib.encoding.configs import MelodyRnnConfig
from melodylib.errors import MelodylibError
from melodylib.training.metrics import evaluate_dataset


class TrainingBatches:
    """Batches of (inputs, labels, mask) from the training file, repeated and shuffled forever."""

    def __init__(
        self,
        sequence_example_file: str,
        config: MelodyRnnConfig,
        distribution,
        seed: int | None,
        rows_per_worker: bool = False,
    ) -> None:
        """`rows_per_worker` (multi_worker): each worker keeps its replicas' rows of the global
        batches; otherwise the strategy splits each batch between the local replicas."""
        from melodylib.data.datasets import make_dataset

        self.sequence_example_file = sequence_example_file

        def global_batches():
            return make_dataset(
                sequence_example_file,
                config.encoder.input_size,
                config.hparams.batch_size,
                shuffle=True,
                repeat=True,
                seed=seed,
            )

        if rows_per_worker:
            batch_size = config.hparams.batch_size
            self.distributed = distribution.distribute_datasets_from_function(
                lambda context: global_batches().flat_map(replica_rows(context, batch_size))
            )
        else:
            self.distributed = distribution.experimental_distribute_dataset(global_batches())
        self.element_spec = self.distributed.element_spec
        self._iterator = iter(self.distributed)

    def next(self):
        """The next batch, with a clear error for a record that cannot be read."""
        import tensorflow as tf

        try:
            return next(self._iterator)
        except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as error:
            raise MelodylibError(
                f"--sequence_example_file {self.sequence_example_file}: a record cannot be read "
                f"({str(error).strip().splitlines()[0]}); is the file complete and written by create_dataset?"
            ) from None


def replica_rows(input_context, batch_size: int):
    """The flat_map function of one worker's input pipeline: a global batch in, one element per
    local replica out, each that replica's consecutive rows of the batch.

    tf.distribute hands the elements of a worker's pipeline to its replicas in turn, so the k-th
    local replica of worker w (global replica w * L + k, for L replicas per worker) gets its
    own rows of every global batch.
    """
    import tensorflow as tf

    replicas = input_context.num_replicas_in_sync
    local = replicas // input_context.num_input_pipelines
    first = input_context.input_pipeline_id * local
    rows = batch_size // replicas

    def split(*batch):
        parts = [
            tf.stack(
                [
                    tensor[replica * rows : (replica + 1) * rows]
                    for replica in range(first, first + local)
                ]
            )
            for tensor in batch
        ]
        return tf.data.Dataset.from_tensor_slices(tuple(parts))

    return split


class EvalSet:
    """The first `num_eval_examples` melodies of the eval file (all for 0), in file order."""

    def __init__(
        self, sequence_example_file: str, config: MelodyRnnConfig, num_eval_examples: int
    ) -> None:
        self.sequence_example_file = sequence_example_file
        self.config = config
        self.num_eval_examples = num_eval_examples

    @classmethod
    def optional(
        cls, sequence_example_file: str | None, config: MelodyRnnConfig, num_eval_examples: int
    ) -> EvalSet | None:
        """The eval set of `sequence_example_file`, or None when no eval file is given."""
        return (
            cls(sequence_example_file, config, num_eval_examples) if sequence_example_file else None
        )

    def evaluate(self, model) -> dict[str, float]:
        """Magenta's metrics of `model` on the eval set, with dropout off."""
        from melodylib.data.datasets import make_dataset

        dataset = make_dataset(
            self.sequence_example_file,
            self.config.encoder.input_size,
            self.config.hparams.batch_size,
            shuffle=False,
            repeat=False,
            drop_remainder=False,
            max_examples=self.num_eval_examples,
        )
        return evaluate_dataset(model, dataset, int(self.config.encoder.default_event_label))
