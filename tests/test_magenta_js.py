"""The Magenta.js export (melodylib.bundles.magenta_js), the export_magenta_js and serve_web
commands, and the web page (melodylib.web).

References: the TF1 BasicLSTMCell formulas run in numpy on the exported files (always), and
Magenta.js 1.23.1 itself, in Node and in headless Chromium (when tests/js/node_modules is
installed: `npm ci --prefix tests/js`; with MELODYLIB_CI=1 a missing tool fails the test).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from melodylib.bundles.bundle import save_bundle
from melodylib.bundles.magenta_js import export_magenta_js
from melodylib.bundles.sources import load_model
from melodylib.cli import main as cli
from melodylib.encoding.configs import HParams, MelodyRnnConfig, get_config
from melodylib.encoding.encoders import MelodyOneHotEncoding, OneHotEncoder
from melodylib.errors import MelodylibError
from melodylib.models.melody_rnn import build_model
from melodylib.web import server as web_server

ROOT = Path(__file__).resolve().parents[1]
JS_DIR = ROOT / "tests" / "js"
NODE_MODULES = JS_DIR / "node_modules"
BUNDLES = ROOT / "data" / "bundles"
MAGENTA_BUNDLES = ROOT / "tests" / "data" / "magenta" / "bundles"
CHROMIUM = Path("/usr/bin/chromium")
INSTALL = "npm ci --prefix tests/js"
WHOLE_STACK = "rnn_layer_sizes=[8,8,8],attention_layout=whole_stack"

# Each model's primer holds its lowest and highest pitch: Magenta.js's range is inclusive.
PRIMERS = {
    "basic_rnn": [48, -2, 83, -2, -1, -2, 60, 62, -2, -2],
    "mono_rnn": [0, -2, 127, -1, 60, -2, 62, -2],
    "custom_range": [55, -2, 79, -2, 67, -1, -2, 70],
}


def require(available: bool, message: str) -> None:
    """Skip when a tool is missing, unless MELODYLIB_CI=1 says CI must have it."""
    if available:
        return
    if os.environ.get("MELODYLIB_CI") == "1":
        pytest.fail(f"{message} (MELODYLIB_CI=1 requires it)")
    pytest.skip(message)


def require_node_packages() -> None:
    require(shutil.which("node") is not None, "Node.js is not installed (apt-get install nodejs)")
    require(
        (NODE_MODULES / "@magenta" / "music" / "package.json").is_file()
        and (NODE_MODULES / "playwright-core" / "package.json").is_file(),
        f"Magenta.js is not installed in tests/js/node_modules; run `{INSTALL}`",
    )


def custom_range_config() -> MelodyRnnConfig:
    """A one-hot config over G3..G5 (55..79), not transposed, three layers of different sizes."""
    return MelodyRnnConfig(
        "custom_range",
        "One-hot over 55..79.",
        OneHotEncoder(MelodyOneHotEncoding(55, 80)),
        HParams(rnn_layer_sizes=[24, 16, 12]),
        min_note=55,
        max_note=80,
        transpose_to_key=None,
    )


def random_model(config: MelodyRnnConfig, seed: int = 5):
    """A model with large random weights and biases, so every gate and the forget bias matter."""
    model = build_model(config)
    generator = np.random.default_rng(seed)
    for variable in model.weights:
        variable.assign(generator.normal(0.0, 0.5, variable.shape).astype(np.float32))
    return model


@pytest.fixture(scope="module")
def custom_bundle(tmp_path_factory) -> Path:
    config = custom_range_config()
    path = tmp_path_factory.mktemp("custom") / "custom_range.bundle"
    return save_bundle(path, random_model(config), config, "random weights for the export tests")


def one_hot_classes(config: MelodyRnnConfig, events: list[int]) -> list[int]:
    return [int(label) for label in config.encoder.labels(events)]


def melodylib_probabilities(model, config, classes: list[int]) -> np.ndarray:
    """melodylib's softmax after each of `classes` (fed as one-hot rows), in float64."""
    inputs = np.eye(config.num_classes, dtype=np.float32)[classes][None]
    logits = np.asarray(model(inputs, training=False))[0].astype(np.float64)
    exponentials = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return exponentials / exponentials.sum(axis=-1, keepdims=True)


def read_exported_weights(folder: Path) -> dict[str, np.ndarray]:
    """The weights of an export, read naively: join the shards, cut them by the manifest."""
    (group,) = json.loads((folder / "weights_manifest.json").read_text())
    payload = b"".join((folder / name).read_bytes() for name in group["paths"])
    weights, offset = {}, 0
    for entry in group["weights"]:
        assert entry["dtype"] == "float32"
        size = int(np.prod(entry["shape"])) * 4
        array = np.frombuffer(payload[offset : offset + size], dtype="<f4")
        weights[entry["name"]] = array.reshape(entry["shape"])
        offset += size
    assert offset == len(payload)
    return weights


def tf1_probabilities(folder: Path, classes: list[int]) -> np.ndarray:
    """TF1's BasicLSTMCell stack (gates i, j, f, o; forget bias 1.0 added) on the exported files."""
    weights = read_exported_weights(folder)
    layers = []
    while f"rnn/multi_rnn_cell/cell_{len(layers)}/basic_lstm_cell/kernel" in weights:
        prefix = f"rnn/multi_rnn_cell/cell_{len(layers)}/basic_lstm_cell/"
        layers.append((weights[prefix + "kernel"], weights[prefix + "bias"]))
    depth = weights["fully_connected/weights"].shape[1]
    cells = [np.zeros(len(bias) // 4) for _, bias in layers]
    outputs = [np.zeros(len(bias) // 4) for _, bias in layers]
    probabilities = []
    for label in classes:
        x = np.eye(depth)[label]
        for index, (kernel, bias) in enumerate(layers):
            gates = np.concatenate([x, outputs[index]]) @ kernel + bias
            i, j, f, o = np.split(gates, 4)
            sigmoid = lambda value: 1 / (1 + np.exp(-value))  # noqa: E731
            cells[index] = cells[index] * sigmoid(f + 1.0) + sigmoid(i) * np.tanh(j)
            outputs[index] = np.tanh(cells[index]) * sigmoid(o)
            x = outputs[index]
        logits = x @ weights["fully_connected/weights"] + weights["fully_connected/biases"]
        probabilities.append(np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum())
    return np.array(probabilities)


def note_sequence(events: list[int], steps_per_quarter: int = 4) -> dict:
    """A quantized NoteSequence (Magenta.js's plain-object form) of melody events."""
    notes, current = [], None

    def close(step: int) -> None:
        if current is not None:
            pitch, start = current
            notes.append({"pitch": pitch, "quantizedStartStep": start, "quantizedEndStep": step})

    for step, event in enumerate(events):
        if event >= 0 or event == -1:
            close(step)
            current = (event, step) if event >= 0 else None
    close(len(events))
    return {
        "notes": notes,
        "quantizationInfo": {"stepsPerQuarter": steps_per_quarter},
        "totalQuantizedSteps": len(events),
    }


class ServedFolder:
    """A folder served over HTTP on 127.0.0.1 in a thread, for the duration of a with-block."""

    def __init__(self, server) -> None:
        self.server = server

    def __enter__(self) -> str:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __exit__(self, *exception) -> None:
        self.server.shutdown()
        self.server.server_close()


def static_server(folder: Path):
    import functools
    import http.server

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *arguments) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(folder))
    return http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)


# --------------------------------------------------------------------------------------------
# The files
# --------------------------------------------------------------------------------------------


def test_files_follow_the_tensorflow_js_layout_and_shards_cut_anywhere(custom_bundle, tmp_path):
    folder = export_magenta_js(custom_bundle, tmp_path / "custom", shard_size_bytes=4000)
    assert json.loads((folder / "config.json").read_text()) == {
        "type": "MusicRNN",
        "dataConverter": {"type": "MelodyConverter", "args": {"minPitch": 55, "maxPitch": 79}},
    }
    (group,) = json.loads((folder / "weights_manifest.json").read_text())
    names = [entry["name"] for entry in group["weights"]]
    assert names == [
        f"rnn/multi_rnn_cell/cell_{index}/basic_lstm_cell/{part}"
        for index in range(3)
        for part in ("kernel", "bias")
    ] + ["fully_connected/weights", "fully_connected/biases"]
    shapes = [entry["shape"] for entry in group["weights"]]
    assert shapes[0] == [27 + 24, 96] and shapes[2] == [24 + 16, 64] and shapes[4] == [16 + 12, 48]
    assert shapes[6:] == [[12, 27], [27]]
    total_bytes = 4 * sum(int(np.prod(shape)) for shape in shapes)
    count = -(-total_bytes // 4000)
    assert group["paths"] == [f"group1-shard{index}of{count}.bin" for index in range(1, count + 1)]
    sizes = [(folder / name).stat().st_size for name in group["paths"]]
    assert sizes[:-1] == [4000] * (count - 1) and sum(sizes) == total_bytes
    details = json.loads((folder / "melodylib.json").read_text())
    assert details["config"]["name"] == "custom_range" and details["source"] == str(custom_bundle)
    assert sorted(path.name for path in folder.iterdir()) == sorted(
        ["config.json", "weights_manifest.json", "melodylib.json", *group["paths"]]
    )


def test_the_pretrained_basic_rnn_fits_one_default_shard(tmp_path):
    folder = export_magenta_js(BUNDLES / "basic_rnn.bundle", tmp_path / "basic")
    (group,) = json.loads((folder / "weights_manifest.json").read_text())
    assert group["paths"] == ["group1-shard1of1.bin"]
    # (38 + 128) x 512 + 512, (128 + 128) x 512 + 512, 128 x 38 + 38 floats.
    floats = 166 * 512 + 512 + 256 * 512 + 512 + 128 * 38 + 38
    assert (folder / "group1-shard1of1.bin").stat().st_size == 4 * floats


@pytest.mark.parametrize("source", ["basic_rnn", "custom_range"])
def test_tf1_lstm_formulas_on_the_files_give_melodylib_probabilities(
    source, custom_bundle, tmp_path
):
    bundle_file = BUNDLES / "basic_rnn.bundle" if source == "basic_rnn" else custom_bundle
    model, config, _ = load_model(bundle_file=bundle_file)
    folder = export_magenta_js(model, tmp_path / source, config, shard_size_bytes=1000)
    classes = one_hot_classes(config, PRIMERS[source] + PRIMERS[source][::-1])
    expected = melodylib_probabilities(model, config, classes)
    np.testing.assert_allclose(tf1_probabilities(folder, classes), expected, atol=1e-5)


# --------------------------------------------------------------------------------------------
# What cannot be exported, and writing safely
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "config, reason",
    [
        (get_config("lookback_rnn"), "lookback encoder"),
        (get_config("attention_rnn"), "key encoder"),
        (get_config("basic_rnn", "attn_length=8,rnn_layer_sizes=[8,8,8]"), "first LSTM layer"),
        *(
            [(get_config("basic_rnn", f"attn_length=8,{WHOLE_STACK}"), "whole stack")]
            if "attention_layout" in HParams.names()
            else []
        ),
    ],
)
def test_models_magenta_js_cannot_run_are_refused_with_the_reason(config, reason, tmp_path):
    with pytest.raises(MelodylibError, match=reason) as raised:
        export_magenta_js(object(), tmp_path / "out", config)
    assert f"cannot export {config.name} to Magenta.js" in str(raised.value)
    assert not (tmp_path / "out").exists()


def test_a_failed_export_leaves_the_earlier_one_and_no_temporary_files(
    custom_bundle, tmp_path, monkeypatch
):
    folder = export_magenta_js(custom_bundle, tmp_path / "model", shard_size_bytes=2000)
    before = {path.name: path.read_bytes() for path in folder.iterdir()}
    written = []
    real_write_bytes = Path.write_bytes

    def failing_write_bytes(path, payload):
        written.append(path.name)
        if len(written) == 3:
            raise OSError(28, "No space left on device")
        return real_write_bytes(path, payload)

    monkeypatch.setattr(Path, "write_bytes", failing_write_bytes)
    with pytest.raises(MelodylibError, match="No space left on device; nothing was changed"):
        export_magenta_js(custom_bundle, folder, shard_size_bytes=3000)
    monkeypatch.undo()
    assert {path.name: path.read_bytes() for path in folder.iterdir()} == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["model"]
    # A successful export replaces the earlier one whole: no shard of the old cut is left.
    export_magenta_js(custom_bundle, folder, shard_size_bytes=3000)
    (group,) = json.loads((folder / "weights_manifest.json").read_text())
    assert sorted(path.name for path in folder.iterdir() if path.suffix == ".bin") == sorted(
        group["paths"]
    )
    assert sorted(path.name for path in tmp_path.iterdir()) == ["model"]


def test_a_folder_holding_other_files_is_not_overwritten(custom_bundle, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(MelodylibError, match=r"already holds other files \(notes.txt\)"):
        export_magenta_js(custom_bundle, tmp_path)
    assert [path.name for path in tmp_path.iterdir()] == ["notes.txt"]


def test_the_command_exports_a_bundle_and_explains_a_refusal(custom_bundle, tmp_path, capsys):
    output = tmp_path / "web_model"
    code = cli.main(
        ["export_magenta_js", f"--bundle_file={custom_bundle}", f"--output_dir={output}"]
    )
    assert code == 0
    assert json.loads((output / "config.json").read_text())["dataConverter"]["args"] == {
        "minPitch": 55,
        "maxPitch": 79,
    }
    assert f"serve_web --model_dir={output}" in capsys.readouterr().out
    code = cli.main(
        [
            "export_magenta_js",
            f"--bundle_file={BUNDLES / 'lookback_rnn.bundle'}",
            f"--output_dir={tmp_path / 'lookback'}",
        ]
    )
    assert code == 1
    assert "lookback encoder" in capsys.readouterr().err
    assert not (tmp_path / "lookback").exists()


def test_the_command_exports_a_training_run(tmp_path, capsys):
    import tensorflow as tf

    from melodylib.training.run_config import write_run_config

    config = custom_range_config()
    model = random_model(config, seed=11)
    run_dir = tmp_path / "run"
    write_run_config(run_dir, config)
    checkpoint = tf.train.Checkpoint(
        model=model, global_step=tf.Variable(7, dtype=tf.int64, trainable=False)
    )
    tf.train.CheckpointManager(checkpoint, str(run_dir / "train"), max_to_keep=1).save()
    code = cli.main(["export_magenta_js", f"--run_dir={run_dir}", f"--output_dir={tmp_path / 'a'}"])
    assert code == 0, capsys.readouterr().err
    export_magenta_js(model, tmp_path / "b", config)
    for name in ("config.json", "weights_manifest.json", "group1-shard1of1.bin"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


# --------------------------------------------------------------------------------------------
# Magenta.js itself
# --------------------------------------------------------------------------------------------


def test_magenta_js_computes_melodylib_probabilities(custom_bundle, tmp_path):
    require_node_packages()
    sources = {
        "basic_rnn": BUNDLES / "basic_rnn.bundle",  # ours, trained
        "mono_rnn": MAGENTA_BUNDLES / "mono_rnn_small.mag",  # written by Magenta 2.1.4
        "custom_range": custom_bundle,  # random weights, three layers
    }
    models = {name: load_model(bundle_file=path)[:2] for name, path in sources.items()}
    export_magenta_js(sources["basic_rnn"], tmp_path / "basic_rnn")
    export_magenta_js(sources["mono_rnn"], tmp_path / "mono_rnn")
    # From the Keras model, in small shards so that Magenta.js joins weights straddling them.
    custom, custom_config = models["custom_range"]
    export_magenta_js(custom, tmp_path / "custom_range", custom_config, shard_size_bytes=3000)
    steps = 24
    with ServedFolder(static_server(tmp_path)) as url:
        jobs = [
            {
                "url": f"{url}/{name}",
                "sequence": note_sequence(PRIMERS[name]),
                "steps": steps,
                "temperature": 1.0,
            }
            for name in models
        ]
        (tmp_path / "jobs.json").write_text(json.dumps(jobs))
        run = subprocess.run(
            ["node", str(JS_DIR / "music_rnn_probabilities.js"), "jobs.json", "results.json"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert run.returncode == 0, run.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    for (name, (model, config)), result in zip(models.items(), results):
        primer = one_hot_classes(config, PRIMERS[name])
        assert result["primerClasses"] == primer, name
        sampled = result["sampledClasses"]
        assert len(sampled) == steps and all(0 <= c < config.num_classes for c in sampled)
        expected = melodylib_probabilities(model, config, primer + sampled[:-1])[len(primer) - 1 :]
        actual = np.array(result["probabilities"])
        assert actual.shape == (steps, config.num_classes)
        np.testing.assert_allclose(actual, expected, atol=1e-4, err_msg=name)


# --------------------------------------------------------------------------------------------
# The web page
# --------------------------------------------------------------------------------------------


def fake_node_modules(root: Path) -> Path:
    for relative, text in [
        ("@magenta/music/es6/music_rnn.js", "// music_rnn"),
        ("@magenta/music/package.json", '{"version": "1.23.1"}'),
        ("@tensorflow/tfjs/dist/tf.min.js", "// tf"),
        ("@tensorflow/tfjs/package.json", '{"version": "2.8.6"}'),
    ]:
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    return root


def test_the_server_serves_the_page_model_and_scripts_and_nothing_else(custom_bundle, tmp_path):
    model_dir = export_magenta_js(custom_bundle, tmp_path / "model")
    node_modules = fake_node_modules(tmp_path / "node_modules")
    (tmp_path / "secret.txt").write_text("not for the page")
    with ServedFolder(web_server.make_server(model_dir, node_modules, port=0)) as url:

        def get(path: str) -> tuple[int, bytes]:
            try:
                with urllib.request.urlopen(url + path) as response:
                    return response.status, response.read()
            except urllib.error.HTTPError as error:
                return error.code, b""

        assert get("/")[0] == 200 and b"lib/music_rnn.js" in get("/")[1]
        assert get("/app.js")[0] == get("/style.css")[0] == 200
        assert get("/model/config.json")[1] == (model_dir / "config.json").read_bytes()
        assert get("/lib/music_rnn.js")[1] == b"// music_rnn"
        assert get("/lib/tf.min.js")[1] == b"// tf"
        source = json.loads(get("/lib/source.json")[1])
        assert source["magentaJsVersion"] == "1.23.1" and source["tensorflowJsVersion"] == "2.8.6"
        assert source["magentaJs"] == str(node_modules / "@magenta/music/es6/music_rnn.js")
        for path in ("/model/../secret.txt", "/model/%2e%2e/secret.txt", "/../secret.txt"):
            assert get(path)[0] == 404, path
        assert get("/secret.txt")[0] == 404 and get("/lib/package.json")[0] == 404


def test_the_server_names_what_is_missing(custom_bundle, tmp_path, monkeypatch):
    with pytest.raises(MelodylibError, match="has no config.json: not a Magenta.js model"):
        web_server.make_server(tmp_path, fake_node_modules(tmp_path / "nm"), port=0)
    model_dir = export_magenta_js(custom_bundle, tmp_path / "model")
    with pytest.raises(MelodylibError, match=r"npm install --prefix DIR @magenta/music@1\.23\.1"):
        web_server.make_server(model_dir, tmp_path / "empty", port=0)


def test_the_page_continues_what_is_played_in_headless_chromium(tmp_path):
    require_node_packages()
    require(CHROMIUM.exists(), f"{CHROMIUM} is not installed (apt-get install chromium)")
    model_dir = export_magenta_js(BUNDLES / "basic_rnn.bundle", tmp_path / "basic_rnn")
    keys, steps = [60, 64, 67, 72, 83], 24
    plan = {"executablePath": str(CHROMIUM), "keys": keys, "steps": steps, "temperature": 0.8}
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    with ServedFolder(web_server.make_server(model_dir, NODE_MODULES, port=0)) as url:
        run = subprocess.run(
            ["node", str(JS_DIR / "check_web_page.js"), f"{url}/", "plan.json", "page.json"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert run.returncode == 0, run.stderr
    shown = json.loads((tmp_path / "page.json").read_text())
    assert not shown["statusIsError"], shown["status"]
    assert not [message for message in shown["messages"] if message.startswith("pageerror")]
    assert all(request.startswith(url) for request in shown["requests"])
    assert shown["info"]["minPitch"] == "48" and shown["info"]["maxPitch"] == "83"
    assert shown["keys"] == list(range(59, 84))  # 25 keys, as high as the range goes
    assert "Magenta.js 1.23.1" in shown["source"] and str(NODE_MODULES) in shown["source"]
    result = shown["result"]
    # Each key made an eighth note (2 steps), then one rest of 2 steps.
    assert int(result["primerSteps"]) == 2 * len(keys) + 2
    assert int(result["requestedSteps"]) == int(result["totalSteps"]) == steps
    notes = json.loads(result["notes"])
    assert notes and shown["continuationRects"] == len(notes)
    assert shown["primerRects"] == len(keys)
    previous_end = 0
    for note in notes:
        assert 48 <= note["pitch"] <= 83
        assert previous_end <= note["start"] < note["end"] <= steps
        previous_end = note["end"]
