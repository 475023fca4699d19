"""The README's comparison table: the shipped bundles against n-gram baselines on the course corpus.

    python benchmarks/course_evaluation.py [--subset full] [--num_generated 100] [--output_json F]

Scores every pretrained bundle in data/bundles/ on the eval split of the course corpus (NLL per
step, perplexity, accuracies), next to unigram, bigram and 4-gram baselines fitted on the training
split, then compares music statistics of generated melodies with the eval tunes, and measures
what generated melodies and real eval tunes share with the training tunes (memorisation).
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import time

from melodylib.atomic import write_text_atomically
from melodylib.course.comparison import course_comparison
from melodylib.evaluation.metrics import format_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subset", default="full", choices=["small", "full"])
    parser.add_argument("--num_generated", type=int, default=100)
    parser.add_argument(
        "--num_eval_examples", type=int, default=0, help="0 scores the whole eval split"
    )
    parser.add_argument("--output_json", default="")
    flags = parser.parse_args()
    started = time.perf_counter()
    comparison = course_comparison(
        flags.subset, num_generated=flags.num_generated, num_eval_examples=flags.num_eval_examples
    )
    print(
        f"\nCourse evaluation, {datetime.date.today()}, {platform.machine()}, subset {flags.subset}\n"
    )
    print(format_table(comparison.rows))
    print(
        "\nMusic statistics: mean of generated melodies (overlapping area with the eval set's distribution)\n"
    )
    print(comparison.format_statistics())
    print(
        "\nMemorisation: longest stretch each melody shares with a training tune (exact, up to "
        "transposition)\n"
    )
    print(comparison.format_memorisation())
    for name, report in comparison.memorisation.items():
        print(f"{name}: {report.format().splitlines()[-1].strip()}")
    print(f"\n{time.perf_counter() - started:.0f} s")
    if flags.output_json:
        write_text_atomically(flags.output_json, json.dumps(comparison.to_dict(), indent=2))


if __name__ == "__main__":
    main()
