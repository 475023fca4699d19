#!/usr/bin/env bash
# Regenerate every fixture under tests/data/magenta/ (see README.md beside this script).
# Steps 1 uses the project's venv (music21); the others use the separate magenta venv.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
VENV="${MAGENTA_VENV:-/tmp/magenta-venv}"
DATA="$REPO/tests/data/magenta"
export TF_USE_LEGACY_KERAS=1 TF_CPP_MIN_LOG_LEVEL=2

"$REPO/.venv/bin/python" "$HERE/build_real_midi.py"                 # 1. real_midi/*.mid + SOURCES.md
"$HERE/make_pipeline_fixtures.sh"                                    # 2. part A fixtures
"$HERE/make_bundles.sh"                                              # 3. bundles/*.mag
"$VENV/bin/python" "$HERE/loglik_reference.py" "$DATA/bundles" \
  "$DATA/pipeline_reference.json.gz" "$DATA/loglik_expected.json" "$DATA/loglik_softmax.npz"  # 4.
"$VENV/bin/python" "$HERE/check_numpy_forward.py" "$DATA/bundles" \
  "$DATA/loglik_expected.json" "$DATA/loglik_softmax.npz"            # 5. independent cross-check
"$HERE/make_whole_stack_bundles.sh"                                  # 6. the 2016 attention layout
du -sh "$DATA"
