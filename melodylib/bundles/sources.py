"""The one place that turns what a user hands over into a model: our bundle or a Magenta `.mag`
(`--bundle_file`), a training run_dir (ours or Magenta's, `--run_dir`), or a checkpoint
(`--checkpoint_file`), each with the config it was trained with.

`generate`, `evaluate` and `train --eval`, `MelodyGenerator` and `evaluate_model` all come here,
so they accept the same sources and fail with the same messages.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from melodylib.bundles.bundle import Bundle
from melodylib.bundles.reading import load_bundle
from melodylib.encoding.configs import MelodyRnnConfig
from melodylib.errors import MelodylibError
from melodylib.training.run_config import RUN_CONFIG_FILE, read_run_config

__all__ = [
    "load_bundle",
    "load_model",
    "load_trained_model",
    "model_and_config",
    "with_flag_overrides",
]


def load_model(
    bundle_file: str | os.PathLike | None = None,
    run_dir: str | os.PathLike | None = None,
    checkpoint_file: str | os.PathLike | None = None,
    config: MelodyRnnConfig | None = None,
) -> tuple[Any, MelodyRnnConfig, str]:
    """The model a bundle, run_dir or checkpoint holds: (model, config, a name to show for it).

    Give a bundle, or a run_dir or checkpoint (run_dir wins if both are given). A bundle brings its
    own config (`config`, if given, must agree); a run_dir or checkpoint of ours brings it in
    run_config.json (`config`, if given, must have the same name); a Magenta one takes its
    sizes from the shapes, and its config from `config` or from those sizes.
    """
    if bundle_file and (run_dir or checkpoint_file):
        raise MelodylibError("give either --bundle_file or --run_dir/--checkpoint_file, not both")
    if bundle_file:
        model, config = _model_from_bundle(load_bundle(bundle_file), config)
        return model, config, f"{config.name} ({bundle_file})"
    if run_dir or checkpoint_file:
        model, config, step = load_trained_model(run_dir or None, checkpoint_file or None, config)
        return model, config, f"{config.name} (step {step})"
    raise MelodylibError("give --bundle_file, --run_dir or --checkpoint_file")


def model_and_config(
    model_or_bundle: Any, config: MelodyRnnConfig | None
) -> tuple[Any, MelodyRnnConfig]:
    """Accept a Bundle, a path to a bundle, or a Keras model (with its config)."""
    if isinstance(model_or_bundle, (str, os.PathLike)):
        model, config, _ = load_model(bundle_file=model_or_bundle, config=config)
        return model, config
    if isinstance(model_or_bundle, Bundle):
        return _model_from_bundle(model_or_bundle, config)
    if config is None:
        raise MelodylibError("pass the config the model was built from (config=get_config(...))")
    return model_or_bundle, config


def _model_from_bundle(
    bundle: Bundle, config: MelodyRnnConfig | None
) -> tuple[Any, MelodyRnnConfig]:
    """The bundle's model and config; `config`, if given, must be the bundle's."""
    if config is not None:
        bundle.check_compatible(config)
    return bundle.build_model(), bundle.config


def load_trained_model(
    run_dir: str | os.PathLike | None = None,
    checkpoint_file: str | None = None,
    config: MelodyRnnConfig | None = None,
):
    """Rebuild a model from a run_dir (its latest checkpoint) or a checkpoint prefix; returns (model, config, step).

    1. A run_dir or checkpoint written by Magenta itself (TF1 variable names) is imported.
    2. Otherwise find our checkpoint prefix and the run_config.json beside it.
    3. Take the config from run_config.json (checked against `config`) or from `config`.
    4. Build the model and restore the checkpoint into it.
    """
    import tensorflow as tf

    from melodylib.bundles.magenta import is_magenta_checkpoint, load_magenta_checkpoint
    from melodylib.models.melody_rnn import build_model
    from melodylib.training.checkpoints import restore

    if run_dir is None and checkpoint_file is None:
        raise MelodylibError("give --run_dir or --checkpoint_file")
    # 1. Magenta's own.
    magenta_path = run_dir if run_dir is not None else checkpoint_file
    if is_magenta_checkpoint(magenta_path):
        bundle = load_magenta_checkpoint(magenta_path, config)
        return bundle.build_model(), bundle.config, int(bundle.training.get("training_steps", 0))
    # 2. Ours.
    checkpoint_file, stored_config = _our_checkpoint(run_dir, checkpoint_file)
    # 3. Its config.
    config = _trained_config(checkpoint_file, stored_config, config)
    # 4. The model.
    model = build_model(config)
    global_step = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
    checkpoint = tf.train.Checkpoint(model=model, global_step=global_step)
    restore(
        checkpoint,
        checkpoint_file,
        f"the checkpoint does not match {config.name} with hparams {config.hparams.to_string()}",
    )
    return model, config, int(global_step.numpy())


def _our_checkpoint(
    run_dir: str | os.PathLike | None, checkpoint_file: str | None
) -> tuple[str, Path]:
    """(checkpoint prefix, path of the run's run_config.json) for a run_dir or a checkpoint (prefix or folder)."""
    import tensorflow as tf

    from melodylib.training.checkpoints import latest_checkpoint

    if run_dir is not None:
        run_dir = Path(run_dir)
        if not run_dir.is_dir():
            raise MelodylibError(f"--run_dir {run_dir} does not exist (or is not a folder)")
        checkpoint_file = latest_checkpoint(run_dir)
        if checkpoint_file is None:
            raise MelodylibError(
                f"--run_dir {run_dir}: no checkpoint in {run_dir / 'train'}; has training written one yet?"
            )
        return checkpoint_file, run_dir / RUN_CONFIG_FILE
    if Path(checkpoint_file).is_dir():
        found = tf.train.latest_checkpoint(str(checkpoint_file))
        if found is None:
            raise MelodylibError(
                f"--checkpoint_file {checkpoint_file} is a folder with no checkpoint in it"
            )
        checkpoint_file = found
    if not Path(f"{checkpoint_file}.index").exists():
        raise MelodylibError(
            f"--checkpoint_file {checkpoint_file}: no such checkpoint (expected {checkpoint_file}.index); "
            "give the prefix, e.g. RUN_DIR/train/ckpt-1000"
        )
    return checkpoint_file, Path(checkpoint_file).parent.parent / RUN_CONFIG_FILE


def _trained_config(
    checkpoint_file: str, stored_config: Path, config: MelodyRnnConfig | None
) -> MelodyRnnConfig:
    """The config a checkpoint was trained with: the stored one (whose name `config` must share), else `config`."""
    stored = read_run_config(stored_config)
    if stored is not None:
        if config is None:
            config = stored
        elif config.name != stored.name:
            raise MelodylibError(
                f"{checkpoint_file} was trained as {stored.name}, but --config is {config.name}"
            )
    if config is None:
        raise MelodylibError(
            f"{checkpoint_file}: the config is unknown (no {RUN_CONFIG_FILE}); pass --config"
        )
    return config


# The hparams a trained model's weights fix; the others (batch_size, dropout_keep_prob, clip_norm,
# learning_rate, use_cudnn) only concern training and may be overridden on a loaded model.
ARCHITECTURE_HPARAMS = (
    "rnn_layer_sizes",
    "attn_length",
    "residual_connections",
    "attention_layout",
)


def with_flag_overrides(
    config: MelodyRnnConfig,
    source: str,
    hparams: str | None = None,
    generator_id: str | None = None,
    description: str | None = None,
) -> MelodyRnnConfig:
    """A loaded model's config with --hparams, --generator_id and --generator_description applied.

    Magenta applies --hparams to a bundle's config too, where the graph baked into the bundle
    then decides the architecture; here an --hparams value that contradicts the weights of
    `source` (layer sizes, attention length or layout) is refused, naming both values.
    """
    import dataclasses

    new_hparams = config.hparams.with_overrides(hparams or None)
    for name in ARCHITECTURE_HPARAMS:
        old, new = getattr(config.hparams, name, None), getattr(new_hparams, name, None)
        if old != new:
            raise MelodylibError(
                f"--hparams sets {name}={new}, but the model in {source} has {name}={old} (its "
                f"weights fix it); leave {name} out of --hparams"
            )
    return dataclasses.replace(
        config,
        hparams=new_hparams,
        name=generator_id or config.name,
        description=description or config.description,
    )
