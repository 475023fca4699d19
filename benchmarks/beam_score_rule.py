"""How often melodylib's beam scores differ from Magenta's, for lookback_rnn and attention_rnn.

Magenta's beam search adds log p(sampled class) to a beam's score; melodylib adds log p(the
encoder's own label of the sampled event), so a score is exactly the melody's log-likelihood. The
two differ only when the sampled class is not the event's label: a plain class whose event repeats
the bar one or two bars back (labelled as a lookback class), a one-bar lookback whose event also
repeats two bars back, or a plain no-event in the first two bars (labelled "two bars back").

For each model and primer this script
1. samples continuations step by step, recording both scores (the share of steps and of melodies
   where they differ, and by how much);
2. runs the beam search twice with the same random draws, pruning by each rule, and counts how
   often the returned melody differs.

Primers: the first 32 events (squashed) of the real melodies of tests/data/magenta (54 melodies
from the music21 corpus, made by Magenta 2.1.4's own pipeline). Models: the shipped bundles in
data/bundles (melodylib-trained on the course corpus) and the Magenta 2.1.4 bundles of
tests/data/magenta/bundles (trained by Magenta itself, 300 steps).

    .venv/bin/python benchmarks/beam_score_rule.py [--outputs 4] [--steps 64]
"""

from __future__ import annotations

import argparse
import gzip
import json
import time
from pathlib import Path

import numpy as np

REPOSITORY = Path(__file__).resolve().parents[1]
MODELS = [
    ("lookback_rnn", REPOSITORY / "data/bundles/lookback_rnn.bundle"),
    ("attention_rnn", REPOSITORY / "data/bundles/attention_rnn.bundle"),
    ("lookback_rnn", REPOSITORY / "tests/data/magenta/bundles/lookback_rnn_small.mag"),
    ("attention_rnn", REPOSITORY / "tests/data/magenta/bundles/attention_rnn_small_attn40.mag"),
]


def real_primers(config, length: int = 32) -> list[list[int]]:
    """The first `length` events of each real melody, squashed into the config's range and key."""
    from melodylib.music.melodies import Melody

    with gzip.open(REPOSITORY / "tests/data/magenta/pipeline_reference.json.gz") as handle:
        reference = json.load(handle)
    primers = []
    for record in reference["files"]:
        for melody in record["melodies"]:
            events = Melody(list(melody["events"][:length]))
            events.squash(config.min_note, config.max_note, config.transpose_to_key)
            primers.append([int(event) for event in events.events])
    return primers


class TwoScores:
    """A beam-search step that samples, decodes, and keeps both scores per row: `rule` says which
    one the search prunes by ("label": melodylib's, "sampled": Magenta's)."""

    def __init__(self, generator, rule: str, rng: np.random.Generator) -> None:
        self.generator, self.rule, self.rng = generator, rule, rng
        self.steps = self.mismatches = 0

    def start(self, primers: list[list[int]]):
        inputs = np.stack([self.generator.encoder.inputs(primer) for primer in primers])
        logits, state = self.generator.step_model(
            inputs.astype(np.float32), self.generator.step_model.zero_state(len(primers))
        )
        return (state, logits.numpy()[:, -1, :].astype(np.float64), np.zeros(len(primers)))

    def select(self, rows, indices):
        from melodylib.models.step import gather_state

        state, logits, other = rows
        return gather_state(state, indices), logits[indices], other[indices]

    def step(self, histories, rows, scores):
        import tensorflow as tf

        encoder = self.generator.encoder
        state, logits, other = rows
        log_probabilities = logits - logits.max(axis=-1, keepdims=True)
        log_probabilities -= np.log(np.exp(log_probabilities).sum(axis=-1, keepdims=True))
        probabilities = np.exp(log_probabilities)
        cumulative = probabilities.cumsum(axis=-1)
        draws = self.rng.random(len(histories))[:, None]
        sampled = np.minimum(
            (cumulative < draws * cumulative[:, -1:]).sum(axis=-1), logits.shape[-1] - 1
        )
        labels = np.empty_like(sampled)
        inputs = np.empty((len(histories), 1, encoder.input_size), np.float32)
        for row, (history, chosen) in enumerate(zip(histories, sampled)):
            history.append(int(encoder.class_index_to_event(int(chosen), history)))
            labels[row] = encoder.labels(history)[-1]
            inputs[row, 0] = encoder.input_for_last_position(history)
        rows_index = np.arange(len(histories))
        by_label = log_probabilities[rows_index, labels]
        by_sample = log_probabilities[rows_index, sampled]
        self.steps += len(histories)
        self.mismatches += int((labels != sampled).sum())
        ours, theirs = (by_label, by_sample) if self.rule == "label" else (by_sample, by_label)
        step_logits, state = self.generator.step_model(tf.constant(inputs), state)
        return (state, step_logits.numpy()[:, -1, :].astype(np.float64), other + theirs), (
            scores + ours
        )


def measure(name: str, path: Path, outputs: int, steps: int, beam: tuple[int, int]) -> dict:
    from melodylib.generation.beam_search import beam_search
    from melodylib.generation.generator import MelodyGenerator

    generator = MelodyGenerator(str(path))
    primers = real_primers(generator.config)
    repeated = [list(primer) for primer in primers for _ in range(outputs)]
    # 1. Plain sampling: both scores of every melody.
    sampler = TwoScores(generator, "label", np.random.default_rng(0))
    rows = sampler.start(repeated)
    histories = [list(primer) for primer in repeated]
    scores = np.zeros(len(histories))
    for _ in range(steps):
        rows, scores = sampler.step(histories, rows, scores)
    differences = np.abs(scores - rows[2])
    # 2. Beam search pruned by each rule, with the same draws.
    returned = {}
    for rule in ("label", "sampled"):
        searcher = TwoScores(generator, rule, np.random.default_rng(1))
        best, _, _ = beam_search(
            [list(primer) for primer in repeated],
            searcher.start(repeated),
            np.zeros(len(repeated)),
            searcher.step,
            searcher.select,
            steps,
            beam_size=beam[0],
            branch_factor=beam[1],
        )
        returned[rule] = best
    changed = sum(a != b for a, b in zip(returned["label"], returned["sampled"]))
    return {
        "model": f"{name} ({path.relative_to(REPOSITORY)})",
        "melodies": len(histories),
        "steps_differing": sampler.mismatches / sampler.steps,
        "melodies_differing": float((differences > 1e-9).mean()),
        "mean_abs_difference": float(differences.mean()),
        "beam_searches": len(repeated),
        "beam_result_differs": changed / len(repeated),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outputs", type=int, default=4, help="samples per primer")
    parser.add_argument("--steps", type=int, default=64, help="steps generated after the primer")
    arguments = parser.parse_args()
    print(f"{time.strftime('%Y-%m-%d %H:%M')}; beam 4 x branch 2, steps_per_iteration 1")
    for name, path in MODELS:
        result = measure(name, path, arguments.outputs, arguments.steps, (4, 2))
        print(json.dumps(result))


if __name__ == "__main__":
    main()
