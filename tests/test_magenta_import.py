"""Importing Magenta `.mag` bundles and training checkpoints (melodylib.bundles.magenta).

The bundles in tests/data/magenta/bundles were written by Magenta 2.1.4 itself
(tools/magenta_reference/make_bundles.sh); loglik_expected.json / loglik_softmax.npz hold Magenta's
own log-likelihoods and softmax for real melodies under each bundle (loglik_reference.py).
Synthetic checkpoints (old variable names, the 2016 attention layout, bad shapes) are written here
with TF's raw save ops: V1 (`Save`, the format inside a .mag) or V2 (`SaveV2`, a training run).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from melodylib.bundles.magenta import (  # noqa: E402
    convert_bundle,
    find_magenta_checkpoint,
    is_magenta_checkpoint,
    load_magenta_bundle,
    load_magenta_checkpoint,
    read_generator_bundle,
)
from melodylib.bundles.reading import load_bundle  # noqa: E402
from melodylib.cli import main as cli  # noqa: E402
from melodylib.encoding.configs import CONFIG_NAMES, get_config  # noqa: E402
from melodylib.errors import MelodylibError  # noqa: E402
from melodylib.generation.generator import MelodyGenerator, melody_log_likelihood  # noqa: E402
from melodylib.models.melody_rnn import build_model  # noqa: E402

DATA = Path(__file__).parent / "data" / "magenta"
BUNDLES = DATA / "bundles"
EXPECTED = json.loads((DATA / "loglik_expected.json").read_text())["bundles"]
SOFTMAX = dict(np.load(DATA / "loglik_softmax.npz"))

# name -> (config, rnn_layer_sizes, attn_length) as make_bundles.sh trained them
FIXTURES = {
    "basic_rnn_small": ("basic_rnn", [32, 24], 0),
    "mono_rnn_small": ("mono_rnn", [32, 24], 0),
    "lookback_rnn_small": ("lookback_rnn", [32, 24], 0),
    "attention_rnn_small": ("attention_rnn", [32, 24], 8),
    "attention_rnn_small_attn40": ("attention_rnn", [32, 24], 40),
    "basic_rnn_default": ("basic_rnn", [128, 128], 0),
}


# --- helpers: a GeneratorBundle encoder and checkpoint writers ------------------------------------------
def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def make_mag(
    generator_id: str,
    checkpoint: bytes,
    metagraph: bytes,
    description: str = "d",
    bundle_description: str = "b",
) -> bytes:
    """A GeneratorBundle: details {id, description}, one checkpoint, metagraph, bundle details."""
    details = _field(1, generator_id.encode()) + _field(2, description.encode())
    return (
        _field(1, details)
        + _field(2, checkpoint)
        + _field(3, metagraph)
        + _field(4, _field(1, bundle_description.encode()))
    )


def write_v1_checkpoint(path: Path, tensors: dict[str, np.ndarray]) -> bytes:
    """Write `tensors` as a TF1 V1 checkpoint file (what a .mag holds) and return its bytes."""
    names = sorted(tensors)
    tf.raw_ops.Save(
        filename=str(path), tensor_names=names, data=[tf.constant(tensors[name]) for name in names]
    )
    return path.read_bytes()


def write_v2_checkpoint(prefix: Path, tensors: dict[str, np.ndarray]) -> None:
    """Write `tensors` as a name-based TF V2 checkpoint (index + data), as Magenta's training does."""
    prefix.parent.mkdir(parents=True, exist_ok=True)
    names = sorted(tensors)
    tf.raw_ops.SaveV2(
        prefix=str(prefix),
        tensor_names=names,
        shape_and_slices=[""] * len(names),
        tensors=[tf.constant(tensors[name]) for name in names],
    )


def fixture_variables(name: str, tmp_path: Path) -> dict[str, np.ndarray]:
    """The checkpoint variables of a fixture bundle, by their Magenta names."""
    magenta = read_generator_bundle(BUNDLES / f"{name}.mag")
    path = tmp_path / f"{name}.ckpt"
    path.write_bytes(magenta.checkpoint)
    reader = tf.train.load_checkpoint(str(path))
    return {
        variable: reader.get_tensor(variable) for variable in reader.get_variable_to_shape_map()
    }


@pytest.fixture(scope="module")
def imported():
    """Each fixture bundle imported once."""
    return {name: load_magenta_bundle(BUNDLES / f"{name}.mag") for name in FIXTURES}


# --- reading the bundle ------------------------------------------------------------------------
def test_generator_bundle_fields_are_decoded_without_magenta():
    magenta = read_generator_bundle(BUNDLES / "attention_rnn_small.mag")
    expected = EXPECTED["attention_rnn_small"]
    assert magenta.generator_id == "attention_rnn"
    assert magenta.generator_description == expected["generator_description"]
    assert magenta.bundle_description == expected["bundle_description"]
    assert magenta.checkpoint[:2] == b"\x00\x00" and len(magenta.checkpoint) > 100_000
    assert len(magenta.metagraph) > 10_000


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_config_and_hparams_come_from_the_generator_id_and_the_shapes(imported, name):
    config_name, layer_sizes, attn_length = FIXTURES[name]
    bundle = imported[name]
    assert bundle.source == "magenta"
    assert bundle.path == str(BUNDLES / f"{name}.mag")
    assert bundle.description == EXPECTED[name]["bundle_description"]
    assert bundle.config.name == config_name
    assert bundle.config.description == EXPECTED[name]["generator_description"]
    assert bundle.config.hparams.rnn_layer_sizes == layer_sizes
    assert bundle.config.hparams.attn_length == attn_length
    assert bundle.training["attn_length_source"] == ("metagraph" if attn_length else "no attention")
    # Keyed by exactly our Keras variable paths, with matching shapes.
    model = build_model(bundle.config)
    assert {variable.path: tuple(variable.shape) for variable in model.weights} == {
        path: value.shape for path, value in bundle.weights.items()
    }


def test_lstm_weights_are_split_reordered_and_get_the_forget_bias(imported, tmp_path):
    variables = fixture_variables("basic_rnn_small", tmp_path)
    kernel = variables[
        "rnn/multi_rnn_cell/cell_1/basic_lstm_cell/kernel"
    ]  # [32 + 24, 4·24], gates i j f o
    bias = variables["rnn/multi_rnn_cell/cell_1/basic_lstm_cell/bias"]
    weights = imported["basic_rnn_small"].weights
    units = 24
    i, j, f, o = (slice(gate * units, (gate + 1) * units) for gate in range(4))
    ours_i, ours_f, ours_c, ours_o = (slice(gate * units, (gate + 1) * units) for gate in range(4))
    np.testing.assert_array_equal(weights["lstm_1/lstm_cell/kernel"][:, ours_f], kernel[:32, f])
    np.testing.assert_array_equal(
        weights["lstm_1/lstm_cell/recurrent_kernel"][:, ours_c], kernel[32:, j]
    )
    np.testing.assert_array_equal(
        weights["lstm_1/lstm_cell/recurrent_kernel"][:, ours_o], kernel[32:, o]
    )
    np.testing.assert_array_equal(weights["lstm_1/lstm_cell/bias"][ours_i], bias[i])
    np.testing.assert_allclose(weights["lstm_1/lstm_cell/bias"][ours_f], bias[f] + 1.0)
    np.testing.assert_array_equal(weights["logits/kernel"], variables["fully_connected/weights"])


# --- equivalence with Magenta --------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_log_likelihood_and_softmax_equal_magentas(imported, name):
    record = EXPECTED[name]
    assert record["bundle_size_bytes"] == (BUNDLES / record["bundle_file"]).stat().st_size, (
        "loglik_expected.json is older than the bundle: rerun tools/magenta_reference/loglik_reference.py"
    )
    bundle = imported[name]
    generator = MelodyGenerator(bundle)
    # Per-position softmax of the saved melody, to localise any mismatch.
    melody = record["melodies"][record["softmax_melody_index"]]
    inputs, labels = bundle.config.encoder.encode(melody["squashed_events"])
    np.testing.assert_array_equal(labels, SOFTMAX[f"{name}__labels"])
    logits, _ = generator.step_model(inputs[None], generator.step_model.zero_state(1))
    logits = logits.numpy()[0].astype(np.float64)
    softmax = np.exp(logits - logits.max(axis=-1, keepdims=True))
    softmax /= softmax.sum(axis=-1, keepdims=True)
    difference = np.abs(softmax - SOFTMAX[f"{name}__softmax"]).max(axis=-1)
    assert difference.max() < 1e-4, (
        f"softmax differs first at position {int(np.argmax(difference > 1e-4))}"
    )
    # Log-likelihood of every melody (squashed as in training), to 1e-3 relative.
    for melody in record["melodies"]:
        ours = melody_log_likelihood(generator, melody["events"])
        expected = melody["log_likelihood"]
        assert abs(ours - expected) <= 1e-3 * abs(expected), (
            melody["source_filename"],
            ours,
            expected,
        )


def test_every_config_is_covered_by_the_equivalence_fixtures():
    assert {record["config"] for record in EXPECTED.values()} == set(CONFIG_NAMES)


def test_generate_from_a_mag_bundle_on_the_command_line(tmp_path, capsys):
    output_dir = tmp_path / "generated"
    status = cli.main(
        [
            "generate",
            "--bundle_file",
            str(BUNDLES / "attention_rnn_small.mag"),
            "--output_dir",
            str(output_dir),
            "--num_outputs",
            "2",
            "--num_steps",
            "32",
            "--primer_melody",
            "[60, -2, 62, -2]",
            "--seed",
            "1",
        ]
    )
    assert status == 0, capsys.readouterr().err
    files = sorted(output_dir.glob("*.mid"))
    assert len(files) == 2 and all(path.stat().st_size > 0 for path in files)
    from melodylib.music.readers import read_note_sequence

    notes = read_note_sequence(files[0]).notes
    assert notes[0].pitch == 60 and notes[1].pitch == 62


def test_load_bundle_and_convert_bundle(tmp_path):
    magenta_bundle = load_bundle(BUNDLES / "lookback_rnn_small.mag")
    assert magenta_bundle.source == "magenta" and magenta_bundle.config.name == "lookback_rnn"
    output = convert_bundle(BUNDLES / "lookback_rnn_small.mag", tmp_path / "lookback.bundle")
    assert output == tmp_path / "lookback.bundle"
    ours = load_bundle(output)
    assert ours.source == "melodylib"
    assert ours.config.to_dict() == magenta_bundle.config.to_dict()
    assert ours.description == magenta_bundle.description
    assert set(ours.weights) == set(magenta_bundle.weights)
    for path, value in magenta_bundle.weights.items():
        np.testing.assert_array_equal(ours.weights[path], value)
    melody = EXPECTED["lookback_rnn_small"]["melodies"][5]
    assert melody_log_likelihood(ours, melody["events"]) == pytest.approx(
        melody["log_likelihood"], rel=1e-3
    )


# --- variable-name variants and layouts ---------------------------------------------------------
def _tf10_names(name: str) -> str:
    renamed = {"kernel": "weights", "bias": "biases", "basic_lstm_cell": "lstm_cell"}
    return "/".join(renamed.get(part, part) for part in name.split("/"))


def _tf0x_names(name: str) -> str:
    parts = name.split("/")
    renamed = {
        "rnn": "RNN",
        "multi_rnn_cell": "MultiRNNCell",
        "basic_lstm_cell": "BasicLSTMCell",
        "attention_cell_wrapper": "AttentionCellWrapper",
        "attention": "Attention",
        "attn_w": "AttnW_0",
        "attn_v": "AttnV_0",
        "attn_output_projection": "AttnOutputProjection",
    }
    out = []
    for part in parts:
        if part.startswith("cell_"):
            out.append("Cell" + part[len("cell_") :])
        elif part in ("kernel", "weights") and parts[0] == "rnn":
            out.extend(["Linear", "Matrix"])
        elif part in ("bias", "biases") and parts[0] == "rnn":
            out.extend(["Linear", "Bias"])
        else:
            out.append(renamed.get(part, part))
    return "/".join(out)


@pytest.mark.parametrize(
    "rename", [_tf10_names, _tf0x_names], ids=["tf1.0-weights-biases", "tf0.x-camel-case"]
)
@pytest.mark.parametrize("name", ["basic_rnn_small", "attention_rnn_small"])
def test_older_tf_variable_names_are_accepted(imported, tmp_path, rename, name):
    variables = {
        rename(variable): value for variable, value in fixture_variables(name, tmp_path).items()
    }
    assert len(variables) == len(fixture_variables(name, tmp_path))
    original = read_generator_bundle(BUNDLES / f"{name}.mag")
    checkpoint = write_v1_checkpoint(tmp_path / "renamed.ckpt", variables)
    path = tmp_path / "renamed.mag"
    path.write_bytes(make_mag(original.generator_id, checkpoint, original.metagraph))
    bundle = load_magenta_bundle(path)
    assert bundle.config.hparams.rnn_layer_sizes == imported[name].config.hparams.rnn_layer_sizes
    assert set(bundle.weights) == set(imported[name].weights)
    for key, value in imported[name].weights.items():
        np.testing.assert_array_equal(bundle.weights[key], value)


def _historical_attention_variables() -> dict[str, np.ndarray]:
    """The 2016 layout: attention around the whole MultiRNNCell (2 layers of 8 units, 74 inputs)."""
    zeros = lambda *shape: np.zeros(shape, np.float32)  # noqa: E731
    prefix = "rnn/attention_cell_wrapper/"
    return {
        prefix + "kernel": zeros(74 + 8, 74),
        prefix + "bias": zeros(74),
        prefix + "multi_rnn_cell/cell_0/basic_lstm_cell/kernel": zeros(74 + 8, 32),
        prefix + "multi_rnn_cell/cell_0/basic_lstm_cell/bias": zeros(32),
        prefix + "multi_rnn_cell/cell_1/basic_lstm_cell/kernel": zeros(16, 32),
        prefix + "multi_rnn_cell/cell_1/basic_lstm_cell/bias": zeros(32),
        prefix + "attention/attn_w": zeros(1, 1, 8, 8),
        prefix + "attention/attn_v": zeros(8),
        prefix + "attention/kernel": zeros(32, 8),
        prefix + "attention/bias": zeros(8),
        prefix + "attn_output_projection/kernel": zeros(16, 8),
        prefix + "attn_output_projection/bias": zeros(8),
        "fully_connected/weights": zeros(8, 40),
        "fully_connected/biases": zeros(40),
    }


def test_the_2016_whole_stack_attention_layout_is_imported(tmp_path):
    """Attention around the whole MultiRNNCell (the 2016 bundles): imported with its own layout.

    Equivalence with Magenta's graph is in test_magenta_2016_layout.py; here the layout is read
    from a bundle without a metagraph and from a training run_dir.
    """
    checkpoint = write_v1_checkpoint(tmp_path / "old.ckpt", _historical_attention_variables())
    path = tmp_path / "attention_rnn_2016.mag"
    path.write_bytes(make_mag("attention_rnn", checkpoint, b""))
    hparams = load_bundle(path).config.hparams
    assert (hparams.attention_layout, hparams.rnn_layer_sizes, hparams.attn_length) == (
        "whole_stack",
        [8, 8],
        40,
    )
    write_v2_checkpoint(
        tmp_path / "run" / "train" / "model.ckpt-10", _historical_attention_variables()
    )
    assert is_magenta_checkpoint(tmp_path / "run")
    bundle = load_magenta_checkpoint(tmp_path / "run", get_config("attention_rnn"))
    assert bundle.config.hparams.attention_layout == "whole_stack"
    assert bundle.training["training_steps"] == 0


# --- bad input --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "content",
    [b"", b"hello, this is a text file\n", b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x00\xdc"],
    ids=["empty", "text", "midi"],
)
def test_a_file_that_is_not_a_bundle(tmp_path, content):
    path = tmp_path / "not_a_bundle.mag"
    path.write_bytes(content)
    with pytest.raises(MelodylibError) as error:
        load_bundle(path)
    assert str(path) in str(error.value)
    assert "neither a melodylib bundle nor a Magenta generator bundle" in str(error.value)


@pytest.mark.parametrize("fraction", [0.002, 0.5, 0.999])
def test_a_truncated_bundle(tmp_path, fraction):
    data = (BUNDLES / "basic_rnn_small.mag").read_bytes()
    path = tmp_path / "truncated.mag"
    path.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(MelodylibError) as error:
        load_bundle(path)
    assert str(path) in str(error.value) and "truncated" in str(error.value)


def test_a_bundle_of_another_generator_is_refused_naming_the_configs(tmp_path):
    original = read_generator_bundle(BUNDLES / "basic_rnn_small.mag")
    path = tmp_path / "drums.mag"
    path.write_bytes(make_mag("drum_kit", original.checkpoint, original.metagraph))
    with pytest.raises(MelodylibError) as error:
        load_magenta_bundle(path)
    message = str(error.value)
    assert str(path) in message and "'drum_kit'" in message
    assert all(name in message for name in CONFIG_NAMES)


def test_a_checkpoint_whose_shapes_match_no_config(tmp_path):
    variables = {
        "rnn/multi_rnn_cell/cell_0/basic_lstm_cell/kernel": np.zeros((50 + 16, 64), np.float32),
        "rnn/multi_rnn_cell/cell_0/basic_lstm_cell/bias": np.zeros(64, np.float32),
        "fully_connected/weights": np.zeros((16, 50), np.float32),
        "fully_connected/biases": np.zeros(50, np.float32),
    }
    path = tmp_path / "odd.mag"
    path.write_bytes(
        make_mag("basic_rnn", write_v1_checkpoint(tmp_path / "odd.ckpt", variables), b"")
    )
    with pytest.raises(MelodylibError) as error:
        load_magenta_bundle(path)
    message = str(error.value)
    assert str(path) in message and "input size 50 and 50 classes" in message
    assert "match no Melody RNN config" in message
    # Shapes that do not even form a model.
    variables["fully_connected/weights"] = np.zeros((17, 50), np.float32)
    path.write_bytes(
        make_mag("basic_rnn", write_v1_checkpoint(tmp_path / "odd2.ckpt", variables), b"")
    )
    with pytest.raises(MelodylibError, match="fully_connected/weights has shape"):
        load_magenta_bundle(path)


def test_a_bundle_of_one_config_with_the_shapes_of_another(tmp_path):
    original = read_generator_bundle(BUNDLES / "mono_rnn_small.mag")
    path = tmp_path / "mislabelled.mag"
    path.write_bytes(make_mag("basic_rnn", original.checkpoint, original.metagraph))
    with pytest.raises(MelodylibError, match="those are the sizes of mono_rnn"):
        load_magenta_bundle(path)


def test_a_corrupt_checkpoint_inside_a_bundle(tmp_path):
    original = read_generator_bundle(BUNDLES / "basic_rnn_small.mag")
    path = tmp_path / "corrupt.mag"
    path.write_bytes(
        make_mag("basic_rnn", b"\x00" * 64 + original.checkpoint[64:-500], original.metagraph)
    )
    with pytest.raises(MelodylibError) as error:
        load_magenta_bundle(path)
    assert str(path) in str(error.value) and "cannot be read" in str(error.value)


def test_attn_length_falls_back_to_40_when_the_metagraph_does_not_tell(tmp_path, caplog):
    attention = read_generator_bundle(BUNDLES / "attention_rnn_small.mag")
    basic = read_generator_bundle(BUNDLES / "basic_rnn_small.mag")
    path = tmp_path / "no_attention_shapes.mag"
    path.write_bytes(make_mag("attention_rnn", attention.checkpoint, basic.metagraph))
    bundle = load_magenta_bundle(path)
    assert bundle.config.hparams.attn_length == 40
    assert bundle.training["attn_length_source"] == "default"
    assert "using 40" in caplog.text


# --- training checkpoints ------------------------------------------------------------------------
def _magenta_run_dir(tmp_path: Path, name: str, step: int = 300) -> Path:
    """A Magenta-style run_dir: train/checkpoint + model.ckpt-N (V2) with Adam slots and global_step."""
    variables = fixture_variables(name, tmp_path)
    tensors = dict(variables)
    for variable, value in variables.items():
        tensors[variable + "/Adam"] = np.full_like(value, 7.0)
        tensors[variable + "/Adam_1"] = np.full_like(value, 7.0)
    tensors["beta1_power"] = np.float32(0.5)
    tensors["global_step"] = np.int64(step)
    run_dir = tmp_path / name
    prefix = run_dir / "train" / f"model.ckpt-{step}"
    write_v2_checkpoint(prefix, tensors)
    (run_dir / "train" / "checkpoint").write_text(
        f'model_checkpoint_path: "{prefix}"\nall_model_checkpoint_paths: "{prefix}"\n'
    )
    return run_dir


def test_a_magenta_run_dir_and_checkpoint(imported, tmp_path):
    run_dir = _magenta_run_dir(tmp_path, "basic_rnn_small")
    prefix = run_dir / "train" / "model.ckpt-300"
    for path in (run_dir, run_dir / "train", prefix, Path(f"{prefix}.index")):
        assert is_magenta_checkpoint(path), path
        assert find_magenta_checkpoint(path) == str(prefix)
    bundle = load_magenta_checkpoint(run_dir, get_config("basic_rnn"))
    assert bundle.source == "magenta"
    assert bundle.training["training_steps"] == 300
    assert bundle.config.name == "basic_rnn" and bundle.config.hparams.rnn_layer_sizes == [32, 24]
    for key, value in imported["basic_rnn_small"].weights.items():
        np.testing.assert_array_equal(bundle.weights[key], value)
    # Without a config, the one whose sizes match is used.
    assert load_magenta_checkpoint(prefix).config.name == "basic_rnn"
    # A moved run_dir: its checkpoint file names paths that no longer exist.
    moved = shutil.move(str(run_dir), str(tmp_path / "moved"))
    assert find_magenta_checkpoint(moved) == str(Path(moved) / "train" / "model.ckpt-300")
    with pytest.raises(MelodylibError) as error:
        load_magenta_checkpoint(moved, get_config("mono_rnn"))
    assert "--config is mono_rnn" in str(error.value) and "those are the sizes of basic_rnn" in str(
        error.value
    )


def test_generate_from_a_magenta_run_dir_through_the_cli(tmp_path):
    from melodylib.cli.main import main

    run_dir = _magenta_run_dir(tmp_path, "basic_rnn_small")
    output_dir = tmp_path / "generated"
    code = main(
        [
            "generate",
            "--config",
            "basic_rnn",
            "--run_dir",
            str(run_dir),
            "--output_dir",
            str(output_dir),
            "--num_outputs",
            "2",
            "--num_steps",
            "24",
            "--primer_melody",
            "[60, -2, 62]",
            "--seed",
            "3",
        ]
    )
    assert code == 0
    assert len(list(output_dir.glob("*.mid"))) == 2


def test_an_attention_checkpoint_takes_attn_length_from_its_meta_file(tmp_path):
    run_dir = _magenta_run_dir(tmp_path, "attention_rnn_small", step=12)
    prefix = run_dir / "train" / "model.ckpt-12"
    # Without a .meta file, the config's attn_length is kept.
    bundle = load_magenta_checkpoint(run_dir, get_config("attention_rnn", "attn_length=8"))
    assert (
        bundle.config.hparams.attn_length == 8 and bundle.training["attn_length_source"] == "config"
    )
    # With one (here the bundle's generation metagraph), it wins over the config's 40.
    Path(f"{prefix}.meta").write_bytes(
        read_generator_bundle(BUNDLES / "attention_rnn_small.mag").metagraph
    )
    bundle = load_magenta_checkpoint(run_dir, get_config("attention_rnn"))
    assert (
        bundle.config.hparams.attn_length == 8
        and bundle.training["attn_length_source"] == "metagraph"
    )
    assert bundle.training["training_steps"] == 12


def test_other_paths_are_not_magenta_checkpoints(tmp_path):
    config = get_config("basic_rnn", "rnn_layer_sizes=[8]")
    ours = tf.train.Checkpoint(model=build_model(config))
    ours_prefix = ours.write(str(tmp_path / "ours" / "train" / "ckpt-1"))
    assert not is_magenta_checkpoint(ours_prefix)
    assert not is_magenta_checkpoint(tmp_path / "ours")
    assert not is_magenta_checkpoint(tmp_path / "missing")
    assert not is_magenta_checkpoint(BUNDLES / "basic_rnn_small.mag")
    (tmp_path / "empty").mkdir()
    assert not is_magenta_checkpoint(tmp_path / "empty")
    with pytest.raises(MelodylibError, match="no checkpoint found"):
        load_magenta_checkpoint(tmp_path / "empty", config)
    assert os.path.exists(f"{ours_prefix}.index")


def test_the_command_line_reports_a_bad_bundle_without_a_traceback(tmp_path, capsys):
    data = (BUNDLES / "mono_rnn_small.mag").read_bytes()
    path = tmp_path / "half.mag"
    path.write_bytes(data[: len(data) // 2])
    status = cli.main(
        ["generate", "--bundle_file", str(path), "--output_dir", str(tmp_path / "out")]
    )
    error = capsys.readouterr().err
    assert status == 1
    assert str(path) in error and "truncated" in error and "Traceback" not in error
    assert not (tmp_path / "out").exists()


def test_the_convert_bundle_command_writes_our_bundle(tmp_path, capsys):
    from melodylib.bundles.reading import load_bundle
    from melodylib.cli.main import main

    output = tmp_path / "lookback.bundle"
    assert (
        main(
            [
                "convert_bundle",
                "--bundle_file",
                str(BUNDLES / "lookback_rnn_small.mag"),
                "--output_bundle",
                str(output),
            ]
        )
        == 0
    )
    converted = load_bundle(output)
    original = load_bundle(BUNDLES / "lookback_rnn_small.mag")
    assert converted.source == "melodylib" and converted.config.name == "lookback_rnn"
    for key, value in original.weights.items():
        np.testing.assert_array_equal(converted.weights[key], value)
    assert (
        main(
            [
                "convert_bundle",
                "--bundle_file",
                str(tmp_path / "missing.mag"),
                "--output_bundle",
                str(tmp_path / "x.bundle"),
            ]
        )
        == 1
    )
    assert "missing.mag" in capsys.readouterr().err
