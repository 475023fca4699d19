"""`melody_rnn train`: training (Magenta's melody_rnn_train), and with --eval Magenta's separate
eval process, which evaluates every new checkpoint of a run until no new one comes."""

from __future__ import annotations

import argparse

from melodylib.cli.flags import add_boolean, add_config_flags, add_log_flag, config_from_flags
from melodylib.training.strategies import COMMUNICATION_NAMES, STRATEGY_NAMES


def add_train(subparsers) -> None:
    parser = subparsers.add_parser(
        "train",
        help="Train a model on SequenceExamples, with evaluation in the same process.",
        description="Train a Melody RNN (Magenta's melody_rnn_train). Checkpoints and TensorBoard "
        "summaries go to RUN_DIR/train (and RUN_DIR/eval); running again with the same --run_dir "
        "resumes from the latest checkpoint. With --eval, evaluate each new checkpoint of a run "
        "instead (a second process beside the training one, as in Magenta).",
    )
    add_config_flags(parser)
    parser.add_argument(
        "--run_dir",
        default="/tmp/melody_rnn/logdir/run1",
        help="Folder for checkpoints and summaries: RUN_DIR/train and RUN_DIR/eval (default "
        "/tmp/melody_rnn/logdir/run1).",
    )
    parser.add_argument(
        "--sequence_example_file",
        default="",
        help="TFRecord of SequenceExamples to train on (training_melodies.tfrecord), or with "
        "--eval to evaluate on (eval_melodies.tfrecord); globs and comma-separated lists are "
        "allowed. Required.",
    )
    parser.add_argument(
        "--num_training_steps",
        type=int,
        default=0,
        help="Train until this global step; 0 (the default) trains until interrupted. With --eval "
        "(beyond Magenta): stop once a checkpoint at or past this step has been evaluated.",
    )
    parser.add_argument(
        "--summary_frequency",
        type=int,
        default=10,
        help="Steps between log lines and TensorBoard summaries (default 10).",
    )
    parser.add_argument(
        "--num_checkpoints",
        type=int,
        default=10,
        help="How many latest checkpoints to keep; 0 keeps all (default 10).",
    )
    parser.add_argument(
        "--save_checkpoint_secs",
        type=float,
        default=60.0,
        help="Seconds between checkpoints (default 60, as Magenta); one is always written at the end.",
    )
    _add_eval_flags(parser)
    parser.add_argument(
        "--warm_start_bundle",
        default="",
        help="Start from the weights of this bundle (ours or a Magenta .mag) instead of random "
        "ones: fine-tuning.",
    )
    parser.add_argument(
        "--strategy",
        choices=STRATEGY_NAMES,
        default="default",
        help="'mirrored' trains on all local GPUs with tf.distribute.MirroredStrategy; "
        "'multi_worker' on several machines (or processes) with "
        "tf.distribute.MultiWorkerMirroredStrategy: run the same command on every worker, each "
        "with the TF_CONFIG environment variable naming all workers and its own task; the chief "
        "(the chief task, else worker 0) writes RUN_DIR, which every worker must be able to read "
        "(docs/multi-worker.md). batch_size is always the global batch, split between all "
        "replicas.",
    )
    parser.add_argument(
        "--communication",
        choices=COMMUNICATION_NAMES,
        default="auto",
        help="With --strategy multi_worker: how the workers' all-reduce communicates: 'ring' "
        "(gRPC, CPUs and GPUs), 'nccl' (NVIDIA GPUs) or 'auto' (TensorFlow picks; default).",
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="Random seed for weights and shuffling."
    )
    add_log_flag(parser)
    parser.set_defaults(run=run_train)


def _add_eval_flags(parser: argparse.ArgumentParser) -> None:
    """--eval and the flags of evaluation, in a second process or inside training."""
    add_boolean(
        parser,
        "eval",
        False,
        "Instead of training, evaluate each new checkpoint in RUN_DIR/train on "
        "--sequence_example_file, writing summaries to RUN_DIR/eval, until no new checkpoint "
        "comes for --eval_timeout_secs (Magenta's separate eval process; see "
        "--eval_sequence_example_file for evaluation inside training)",
    )
    parser.add_argument(
        "--eval_interval_secs",
        type=float,
        default=60.0,
        help="With --eval: at least this many seconds between two evaluations (default 60, "
        "Magenta's fixed value).",
    )
    parser.add_argument(
        "--eval_timeout_secs",
        type=float,
        default=300.0,
        help="With --eval: stop when no new checkpoint has appeared for this many seconds after "
        "the interval (default 300, Magenta's fixed value); 0 with --eval_interval_secs=0 "
        "evaluates the latest checkpoint once.",
    )
    parser.add_argument(
        "--num_eval_examples",
        type=int,
        default=0,
        help="Melodies per evaluation; 0 (the default) uses the whole eval set.",
    )
    parser.add_argument(
        "--eval_sequence_example_file",
        default="",
        help="Beyond Magenta: evaluate on this eval set (eval_melodies.tfrecord) every "
        "--eval_frequency steps inside the training process, with dropout off.",
    )
    parser.add_argument(
        "--eval_frequency",
        type=int,
        default=100,
        help="Steps between evaluations during training (default 100).",
    )


def run_train(flags: argparse.Namespace) -> int:
    if flags.eval:
        return run_eval(flags)
    from melodylib.training.loop import train

    result = train(
        config_from_flags(flags),
        flags.sequence_example_file,
        flags.run_dir,
        num_training_steps=flags.num_training_steps,
        summary_frequency=flags.summary_frequency,
        num_checkpoints=flags.num_checkpoints,
        save_checkpoint_secs=flags.save_checkpoint_secs,
        eval_sequence_example_file=flags.eval_sequence_example_file or None,
        eval_frequency=flags.eval_frequency,
        num_eval_examples=flags.num_eval_examples,
        warm_start_bundle=flags.warm_start_bundle or None,
        strategy=flags.strategy,
        seed=flags.seed,
        communication=flags.communication,
    )
    if result.is_chief:
        print(f"Finished at step {result.step}; checkpoints in {flags.run_dir}/train.")
    else:
        print(f"Finished at step {result.step}; the chief wrote the checkpoints.")
    return 0


def run_eval(flags: argparse.Namespace) -> int:
    """`train --eval`: the eval loop; the config may come from the run's run_config.json."""
    from melodylib.training.eval_loop import evaluate_repeatedly

    evaluate_repeatedly(
        flags.run_dir,
        flags.sequence_example_file,
        config_from_flags(flags, required=False),
        num_eval_examples=flags.num_eval_examples,
        eval_interval_secs=flags.eval_interval_secs,
        timeout_secs=flags.eval_timeout_secs,
        final_step=max(flags.num_training_steps, 0),
    )
    return 0
