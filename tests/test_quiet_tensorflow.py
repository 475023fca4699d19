"""TensorFlow's C++ start-up lines stay out of stderr once melodylib is imported; nothing else does."""

import os
import subprocess
import sys

SCRIPT = (
    "import melodylib, keras, tensorflow as tf, warnings; tf.constant(1) + 1; warnings.warn('kept')"
)


def run(**environment):
    return subprocess.run(
        [sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        env=dict(os.environ, **environment),
        timeout=300,
    )


def test_tensorflow_starts_without_writing_to_stderr_but_warnings_still_show():
    quiet = run()
    assert quiet.returncode == 0, quiet.stderr
    assert "UserWarning: kept" in quiet.stderr
    assert quiet.stderr.strip().splitlines() == [
        line
        for line in quiet.stderr.strip().splitlines()
        if "kept" in line or "warnings.warn" in line
    ]
    loud = run(MELODYLIB_TF_STARTUP_LOG="1")
    assert loud.returncode == 0
    # The lines really are there without the quiet import (else this test would prove nothing).
    assert "absl::InitializeLog" in loud.stderr or "oneDNN" in loud.stderr
