#!/usr/bin/env bash
# Part C: rough speed of Magenta 2.1.4 on this machine (for issue 9's comparison; not a fixture).
# Trains basic_rnn and attention_rnn at default hparams (batch 128, [128,128]) for 30 steps on the
# real_midi datasets, then generates 10 melodies of 128 steps from bundles/basic_rnn_default.mag.
# Needs make_pipeline_fixtures.sh and make_bundles.sh to have run first.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
VENV="${MAGENTA_VENV:-/tmp/magenta-venv}"
WORK="${MAGENTA_WORK:-/tmp/magenta_reference_work}"
export TF_USE_LEGACY_KERAS=1 TF_CPP_MIN_LOG_LEVEL=2
run() { "$VENV/bin/python" "$HERE/run_magenta.py" "$@"; }
mkdir -p "$WORK/logs"

for config in basic_rnn attention_rnn; do
  rm -rf "$WORK/timing/$config"
  start=$(date +%s.%N)
  run magenta.models.melody_rnn.melody_rnn_train --config="$config" \
    --run_dir="$WORK/timing/$config" \
    --sequence_example_file="$WORK/dataset/$config/training_melodies.tfrecord" \
    --num_training_steps=30 --summary_frequency=10 > "$WORK/logs/timing_train_$config.log" 2>&1
  end=$(date +%s.%N)
  echo "$config train: 30 steps, wall $(echo "$end - $start" | bc) s (process start to exit);" \
       "StepCounterHook: $(grep -o 'global_step/sec: [0-9.]*' "$WORK/logs/timing_train_$config.log" | grep -v INFO | tr '\n' ' ')"
done

rm -rf "$WORK/timing/generated"
start=$(date +%s.%N)
run magenta.models.melody_rnn.melody_rnn_generate --config=basic_rnn \
  --bundle_file="$REPO/tests/data/magenta/bundles/basic_rnn_default.mag" \
  --output_dir="$WORK/timing/generated" --num_outputs=10 --num_steps=128 --primer_melody="[60]" \
  > "$WORK/logs/timing_generate.log" 2>&1
end=$(date +%s.%N)
echo "basic_rnn generate: 10 outputs x 128 steps, wall $(echo "$end - $start" | bc) s (process start to exit)"
grep -E "^I[0-9]+ [0-9:.]+ .*(Wrote|Beam search yields)" "$WORK/logs/timing_generate.log" \
  | awk '{print $2}' | sed -n '1p;$p' | tr '\n' ' ' | sed 's/^/first and last generation log times: /'
echo

# The same generation from the default-hparams run directory: the generation graph then has the
# training batch size (128) as its batch dimension, as a bundle saved with default hparams would.
rm -rf "$WORK/timing/generated_batch128"
start=$(date +%s.%N)
run magenta.models.melody_rnn.melody_rnn_generate --config=basic_rnn \
  --run_dir="$WORK/timing/basic_rnn" \
  --output_dir="$WORK/timing/generated_batch128" --num_outputs=10 --num_steps=128 --primer_melody="[60]" \
  > "$WORK/logs/timing_generate_batch128.log" 2>&1
end=$(date +%s.%N)
echo "basic_rnn generate from run_dir (graph batch 128): 10 outputs x 128 steps, wall $(echo "$end - $start" | bc) s"
grep -E "^I[0-9]+ [0-9:.]+ .*(Restoring parameters|Wrote)" "$WORK/logs/timing_generate_batch128.log" \
  | awk '{print $2}' | tr '\n' ' ' | sed 's/^/checkpoint restored at, files written at: /'
echo
