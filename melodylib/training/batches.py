"""The data of a training run: the endless, shuffled training batches (split between replicas
by the strategy) and the eval set, scored with dropout off."""

from __future__ import annotations

from melodylib.encoding.configs import MelodyRnnConfig
from melodylib.errors import MelodylibError
from melodylib.training.metrics import evaluate_dataset


class TrainingBatches:
    """Batches of (inputs, labels, mask) from the training file, repeated and shuffled forever."""

    def __init__(
        self, sequence_example_file: str, config: MelodyRnnConfig, distribution, seed: int | None
    ) -> None:
        from melodylib.data.datasets import make_dataset

        self.sequence_example_file = sequence_example_file
        dataset = make_dataset(
            sequence_example_file,
            config.encoder.input_size,
            config.hparams.batch_size,
            shuffle=True,
            repeat=True,
            seed=seed,
        )
        self.distributed = distribution.experimental_distribute_dataset(dataset)
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
