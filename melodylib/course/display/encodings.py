"""Pictures of what the network sees and says: its input matrix, and its next-event probabilities.

The pictures never work out an encoder's layout themselves: every melodylib encoder describes
its input columns (`feature_blocks()`) and its classes (`class_names()`). A hand-made encoder
without those methods is drawn with one "inputs" block and numbered classes. When
`plot_probabilities` is given no encoder, it uses the course config whose encoder has that many
classes (38: basic_rnn, 130: mono_rnn); lookback_rnn and attention_rnn both have 40, so those
need `encoder=`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from melodylib.course.display.common import new_figure
from melodylib.course.display.music_input import is_melody
from melodylib.encoding.feature_blocks import FeatureBlock
from melodylib.errors import MelodylibError
from melodylib.music.events import DEFAULT_STEPS_PER_BAR

KIND_COLORS = {
    "no event": "#d9d9d9",
    "note off": "#555555",
    "note-on": "#f2a65a",
    "repeat": "#9b7fd1",
    "other": "#8fc0a9",
}


def class_names(encoder: Any, steps_per_bar: int = DEFAULT_STEPS_PER_BAR) -> list[str]:
    """A short name for each output class of `encoder` ("no event", "note off", "C4", ...).

    The encoder's own `class_names()`; numbers "0", "1", ... for a hand-made encoder without one.
    """
    describe = getattr(encoder, "class_names", None)
    if callable(describe):
        return list(describe(steps_per_bar))
    return [str(index) for index in range(int(encoder.num_classes))]


def _feature_blocks(encoder: Any, steps_per_bar: int) -> list[FeatureBlock]:
    """The encoder's own `feature_blocks()`; one "inputs" block for a hand-made encoder."""
    describe = getattr(encoder, "feature_blocks", None)
    if callable(describe):
        return list(describe(steps_per_bar))
    return [FeatureBlock("inputs", 0, int(encoder.input_size))]


def _course_encoder_with(num_classes: int) -> Any:
    """The course config's encoder with `num_classes` classes; None when none or several have."""
    from melodylib.encoding.configs import CONFIG_NAMES, get_config

    encoders = {get_config(name).encoder for name in CONFIG_NAMES}
    matching = [encoder for encoder in encoders if encoder.num_classes == num_classes]
    return matching[0] if len(matching) == 1 else None


def _class_kinds(names: Sequence[str]) -> list[str]:
    kinds = []
    for name in names:
        if name in ("no event", "note off"):
            kinds.append(name)
        elif name.startswith("repeat"):
            kinds.append("repeat")
        elif re.fullmatch(r"[A-G]#?-?\d+|pitch -?\d+", name):
            kinds.append("note-on")
        else:
            kinds.append("other")
    return kinds


def _thinned_labels(names: Sequence[str], max_labels: int = 40) -> list[str]:
    """Keep every label when there are few; otherwise keep special ones and octave Cs only."""
    if len(names) <= max_labels:
        return list(names)
    return [
        name if not re.fullmatch(r"[A-G]#?-?\d+", name) or re.fullmatch(r"C-?\d+", name) else ""
        for name in names
    ]


def _without_collisions(
    labels: Sequence[str], centers_in_points: Sequence[float], font_sizes: Sequence[float]
) -> list[str]:
    """Blank out labels that would overlap a more important one (specials before octave Cs before other
    pitches).
    """

    def priority(index: int) -> int:
        name = labels[index]
        if re.fullmatch(r"C-?\d+", name):
            return 1
        return 2 if re.fullmatch(r"[A-G]#?-?\d+", name) else 0

    kept: list[int] = []
    for index in sorted(
        (index for index, name in enumerate(labels) if name),
        key=lambda index: (priority(index), index),
    ):
        if all(
            abs(centers_in_points[index] - centers_in_points[other])
            >= 0.45 * (font_sizes[index] + font_sizes[other])
            for other in kept
        ):
            kept.append(index)
    return [name if index in kept else "" for index, name in enumerate(labels)]


def _hide_blank_ticks(axis) -> None:
    for tick in axis.get_major_ticks():
        if not tick.label1.get_text():
            tick.tick1line.set_visible(False)


def _check_blocks(blocks: Sequence[FeatureBlock], input_size: int) -> list[FeatureBlock]:
    checked = []
    for block in blocks:
        try:
            name, start, stop = block
            start, stop = int(start), int(stop)
        except (TypeError, ValueError) as error:
            raise MelodylibError(f"feature block {block!r} must be (name, start, stop)") from error
        if not 0 <= start < stop <= input_size:
            raise MelodylibError(
                f"feature block {block!r} does not fit the encoder's {input_size} input features; need 0 <= start < stop <= {input_size}"
            )
        checked.append(FeatureBlock(str(name), start, stop))
    return checked


def plot_encoding(
    encoder: Any,
    events: Any,
    *,
    feature_blocks: Sequence[FeatureBlock] | None = None,
    steps_per_bar: int = DEFAULT_STEPS_PER_BAR,
    title: str | None = None,
):
    """Picture what the network sees: the encoder's input matrix (features × positions; -1 blue,
    0 white, +1 red) with its feature blocks named, and under it the label at each position (the
    class of the next event), coloured by kind. Returns the Figure.

    `feature_blocks` is a list of (name, start, stop) for the input rows; by default it is the
    encoder's own `feature_blocks()`.
    """
    event_list = list(events.events) if is_melody(events) else list(events)
    if len(event_list) < 2:
        raise MelodylibError(
            "plot_encoding needs a melody of at least 2 events (an input and the next event)"
        )
    inputs, labels = encoder.encode(event_list)
    inputs = np.asarray(inputs, dtype=float)
    labels = np.asarray(labels, dtype=int)
    input_size = int(encoder.input_size)
    blocks = _check_blocks(
        feature_blocks if feature_blocks is not None else _feature_blocks(encoder, steps_per_bar),
        input_size,
    )
    names = class_names(encoder, steps_per_bar)
    kinds = _class_kinds(names)
    num_positions = inputs.shape[0]

    has_single_rows = any(stop - start == 1 for _, start, stop in blocks)
    rows_height = min(11.0, max(3.0, (0.13 if has_single_rows else 0.07) * input_size + 1.5))
    width = min(18.0, max(8.0, 0.16 * num_positions + 3.0))
    figure, axes = new_figure(
        2,
        1,
        (width, rows_height + 1.4),
        sharex=True,
        layout="constrained",
        gridspec_kw={"height_ratios": [rows_height, 0.8]},
    )
    image_axes, label_axes = axes[0][0], axes[1][0]
    image = image_axes.imshow(
        inputs.T,
        aspect="auto",
        cmap="RdBu_r",
        vmin=-1.0,
        vmax=1.0,
        interpolation="nearest",
        extent=(-0.5, num_positions - 0.5, input_size - 0.5, -0.5),
    )
    colorbar = figure.colorbar(image, ax=image_axes, ticks=[-1, 0, 1], fraction=0.03, pad=0.01)
    colorbar.set_label("input value")
    _name_blocks(image_axes, blocks, rows_height, input_size)
    for position in range(steps_per_bar, num_positions, steps_per_bar) if steps_per_bar else []:
        image_axes.axvline(position - 0.5, color="#444444", linewidth=0.8, linestyle=":")
    image_axes.set_ylabel("input features")
    image_axes.set_title(
        title
        or f"{type(encoder).__name__}: inputs ({num_positions} positions × {input_size} features) and labels"
    )

    _draw_label_row(label_axes, labels, kinds)
    return figure


def _name_blocks(
    image_axes: Any, blocks: Sequence[FeatureBlock], rows_height: float, input_size: int
) -> None:
    """Name each block at its middle, sized to its height; lines between blocks of several rows."""
    centers = [(start + stop - 1) / 2.0 for _, start, stop in blocks]
    block_labels = _thinned_labels([name for name, _, _ in blocks])
    # Size each block's name to the block's height, then drop names that would still overlap.
    points_per_row = rows_height * 0.85 * 72.0 / input_size
    font_sizes = [
        max(7.0, min(10.0, 0.92 * points_per_row * (stop - start))) for _, start, stop in blocks
    ]
    block_labels = _without_collisions(
        block_labels, [center * points_per_row for center in centers], font_sizes
    )
    image_axes.set_yticks(centers)
    image_axes.set_yticklabels(block_labels)
    for tick_label, font_size in zip(image_axes.get_yticklabels(), font_sizes, strict=False):
        tick_label.set_fontsize(font_size)
    _hide_blank_ticks(image_axes.yaxis)
    for (_, start, stop), (_, next_start, next_stop) in zip(blocks, blocks[1:], strict=False):
        if stop - start > 1 or next_stop - next_start > 1:
            image_axes.axhline(stop - 0.5, color="black", linewidth=0.8)


def _draw_label_row(label_axes: Any, labels: np.ndarray, kinds: Sequence[str]) -> None:
    """The label row: one cell per position, coloured by what kind of event comes next."""
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    num_positions = len(labels)
    kind_order = ["no event", "note off", "note-on", "repeat", "other"]
    cell_kinds = [kinds[label] if 0 <= label < len(kinds) else "other" for label in labels]
    kind_indices = np.array([[kind_order.index(kind) for kind in cell_kinds]])
    label_axes.imshow(
        kind_indices,
        aspect="auto",
        interpolation="nearest",
        vmin=-0.5,
        vmax=len(kind_order) - 0.5,
        cmap=ListedColormap([KIND_COLORS[kind] for kind in kind_order]),
        extent=(-0.5, num_positions - 0.5, 0.5, -0.5),
    )
    if num_positions <= 96:
        font_size = 8 if num_positions <= 48 else 6
        for position, (label, kind) in enumerate(zip(labels, cell_kinds, strict=False)):
            label_axes.text(
                position,
                0,
                str(label),
                ha="center",
                va="center",
                fontsize=font_size,
                color="white" if kind == "note off" else "black",
                rotation=90 if num_positions > 48 else 0,
            )
    label_axes.set_yticks([0])
    label_axes.set_yticklabels(["label"])
    label_axes.set_xlabel("position in the melody (the label is the class of the next event)")
    present = [kind for kind in kind_order if kind in cell_kinds]
    label_axes.legend(
        handles=[
            Patch(facecolor=KIND_COLORS[kind], edgecolor="black", label=kind) for kind in present
        ],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.9),
        ncol=len(present),
        fontsize="small",
        frameon=False,
    )


def _next_event_classes(
    events: Any,
    actual_classes: Sequence[int] | None,
    encoder: Any,
    num_steps: int,
    num_classes: int,
) -> np.ndarray | None:
    """The class that really came next at each of the `num_steps` rows, or None to mark nothing."""
    marked = None
    if actual_classes is not None:
        marked = np.asarray(actual_classes, dtype=int)
    elif events is not None:
        event_list = list(events.events) if is_melody(events) else list(events)
        if len(event_list) <= num_steps:
            raise MelodylibError(
                f"{len(event_list)} events for {num_steps} probability rows; row t predicts the "
                f"event after t, so give at least {num_steps + 1} events"
            )
        if encoder is None:
            raise MelodylibError(
                f"cannot tell which class each event is for {num_classes} classes; "
                "pass encoder= (the config's encoder)"
            )
        # Rows are aligned to the end of the melody, as in the log-likelihood.
        all_classes = np.asarray(encoder.labels(event_list), dtype=int)
        marked = all_classes[len(event_list) - num_steps :]
    return marked


def plot_probabilities(
    probabilities: Any,
    events: Any = None,
    class_labels: Sequence[str] | None = None,
    *,
    encoder: Any = None,
    actual_classes: Sequence[int] | None = None,
    title: str | None = None,
):
    """Heat map of the model's next-event distribution over time (classes × steps), returned as a Figure.

    Row t of `probabilities` ([T, num_classes]) is the distribution of the event after step t. If
    `events` (the melody, T+1 events or more; rows are aligned to its end) or `actual_classes`
    (T class indices) is given, the event that really came next is marked with a circle. Class
    names come from `class_labels`, else from `encoder`, else from the course config with that
    many classes (38 basic_rnn, 130 mono_rnn).
    """
    from matplotlib.colors import PowerNorm

    matrix = np.asarray(probabilities, dtype=float)
    if matrix.ndim == 3 and matrix.shape[0] == 1:
        matrix = matrix[0]
    if matrix.ndim != 2:
        raise MelodylibError(
            f"probabilities must be a [steps, classes] array; got shape {matrix.shape}"
        )
    num_steps, num_classes = matrix.shape
    needs_encoder = class_labels is None or (actual_classes is None and events is not None)
    if encoder is None and needs_encoder:
        encoder = _course_encoder_with(num_classes)  # None when the size does not tell the config
    if class_labels is None:
        class_labels = (
            class_names(encoder)
            if encoder is not None
            else [str(index) for index in range(num_classes)]
        )
    if len(class_labels) != num_classes:
        raise MelodylibError(
            f"{len(class_labels)} class labels for {num_classes} classes; give one label per class"
        )
    marked = _next_event_classes(events, actual_classes, encoder, num_steps, num_classes)
    if marked is not None and marked.shape != (num_steps,):
        raise MelodylibError(
            f"actual_classes has {marked.shape[0]} entries for {num_steps} probability rows"
        )

    height = min(10.0, max(3.5, 0.13 * num_classes + 1.5))
    width = min(18.0, max(7.0, 0.14 * num_steps + 3.0))
    figure, axes = new_figure(1, 1, (width, height), layout="constrained")
    axes = axes[0][0]
    # A square-root colour scale keeps small but real probabilities visible.
    image = axes.imshow(
        matrix.T,
        aspect="auto",
        origin="lower",
        cmap="Blues",
        norm=PowerNorm(0.5, vmin=0.0, vmax=1.0),
        interpolation="nearest",
        extent=(-0.5, num_steps - 0.5, -0.5, num_classes - 0.5),
    )
    colorbar = figure.colorbar(
        image, ax=axes, fraction=0.03, pad=0.01, ticks=[0, 0.05, 0.25, 0.5, 1.0]
    )
    colorbar.set_label("probability")
    font_size = 8.0 if num_classes > 24 else 10.0
    points_per_row = height * 0.85 * 72.0 / num_classes
    labels = _without_collisions(
        _thinned_labels(class_labels),
        [row * points_per_row for row in range(num_classes)],
        [font_size] * num_classes,
    )
    axes.set_yticks(range(num_classes))
    axes.set_yticklabels(labels, fontsize=font_size)
    _hide_blank_ticks(axes.yaxis)
    if marked is not None:
        axes.scatter(
            np.arange(num_steps),
            marked,
            s=36,
            facecolors="none",
            edgecolors="#e8702a",
            linewidths=1.6,
            label="actual next event",
            zorder=3,
            gid="actual-next",
        )
        axes.legend(
            loc="lower right",
            bbox_to_anchor=(1.0, 1.0),
            fontsize="small",
            frameon=False,
            borderaxespad=0.2,
        )
    axes.set_xlabel("step t (the column shows p(event at t+1 | events up to t))")
    axes.set_ylabel("next event")
    axes.set_title(title or "next-event probabilities", loc="left")
    return figure
