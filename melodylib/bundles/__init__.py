"""Trained models in one file: our bundle format and the import of Magenta bundles and checkpoints."""
