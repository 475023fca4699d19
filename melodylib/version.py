"""The version of melodylib, in a module of its own so any part of the package can read it
(bundles record it) without importing the package's `__init__`."""

__version__ = "0.1.0"
