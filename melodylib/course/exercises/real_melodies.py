"""Real melodies for the build exercises of notebooks 03 and 06, and what their checkers share.

The melodies are the first tunes of Aird's Airs, book 1 (a collection of the course corpus, read
from music21's bundled copy, so no corpus needs to be built), extracted as `create_dataset` does
it and squashed into a config's range and key: exactly what that config's encoder is given in
training. A checker calls the learner's function inside `call_learner`, which turns "not written
yet" and any error into a message instead of an exception.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

NUM_MELODIES = 4  # melodies a build checker tries, enough to meet every kind of event


@functools.lru_cache(maxsize=8)
def _aird_melodies(min_note: int, max_note: int, transpose_to_key: int | None, count: int):
    from melodylib.course import corpus
    from melodylib.data.datasets import melodies_from_note_sequence
    from melodylib.music import readers

    path = corpus.music21_corpus_folder() / "airdsAirs" / "book1.abc"
    text = path.read_text(encoding="utf-8", errors="replace")
    melodies: list[tuple[str, tuple[int, ...]]] = []
    for tune in readers.split_abc_tunes(text):
        extracted = melodies_from_note_sequence(readers.abc_tune_to_note_sequence(tune, path))
        if not extracted:
            continue
        melody = extracted[0].copy()
        melody.squash(min_note, max_note, transpose_to_key)
        melodies.append((tune.title.rstrip("."), tuple(int(event) for event in melody.events)))
        if len(melodies) == count:
            break
    return tuple(melodies)


def corpus_melodies(config_name: str, count: int = NUM_MELODIES) -> list[tuple[str, list[int]]]:
    """(title, events) of the first `count` tunes of Aird's Airs book 1, squashed for the config."""
    from melodylib.encoding.configs import get_config

    config = get_config(config_name)
    melodies = _aird_melodies(config.min_note, config.max_note, config.transpose_to_key, count)
    return [(title, list(events)) for title, events in melodies]


def given_melodies(melodies: Any, config_name: str) -> list[tuple[str, list[int]]]:
    """The melodies a checker works on: `melodies` ((title, events) pairs, Melody objects or event
    lists) when given, else `corpus_melodies(config_name)`."""
    if melodies is None:
        return corpus_melodies(config_name)
    named = []
    for number, melody in enumerate(melodies):
        if isinstance(melody, tuple) and len(melody) == 2 and isinstance(melody[0], str):
            named.append((melody[0], [int(event) for event in melody[1]]))
        else:
            events = getattr(melody, "events", melody)
            named.append((f"melody {number}", [int(event) for event in events]))
    return named


def call_learner(function: Any, what: str, *args: Any) -> tuple[Any, str | None]:
    """(result, None) of `function(*args)`, or (None, message) when it is not callable, is not
    written yet (NotImplementedError) or raises."""
    if not callable(function):
        return None, f"give the function itself ({what}, no brackets); got {function!r:.60}"
    try:
        return function(*args), None
    except NotImplementedError:
        return None, "NOT_WRITTEN"
    except Exception as error:  # the learner's code: any error becomes a verdict
        return None, f"{what} raised {type(error).__name__}: {error}"


def yours_or_reference(
    check: Callable[..., bool], answer: Any, reference: Callable[..., Any], what: str
) -> Callable[..., Any]:
    """The learner's function when `check` accepts it (its verdict printed as usual), else the
    reference, with one line saying so."""
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        accepted = check(answer)
    if accepted:
        print(f"Using your {what}.")
        return answer
    print(f"Your {what} does not pass its check yet, so the cells below use the model answer.")
    return reference
