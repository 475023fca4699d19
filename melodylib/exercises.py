"""The course's exercises: one checker per exercise that tells a learner whether an answer is right.

Each `check_<name>(answer, ...)` prints a verdict ("Correct! ..." or what is wrong, with a hint) and
returns True or False. A checker never raises for a wrong or malformed answer, so a learner can try
anything. It works the truth out from the data or the rules and accepts every correct answer, not
only the one in the solution. Teachers get a model answer from `solution_<name>()`, or all the
answers of a notebook from `solution("03_event_encoding")`.

To add an exercise for a later notebook: write `check_<name>` and `solution_<name>` here, register
the solution in `SOLUTIONS` under the notebook's name, and test both in tests/test_exercises.py.
"""

from __future__ import annotations

import inspect
import numbers
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from melodylib.errors import MelodylibError
from melodylib.events import MAX_MELODY_EVENT, MIN_MELODY_EVENT, NO_EVENT, NOTE_OFF, NOTES_PER_OCTAVE

STEPS_PER_QUARTER = 4
STEPS_PER_BAR = 16  # 4/4 at 4 steps per quarter, the grid of every exercise melody

# --------------------------------------------------------------------------------------------
# Shared helpers: reading an answer and printing a verdict
# --------------------------------------------------------------------------------------------


def _verdict(correct: bool, message: str, hint: str = "") -> bool:
    """Print a friendly verdict and return `correct`."""
    if correct:
        print(f"Correct! {message}".rstrip())
    else:
        print(f"Not yet: {message}".rstrip())
        if hint:
            print(f"Hint: {hint}")
    return correct


def _as_int_list(answer: Any, what: str) -> list[int] | str:
    """The answer as a list of Python ints, or a message saying why it is not one.

    Accepts a list, tuple, numpy array or anything with an `events` list (a Melody).
    """
    values = getattr(answer, "events", answer)
    if isinstance(values, (str, bytes)) or values is None or isinstance(values, numbers.Number):
        return f"give {what} as a list of whole numbers, e.g. [60, -2, -1]; got {answer!r:.60}"
    if isinstance(values, np.ndarray) and values.ndim != 1:
        return f"give {what} as a flat list of whole numbers; got an array of shape {values.shape}"
    try:
        items = list(values)
    except TypeError:
        return f"give {what} as a list of whole numbers, e.g. [60, -2, -1]; got a {type(answer).__name__}"
    result = []
    for position, item in enumerate(items):
        if isinstance(item, (bool, np.bool_)) or not isinstance(item, numbers.Real):
            return f"position {position} of {what} is {item!r:.30}, not a whole number"
        if not float(item).is_integer():
            return f"position {position} of {what} is {item}, not a whole number"
        result.append(int(item))
    if not result:
        return f"{what} is empty"
    return result


def _as_events(answer: Any) -> list[int] | str:
    """The answer as a list of melody events (-2, -1, 0..127), or a message saying what is wrong."""
    events = _as_int_list(answer, "the melody")
    if isinstance(events, str):
        return events
    for position, event in enumerate(events):
        if not MIN_MELODY_EVENT <= event <= MAX_MELODY_EVENT:
            return (
                f"event {event} at position {position} is not a melody event; use -2 (no event: hold), "
                "-1 (note off) or a MIDI pitch 0..127 (note on)"
            )
    return events


def _event_name(event: int) -> str:
    from melodylib.display import pitch_name

    if event == NO_EVENT:
        return "-2 (no event)"
    if event == NOTE_OFF:
        return "-1 (note off)"
    return f"{event} ({pitch_name(event)})"


def _note_spans(events: Sequence[int]) -> list[tuple[int, int, int]]:
    from melodylib.display import event_note_spans

    return event_note_spans(events)


# --------------------------------------------------------------------------------------------
# 00_tour: write "Twinkle, twinkle" as melody events
# --------------------------------------------------------------------------------------------

TWINKLE_PITCHES = (60, 60, 67, 67, 69, 69, 67)  # C C G G A A G
TWINKLE_DURATIONS = (4, 4, 4, 4, 4, 4, 8)  # six quarter notes and a half note, in 16th-note steps


def check_twinkle(answer: Any) -> bool:
    """00_tour: the first two bars of "Twinkle, twinkle" (C C G G A A G from middle C, six quarter
    notes and a half note) as melody events starting at step 0.

    Any list that sounds right passes: with or without a final note-off, with or without rests after
    it, as a list, a numpy array or a Melody.
    """
    from melodylib.display import pitch_name

    events = _as_events(answer)
    if isinstance(events, str):
        return _verdict(False, events, "a melody is a list with one event per 16th-note step.")
    spans = _note_spans(events)
    starts = np.cumsum((0,) + TWINKLE_DURATIONS[:-1]).tolist()
    for number, (pitch, start) in enumerate(zip(TWINKLE_PITCHES, starts), start=1):
        if number > len(spans):
            return _verdict(
                False, f"the melody has only {len(spans)} note{'' if len(spans) == 1 else 's'}; "
                f"the tune has {len(TWINKLE_PITCHES)}.",
                f"note {number} is {pitch_name(pitch)} ({pitch}) at step {start}.",
            )
        got_pitch, got_start, _ = spans[number - 1]
        if got_pitch != pitch:
            hint = f"note {number} is {pitch_name(pitch)}, MIDI pitch {pitch} (middle C is 60)."
            return _verdict(False, f"note {number} is {pitch_name(got_pitch)} ({got_pitch}).", hint)
        if got_start != start:
            return _verdict(
                False, f"note {number} starts at step {got_start}; it should start at step {start}.",
                "a quarter note lasts 4 steps: write the pitch, then three -2 (no event) to hold it.",
            )
    for number, (start, duration, (_, _, got_end)) in enumerate(zip(starts, TWINKLE_DURATIONS, spans), start=1):
        length = got_end - start
        if length < duration:
            return _verdict(
                False,
                f"note {number} stops after {length} step{'s' if length != 1 else ''}; it should last {duration}.",
                "a new note-on ends the previous note by itself, so no -1 is needed between notes; "
                "a -1 in the middle of a note cuts it short.",
            )
        if length > duration:
            return _verdict(
                False, f"note {number} lasts {length} steps; it should last {duration}.",
                f"end the last note with a -1 (note off) at step {start + duration}, or stop the list there.",
            )
    if len(spans) > len(TWINKLE_PITCHES):
        extra_pitch, extra_start, _ = spans[len(TWINKLE_PITCHES)]
        return _verdict(
            False, f"after the seven notes there is another one ({pitch_name(extra_pitch)} at step {extra_start}).",
            "the two bars end with the half note G; leave out anything after it.",
        )
    return _verdict(
        True, "Seven notes, each on its beat and held for the right number of steps. Listen to it with play()."
    )


def solution_twinkle() -> list[int]:
    """A model answer to check_twinkle: each pitch followed by NO_EVENTs to hold it, and a final note-off."""
    events: list[int] = []
    for pitch, duration in zip(TWINKLE_PITCHES, TWINKLE_DURATIONS):
        events += [pitch] + [NO_EVENT] * (duration - 1)
    return events + [NOTE_OFF]


# --------------------------------------------------------------------------------------------
# 01_data_conversion: find a tune in a minor key and in 6/8
# --------------------------------------------------------------------------------------------

FIND_TUNE_METER = (6, 8)
MINOR_MODE = 1


def _meter_of(sequence) -> tuple[int, int] | None:
    """The first time signature of a NoteSequence as (numerator, denominator), None if it has none."""
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
    from melodylib.display import PITCH_CLASS_NAMES

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
    """The corpus tunes an answer names (a NoteSequence, an id, a title or a position), or why none."""
    from melodylib.music import NoteSequence

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
        by_title = [sequence for sequence in sequences if sequence.title.strip().lower() == text.lower()]
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
    hint = ("a NoteSequence keeps its meter in time_signatures (numerator, denominator) and its key in "
            "key_signatures (mode 1 is minor); look at the first of each.")
    candidates, problem = _candidates(answer, sequences)
    if not candidates:
        return _verdict(False, problem + ".", hint)
    matches = [sequence for sequence in candidates if _is_minor_six_eight(sequence)]
    if matches:
        tune = matches[0]
        shared = " (several tunes share that title; at least one fits)" if len(candidates) > 1 else ""
        count = sum(_is_minor_six_eight(sequence) for sequence in sequences)
        return _verdict(
            True, f"{tune.title or tune.id!r} is in {_key_name(_key_of(tune))} and 6/8{shared}. "
            f"{count} of the {len(sequences)} tunes fit.",
        )
    tune = candidates[0]
    return _verdict(False, f"{tune.title or tune.id!r} {_find_tune_problem(tune)}.", hint)


def solution_find_tune(sequences: Iterable | None = None) -> str:
    """A model answer to check_find_tune: the id of the first fitting tune (of the course corpus by default)."""
    sequences = _course_sequences() if sequences is None else list(sequences)
    for sequence in sequences:
        if _is_minor_six_eight(sequence):
            return sequence.id
    raise MelodylibError("no tune in these sequences is in a minor key and in 6/8; give the course corpus")


def _course_sequences() -> list:
    """The NoteSequences of the course corpus (the small subset in quick mode, else the full one)."""
    from melodylib.corpus import sequences_file
    from melodylib.music import read_note_sequences
    from melodylib.quick import quick_or_full

    path = sequences_file(quick_or_full("small", "full"))
    if not path.exists():
        raise MelodylibError(f"{path} does not exist; build the course corpus first (melody_rnn build_corpus)")
    return list(read_note_sequences(path))


# --------------------------------------------------------------------------------------------
# 02_melody_extraction: a melody that survives extraction
# --------------------------------------------------------------------------------------------


def _extract(events: list[int]) -> tuple[list, dict]:
    """Melodies and counters that create_dataset's extraction gives for a melody played at 120 qpm in 4/4."""
    import collections

    from melodylib.datasets import ExtractionSettings, melodies_from_note_sequence
    from melodylib.melodies import Melody

    counters: collections.Counter = collections.Counter()
    sequence = Melody(events).to_note_sequence()
    melodies = melodies_from_note_sequence(sequence, ExtractionSettings(), counters)
    return melodies, counters


def check_surviving_melody(answer: Any) -> bool:
    """02_melody_extraction: a melody (events, 16 steps per bar) that create_dataset keeps as ONE melody.

    The answer is played at 120 qpm in 4/4 and goes through the same splitting, quantization and
    extraction as the training data (at least 7 bars, at least 5 pitch classes, no silence of a
    bar or more inside). Any melody that comes out whole (or cut to 512 steps) passes.
    """
    from melodylib.display import PITCH_CLASS_NAMES
    from melodylib.melodies import TOO_FEW_PITCHES_COUNTER, TOO_SHORT_COUNTER, TRUNCATED_COUNTER

    events = _as_events(answer)
    if isinstance(events, str):
        return _verdict(False, events, "a melody is a list with one event per 16th-note step.")
    spans = _note_spans(events)
    if not spans:
        return _verdict(False, "the melody has no notes.", "add note-ons (MIDI pitches 0..127).")
    try:
        melodies, counters = _extract(events)
    except MelodylibError as error:  # not expected for valid events; report rather than raise
        return _verdict(False, f"extraction failed: {error}")
    gaps = [
        (end, next_start) for (_, _, end), (_, next_start, _) in zip(spans, spans[1:])
        if next_start - end >= STEPS_PER_BAR
    ]
    kept_notes = sum(event >= 0 for event in melodies[0]) if len(melodies) == 1 else 0
    if len(melodies) == 1 and (kept_notes == len(spans) or counters[TRUNCATED_COUNTER]):
        truncated = " It was cut to 512 steps (32 bars), as melody_rnn does with longer melodies." \
            if counters[TRUNCATED_COUNTER] else ""
        return _verdict(True, f"Extraction keeps it: one melody of {len(melodies[0])} steps.{truncated}")
    if len(melodies) > 1 or gaps:
        first_gap = gaps[0] if gaps else None
        where = f" (the silence from step {first_gap[0]} to step {first_gap[1]})" if first_gap else ""
        kept = f"only {len(melodies)} of the pieces is" if len(melodies) == 1 else f"{len(melodies)} pieces are"
        return _verdict(
            False, f"a silence of a bar (16 steps) or more{where} splits it, and {kept} long enough to keep.",
            "keep every rest shorter than 16 steps, so the melody stays in one piece.",
        )
    if counters[TOO_FEW_PITCHES_COUNTER]:
        classes = sorted({pitch % NOTES_PER_OCTAVE for pitch, _, _ in spans})
        names = ", ".join(PITCH_CLASS_NAMES[pitch_class] for pitch_class in classes)
        return _verdict(
            False, f"it uses {len(classes)} different pitch classes ({names}); extraction needs at least 5.",
            "pitch classes ignore the octave: C4 and C5 count once. Use five different note names.",
        )
    if counters[TOO_SHORT_COUNTER]:
        first_start = spans[0][1] - spans[0][1] % STEPS_PER_BAR  # melodies start on a bar line
        length = spans[-1][2] - first_start
        bars = f"{length / STEPS_PER_BAR:g} bar{'' if length == STEPS_PER_BAR else 's'}"
        return _verdict(
            False, f"it is {length} steps long ({bars}, counted from the bar of its first note to the end of its "
            "last note); extraction needs at least 7 bars = 112 steps.",
            "make it longer; trailing rests do not count, only notes do.",
        )
    return _verdict(False, f"extraction gave no melody (counters: {dict(counters)}).")


def solution_surviving_melody() -> list[int]:
    """A model answer to check_surviving_melody: eight bars of a C major scale up and down in eighth notes."""
    scale = [60, 62, 64, 65, 67, 69, 71, 72, 71, 69, 67, 65, 64, 62]
    pitches = (scale * 5)[:64]  # 64 eighth notes = 8 bars
    events: list[int] = []
    for pitch in pitches:
        events += [pitch, NO_EVENT]
    return events


# --------------------------------------------------------------------------------------------
# 03_event_encoding: one-hot labels by hand, and lookback labels that decode to a melody
# --------------------------------------------------------------------------------------------

ONE_HOT_EXERCISE_MELODY = (60, -2, -2, -2, 64, -2, -1, -2, 55, -2, -2, 67)

# Two bars where the second repeats the first, then a bar that starts like the first.
_LOOKBACK_BAR = [60, -2, 64, -2, 67, -2, 64, -2, 62, -2, 65, -2, 69, -2, 65, -1]
LOOKBACK_EXERCISE_MELODY = tuple(_LOOKBACK_BAR + _LOOKBACK_BAR + [60, -2, 64, -2, 67, -2, -2, -2, -1])


def _config_encoder(name: str):
    from melodylib.configs import get_config

    return get_config(name).encoder


def check_one_hot_labels(answer: Any) -> bool:
    """03_event_encoding (a): the basic_rnn classes of ONE_HOT_EXERCISE_MELODY, worked out by hand.

    Accepted: a class for every event, or the training labels (every event but the first, as
    `encoder.encode` gives them); a list, tuple or numpy array.
    """
    melody = list(ONE_HOT_EXERCISE_MELODY)
    truth = _config_encoder("basic_rnn").labels(melody).tolist()
    hint = "class 0 is no event (-2), 1 is note off (-1) and a pitch p is class p - 48 + 2 (basic_rnn covers 48..83)."
    labels = _as_int_list(answer, "the labels")
    if isinstance(labels, str):
        return _verdict(False, labels, hint)
    if labels == truth:
        return _verdict(True, "One class per event: 0 and 1 for the two special events, pitch - 46 for a note.")
    if labels == truth[1:]:
        return _verdict(True, "These are the training labels: every event but the first, which is never predicted.")
    if labels == melody:
        return _verdict(False, "these are the events themselves, not their classes.", hint)
    if len(labels) not in (len(truth), len(truth) - 1):
        return _verdict(
            False, f"give one class per event ({len(truth)} numbers; or {len(truth) - 1} without the first event).",
            hint,
        )
    offset = len(truth) - len(labels)
    for position, (label, expected) in enumerate(zip(labels, truth[offset:]), start=offset):
        if label != expected:
            event = melody[position]
            if event >= 0 and label == event - 48:
                hint = "the first two classes are the special events, so pitches start at class 2: p - 48 + 2."
            problem = f"event {_event_name(event)} at position {position} is class {expected}, not {label}."
            return _verdict(False, problem, hint)
    return _verdict(False, "some classes are wrong.", hint)  # not reached: a difference is found above


def solution_one_hot_labels() -> list[int]:
    """A model answer to check_one_hot_labels: the class of every event of ONE_HOT_EXERCISE_MELODY."""
    return _config_encoder("basic_rnn").labels(list(ONE_HOT_EXERCISE_MELODY)).tolist()


def check_lookback_labels(answer: Any) -> bool:
    """03_event_encoding (b): lookback_rnn classes that decode back to LOOKBACK_EXERCISE_MELODY.

    Decoding starts from an empty history (or, for one label fewer than events, from the first
    event). Several answers are right, because a repeated event can be written as its own class or
    as "repeat the event 1 (or 2) bars back": the checker decodes the answer and compares.
    """
    melody = list(LOOKBACK_EXERCISE_MELODY)
    encoder = _config_encoder("lookback_rnn")
    hint = ("classes 0..37 are the one-hot classes (0 no event, 1 note off, pitch - 46 for a note); 38 repeats the "
            "event 16 steps back and 39 the event 32 steps back (no event when there is none yet).")
    labels = _as_int_list(answer, "the labels")
    if isinstance(labels, str):
        return _verdict(False, labels, hint)
    for position, label in enumerate(labels):
        if not 0 <= label < encoder.num_classes:
            problem = f"label {label} at position {position} is not a class; classes are 0..{encoder.num_classes - 1}."
            return _verdict(False, problem, hint)
    if len(labels) == len(melody):
        history: list[int] = []
    elif len(labels) == len(melody) - 1:
        history = melody[:1]
    else:
        return _verdict(False, f"give one label per event ({len(melody)} labels); you gave {len(labels)}.", hint)
    decoded = list(history)
    for label in labels:
        position = len(decoded)
        event = encoder.class_index_to_event(label, decoded)
        if event != melody[position]:
            what = f"label {label} at position {position} decodes to {_event_name(event)}"
            if label >= 38:
                distance = encoder.lookback_distances[label - 38]
                back = "the event" if position >= distance else "nothing"
                what += f" ({back} {distance} steps back{'' if position >= distance else ' yet'})"
            return _verdict(False, f"{what}, but the melody has {_event_name(melody[position])} there.", hint)
        decoded.append(event)
    repeats = sum(label >= 38 for label in labels)
    encoder_labels = encoder.labels(melody).tolist()[len(history):]
    same = " They are exactly the encoder's labels." if labels == encoder_labels else (
        " The encoder's own labels differ (it prefers the repeat classes), yet both decode to the same melody."
    )
    return _verdict(True, f"Your {len(labels)} labels decode to the melody, {repeats} of them repeat classes.{same}")


def solution_lookback_labels() -> list[int]:
    """A model answer to check_lookback_labels: the lookback encoder's own labels for the melody."""
    return _config_encoder("lookback_rnn").labels(list(LOOKBACK_EXERCISE_MELODY)).tolist()


# --------------------------------------------------------------------------------------------
# Solutions, per notebook (for teachers)
# --------------------------------------------------------------------------------------------

SOLUTIONS: dict[str, dict[str, Callable[..., Any]]] = {
    "00_tour": {"twinkle": solution_twinkle},
    "01_data_conversion": {"find_tune": solution_find_tune},
    "02_melody_extraction": {"surviving_melody": solution_surviving_melody},
    "03_event_encoding": {"one_hot_labels": solution_one_hot_labels, "lookback_labels": solution_lookback_labels},
}


def _notebook_key(notebook: str) -> str:
    name = str(notebook).strip().split("/")[-1]
    name = name[: -len(".ipynb")] if name.endswith(".ipynb") else name
    matches = [key for key in SOLUTIONS if key == name or key.split("_")[0] == name]
    if len(matches) != 1:
        raise MelodylibError(f"no exercises for notebook {notebook!r}; choose one of {', '.join(SOLUTIONS)}")
    return matches[0]


def solution(notebook: str, *, show: bool = True, **data: Any) -> dict[str, Any]:
    """The model answers of a notebook's exercises ("03_event_encoding", "03" or the file name), printed
    when `show`. Data an exercise works on (e.g. `sequences=` for 01) is passed to its solution; without
    it the course corpus is read."""
    answers = {}
    for name, function in SOLUTIONS[_notebook_key(notebook)].items():
        accepted = inspect.signature(function).parameters
        answers[name] = function(**{key: value for key, value in data.items() if key in accepted})
        if show:
            print(f"{name}: {answers[name]!r}")
    return answers
