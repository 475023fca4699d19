"""`melody_rnn doctor`: check an installation in one command, each problem with its fix.

Reports Python and package versions, whether TensorFlow sees a GPU, whether the course corpus
is built, whether the pretrained bundles load, which synthesizer plays audio, whether scores
render, and the time of one training step at the course's default size.
"""

from __future__ import annotations

import importlib.metadata
import platform
import sys
import time
from dataclasses import dataclass

PACKAGES = (
    "melodylib",
    "tensorflow",
    "tensorflow-cpu",
    "keras",
    "music21",
    "pretty_midi",
    "matplotlib",
    "numpy",
    "jupyterlab",
)


@dataclass
class Check:
    """One line of the report: what was checked, whether it is fine, and the fix if not."""

    name: str
    ok: bool
    detail: str
    fix: str = ""

    def format(self) -> str:
        mark = "ok  " if self.ok else "FAIL"
        return f"[{mark}] {self.name}: {self.detail}" + (
            f"\n       fix: {self.fix}" if not self.ok and self.fix else ""
        )


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def check_python() -> Check:
    ok = sys.version_info >= (3, 10)
    return Check(
        "Python",
        ok,
        f"{platform.python_version()} at {sys.executable}",
        "install Python 3.10 or newer and run `make setup` again",
    )


def check_packages() -> Check:
    found = {name: _version(name) for name in PACKAGES}
    tensorflow = found.get("tensorflow") or found.get("tensorflow-cpu")
    missing = [
        name
        for name in ("keras", "music21", "pretty_midi", "matplotlib", "numpy")
        if not found[name]
    ]
    if not tensorflow:
        missing.append("tensorflow")
    detail = ", ".join(f"{name} {version}" for name, version in found.items() if version)
    return Check(
        "packages",
        not missing,
        detail + (f"; missing: {', '.join(missing)}" if missing else ""),
        "run `make setup` (or `pip install -e .`)",
    )


def check_gpu() -> Check:
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    detail = (
        f"{len(gpus)} GPU(s): {', '.join(gpu.name for gpu in gpus)}"
        if gpus
        else "none; training runs on the CPU (fine for this course)"
    )
    return Check("GPU", True, detail)


def check_corpus() -> Check:
    from melodylib.course import corpus

    built = [subset for subset in corpus.SUBSETS if corpus.sequences_file(subset).exists()]
    if "full" in built:
        return Check(
            "course corpus", True, f"built in {corpus.subset_dir('full')} ({', '.join(built)})"
        )
    return Check(
        "course corpus",
        False,
        f"the full corpus is not built (present: {', '.join(built) or 'none'})",
        "run `melody_rnn build_corpus` (a few minutes), or use quick mode (MELODYLIB_QUICK=1) meanwhile",
    )


def check_bundles() -> Check:
    from melodylib.bundles.reading import load_bundle
    from melodylib.course.shipped import shipped_bundles

    bundles = shipped_bundles()
    problems = []
    for name, path in bundles.items():
        try:
            load_bundle(path).build_model()
        except Exception as error:  # report every kind of failure, it is a diagnosis
            problems.append(f"{name}: {error}")
    missing = 4 - len(bundles)
    ok = not problems and not missing
    detail = f"{len(bundles)} of 4 load" + (f"; {'; '.join(problems)}" if problems else "")
    return Check(
        "pretrained bundles",
        ok,
        detail,
        "get data/bundles/ from the repository again (git checkout data/bundles)",
    )


def check_audio() -> Check:
    from melodylib.course.display import synthesize, synthesizer_name
    from melodylib.music import synthesis
    from melodylib.music.melodies import Melody

    samples = synthesize(Melody([60, -2, 64, -2, 67]).to_note_sequence(), sample_rate=8000)
    name = synthesizer_name()
    ok = samples.size > 0 and float(abs(samples).max()) > 0
    detail = synthesis.ENGINE_LABELS[name]
    if name == "soundfont":
        detail += f" ({synthesis.default_soundfont().name})"
    else:
        why = "; ".join(synthesis._choice.failed.values())
        detail += f": instruments need midirenderer (pip install midirenderer), {why}"
    return Check("audio", ok, detail, "reinstall the project (`make setup`)")


def check_scores() -> Check:
    from melodylib.music.notation import render_score

    try:
        svg = render_score([60, -2, 64, -2, 67, -2, -2, -2], title="doctor")
    except Exception as error:  # any failure here means no scores in the notebooks
        return Check("scores", False, f"{type(error).__name__}: {error}", "pip install verovio")
    notes = svg.count('class="note"')
    return Check(
        "scores", notes == 3, f"verovio engraves a score ({notes} notes)", "pip install verovio"
    )


def check_training_step() -> Check:
    import numpy as np
    import tensorflow as tf

    from melodylib.encoding.configs import get_config
    from melodylib.models.melody_rnn import build_model
    from melodylib.training.metrics import batch_metric_sums
    from melodylib.training.step import make_optimizer

    config = get_config("basic_rnn")
    model = build_model(config)
    optimizer = make_optimizer(config)
    rng = np.random.default_rng(0)
    labels = rng.integers(0, config.encoder.num_classes, size=(config.hparams.batch_size, 256))
    inputs = tf.one_hot(labels, config.encoder.input_size)
    mask = tf.ones(labels.shape)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            sums = batch_metric_sums(labels, model(inputs, training=True), mask, 0)
            loss = sums[0] / sums[1]
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return loss

    step()
    started = time.perf_counter()
    for _ in range(3):
        step()
    seconds = (time.perf_counter() - started) / 3
    return Check(
        "training step",
        True,
        f"{seconds:.2f} s for basic_rnn, batch 128 x 256 steps "
        f"(about {1000 * seconds / 60:.0f} min per 1,000 steps)",
    )


CHECKS = (
    check_python,
    check_packages,
    check_gpu,
    check_corpus,
    check_bundles,
    check_audio,
    check_scores,
    check_training_step,
)


def run_checks(print_line=print) -> list[Check]:
    """Run every check, printing each line as it is known; returns the results."""
    results = []
    for check in CHECKS:
        try:
            result = check()
        except Exception as error:  # a check that crashes is itself the finding
            result = Check(
                check.__name__.replace("check_", ""),
                False,
                f"{type(error).__name__}: {error}",
                "run `make setup` again; if it persists, report this line",
            )
        results.append(result)
        print_line(result.format())
    return results
