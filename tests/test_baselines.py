"""N-gram baselines on toy corpora whose probabilities are worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

import melodylib.evaluation.baselines as baselines
from melodylib.errors import MelodylibError
from melodylib.evaluation.baselines import NGramModel, evaluate_baselines, standard_baselines


def random_corpus(num_classes: int, num_melodies: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, num_classes, size=rng.integers(1, 40)) for _ in range(num_melodies)]


def test_unigram_add_one_probability_is_exact() -> None:
    # Scored positions 1..4 of [1, 0, 1, 0, 0] hold labels 0, 1, 0, 0: counts {0: 3, 1: 1}.
    model = NGramModel(1, 2).fit([[1, 0, 1, 0, 0]])
    assert model.distribution([]) == pytest.approx([4 / 6, 2 / 6], abs=1e-15)
    assert model.log_prob([], 0) == pytest.approx(math.log(4 / 6), abs=1e-15)
    assert model.log_prob([1, 1, 1], 0) == pytest.approx(
        math.log(4 / 6), abs=1e-15
    )  # context ignored


def test_first_label_is_not_counted_like_the_lstm() -> None:
    # Like the LSTM, position 0 is never a target: only the three 0s are counted.
    model = NGramModel(1, 2).fit([[1, 0, 0, 0]])
    assert model.distribution([]) == pytest.approx([4 / 5, 1 / 5], abs=1e-15)


def test_bigram_on_alternating_sequence_has_the_hand_computed_loss() -> None:
    # [0, 1] * 10: transitions 0->1 ten times, 1->0 nine times; add-one over 2 classes.
    model = NGramModel(2, 2).fit([[0, 1] * 10])
    assert model.distribution([0]) == pytest.approx([1 / 12, 11 / 12], abs=1e-15)
    assert model.distribution([1]) == pytest.approx([10 / 11, 1 / 11], abs=1e-15)
    metrics = model.evaluate([[0, 1, 0, 1, 0]], no_event_label=0)
    expected_loss = -(2 * math.log(11 / 12) + 2 * math.log(10 / 11)) / 4
    assert metrics["loss"] == pytest.approx(expected_loss, abs=1e-12)
    assert metrics["perplexity"] == pytest.approx(math.exp(expected_loss), abs=1e-12)
    assert metrics["accuracy"] == 1.0
    assert metrics["event_accuracy"] == 1.0 and metrics["no_event_accuracy"] == 1.0
    assert metrics["steps"] == 4
    assert model.sequence_log_likelihood([0, 1, 0, 1, 0]) == pytest.approx(
        -4 * expected_loss, abs=1e-12
    )


def test_bigram_unseen_context_is_uniform_and_additive_constant_is_used() -> None:
    model = NGramModel(2, 3, additive_constant=0.5).fit([[0, 0, 1]])
    assert model.distribution([2]) == pytest.approx([1 / 3] * 3, abs=1e-15)
    # context 0 was followed by 0 once and 1 once: (1 + 0.5) / (2 + 1.5), (0 + 0.5) / 3.5
    assert model.distribution([0]) == pytest.approx([1.5 / 3.5, 1.5 / 3.5, 0.5 / 3.5], abs=1e-15)


def test_witten_bell_bigram_matches_hand_computation() -> None:
    # Targets 0, 0, 1 all after context 0. Unigram: c = [2, 1, 0], N = 3, T = 2 distinct labels,
    # p1(w) = (c(w) + T/V) / (N + T) = [8, 5, 2] / 15. Context 0: c = 3, T = 2,
    # p(w|0) = (c(0 w) + 2 p1(w)) / (3 + 2) = [46, 25, 4] / 75.
    model = NGramModel(2, 3, smoothing="witten_bell").fit([[0, 0, 0, 1]])
    assert model.distribution([]) == pytest.approx(np.array([8, 5, 2]) / 15, abs=1e-15)
    assert model.distribution([0]) == pytest.approx(np.array([46, 25, 4]) / 75, abs=1e-15)
    # Label 1 only ends the melody, so it is never a context: back off to the unigram.
    assert model.distribution([1]) == pytest.approx(np.array([8, 5, 2]) / 15, abs=1e-15)


def test_four_gram_truncates_context_at_melody_start() -> None:
    corpus = random_corpus(5, 40, seed=1)
    four_gram = NGramModel(4, 5).fit(corpus)
    bigram = NGramModel(2, 5, smoothing="witten_bell").fit(corpus)
    # With one label of context, the 4-gram's estimate is the Witten-Bell bigram's.
    for label in range(5):
        assert four_gram.distribution([label]) == pytest.approx(
            bigram.distribution([label]), abs=1e-14
        )
    # Only the last order-1 = 3 context labels matter.
    assert four_gram.distribution([4, 4, 1, 2, 3]) == pytest.approx(
        four_gram.distribution([1, 2, 3]), abs=1e-15
    )


@pytest.mark.parametrize(
    ("order", "smoothing"),
    [
        (1, "additive"),
        (2, "additive"),
        (3, "additive"),
        (1, "witten_bell"),
        (2, "witten_bell"),
        (4, "witten_bell"),
    ],
)
def test_probabilities_sum_to_one_for_every_context(order: int, smoothing: str) -> None:
    num_classes = 4
    model = NGramModel(order, num_classes, smoothing).fit(
        random_corpus(num_classes, 30, seed=order)
    )
    rng = np.random.default_rng(7)
    contexts = [[], [0], [3, 3], [1, 2, 3], [3, 3, 3, 3, 3]] + [
        list(rng.integers(0, num_classes, size=rng.integers(0, 6))) for _ in range(50)
    ]
    for context in contexts:
        distribution = model.distribution(context)
        assert distribution.shape == (num_classes,)
        assert distribution.sum() == pytest.approx(1.0, abs=1e-12)
        assert np.all(distribution > 0)


def test_four_gram_learns_a_pattern_the_bigram_cannot() -> None:
    pattern = [[0, 0, 1] * 20 for _ in range(5)]
    bigram = NGramModel(2, 2).fit(pattern)
    four_gram = NGramModel(4, 2).fit(pattern)
    # After a 0 comes 0 or 1 equally often in a bigram's eyes; two labels of context decide it.
    assert bigram.evaluate(pattern)["accuracy"] < 0.75
    assert four_gram.evaluate(pattern)["accuracy"] == 1.0
    assert four_gram.evaluate(pattern)["loss"] < bigram.evaluate(pattern)["loss"]


def test_event_and_no_event_accuracy_definitions() -> None:
    # Targets 0, 0, 0, 2; the unigram always predicts the most frequent label, 0 (the no-event label).
    model = NGramModel(1, 6).fit([[5, 0, 0, 0, 2]])
    metrics = model.evaluate([[5, 0, 0, 0, 2]], no_event_label=0)
    assert metrics["accuracy"] == pytest.approx(3 / 4)
    assert metrics["no_event_accuracy"] == 1.0
    assert metrics["event_accuracy"] == 0.0
    assert metrics["steps"] == 4
    without = model.evaluate([[5, 2, 2]])
    assert "event_accuracy" not in without
    assert math.isnan(model.evaluate([[5, 2, 2]], no_event_label=0)["no_event_accuracy"])


def test_vectorised_scoring_equals_per_step_log_probs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(baselines, "_SCORING_CHUNK_CONTEXTS", 7)  # many chunks of distinct contexts
    corpus = random_corpus(6, 30, seed=3)
    held_out = random_corpus(6, 10, seed=4)
    for model in standard_baselines(6):
        model.fit(corpus)
        total = 0.0
        correct = 0
        steps = 0
        for labels in held_out:
            per_melody = 0.0
            for position in range(1, len(labels)):
                distribution = model.distribution(labels[:position])
                per_melody += math.log(distribution[labels[position]])
                correct += int(np.argmax(distribution) == labels[position])
                steps += 1
            assert model.sequence_log_likelihood(labels) == pytest.approx(per_melody, abs=1e-9)
            total += per_melody
        metrics = model.evaluate(held_out)
        assert metrics["steps"] == steps == sum(max(len(labels) - 1, 0) for labels in held_out)
        assert metrics["loss"] == pytest.approx(-total / steps, abs=1e-12)
        assert metrics["accuracy"] == pytest.approx(correct / steps, abs=1e-12)


def test_names() -> None:
    assert [model.name for model in standard_baselines(38)] == [
        "unigram",
        "bigram (Markov)",
        "4-gram (Witten-Bell)",
    ]
    assert NGramModel(2, 38, "witten_bell").name == "bigram (Markov, Witten-Bell)"
    assert NGramModel(3, 38, "additive").name == "trigram (add-1)"


def test_evaluate_baselines_rows() -> None:
    corpus = random_corpus(5, 20, seed=5)
    rows = evaluate_baselines(corpus[:15], corpus[15:], num_classes=5, no_event_label=0)
    assert [row["name"] for row in rows] == ["unigram", "bigram (Markov)", "4-gram (Witten-Bell)"]
    assert all(row["fitted_on"] == "train" for row in rows)
    assert rows[0]["loss"] == pytest.approx(
        NGramModel(1, 5).fit(corpus[:15]).evaluate(corpus[15:])["loss"]
    )
    assert evaluate_baselines(None, corpus, num_classes=5)[0]["fitted_on"] == "eval"


def test_user_errors() -> None:
    with pytest.raises(MelodylibError, match="order"):
        NGramModel(0, 5)
    with pytest.raises(MelodylibError, match="smoothing"):
        NGramModel(2, 5, smoothing="magic")
    with pytest.raises(MelodylibError, match="not fitted"):
        NGramModel(2, 5).evaluate([[0, 1]])
    with pytest.raises(MelodylibError, match="outside 0..4"):
        NGramModel(2, 5).fit([[0, 5]])
    with pytest.raises(MelodylibError, match="fewer than 2"):
        NGramModel(2, 5).fit([[0], []])
    with pytest.raises(MelodylibError, match="fewer than 2"):
        NGramModel(2, 5).fit([[0, 1]]).evaluate([[3]])
    with pytest.raises(MelodylibError, match="1-D"):
        NGramModel(2, 5).fit([[[0, 1]]])
