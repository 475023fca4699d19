"""Scores in a notebook: staff notation engraved by verovio, shown inline as SVG."""

from __future__ import annotations

from typing import Any

from melodylib.music.notation import render_score


def show_score(music: Any, **options: Any):
    """An inline score of `music` (events, a Melody, a NoteSequence or a music file).

    Options are `render_score`'s: `primer_steps` colours the primer apart from the continuation,
    `title`, `steps_per_bar`, `width`, `scale`.
    """
    from IPython.display import SVG

    return SVG(render_score(music, **options))
