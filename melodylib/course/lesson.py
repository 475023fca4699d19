"""What the model notebooks (04 to 07) share: the tune they study and the models they compare.

Each of those notebooks trains its config for a few minutes, then looks at a longer-trained
model. These helpers keep that set-up to one line each, so the notebooks' cells are about the
idea being taught:

- `study_tune`: the eval-split tune every model notebook reads (the network never trained on it);
- `trained_models`: the model trained in the notebook and the shipped pretrained bundle, side by
  side, each with a caption saying where it came from and how long it trained;
- `continuations`: the same primer continued by each of those models, for listening.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from melodylib.course import corpus
from melodylib.course.shipped import bundle_path
from melodylib.errors import MelodylibError

STUDY_TUNE_TITLE = "My Peggy is a Young thing."


@dataclass
class StudyTune:
    """A real tune from the eval split: its NoteSequence, its first melody and its title."""

    sequence: Any
    melody: Any
    title: str
    in_eval_split: bool


def study_tune(subset: str, title: str = STUDY_TUNE_TITLE) -> StudyTune:
    """The tune called `title` from the course corpus's `subset`, with its first melody."""
    from melodylib.data.datasets import is_eval_sequence, melodies_from_note_sequence, split_key
    from melodylib.music.notesequence import read_note_sequences

    for sequence in read_note_sequences(corpus.sequences_file(subset)):
        if sequence.title == title:
            melodies = melodies_from_note_sequence(sequence)
            if not melodies:
                raise MelodylibError(f"the tune {title!r} has no melody that passes extraction")
            in_eval = is_eval_sequence(split_key(sequence), corpus.EVAL_RATIO, corpus.SPLIT_SEED)
            return StudyTune(sequence, melodies[0], title, in_eval)
    raise MelodylibError(f"no tune called {title!r} in the {subset} corpus; build it first")


@dataclass
class LessonModel:
    """A trained model, its config, and a caption: where it came from and how many steps it had."""

    model: Any
    config: Any
    source: str
    steps: int


def _bundle_steps(bundle: Any) -> int:
    return int(bundle.training.get("training_steps", 0) or 0)


def pretrained_model(config_name: str) -> LessonModel | None:
    """The shipped pretrained bundle of `config_name`, or None where it is not shipped."""
    import melodylib

    path = bundle_path(config_name)
    if not path.exists():
        return None
    bundle = melodylib.load_bundle(path)
    steps = _bundle_steps(bundle)
    return LessonModel(bundle.build_model(), bundle.config, f"pretrained, {steps:,} steps", steps)


def run_model(run_dir: str | os.PathLike) -> LessonModel:
    """The model trained in this notebook, from its run folder."""
    import melodylib

    model, config, steps = melodylib.load_trained_model(Path(run_dir))
    return LessonModel(model, config, f"trained above, {steps:,} steps", int(steps))


def trained_models(config_name: str, run_dir: str | os.PathLike) -> dict[str, LessonModel]:
    """The notebook's own model and, where shipped, the pretrained one: {"trained above": ...,
    "pretrained": ...}. The longer-trained model is the one to study: `best_model` picks it."""
    models = {"trained above": run_model(run_dir)}
    pretrained = pretrained_model(config_name)
    if pretrained is not None:
        models["pretrained"] = pretrained
    return models


def best_model(models: dict[str, LessonModel]) -> LessonModel:
    """The model that trained longest (the pretrained bundle when it is shipped)."""
    return max(models.values(), key=lambda lesson_model: lesson_model.steps)


def continuations(
    models: dict[str, LessonModel],
    primer: list[int],
    num_steps: int,
    temperature: float = 1.0,
    seed: int = 1,
) -> dict[str, Any]:
    """The same primer continued to `num_steps` steps by each model: {caption: GeneratedMelody}."""
    import melodylib

    melodies = {}
    for lesson_model in models.values():
        generator = melodylib.MelodyGenerator(lesson_model.model, lesson_model.config)
        melodies[lesson_model.source] = generator.generate(
            primer, num_steps=num_steps, temperature=temperature, seed=seed
        )[0]
    return melodies
