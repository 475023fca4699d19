"""A run's learning curve as a PNG: training and eval loss from its TensorBoard summaries.

Used for the curves of the pretrained bundles in data/README.md:

    .venv/bin/python tools/training_curve.py --run_dir=output/runs/basic_rnn \
        --output=data/curves/basic_rnn.png --title="basic_rnn, batch 64"

It reads the `loss` scalars that `melody_rnn train` writes under Magenta's tag in run_dir/train
and run_dir/eval (every event file, so a run resumed several times gives one curve), plots them
with the course's `plot_training_curves` (the training loss as a running median of 5 summaries),
marks the step with the lowest eval loss and prints it.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from melodylib.errors import MelodylibError


def read_losses(directory: Path) -> list[dict[str, float]]:
    """The `loss` scalars of one summary folder as [{"step", "loss"}], by step (the last write wins)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.util.tensor_util import make_ndarray

    if not directory.is_dir():
        return []
    accumulator = EventAccumulator(str(directory), size_guidance={"tensors": 0, "scalars": 0})
    accumulator.Reload()
    by_step: dict[int, float] = {}
    if "loss" in accumulator.Tags().get("tensors", []):
        for event in accumulator.Tensors("loss"):
            by_step[int(event.step)] = float(make_ndarray(event.tensor_proto))
    elif "loss" in accumulator.Tags().get("scalars", []):
        for event in accumulator.Scalars("loss"):
            by_step[int(event.step)] = float(event.value)
    return [{"step": step, "loss": by_step[step]} for step in sorted(by_step)]


def running_median(rows: list[dict[str, float]], width: int) -> list[dict[str, float]]:
    """The training loss as a running median of `width` summaries: one batch's loss jumps about,
    and a median (unlike a mean) also drops the odd log window of a step or two."""
    import numpy as np

    losses = [row["loss"] for row in rows]
    half = width // 2
    return [
        {"step": row["step"], "loss": float(np.median(losses[max(0, i - half) : i + half + 1]))}
        for i, row in enumerate(rows)
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run_dir", type=Path, required=True)
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--title", default=None)
    args = parser.parse_args(argv)

    from melodylib.course.display.curves import plot_training_curves
    from melodylib.training.loop import TrainingResult

    history = running_median(read_losses(args.run_dir / "train"), 5)
    eval_history = read_losses(args.run_dir / "eval")
    if not history and not eval_history:
        raise MelodylibError(f"{args.run_dir}: no loss summaries in train/ or eval/")
    last_step = max(row["step"] for row in history + eval_history)
    result = TrainingResult(str(args.run_dir), int(last_step), history=history)
    result.eval_history = eval_history
    figure = plot_training_curves(result, ["loss"], title=args.title or args.run_dir.name)
    from matplotlib.ticker import MaxNLocator

    axis = figure.axes[0]
    axis.set_ylabel("nats per step")
    axis.xaxis.set_major_locator(MaxNLocator(6, integer=True))
    if eval_history:
        best = min(eval_history, key=lambda row: row["loss"])
        axis.axvline(best["step"], color="grey", linewidth=0.8, linestyle=":")
        axis.annotate(
            f"best eval {best['loss']:.3f}\nat step {best['step']:,}",
            (best["step"], best["loss"]),
            textcoords="offset points",
            xytext=(-90, 25),
            fontsize=8,
        )
        print(f"best eval loss {best['loss']:.4f} at step {best['step']}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    partial = args.output.with_name(args.output.name + ".partial.png")
    figure.savefig(partial, dpi=110)
    os.replace(partial, args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
