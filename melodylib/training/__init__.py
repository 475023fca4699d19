"""Training: the loop (`loop.train`) and its pieces: the step, metrics, batches, checkpoints,
run config, summaries, stop signals and distribution strategies, one module each."""
