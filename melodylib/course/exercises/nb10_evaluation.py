"""Exercises of notebook 10_evaluation: an add-one bigram baseline built by hand, and the perplexity
of a unigram model on a few labels.

The bigram checker fits the learner's function on the training split's labels of the course corpus,
compares the table with the library's add-one bigram (`NGramModel(2, V, "additive")`), scores both
on the eval split and names the class pair that is off and the usual slips. The perplexity checker
recomputes the perplexity from the probabilities and names the usual slips (the loss itself, bits,
a sum instead of a mean, the average probability). The module also reads the corpus's tunes with
their names, for the notebook's memorisation section.
"""

from __future__ import annotations

import contextlib
import io
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from melodylib.course.exercises.common import verdict
from melodylib.course.exercises.registry import Exercise
from melodylib.errors import MelodylibError
from melodylib.evaluation.memorisation_report import NamedMelodies, split_named_melodies

__all__ = [
    "BIGRAM_CONFIG",
    "BigramLabels",
    "NamedMelodies",
    "UNIGRAM_EXERCISE_PROBABILITIES",
    "UNIGRAM_EXERCISE_LABELS",
    "PERPLEXITY_RELATIVE_TOLERANCE",
    "bigram_labels",
    "bigram_nll_per_step",
    "bigram_yours_or_reference",
    "check_bigram",
    "check_perplexity",
    "named_split_melodies",
    "solution_bigram",
    "solution_perplexity",
]

NOTEBOOK = "10_evaluation"

# --- the bigram baseline, built by hand ---------------------------------------------------------

BIGRAM_CONFIG = "basic_rnn"  # whose labels the exercise counts (38 classes)
BIGRAM_TOLERANCE = 1e-9  # on each probability: the same arithmetic up to rounding
_FALLBACK_TUNES = 80  # tunes of one Essen file, when no course corpus is built


@dataclass
class BigramLabels:
    """Label sequences of one config, as the n-gram baselines score them: each melody's labels
    with the no-event class in front (a stand-in for the first event, which the data sets do not
    store as a label), so a bigram predicts every stored label from the one before."""

    training: list[np.ndarray]
    eval: list[np.ndarray]
    num_classes: int
    class_names: list[str]
    source: str

    @property
    def eval_steps(self) -> int:
        """The number of eval steps a bigram scores (every label after the first of a melody)."""
        return sum(max(len(labels) - 1, 0) for labels in self.eval)


def bigram_labels(subset: str | None = None, config_name: str = BIGRAM_CONFIG) -> BigramLabels:
    """The training and eval labels of `config_name` in the course corpus's `subset` (by default
    the quick-mode or full one, else whichever is built; without a built corpus, melodies of one
    Essen file from music21, split nine to one)."""
    from melodylib.course import corpus
    from melodylib.course.quick import quick_or_full
    from melodylib.encoding.configs import get_config
    from melodylib.evaluation.metrics import read_labels

    config = get_config(config_name)
    stand_in = np.array([config.encoder.default_event_label], dtype=np.int64)
    names = list(config.encoder.class_names())
    preferred = [subset] if subset else [quick_or_full("small", "full"), "small", "full"]
    for name in dict.fromkeys(preferred):
        training_file = corpus.training_file(config_name, name)
        eval_file = corpus.eval_file(config_name, name)
        if training_file.exists() and eval_file.exists():
            training = [
                np.concatenate([stand_in, labels]) for labels in read_labels(str(training_file))
            ]
            evaluation = [
                np.concatenate([stand_in, labels]) for labels in read_labels(str(eval_file))
            ]
            source = f"the {name} corpus's {config_name} data sets"
            return BigramLabels(training, evaluation, config.encoder.num_classes, names, source)
    if subset:
        raise MelodylibError(
            f"the {subset} corpus has no {config_name} data sets; build them with "
            f"corpus.build_corpus({subset!r})"
        )
    return _fallback_bigram_labels(config, stand_in, names)


def _fallback_bigram_labels(config, stand_in: np.ndarray, names: list[str]) -> BigramLabels:
    """Labels of the melodies of the first tunes of music21's Essen file altdeu10.abc."""
    from melodylib.course import corpus
    from melodylib.data.datasets import encode_melody, melodies_from_note_sequence
    from melodylib.music import readers

    path = corpus.music21_corpus_folder() / "essenFolksong" / "altdeu10.abc"
    tunes = readers.split_abc_tunes(path.read_text(encoding="latin-1"))[:_FALLBACK_TUNES]
    training, evaluation = [], []
    for position, tune in enumerate(tunes):
        sequence = readers.abc_tune_to_note_sequence(tune, path)
        for melody in melodies_from_note_sequence(sequence):
            labels = np.concatenate([stand_in, encode_melody(melody, config)[1]])
            (evaluation if position % 10 == 9 else training).append(labels)
    source = f"{len(tunes)} tunes of {path.name} (no course corpus is built)"
    return BigramLabels(training, evaluation, config.encoder.num_classes, names, source)


def _pairs(label_sequences: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(previous, next) labels of every step after the first of each melody."""
    arrays = [np.asarray(labels, dtype=np.int64) for labels in label_sequences if len(labels) > 1]
    if not arrays:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    previous = np.concatenate([labels[:-1] for labels in arrays])
    following = np.concatenate([labels[1:] for labels in arrays])
    return previous, following


def _pair_counts(previous: np.ndarray, following: np.ndarray, num_classes: int) -> np.ndarray:
    counts = np.zeros((num_classes, num_classes))
    np.add.at(counts, (previous, following), 1.0)
    return counts


def _library_bigram(labels: BigramLabels) -> np.ndarray:
    """The library's add-one bigram, p[a, b] = p(b | a), as a (V, V) table."""
    from melodylib.evaluation.baselines import NGramModel

    model = NGramModel(2, labels.num_classes, "additive", additive_constant=1.0)
    model.fit(labels.training)
    return np.stack([model.distribution([label]) for label in range(labels.num_classes)])


def bigram_nll_per_step(probabilities: np.ndarray, label_sequences: Sequence[np.ndarray]) -> float:
    """The mean of -ln p(label | previous label) over every step after the first of each melody
    (inf when a label that occurs has probability 0)."""
    previous, following = _pairs(label_sequences)
    with np.errstate(divide="ignore"):
        return float(-np.log(np.asarray(probabilities)[previous, following]).mean())


def _bigram_slips(labels: BigramLabels) -> list[tuple[np.ndarray, str, str]]:
    """Tables the usual slips make, each with what is wrong and a hint."""
    size = labels.num_classes
    counts = _pair_counts(*_pairs(labels.training), size)
    totals = counts.sum(axis=1, keepdims=True)
    flat = np.concatenate([np.asarray(sequence, dtype=np.int64) for sequence in labels.training])
    across = _pair_counts(flat[:-1], flat[1:], size)
    with np.errstate(divide="ignore", invalid="ignore"):
        unsmoothed = np.where(totals > 0, counts / totals, 0.0)
    column_totals = counts.sum(axis=0, keepdims=True)
    return [
        (
            ((counts + 1) / (totals + size)).T,
            "the table is transposed: row a should hold p(next | previous = a).",
            "count[previous, next]: the first index is the class before, the second the class "
            "after; then divide each row by its total.",
        ),
        (
            (counts + 1) / (column_totals + size),
            "each column sums to 1, not each row: you divided by the count of the next class.",
            "divide count[a, b] + 1 by the number of pairs that START with a (the row total) "
            "plus num_classes.",
        ),
        (
            unsmoothed,
            "the table has no smoothing: a pair never seen in training gets probability 0, and "
            "one such pair in the eval split makes the NLL infinite.",
            "add 1 to every count, and num_classes to every row total.",
        ),
        (
            (counts + 1) / (totals + 1),
            "the rows do not sum to 1: adding 1 to each of the num_classes counts adds "
            "num_classes to the row total, not 1.",
            "p[a, b] = (count[a, b] + 1) / (row total of a + num_classes).",
        ),
        (
            (across + 1) / (across.sum(axis=1, keepdims=True) + size),
            "you counted pairs across the boundary between melodies (the last label of one "
            "melody and the first of the next).",
            "count pairs inside each melody: zip(labels[:-1], labels[1:]) per melody.",
        ),
    ]


def _bigram_problem_table(answer: Callable[..., Any], labels: BigramLabels) -> np.ndarray | str:
    """The learner's table, or what is wrong with calling the function or with what it returned."""
    size = labels.num_classes
    try:
        table = answer([np.array(sequence) for sequence in labels.training], size)
    except NotImplementedError:
        return "bigram_probabilities is not written yet."
    except Exception as error:  # a learner's bug of any kind becomes a verdict
        return f"bigram_probabilities raised {type(error).__name__}: {error}"
    try:
        table = np.asarray(table, dtype=np.float64)
    except (TypeError, ValueError):
        return f"bigram_probabilities returned a {type(table).__name__}, not a table of numbers."
    if table.shape != (size, size):
        return (
            f"the table has shape {table.shape}; it should be ({size}, {size}): one row per "
            "previous class, one column per next class."
        )
    if not np.all(np.isfinite(table)) or (table < 0).any():
        bad = np.argwhere(~np.isfinite(table) | (table < 0))[0]
        return (
            f"p[{bad[0]}, {bad[1]}] is {table[tuple(bad)]}: a probability is a number "
            "between 0 and 1."
        )
    return table


def _signed(difference: float) -> str:
    """A difference in nats per step, with enough digits to show it is not zero."""
    return f"{difference:+.4f}" if abs(difference) >= 5e-5 else f"{difference:+.1e}"


def _times(count: int) -> str:
    return "once" if count == 1 else f"{count:,} times"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def check_bigram(answer: Any, labels: BigramLabels | None = None) -> bool:
    """10_evaluation (build): `answer(label_sequences, num_classes)` returns the add-one bigram
    table p[a, b] = (count of a followed by b + 1) / (count of pairs starting with a + num_classes),
    counted inside each training melody.

    The checker calls it on the training labels of `labels` (by default `bigram_labels()`: the
    course corpus's basic_rnn labels), compares the table with the library's
    `NGramModel(2, V, "additive")`, scores both on the eval labels and names the class pair that is
    off, by how much, and the usual slips (a transposed table, no smoothing, rows that do not sum to
    1, pairs counted across melodies).
    """
    hint = (
        "counts = np.zeros((num_classes, num_classes)); for each melody add 1 to "
        "counts[previous, next] for every pair of neighbouring labels (np.add.at or a loop); "
        "then return (counts + 1) / (counts.sum(axis=1, keepdims=True) + num_classes)."
    )
    if not callable(answer):
        return verdict(
            False,
            f"give the function itself (bigram_probabilities, without brackets); got "
            f"{type(answer).__name__}.",
            hint,
        )
    try:
        labels = labels if labels is not None else bigram_labels()
    except MelodylibError as error:
        return verdict(False, f"the labels to check with could not be read: {error}")
    table = _bigram_problem_table(answer, labels)
    if isinstance(table, str):
        return verdict(False, table, hint)
    names = labels.class_names
    reference = _library_bigram(labels)
    reference_nll = bigram_nll_per_step(reference, labels.eval)
    steps = labels.eval_steps
    if np.allclose(table, reference, rtol=0.0, atol=BIGRAM_TOLERANCE):
        return verdict(
            True,
            f"Your table is the library's add-one bigram (NGramModel(2, {labels.num_classes}, "
            f'"additive")) on all {table.size:,} class pairs. On the {steps:,} eval steps of '
            f"{labels.source} it scores {reference_nll:.4f} nats per step (perplexity "
            f"{np.exp(reference_nll):.2f}).",
        )
    nll = bigram_nll_per_step(table, labels.eval)
    if np.isfinite(nll):
        score = (
            f"on the {steps:,} eval steps your table scores {nll:.4f} nats per step, the "
            f"library's add-one bigram {reference_nll:.4f} ({_signed(nll - reference_nll)})"
        )
    else:
        score = (
            f"on the eval steps your table scores an infinite NLL (a pair that occurs there has "
            f"probability 0); the library's add-one bigram scores {reference_nll:.4f} nats per step"
        )
    counts = _pair_counts(*_pairs(labels.training), labels.num_classes)
    a, b = np.unravel_index(int(np.argmax(np.abs(table - reference))), table.shape)
    pair = (
        f"the pair most off is p({names[b]} | {names[a]}), row {a} column {b}: yours "
        f"{table[a, b]:.4g}, the library's {reference[a, b]:.4g} ({names[a]} then {names[b]} "
        f"occurs {_times(int(counts[a, b]))} in {int(counts[a].sum()):,} training pairs that "
        f"start with {names[a]})"
    )
    for slip_table, problem, slip_hint in _bigram_slips(labels):
        if np.allclose(table, slip_table, rtol=0.0, atol=BIGRAM_TOLERANCE):
            return verdict(False, f"{problem} {_sentence(score)}; {pair}.", slip_hint)
    row_sums = table.sum(axis=1)
    off_rows = np.flatnonzero(np.abs(row_sums - 1.0) > 1e-6)
    rows = (
        f" Row {off_rows[0]} ({names[off_rows[0]]}) sums to {row_sums[off_rows[0]]:.4g}, not 1"
        f" ({len(off_rows)} of {len(row_sums)} rows do not sum to 1)."
        if len(off_rows)
        else ""
    )
    return verdict(False, f"{_sentence(score)}; {pair}.{rows}", hint)


def solution_bigram() -> Callable[[Sequence[np.ndarray], int], np.ndarray]:
    """A model answer to check_bigram: the function bigram_probabilities, as a learner writes it."""

    def bigram_probabilities(label_sequences, num_classes):
        """p[a, b] = p(next label b | previous label a): pairs counted inside each melody,
        add-one smoothed."""
        counts = np.zeros((num_classes, num_classes))
        for labels in label_sequences:
            np.add.at(counts, (labels[:-1], labels[1:]), 1)
        return (counts + 1) / (counts.sum(axis=1, keepdims=True) + num_classes)

    return bigram_probabilities


def bigram_yours_or_reference(answer: Any, labels: BigramLabels) -> np.ndarray:
    """The table of the learner's `answer` when check_bigram accepts it, else the model answer's,
    with one printed line saying which."""
    with contextlib.redirect_stdout(io.StringIO()):
        yours = check_bigram(answer, labels)
    if yours:
        print("Using your bigram_probabilities.")
        return np.asarray(answer(labels.training, labels.num_classes), dtype=np.float64)
    print("Using the model answer's table: yours is not written yet or not right (see above).")
    return solution_bigram()(labels.training, labels.num_classes)


# --- the corpus's tunes with their names, for the memorisation section --------------------------


def named_split_melodies(subset: str, split: str = "training") -> NamedMelodies:
    """The melodies of `corpus.split_melodies(subset, split)`, each named by its tune's
    (collection, id), the names a `MemorisationIndex` reports."""
    from melodylib.course import corpus

    if split not in ("training", "eval"):
        raise MelodylibError(f"split must be 'training' or 'eval', got '{split}'")
    path = corpus.sequences_file(subset)
    if not path.exists():
        raise MelodylibError(f"{path} is missing; build the corpus first: build_corpus({subset!r})")
    training, evaluation = split_named_melodies(path, corpus.EVAL_RATIO, corpus.SPLIT_SEED)
    return training if split == "training" else evaluation


# --- perplexity by hand -------------------------------------------------------------------------

# A unigram model: the same distribution at every step, over four classes of a tiny one-hot encoding
# (0 no event, 1 note-off, 2 C, 3 G), and the labels to score (every label is scored).
UNIGRAM_EXERCISE_PROBABILITIES = (0.6, 0.1, 0.2, 0.1)
UNIGRAM_EXERCISE_LABELS = (0, 0, 2, 0, 1, 3, 0, 0)
# Accepts the answer rounded to two or three significant digits.
PERPLEXITY_RELATIVE_TOLERANCE = 0.005


def _unigram_exercise_log_probabilities() -> np.ndarray:
    probabilities = np.asarray(UNIGRAM_EXERCISE_PROBABILITIES, dtype=np.float64)
    return np.log(probabilities[list(UNIGRAM_EXERCISE_LABELS)])


def _perplexity_answer_value(answer: Any) -> float | None:
    """The answer as a finite number, else None. Stricter than `as_number`: text is refused, since
    the notebook asks for the number worked out with numpy."""
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
    hint = (
        "perplexity = exp(NLL per step), and NLL per step = -mean(log p(label)) with the "
        "natural log."
    )
    value = _perplexity_answer_value(answer)
    if value is None:
        return verdict(False, f"give one number; got {answer!r:.40}.", hint)

    def near(target: float) -> bool:
        return abs(value - target) <= PERPLEXITY_RELATIVE_TOLERANCE * abs(target)

    if near(truth):
        return verdict(
            True,
            f"The NLL is {loss:.3f} nats per step, so the perplexity is e^{loss:.3f} = "
            f"{truth:.3f}: the model is as unsure as a fair choice among about {truth:.0f} classes "
            "at every step.",
        )
    label_count = len(UNIGRAM_EXERCISE_LABELS)
    slips = [
        (
            loss,
            "this is the NLL per step (the loss), not the perplexity.",
            "the perplexity is e to the power of it.",
        ),
        (
            loss / np.log(2.0),
            "this is the NLL per step in bits.",
            "the perplexity is 2 ** bits (the same as e ** nats).",
        ),
        (
            -loss,
            "this is the mean log-probability per step.",
            "negate it and take exp: the perplexity is exp(-mean log p).",
        ),
        (
            float(-log_probabilities.sum()),
            "this is the NLL of the whole sequence (a sum).",
            "divide by the number of labels first: perplexity is per step.",
        ),
        (
            float(np.exp(-log_probabilities.sum())),
            "you took exp of the sum; perplexity uses the mean.",
            f"divide the summed NLL by the {label_count} labels before taking exp.",
        ),
        (
            1.0 / truth,
            "this is the geometric mean of the probabilities.",
            "the perplexity is its inverse.",
        ),
        (
            float(len(UNIGRAM_EXERCISE_PROBABILITIES)),
            "this is the number of classes.",
            "a uniform model would have that perplexity; this one is surer of the no-event class.",
        ),
    ]
    for target, problem, slip_hint in slips:
        if near(target):
            return verdict(False, problem, slip_hint)
    arithmetic_mean = float(np.exp(-np.log(np.mean(np.exp(log_probabilities)))))
    if near(arithmetic_mean):
        return verdict(
            False,
            "this is 1 / (the average probability).",
            "average the log-probabilities, not the probabilities: exp(-mean(log p)).",
        )
    return verdict(False, f"{value:g} is not the perplexity.", hint)


def solution_perplexity() -> float:
    """A model answer to check_perplexity: exp of the mean negative natural-log probability of the
    labels."""
    return float(np.exp(-_unigram_exercise_log_probabilities().mean()))


EXERCISES = (
    Exercise(check_bigram, solution_bigram),
    Exercise(check_perplexity, solution_perplexity),
)
