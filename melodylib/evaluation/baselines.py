"""N-gram baselines over encoded melody labels: the scores a model with only n-1 steps of memory gets.

The models score the same class labels the LSTM predicts, with the same convention, so the loss per
step is directly comparable: a melody with labels l_0..l_{N-1} (l_p is the label of event p) is
scored at positions 1..N-1, like the LSTM, whose first event is never a label (magenta-behaviour.md: "Encoder contract"). Position p is
predicted from the previous min(order-1, p) labels: the context is truncated at the melody start
(no padding symbol), so the first positions use the lower-order estimate. Fitting counts the same
positions 1..N-1 of the training melodies.

Counting and scoring are vectorised with numpy: every n-gram is an int64 key (its labels as digits
in base num_classes), counted with np.unique and looked up with np.searchsorted, so ~10,000
melodies of 300 steps fit and score in seconds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from melodylib.errors import MelodylibError

SMOOTHING_METHODS = ("additive", "witten_bell")
_ORDER_WORDS = {1: "unigram", 2: "bigram (Markov)", 3: "trigram"}
_SCORING_CHUNK_CONTEXTS = 4096  # distinct contexts whose full distributions are built at once
_MISSING = -1  # a context slot before the melody start


@dataclass
class _CountTable:
    """Counts for one context length j: n-gram counts c(h w), and per context h its total c(h) and
    the number of distinct labels that followed it, T(h) (Witten-Bell's "types")."""

    ngram_keys: np.ndarray  # sorted int64, key = context_key * num_classes + label
    ngram_counts: np.ndarray  # float64
    context_keys: np.ndarray  # sorted int64
    context_totals: np.ndarray  # float64, c(h)
    context_types: np.ndarray  # float64, T(h)


def _lookup(sorted_keys: np.ndarray, values: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """values[i] where sorted_keys[i] == query, else 0, for every query (any shape)."""
    if sorted_keys.size == 0:
        return np.zeros(queries.shape, dtype=np.float64)
    index = np.minimum(np.searchsorted(sorted_keys, queries), sorted_keys.size - 1)
    found = sorted_keys[index] == queries
    return np.where(found, values[index], 0.0)


class NGramModel:
    """An order-n Markov model over class labels, p(l_p | previous n-1 labels), as a baseline row.

    Smoothing:
    - "additive" (add-k, Laplace for k = 1): p(w|h) = (c(hw) + k) / (c(h) + k V), V = num_classes.
      Fine for the unigram and bigram, whose contexts are all seen in a large corpus; an unseen
      context gets the uniform distribution.
    - "witten_bell" (interpolated Witten-Bell, Witten & Bell 1991 as in Chen & Goodman 1998 and
      SRILM's -wbdiscount -interpolate): p(w|h) = (c(hw) + T(h) p(w|h')) / (c(h) + T(h)), where h'
      drops the oldest label of h and T(h) is the number of distinct labels seen after h; an unseen
      context (c(h) = 0) uses p(w|h') unchanged, and the recursion ends in the unigram interpolated
      with the uniform distribution, (c(w) + T / V) / (N + T). Every order is mixed in, weighted by
      how much evidence the context has and how varied its continuations are, so sparse 4-gram
      contexts fall back smoothly and every label keeps a non-zero probability. It uses plain counts
      at every order, which suits the truncated contexts at the melody start (Kneser-Ney's
      continuation counts would not).
    The default is additive for orders 1 and 2 and Witten-Bell above.
    """

    def __init__(
        self,
        order: int,
        num_classes: int,
        smoothing: str | None = None,
        additive_constant: float = 1.0,
    ) -> None:
        if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or order < 1:
            raise MelodylibError(
                f"n-gram order {order!r} is invalid: use a whole number >= 1 (1 = unigram)."
            )
        if (
            isinstance(num_classes, bool)
            or not isinstance(num_classes, (int, np.integer))
            or num_classes < 1
        ):
            raise MelodylibError(
                f"num_classes {num_classes!r} is invalid: use the encoder's num_classes (a whole number >= 1)."
            )
        if smoothing is None:
            smoothing = "additive" if order <= 2 else "witten_bell"
        smoothing = smoothing.replace("-", "_").lower()
        if smoothing not in SMOOTHING_METHODS:
            raise MelodylibError(
                f"smoothing {smoothing!r} is unknown: use one of {', '.join(SMOOTHING_METHODS)}."
            )
        if not additive_constant > 0:
            raise MelodylibError(
                f"additive_constant {additive_constant!r} must be > 0 (1.0 is add-one smoothing)."
            )
        if int(num_classes + 1) ** int(order) >= 2**62:
            raise MelodylibError(
                f"an order-{order} model over {num_classes} classes is too large to key in int64: lower the order."
            )
        self.order = int(order)
        self.num_classes = int(num_classes)
        self.smoothing = smoothing
        self.additive_constant = float(additive_constant)
        self._tables: list[_CountTable] | None = None

    @property
    def name(self) -> str:
        """The row name: "unigram", "bigram (Markov)", "4-gram (Witten-Bell)", ..."""
        base = _ORDER_WORDS.get(self.order, f"{self.order}-gram")
        if self.order <= 2 and self.smoothing == "additive":
            return base
        label = (
            "Witten-Bell" if self.smoothing == "witten_bell" else f"add-{self.additive_constant:g}"
        )
        if base.endswith(")"):
            return base[:-1] + f", {label})"
        return f"{base} ({label})"

    def __repr__(self) -> str:
        return f"NGramModel(order={self.order}, num_classes={self.num_classes}, smoothing={self.smoothing!r})"

    @property
    def context_length(self) -> int:
        """The number of previous labels the model conditions on (order - 1)."""
        return self.order - 1

    def fit(self, sequences: Iterable[Sequence[int] | np.ndarray]) -> NGramModel:
        """Count the n-grams ending at positions 1..N-1 of each label sequence; returns self."""
        targets, contexts = self._targets_and_contexts(sequences)
        if targets.size == 0:
            raise MelodylibError(
                "no training steps for the n-gram baseline: every melody has fewer than 2 labels; "
                "pass the training melodies' label sequences."
            )
        num_classes = self.num_classes
        tables = []
        for length in range(self.order):
            rows = self._rows_with_context(contexts, length)
            ngram_keys = self._context_keys(contexts[rows], length) * num_classes + targets[rows]
            keys, counts = np.unique(ngram_keys, return_counts=True)
            context_of_key = keys // num_classes
            context_keys, first, types = np.unique(
                context_of_key, return_index=True, return_counts=True
            )
            totals = np.add.reduceat(counts, first) if keys.size else np.zeros(0, dtype=np.int64)
            tables.append(
                _CountTable(
                    ngram_keys=keys,
                    ngram_counts=counts.astype(np.float64),
                    context_keys=context_keys,
                    context_totals=totals.astype(np.float64),
                    context_types=types.astype(np.float64),
                )
            )
        self._tables = tables
        return self

    def distribution(self, context: Sequence[int] | np.ndarray) -> np.ndarray:
        """The probabilities of all num_classes labels after `context` (earlier labels, oldest first)."""
        return self._distributions(self._context_row(context)[None, :])[0]

    def log_prob(self, context: Sequence[int] | np.ndarray, label: int) -> float:
        """The natural log of p(label | context); only the last order-1 context labels matter."""
        self._check_labels(np.asarray([label]), "label")
        return float(np.log(self.distribution(context)[int(label)]))

    def sequence_log_likelihood(self, labels: Sequence[int] | np.ndarray) -> float:
        """Sum of log p(l_p | context) over positions 1..N-1 (nats), like the LSTM's log-likelihood."""
        log_probs, _, _ = self._score([labels])
        return float(log_probs.sum())

    def evaluate(
        self,
        sequences: Iterable[Sequence[int] | np.ndarray],
        no_event_label: int | None = None,
    ) -> dict[str, float]:
        """Magenta's eval metrics over positions 1..N-1 of every sequence (magenta-behaviour.md: "Loss and metrics"), token-level means.

        loss = mean NLL per step (nats); perplexity = exp(loss); accuracy = share of steps whose most
        probable label (lowest index on ties) is the label; with `no_event_label` (the encoder's
        default_event_label), event_accuracy / no_event_accuracy are the accuracy over steps whose
        label is not / is that label (nan when there are no such steps); steps = steps scored.
        """
        log_probs, correct, targets = self._score(sequences)
        if log_probs.size == 0:
            raise MelodylibError(
                "no steps to score: every melody has fewer than 2 labels; pass longer melodies."
            )
        loss = float(-log_probs.mean())
        metrics = {
            "loss": loss,
            "perplexity": math.exp(loss),
            "accuracy": float(correct.mean()),
        }
        if no_event_label is not None:
            is_no_event = targets == int(no_event_label)
            metrics["event_accuracy"] = _mean_or_nan(correct[~is_no_event])
            metrics["no_event_accuracy"] = _mean_or_nan(correct[is_no_event])
        metrics["steps"] = int(log_probs.size)
        return metrics

    # -- internals -------------------------------------------------------------------------------

    def _require_fitted(self) -> list[_CountTable]:
        if self._tables is None:
            raise MelodylibError(
                f"the {self.name} baseline is not fitted: call fit(train_label_sequences) first."
            )
        return self._tables

    def _check_labels(self, labels: np.ndarray, what: str) -> None:
        if labels.size and (labels.min() < 0 or labels.max() >= self.num_classes):
            bad = labels[(labels < 0) | (labels >= self.num_classes)][0]
            raise MelodylibError(
                f"{what} contains class {int(bad)}, outside 0..{self.num_classes - 1}: "
                f"pass encoded labels of an encoder with num_classes={self.num_classes}."
            )

    def _as_labels(self, sequence: Sequence[int] | np.ndarray, what: str) -> np.ndarray:
        array = np.asarray(sequence)
        if array.ndim != 1:
            raise MelodylibError(
                f"{what} has shape {array.shape}: pass a 1-D sequence of class labels per melody."
            )
        integral = np.issubdtype(array.dtype, np.integer)
        if array.size and not integral and not np.all(np.equal(np.mod(array, 1), 0)):
            raise MelodylibError(f"{what} contains non-integer values: pass class indices (ints).")
        array = array.astype(np.int64)
        self._check_labels(array, what)
        return array

    def _targets_and_contexts(
        self, sequences: Iterable[Sequence[int] | np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Labels at positions 1..N-1 of all sequences, and their contexts as a (steps, order-1)
        matrix, oldest first, with _MISSING before the melody start."""
        arrays = [
            self._as_labels(sequence, f"label sequence {index}")
            for index, sequence in enumerate(sequences)
        ]
        arrays = [array for array in arrays if array.size >= 2]
        length = self.context_length
        if not arrays:
            return np.zeros(0, dtype=np.int64), np.zeros((0, length), dtype=np.int64)
        flat = np.concatenate(arrays)
        sizes = np.array([array.size for array in arrays])
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        positions = np.arange(flat.size) - np.repeat(starts, sizes)
        scored = np.flatnonzero(positions >= 1)
        contexts = np.full((scored.size, length), _MISSING, dtype=np.int64)
        for column in range(length):
            back = length - column  # column length-1 is the previous label
            available = positions[scored] >= back
            contexts[available, column] = flat[scored[available] - back]
        return flat[scored], contexts

    def _context_row(self, context: Sequence[int] | np.ndarray) -> np.ndarray:
        labels = self._as_labels(context, "context")
        row = np.full(self.context_length, _MISSING, dtype=np.int64)
        if self.context_length:
            kept = labels[-self.context_length :] if labels.size else labels
            if kept.size:
                row[-kept.size :] = kept
        return row

    def _rows_with_context(self, contexts: np.ndarray, length: int) -> np.ndarray:
        """Rows whose last `length` context slots are all inside the melody."""
        if length == 0:
            return np.ones(contexts.shape[0], dtype=bool)
        return contexts[:, contexts.shape[1] - length] != _MISSING

    def _context_keys(self, contexts: np.ndarray, length: int) -> np.ndarray:
        """The last `length` labels of each row as one int64 (digits in base num_classes)."""
        keys = np.zeros(contexts.shape[0], dtype=np.int64)
        for column in range(contexts.shape[1] - length, contexts.shape[1]):
            keys = keys * self.num_classes + contexts[:, column]
        return keys

    def _distributions(self, contexts: np.ndarray) -> np.ndarray:
        """Full (rows, num_classes) probability matrix for a matrix of contexts."""
        tables = self._require_fitted()
        num_classes = self.num_classes
        classes = np.arange(num_classes, dtype=np.int64)
        rows = contexts.shape[0]
        if self.smoothing == "additive":
            probabilities = np.empty((rows, num_classes))
            available = (
                (contexts != _MISSING).sum(axis=1)
                if self.context_length
                else np.zeros(rows, dtype=int)
            )
            k = self.additive_constant
            for length in np.unique(available):
                selected = available == length
                table = tables[int(length)]
                keys = self._context_keys(contexts[selected], int(length))
                totals = _lookup(table.context_keys, table.context_totals, keys)
                counts = _lookup(
                    table.ngram_keys, table.ngram_counts, keys[:, None] * num_classes + classes
                )
                probabilities[selected] = (counts + k) / (totals[:, None] + k * num_classes)
            return probabilities
        # Interpolated Witten-Bell, from the unigram (mixed with uniform) up to the longest context.
        unigram = tables[0]
        counts = _lookup(unigram.ngram_keys, unigram.ngram_counts, classes)
        total, types = unigram.context_totals[0], unigram.context_types[0]
        probabilities = np.tile((counts + types / num_classes) / (total + types), (rows, 1))
        for length in range(1, self.order):
            table = tables[length]
            selected = np.flatnonzero(self._rows_with_context(contexts, length))
            if selected.size == 0:
                continue
            keys = self._context_keys(contexts[selected], length)
            totals = _lookup(table.context_keys, table.context_totals, keys)
            seen = totals > 0
            selected, keys, totals = selected[seen], keys[seen], totals[seen]
            types = _lookup(table.context_keys, table.context_types, keys)
            counts = _lookup(
                table.ngram_keys, table.ngram_counts, keys[:, None] * num_classes + classes
            )
            lower = probabilities[selected]
            probabilities[selected] = (counts + types[:, None] * lower) / (totals + types)[:, None]
        return probabilities

    def _score(
        self, sequences: Iterable[Sequence[int] | np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per scored step: log p(label | context), whether the argmax equals the label, the label."""
        self._require_fitted()
        targets, contexts = self._targets_and_contexts(sequences)
        log_probs = np.zeros(targets.size)
        correct = np.zeros(targets.size, dtype=bool)
        if targets.size == 0:
            return log_probs, correct, targets
        # Each distinct context's distribution is built once (missing slots become digit 0, labels 1..V).
        context_ids = np.zeros(targets.size, dtype=np.int64)
        for column in range(self.context_length):
            context_ids = context_ids * (self.num_classes + 1) + (contexts[:, column] + 1)
        _, first, inverse = np.unique(context_ids, return_index=True, return_inverse=True)
        inverse = inverse.reshape(-1)
        order = np.argsort(inverse, kind="stable")
        bounds = np.searchsorted(inverse[order], np.arange(0, first.size + 1))
        for start in range(0, first.size, _SCORING_CHUNK_CONTEXTS):
            stop = min(start + _SCORING_CHUNK_CONTEXTS, first.size)
            probabilities = self._distributions(contexts[first[start:stop]])
            steps = order[bounds[start] : bounds[stop]]
            local = inverse[steps] - start
            log_probs[steps] = np.log(probabilities[local, targets[steps]])
            correct[steps] = probabilities.argmax(axis=1)[local] == targets[steps]
        return log_probs, correct, targets


def _mean_or_nan(values: np.ndarray) -> float:
    return float(values.mean()) if values.size else float("nan")


def standard_baselines(num_classes: int) -> list[NGramModel]:
    """The three baseline rows of the evaluation table, unfitted: unigram, bigram, 4-gram Witten-Bell."""
    return [
        NGramModel(1, num_classes, "additive"),
        NGramModel(2, num_classes, "additive"),
        NGramModel(4, num_classes, "witten_bell"),
    ]


def evaluate_baselines(
    train_sequences: Iterable[Sequence[int] | np.ndarray] | None,
    eval_sequences: Iterable[Sequence[int] | np.ndarray],
    num_classes: int,
    no_event_label: int | None = None,
) -> list[dict[str, float | str]]:
    """Fit the standard baselines on TRAIN (on EVAL itself when no train set is given, flagged in
    "fitted_on") and score EVAL; one dict per row: name, fitted_on and the evaluate() metrics."""
    eval_sequences = list(eval_sequences)
    fitted_on = "train" if train_sequences is not None else "eval"
    train_sequences = list(train_sequences) if train_sequences is not None else eval_sequences
    rows: list[dict[str, float | str]] = []
    for model in standard_baselines(num_classes):
        model.fit(train_sequences)
        rows.append(
            {
                "name": model.name,
                "fitted_on": fitted_on,
                **model.evaluate(eval_sequences, no_event_label),
            }
        )
    return rows
