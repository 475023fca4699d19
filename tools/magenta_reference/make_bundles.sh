#!/usr/bin/env bash
# Part B, step 1: train tiny Melody RNN models with Magenta 2.1.4's own melody_rnn_train and write
# generator bundles with melody_rnn_generate --save_generator_bundle, into tests/data/magenta/bundles/.
# Needs make_pipeline_fixtures.sh to have run first (it leaves the per-config datasets in $WORK).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
VENV="${MAGENTA_VENV:-/tmp/magenta-venv}"
WORK="${MAGENTA_WORK:-/tmp/magenta_reference_work}"
OUT="$REPO/tests/data/magenta/bundles"
STEPS="${TRAIN_STEPS:-300}"  # enough for biases to move well away from their zero init
export TF_USE_LEGACY_KERAS=1 TF_CPP_MIN_LOG_LEVEL=2
run() { "$VENV/bin/python" "$HERE/run_magenta.py" "$@"; }
mkdir -p "$OUT" "$WORK/logs"

# name | config | training hparams | hparams when writing the bundle (its batch size is the batch
# dimension baked into the bundle's generation graph; the layer hparams must match training).
# learning_rate 0.01 (10x the default) so that 300 steps move the biases well away from zero and a
# wrong gate order in the importer changes the log-likelihood by far more than the 1e-3 tolerance.
BUNDLES=(
  "basic_rnn_small|basic_rnn|batch_size=8,rnn_layer_sizes=[32,24],learning_rate=0.01|batch_size=8,rnn_layer_sizes=[32,24]"
  "mono_rnn_small|mono_rnn|batch_size=8,rnn_layer_sizes=[32,24],learning_rate=0.01|batch_size=8,rnn_layer_sizes=[32,24]"
  "lookback_rnn_small|lookback_rnn|batch_size=8,rnn_layer_sizes=[32,24],learning_rate=0.01|batch_size=8,rnn_layer_sizes=[32,24]"
  "attention_rnn_small|attention_rnn|batch_size=8,rnn_layer_sizes=[32,24],attn_length=8,learning_rate=0.01|batch_size=8,rnn_layer_sizes=[32,24],attn_length=8"
  "attention_rnn_small_attn40|attention_rnn|batch_size=8,rnn_layer_sizes=[32,24],learning_rate=0.01|batch_size=8,rnn_layer_sizes=[32,24]"
  "basic_rnn_default|basic_rnn|batch_size=8,learning_rate=0.01|batch_size=1"
)
for spec in "${BUNDLES[@]}"; do
  IFS='|' read -r name config hparams bundle_hparams <<< "$spec"
  run_dir="$WORK/runs/$name"
  rm -rf "$run_dir"
  echo "training $name ($config, $hparams) for $STEPS steps"
  run magenta.models.melody_rnn.melody_rnn_train --config="$config" --hparams="$hparams" \
    --run_dir="$run_dir" --sequence_example_file="$WORK/dataset/$config/training_melodies.tfrecord" \
    --num_training_steps="$STEPS" --summary_frequency=10 > "$WORK/logs/train_$name.log" 2>&1
  run magenta.models.melody_rnn.melody_rnn_generate --config="$config" --hparams="$bundle_hparams" \
    --run_dir="$run_dir" --bundle_file="$OUT/$name.mag" --save_generator_bundle \
    --bundle_description="melodylib test fixture: $config, training hparams $hparams, $STEPS training steps on tests/data/magenta/real_midi; bundle written with hparams $bundle_hparams" \
    > "$WORK/logs/bundle_$name.log" 2>&1
done
ls -l "$OUT"
