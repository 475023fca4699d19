"""Trained models in one file: our bundle format (`bundle`), Magenta's bundles and checkpoints
(`magenta`, `magenta_files`, `magenta_variables`), and `sources.load_model`, the one place that
loads a model from whatever a user hands over (a bundle, a run_dir or a checkpoint)."""
