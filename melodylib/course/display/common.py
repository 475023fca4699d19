"""What every display module shares: pitch names, colours, and figures that notebooks show once."""

from __future__ import annotations

from typing import Any

from melodylib.music.pitch_names import BLACK_KEY_PITCH_CLASSES, PITCH_CLASS_NAMES, pitch_name

__all__ = [
    "BAR_LINE_COLOR",
    "BLACK_KEY_PITCH_CLASSES",
    "CONTINUATION_COLOR",
    "PITCH_CLASS_NAMES",
    "PRIMER_COLOR",
    "SINGLE_COLOR",
    "new_figure",
    "pitch_name",
]

PRIMER_COLOR = "#3b75af"  # blue
CONTINUATION_COLOR = "#e8702a"  # orange
SINGLE_COLOR = PRIMER_COLOR
BAR_LINE_COLOR = "#555555"


def new_figure(nrows: int, ncols: int, figsize: tuple[float, float], **options: Any):
    """A figure detached from pyplot, so a notebook shows it once (as the cell's value)."""
    import matplotlib.pyplot as pyplot

    figure, axes = pyplot.subplots(nrows, ncols, figsize=figsize, squeeze=False, **options)
    pyplot.close(figure)
    return figure, axes
