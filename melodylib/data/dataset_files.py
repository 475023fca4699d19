"""The names of the files `create_dataset` writes in its output folder, which readers look for."""

TRAINING_FILE = "training_melodies.tfrecord"
EVAL_FILE = "eval_melodies.tfrecord"
INFO_FILE = "dataset_info.json"
# dataset_info.json's "training_order": the training melodies are written in an order drawn from
# the seed, so that a small shuffle buffer (Magenta's holds 500) still mixes the collections.
TRAINING_ORDER = "seeded_random"
