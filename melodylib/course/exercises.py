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
from melodylib.music.events import NO_EVENT, NOTE_OFF, NOTES_PER_OCTAVE, event_problem

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
    return event_problem(events, "the melody")


def _event_name(event: int) -> str:
    from melodylib.course.display import pitch_name

    if event == NO_EVENT:
        return "-2 (no event)"
    if event == NOTE_OFF:
        return "-1 (note off)"
    return f"{event} ({pitch_name(event)})"


def _note_spans(events: Sequence[int]) -> list[tuple[int, int, int]]:
    from melodylib.course.display import event_note_spans

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
    from melodylib.course.display import pitch_name

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
    """The corpus tunes an answer names (a NoteSequence, an id, a title or a position), or why none."""
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
    from melodylib.course.corpus import sequences_file
    from melodylib.music.notesequence import read_note_sequences
    from melodylib.course.quick import quick_or_full

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

    from melodylib.data.datasets import ExtractionSettings, melodies_from_note_sequence
    from melodylib.music.melodies import Melody

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
    from melodylib.course.display import PITCH_CLASS_NAMES
    from melodylib.music.melodies import TOO_FEW_PITCHES_COUNTER, TOO_SHORT_COUNTER, TRUNCATED_COUNTER

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
    from melodylib.encoding.configs import get_config

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


# --------------------------------------------------------------------------------------------
# 09_generation: a primer as the text that --primer_melody accepts
# --------------------------------------------------------------------------------------------

# The end of the first line of "Ode to Joy": C C D E | E. D D, from middle C. Four quarter notes,
# then a dotted quarter, an eighth and a half note, in 16th-note steps.
PRIMER_EXERCISE_PITCHES = (60, 60, 62, 64, 64, 62, 62)
PRIMER_EXERCISE_DURATIONS = (4, 4, 4, 4, 6, 2, 8)
PRIMER_FLAG = "--primer_melody"


def _primer_flag_value(text: str) -> str:
    """The value a shell hands to --primer_melody: without a leading `--primer_melody=` and one pair of quotes."""
    value = text.strip()
    for prefix in (PRIMER_FLAG + "=", PRIMER_FLAG + " "):
        if value.startswith(prefix):
            value = value[len(prefix):].strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1]
    return value


def _primer_spans_problem(spans: list[tuple[int, int, int]]) -> tuple[str, str] | None:
    """What differs between the notes of an answer and the exercise tune, as (problem, hint); None if nothing."""
    from melodylib.course.display import pitch_name

    starts = np.cumsum((0,) + PRIMER_EXERCISE_DURATIONS[:-1]).tolist()
    for number, (pitch, start) in enumerate(zip(PRIMER_EXERCISE_PITCHES, starts), start=1):
        if number > len(spans):
            return (f"the primer has only {len(spans)} note{'' if len(spans) == 1 else 's'}; the tune has "
                    f"{len(PRIMER_EXERCISE_PITCHES)}.", f"note {number} is {pitch_name(pitch)} ({pitch}) at step {start}.")
        got_pitch, got_start, _ = spans[number - 1]
        if got_pitch != pitch:
            return (f"note {number} is {pitch_name(got_pitch)} ({got_pitch}).",
                    f"note {number} is {pitch_name(pitch)}, MIDI pitch {pitch} (middle C is 60, D 62, E 64).")
        if got_start != start:
            return (f"note {number} starts at step {got_start}; it should start at step {start}.",
                    "one step is a 16th note: a quarter note is the pitch and three -2, a dotted quarter the pitch "
                    "and five -2, an eighth the pitch and one -2.")
    last = len(PRIMER_EXERCISE_PITCHES)
    for number, (start, duration, (_, _, got_end)) in enumerate(
        zip(starts, PRIMER_EXERCISE_DURATIONS, spans), start=1
    ):
        length = got_end - start
        if length < duration:
            return (f"note {number} stops after {length} step{'' if length == 1 else 's'}; it should last {duration}.",
                    "a new note-on ends the note before by itself, so no -1 is needed between notes; a -1 in the "
                    "middle of a note cuts it short.")
        if length > duration:  # only the last note can be too long once every note starts on its step
            return (f"note {number} lasts {length} steps; it should last {duration}.",
                    f"end the last note with a -1 at step {start + duration}, or stop the list there.")
    if len(spans) > last:
        extra_pitch, extra_start, _ = spans[last]
        return (f"after the seven notes there is another one ({pitch_name(extra_pitch)} at step {extra_start}).",
                "the phrase ends with the half note D; leave out anything after it.")
    return None


def check_primer_melody(answer: Any) -> bool:
    """09_generation: the text to give `--primer_melody` for C C D E | E. D D (from middle C, 16th-note steps).

    Any text that Magenta's (and our) flag parser reads as those notes passes: with or without spaces,
    a final note-off or trailing rests, as a list or a tuple, with or without `--primer_melody=` and
    quotes around it, as a shell would pass them.
    """
    from melodylib.generation.generator import parse_primer_melody

    hint = "write the events as a Python list in text, e.g. \"[60, -2, -2, -2, 60, ...]\"; str(my_events) turns a list into it."
    if not isinstance(answer, str):
        events = _as_int_list(answer, "the primer")
        if not isinstance(events, str):
            return _verdict(False, "this is a list, but the flag receives text.",
                            f"put it in quotes, or give str(...) of it: {str(events)[:40]!r} ...")
        return _verdict(False, f"give the primer as text; got a {type(answer).__name__}.", hint)
    value = _primer_flag_value(answer)
    if not value:
        return _verdict(False, "the text is empty.", hint)
    try:
        events = parse_primer_melody(value)
    except MelodylibError as error:
        return _verdict(False, f"the flag parser refuses it: {error}", hint)
    # A note-off before the first note ends nothing; Magenta's Melody turns it into a no-event too.
    first_note = next((position for position, event in enumerate(events) if event >= 0), len(events))
    events = [NO_EVENT if event == NOTE_OFF and position < first_note else event for position, event in enumerate(events)]
    spans = _note_spans(events)
    if not spans:
        return _verdict(False, "the primer has no notes.", "notes are MIDI pitches 0..127: C is 60.")
    problem = _primer_spans_problem(spans)
    if problem is not None:
        return _verdict(False, *problem)
    return _verdict(
        True, f"The flag reads it as {len(events)} events, the seven notes on their steps. Try it: "
        f"melody_rnn generate --bundle_file=data/bundles/basic_rnn.bundle --primer_melody=\"{value}\"",
    )


def solution_primer_melody() -> str:
    """A model answer to check_primer_melody: the events as the text of a Python list, ending in a note-off."""
    events: list[int] = []
    for pitch, duration in zip(PRIMER_EXERCISE_PITCHES, PRIMER_EXERCISE_DURATIONS):
        events += [pitch] + [NO_EVENT] * (duration - 1)
    return str(events + [NOTE_OFF])


# --------------------------------------------------------------------------------------------
# 10_evaluation: the perplexity of a unigram model
# --------------------------------------------------------------------------------------------

# A unigram model: the same distribution at every step, over four classes of a tiny one-hot encoding
# (0 no event, 1 note-off, 2 C, 3 G), and the labels to score (every label is scored).
UNIGRAM_EXERCISE_PROBABILITIES = (0.6, 0.1, 0.2, 0.1)
UNIGRAM_EXERCISE_LABELS = (0, 0, 2, 0, 1, 3, 0, 0)
PERPLEXITY_RELATIVE_TOLERANCE = 0.005  # accepts the answer rounded to two or three significant digits


def _unigram_exercise_log_probabilities() -> np.ndarray:
    return np.log(np.asarray(UNIGRAM_EXERCISE_PROBABILITIES, dtype=np.float64)[list(UNIGRAM_EXERCISE_LABELS)])


def _perplexity_answer_value(answer: Any) -> float | None:
    if isinstance(answer, (bool, np.bool_)):
        return None
    if isinstance(answer, np.ndarray) and answer.size == 1:
        answer = answer.reshape(-1)[0]
    if isinstance(answer, numbers.Real):
        value = float(answer)
        return value if np.isfinite(value) else None
    return None


def check_perplexity(answer: Any) -> bool:
    """10_evaluation: the perplexity of the unigram model UNIGRAM_EXERCISE_PROBABILITIES on
    UNIGRAM_EXERCISE_LABELS: exp(mean negative log-probability of the labels).

    Any number within 0.5 % passes (2.99, 2.992, ...); the checker recomputes it from the
    probabilities and names the usual slips (the loss itself, bits, a sum instead of a mean).
    """
    log_probabilities = _unigram_exercise_log_probabilities()
    loss = float(-log_probabilities.mean())
    truth = float(np.exp(loss))
    hint = "perplexity = exp(NLL per step), and NLL per step = -mean(log p(label)) with the natural log."
    value = _perplexity_answer_value(answer)
    if value is None:
        return _verdict(False, f"give one number; got {answer!r:.40}.", hint)

    def near(target: float) -> bool:
        return abs(value - target) <= PERPLEXITY_RELATIVE_TOLERANCE * abs(target)

    if near(truth):
        return _verdict(
            True, f"The NLL is {loss:.3f} nats per step, so the perplexity is e^{loss:.3f} = {truth:.3f}: the model "
            f"is as unsure as a fair choice among about {truth:.0f} classes at every step.",
        )
    slips = [
        (loss, "this is the NLL per step (the loss), not the perplexity.", "the perplexity is e to the power of it."),
        (loss / np.log(2.0), "this is the NLL per step in bits.", "the perplexity is 2 ** bits (the same as e ** nats)."),
        (-loss, "this is the mean log-probability per step.", "negate it and take exp: the perplexity is exp(-mean log p)."),
        (float(-log_probabilities.sum()), "this is the NLL of the whole sequence (a sum).",
         "divide by the number of labels first: perplexity is per step."),
        (float(np.exp(-log_probabilities.sum())), "you took exp of the sum; perplexity uses the mean.",
         f"divide the summed NLL by the {len(UNIGRAM_EXERCISE_LABELS)} labels before taking exp."),
        (1.0 / truth, "this is the geometric mean of the probabilities.", "the perplexity is its inverse."),
        (float(len(UNIGRAM_EXERCISE_PROBABILITIES)), "this is the number of classes.",
         "a uniform model would have that perplexity; this one is surer of the no-event class."),
    ]
    for target, problem, slip_hint in slips:
        if near(target):
            return _verdict(False, problem, slip_hint)
    arithmetic_mean = float(np.exp(-np.log(np.mean(np.exp(log_probabilities)))))
    if near(arithmetic_mean):
        return _verdict(False, "this is 1 / (the average probability).",
                        "average the log-probabilities, not the probabilities: exp(-mean(log p)).")
    return _verdict(False, f"{value:g} is not the perplexity.", hint)


def solution_perplexity() -> float:
    """A model answer to check_perplexity: exp of the mean negative natural-log probability of the labels."""
    return float(np.exp(-_unigram_exercise_log_probabilities().mean()))


SOLUTIONS["09_generation"] = {"primer_melody": solution_primer_melody}
SOLUTIONS["10_evaluation"] = {"perplexity": solution_perplexity}


# ============================================================================================
# 04-08: the models and their training (appended; helpers here are prefixed `_model_`)
# ============================================================================================


def _model_number(answer: Any, what: str) -> float | str:
    """The answer as a finite float, or a message saying why it is not a number.

    Accepts ints, floats, numpy scalars, one-element arrays and text such as "61,862", "2.28" or "42%"
    (a trailing % divides by 100).
    """
    value = answer
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.reshape(()).item()
    if isinstance(value, str):
        text = value.strip().replace(",", "").replace("_", "").replace(" ", "")
        percent = text.endswith("%")
        try:
            number = float(text[:-1] if percent else text)
        except ValueError:
            return f"give {what} as a number; got the text {answer!r:.40}"
        value = number / 100.0 if percent else number
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        return f"give {what} as a number; got {answer!r:.60}"
    value = float(value)
    if not np.isfinite(value):
        return f"{what} is {value}, not a finite number"
    return value


def _model_whole_number(answer: Any, what: str) -> int | str:
    """The answer as an int (a whole-valued number or text like "61,862"), or why it is not one."""
    value = _model_number(answer, what)
    if isinstance(value, str):
        return value
    if not value.is_integer():
        return f"{what} is a whole number; got {value:g}"
    return int(value)


def _model_parameter_count(config_name: str, hparams: str | None = None) -> int:
    """The parameters of the Keras model of a config, counted on the built model."""
    from melodylib.encoding.configs import get_config
    from melodylib.models.melody_rnn import build_model, count_parameters

    return count_parameters(build_model(get_config(config_name, hparams)))


def _model_lstm_parameters(input_size: int, units: int) -> int:
    """Weights of one LSTM layer: four gates, each a matrix over [input; previous output] and a bias."""
    return 4 * units * (input_size + units) + 4 * units


# --------------------------------------------------------------------------------------------
# 04_basic_rnn: the parameter count of a smaller basic_rnn, by formula
# --------------------------------------------------------------------------------------------

PARAMETER_EXERCISE_HPARAMS = "rnn_layer_sizes=[64,64]"


def check_basic_rnn_parameters(answer: Any) -> bool:
    """04_basic_rnn: the number of parameters of basic_rnn with rnn_layer_sizes=[64,64], by formula.

    The truth is counted on the built Keras model, so any way of getting the right number passes;
    text such as "61,862" is fine too.
    """
    count = _model_whole_number(answer, "the parameter count")
    hint = ("an LSTM layer of u units with n inputs has 4·u·(n + u) weights and 4·u biases (four gates, each "
            "looking at the input and the layer's previous output); the output layer is a Dense layer from the "
            "last 64 units to the 38 classes, with a bias per class.")
    if isinstance(count, str):
        return _verdict(False, count, hint)
    truth = _model_parameter_count("basic_rnn", PARAMETER_EXERCISE_HPARAMS)
    inputs, classes, units = 38, 38, 64
    first, second = _model_lstm_parameters(inputs, units), _model_lstm_parameters(units, units)
    dense = units * classes + classes
    if count == truth:
        return _verdict(True, f"{first:,} (first LSTM) + {second:,} (second LSTM) + {dense:,} (output layer) "
                              f"= {truth:,}, exactly what Keras counts.")
    mistakes = {
        first + second: "that is the two LSTM layers; the output layer (64 -> 38) has parameters too.",
        first + dense: "that counts one LSTM layer; basic_rnn has two (rnn_layer_sizes=[64,64]).",
        truth - 4 * units - 4 * units - classes: "close: you left out the biases (4·u per LSTM layer, one per class).",
        truth - 4 * units - 4 * units: "close: the LSTM layers have biases too (4·u each).",
        truth - classes: "close: the output layer has a bias for each of the 38 classes.",
        truth - units * 4 * units - units * 4 * units: "each gate also looks at the layer's previous output: "
                                                        "the weights are 4·u·(n + u), not 4·u·n.",
        _model_parameter_count("basic_rnn"): "that is the default basic_rnn, [128,128]; the exercise has [64,64].",
    }
    if count in mistakes:
        return _verdict(False, mistakes[count], hint)
    if count == 2 * first + dense:
        return _verdict(False, "the second layer's input is the first layer's 64 outputs, not the 38 classes.", hint)
    return _verdict(False, f"{count:,} is not it.", hint)


def solution_basic_rnn_parameters() -> int:
    """A model answer to check_basic_rnn_parameters, by the formula."""
    units, inputs, classes = 64, 38, 38
    return _model_lstm_parameters(inputs, units) + _model_lstm_parameters(units, units) + units * classes + classes


# --------------------------------------------------------------------------------------------
# 05_mono_rnn: how many more parameters mono_rnn has than basic_rnn
# --------------------------------------------------------------------------------------------


def check_mono_rnn_extra_parameters(answer: Any) -> bool:
    """05_mono_rnn: how many more parameters mono_rnn has than basic_rnn, both at their default hparams.

    The truth is counted on the two built models; the number can be worked out from the widths alone.
    """
    difference = _model_whole_number(answer, "the difference")
    hint = ("the two networks differ only where the 130-wide encoding meets them: the first LSTM layer's inputs "
            "(130 instead of 38, each seen by 4·128 gate units) and the output layer (130 classes instead of 38, each "
            "with 128 weights and a bias).")
    if isinstance(difference, str):
        return _verdict(False, difference, hint)
    mono, basic = _model_parameter_count("mono_rnn"), _model_parameter_count("basic_rnn")
    truth = mono - basic
    extra = 130 - 38
    input_part, output_part = extra * 4 * 128, extra * (128 + 1)
    if difference == truth:
        return _verdict(True, f"{extra} more input columns cost {input_part:,} LSTM weights and {extra} more classes "
                              f"{output_part:,} output weights: {mono:,} - {basic:,} = {truth:,}.")
    mistakes = {
        -truth: "mono_rnn is the bigger one: give the difference as a positive number.",
        input_part: "that is the first LSTM layer's share; the output layer grows too (130 classes instead of 38).",
        output_part: "that is the output layer's share; the first LSTM layer also gets 92 more inputs.",
        input_part + extra * 128: "close: each of the 92 new classes also has a bias.",
        mono: "that is mono_rnn's whole count; subtract basic_rnn's.",
        (128 - 38) * 4 * 128 + (128 - 38) * 129: "mono_rnn has 130 classes: the 128 MIDI pitches plus no event and note off.",
    }
    if difference in mistakes:
        return _verdict(False, mistakes[difference], hint)
    return _verdict(False, f"{difference:,} is not it.", hint)


def solution_mono_rnn_extra_parameters() -> int:
    """A model answer to check_mono_rnn_extra_parameters: 92 more inputs and 92 more classes."""
    extra = 130 - 38
    return extra * 4 * 128 + extra * (128 + 1)


# --------------------------------------------------------------------------------------------
# 06_lookback_rnn: the labels lookback_rnn is trained on, for a bar played three times
# --------------------------------------------------------------------------------------------

_LOOKBACK_REPEAT_BAR = [60, -2, 62, -2, 64, -2, 65, -2, 67, -2, -2, -2, 67, -2, -1, -2]
LOOKBACK_TRAINING_MELODY = tuple(_LOOKBACK_REPEAT_BAR * 3)


def check_lookback_training_labels(answer: Any) -> bool:
    """06_lookback_rnn: the labels the lookback encoder gives LOOKBACK_TRAINING_MELODY (one bar, three times).

    These are the targets the network is trained on, so exactly one answer is right: a label for
    every event, or the training labels (all but the first, as `encoder.encode` gives them).
    """
    melody = list(LOOKBACK_TRAINING_MELODY)
    encoder = _config_encoder("lookback_rnn")
    truth = encoder.labels(melody).tolist()
    hint = ("for each event, in this order: 39 if it equals the event 32 steps back, else 38 if it equals the event "
            "16 steps back, else its own class (0 no event, 1 note off, pitch - 46); and, Magenta's quirk, every no "
            "event in the first two bars is 39.")
    labels = _as_int_list(answer, "the labels")
    if isinstance(labels, str):
        return _verdict(False, labels, hint)
    if labels == truth or labels == truth[1:]:
        share = sum(label >= 38 for label in truth) / len(truth)
        return _verdict(True, f"{share:.0%} of the labels are repeat classes: after the first bar the network mostly "
                              "has to say 'the same as before'.")
    if len(labels) not in (len(truth), len(truth) - 1):
        return _verdict(False, f"give one label per event ({len(truth)} labels, or {len(truth) - 1} without the first).",
                        hint)
    offset = len(truth) - len(labels)
    decoded = list(melody[:offset])
    decodes = True
    for label in labels:
        if not 0 <= label < encoder.num_classes:
            decodes = False
            break
        decoded.append(encoder.class_index_to_event(label, decoded))
    if decodes and decoded == melody:
        first = next(position for position, (got, want) in enumerate(zip(labels, truth[offset:]), start=offset)
                     if got != want)
        return _verdict(False, f"these labels decode to the melody (that was 03's exercise), but the encoder writes "
                               f"position {first} as {truth[first]}, not {labels[first - offset]}: it always prefers "
                               "a repeat class, two bars back first.", hint)
    for position, (label, expected) in enumerate(zip(labels, truth[offset:]), start=offset):
        if label == expected:
            continue
        event = melody[position]
        why = {
            39: ("it repeats the event 32 steps back" if position >= 32 else
                 "it is a no event in the first two bars (Magenta's quirk)"),
            38: "it repeats the event 16 steps back (and not the one 32 steps back)",
        }.get(expected, "it repeats nothing one or two bars back, so it gets its own class")
        return _verdict(False, f"position {position} ({_event_name(event)}) is labelled {expected}, not {label}: "
                               f"{why}.", hint)
    return _verdict(False, "some labels are wrong.", hint)  # not reached


def solution_lookback_training_labels() -> list[int]:
    """A model answer to check_lookback_training_labels, by the rule (bar 1 own classes, bar 2 38, bar 3 39)."""
    first_bar = [event - 46 if event >= 0 else (1 if event == NOTE_OFF else 39) for event in _LOOKBACK_REPEAT_BAR]
    second_bar = [38 if event != NO_EVENT else 39 for event in _LOOKBACK_REPEAT_BAR]
    return first_bar + second_bar + [39] * len(_LOOKBACK_REPEAT_BAR)


# --------------------------------------------------------------------------------------------
# 07_attention_rnn: where the attention peaks at the last step
# --------------------------------------------------------------------------------------------


def _model_attention_matrix(weights: Any) -> np.ndarray | str:
    """`weights` as a [steps, attn_length] array of attention weights, or why it is not one."""
    try:
        matrix = np.asarray(weights, dtype=float)
    except (TypeError, ValueError):
        return "the weights must be the array that melodylib.attention_weights(model, inputs) returns"
    if matrix.ndim != 2 or matrix.shape[0] == 0 or matrix.shape[1] == 0 or not np.all(np.isfinite(matrix)):
        return (f"the weights must be a [steps, attn_length] array from melodylib.attention_weights; got shape "
                f"{matrix.shape}")
    return matrix


def check_attention_peak(answer: Any, weights: Any) -> bool:
    """07_attention_rnn: at the last step of the melody, which step does the attention weigh most?

    `weights` is `attention_weights(model, inputs)` ([steps, attn_length]); row t holds the weights
    over the outputs of steps t - attn_length .. t - 1 (column attn_length - 1 is the step before t).
    The answer is a step number of the melody (0 is its first step); ties all count as right.
    """
    matrix = _model_attention_matrix(weights)
    if isinstance(matrix, str):
        return _verdict(False, matrix, "pass the weights of the notebook: check_attention_peak(my_step, weights).")
    step = _model_whole_number(answer, "the step")
    last = matrix.shape[0] - 1
    length = matrix.shape[1]
    row = matrix[last]
    best = row.max()
    peaks = [last - length + column for column in range(length) if row[column] >= best - 1e-6]
    hint = (f"row {last} of weights is the last step; its column j is the output of step {last} - {length} + j, so "
            f"the last column ({length - 1}) is step {last - 1}. Find the column with the largest weight (np.argmax).")
    if isinstance(step, str):
        return _verdict(False, step, hint)
    if step in peaks:
        back = last - step
        return _verdict(True, f"At step {last} the network weighs step {step} most ({back} step{'s' if back != 1 else ''} "
                              f"back, weight {best:.3f}; an even spread would give each slot {1 / length:.3f}).")
    columns = [peak - last + length for peak in peaks]
    if step in columns:
        return _verdict(False, f"{step} is the column; turn it into a step of the melody.", hint)
    if step in [last - peak for peak in peaks]:
        return _verdict(False, f"{step} is how many steps back it looks; give the step number itself.", hint)
    if 0 <= step <= last and last - length <= step < last:
        weight = row[step - last + length]
        return _verdict(False, f"step {step} has weight {weight:.3f}, but another step has {best:.3f}.", hint)
    return _verdict(False, f"at step {last} the network can only look at steps {max(0, last - length)}..{last - 1}.",
                    hint)


def solution_attention_peak(weights: Any = None) -> int:
    """A model answer to check_attention_peak for the `weights` of the notebook (pass weights=...)."""
    matrix = _model_attention_matrix(weights) if weights is not None else "no weights were given"
    if isinstance(matrix, str):
        raise MelodylibError(f"solution_attention_peak needs the notebook's weights ({matrix}); "
                             "call exercises.solution('07', weights=weights)")
    last, length = matrix.shape[0] - 1, matrix.shape[1]
    return int(last - length + int(np.argmax(matrix[last])))


# --------------------------------------------------------------------------------------------
# 08_training: perplexity and event accuracy from the sums of an evaluation
# --------------------------------------------------------------------------------------------

# One evaluation, as sums over its labels (what melodylib.training.loop.MetricSums adds up).
EVAL_EXERCISE_SUMS = {
    "labels": 2000,              # real (unpadded) steps
    "no_event_labels": 1500,     # of them, labels that are the no-event class
    "no_event_correct": 1410,    # no-event labels the network predicted right
    "event_correct": 210,        # the other 500 labels (note-ons, note-offs) predicted right
    "cross_entropy_sum": 1650.0,  # sum of -ln p(label) over the 2000 labels, in nats
}


def _model_eval_exercise_values() -> dict[str, float]:
    sums = EVAL_EXERCISE_SUMS
    loss = sums["cross_entropy_sum"] / sums["labels"]
    event_labels = sums["labels"] - sums["no_event_labels"]
    return {
        "loss": loss,
        "perplexity": float(np.exp(loss)),
        "accuracy": (sums["no_event_correct"] + sums["event_correct"]) / sums["labels"],
        "event_accuracy": sums["event_correct"] / event_labels,
        "no_event_accuracy": sums["no_event_correct"] / sums["no_event_labels"],
    }


def _model_close(value: float, target: float, tolerance: float) -> bool:
    return abs(value - target) <= tolerance * max(1.0, abs(target))


def check_eval_perplexity(answer: Any) -> bool:
    """08_training (a): the perplexity of the evaluation in EVAL_EXERCISE_SUMS (e to the mean cross-entropy).

    Any value within 0.01 of the truth passes (two decimals are enough).
    """
    value = _model_number(answer, "the perplexity")
    hint = "the loss is the mean cross-entropy per label (sum / number of labels), and perplexity = e ** loss."
    if isinstance(value, str):
        return _verdict(False, value, hint)
    truth = _model_eval_exercise_values()
    sums = EVAL_EXERCISE_SUMS
    if abs(value - truth["perplexity"]) <= 0.01:
        return _verdict(True, f"loss {truth['loss']:.3f} nats, perplexity {truth['perplexity']:.3f}: the network is as "
                              f"unsure as a fair choice among {truth['perplexity']:.1f} classes (a network that knows "
                              "nothing, with every class equally likely, has basic_rnn's 38).")
    if _model_close(value, truth["perplexity"], 0.05):
        return _verdict(False, f"{value:g} is close; give two decimals.", hint)
    loss = truth["loss"]
    mistakes = [
        (loss, "that is the loss; perplexity is e raised to it."),
        (2.0 ** loss, "that is 2 ** loss; the loss is in nats (natural logarithms), so use e: np.exp(loss)."),
        (10.0 ** loss, "that is 10 ** loss; the loss is in nats (natural logarithms), so use e: np.exp(loss)."),
        (float(np.exp(sums["cross_entropy_sum"] / sums["no_event_labels"])),
         "divide the sum by all the labels, not only the no-event ones."),
        (float(np.exp(sums["cross_entropy_sum"] / (sums["labels"] - sums["no_event_labels"]))),
         "divide the sum by all the labels, not only the events."),
        (1.0 / truth["accuracy"], "perplexity comes from the cross-entropy, not from the accuracy."),
    ]
    for target, message in mistakes:
        if _model_close(value, target, 0.01):
            return _verdict(False, message, hint)
    if value > 1e6:
        return _verdict(False, "that is e to the whole sum; average it over the labels first.", hint)
    return _verdict(False, f"{value:g} is not it.", hint)


def solution_eval_perplexity() -> float:
    """A model answer to check_eval_perplexity: e ** (cross-entropy sum / labels)."""
    return float(np.exp(EVAL_EXERCISE_SUMS["cross_entropy_sum"] / EVAL_EXERCISE_SUMS["labels"]))


def check_eval_event_accuracy(answer: Any) -> bool:
    """08_training (b): the event accuracy of the evaluation in EVAL_EXERCISE_SUMS.

    A fraction (0.42) or a percentage (42, or the text "42%") passes, within 0.005.
    """
    value = _model_number(answer, "the event accuracy")
    hint = ("event accuracy counts only the labels that are not the no-event class: the right ones among them "
            "divided by how many there are.")
    if isinstance(value, str):
        return _verdict(False, value, hint)
    truth = _model_eval_exercise_values()
    as_percentage = 1.0 < value <= 100.0
    fraction = value / 100.0 if as_percentage else value
    if abs(fraction - truth["event_accuracy"]) <= 0.005:
        return _verdict(True, f"{truth['event_accuracy']:.0%} of the events, while accuracy over all labels is "
                              f"{truth['accuracy']:.0%}: holding notes is easy, the notes themselves are the hard part.")
    sums = EVAL_EXERCISE_SUMS
    mistakes = [
        (truth["accuracy"], "that is the accuracy over all labels; event accuracy leaves out the no-event labels."),
        (sums["event_correct"] / sums["labels"], "divide by the number of event labels (2000 - 1500), not by all labels."),
        (truth["no_event_accuracy"], "that is the no-event accuracy; event accuracy is about the other labels."),
        (1.0 - truth["event_accuracy"], "that is the share of events the network got wrong."),
    ]
    for target, message in mistakes:
        if abs(fraction - target) <= 0.005:
            return _verdict(False, message, hint)
    return _verdict(False, f"{value:g} is not it.", hint)


def solution_eval_event_accuracy() -> float:
    """A model answer to check_eval_event_accuracy: right events / event labels."""
    sums = EVAL_EXERCISE_SUMS
    return sums["event_correct"] / (sums["labels"] - sums["no_event_labels"])


SOLUTIONS["04_basic_rnn"] = {"basic_rnn_parameters": solution_basic_rnn_parameters}
SOLUTIONS["05_mono_rnn"] = {"mono_rnn_extra_parameters": solution_mono_rnn_extra_parameters}
SOLUTIONS["06_lookback_rnn"] = {"lookback_training_labels": solution_lookback_training_labels}
SOLUTIONS["07_attention_rnn"] = {"attention_peak": solution_attention_peak}
SOLUTIONS["08_training"] = {"eval_perplexity": solution_eval_perplexity, "eval_event_accuracy": solution_eval_event_accuracy}
