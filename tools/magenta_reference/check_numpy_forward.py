"""Cross-check the bundle fixtures: a plain-numpy forward pass written from the spec (magenta-behaviour.md: "Network").

Run inside the magenta venv after loglik_reference.py:

    /tmp/magenta-venv/bin/python check_numpy_forward.py BUNDLE_DIR LOGLIK_JSON SOFTMAX_NPZ

For every bundle it reads the checkpoint variables by name, runs the network described in
shared/reference/magenta-melody-rnn.md magenta-behaviour.md: "Network" (BasicLSTMCell gates i, j, f, o with forget bias 1.0;
attention wrapper on layer 1 only) with numpy in float64, and compares its softmax and
log-likelihoods with the values Magenta's own graph produced. It is a check of the fixtures and of
the weight mapping the project needs, not project code.
"""

import json
import os
import sys
import tempfile

import numpy as np
import tensorflow.compat.v1 as tf
from magenta.models.shared import sequence_generator_bundle


def sigmoid(values):
    """Logistic function."""
    return 1.0 / (1.0 + np.exp(-values))


def lstm_step(kernel, bias, inputs, state):
    """One BasicLSTMCell step: kernel applies to [inputs; h], gates split i, j, f, o."""
    cell, hidden = state
    gates = np.concatenate([inputs, hidden]) @ kernel + bias
    i, j, f, o = np.split(gates, 4)
    cell = cell * sigmoid(f + 1.0) + sigmoid(i) * np.tanh(j)
    hidden = np.tanh(cell) * sigmoid(o)
    return hidden, (cell, hidden)


def read_weights(bundle_path):
    """All checkpoint variables of a bundle as {name: float64 array}."""
    bundle = sequence_generator_bundle.read_bundle_file(bundle_path)
    with tempfile.TemporaryDirectory() as scratch:
        path = os.path.join(scratch, "model.ckpt")
        with open(path, "wb") as handle:
            handle.write(bundle.checkpoint_file[0])
        reader = tf.train.load_checkpoint(path)
        return {
            name: reader.get_tensor(name).astype(np.float64)
            for name in reader.get_variable_to_shape_map()
        }


def forward(weights, inputs, attn_length):
    """Softmax of every position for one melody's input rows, from a zero state."""
    prefix = "rnn/multi_rnn_cell/"
    layer_indices = sorted(
        {int(name[len(prefix) + 5 :].split("/")[0]) for name in weights if name.startswith(prefix)}
    )
    attention = prefix + "cell_0/attention_cell_wrapper/"
    has_attention = any(name.startswith(attention) for name in weights)
    states = []
    for index in layer_indices:
        scope = attention if (index == 0 and has_attention) else f"{prefix}cell_{index}/"
        units = weights[scope + "basic_lstm_cell/bias"].shape[0] // 4
        states.append((np.zeros(units), np.zeros(units)))
    if has_attention:
        attn_size = weights[attention + "attention/attn_v"].shape[0]
        attns = np.zeros(attn_size)
        memory = np.zeros((attn_length, attn_size))
    rows = []
    for x in inputs:
        layer_input = x
        for index in layer_indices:
            if index == 0 and has_attention:
                projected = (
                    np.concatenate([layer_input, attns]) @ weights[attention + "kernel"]
                    + weights[attention + "bias"]
                )
                hidden, states[0] = lstm_step(
                    weights[attention + "basic_lstm_cell/kernel"],
                    weights[attention + "basic_lstm_cell/bias"],
                    projected,
                    states[0],
                )
                query = np.concatenate(states[0])  # [c; h]
                keys = memory @ weights[attention + "attention/attn_w"][0, 0]
                y = (
                    query @ weights[attention + "attention/kernel"]
                    + weights[attention + "attention/bias"]
                )
                scores = np.tanh(keys + y) @ weights[attention + "attention/attn_v"]
                alpha = np.exp(scores - scores.max())
                alpha /= alpha.sum()
                attns = alpha @ memory
                output = (
                    np.concatenate([hidden, attns])
                    @ weights[attention + "attn_output_projection/kernel"]
                    + weights[attention + "attn_output_projection/bias"]
                )
                memory = np.concatenate([memory[1:], output[None, :]])
                layer_input = output
            else:
                scope = f"{prefix}cell_{index}/basic_lstm_cell/"
                layer_input, states[index] = lstm_step(
                    weights[scope + "kernel"], weights[scope + "bias"], layer_input, states[index]
                )
        logits = (
            layer_input @ weights["fully_connected/weights"] + weights["fully_connected/biases"]
        )
        probabilities = np.exp(logits - logits.max())
        rows.append(probabilities / probabilities.sum())
    return np.array(rows)


def main():
    """Compare the numpy forward pass with every stored expectation; print the worst errors."""
    bundle_dir, loglik_path, softmax_path = sys.argv[1:4]
    import note_seq
    from magenta.models.melody_rnn import melody_rnn_model

    with open(loglik_path) as file:
        expected = json.load(file)
    softmax_arrays = np.load(softmax_path)
    worst = 0.0
    for name, record in expected["bundles"].items():
        weights = read_weights(os.path.join(bundle_dir, record["bundle_file"]))
        encoder = melody_rnn_model.default_configs[record["config"]].encoder_decoder
        attn_length = record.get("attn_length") or 0
        for index, melody in enumerate(record["melodies"]):
            squashed = note_seq.Melody(melody["squashed_events"])
            inputs, labels = encoder.encode(squashed)
            softmax = forward(weights, np.asarray(inputs, np.float64), attn_length)
            loglik = float(np.log(softmax[np.arange(len(labels)), labels]).sum())
            relative = abs(loglik - melody["log_likelihood"]) / abs(melody["log_likelihood"])
            worst = max(worst, relative)
            if index == record["softmax_melody_index"]:
                difference = np.abs(softmax - softmax_arrays[f"{name}__softmax"]).max()
                print(f"{name}: max |softmax difference| on melody {index}: {difference:.2e}")
            print(
                f"{name} melody {index}: numpy {loglik:.5f} magenta {melody['log_likelihood']:.5f} "
                f"relative {relative:.1e}"
            )
    print(f"worst relative log-likelihood difference: {worst:.2e}")
    if worst > 1e-4:
        sys.exit("numpy forward pass disagrees with Magenta")


if __name__ == "__main__":
    main()
