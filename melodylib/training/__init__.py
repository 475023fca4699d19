"""Training: the loop, its metrics, checkpoints and stop requests."""
