"""The names of the files `create_dataset` writes in its output folder, which readers look for."""

TRAINING_FILE = "training_melodies.tfrecord"
EVAL_FILE = "eval_melodies.tfrecord"
INFO_FILE = "dataset_info.json"
