"""run_dir/run_config.json: the config a run was trained with, so that resuming with another
config is refused and a run_dir can be loaded without naming its config again."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from melodylib.atomic import write_text_atomically
from melodylib.encoding.configs import MelodyRnnConfig, config_from_dict, config_to_dict
from melodylib.errors import MelodylibError

RUN_CONFIG_FILE = "run_config.json"


def write_run_config(run_dir: Path, config: MelodyRnnConfig) -> None:
    """Record `config` in run_dir (atomically)."""
    path = run_dir / RUN_CONFIG_FILE
    write_text_atomically(path, json.dumps(config_to_dict(config), indent=2, sort_keys=True))


def read_run_config(path: Path) -> MelodyRnnConfig | None:
    """The config stored at `path` (a run_config.json), or None if there is none."""
    if not path.exists():
        return None
    return config_from_dict(json.loads(path.read_text()))


def check_run_config(run_dir: Path, config: MelodyRnnConfig) -> None:
    """Refuse to resume a run_dir trained with another config or other layer sizes, naming both values."""
    path = run_dir / RUN_CONFIG_FILE
    if not path.exists():
        return
    try:
        stored = config_from_dict(json.loads(path.read_text()))
    except (OSError, ValueError) as error:
        raise MelodylibError(
            f"{path} is unreadable ({error}); delete it or use another --run_dir"
        ) from None
    if stored.name != config.name or stored.encoder.input_size != config.encoder.input_size:
        raise MelodylibError(
            f"{run_dir} holds a {stored.name} run (input size {stored.encoder.input_size}), but --config "
            f"is {config.name} (input size {config.encoder.input_size}); use another --run_dir"
        )
    for name in ("rnn_layer_sizes", "attn_length"):
        old, new = getattr(stored.hparams, name), getattr(config.hparams, name)
        if list(np.atleast_1d(old)) != list(np.atleast_1d(new)):
            shown = ",".join(str(v) for v in np.atleast_1d(old))
            shown = f"[{shown}]" if name == "rnn_layer_sizes" else shown
            raise MelodylibError(
                f"--hparams do not match the checkpoint in {run_dir}: {name} is {old} in the checkpoint "
                f"and {new} now; pass --hparams={name}={shown} (or use another --run_dir)"
            )
