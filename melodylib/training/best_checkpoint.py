"""The best checkpoint of a run: the weights of its lowest eval loss so far, kept in run_dir/best.

Only the latest `num_checkpoints` of a run are kept, and past its plateau the eval loss climbs
again (the model starts to learn its training tunes by heart), so the weights worth shipping may
be long gone by the end. When a run evaluates as it trains, every evaluation that beats the best
so far saves (model, optimizer, global_step) as run_dir/best/ckpt-<step>, the only checkpoint kept
there, and records its step and eval metrics in run_dir/best/best.json. A resumed run reads that
record back, so the best is the best of the whole run. Magenta has no such thing; any command
that takes `--checkpoint_file` takes `RUN_DIR/best` (the folder) for these weights.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

from melodylib.atomic import write_text_atomically
from melodylib.training.checkpoints import checkpoint_number, remove_partial_checkpoints

BEST_DIR = "best"
BEST_FILE = "best.json"


def read_best(run_dir: str | Path) -> dict | None:
    """The record of a run's best evaluation ({"step", "loss", "metrics", "checkpoint"}), or None."""
    path = Path(run_dir) / BEST_DIR / BEST_FILE
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


class BestCheckpoint:
    """Keeps run_dir/best up to date with the evaluation of lowest loss."""

    def __init__(self, model, optimizer, global_step, run_dir: Path) -> None:
        import tensorflow as tf

        self.run_dir = Path(run_dir)
        remove_partial_checkpoints(self.run_dir / BEST_DIR, log=lambda _line: None)
        self.manager = tf.train.CheckpointManager(
            tf.train.Checkpoint(model=model, optimizer=optimizer, global_step=global_step),
            str(self.run_dir / BEST_DIR),
            max_to_keep=1,
        )
        record = read_best(self.run_dir)
        latest = self.manager.latest_checkpoint
        if record and latest and Path(latest).name != record.get("checkpoint"):
            # Killed between the save and the record: the saved weights beat the recorded loss,
            # which therefore still bounds theirs; the record is made to name them.
            record = {
                "step": checkpoint_number(latest),
                "loss": float(record["loss"]),
                "loss_is_an_upper_bound": True,
                "metrics": {},
                "checkpoint": Path(latest).name,
            }
            self._write(record)
        self.best_loss = float(record["loss"]) if record else math.inf

    def consider(self, step: int, metrics: dict[str, float], log: Callable[[str], None]) -> bool:
        """Save the current weights as the best if their eval loss is the lowest yet; True if saved."""
        loss = float(metrics["loss"])
        if not loss < self.best_loss:
            return False
        prefix = self.manager.save(checkpoint_number=step)
        record = {
            "step": int(step),
            "loss": loss,
            "metrics": {
                name: float(value)
                for name, value in metrics.items()
                if isinstance(value, (int, float))
            },
            "checkpoint": Path(prefix).name,
        }
        self._write(record)
        previous = "" if math.isinf(self.best_loss) else f" (was {self.best_loss:.4f})"
        log(f"Best eval loss so far, {loss:.4f}{previous}: saved {prefix}.")
        self.best_loss = loss
        return True

    def _write(self, record: dict) -> None:
        write_text_atomically(
            self.run_dir / BEST_DIR / BEST_FILE, json.dumps(record, indent=2, sort_keys=True)
        )
