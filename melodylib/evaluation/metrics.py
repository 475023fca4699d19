"""Evaluation: Magenta's metrics on an eval set, for models and for n-gram baselines.

Every row of the table is scored on the same encoded labels: the negative log-likelihood per
step (the loss, in nats), perplexity = exp(loss), accuracy (the most likely class is right),
event accuracy (on steps whose label is not the encoder's no-event label) and no-event accuracy.
Models also get Magenta's eval-only per-class accuracy (`per_class_accuracy`: the mean over all
classes of each class's accuracy, a class that is never a label counting as 0, as TF1's
mean_per_class_accuracy). Dropout is off for models here (Magenta's eval kept it on).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from melodylib.atomic import write_text_atomically
from melodylib.encoding.configs import MelodyRnnConfig
from melodylib.errors import MelodylibError

TABLE_METRICS = ("loss", "perplexity", "accuracy", "event_accuracy", "no_event_accuracy")


@dataclass
class EvaluationRow:
    """One row of the comparison: a model or baseline, what it was scored on, its metrics."""

    name: str
    kind: str  # "model" or "baseline"
    config: str
    metrics: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "config": self.config, **self.metrics}


def evaluate_model(
    model_or_bundle: Any,
    sequence_example_file: str,
    config: MelodyRnnConfig | None = None,
    num_eval_examples: int = 0,
    batch_size: int = 64,
) -> dict[str, float]:
    """Magenta's eval metrics of a model (or bundle) on a SequenceExample file, per-class
    accuracy included, with dropout off."""
    from melodylib.bundles.sources import model_and_config
    from melodylib.data.datasets import check_input_size, make_dataset
    from melodylib.training.metrics import evaluate_dataset

    model, config = model_and_config(model_or_bundle, config)
    check_input_size(sequence_example_file, config.encoder.input_size, config.name)
    # The first num_eval_examples melodies in file order: the same ones the baselines score.
    dataset = make_dataset(
        sequence_example_file,
        config.encoder.input_size,
        batch_size,
        shuffle=False,
        repeat=False,
        drop_remainder=False,
        max_examples=num_eval_examples,
    )
    metrics = evaluate_dataset(model, dataset, int(config.encoder.default_event_label))
    metrics.pop("padded_fraction", None)
    return metrics


def read_labels(sequence_example_file: str, limit: int = 0) -> list[np.ndarray]:
    """The label sequence of every melody in a SequenceExample file (first `limit` if given)."""
    from melodylib.data.sequence_examples import read_sequence_examples

    sequences = []
    for _, labels in read_sequence_examples(sequence_example_file):
        sequences.append(labels)
        if limit and len(sequences) >= limit:
            break
    if not sequences:
        raise MelodylibError(f"{sequence_example_file}: holds no melodies (an empty eval set)")
    return sequences


def baseline_rows(
    config: MelodyRnnConfig,
    eval_file: str,
    train_file: str | None = None,
    orders: Sequence[int] = (1, 2, 4),
    num_eval_examples: int = 0,
) -> list[EvaluationRow]:
    """n-gram baselines over the same encoded labels, fitted on `train_file` (or on the eval set)."""
    from melodylib.evaluation.baselines import NGramModel

    # A SequenceExample holds the labels of events 1..N-1; the n-grams score every label after the
    # first of the sequences they get, so a stand-in for event 0 (the no-event label) is put in
    # front: all N-1 labels are then scored, as for the LSTM.
    stand_in = np.array([config.encoder.default_event_label], dtype=np.int64)
    eval_labels = [
        np.concatenate([stand_in, labels]) for labels in read_labels(eval_file, num_eval_examples)
    ]
    train_labels = (
        [np.concatenate([stand_in, labels]) for labels in read_labels(train_file)]
        if train_file
        else eval_labels
    )
    rows = []
    for order in orders:
        baseline = NGramModel(order, config.encoder.num_classes)
        baseline.fit(train_labels)
        metrics = baseline.evaluate(
            eval_labels, no_event_label=int(config.encoder.default_event_label)
        )
        fitted_on = "train" if train_file else "eval (no training file given)"
        rows.append(
            EvaluationRow(
                f"{baseline.name}, fitted on {fitted_on}",
                "baseline",
                config.name,
                {name: float(metrics[name]) for name in TABLE_METRICS},
            )
        )
    return rows


def format_table(rows: Iterable[EvaluationRow]) -> str:
    """A Markdown table of the rows (the README's comparison table)."""
    header = "| model | config | NLL/step | perplexity | accuracy | event acc. | no-event acc. |"
    lines = [header, "|---|---|---|---|---|---|---|"]
    for row in rows:
        values = [row.metrics.get(name, float("nan")) for name in TABLE_METRICS]
        lines.append(
            f"| {row.name} | {row.config} | {values[0]:.3f} | {values[1]:.2f} | {values[2]:.3f} | "
            f"{values[3]:.3f} | {values[4]:.3f} |"
        )
    return "\n".join(lines)


def write_json(rows: Iterable[EvaluationRow], path: str | os.PathLike, memorisation=None) -> None:
    """One JSON object per model or baseline, with its name and metrics (atomically written).

    With a `MemorisationReport`, the file holds {"rows": [...], "memorisation": {...}} instead.
    """
    content: Any = [row.to_dict() for row in rows]
    if memorisation is not None:
        content = {"rows": content, "memorisation": memorisation.to_dict()}
    write_text_atomically(path, json.dumps(content, indent=2))
