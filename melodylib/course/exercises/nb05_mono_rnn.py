"""Exercise of notebook 05_mono_rnn: how many more parameters mono_rnn has than basic_rnn.

It builds on 04's count: the two networks differ only where the wider encoding meets them.
"""

from __future__ import annotations

from typing import Any

from melodylib.course.exercises.common import as_whole_number, verdict
from melodylib.course.exercises.nb04_basic_rnn import parameter_count
from melodylib.course.exercises.registry import Exercise

__all__ = ["check_mono_rnn_extra_parameters", "solution_mono_rnn_extra_parameters"]

NOTEBOOK = "05_mono_rnn"


def check_mono_rnn_extra_parameters(answer: Any) -> bool:
    """05_mono_rnn: how many more parameters mono_rnn has than basic_rnn, both at their default
    hparams.

    The truth is counted on the two built models; the number can be worked out from the widths
    alone.
    """
    difference = as_whole_number(answer, "the difference")
    hint = (
        "the two networks differ only where the 130-wide encoding meets them: the first LSTM "
        "layer's inputs (130 instead of 38, each seen by 4·128 gate units) and the output "
        "layer (130 classes instead of 38, each with 128 weights and a bias)."
    )
    if isinstance(difference, str):
        return verdict(False, difference, hint)
    mono, basic = parameter_count("mono_rnn"), parameter_count("basic_rnn")
    truth = mono - basic
    extra = 130 - 38
    input_part, output_part = extra * 4 * 128, extra * (128 + 1)
    if difference == truth:
        return verdict(
            True,
            f"{extra} more input columns cost {input_part:,} LSTM weights and "
            f"{extra} more classes {output_part:,} output weights: {mono:,} - "
            f"{basic:,} = {truth:,}.",
        )
    mistakes = {
        -truth: "mono_rnn is the bigger one: give the difference as a positive number.",
        input_part: "that is the first LSTM layer's share; the output layer grows too (130 classes "
        "instead of 38).",
        output_part: "that is the output layer's share; the first LSTM layer also gets 92 more "
        "inputs.",
        input_part + extra * 128: "close: each of the 92 new classes also has a bias.",
        mono: "that is mono_rnn's whole count; subtract basic_rnn's.",
        (128 - 38) * 4 * 128
        + (128 - 38)
        * 129: "mono_rnn has 130 classes: the 128 MIDI pitches plus no event and note off.",
    }
    if difference in mistakes:
        return verdict(False, mistakes[difference], hint)
    return verdict(False, f"{difference:,} is not it.", hint)


def solution_mono_rnn_extra_parameters() -> int:
    """A model answer to check_mono_rnn_extra_parameters: 92 more inputs and 92 more classes."""
    extra = 130 - 38
    return extra * 4 * 128 + extra * (128 + 1)


EXERCISES = (Exercise(check_mono_rnn_extra_parameters, solution_mono_rnn_extra_parameters),)
