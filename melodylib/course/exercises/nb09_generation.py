"""Exercises of notebook 09_generation: a primer on the command line, and a sampling loop.

- `check_primer_melody`: the text that `--primer_melody` accepts. The answer goes through the
  generator's own flag parser, so whatever the command line reads as the tune passes; the notes
  are then compared with the tune like 00's "Twinkle, twinkle".
- `check_sampling_loop` (a build exercise): the learner's temperature-sampling loop over a
  `StepModel`, carrying the recurrent state. Run with the same seed, it must give exactly the
  melody `MelodyGenerator.generate` gives. Where the two part, the checker names the step, the
  model's probabilities there and the random draw, and tests the usual slips (temperature left
  out or multiplied, state not carried, class index not decoded) against that step.
"""

from __future__ import annotations

import contextlib
import functools
import io
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from melodylib.course.exercises.common import as_int_list, event_name, note_spans, softmax, verdict
from melodylib.course.exercises.registry import Exercise
from melodylib.course.exercises.tunes import WrittenTune
from melodylib.errors import MelodylibError
from melodylib.music.events import NO_EVENT, NOTE_OFF

__all__ = [
    "PRIMER_EXERCISE_PITCHES",
    "PRIMER_EXERCISE_DURATIONS",
    "PRIMER_FLAG",
    "check_primer_melody",
    "solution_primer_melody",
    "SAMPLING_CHECK_RUNS",
    "check_sampling_loop",
    "solution_sampling_loop",
    "sampling_loop_or_reference",
]

NOTEBOOK = "09_generation"

# The end of the first line of "Ode to Joy": C C D E | E. D D, from middle C. Four quarter notes,
# then a dotted quarter, an eighth and a half note, in 16th-note steps.
PRIMER_EXERCISE_PITCHES = (60, 60, 62, 64, 64, 62, 62)
PRIMER_EXERCISE_DURATIONS = (4, 4, 4, 4, 6, 2, 8)
PRIMER_FLAG = "--primer_melody"

_PRIMER = WrittenTune(
    pitches=PRIMER_EXERCISE_PITCHES,
    durations=PRIMER_EXERCISE_DURATIONS,
    subject="the primer",
    pitch_reminder="(middle C is 60, D 62, E 64)",
    start_hint="one step is a 16th note: a quarter note is the pitch and three -2, a dotted "
    "quarter the pitch and five -2, an eighth the pitch and one -2.",
    short_hint="a new note-on ends the note before by itself, so no -1 is needed between notes; "
    "a -1 in the middle of a note cuts it short.",
    long_hint="end the last note with a -1 at step {step}, or stop the list there.",
    extra_hint="the phrase ends with the half note D; leave out anything after it.",
)


def _primer_flag_value(text: str) -> str:
    """The value a shell hands to --primer_melody: without a leading `--primer_melody=` and one
    pair of quotes."""
    value = text.strip()
    for prefix in (PRIMER_FLAG + "=", PRIMER_FLAG + " "):
        if value.startswith(prefix):
            value = value[len(prefix) :].strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1]
    return value


def check_primer_melody(answer: Any) -> bool:
    """09_generation: the text to give `--primer_melody` for C C D E | E. D D (from middle C,
    16th-note steps).

    Any text that Magenta's (and our) flag parser reads as those notes passes: with or without
    spaces, a final note-off or trailing rests, as a list or a tuple, with or without
    `--primer_melody=` and quotes around it, as a shell would pass them.
    """
    from melodylib.generation.primers import parse_primer_melody

    hint = (
        'write the events as a Python list in text, e.g. "[60, -2, -2, -2, 60, ...]"; '
        "str(my_events) turns a list into it."
    )
    if not isinstance(answer, str):
        events = as_int_list(answer, "the primer")
        if not isinstance(events, str):
            return verdict(
                False,
                "this is a list, but the flag receives text.",
                f"put it in quotes, or give str(...) of it: {str(events)[:40]!r} ...",
            )
        return verdict(False, f"give the primer as text; got a {type(answer).__name__}.", hint)
    value = _primer_flag_value(answer)
    if not value:
        return verdict(False, "the text is empty.", hint)
    try:
        events = parse_primer_melody(value)
    except MelodylibError as error:
        return verdict(False, f"the flag parser refuses it: {error}", hint)
    # A note-off before the first note ends nothing; Magenta's Melody turns it into a no-event too.
    first_note = next(
        (position for position, event in enumerate(events) if event >= 0), len(events)
    )
    events = [
        NO_EVENT if event == NOTE_OFF and position < first_note else event
        for position, event in enumerate(events)
    ]
    spans = note_spans(events)
    if not spans:
        return verdict(False, "the primer has no notes.", "notes are MIDI pitches 0..127: C is 60.")
    problem = _PRIMER.problem(spans)
    if problem is not None:
        return verdict(False, *problem)
    return verdict(
        True,
        f"The flag reads it as {len(events)} events, the seven notes on their steps. Try it: "
        f"melody_rnn generate --bundle_file=data/bundles/basic_rnn.bundle "
        f'--primer_melody="{value}"',
    )


def solution_primer_melody() -> str:
    """A model answer to check_primer_melody: the events as the text of a Python list, ending in a
    note-off."""
    return str(_PRIMER.events())


# --- the build exercise: a temperature-sampling loop over the step model ----------------------

# The runs the checker makes: (temperature, seed, new steps). Two temperatures, so that a loop
# that leaves the temperature out cannot pass by luck at temperature 1.
SAMPLING_CHECK_RUNS = ((1.0, 11, 48), (1.5, 12, 48))

_LOOP_HINT = (
    "feed the primer once (encoder.inputs, from step_model.zero_state(1)); then per step: the "
    "last position's logits / temperature, softmax in float64, rng.choice(num_classes, "
    "p=probabilities), encoder.class_index_to_event, append, and feed "
    "encoder.input_for_last_position(events)[None, None] with the state."
)


@functools.lru_cache(maxsize=1)
def _default_generator() -> Any:
    """The pretrained basic_rnn bundle's generator (loaded once)."""
    import melodylib
    from melodylib.course.shipped import bundle_path
    from melodylib.generation.generator import MelodyGenerator

    return MelodyGenerator(melodylib.load_bundle(bundle_path("basic_rnn")))


@functools.lru_cache(maxsize=1)
def _default_primer() -> tuple[int, ...]:
    """The first 32 steps of a real tune: "Gentle Ann." (Aird's Airs, in music21's corpus; 00)."""
    import melodylib
    from melodylib.course import corpus
    from melodylib.music import readers

    path = corpus.music21_corpus_folder() / "airdsAirs" / "book1.abc"
    tunes = readers.split_abc_tunes(path.read_text(encoding="utf-8", errors="replace"))
    tune = next(tune for tune in tunes if tune.title == "Gentle Ann.")
    sequence = readers.abc_tune_to_note_sequence(tune, path)
    quantized = melodylib.quantize_note_sequence(sequence, steps_per_quarter=4)
    melodies, _ = melodylib.extract_melodies(quantized)
    return tuple(melodies[0].events[:32])


def _last_logits(generator: Any, events: Sequence[int], only_last: bool = False) -> np.ndarray:
    """The model's logits after `events` (from the zero state): all of them, or the last only."""
    step_model, encoder = generator.step_model, generator.encoder
    inputs = encoder.inputs(list(events))
    inputs = inputs[-1:] if only_last else inputs
    logits, _ = step_model(inputs[None], step_model.zero_state(1))
    return logits.numpy()[0, -1].astype(np.float64)


def _slipped_loop(slip: str) -> Callable[..., list[int]]:
    """The reference loop with one usual slip, to test whether it explains a learner's melody."""

    def sample_continuation(step_model, encoder, primer, num_new_steps, temperature, rng):
        events = list(primer)
        logits, state = step_model(encoder.inputs(events)[None], step_model.zero_state(1))
        for _ in range(num_new_steps):
            raw = logits.numpy()[0, -1].astype(np.float64)
            scaled = {"no temperature": raw, "multiplied": raw * temperature}.get(
                slip, raw / temperature
            )
            chosen = int(rng.choice(len(scaled), p=softmax(scaled)))
            event = encoder.class_index_to_event(chosen, events)
            events.append(chosen if slip == "not decoded" else event)
            if slip == "not fed":
                continue
            inputs = encoder.input_for_last_position(events)[None, None]
            if slip == "no state":
                logits, _ = step_model(inputs, step_model.zero_state(1))
            else:
                logits, state = step_model(inputs, state)
        return events

    return sample_continuation


_SLIP_HINTS = {
    "not decoded": "you appended the class index, not its event: turn a class into an event with "
    "encoder.class_index_to_event(chosen, events).",
    "not fed": "your melody is what the probabilities after the primer give at every step: feed "
    "each new event to step_model and take the logits it returns for the next step.",
    "no state": "your melody is what a model that starts from the zero state at every step "
    "gives: carry the state that step_model returns into the next call.",
    "no temperature": "your melody is what temperature 1 gives: divide the logits by the "
    "temperature before the softmax.",
    "multiplied": "your melody is what logits multiplied by the temperature give: divide them "
    "instead.",
}


def _parting_message(
    generator: Any,
    expected: list[int],
    yours: list[int],
    position: int,
    primer_length: int,
    temperature: float,
    seed: int,
) -> tuple[str, str]:
    """What to say where the learner's melody first differs from the generator's: the step, the
    model's probabilities there, the draw, and which usual slip (if any) gives the learner's
    whole melody."""
    encoder = generator.encoder
    history = expected[:position]
    step = position - primer_length  # 0-based new step
    probabilities = softmax(_last_logits(generator, history) / temperature)
    uniform = float(np.random.default_rng(seed).random(step + 1)[step])
    names = encoder.class_names()
    top = np.argsort(-probabilities)[:5]
    listed = ", ".join(f"{names[index]} {probabilities[index]:.3f}" for index in top)
    yours_event, expected_event = yours[position], expected[position]
    try:
        your_probability = f"{probabilities[int(encoder.labels(history + [yours_event])[-1])]:.3f}"
    except Exception:  # noqa: BLE001 (an event the encoding cannot hold)
        your_probability = "0: the model's classes cannot hold it"
    before = {0: "it is the first new event", 1: "the new event before it agrees"}.get(
        step, f"the {step} new events before it agree"
    )
    message = (
        f"at new step {step + 1} (position {position} of the melody; temperature {temperature}, "
        f"seed {seed}) your loop chose {event_name(yours_event)} and the generator "
        f"{event_name(expected_event)}; {before}. The model's probabilities there: {listed} "
        f"(yours: {your_probability}); the generator's draw was u = {uniform:.4f}."
    )
    for slip, hint in _SLIP_HINTS.items():
        if slip in ("no temperature", "multiplied") and temperature == 1:
            continue
        try:
            slipped = _slipped_loop(slip)(
                generator.step_model,
                encoder,
                expected[:primer_length],
                len(expected) - primer_length,
                temperature,
                np.random.default_rng(seed),
            )
        except Exception:  # noqa: BLE001, S112 (a slip that cannot run here explains nothing)
            continue
        if list(map(int, slipped)) == list(yours):
            return message, hint
    return message, (
        "draw exactly once per step with rng.choice(len(probabilities), p=probabilities) and use "
        "the rng for nothing else, so that your draws are the generator's; " + _LOOP_HINT
    )


def check_sampling_loop(answer: Any, generator: Any = None, primer: Any = None) -> bool:
    """09_generation: `sample_continuation(step_model, encoder, primer, num_new_steps,
    temperature, rng)`, a temperature-sampling loop that carries the step model's state.

    Run with `np.random.default_rng(seed)`, it must give exactly the melody (in the model's range
    and key) that `generator.generate(primer, ..., temperature, seed)` gives, at each of
    `SAMPLING_CHECK_RUNS`. `generator` defaults to the pretrained basic_rnn bundle's, `primer` to
    the first 32 steps of "Gentle Ann." (the tune of notebook 00). Returning only the new events
    is accepted too.
    """
    import melodylib

    if not callable(answer):
        return verdict(
            False,
            f"give the function itself; got {type(answer).__name__} {answer!r:.40}.",
            "write check_sampling_loop(sample_continuation), without () after the name.",
        )
    generator = generator if generator is not None else _default_generator()
    user_primer = list(primer) if primer is not None else list(_default_primer())
    squashed = melodylib.Melody(list(user_primer))
    config = generator.config
    squashed.squash(config.min_note, config.max_note, config.transpose_to_key)
    model_primer = list(squashed.events)
    for temperature, seed, new_steps in SAMPLING_CHECK_RUNS:
        expected = generator.generate(
            user_primer,
            num_steps=len(user_primer) + new_steps,
            temperature=temperature,
            seed=seed,
        )[0].model_events
        try:
            result = answer(
                generator.step_model,
                generator.encoder,
                list(model_primer),
                new_steps,
                temperature,
                np.random.default_rng(seed),
            )
        except NotImplementedError:
            return verdict(False, "sample_continuation is not written yet.", _LOOP_HINT)
        except Exception as error:  # noqa: BLE001 (any error of the learner's code is a verdict)
            hint = _LOOP_HINT
            if "cannot be encoded" in str(error):
                hint = _SLIP_HINTS["not decoded"]
            if "sum to 1" in str(error):
                hint = "compute the probabilities in float64: logits.numpy()[0, -1].astype(np.float64)."
            return verdict(
                False,
                f"your function raised {type(error).__name__}: {str(error)[:200]}",
                hint,
            )
        events = as_int_list(result, "the melody your function returned")
        if isinstance(events, str):
            return verdict(False, events, "return the primer's events and the new ones, one list.")
        if len(events) == new_steps and len(model_primer) != new_steps:
            events = model_primer + events  # only the continuation: fine too
        if len(events) != len(expected):
            return verdict(
                False,
                f"your melody has {len(events)} events; the primer ({len(model_primer)}) and "
                f"{new_steps} new ones make {len(expected)}.",
                "run the loop num_new_steps times and append one event each time.",
            )
        if events[: len(model_primer)] != model_primer:
            return verdict(
                False,
                "the primer at the start of your melody is not the one you were given.",
                "start from events = list(primer) and only append to it.",
            )
        if events != expected:
            position = next(i for i, (a, b) in enumerate(zip(events, expected)) if a != b)
            message, hint = _parting_message(
                generator, expected, events, position, len(model_primer), temperature, seed
            )
            return verdict(False, message, hint)
    temperatures = " and ".join(str(run[0]) for run in SAMPLING_CHECK_RUNS)
    return verdict(
        True,
        f"Your loop gives exactly the generator's melodies: {SAMPLING_CHECK_RUNS[0][2]} new "
        f"events at temperatures {temperatures}, the same draw for the same seed, step by step.",
    )


def solution_sampling_loop() -> Callable[..., list[int]]:
    """A model answer to check_sampling_loop: the loop a learner writes in notebook 09."""

    def sample_continuation(step_model, encoder, primer, num_new_steps, temperature, rng):
        """Continue `primer` (events in the model's range and key) by `num_new_steps` events."""
        events = list(primer)
        # The whole primer in one call, from the zero state: logits per position, the state after.
        logits, state = step_model(encoder.inputs(events)[None], step_model.zero_state(1))
        for _ in range(num_new_steps):
            scaled = logits.numpy()[0, -1].astype(np.float64) / temperature
            probabilities = np.exp(scaled - scaled.max())
            probabilities /= probabilities.sum()
            chosen = rng.choice(len(probabilities), p=probabilities)
            events.append(encoder.class_index_to_event(int(chosen), events))
            # One step: the new event's input, and the state carried from the call before.
            logits, state = step_model(encoder.input_for_last_position(events)[None, None], state)
        return events

    return sample_continuation


def sampling_loop_or_reference(answer: Any, generator: Any = None, primer: Any = None) -> Any:
    """The learner's `sample_continuation` if check_sampling_loop accepts it, else the reference
    loop (one printed line says which), for the cells that use the loop."""
    with contextlib.redirect_stdout(io.StringIO()):
        passed = check_sampling_loop(answer, generator, primer)
    if passed:
        print("Using your sample_continuation.")
        return answer
    print(
        "Using the reference loop, as yours does not pass check_sampling_loop yet (its code: "
        "inspect.getsource(exercises.solution_sampling_loop))."
    )
    return solution_sampling_loop()


EXERCISES = (
    Exercise(check_primer_melody, solution_primer_melody),
    Exercise(check_sampling_loop, solution_sampling_loop),
)
