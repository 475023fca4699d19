"""The course's comparison of the four configs: each shipped bundle scored on the course corpus's
eval split next to its n-gram baselines, and statistics of its generated melodies compared with
the real tunes; then a verdict in numbers (which config wins, by how much).

It lives in the course because it needs the course corpus and the shipped bundles; the metrics
and tables it uses are the library's (`melodylib.evaluation.metrics`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from melodylib.errors import MelodylibError
from melodylib.evaluation.memorisation_report import (
    MemorisationReport,
    continue_first_bars,
    memorisation_report,
    split_named_melodies,
)
from melodylib.evaluation.metrics import EvaluationRow, baseline_rows, evaluate_model
from melodylib.music.events import DEFAULT_STEPS_PER_BAR


@dataclass
class CourseComparison:
    """The course's comparison of the four configs: metric rows and music-statistics distances."""

    rows: list[EvaluationRow] = field(default_factory=list)
    statistics: dict[str, dict[str, dict[str, float]]] = field(
        default_factory=dict
    )  # config -> stat -> values
    generated: dict[str, list[list[int]]] = field(default_factory=dict)
    reference: list[list[int]] = field(default_factory=list)
    memorisation: dict[str, MemorisationReport] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": [row.to_dict() for row in self.rows],
            "statistics": self.statistics,
            "memorisation": {name: report.to_dict() for name, report in self.memorisation.items()},
        }

    def format_memorisation(self) -> str:
        """A Markdown table: per config, what its generated melodies share with training tunes,
        beside what the real eval tunes share with them (the same for every config)."""
        if not self.memorisation:
            return ""
        lines = [
            "| melodies | median bars shared | 90th pct | max | share >= 2 bars | "
            "share >= 4 bars | median notes |",
            "|---|---|---|---|---|---|---|",
        ]
        summaries = [(f"{name}, generated", r.generated) for name, r in self.memorisation.items()]
        summaries.append(("real eval tunes", next(iter(self.memorisation.values())).real))
        for label, summary in summaries:
            lines.append(
                f"| {label} | {summary.median_bars:.2f} | {summary.percentile_90_bars:.2f} | "
                f"{summary.max_bars:.2f} | {summary.share_at_least_2_bars:.0%} | "
                f"{summary.share_at_least_4_bars:.0%} | {summary.median_notes:.0f} |"
            )
        return "\n".join(lines)

    def format_statistics(self) -> str:
        """A Markdown table: per statistic, the eval set's mean and each config's mean and overlap."""
        configs = list(self.statistics)
        if not configs:
            return ""
        names = list(next(iter(self.statistics.values())))
        header = (
            "| statistic | eval set | " + " | ".join(f"{name} (overlap)" for name in configs) + " |"
        )
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
    memorisation: bool = True,
    log=print,
) -> CourseComparison:
    """Score the shipped bundles and the n-gram baselines on the course corpus's eval split, and
    compare statistics of generated melodies with the eval tunes: which config is best?

    Each generated melody continues the first `primer_bars` bar(s) of an eval tune to `num_steps`
    steps; the reference melodies are the same eval tunes cut to `num_steps` steps. With
    `memorisation`, both are also measured against the training tunes (see
    `melodylib.evaluation.memorisation_report`).
    """
    from melodylib.bundles.sources import load_model
    from melodylib.course import corpus
    from melodylib.course.shipped import shipped_bundles
    from melodylib.evaluation.music_statistics import compare_statistics
    from melodylib.generation.generator import MelodyGenerator

    bundles = shipped_bundles(bundle_dir)
    configs = [name for name in (configs or bundles) if name in bundles]
    if not configs:
        raise MelodylibError("no pretrained bundles found; run `make bundles` or give bundle_dir")
    reference_melodies = [m for m in corpus.split_melodies(subset, "eval") if len(m) >= num_steps]
    rng = np.random.default_rng(seed)
    chosen = rng.choice(
        len(reference_melodies), size=min(num_generated, len(reference_melodies)), replace=False
    )
    reference = [list(reference_melodies[i].events[:num_steps]) for i in chosen]
    result = CourseComparison(reference=reference)
    index, titles = _training_index(subset, log) if memorisation else (None, {})
    for name in configs:
        model, config, _ = load_model(bundle_file=bundles[name])
        eval_path = str(corpus.eval_file(name, subset))
        train_path = str(corpus.training_file(name, subset))
        log(f"Scoring {name} on {eval_path}")
        metrics = evaluate_model(model, eval_path, config, num_eval_examples)
        result.rows.append(EvaluationRow(f"{name} (pretrained bundle)", "model", name, metrics))
        result.rows += baseline_rows(
            config, eval_path, train_path, num_eval_examples=num_eval_examples
        )
        log(f"Generating {len(reference)} melodies with {name}")
        generator = MelodyGenerator(model, config)

        def continue_primer(primer, steps, melody_seed, generator=generator):
            return generator.generate(primer, num_steps=steps, seed=melody_seed)[0].events

        generated = continue_first_bars(
            continue_primer, reference, num_steps, primer_bars * DEFAULT_STEPS_PER_BAR, seed
        )
        result.generated[name] = generated
        result.statistics[name] = compare_statistics(generated, reference)
        if index is not None:
            result.memorisation[name] = memorisation_report(index, generated, reference, titles)
    return result


def _training_index(subset: str, log) -> tuple[Any, dict]:
    """The memorisation index of the corpus's training melodies, and the tunes' titles."""
    from melodylib.course import corpus
    from melodylib.evaluation.memorisation import MemorisationIndex

    training, _ = split_named_melodies(
        corpus.sequences_file(subset), corpus.EVAL_RATIO, corpus.SPLIT_SEED
    )
    log(f"Indexing {len(training.melodies)} training melodies for the memorisation check")
    return MemorisationIndex.build(training.melodies, training.names), training.titles


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
            lines.append(
                f"{name:14} {verdict} {abs(margin):.3f} nats per step; "
                f"mean overlap with the real tunes {self.mean_overlap.get(name, float('nan')):.2f}"
            )
        if self.margins:
            lines.append(
                f"largest margin over its 4-gram: {max(self.margins, key=self.margins.get)}"
            )
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
    four_grams = {
        row.config: row
        for row in comparison.rows
        if row.kind == "baseline" and row.name.startswith("4-gram")
    }
    margins = {
        name: four_grams[name].metrics["loss"] - row.metrics["loss"]
        for name, row in models.items()
        if name in four_grams
    }
    mean_overlap, closest_on = {}, {}
    for name, statistics in comparison.statistics.items():
        areas = [values["overlapping_area"] for values in statistics.values()]
        mean_overlap[name] = float(np.nanmean(areas)) if np.isfinite(areas).any() else float("nan")
    if comparison.statistics:
        for statistic in next(iter(comparison.statistics.values())):
            areas = {
                name: comparison.statistics[name][statistic]["overlapping_area"]
                for name in comparison.statistics
            }
            finite = {name: area for name, area in areas.items() if np.isfinite(area)}
            if finite:
                closest_on[statistic] = max(finite, key=finite.get)
    return CourseVerdict(margins, mean_overlap, closest_on)
