"""The two set-up paths (pip with pyproject.toml, conda with environment.yml) name the same packages."""

import re
import subprocess
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]


def _normalise(requirement: str) -> str:
    name, _, rest = requirement.partition(";")
    name = re.sub(r"\s+", "", name).lower().replace("_", "-")
    marker = re.sub(r"\s+", " ", rest.strip())
    return f"{name};{marker}" if marker else name


def _pyproject_requirements() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = set(project["dependencies"])
    for extra in ("notebooks", "dev"):
        requirements.update(project["optional-dependencies"][extra])
    return {_normalise(r) for r in requirements}


def _environment_requirements() -> set[str]:
    lines = (ROOT / "environment.yml").read_text().splitlines()
    pip_lines = [line.strip()[2:] for line in lines if line.startswith("      - ")]
    return {_normalise(line) for line in pip_lines if not line.startswith("-e ")}


def test_environment_yml_names_the_same_dependencies_as_pyproject():
    assert _environment_requirements() == _pyproject_requirements()


def test_environment_yml_installs_the_package_itself():
    assert "      - -e .[notebooks,dev]" in (ROOT / "environment.yml").read_text().splitlines()


def test_tensorflow_cpu_on_linux_x86_and_tensorflow_elsewhere():
    requirements = _pyproject_requirements()
    assert any(r.startswith("tensorflow-cpu>=") and "x86_64" in r for r in requirements)
    assert any(r.startswith("tensorflow>=") and "!=" in r for r in requirements)


# The linter is the one exact pin: its formatter's output changes between releases, and
# `make test` fails on any file it would reformat.
EXACT_PINS = ("ruff==",)
# Upper bounds with a reason (written beside them in pyproject.toml): ipykernel 7 can hang a
# notebook run.
KNOWN_UPPER_BOUNDS = ("ipykernel>=6.29,<7",)


def test_only_lower_bounds_are_pinned():
    for requirement in _pyproject_requirements():
        version_part = requirement.split(";")[0]
        if version_part.startswith(EXACT_PINS) or version_part in KNOWN_UPPER_BOUNDS:
            continue
        assert "==" not in version_part and "<" not in version_part and ">=" in version_part, (
            requirement
        )


def test_console_script_and_module_give_the_same_help():
    script = subprocess.run(
        [Path(sys.executable).parent / "melody_rnn", "--help"], capture_output=True, text=True
    )
    module = subprocess.run(
        [sys.executable, "-m", "melodylib", "--help"], capture_output=True, text=True
    )
    assert script.returncode == module.returncode == 0
    assert script.stdout == module.stdout
    for command in ("convert", "create_dataset", "train", "generate"):
        assert command in script.stdout


def test_import_does_not_load_tensorflow():
    code = "import sys, melodylib; melodylib.get_config; print('tensorflow' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr


def test_notebooks_open_on_the_kernel_that_setup_registers():
    """`make lab` opens every notebook on the course's own kernel, which both install targets register."""
    import json

    makefile = (ROOT / "Makefile").read_text()
    registered = re.findall(r"ipykernel install --sys-prefix --name (\S+)", makefile)
    assert registered == ["melodylib", "melodylib"]  # make setup and make offline-install
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert [path.name[:3] for path in notebooks] == [
        f"{number:02d}_" for number in range(len(notebooks))
    ]
    for path in notebooks:
        assert json.loads(path.read_text())["metadata"]["kernelspec"]["name"] == "melodylib", (
            path.name
        )
