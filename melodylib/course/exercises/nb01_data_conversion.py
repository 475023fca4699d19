"""Exercise of notebook 01_data_conversion: find a tune of the corpus in a minor key and in 6/8.

The learner names the tune (its NoteSequence, id, title or position); the checker reads its first
time signature and key signature, so every tune that fits is accepted.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np

from melodylib.course.exercises.common import verdict
from melodylib.course.exercises.registry import Exercise
from melodylib.errors import MelodylibError

__all__ = ["FIND_TUNE_METER", "MINOR_MODE", "check_find_tune", "solution_find_tune"]

NOTEBOOK = "01_data_conversion"

FIND_TUNE_METER = (6, 8)
MINOR_MODE = 1


def _meter_of(sequence) -> tuple[int, int] | None:
    """The first time signature of a NoteSequence as (numerator, denominator), else None."""
    if not sequence.time_signatures:
        return None
    first = min(sequence.time_signatures, key=lambda signature: signature.time)
    return (int(first.numerator), int(first.denominator))


def _key_of(sequence) -> tuple[int, int] | None:
    """The first key signature of a NoteSequence as (key, mode), None if it has none."""
    if not sequence.key_signatures:
        return None
    first = min(sequence.key_signatures, key=lambda signature: signature.time)
    return (int(first.key), int(first.mode))


def _key_name(key: tuple[int, int] | None) -> str:
    from melodylib.course.display import PITCH_CLASS_NAMES

    if key is None:
        return "no key signature"
    return f"{PITCH_CLASS_NAMES[key[0] % 12]} {'minor' if key[1] == MINOR_MODE else 'major'}"


def _is_minor_six_eight(sequence) -> bool:
    key = _key_of(sequence)
    return _meter_of(sequence) == FIND_TUNE_METER and key is not None and key[1] == MINOR_MODE


def _find_tune_problem(sequence) -> str:
    """What keeps a tune from answering the exercise, e.g. "is in 4/2 and in G major"."""
    meter, key = _meter_of(sequence), _key_of(sequence)
    wrong_meter = meter != FIND_TUNE_METER
    wrong_key = key is None or key[1] != MINOR_MODE
    meter_text = "has no time signature" if meter is None else f"is in {meter[0]}/{meter[1]}"
    key_text = "has no key signature" if key is None else f"is in {_key_name(key)}"
    if wrong_meter and wrong_key:
        if meter is not None and key is not None:
            return f"{meter_text} and in {_key_name(key)}"
        return f"{meter_text} and {key_text}"
    return meter_text if wrong_meter else key_text


def _candidates(answer: Any, sequences: list) -> tuple[list, str]:
    """The corpus tunes an answer names (a NoteSequence, an id, a title or a position), or why
    none."""
    from melodylib.music.notesequence import NoteSequence

    if isinstance(answer, NoteSequence):
        return [answer], ""
    if isinstance(answer, (bool, np.bool_)):
        return [], f"{answer!r} does not name a tune"
    if isinstance(answer, numbers.Integral):
        if not 0 <= int(answer) < len(sequences):
            return [], f"{answer} is not a position in the list of {len(sequences)} tunes"
        return [sequences[int(answer)]], ""
    if isinstance(answer, str):
        text = answer.strip()
        by_id = [sequence for sequence in sequences if sequence.id == text]
        if by_id:
            return by_id, ""
        by_title = [
            sequence for sequence in sequences if sequence.title.strip().lower() == text.lower()
        ]
        if by_title:
            return by_title, ""
        return [], f"no tune in the corpus has the id or title {text!r}"
    return [], f"give a NoteSequence, its id or its title; got a {type(answer).__name__}"


def check_find_tune(answer: Any, sequences: Iterable) -> bool:
    """01_data_conversion: any tune of the corpus in a minor key whose first time signature is 6/8.

    `answer` is the tune's NoteSequence, its id, its title or its position in `sequences` (the
    corpus the learner searched). Every tune that fits is accepted.
    """
    sequences = list(sequences)
    hint = (
        "a NoteSequence keeps its meter in time_signatures (numerator, denominator) and its "
        "key in key_signatures (mode 1 is minor); look at the first of each."
    )
    candidates, problem = _candidates(answer, sequences)
    if not candidates:
        return verdict(False, problem + ".", hint)
    matches = [sequence for sequence in candidates if _is_minor_six_eight(sequence)]
    if matches:
        tune = matches[0]
        shared = (
            " (several tunes share that title; at least one fits)" if len(candidates) > 1 else ""
        )
        count = sum(_is_minor_six_eight(sequence) for sequence in sequences)
        return verdict(
            True,
            f"{tune.title or tune.id!r} is in {_key_name(_key_of(tune))} and 6/8{shared}. "
            f"{count} of the {len(sequences)} tunes fit.",
        )
    tune = candidates[0]
    return verdict(False, f"{tune.title or tune.id!r} {_find_tune_problem(tune)}.", hint)


def solution_find_tune(sequences: Iterable | None = None) -> str:
    """A model answer to check_find_tune: the id of the first fitting tune (of the course corpus
    by default)."""
    sequences = _course_sequences() if sequences is None else list(sequences)
    for sequence in sequences:
        if _is_minor_six_eight(sequence):
            return sequence.id
    raise MelodylibError(
        "no tune in these sequences is in a minor key and in 6/8; give the course corpus"
    )


def _course_sequences() -> list:
    """The NoteSequences of the course corpus (the small subset in quick mode, else the full
    one)."""
    from melodylib.course.corpus import sequences_file
    from melodylib.course.quick import quick_or_full
    from melodylib.music.notesequence import read_note_sequences

    path = sequences_file(quick_or_full("small", "full"))
    if not path.exists():
        raise MelodylibError(
            f"{path} does not exist; build the course corpus first (melody_rnn build_corpus)"
        )
    return list(read_note_sequences(path))


EXERCISES = (Exercise(check_find_tune, solution_find_tune),)
