"""Training data: SequenceExample records and the tf.data pipeline that batches them."""
