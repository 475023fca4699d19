#!/usr/bin/env bash
# The 2016 attention layout (attention around the whole stack of LSTM layers, as in Magenta's
# published attention_rnn.mag): train a tiny attention_rnn with Magenta 2.1.4's own melody_rnn_train
# and cells, its make_rnn_cell swapped for the 2016 assembly (run_magenta_2016.py), then write two
# bundles with melody_rnn_generate --save_generator_bundle from the same checkpoint:
#   attention_rnn_whole_stack.mag      TF >= 1.2 names, tuple state (as Magenta 2.1.4 writes graphs)
#   attention_rnn_whole_stack_tf0.mag  TF 0.x names (RNN/AttentionCellWrapper/.../Linear/Matrix) and
#                                      one concatenated state tensor, batch 1: the 2016 bundles' form
# and their expected log-likelihoods (loglik_reference.py) into tests/data/magenta/bundles/whole_stack/.
# Needs only the magenta venv and tests/data/magenta/attention_rnn_training_melodies.tfrecord.gz.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
VENV="${MAGENTA_VENV:-/tmp/magenta-venv}"
WORK="${MAGENTA_WORK:-/tmp/magenta_reference_work}/whole_stack"
DATA="$REPO/tests/data/magenta"
OUT="$DATA/bundles/whole_stack"
STEPS="${TRAIN_STEPS:-300}"
export TF_USE_LEGACY_KERAS=1 TF_CPP_MIN_LOG_LEVEL=2
run() { "$VENV/bin/python" "$HERE/run_magenta_2016.py" "$@"; }
mkdir -p "$OUT" "$WORK/logs" "$WORK/dataset"
gunzip -c "$DATA/attention_rnn_training_melodies.tfrecord.gz" > "$WORK/dataset/training_melodies.tfrecord"

TRAIN_HPARAMS="batch_size=8,rnn_layer_sizes=[32,24],attn_length=8,learning_rate=0.01"
rm -rf "$WORK/run"
echo "training the whole-stack attention_rnn ($TRAIN_HPARAMS) for $STEPS steps"
MAGENTA_2016_STATE=tuple run magenta.models.melody_rnn.melody_rnn_train --config=attention_rnn \
  --hparams="$TRAIN_HPARAMS" --run_dir="$WORK/run" \
  --sequence_example_file="$WORK/dataset/training_melodies.tfrecord" \
  --num_training_steps="$STEPS" --summary_frequency=10 > "$WORK/logs/train.log" 2>&1

# name | state layout | variable names | hparams of the generation graph
BUNDLES=(
  "attention_rnn_whole_stack|tuple|tf1.2|batch_size=8,rnn_layer_sizes=[32,24],attn_length=8"
  "attention_rnn_whole_stack_tf0|concatenated|tf0|batch_size=1,rnn_layer_sizes=[32,24],attn_length=8"
)
for spec in "${BUNDLES[@]}"; do
  IFS='|' read -r name state names bundle_hparams <<< "$spec"
  MAGENTA_2016_STATE="$state" MAGENTA_2016_NAMES="$names" run \
    magenta.models.melody_rnn.melody_rnn_generate --config=attention_rnn \
    --hparams="$bundle_hparams" --run_dir="$WORK/run" --bundle_file="$OUT/$name.mag" \
    --save_generator_bundle \
    --bundle_description="melodylib test fixture: attention_rnn in the 2016 layout (attention around the whole stack), training hparams $TRAIN_HPARAMS, $STEPS training steps on tests/data/magenta/real_midi; $state state, $names variable names; bundle written with hparams $bundle_hparams" \
    > "$WORK/logs/bundle_$name.log" 2>&1
done
"$VENV/bin/python" "$HERE/loglik_reference.py" "$OUT" "$DATA/pipeline_reference.json.gz" \
  "$OUT/loglik_expected.json" "$OUT/loglik_softmax.npz"
ls -l "$OUT"
