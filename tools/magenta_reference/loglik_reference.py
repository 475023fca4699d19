"""Expected log-likelihoods of real melodies under Magenta 2.1.4 generator bundles.

Run inside the magenta venv (see README.md):

    TF_USE_LEGACY_KERAS=1 /tmp/magenta-venv/bin/python loglik_reference.py \
        BUNDLE_DIR PIPELINE_REFERENCE.json.gz OUTPUT.json OUTPUT_SOFTMAX.npz

For each bundle it loads the bundle's own metagraph and checkpoint (MelodyRnnModel's
melody_log_likelihood fails under numpy 2, see shared/reference/running-magenta.md step 5), feeds
the `inputs` collection with the full-length inputs of the squashed melody without its last event,
every `initial_state` tensor with zeros and `temperature` with 1.0, and scores the softmax with the
config encoder's own evaluate_log_likelihood (note_seq). It also records the checkpoint's variable
names and shapes and the generation graph's collections.
"""

import copy
import gzip
import json
import os
import re
import sys
import tempfile

import note_seq
import numpy as np
import tensorflow.compat.v1 as tf
from magenta.models.melody_rnn import melody_rnn_model
from magenta.models.shared import sequence_generator_bundle

# (filename, instrument, number of leading events to keep or None for all): melodies taken from
# pipeline_reference.json.gz, short and long, 4/4, 3/4 and 6/8.
MELODY_CHOICES = [
    ("chorale_bwv253.mid", 0, None),  # 160 events, 4/4 (its softmax is saved)
    ("haydn_op1no1_mvt1_6-8.mid", 2, None),  # the 88-event melody, 6/8
    ("variant_reel_tempo_change_bar9.mid", 0, None),  # 128 events, 2/2, after a tempo split
    ("oneill_1001_jig_6-8.mid", 0, None),  # 192 events, 6/8
    ("schubert_lindenbaum_3-4.mid", 0, None),  # 200 events, 3/4
    ("chorale_bwv1.6.mid", 4, 32),  # first 32 events of a bass line (short)
]
SOFTMAX_MELODY_INDEX = 0


def pick_melodies(pipeline_reference):
    """Return the chosen melodies as dicts with source filename, instrument and events."""
    chosen = []
    for filename, instrument, keep in MELODY_CHOICES:
        record = next(item for item in pipeline_reference["files"] if item["filename"] == filename)
        candidates = [melody for melody in record["melodies"] if melody["instrument"] == instrument]
        if filename.startswith("haydn"):
            candidates = [melody for melody in candidates if melody["num_events"] == 88]
        melody = candidates[0]
        events = melody["events"] if keep is None else melody["events"][:keep]
        chosen.append(
            {
                "source_filename": filename,
                "instrument": instrument,
                "record_index": melody["record_index"],
                "num_leading_events_kept": keep,
                "steps_per_bar": melody["steps_per_bar"],
                "events": events,
            }
        )
    return chosen


def load_bundle_graph(bundle_path, scratch_dir):
    """Import a bundle's metagraph and restore its checkpoint; return (bundle, graph, session, ckpt)."""
    bundle = sequence_generator_bundle.read_bundle_file(bundle_path)
    checkpoint_path = os.path.join(scratch_dir, "model.ckpt")
    with open(checkpoint_path, "wb") as handle:
        handle.write(bundle.checkpoint_file[0])
    with open(checkpoint_path + ".meta", "wb") as handle:
        handle.write(bundle.metagraph_file)
    graph = tf.Graph()
    with graph.as_default():
        saver = tf.train.import_meta_graph(checkpoint_path + ".meta")
        session = tf.Session(graph=graph)
        saver.restore(session, checkpoint_path)
    return bundle, graph, session, checkpoint_path


def tensor_facts(tensor):
    """Name, dtype and static shape of a graph tensor."""
    return {
        "name": tensor.name,
        "dtype": tensor.dtype.name,
        "shape": [None if dim is None else int(dim) for dim in tensor.shape.as_list()],
    }


def melody_softmax(graph, session, inputs_batch):
    """Run the bundle graph on one melody's inputs from a zero state; return softmax [T, classes]."""
    inputs = graph.get_collection("inputs")[0]
    temperature = graph.get_collection("temperature")[0]
    softmax = graph.get_collection("softmax")[0]
    batch_size = int(inputs.shape[0])
    batch = np.repeat(np.asarray(inputs_batch, dtype=np.float32), batch_size, axis=0)
    feed = {inputs: batch, temperature: 1.0}
    for state_tensor in graph.get_collection("initial_state"):
        feed[state_tensor] = np.zeros(state_tensor.shape.as_list(), dtype=np.float32)
    return session.run(softmax, feed)[0]


def layer_facts(shapes, initial_state):
    """(rnn_layer_sizes, attn_length, attention layout) from checkpoint shapes and state tensors.

    Three spellings of the checkpoint occur: Magenta 2.1.4's first-layer attention
    (rnn/multi_rnn_cell/cell_0/attention_cell_wrapper/...), the 2016 whole-stack layout
    (rnn/attention_cell_wrapper/multi_rnn_cell/cell_k/...) and the latter under TF 0.x names
    (RNN/AttentionCellWrapper/MultiRNNCell/Cellk/BasicLSTMCell/Linear/Bias), see
    run_magenta_2016.py.
    """
    layer_sizes = []
    for layer in range(len(shapes)):
        bias = [
            shape
            for name, shape in shapes.items()
            if re.search(f"(^|/)(multi_rnn_cell/cell_|MultiRNNCell/Cell){layer}/", name)
            and re.search(r"(basic_lstm_cell/bias|BasicLSTMCell/Linear/Bias)$", name)
        ]
        if not bias:
            break
        layer_sizes.append(bias[0][0] // 4)
    whole_stack = any(
        name.lower().startswith("rnn/attentioncellwrapper")
        or name.startswith("rnn/attention_cell_wrapper/")
        for name in shapes
    )
    first_layer = "rnn/multi_rnn_cell/cell_0/attention_cell_wrapper/attention/attn_v" in shapes
    if first_layer:
        # The 4th state tensor of layer 1 is the flattened memory [batch, attn_length * attn_size].
        attn_size = shapes["rnn/multi_rnn_cell/cell_0/attention_cell_wrapper/attention/attn_v"][0]
        return layer_sizes, int(initial_state[3].shape[1]) // attn_size, "first_layer"
    if whole_stack:
        # Tuple or concatenated, the state is sum(2 n_k) + A + attn_length * A wide, A = n_top.
        width = sum(int(tensor.shape[1]) for tensor in initial_state)
        attn_size = layer_sizes[-1]
        return layer_sizes, (width - 2 * sum(layer_sizes) - attn_size) // attn_size, "whole_stack"
    return layer_sizes, 0, "none"


def evaluate_bundle(bundle_path, melodies):
    """All expected values for one bundle; returns (json record, softmax array, labels)."""
    with tempfile.TemporaryDirectory() as scratch_dir:
        bundle, graph, session, checkpoint_path = load_bundle_graph(bundle_path, scratch_dir)
        config_id = bundle.generator_details.id
        config = melody_rnn_model.default_configs[config_id]
        encoder = config.encoder_decoder
        variables = [
            {"name": name, "shape": shape}
            for name, shape in tf.train.list_variables(checkpoint_path)
        ]
        shapes = dict(tf.train.list_variables(checkpoint_path))
        layer_sizes, attn_length, attention_layout = layer_facts(
            shapes, graph.get_collection("initial_state")
        )
        record = {
            "bundle_file": os.path.basename(bundle_path),
            "rnn_layer_sizes": layer_sizes,
            "attn_length": attn_length,
            "attention_layout": attention_layout,
            "batch_size_in_graph": int(graph.get_collection("inputs")[0].shape[0]),
            "bundle_size_bytes": os.path.getsize(bundle_path),
            "generator_id": config_id,
            "generator_description": bundle.generator_details.description,
            "bundle_description": bundle.bundle_details.description,
            "config": config_id,
            "input_size": encoder.input_size,
            "num_classes": encoder.num_classes,
            "checkpoint_variables": variables,
            "collections": {
                name: [tensor_facts(tensor) for tensor in graph.get_collection(name)]
                for name in ["inputs", "temperature", "softmax", "initial_state", "final_state"]
            },
            "melodies": [],
        }
        saved_softmax = saved_labels = None
        for index, chosen in enumerate(melodies):
            melody = note_seq.Melody(
                chosen["events"], steps_per_bar=chosen["steps_per_bar"], steps_per_quarter=4
            )
            squashed = copy.deepcopy(melody)
            amount = squashed.squash(config.min_note, config.max_note, config.transpose_to_key)
            without_last = copy.deepcopy(squashed)
            without_last.set_length(len(squashed) - 1)
            inputs_batch = encoder.get_inputs_batch([without_last], full_length=True)
            encoded_inputs, labels = encoder.encode(squashed)
            if not np.array_equal(np.asarray(inputs_batch[0]), np.asarray(encoded_inputs)):
                raise RuntimeError("get_inputs_batch and encode disagree")
            softmax = melody_softmax(graph, session, inputs_batch)
            magenta_loglik = encoder.evaluate_log_likelihood([squashed], [softmax])[0]
            per_step = np.log(softmax[np.arange(len(labels)), labels].astype(np.float64))
            record["melodies"].append(
                {
                    **{
                        key: chosen[key]
                        for key in (
                            "source_filename",
                            "instrument",
                            "record_index",
                            "num_leading_events_kept",
                            "steps_per_bar",
                        )
                    },
                    "num_events": len(melody),
                    "events": chosen["events"],
                    "transpose_amount": int(amount),
                    "squashed_events": [int(event) for event in squashed],
                    "labels": [int(label) for label in labels],
                    "log_likelihood": float(magenta_loglik),
                    "log_likelihood_float64_check": float(per_step.sum()),
                    "mean_log_likelihood_per_step": float(magenta_loglik) / len(labels),
                }
            )
            if index == SOFTMAX_MELODY_INDEX:
                saved_softmax, saved_labels = (
                    softmax.astype(np.float32),
                    np.asarray(labels, np.int64),
                )
        session.close()
    return record, saved_softmax, saved_labels


def main():
    """Evaluate every bundle in the directory and write the JSON and the softmax npz."""
    bundle_dir, pipeline_path, output_json, output_npz = sys.argv[1:5]
    with gzip.open(pipeline_path, "rt") as handle:
        melodies = pick_melodies(json.load(handle))
    records, arrays = {}, {}
    for name in sorted(os.listdir(bundle_dir)):
        if not name.endswith(".mag"):
            continue
        bundle_name = name[: -len(".mag")]
        record, softmax, labels = evaluate_bundle(os.path.join(bundle_dir, name), melodies)
        record["softmax_melody_index"] = SOFTMAX_MELODY_INDEX
        records[bundle_name] = record
        arrays[f"{bundle_name}__softmax"] = softmax
        arrays[f"{bundle_name}__labels"] = labels
        print(bundle_name, [round(m["log_likelihood"], 4) for m in record["melodies"]])
    result = {
        "format_version": 1,
        "produced_by": {"magenta": "2.1.4", "note_seq": "0.0.5", "tensorflow": tf.__version__},
        "method": "bundle metagraph + checkpoint; inputs = full-length inputs of the squashed "
        "melody without its last event; zero initial_state; temperature 1.0; "
        "log_likelihood = note_seq encoder.evaluate_log_likelihood (sum of log softmax "
        "at positions 1..N-1)",
        "bundles": records,
    }
    with open(output_json, "w") as handle:
        json.dump(result, handle, indent=1)
    np.savez_compressed(output_npz, **arrays)


if __name__ == "__main__":
    main()
