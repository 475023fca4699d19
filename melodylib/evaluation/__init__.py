"""Evaluation: model metrics on eval sets, n-gram baselines and music statistics."""
