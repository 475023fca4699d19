"""Tests for melodylib.bundles.bundle: round trips, contents, loading without a run_dir, bad files."""

from __future__ import annotations

import json
import shutil
import zipfile

import keras
import numpy as np
import pytest

from melodylib.bundles.bundle import Bundle, save_bundle
from melodylib.bundles.reading import load_bundle
from melodylib.cli import main as cli
from melodylib.data.sequence_examples import sequence_example_bytes
from melodylib.encoding.configs import config_from_encoder_name, get_config
from melodylib.errors import MelodylibError
from melodylib.generation.generator import MelodyGenerator
from melodylib.models.melody_rnn import build_model
from melodylib.tfrecords import write_records
from melodylib.training.loop import train


def tiny_config(name: str = "basic_rnn", **overrides):
    values = {"batch_size": 4, "rnn_layer_sizes": [8, 8]}
    if name == "attention_rnn":
        values["attn_length"] = 4
    return get_config(name, {**values, **overrides})


@pytest.mark.parametrize("name", ["basic_rnn", "mono_rnn", "lookback_rnn", "attention_rnn"])
def test_round_trip_gives_identical_weights_and_outputs(name, tmp_path):
    config = tiny_config(name)
    keras.utils.set_random_seed(3)
    model = build_model(config)
    training = {
        "training_steps": 1234,
        "run_dir": "/somewhere/run1",
        "sequence_example_file": "data.tfrecord",
    }
    path = save_bundle(tmp_path / f"{name}.bundle", model, config, "a tiny test model", training)
    bundle = load_bundle(path)
    assert bundle.config.to_dict() == config.to_dict()
    assert bundle.description == "a tiny test model" and bundle.training == training
    assert bundle.source == "melodylib" and bundle.path == str(path)
    assert set(bundle.weights) == {variable.path for variable in model.weights}
    for variable in model.weights:
        np.testing.assert_array_equal(bundle.weights[variable.path], variable.numpy())
    rebuilt = bundle.build_model()
    for original, loaded in zip(model.weights, rebuilt.weights):
        np.testing.assert_array_equal(original.numpy(), loaded.numpy())
    inputs = config.encoder.inputs([60, -2, 62, -2, 64, -1, 65, -2, 67])[None]
    np.testing.assert_array_equal(
        model(inputs, training=False).numpy(), rebuilt(inputs, training=False).numpy()
    )


def test_the_file_stores_config_encoder_hparams_description_and_training(tmp_path):
    config = tiny_config("lookback_rnn")
    save_bundle(
        tmp_path / "lookback.bundle",
        build_model(config),
        config,
        "described",
        {"training_steps": 20, "run_dir": "runs/a"},
    )
    with zipfile.ZipFile(tmp_path / "lookback.bundle") as archive:
        assert sorted(archive.namelist()) == ["bundle.json", "weights.npz"]
        metadata = json.loads(archive.read("bundle.json"))
    assert metadata["format"] == "melodylib-bundle" and metadata["version"] == 1
    assert metadata["config"]["name"] == "lookback_rnn"
    assert metadata["config"]["encoder"] == {
        "kind": "lookback",
        "min_note": 48,
        "max_note": 84,
        "lookback_distances": [16, 32],
        "binary_counter_bits": 5,
    }
    assert metadata["config"]["hparams"]["rnn_layer_sizes"] == [8, 8]
    assert metadata["config"]["hparams"]["batch_size"] == 4
    assert metadata["config"]["transpose_to_key"] == 0
    assert metadata["description"] == "described"
    assert metadata["training"] == {"training_steps": 20, "run_dir": "runs/a"}
    assert metadata["created"] and metadata["melodylib_version"]


def test_a_bundle_from_a_run_loads_and_generates_without_the_run_dir(tmp_path, capsys):
    config = tiny_config()
    rng = np.random.default_rng(0)
    events = [
        [60, -2, 62, -2, 64, -2, 65, 67, -1, 69, -2, 71, 72, -2, -1, 60][: 10 + index % 6]
        for index in range(8)
    ]
    write_records(
        tmp_path / "data.tfrecord",
        [sequence_example_bytes(*config.encoder.encode(melody)) for melody in events],
    )
    train(
        config,
        str(tmp_path / "data.tfrecord"),
        tmp_path / "run",
        num_training_steps=2,
        log=lambda line: None,
        seed=int(rng.integers(100)),
    )
    bundle_path = tmp_path / "kept" / "model.bundle"
    status = cli.main(
        [
            "generate",
            "--save_generator_bundle",
            "--run_dir",
            str(tmp_path / "run"),
            "--bundle_file",
            str(bundle_path),
            "--bundle_description",
            "two steps",
        ]
    )
    assert status == 0 and "step 2" in capsys.readouterr().out
    shutil.rmtree(tmp_path / "run")
    bundle = load_bundle(bundle_path)
    assert bundle.description == "two steps" and bundle.training["training_steps"] == 2
    assert bundle.config.name == "basic_rnn" and bundle.config.hparams.rnn_layer_sizes == [8, 8]
    melodies = MelodyGenerator(bundle).generate([60, -2, 62], num_steps=12, seed=0)
    assert len(melodies[0].events) == 12
    status = cli.main(
        [
            "generate",
            "--bundle_file",
            str(bundle_path),
            "--output_dir",
            str(tmp_path / "midi"),
            "--num_outputs",
            "1",
            "--num_steps",
            "12",
            "--primer_melody",
            "[60, -2, 62]",
        ]
    )
    assert status == 0 and len(list((tmp_path / "midi").glob("*.mid"))) == 1


def test_check_compatible_refuses_another_config(tmp_path):
    config = tiny_config()
    bundle = load_bundle(save_bundle(tmp_path / "basic.bundle", build_model(config), config))
    bundle.check_compatible(
        get_config("basic_rnn")
    )  # other hparams are fine: the bundle's architecture is used
    bundle.check_compatible(
        config_from_encoder_name("onehot")
    )  # the same encoder, range and key under another name
    for other in ("mono_rnn", "lookback_rnn", "attention_rnn"):
        with pytest.raises(
            MelodylibError, match=f"holds a basic_rnn model .* but --config is {other}"
        ):
            bundle.check_compatible(get_config(other))


def test_weights_for_other_layer_sizes_are_refused_naming_the_shapes(tmp_path):
    config = tiny_config()
    bundle = load_bundle(save_bundle(tmp_path / "basic.bundle", build_model(config), config))
    with pytest.raises(
        MelodylibError, match=r"has shape \(38, 32\) in the bundle but \(38, 64\) in the model"
    ):
        bundle.copy_weights_to(build_model(tiny_config(rnn_layer_sizes=[16, 8])))
    with pytest.raises(MelodylibError, match="has no weights for lstm_2"):
        bundle.copy_weights_to(build_model(tiny_config(rnn_layer_sizes=[8, 8, 8])))
    with pytest.raises(MelodylibError, match="inputs per step"):
        save_bundle(tmp_path / "wrong.bundle", build_model(config), get_config("mono_rnn"))
    assert not (tmp_path / "wrong.bundle").exists()


def test_a_failed_save_leaves_the_earlier_bundle_intact(tmp_path):
    config = tiny_config()
    path = save_bundle(tmp_path / "model.bundle", build_model(config), config, "first")
    before = path.read_bytes()
    with pytest.raises(MelodylibError, match="not JSON"):
        save_bundle(path, build_model(config), config, "second", training={"when": object()})
    assert path.read_bytes() == before
    assert [entry.name for entry in tmp_path.iterdir()] == ["model.bundle"]


def test_bad_files_give_clear_errors_naming_the_file(tmp_path):
    config = tiny_config()
    good = save_bundle(tmp_path / "good.bundle", build_model(config), config).read_bytes()
    with pytest.raises(MelodylibError, match="missing.bundle: no such file"):
        load_bundle(tmp_path / "missing.bundle")
    with pytest.raises(MelodylibError, match="not a file"):
        load_bundle(tmp_path)
    truncated = tmp_path / "truncated.bundle"
    truncated.write_bytes(good[: len(good) // 2])
    with pytest.raises(MelodylibError, match="truncated.bundle: not a readable melodylib bundle"):
        load_bundle(truncated)
    foreign = tmp_path / "foreign.zip"
    with zipfile.ZipFile(foreign, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(MelodylibError, match="foreign.zip: a zip file, but not a melodylib bundle"):
        load_bundle(foreign)
    impostor = tmp_path / "impostor.bundle"
    with zipfile.ZipFile(impostor, "w") as archive:
        archive.writestr("bundle.json", json.dumps({"format": "something-else"}))
        archive.writestr("weights.npz", b"")
    with pytest.raises(
        MelodylibError, match="impostor.bundle: a zip file, but not a melodylib bundle"
    ):
        load_bundle(impostor)
    future = tmp_path / "future.bundle"
    with (
        zipfile.ZipFile(tmp_path / "good.bundle") as source,
        zipfile.ZipFile(future, "w") as archive,
    ):
        metadata = json.loads(source.read("bundle.json"))
        metadata["version"] = 99
        archive.writestr("bundle.json", json.dumps(metadata))
        archive.writestr("weights.npz", source.read("weights.npz"))
    with pytest.raises(MelodylibError, match="newer than this melodylib reads"):
        load_bundle(future)


def test_a_file_that_is_neither_a_zip_nor_a_mag_is_refused(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_bytes(b"these are my notes, not a model")
    with pytest.raises(MelodylibError, match="notes.txt"):
        load_bundle(path)


def test_bundle_objects_can_be_built_directly():
    config = tiny_config()
    model = build_model(config)
    bundle = Bundle(
        config=config, weights={variable.path: variable.numpy() for variable in model.weights}
    )
    other = build_model(config)
    bundle.copy_weights_to(other)
    for original, copied in zip(model.weights, other.weights):
        np.testing.assert_array_equal(original.numpy(), copied.numpy())
