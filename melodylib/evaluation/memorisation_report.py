"""Is a generated tune new or copied? The memorisation check on a whole data set.

`melodylib.evaluation.memorisation` answers the question for one melody against an index of
reference tunes. This module puts it to work on a data set the way `melody_rnn evaluate` and the
course report it:

1. Split the NoteSequences a data set was made from into its training and eval tunes, with the
   same rule `create_dataset` used (a hash of each tune's id, `eval_ratio` and `seed`), and
   extract their melodies, each named by its tune's (collection, id).
2. Index the training melodies once.
3. Continue the first bar of real eval tunes with the model, and measure each continuation's
   longest stretch shared with a training tune.
4. Measure the real eval tunes the same way: what real tunes share with the training set is the
   baseline. A model that copies shows up as generated stretches far above that baseline.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from melodylib.errors import MelodylibError
from melodylib.evaluation.memorisation import (
    MemorisationIndex,
    MemorisationSummary,
    SharedStretch,
    shared_stretches,
    summarise_stretches,
)
from melodylib.music.events import DEFAULT_STEPS_PER_BAR

__all__ = [
    "MemorisationReport",
    "NamedMelodies",
    "continue_first_bars",
    "memorisation_check",
    "memorisation_report",
    "split_named_melodies",
]

TuneName = tuple[str, str]


@dataclass
class NamedMelodies:
    """Melodies of one split, each with the (collection, id) of its tune; titles by that name."""

    melodies: list = field(default_factory=list)
    names: list[TuneName] = field(default_factory=list)
    titles: dict[TuneName, str] = field(default_factory=dict)


def split_named_melodies(
    note_sequence_file: str | os.PathLike,
    eval_ratio: float,
    seed: int = 0,
) -> tuple[NamedMelodies, NamedMelodies]:
    """The (training, eval) melodies of the NoteSequences in `note_sequence_file`, split as
    `create_dataset --eval_ratio=eval_ratio --seed=seed` splits them, with Magenta's extraction.
    """
    from melodylib.data.datasets import is_eval_sequence, melodies_from_note_sequence, split_key
    from melodylib.music.notesequence import read_note_sequences

    if not os.path.exists(note_sequence_file):
        raise MelodylibError(f"{note_sequence_file} does not exist: give the NoteSequence file")
    training, evaluation = NamedMelodies(), NamedMelodies()
    for sequence in read_note_sequences(note_sequence_file):
        in_eval = is_eval_sequence(split_key(sequence), eval_ratio, seed)
        split = evaluation if in_eval else training
        name = (sequence.collection_name, sequence.id)
        melodies = melodies_from_note_sequence(sequence)
        split.melodies += melodies
        split.names += [name] * len(melodies)
        if melodies:
            split.titles[name] = sequence.title or sequence.id
    return training, evaluation


def continue_first_bars(
    generate: Callable[[list[int], int, int], list[int]],
    tunes: Sequence[Any],
    num_steps: int,
    primer_steps: int = DEFAULT_STEPS_PER_BAR,
    seed: int = 0,
) -> list[list[int]]:
    """Each tune's first `primer_steps` events continued to `num_steps` steps by `generate`.

    `generate(primer, num_steps, seed)` returns the whole melody's events (primer included);
    tune i is continued with seed `seed + i`, so a report can be reproduced melody by melody.
    """
    generated = []
    for position, tune in enumerate(tunes):
        events = list(getattr(tune, "events", tune))
        generated.append(list(generate(events[:primer_steps], num_steps, seed + position)))
    return generated


@dataclass(frozen=True)
class MemorisationReport:
    """What generated melodies and real eval tunes share with the training tunes.

    `most_shared` is the generated melody's longest stretch overall, with its tune's title, so a
    reader can look the tune up.
    """

    generated: MemorisationSummary
    real: MemorisationSummary
    most_shared: SharedStretch
    most_shared_title: str
    tunes_copied_from: int  # distinct training tunes some generated melody shares >= 2 bars with

    def to_dict(self) -> dict[str, Any]:
        """Plain values, for JSON."""
        return {
            "generated": self.generated.to_dict(),
            "real_eval_tunes": self.real.to_dict(),
            "most_shared": {
                "notes": self.most_shared.notes,
                "bars": self.most_shared.bars,
                "tune": list(self.most_shared.tune) if self.most_shared.tune else None,
                "title": self.most_shared_title,
            },
            "tunes_copied_from": self.tunes_copied_from,
        }

    def format(self) -> str:
        """The report's lines: the two distributions, then the longest copy and where it is from."""
        lines = [
            "Longest stretch shared with a training tune (exact, up to transposition):",
            self.generated.format("  generated melodies:"),
            self.real.format("  real eval tunes:   "),
        ]
        stretch = self.most_shared
        if stretch.tune is None:
            lines.append("  no generated melody shares even one interval with a training tune")
        else:
            collection, tune_id = stretch.tune
            lines.append(
                f"  longest: {stretch.notes} notes ({stretch.bars:.2f} bars) of "
                f"'{self.most_shared_title}' ({collection}, {tune_id})"
            )
        return "\n".join(lines)


def memorisation_report(
    index: MemorisationIndex,
    generated: Sequence[Any],
    real: Sequence[Any],
    titles: dict[TuneName, str] | None = None,
) -> MemorisationReport:
    """Measure `generated` and `real` melodies (cut to the same length) against `index`."""
    if not generated or not real:
        raise MelodylibError("the memorisation report needs generated melodies and real tunes")
    generated_stretches = shared_stretches(index, generated)
    real_stretches = shared_stretches(index, real)
    bars = np.array([stretch.bars for stretch in generated_stretches])
    most_shared = generated_stretches[int(np.argmax(bars))]
    copied = Counter(s.tune for s in generated_stretches if s.tune is not None and s.bars >= 2)
    title = ""
    if most_shared.tune is not None:
        title = (titles or {}).get(most_shared.tune, most_shared.tune[1])
    return MemorisationReport(
        generated=summarise_stretches(generated_stretches),
        real=summarise_stretches(real_stretches),
        most_shared=most_shared,
        most_shared_title=title,
        tunes_copied_from=len(copied),
    )


def memorisation_check(
    model_or_bundle: Any,
    note_sequence_file: str | os.PathLike,
    eval_ratio: float,
    seed: int = 0,
    num_melodies: int = 100,
    num_steps: int = 128,
    config: Any = None,
    log: Callable[[str], None] = print,
) -> MemorisationReport:
    """The whole check for a model on the data set made from `note_sequence_file`.

    Split the tunes as `create_dataset --eval_ratio --seed` did, index the training melodies,
    pick `num_melodies` eval tunes of at least `num_steps` steps (seeded), continue the first bar
    of each with the model, and measure the continuations beside the same tunes cut to
    `num_steps`.
    """
    from melodylib.bundles.sources import model_and_config
    from melodylib.generation.generator import MelodyGenerator

    minimum_steps = 2 * DEFAULT_STEPS_PER_BAR  # the primer bar and at least one bar after it
    if num_melodies < 1 or num_steps < minimum_steps:
        raise MelodylibError(
            f"the memorisation check needs at least 1 melody of at least {minimum_steps} "
            f"steps, got {num_melodies} melodies of {num_steps} steps"
        )
    model, config = model_and_config(model_or_bundle, config)
    training, evaluation = split_named_melodies(note_sequence_file, eval_ratio, seed)
    if not training.melodies:
        raise MelodylibError(
            f"{note_sequence_file}: no training melodies with --eval_ratio={eval_ratio}"
        )
    long_enough = [m for m in evaluation.melodies if len(m) >= num_steps]
    if not long_enough:
        raise MelodylibError(
            f"{note_sequence_file}: no eval melody has {num_steps} steps; lower --num_steps or "
            "check --eval_ratio and --seed (they must be the ones create_dataset used)"
        )
    chosen = np.random.default_rng(seed).choice(
        len(long_enough), size=min(num_melodies, len(long_enough)), replace=False
    )
    real = [list(long_enough[i].events[:num_steps]) for i in chosen]
    log(f"Indexing {len(training.melodies)} training melodies; continuing {len(real)} eval tunes")
    index = MemorisationIndex.build(training.melodies, training.names)
    generator = MelodyGenerator(model, config)

    def generate(primer: list[int], steps: int, melody_seed: int) -> list[int]:
        return generator.generate(primer, num_steps=steps, seed=melody_seed)[0].events

    generated = continue_first_bars(generate, real, num_steps, DEFAULT_STEPS_PER_BAR, seed)
    return memorisation_report(index, generated, real, training.titles)
