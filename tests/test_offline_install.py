"""Offline installation: a wheelhouse built here installs with pip's network turned off."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pip(*arguments, python=sys.executable, cwd=ROOT):
    environment = dict(
        os.environ, PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_CACHE_DIR="1"
    )
    return subprocess.run(
        [str(python), "-m", "pip", *arguments],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=environment,
        timeout=600,
    )


def test_a_wheelhouse_installs_with_no_index(tmp_path):
    wheelhouse = tmp_path / "wheelhouse"
    # A subset of the course's wheelhouse: the project itself, built with no network.
    built = _pip(
        "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(wheelhouse), str(ROOT)
    )
    assert built.returncode == 0, built.stderr
    wheels = list(wheelhouse.glob("melodylib-*.whl"))
    assert len(wheels) == 1
    environment = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(environment)], check=True)
    target = tmp_path / "site"
    installed = _pip(
        "install",
        "--no-index",
        "--find-links",
        str(wheelhouse),
        "--no-deps",
        "--target",
        str(target),
        "melodylib",
    )
    assert installed.returncode == 0, installed.stderr
    # The installed package works: `python -m melodylib --help` needs nothing beyond the standard library.
    result = subprocess.run(
        [str(environment / "bin" / "python"), "-m", "melodylib", "--help"],
        env=dict(os.environ, PYTHONPATH=str(target)),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "create_dataset" in result.stdout


def test_the_makefile_has_the_two_offline_commands():
    makefile = (ROOT / "Makefile").read_text()
    assert "pip wheel" in makefile and "offline-install:" in makefile
    assert "--no-index --find-links $(WHEELHOUSE)" in makefile
