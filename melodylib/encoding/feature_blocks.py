"""How an encoder describes itself: named column ranges of its input, and names of its classes.

Every encoder lays its input vector out as blocks of columns ("current", "1 bar ago", "counter",
...) and says so through `feature_blocks()`; the numpy encoders, their TensorFlow twins and the
course's plots all read the columns from that one description instead of recomputing it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from melodylib.music.events import DEFAULT_STEPS_PER_BAR


class FeatureBlock(NamedTuple):
    """Input columns start..stop-1 of an encoder, under a name a learner can read."""

    name: str
    start: int
    stop: int

    @property
    def size(self) -> int:
        """How many input columns the block covers."""
        return self.stop - self.start

    @property
    def columns(self) -> slice:
        """The block's columns, for indexing an input matrix: `inputs[:, block.columns]`."""
        return slice(self.start, self.stop)


def lay_out_blocks(named_sizes: Sequence[tuple[str, int]]) -> list[FeatureBlock]:
    """Blocks of the given (name, size) one after another from column 0, empty ones included."""
    blocks, start = [], 0
    for name, size in named_sizes:
        blocks.append(FeatureBlock(name, start, start + int(size)))
        start += int(size)
    return blocks


def non_empty(blocks: Sequence[FeatureBlock]) -> list[FeatureBlock]:
    """The blocks that cover at least one column (what `feature_blocks()` shows)."""
    return [block for block in blocks if block.size > 0]


def lookback_name(distance: int, steps_per_bar: int = DEFAULT_STEPS_PER_BAR) -> str:
    """A lookback distance in words: 16 -> "1 bar ago", 32 -> "2 bars ago", 5 -> "5 steps ago"."""
    if steps_per_bar and distance % steps_per_bar == 0:
        bars = distance // steps_per_bar
        return f"{bars} bar{'s' if bars != 1 else ''} ago"
    return f"{distance} steps ago"
