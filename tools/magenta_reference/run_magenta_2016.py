"""Run a Magenta 2.1.4 entry point with the 2016 attention layout: attention around the whole stack.

Usage (from the magenta venv, never the project's):
    TF_USE_LEGACY_KERAS=1 /tmp/magenta-venv/bin/python run_magenta_2016.py MODULE [FLAGS...]

Magenta before May 2017 (commit 3304b6dc, "Only add attention to the first RNN layer") built the
Melody RNN cell as

    MultiRNNCell([DropoutWrapper(BasicLSTMCell(n), output_keep_prob=p) for n in sizes])
    wrapped as a whole in AttentionCellWrapper(cell, attn_length)

(shared/reference/magenta-interop.md section 1.1). Magenta 2.1.4 wraps only the first layer. This
runner replaces only `events_rnn_graph.make_rnn_cell`, the function that assembles those cells, with
the 2016 assembly, built from Magenta's and TensorFlow's own cells
(`magenta.contrib.rnn.AttentionCellWrapper`, `tf.nn.rnn_cell.BasicLSTMCell`, `MultiRNNCell`,
`DropoutWrapper`). Training, the generation graph, the generator and the bundle writer stay
Magenta's own.

Environment variables:

- `MAGENTA_2016_STATE=concatenated`: build the cells with `state_is_tuple=False`, as the 2016
  generator's graph did (one state tensor [batch, sum(2 n_i) + A + L*A]); default: tuples.
- `MAGENTA_2016_NAMES=tf0`: when a bundle is written, its checkpoint holds the variables under the
  TensorFlow 0.x names of the 2016 bundles (`RNN/AttentionCellWrapper/Linear/Matrix`, ...). The
  Saver that Magenta's `write_checkpoint_with_metagraph` makes is given a {TF 0.x name: variable}
  list, so the metagraph's own restore ops read those names and Magenta still loads the bundle.

As in run_magenta.py, tf_slim's `IndexedSlices` shim is applied first.
"""

import importlib
import os
import re
import sys


def tf0_name(name):
    """The TensorFlow 0.x spelling (the 2016 bundles') of a variable name TF >= 1.2 writes."""
    if not name.startswith("rnn/"):
        return name  # fully_connected/{weights,biases}: the same in every version
    renamed = {
        "rnn": "RNN",
        "attention_cell_wrapper": "AttentionCellWrapper",
        "multi_rnn_cell": "MultiRNNCell",
        "basic_lstm_cell": "BasicLSTMCell",
        "attention": "Attention",
        "attn_w": "AttnW",
        "attn_v": "AttnV",
        "attn_output_projection": "AttnOutputProjection",
        "kernel": "Linear/Matrix",
        "bias": "Linear/Bias",
    }
    parts = []
    for part in name.split("/"):
        cell = re.fullmatch(r"cell_(\d+)", part)
        parts.append(f"Cell{cell.group(1)}" if cell else renamed.get(part, part))
    return "/".join(parts)


def patch_magenta():
    """Replace make_rnn_cell (and, for MAGENTA_2016_NAMES=tf0, the checkpoint's names)."""
    import tensorflow.compat.v1 as tf
    from magenta.contrib import rnn as contrib_rnn
    from magenta.models.shared import events_rnn_graph, model

    state_is_tuple = os.environ.get("MAGENTA_2016_STATE", "tuple") != "concatenated"
    rnn = tf.nn.rnn_cell

    def make_rnn_cell_2016(
        rnn_layer_sizes,
        dropout_keep_prob=1.0,
        attn_length=0,
        base_cell=rnn.BasicLSTMCell,
        residual_connections=False,
    ):
        if residual_connections:
            raise ValueError("the 2016 layout had no residual connections")
        cells = [
            rnn.DropoutWrapper(
                base_cell(size, state_is_tuple=state_is_tuple), output_keep_prob=dropout_keep_prob
            )
            for size in rnn_layer_sizes
        ]
        cell = rnn.MultiRNNCell(cells, state_is_tuple=state_is_tuple)
        if attn_length:
            cell = contrib_rnn.AttentionCellWrapper(
                cell, attn_length, state_is_tuple=state_is_tuple
            )
        return cell

    events_rnn_graph.make_rnn_cell = make_rnn_cell_2016

    if os.environ.get("MAGENTA_2016_NAMES") == "tf0":

        def write_checkpoint_with_metagraph(self, checkpoint_filename):
            with self._session.graph.as_default():
                variables = {tf0_name(var.op.name): var for var in tf.global_variables()}
                saver = tf.train.Saver(variables, sharded=False, write_version=tf.train.SaverDef.V1)
                saver.save(
                    self._session,
                    checkpoint_filename,
                    meta_graph_suffix="meta",
                    write_meta_graph=True,
                )

        model.BaseModel.write_checkpoint_with_metagraph = write_checkpoint_with_metagraph


def main():
    """Shim tf_slim, patch the cell assembly, and hand control to the named Magenta entry point."""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    if len(sys.argv) < 2:
        sys.exit("usage: run_magenta_2016.py MODULE [FLAGS...]")
    module_name = sys.argv[1]
    from tensorflow.python.framework import indexed_slices, ops

    if not hasattr(ops, "IndexedSlices"):
        ops.IndexedSlices = indexed_slices.IndexedSlices
    patch_magenta()
    module = importlib.import_module(module_name)
    sys.argv = [module_name.rsplit(".", 1)[-1]] + sys.argv[2:]
    module.console_entry_point()


if __name__ == "__main__":
    main()
