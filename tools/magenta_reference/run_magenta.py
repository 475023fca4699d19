"""Run one of Magenta 2.1.4's own command-line entry points inside the magenta venv.

Usage (from the magenta venv, never the project's):
    TF_USE_LEGACY_KERAS=1 /tmp/magenta-venv/bin/python run_magenta.py MODULE [FLAGS...]
where MODULE is e.g. magenta.models.melody_rnn.melody_rnn_create_dataset.

It only applies the compatibility shim described in shared/reference/running-magenta.md
(tf_slim 1.1.0 looks for IndexedSlices where TF 2.21 no longer has it) and then calls the
module's own console_entry_point(); no Magenta code is reproduced here.
"""

import importlib
import os
import sys


def main() -> None:
    """Patch IndexedSlices for tf_slim and hand control to the named Magenta entry point."""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    if len(sys.argv) < 2:
        sys.exit("usage: run_magenta.py MODULE [FLAGS...]")
    module_name = sys.argv[1]
    from tensorflow.python.framework import indexed_slices, ops

    if not hasattr(ops, "IndexedSlices"):
        ops.IndexedSlices = indexed_slices.IndexedSlices
    module = importlib.import_module(module_name)
    sys.argv = [module_name.rsplit(".", 1)[-1]] + sys.argv[2:]
    module.console_entry_point()


if __name__ == "__main__":
    main()
