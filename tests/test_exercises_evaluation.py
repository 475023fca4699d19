"""Tests for notebook 10's build exercise (the add-one bigram baseline) and its helpers: the checker
accepts the model answer, agrees with the library's NGramModel, rejects the usual slips with the
message meant for them, names the class pair that is off, and never raises."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

import numpy as np
import pytest

from melodylib.course import exercises
from melodylib.course.exercises import nb10_evaluation
from melodylib.errors import MelodylibError
from melodylib.evaluation.baselines import NGramModel

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "10_evaluation.ipynb"


def verdict(answer, labels, capsys) -> tuple[bool, str]:
    result = exercises.check_bigram(answer, labels)
    return result, capsys.readouterr().out


def counts_of(label_sequences, num_classes):
    counts = np.zeros((num_classes, num_classes))
    for labels in label_sequences:
        for previous, following in zip(labels[:-1], labels[1:]):
            counts[previous, following] += 1
    return counts


@pytest.fixture(scope="module")
def labels() -> exercises.BigramLabels:
    """Real labels: the course corpus's basic_rnn data sets when built, else music21's Essen tunes."""
    return exercises.bigram_labels()


@pytest.fixture
def tiny() -> exercises.BigramLabels:
    return exercises.BigramLabels(
        training=[np.array([0, 2, 2, 1, 0, 3]), np.array([0, 3, 2, 2])],
        eval=[np.array([0, 2, 1, 3, 3])],
        num_classes=4,
        class_names=["no event", "note off", "C3", "D3"],
        source="hand-made labels",
    )


def test_the_labels_are_real_melodies_with_the_no_event_stand_in(labels):
    assert len(labels.training) > 10 and len(labels.eval) > 0
    assert labels.num_classes == 38 and len(labels.class_names) == 38
    assert all(sequence[0] == 0 for sequence in labels.training + labels.eval)
    assert labels.eval_steps == sum(len(sequence) - 1 for sequence in labels.eval)


def test_solution_is_accepted_and_reports_the_eval_nll(labels, capsys):
    answer = exercises.solution_bigram()
    ok, out = verdict(answer, labels, capsys)
    assert ok is True, out
    model = NGramModel(2, labels.num_classes, "additive").fit(labels.training)
    loss = model.evaluate(labels.eval)["loss"]
    assert out.startswith("Correct! Your table is the library's add-one bigram")
    assert f"{loss:.4f} nats per step" in out
    assert f"{labels.eval_steps:,} eval steps" in out


def test_the_model_answer_is_the_library_bigram_and_its_nll_is_the_library_loss(labels):
    table = exercises.solution_bigram()(labels.training, labels.num_classes)
    model = NGramModel(2, labels.num_classes, "additive").fit(labels.training)
    library = np.stack([model.distribution([a]) for a in range(labels.num_classes)])
    np.testing.assert_allclose(table, library, rtol=0, atol=1e-12)
    np.testing.assert_allclose(table.sum(axis=1), 1.0)
    nll = exercises.bigram_nll_per_step(table, labels.eval)
    assert nll == pytest.approx(model.evaluate(labels.eval)["loss"], abs=1e-12)


def test_a_loop_answer_and_a_vectorised_one_both_pass(tiny, capsys):
    def with_a_loop(label_sequences, num_classes):
        counts = counts_of(label_sequences, num_classes)
        return (counts + 1) / (counts.sum(axis=1, keepdims=True) + num_classes)

    assert verdict(with_a_loop, tiny, capsys)[0] is True
    assert verdict(exercises.solution_bigram(), tiny, capsys)[0] is True


def test_an_unwritten_body_says_not_written_yet_with_a_hint(labels, capsys):
    def bigram_probabilities(label_sequences, num_classes):
        raise NotImplementedError("write it")

    ok, out = verdict(bigram_probabilities, labels, capsys)
    assert ok is False
    assert "Not yet: bigram_probabilities is not written yet." in out
    assert "Hint: counts = np.zeros((num_classes, num_classes))" in out


def correct(label_sequences, num_classes):
    counts = counts_of(label_sequences, num_classes)
    return (counts + 1) / (counts.sum(axis=1, keepdims=True) + num_classes)


def transposed(label_sequences, num_classes):
    return correct(label_sequences, num_classes).T


def column_normalised(label_sequences, num_classes):
    counts = counts_of(label_sequences, num_classes)
    return (counts + 1) / (counts.sum(axis=0, keepdims=True) + num_classes)


def unsmoothed(label_sequences, num_classes):
    counts = counts_of(label_sequences, num_classes)
    return counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)


def plus_one_total(label_sequences, num_classes):
    counts = counts_of(label_sequences, num_classes)
    return (counts + 1) / (counts.sum(axis=1, keepdims=True) + 1)


def across_melodies(label_sequences, num_classes):
    counts = counts_of([np.concatenate(label_sequences)], num_classes)
    return (counts + 1) / (counts.sum(axis=1, keepdims=True) + num_classes)


def add_half(label_sequences, num_classes):
    counts = counts_of(label_sequences, num_classes)
    return (counts + 0.5) / (counts.sum(axis=1, keepdims=True) + 0.5 * num_classes)


@pytest.mark.parametrize(
    "answer, expected",
    [
        (transposed, "the table is transposed"),
        (column_normalised, "each column sums to 1, not each row"),
        (unsmoothed, "the table has no smoothing"),
        (plus_one_total, "adds num_classes to the row total, not 1"),
        (across_melodies, "you counted pairs across the boundary between melodies"),
        (add_half, "nats per step, the library's add-one"),
    ],
)
def test_typical_slips_are_named_with_the_nll_difference_and_the_pair(
    answer, expected, labels, capsys
):
    ok, out = verdict(answer, labels, capsys)
    assert ok is False
    assert expected in out
    assert "the pair most off is p(" in out
    assert re.search(r"nats per step|infinite NLL", out)


def test_the_nll_difference_is_given_in_nats_per_step(labels, capsys):
    ok, out = verdict(add_half, labels, capsys)
    table = add_half(labels.training, labels.num_classes)
    mine = exercises.bigram_nll_per_step(table, labels.eval)
    model = NGramModel(2, labels.num_classes, "additive").fit(labels.training)
    reference = model.evaluate(labels.eval)["loss"]
    assert f"your table scores {mine:.4f} nats per step" in out
    assert f"the library's add-one bigram {reference:.4f}" in out


def test_no_smoothing_gives_an_infinite_eval_nll_when_a_pair_is_unseen(tiny, capsys):
    ok, out = verdict(unsmoothed, tiny, capsys)
    assert ok is False
    assert "infinite NLL" in out  # D3 -> D3 occurs in eval, never in training
    assert "Hint: add 1 to every count, and num_classes to every row total." in out


def test_the_pair_that_is_off_is_named_by_its_classes_and_counts(tiny, capsys):
    def one_entry_off(label_sequences, num_classes):
        table = correct(label_sequences, num_classes)
        table[2, 1] += 0.05
        table[2, 0] -= 0.03
        table[2, 3] -= 0.02
        return table

    ok, out = verdict(one_entry_off, tiny, capsys)
    assert ok is False
    # C3 is followed by note off once in training, out of 3 pairs that start with C3.
    assert "the pair most off is p(note off | C3), row 2 column 1" in out
    assert "C3 then note off occurs once in 3 training pairs that start with C3" in out
    assert "(+" in out or "(-" in out


def test_rows_that_do_not_sum_to_one_are_pointed_at(tiny, capsys):
    def doubled(label_sequences, num_classes):
        return 2 * correct(label_sequences, num_classes)

    ok, out = verdict(doubled, tiny, capsys)
    assert ok is False
    assert "Row 0 (no event) sums to 2, not 1 (4 of 4 rows do not sum to 1)." in out


@pytest.mark.parametrize(
    "answer, expected",
    [
        (np.ones((4, 4)) / 4, "give the function itself"),
        (None, "give the function itself"),
        (lambda sequences, size: np.ones(size) / size, "the table has shape (4,)"),
        (lambda sequences, size: "table", "returned a str, not a table of numbers"),
        (lambda sequences: None, "raised TypeError"),
        (lambda sequences, size: 1 / 0, "raised ZeroDivisionError"),
        (lambda sequences, size: -np.ones((size, size)), "a probability is a number"),
        (lambda sequences, size: np.full((size, size), np.nan), "a probability is a number"),
        (lambda sequences, size: [[object()]], "not a table of numbers"),
    ],
)
def test_malformed_answers_get_a_verdict_and_never_raise(answer, expected, tiny, capsys):
    ok, out = verdict(answer, tiny, capsys)
    assert ok is False
    assert expected in out


def test_the_learner_cannot_spoil_the_checker_by_changing_the_labels(tiny, capsys):
    def vandal(label_sequences, num_classes):
        for sequence in label_sequences:
            sequence[:] = 0
        return correct(label_sequences, num_classes)

    verdict(vandal, tiny, capsys)
    assert verdict(exercises.solution_bigram(), tiny, capsys)[0] is True


def test_yours_or_reference_uses_yours_only_when_it_passes(tiny, capsys):
    def unwritten(label_sequences, num_classes):
        raise NotImplementedError

    reference = exercises.solution_bigram()(tiny.training, tiny.num_classes)
    table = exercises.bigram_yours_or_reference(unwritten, tiny)
    out = capsys.readouterr().out
    np.testing.assert_allclose(table, reference)
    assert out.count("\n") == 1 and out.startswith("Using the model answer's table")
    table = exercises.bigram_yours_or_reference(correct, tiny)
    out = capsys.readouterr().out
    np.testing.assert_allclose(table, reference)
    assert out == "Using your bigram_probabilities.\n"


def test_the_model_answer_reads_as_the_scaffold_with_its_body_written():
    source = inspect.getsource(exercises.solution_bigram)
    assert "def bigram_probabilities(label_sequences, num_classes):" in source
    assert "NotImplementedError" not in source
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    code = "".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "code")
    assert "def bigram_probabilities(label_sequences, num_classes):" in code
    assert "raise NotImplementedError(" in code
    assert "exercises.check_bigram(bigram_probabilities, labels)" in code


def test_solution_of_the_notebook_gives_the_function():
    answers = exercises.solution("10", show=False)
    assert callable(answers["bigram"]) and answers["perplexity"] == pytest.approx(2.99, abs=0.01)


def test_named_split_melodies_are_the_split_melodies_with_their_tunes():
    from melodylib.course import corpus

    corpus.build_corpus("small", configs=("basic_rnn",), progress=False)  # reused when built
    named = nb10_evaluation.named_split_melodies("small", "training")
    plain = corpus.split_melodies("small", "training")
    assert [m.events for m in named.melodies] == [m.events for m in plain]
    assert len(named.names) == len(named.melodies)
    assert set(named.names) == set(named.titles)
    assert all(collection and tune_id for collection, tune_id in named.names)


def test_without_a_built_corpus_the_labels_come_from_music21s_essen_tunes(tmp_path, monkeypatch):
    monkeypatch.setenv("MELODYLIB_CORPUS_DIR", str(tmp_path))
    fallback = exercises.bigram_labels()
    assert "no course corpus is built" in fallback.source
    assert len(fallback.training) > len(fallback.eval) > 0
    assert fallback.num_classes == 38
    with pytest.raises(MelodylibError, match="build_corpus"):
        exercises.bigram_labels("small")
