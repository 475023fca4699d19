"""Melodies to numbers: the encoders (one-hot, lookback, key) and the four configs."""
