#!/usr/bin/env bash
# A small virtual environment that runs note_seq 0.0.5's own MIDI reader and NoteSequence protobuf,
# for the cross test in tests/test_notesequence_proto.py (note_seq writes a TFRecord that melodylib
# reads, and reads the one melodylib writes).
#
# note_seq's __init__ imports librosa, bokeh, pandas and more. The test never runs it: its driver
# (tools/note_seq_cross.py) loads note_seq.midi_io and note_seq.protobuf.music_pb2, which need only
# note_seq.constants, protobuf and pretty_midi. So everything is installed with --no-deps from
# this complete list. protobuf is the oldest version TensorFlow 2.21 accepts, so the driver also
# checks melodylib's schema module on it. About 30-60 s with a cold pip cache.
#
# It is never the project's venv: importing note_seq raises pretty_midi's MAX_TICK for the whole
# process.
#
# Usage: tools/note_seq_venv.sh [VENV_DIR]   (default .venv-note-seq, where the test looks first;
#                                            PYTHON picks the interpreter, default python3)
# Elsewhere: export MELODYLIB_NOTE_SEQ_PYTHON=VENV_DIR/bin/python
set -euo pipefail
VENV_DIR="${1:-.venv-note-seq}"
PYTHON="${PYTHON:-python3}"

"$PYTHON" -m venv "$VENV_DIR"
"$VENV_DIR/bin/python" -m pip install --disable-pip-version-check --quiet --no-deps \
    "note-seq==0.0.5" \
    "protobuf==6.31.1" \
    "pretty_midi==0.2.11.post0" "mido==1.3.3" "packaging>=23" "numpy>=1.26" "six>=1.16" \
    "importlib_resources>=6" \
    "google-crc32c>=1.5"
"$VENV_DIR/bin/python" - <<'CHECK'
import importlib.util, sys, types
spec = importlib.util.find_spec("note_seq")
package = types.ModuleType("note_seq")
package.__path__ = list(spec.submodule_search_locations)
sys.modules["note_seq"] = package
import note_seq.midi_io, note_seq.protobuf.music_pb2, google_crc32c  # noqa: E401
CHECK
echo "note_seq venv ready: export MELODYLIB_NOTE_SEQ_PYTHON=$VENV_DIR/bin/python"
