"""Evaluation: Magenta's metrics on an eval set, for models and for n-gram baselines.

Every row of the table is scored on the same encoded labels: the negative log-likelihood per
step (the loss, in nats), perplexity = exp(loss), accuracy (the most likely class is right),
event accuracy (on steps whose label is not the encoder's no-event label) and no-event accuracy.
Dropout is off for models here (Magenta's eval kept it on).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

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
    """Magenta's metrics of a model (or bundle) on a SequenceExample file, with dropout off."""
    from melodylib.data.datasets import check_input_size, make_dataset
    from melodylib.generation.generator import _model_and_config
    from melodylib.training.loop import evaluate_dataset

    model, config = _model_and_config(model_or_bundle, config)
    check_input_size(sequence_example_file, config.encoder.input_size, config.name)
    # The first num_eval_examples melodies in file order: the same ones the baselines score.
    dataset = make_dataset(
        sequence_example_file, config.encoder.input_size, batch_size, shuffle=False, repeat=False,
        drop_remainder=False, max_examples=num_eval_examples,
    )
    metrics = evaluate_dataset(model, dataset, int(config.encoder.default_event_label))
    metrics.pop("padded_fraction", None)
    return metrics


def evaluate_run_dir(run_dir: str, config: MelodyRnnConfig | None, sequence_example_file: str,
                     num_eval_examples: int = 0) -> dict[str, float]:
    """Evaluate the latest checkpoint of a training run (`melody_rnn train --eval`)."""
    from melodylib.training.loop import load_trained_model

    model, config, _ = load_trained_model(run_dir, None, config)
    return evaluate_model(model, sequence_example_file, config, num_eval_examples)


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
    eval_labels = [np.concatenate([stand_in, labels]) for labels in read_labels(eval_file, num_eval_examples)]
    train_labels = (
        [np.concatenate([stand_in, labels]) for labels in read_labels(train_file)] if train_file else eval_labels
    )
    rows = []
    for order in orders:
        baseline = NGramModel(order, config.encoder.num_classes)
        baseline.fit(train_labels)
        metrics = baseline.evaluate(eval_labels, no_event_label=int(config.encoder.default_event_label))
        fitted_on = "train" if train_file else "eval (no training file given)"
        rows.append(EvaluationRow(f"{baseline.name}, fitted on {fitted_on}", "baseline", config.name,
                                  {name: float(metrics[name]) for name in TABLE_METRICS}))
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


def write_json(rows: Iterable[EvaluationRow], path: str | os.PathLike) -> None:
    """One JSON object per model or baseline, with its name and metrics (atomically written)."""
    write_text_atomically(path, json.dumps([row.to_dict() for row in rows], indent=2))


@dataclass
class CourseComparison:
    """The course's comparison of the four configs: metric rows and music-statistics distances."""

    rows: list[EvaluationRow] = field(default_factory=list)
    statistics: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)  # config -> stat -> values
    generated: dict[str, list[list[int]]] = field(default_factory=dict)
    reference: list[list[int]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"rows": [row.to_dict() for row in self.rows], "statistics": self.statistics}

    def format_statistics(self) -> str:
        """A Markdown table: per statistic, the eval set's mean and each config's mean and overlap."""
        configs = list(self.statistics)
        if not configs:
            return ""
        names = list(next(iter(self.statistics.values())))
        header = "| statistic | eval set | " + " | ".join(f"{name} (overlap)" for name in configs) + " |"
        lines = [header, "|---|---|" + "---|" * len(configs)]
        for stat in names:
            reference = self.statistics[configs[0]][stat]["reference_mean"]
            cells = [
                f"{self.statistics[c][stat]['generated_mean']:.3f} ({self.statistics[c][stat]['overlapping_area']:.2f})"
                for c in configs
            ]
            lines.append(f"| {stat} | {reference:.3f} | " + " | ".join(cells) + " |")
        return "\n".join(lines)


def course_comparison(
    subset: str = "full",
    bundle_dir: str | None = None,
    configs: Sequence[str] | None = None,
    num_generated: int = 100,
    num_steps: int = 128,
    primer_bars: int = 1,
    num_eval_examples: int = 0,
    seed: int = 0,
    log=print,
) -> CourseComparison:
    """Score the shipped bundles and the n-gram baselines on the course corpus's eval split, and
    compare statistics of generated melodies with the eval tunes (issue: which config is best?).

    Each generated melody continues the first `primer_bars` bar(s) of an eval tune to `num_steps`
    steps; the reference melodies are the same eval tunes cut to `num_steps` steps.
    """
    from melodylib.course import corpus
    from melodylib.bundles.bundle import load_bundle
    from melodylib.course.shipped import shipped_bundles
    from melodylib.generation.generator import MelodyGenerator
    from melodylib.evaluation.music_statistics import compare_statistics

    bundles = shipped_bundles(bundle_dir)
    configs = [name for name in (configs or bundles) if name in bundles]
    if not configs:
        raise MelodylibError("no pretrained bundles found; run `make bundles` or give bundle_dir")
    reference_melodies = [m for m in corpus.split_melodies(subset, "eval") if len(m) >= num_steps]
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(reference_melodies), size=min(num_generated, len(reference_melodies)), replace=False)
    reference = [list(reference_melodies[i].events[:num_steps]) for i in chosen]
    result = CourseComparison(reference=reference)
    for name in configs:
        bundle = load_bundle(bundles[name])
        config = bundle.config
        eval_path = str(corpus.eval_file(name, subset))
        train_path = str(corpus.training_file(name, subset))
        log(f"Scoring {name} on {eval_path}")
        model = bundle.build_model()
        metrics = evaluate_model(model, eval_path, config, num_eval_examples)
        result.rows.append(EvaluationRow(f"{name} (pretrained bundle)", "model", name, metrics))
        result.rows += baseline_rows(config, eval_path, train_path, num_eval_examples=num_eval_examples)
        log(f"Generating {len(reference)} melodies with {name}")
        generator = MelodyGenerator(model, config)
        generated = []
        steps_per_bar = 16
        for index, events in enumerate(reference):
            primer = list(events[: primer_bars * steps_per_bar])
            melody = generator.generate(primer, num_steps=num_steps, num_outputs=1, seed=seed + index)[0]
            generated.append(melody.events)
        result.generated[name] = generated
        result.statistics[name] = compare_statistics(generated, reference)
    return result


@dataclass
class CourseVerdict:
    """What the comparison says, as numbers: each model's margin over its own 4-gram, and
    which config's melodies are closest to the real tunes (mean overlapping area)."""

    margins: dict[str, float]  # 4-gram NLL minus model NLL, nats per step (> 0: the model wins)
    mean_overlap: dict[str, float]
    closest_on: dict[str, str]  # statistic -> config with the largest overlap

    @property
    def beats_four_gram(self) -> dict[str, bool]:
        return {name: margin > 0 for name, margin in self.margins.items()}

    @property
    def closest_overall(self) -> str:
        return max(self.mean_overlap, key=self.mean_overlap.get)

    def format(self) -> str:
        lines = []
        for name, margin in self.margins.items():
            verdict = "beats its 4-gram by" if margin > 0 else "does NOT beat its 4-gram: behind by"
            lines.append(f"{name:14} {verdict} {abs(margin):.3f} nats per step; "
                         f"mean overlap with the real tunes {self.mean_overlap.get(name, float('nan')):.2f}")
        if self.margins:
            lines.append(f"largest margin over its 4-gram: {max(self.margins, key=self.margins.get)}")
        if self.mean_overlap:
            lines.append(f"closest to the real tunes overall: {self.closest_overall}")
        for statistic, name in self.closest_on.items():
            lines.append(f"closest on {statistic.replace('_', ' ')}: {name}")
        return "\n".join(lines)


def course_verdict(comparison: CourseComparison) -> CourseVerdict:
    """Summarise a CourseComparison: margins over the 4-gram and closeness of the statistics.

    Each model is compared only with the baselines of its own config: the configs predict
    different labels, so their NLLs are not on one scale.
    """
    models = {row.config: row for row in comparison.rows if row.kind == "model"}
    four_grams = {row.config: row for row in comparison.rows if row.kind == "baseline" and row.name.startswith("4-gram")}
    margins = {name: four_grams[name].metrics["loss"] - row.metrics["loss"]
               for name, row in models.items() if name in four_grams}
    mean_overlap, closest_on = {}, {}
    for name, statistics in comparison.statistics.items():
        areas = [values["overlapping_area"] for values in statistics.values()]
        mean_overlap[name] = float(np.nanmean(areas)) if np.isfinite(areas).any() else float("nan")
    if comparison.statistics:
        for statistic in next(iter(comparison.statistics.values())):
            areas = {name: comparison.statistics[name][statistic]["overlapping_area"] for name in comparison.statistics}
            finite = {name: area for name, area in areas.items() if np.isfinite(area)}
            if finite:
                closest_on[statistic] = max(finite, key=finite.get)
    return CourseVerdict(margins, mean_overlap, closest_on)
