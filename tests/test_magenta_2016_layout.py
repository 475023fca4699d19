"""Importing Magenta bundles in the 2016 attention layout (attention around the whole stack).

The two bundles in tests/data/magenta/bundles/whole_stack were written by Magenta 2.1.4 itself
around Magenta's own AttentionCellWrapper wrapped round the whole MultiRNNCell
(tools/magenta_reference/make_whole_stack_bundles.sh): one with today's variable names and tuple
state, one from the same checkpoint with the TF 0.x names of the 2016 bundles and the 2016
generator's single concatenated state tensor. loglik_expected.json / loglik_softmax.npz beside
them hold the log-likelihoods and softmax Magenta's graph computed for real melodies.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from melodylib.bundles.magenta import load_magenta_bundle, read_generator_bundle  # noqa: E402
from melodylib.bundles.reading import load_bundle  # noqa: E402
from melodylib.bundles.sources import load_model  # noqa: E402
from melodylib.cli import main as cli  # noqa: E402
from melodylib.errors import MelodylibError  # noqa: E402
from melodylib.evaluation.metrics import evaluate_model  # noqa: E402
from melodylib.generation.generator import MelodyGenerator, melody_log_likelihood  # noqa: E402
from melodylib.tfrecords import read_records, write_records  # noqa: E402
from melodylib.training.loop import train  # noqa: E402

DATA = Path(__file__).parent / "data" / "magenta"
FOLDER = DATA / "bundles" / "whole_stack"
EXPECTED = json.loads((FOLDER / "loglik_expected.json").read_text())["bundles"]
SOFTMAX = dict(np.load(FOLDER / "loglik_softmax.npz"))
NAMES = ["attention_rnn_whole_stack", "attention_rnn_whole_stack_tf0"]


def checkpoint_variables(name: str, tmp_path: Path) -> dict[str, np.ndarray]:
    magenta = read_generator_bundle(FOLDER / f"{name}.mag")
    path = tmp_path / f"{name}.ckpt"
    path.write_bytes(magenta.checkpoint)
    reader = tf.train.load_checkpoint(str(path))
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}


def write_v1_checkpoint(path: Path, tensors: dict[str, np.ndarray]) -> bytes:
    names = sorted(tensors)
    tf.raw_ops.Save(
        filename=str(path), tensor_names=names, data=[tf.constant(tensors[name]) for name in names]
    )
    return path.read_bytes()


def write_mag(path: Path, original: Path, tensors: dict[str, np.ndarray], metagraph=None) -> Path:
    """A copy of the bundle `original` with `tensors` as its checkpoint (and maybe `metagraph`)."""

    def varint(value: int) -> bytes:
        out = bytearray()
        while True:
            out.append((value & 0x7F) | (0x80 if value > 0x7F else 0))
            value >>= 7
            if not value:
                return bytes(out)

    def field(number: int, payload: bytes) -> bytes:
        return varint(number << 3 | 2) + varint(len(payload)) + payload

    magenta = read_generator_bundle(original)
    checkpoint = write_v1_checkpoint(path.with_suffix(".ckpt"), tensors)
    details = field(1, magenta.generator_id.encode()) + field(2, b"test")
    path.write_bytes(
        field(1, details)
        + field(2, checkpoint)
        + field(3, magenta.metagraph if metagraph is None else metagraph)
    )
    return path


@pytest.fixture(scope="module")
def imported():
    return {name: load_magenta_bundle(FOLDER / f"{name}.mag") for name in NAMES}


def test_the_fixtures_are_the_2016_layout_under_both_spellings(tmp_path):
    modern = checkpoint_variables(NAMES[0], tmp_path)
    old = checkpoint_variables(NAMES[1], tmp_path)
    assert "rnn/attention_cell_wrapper/multi_rnn_cell/cell_1/basic_lstm_cell/kernel" in modern
    assert "rnn/attention_cell_wrapper/attention/kernel" in modern
    assert "RNN/AttentionCellWrapper/MultiRNNCell/Cell1/BasicLSTMCell/Linear/Matrix" in old
    assert "RNN/AttentionCellWrapper/AttnOutputProjection/Linear/Bias" in old
    assert "RNN/AttentionCellWrapper/Attention/AttnW" in old
    assert len(modern) == len(old) == 14
    # The query projection reads every layer's (c, h): 2 × (32 + 24) rows.
    assert modern["rnn/attention_cell_wrapper/attention/kernel"].shape == (112, 24)
    # The tf0 copy has the 2016 generator's single concatenated state: 2·(32+24) + 24 + 8·24.
    state = EXPECTED[NAMES[1]]["collections"]["initial_state"]
    assert [entry["shape"] for entry in state] == [[1, 112 + 24 + 8 * 24]]


@pytest.mark.parametrize("name", NAMES)
def test_sizes_and_layout_come_from_the_shapes_and_the_metagraph(imported, name):
    bundle = imported[name]
    hparams = bundle.config.hparams
    assert bundle.config.name == "attention_rnn"
    assert hparams.rnn_layer_sizes == EXPECTED[name]["rnn_layer_sizes"] == [32, 24]
    assert hparams.attn_length == EXPECTED[name]["attn_length"] == 8
    assert hparams.attention_layout == "whole_stack"
    assert bundle.training["attn_length_source"] == "metagraph"


def test_both_spellings_give_the_same_weights(imported):
    first, second = (imported[name].weights for name in NAMES)
    assert set(first) == set(second)
    for key, value in first.items():
        np.testing.assert_array_equal(second[key], value)


@pytest.mark.parametrize("name", NAMES)
def test_log_likelihood_and_softmax_equal_magentas(imported, name):
    record = EXPECTED[name]
    assert record["bundle_size_bytes"] == (FOLDER / record["bundle_file"]).stat().st_size, (
        "loglik_expected.json is older than the bundle: rerun make_whole_stack_bundles.sh"
    )
    generator = MelodyGenerator(imported[name])
    melody = record["melodies"][record["softmax_melody_index"]]
    inputs, labels = imported[name].config.encoder.encode(melody["squashed_events"])
    np.testing.assert_array_equal(labels, SOFTMAX[f"{name}__labels"])
    logits, _ = generator.step_model(inputs[None], generator.step_model.zero_state(1))
    logits = logits.numpy()[0].astype(np.float64)
    softmax = np.exp(logits - logits.max(axis=-1, keepdims=True))
    softmax /= softmax.sum(axis=-1, keepdims=True)
    difference = np.abs(softmax - SOFTMAX[f"{name}__softmax"]).max(axis=-1)
    assert difference.max() < 1e-5, f"softmax differs first at {int(np.argmax(difference > 1e-5))}"
    for melody in record["melodies"]:
        ours = melody_log_likelihood(generator, melody["events"])
        expected = melody["log_likelihood"]
        assert abs(ours - expected) <= 1e-3 * abs(expected), (melody["source_filename"], ours)


# --- the other spellings -------------------------------------------------------------------------
def _tf10_name(name: str) -> str:
    renamed = {"kernel": "weights", "bias": "biases"}
    return "/".join(renamed.get(part, part) for part in name.split("/"))


def _magenta_js_name(name: str) -> str:
    return name.replace("attn_output_projection", "attention_output_projection")


@pytest.mark.parametrize(
    "rename", [_tf10_name, _magenta_js_name], ids=["tf1.0-weights-biases", "magenta-js-alias"]
)
def test_tf_1_0_names_and_the_magenta_js_alias_are_read(imported, tmp_path, rename):
    variables = {rename(k): v for k, v in checkpoint_variables(NAMES[0], tmp_path).items()}
    assert len(variables) == 14
    path = write_mag(tmp_path / "renamed.mag", FOLDER / f"{NAMES[0]}.mag", variables)
    bundle = load_magenta_bundle(path)
    assert bundle.config.hparams.attention_layout == "whole_stack"
    for key, value in imported[NAMES[0]].weights.items():
        np.testing.assert_array_equal(bundle.weights[key], value)


# --- refused -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "variable, shape, expected",
    [
        # A first-layer query ([c0; h0] of 32 units) in a whole-stack wrapper.
        ("rnn/attention_cell_wrapper/attention/kernel", (64, 24), "[112, 24]"),
        # An attention size other than the top layer's.
        ("rnn/attention_cell_wrapper/attention/attn_v", (32,), "[24]"),
        ("rnn/attention_cell_wrapper/kernel", (74 + 32, 74), "[98, 74]"),
    ],
)
def test_inconsistent_shapes_are_refused_naming_the_bundle_and_variable(
    tmp_path, variable, shape, expected
):
    variables = checkpoint_variables(NAMES[0], tmp_path)
    variables[variable] = np.zeros(shape, np.float32)
    path = write_mag(tmp_path / "bad.mag", FOLDER / f"{NAMES[0]}.mag", variables)
    with pytest.raises(MelodylibError) as error:
        load_bundle(path)
    message = str(error.value)
    assert str(path) in message and variable in message and expected in message


def test_layers_inside_and_outside_the_wrapper_are_refused(tmp_path):
    variables = checkpoint_variables(NAMES[0], tmp_path)
    variables["rnn/multi_rnn_cell/cell_2/basic_lstm_cell/kernel"] = np.zeros((48, 96), np.float32)
    variables["rnn/multi_rnn_cell/cell_2/basic_lstm_cell/bias"] = np.zeros(96, np.float32)
    path = write_mag(tmp_path / "mixed.mag", FOLDER / f"{NAMES[0]}.mag", variables)
    with pytest.raises(MelodylibError, match="mixes the 2016 layout"):
        load_bundle(path)


def test_without_a_readable_metagraph_attn_length_falls_back_to_40(tmp_path, caplog):
    variables = checkpoint_variables(NAMES[1], tmp_path)
    path = write_mag(tmp_path / "bare.mag", FOLDER / f"{NAMES[1]}.mag", variables, metagraph=b"")
    with caplog.at_level(logging.WARNING):
        bundle = load_magenta_bundle(path)
    assert bundle.config.hparams.attn_length == 40
    assert bundle.training["attn_length_source"] == "default"
    assert "attn_length" in caplog.text


# --- generate, evaluate, fine-tune --------------------------------------------------------------
def _weights(model) -> dict[str, np.ndarray]:
    return {variable.path: variable.numpy().copy() for variable in model.weights}


def test_generation_keeps_the_primer_and_changes_no_weight(imported, tmp_path, capsys):
    generator = MelodyGenerator(imported[NAMES[1]])
    before = _weights(generator.model)
    sampled = generator.generate([60, -2, 62, -2], num_steps=24, num_outputs=2, seed=3)
    searched = generator.generate([60, -2, 62], num_steps=12, beam_size=2, branch_factor=2, seed=3)
    assert [melody.events[:4] for melody in sampled] == [[60, -2, 62, -2]] * 2
    assert all(len(melody.events) == 24 for melody in sampled)
    assert searched[0].events[:3] == [60, -2, 62] and len(searched[0].events) == 12
    after = _weights(generator.model)
    assert all(np.array_equal(before[key], after[key]) for key in before)
    # The command line on the TF 0.x bundle, through the compiled sampler.
    status = cli.main(
        [
            "generate",
            f"--bundle_file={FOLDER / (NAMES[1] + '.mag')}",
            f"--output_dir={tmp_path / 'out'}",
            "--num_outputs=1",
            "--num_steps=32",
            "--primer_melody=[60]",
            "--seed=1",
        ]
    )
    assert status == 0, capsys.readouterr().err
    assert len(list((tmp_path / "out").glob("*.mid"))) == 1


def _whole_melody_records(tmp_path: Path, count: int = 5) -> tuple[Path, list[dict]]:
    """The fixture melodies that are whole records of the training file, as a file of their own."""
    name = NAMES[0]
    melodies = [m for m in EXPECTED[name]["melodies"] if m["num_leading_events_kept"] is None]
    melodies = melodies[:count]
    records = list(read_records(DATA / "attention_rnn_training_melodies.tfrecord.gz"))
    path = tmp_path / "melodies.tfrecord"
    write_records(path, [records[melody["record_index"]] for melody in melodies])
    return path, melodies


def test_evaluation_loss_is_magentas_log_likelihood_per_step(imported, tmp_path):
    path, melodies = _whole_melody_records(tmp_path)
    metrics = evaluate_model(imported[NAMES[1]], str(path))
    steps = sum(len(melody["labels"]) for melody in melodies)
    expected = -sum(melody["log_likelihood"] for melody in melodies) / steps
    assert metrics["loss"] == pytest.approx(expected, rel=1e-4)


def test_fine_tuning_starts_from_the_imported_weights(imported, tmp_path):
    path, melodies = _whole_melody_records(tmp_path, count=1)
    bundle_file = FOLDER / f"{NAMES[1]}.mag"
    original_bytes = bundle_file.read_bytes()
    config = imported[NAMES[1]].config
    overrides = {"batch_size": 1, "dropout_keep_prob": 1.0}
    config = dataclasses.replace(config, hparams=config.hparams.with_overrides(overrides))
    result = train(
        config,
        str(path),
        tmp_path / "run",
        num_training_steps=3,
        summary_frequency=1,
        warm_start_bundle=str(bundle_file),
        log=lambda message: None,
    )
    steps = sum(len(melody["labels"]) for melody in melodies)
    imported_loss = -sum(melody["log_likelihood"] for melody in melodies) / steps
    # Step 1's loss is measured before the first update: the imported model's, Magenta's number.
    assert result.history[0]["loss"] == pytest.approx(imported_loss, rel=1e-4)
    assert result.history[-1]["loss"] < result.history[0]["loss"]
    assert bundle_file.read_bytes() == original_bytes
    model, tuned_config, _ = load_model(run_dir=tmp_path / "run")
    assert tuned_config.hparams.attention_layout == "whole_stack"
    changed = {
        key
        for key, value in _weights(model).items()
        if not np.array_equal(value, imported[NAMES[1]].weights[key])
    }
    assert changed == set(imported[NAMES[1]].weights)


def _training_metagraph(widths: list[int]) -> bytes:
    """A training graph's metagraph in miniature: only the wrapper's zero state, [8, width] each."""
    graph = tf.Graph()
    with graph.as_default(), tf.name_scope("AttentionCellWrapperZeroState"):
        for width in widths:
            tf.zeros([8, width])
    metagraph = tf.compat.v1.MetaGraphDef()
    metagraph.graph_def.CopyFrom(graph.as_graph_def(add_shapes=True))
    return metagraph.SerializeToString()


@pytest.mark.parametrize("meta", ["generation", "training"])
def test_a_magenta_run_dir_in_the_2016_layout(imported, tmp_path, meta):
    """attn_length from the .meta beside a training checkpoint: a generation graph's initial_state
    collection, or a training graph's zero state (its tuple widths add up the same way)."""
    variables = checkpoint_variables(NAMES[0], tmp_path)
    variables["global_step"] = np.array(300, np.int64)
    prefix = tmp_path / "run" / "train" / "model.ckpt-300"
    prefix.parent.mkdir(parents=True)
    names = sorted(variables)
    tf.raw_ops.SaveV2(
        prefix=str(prefix),
        tensor_names=names,
        shape_and_slices=[""] * len(names),
        tensors=[tf.constant(variables[name]) for name in names],
    )
    metagraph = read_generator_bundle(FOLDER / f"{NAMES[0]}.mag").metagraph
    if meta == "training":
        metagraph = _training_metagraph([32, 32, 24, 24, 24, 8 * 24])
    Path(f"{prefix}.meta").write_bytes(metagraph)
    model, config, name = load_model(run_dir=tmp_path / "run")
    assert name == "attention_rnn (step 300)"
    assert (config.hparams.attention_layout, config.hparams.attn_length) == ("whole_stack", 8)
    for variable in model.weights:
        np.testing.assert_array_equal(variable.numpy(), imported[NAMES[0]].weights[variable.path])
