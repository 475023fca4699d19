"""09_generation's build exercise: the checker of the learner's sampling loop accepts the model
answer (and other correct forms) and says precisely what is wrong with the usual slips."""

from __future__ import annotations

import numpy as np
import pytest

from melodylib.course import exercises
from melodylib.course.exercises import nb09_generation


def wrong_loop(slip: str):
    """The reference loop with one slip (the checker's own list, plus two more)."""
    if slip in ("two draws", "only the new events"):
        reference = exercises.solution_sampling_loop()

        def loop(step_model, encoder, primer, num_new_steps, temperature, rng):
            if slip == "only the new events":
                events = reference(step_model, encoder, primer, num_new_steps, temperature, rng)
                return events[len(primer) :]
            events = list(primer)
            logits, state = step_model(encoder.inputs(events)[None], step_model.zero_state(1))
            for _ in range(num_new_steps):
                scaled = logits.numpy()[0, -1].astype(np.float64) / temperature
                probabilities = np.exp(scaled - scaled.max())
                rng.random()  # a stray draw: the generator's draws and these part
                chosen = rng.choice(len(scaled), p=probabilities / probabilities.sum())
                events.append(encoder.class_index_to_event(int(chosen), events))
                inputs = encoder.input_for_last_position(events)[None, None]
                logits, state = step_model(inputs, state)
            return events

        return loop
    return nb09_generation._slipped_loop(slip)


def run(answer, capsys) -> tuple[bool, str]:
    result = exercises.check_sampling_loop(answer)
    return result, capsys.readouterr().out


def test_the_model_answer_gives_the_generators_melody(capsys):
    ok, out = run(exercises.solution_sampling_loop(), capsys)
    assert ok is True and out.startswith("Correct!"), out


def test_returning_only_the_new_events_is_accepted(capsys):
    ok, out = run(wrong_loop("only the new events"), capsys)
    assert ok is True, out


@pytest.mark.parametrize(
    "slip, words",
    [
        ("no temperature", "temperature 1 gives"),
        ("multiplied", "multiplied by the temperature"),
        ("no state", "carry the state"),
        ("not fed", "feed each new event"),
        ("not decoded", "class_index_to_event"),
        ("two draws", "draw exactly once per step"),
    ],
)
def test_each_slip_is_named(slip, words, capsys):
    ok, out = run(wrong_loop(slip), capsys)
    assert ok is False and out.startswith("Not yet:"), out
    assert words in out, out
    if slip != "not decoded":  # that one fails inside the encoder, before any step is compared
        assert "at new step" in out and "probabilities there" in out and "draw was u =" in out


def test_unwritten_and_broken_answers_are_verdicts_not_errors(capsys):
    def unwritten(step_model, encoder, primer, num_new_steps, temperature, rng):
        raise NotImplementedError("write the loop")

    ok, out = run(unwritten, capsys)
    assert ok is False and "not written yet" in out and "Hint:" in out

    ok, out = run(lambda *args: 1 / 0, capsys)
    assert ok is False and "ZeroDivisionError" in out

    ok, out = run(lambda *args: [60, -2], capsys)
    assert ok is False and "events" in out

    ok, out = run("sample_continuation", capsys)
    assert ok is False and "the function itself" in out


def test_yours_or_reference_gives_the_reference_until_yours_passes(capsys):
    def unwritten(*args):
        raise NotImplementedError

    chosen = exercises.sampling_loop_or_reference(unwritten)
    out = capsys.readouterr().out
    assert chosen is not unwritten and out.count("\n") == 1 and "reference" in out
    mine = exercises.solution_sampling_loop()
    assert exercises.sampling_loop_or_reference(mine) is mine
    assert capsys.readouterr().out == "Using your sample_continuation.\n"
