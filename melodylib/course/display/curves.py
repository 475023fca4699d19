"""Training curves: one panel per metric, training solid and eval (held-out) dashed, for one run or
several.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from melodylib.course.display.common import new_figure
from melodylib.errors import MelodylibError

VALIDATION_PREFIXES = ("val_", "eval_")
# Not plotted unless asked for: bookkeeping, and eval-only figures the notebooks do not discuss
# (per-class accuracy is Magenta's eval summary; its curve has no training twin).
BOOKKEEPING_KEYS = frozenset(
    {
        "step",
        "epoch",
        "steps_per_second",
        "padded_fraction",
        "learning_rate",
        "lr",
        "per_class_accuracy",
    }
)

Curve = tuple[list[float], list[float]]  # (x values, y values)


@dataclass
class _Run:
    """One training run's curves: metric -> (xs, ys) for training and for validation."""

    name: str
    train: dict[str, Curve]
    validation: dict[str, Curve]
    x_label: str


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _is_records(value: Any) -> bool:
    """A list of per-step rows such as [{"step": 100, "loss": 2.1}, ...] (melodylib's
    TrainingResult.history).
    """
    return (
        isinstance(value, (list, tuple))
        and bool(value)
        and all(
            isinstance(row, Mapping) and all(_is_number(number) for number in row.values())
            for row in value
        )
    )


def _curves_from_records(rows: Sequence[Mapping[str, float]]) -> tuple[dict[str, Curve], str]:
    curves: dict[str, Curve] = {}
    uses_steps = all("step" in row for row in rows)
    for index, row in enumerate(rows):
        x = float(row["step"]) if uses_steps else float(index + 1)
        for key, value in row.items():
            if key != "step":
                curves.setdefault(str(key), ([], []))
                curves[str(key)][0].append(x)
                curves[str(key)][1].append(float(value))
    return curves, "training step" if uses_steps else "epoch"


def _split_validation(curves: dict[str, Curve]) -> tuple[dict[str, Curve], dict[str, Curve]]:
    train, validation = {}, {}
    for key, curve in curves.items():
        base = _base_metric(key)
        (validation if base != key else train)[base] = curve
    return train, validation


def _as_run(name: str, value: Any) -> _Run:
    """One history in any accepted form -> `_Run`."""
    history = getattr(value, "history", None)
    if _is_records(history) or (
        isinstance(history, list) and hasattr(value, "eval_history")
    ):  # TrainingResult
        train, x_label = _curves_from_records(history) if history else ({}, "training step")
        eval_rows = getattr(value, "eval_history", None) or []
        validation = _curves_from_records(eval_rows)[0] if eval_rows else {}
        return _Run(name, train, validation, x_label)
    if isinstance(history, Mapping):  # a keras History
        value = history
    if _is_records(value):
        curves, x_label = _curves_from_records(value)
        return _Run(name, *_split_validation(curves), x_label)
    if not isinstance(value, Mapping):
        raise MelodylibError(
            f"a training history must be a dict of metric name -> list of numbers, a list of per-step dicts "
            f"or a TrainingResult; got {type(value).__name__}"
        )
    columns = {str(key): [float(number) for number in numbers] for key, numbers in value.items()}
    steps = columns.pop("step", None)
    curves: dict[str, Curve] = {}
    for key, series in columns.items():
        if steps is not None and len(steps) == len(series):
            curves[key] = (list(steps), series)
        else:
            curves[key] = ([float(index + 1) for index in range(len(series))], series)
    x_label = "training step" if steps is not None else "epoch"
    return _Run(name, *_split_validation(curves), x_label)


def _is_single_history(value: Any) -> bool:
    if hasattr(value, "history"):
        return True
    if _is_records(value):
        return True
    return isinstance(value, Mapping) and all(
        isinstance(series, (list, tuple, np.ndarray))
        and all(_is_number(number) for number in series)
        for series in value.values()
    )


def _named_runs(history: Any, names: Sequence[str] | None) -> list[_Run]:
    if _is_single_history(history):
        runs = [_as_run("", history)]
    elif isinstance(history, Mapping):  # run name -> history
        runs = [_as_run(str(name), value) for name, value in history.items()]
    elif isinstance(history, (list, tuple)):
        runs = []
        for index, item in enumerate(history):
            if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
                runs.append(_as_run(item[0], item[1]))
            else:
                runs.append(_as_run(f"run {index + 1}", item))
    else:
        runs = [_as_run("", history)]
    if names is not None:
        if len(names) != len(runs):
            raise MelodylibError(
                f"{len(names)} names for {len(runs)} training histories; give one name per history"
            )
        for run, name in zip(runs, names, strict=False):
            run.name = str(name)
    if not runs:
        raise MelodylibError("plot_training_curves needs at least one training history")
    return runs


def _base_metric(key: str) -> str:
    for prefix in VALIDATION_PREFIXES:
        if key.startswith(prefix):
            return key[len(prefix) :]
    return key


def plot_training_curves(
    history: Any,
    metrics: Sequence[str] | None = None,
    *,
    names: Sequence[str] | None = None,
    title: str | None = None,
    log_scale: bool = False,
):
    """Plot training curves, one panel per metric: training solid, eval dashed; returns the Figure.

    `history` is one run or several. A run is a dict of metric -> values (keys `val_...`/`eval_...`
    are validation; a "step" list gives the x axis, else epochs), a Keras History, a list of
    per-step dicts, or a melodylib TrainingResult (its `history` and `eval_history`). Several runs
    are a list (named by `names`, or as (name, run) pairs) or a dict of run name -> run.
    `metrics` defaults to every metric found except bookkeeping (step, steps_per_second, ...).
    """
    from matplotlib.ticker import MaxNLocator

    runs = _named_runs(history, names)
    found: list[str] = []
    for run in runs:
        for key in list(run.train) + list(run.validation):
            if key not in found and key not in ("step", "epoch"):
                found.append(key)
    chosen = (
        [key for key in found if key not in BOOKKEEPING_KEYS]
        if metrics is None
        else [str(m) for m in metrics]
    )
    for metric in chosen:
        if metric not in found:
            raise MelodylibError(
                f'metric "{metric}" is not in the training history; it has: {", ".join(found) or "nothing"}'
            )
    if not chosen:
        raise MelodylibError("the training history has no metrics to plot")
    ncols = min(3, len(chosen))
    nrows = math.ceil(len(chosen) / ncols)
    figure, axes = new_figure(nrows, ncols, (4.6 * ncols + 0.6, 3.4 * nrows), layout="constrained")
    flat_axes = [axis for row in axes for axis in row]
    for axis, metric in zip(flat_axes, chosen, strict=False):
        for index, run in enumerate(runs):
            color = f"C{index % 10}"
            for curves, style, part in (
                (run.train, "-", "train"),
                (run.validation, "--", "eval"),
            ):
                if metric not in curves:
                    continue
                xs, ys = curves[metric]
                if not ys or all(math.isnan(y) for y in ys):
                    continue
                label = f"{run.name} ({part})" if run.name else part
                axis.plot(
                    xs,
                    ys,
                    linestyle=style,
                    color=color,
                    label=label,
                    marker="o" if len(ys) <= 12 else None,
                    markersize=3,
                )
            axis.set_xlabel(run.x_label)
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.set_title(metric)
        axis.grid(True, alpha=0.3)
        if log_scale:
            axis.set_yscale("log")
        if axis.get_legend_handles_labels()[0]:
            axis.legend(fontsize="small")
    for axis in flat_axes[len(chosen) :]:
        axis.set_visible(False)
    if title:
        figure.suptitle(title)
    return figure
