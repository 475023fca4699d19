"""The README's main job (`melody_rnn demo`) and the installation check (`melody_rnn doctor`)."""

import wave

import pytest

from melodylib.bundles.bundle import save_bundle
from melodylib.cli.demo import run_demo
from melodylib.cli.main import main
from melodylib.course.shipped import shipped_bundles
from melodylib.encoding.configs import get_config
from melodylib.errors import MelodylibError
from melodylib.models.melody_rnn import build_model


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bundles")
    for name in ("basic_rnn", "lookback_rnn"):
        config = get_config(name, "rnn_layer_sizes=[8]")
        save_bundle(folder / f"{name}.bundle", build_model(config), config, f"tiny {name}")
    return folder


def test_the_demo_writes_midi_a_wav_and_a_piano_roll(bundle_dir, tmp_path):
    result = run_demo(tmp_path / "demo", bundle_dir=bundle_dir, num_outputs=2, num_steps=48, seed=1)
    assert sorted(result.log_likelihoods) == ["basic_rnn", "lookback_rnn"]
    assert len(result.midi_files) == 4 and all(path.exists() for path in result.midi_files)
    assert result.piano_roll.stat().st_size > 10_000
    with wave.open(str(result.wav_file)) as audio:
        assert audio.getnframes() / audio.getframerate() > 2 * 48 * 0.125  # two melodies of 6 s
    assert "log-likelihood" in result.format()


def test_the_demo_says_how_to_get_bundles_when_there_are_none(tmp_path):
    assert shipped_bundles(tmp_path) == {}
    with pytest.raises(MelodylibError, match="make bundles"):
        run_demo(tmp_path / "demo", bundle_dir=tmp_path)


def test_the_demo_command(bundle_dir, tmp_path, capsys):
    assert (
        main(
            [
                "demo",
                "--bundle_dir",
                str(bundle_dir),
                "--output_dir",
                str(tmp_path),
                "--num_outputs",
                "1",
                "--num_steps",
                "32",
            ]
        )
        == 0
    )
    assert "Wrote 2 MIDI files" in capsys.readouterr().out


def test_the_shipped_bundles_load_and_generate():
    bundles = shipped_bundles()
    if not bundles:
        pytest.skip("no pretrained bundles in data/bundles")
    from melodylib.bundles.reading import load_bundle
    from melodylib.generation.generator import MelodyGenerator

    for name, path in bundles.items():
        bundle = load_bundle(path)
        assert bundle.config.name == name
        assert bundle.training.get("training_steps", 0) > 0
        melody = MelodyGenerator(bundle).generate([60, -2, 62, -2], num_steps=24, seed=0)[0]
        assert len(melody.events) == 24 and melody.events[:4] == [60, -2, 62, -2]


def test_doctor_reports_every_check_with_a_fix_for_failures(capsys):
    from melodylib.cli.doctor import CHECKS, Check, run_checks

    lines = []
    results = run_checks(lines.append)
    assert len(results) == len(CHECKS) == len(lines)
    names = [result.name for result in results]
    assert names[:2] == ["Python", "packages"] and "training step" in names and "audio" in names
    assert "scores" in names
    assert all(result.ok or result.fix for result in results)
    assert Check("x", False, "broken", "do this").format().endswith("fix: do this")
