"""Music statistics of generated melodies against the real tunes, as density curves."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from melodylib.course.display.common import new_figure


def plot_statistic_densities(
    reference_melodies: Sequence[Any],
    generated: Mapping[str, Sequence[Any]],
    *,
    title: str | None = None,
):
    """One panel per music statistic: the real tunes' distribution (grey) and each config's (a line).

    `reference_melodies` and each value of `generated` are melodies (event lists or Melodys);
    the curves are the kernel density estimates the overlapping areas are computed from. A
    config whose values are (nearly) all equal shows as a spike, cut at 2.5x the real peak.
    """
    from melodylib.evaluation.music_statistics import (
        STATISTIC_NAMES,
        kernel_densities,
        statistics_table,
    )

    real = statistics_table(reference_melodies)
    tables = {name: statistics_table(melodies) for name, melodies in generated.items()}
    columns = 4
    rows = math.ceil(len(STATISTIC_NAMES) / columns)
    figure, axes = new_figure(rows, columns, (4 * columns, 3.2 * rows), layout="constrained")
    for axis, statistic in zip(axes.flat, STATISTIC_NAMES, strict=False):
        real_values = real[statistic][~np.isnan(real[statistic])]
        pooled = [real_values]
        peak = 1.0
        if real_values.size:
            grid, density, _ = kernel_densities(real_values, real_values)
            axis.fill_between(grid, density, color="0.8", label=f"real tunes ({real_values.size})")
            peak = float(density.max())
        for name, table in tables.items():
            values = table[statistic][~np.isnan(table[statistic])]
            if values.size and real_values.size:
                grid, density, _ = kernel_densities(values, real_values)
                axis.plot(grid, density, label=name)
                pooled.append(values)
        low = min((float(values.min()) for values in pooled if values.size), default=0.0)
        high = max((float(values.max()) for values in pooled if values.size), default=1.0)
        margin = 0.15 * (high - low) or 0.5
        axis.set(
            title=statistic.replace("_", " "),
            yticks=[],
            xlim=(low - margin, high + margin),
            ylim=(0, 2.5 * peak),
        )
    for axis in list(axes.flat)[len(STATISTIC_NAMES) :]:
        axis.set_visible(False)
    axes.flat[0].legend(fontsize="small")
    figure.suptitle(title or "music statistics: generated melodies against the real tunes")
    return figure
