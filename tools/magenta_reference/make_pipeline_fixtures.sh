#!/usr/bin/env bash
# Part A: run Magenta 2.1.4's own entry points on tests/data/magenta/real_midi and record the results.
#   1. convert_dir_to_note_sequences        -> notesequences.tfrecord
#   2. melody_rnn_create_dataset x 4 configs -> <config>/training_melodies.tfrecord (eval_ratio 0)
#   3. pipeline_reference.py                 -> per-file melodies/counters JSON, checked against 1 and 2
#   4. dump_notesequences.py                 -> the NoteSequences of step 1 as JSON
# Then gzip the results into tests/data/magenta/. Needs the magenta venv (see README.md).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
VENV="${MAGENTA_VENV:-/tmp/magenta-venv}"
WORK="${MAGENTA_WORK:-/tmp/magenta_reference_work}"
DATA="$REPO/tests/data/magenta"
export TF_USE_LEGACY_KERAS=1 TF_CPP_MIN_LOG_LEVEL=2
run() { "$VENV/bin/python" "$HERE/run_magenta.py" "$@"; }

rm -rf "$WORK" && mkdir -p "$WORK/logs"
run magenta.scripts.convert_dir_to_note_sequences \
  --input_dir="$DATA/real_midi" --output_file="$WORK/notesequences.tfrecord" \
  > "$WORK/logs/convert.log" 2>&1
for config in basic_rnn mono_rnn lookback_rnn attention_rnn; do
  run magenta.models.melody_rnn.melody_rnn_create_dataset --config="$config" \
    --input="$WORK/notesequences.tfrecord" --output_dir="$WORK/dataset/$config" --eval_ratio=0.0 \
    > "$WORK/logs/create_dataset_$config.log" 2>&1
done
"$VENV/bin/python" "$HERE/pipeline_reference.py" "$WORK/notesequences.tfrecord" "$WORK/dataset" \
  "$DATA/pipeline_reference.json.gz" 2> "$WORK/logs/pipeline_reference.log"
"$VENV/bin/python" "$HERE/dump_notesequences.py" "$WORK/notesequences.tfrecord" \
  "$DATA/notesequences.json.gz" 2>> "$WORK/logs/pipeline_reference.log"

gzip -9 -n -c "$WORK/notesequences.tfrecord" > "$DATA/notesequences.tfrecord.gz"
for config in basic_rnn mono_rnn lookback_rnn attention_rnn; do
  gzip -9 -n -c "$WORK/dataset/$config/training_melodies.tfrecord" \
    > "$DATA/${config}_training_melodies.tfrecord.gz"
done
ls -l "$DATA"
