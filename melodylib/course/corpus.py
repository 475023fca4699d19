"""The course corpus: folk tunes and chorales that ship inside music21, built at set-up.

The repository holds only the recipe (which collections, which files, which split); the tunes
are read from the installed music21 package with melodylib's own readers (ABC and MusicXML
read directly, never through music21's MIDI writer) and written under `data/corpus/`
(git-ignored). The train/eval split is by tune: a tune goes to eval when a hash of its id and
the seed falls below the eval ratio, so every machine gets the same split, and the same tune is
on the same side for every config.

Two subsets:
- `full`: every tune of the four folk collections and the 371 Bach chorales (minutes to build);
- `small`: a fixed few hundred tunes, used by the tests always and by notebooks in quick mode.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from melodylib.atomic import write_text_atomically
from melodylib.course.shipped import REPOSITORY_ROOT
from melodylib.errors import MelodylibError

RECIPE_VERSION = 1
EVAL_RATIO = 0.1
SPLIT_SEED = 0
SUBSETS = ("small", "full")
DEFAULT_ROOT = REPOSITORY_ROOT / "data" / "corpus"
ENVIRONMENT_VARIABLE = "MELODYLIB_CORPUS_DIR"


@dataclass(frozen=True)
class Collection:
    """One source collection inside music21's corpus folder."""

    name: str
    folder: str  # relative to music21/corpus
    source: str
    terms: str
    small_files: tuple[str, ...]  # the files (relative to folder) in the small subset

    def files(self, subset: str) -> list[Path]:
        """The music files of this collection in the given subset, in a fixed order."""
        base = music21_corpus_folder() / self.folder
        if self.name == "bach_chorales":
            names = chorale_filenames()
        else:
            names = sorted(path.name for path in base.glob("*.abc"))
        if subset == "small":
            names = [name for name in names if name in self.small_files]
        return [base / name for name in names]


COLLECTIONS: tuple[Collection, ...] = (
    Collection(
        "essen",
        "essenFolksong",
        "Essen Folksong Collection (Helmut Schaffrath), ABC by music21",
        "Non-commercial research and teaching use only (as distributed inside music21)",
        ("altdeu10.abc",),
    ),
    Collection(
        "oneills1850",
        "oneills1850",
        "O'Neill's Music of Ireland (1850), ABC transcriptions distributed with music21",
        "Public domain (1850 edition); transcriptions distributed with music21 under its licence",
        ("0001-0050.abc",),
    ),
    Collection(
        "ryans_mammoth",
        "ryansMammoth",
        "Ryan's Mammoth Collection (1883), ABC transcriptions distributed with music21",
        "Public domain (1883 edition); transcriptions distributed with music21 under its licence",
        (),
    ),
    Collection(
        "airds_airs",
        "airdsAirs",
        "Aird's Selection of Scotch, English, Irish and Foreign Airs (1782-1803), ABC with music21",
        "Public domain (18th-century edition); transcriptions distributed with music21 under its licence",
        ("book1.abc",),
    ),
    Collection(
        "bach_chorales",
        "bach",
        "J. S. Bach, the 371 four-part chorales (Riemenschneider numbering), MusicXML with music21",
        "Public domain; encodings distributed with music21 under its licence",
        (
            "bwv269.mxl",
            "bwv347.mxl",
            "bwv153.1.mxl",
            "bwv86.6.mxl",
            "bwv267.mxl",
            "bwv281.mxl",
            "bwv17.7.mxl",
            "bwv40.8.mxl",
            "bwv20.11.mxl",
            "bwv248.12-2.mxl",
        ),
    ),
)


def music21_corpus_folder() -> Path:
    """The folder of music21's bundled corpus."""
    import music21

    return Path(music21.__file__).resolve().parent / "corpus"


def chorale_filenames() -> list[str]:
    """The file names of the 371 chorales, in Riemenschneider order (music21's chorale list)."""
    from music21 import corpus

    names = []
    for _number, entry in sorted(corpus.chorales.ChoraleListRKBWV().byRiemenschneider.items()):
        try:
            path = corpus.getWork(f"bwv{entry['bwv']}")
        except Exception:  # music21 lacks a handful of entries; skip them rather than fail
            continue
        if isinstance(path, list):
            path = path[0]
        name = Path(path).name
        if name not in names:
            names.append(name)
    return names


def corpus_root() -> Path:
    """Where the corpus is built: $MELODYLIB_CORPUS_DIR, else data/corpus in the repository."""
    return Path(os.environ.get(ENVIRONMENT_VARIABLE, DEFAULT_ROOT))


def subset_dir(subset: str = "full", root: str | os.PathLike | None = None) -> Path:
    if subset not in SUBSETS:
        raise MelodylibError(f"--subset must be one of {', '.join(SUBSETS)}, got '{subset}'")
    return Path(root) if root is not None else corpus_root() / subset


def sequences_file(subset: str = "full", root: str | os.PathLike | None = None) -> Path:
    """The TFRecord of all NoteSequences of a subset (every collection)."""
    return subset_dir(subset, root) / "notesequences.tfrecord"


def dataset_dir(
    config_name: str, subset: str = "full", root: str | os.PathLike | None = None
) -> Path:
    """The folder holding training_melodies.tfrecord and eval_melodies.tfrecord for a config."""
    return subset_dir(subset, root) / config_name


def training_file(
    config_name: str, subset: str = "full", root: str | os.PathLike | None = None
) -> Path:
    return dataset_dir(config_name, subset, root) / "training_melodies.tfrecord"


def eval_file(
    config_name: str, subset: str = "full", root: str | os.PathLike | None = None
) -> Path:
    return dataset_dir(config_name, subset, root) / "eval_melodies.tfrecord"


def _recipe(subset: str) -> dict:
    return {
        "recipe_version": RECIPE_VERSION,
        "subset": subset,
        "eval_ratio": EVAL_RATIO,
        "split_seed": SPLIT_SEED,
        "collections": [collection.name for collection in COLLECTIONS],
    }


def _dataset_is_current(target: Path) -> bool:
    """Whether a config's data set in `target` is complete and written by today's create_dataset.

    Data sets made before create_dataset wrote the training melodies in a seeded random order
    list them collection by collection, which trains much worse (see the README's "Training per
    step"); their dataset_info.json has no training_order, so they are made again.
    """
    from melodylib.data.dataset_files import INFO_FILE, TRAINING_ORDER

    info_path = target / INFO_FILE
    if not (target / "training_melodies.tfrecord").exists() or not info_path.exists():
        return False
    try:
        info = json.loads(info_path.read_text())
    except (OSError, ValueError):
        return False
    return info.get("training_order") == TRAINING_ORDER


def build_corpus(
    subset: str = "full",
    configs: Iterable[str] = ("basic_rnn", "mono_rnn", "lookback_rnn", "attention_rnn"),
    root: str | os.PathLike | None = None,
    num_workers: int | None = None,
    progress: bool = True,
    force: bool = False,
    log: Callable[[str], None] = print,
) -> dict:
    """Build (or reuse) the corpus: NoteSequences of every collection, then a data set per config.

    Returns the report (also written to report.json): tunes read, tunes that could not be parsed
    by reason, melodies per split and config. A second run reuses what is there.
    """
    from melodylib.data.datasets import create_dataset
    from melodylib.music.readers import convert_files
    from melodylib.tfrecords import read_records, write_records

    folder = subset_dir(subset, root)
    folder.mkdir(parents=True, exist_ok=True)
    report_path = folder / "report.json"
    report = json.loads(report_path.read_text()) if report_path.exists() and not force else {}
    if report.get("recipe") != _recipe(subset):
        report = {"recipe": _recipe(subset), "collections": {}, "datasets": {}}
    combined = sequences_file(subset, root)
    if force or not combined.exists() or "collections_done" not in report:
        started = time.perf_counter()
        parts = []
        for collection in COLLECTIONS:
            files = collection.files(subset)
            if not files:
                continue
            output = folder / "collections" / f"{collection.name}.tfrecord"
            log(f"Reading {collection.name}: {len(files)} files from {files[0].parent}")
            summary = convert_files(
                files,
                files[0].parent,
                output,
                num_workers=num_workers,
                progress=progress,
                report=lambda message: None,
            )
            report["collections"][collection.name] = {
                "files": summary.files_found,
                "files_read": summary.files_read,
                "sequences": summary.sequences_written,
                "skipped_by_reason": dict(summary.skipped),
                "source": collection.source,
                "terms": collection.terms,
            }
            log(
                f"  {summary.sequences_written} sequences; could not parse: "
                f"{dict(summary.skipped) or 'none'}"
            )
            if summary.output_written:
                parts.append(output)
        write_records(combined, (record for part in parts for record in read_records(part)))
        report["collections_done"] = True
        report["seconds_reading"] = round(time.perf_counter() - started, 1)
        write_text_atomically(report_path, json.dumps(report, indent=2, sort_keys=True))
    for config_name in configs:
        target = dataset_dir(config_name, subset, root)
        if not force and config_name in report["datasets"] and _dataset_is_current(target):
            continue
        log(f"Creating the {config_name} data set")
        summary = create_dataset(
            combined,
            config_name,
            target,
            eval_ratio=EVAL_RATIO,
            seed=SPLIT_SEED,
            num_workers=num_workers,
            progress=progress,
            compress=True,
        )
        report["datasets"][config_name] = {
            "training_melodies": summary.training_melodies,
            "eval_melodies": summary.eval_melodies,
            "training_steps": summary.training_steps,
            "eval_steps": summary.eval_steps,
            "counters": dict(summary.counters),
        }
        write_text_atomically(report_path, json.dumps(report, indent=2, sort_keys=True))
    return report


def format_report(report: dict) -> str:
    """A short human-readable account of a corpus report."""
    lines = []
    for name, info in report.get("collections", {}).items():
        skipped = (
            ", ".join(f"{reason} {count}" for reason, count in info["skipped_by_reason"].items())
            or "none"
        )
        lines.append(
            f"{name}: {info['sequences']} sequences from {info['files']} files; not parsed: {skipped}"
        )
    for name, info in report.get("datasets", {}).items():
        lines.append(
            f"{name}: {info['training_melodies']} training and {info['eval_melodies']} eval melodies "
            f"({info['training_steps']} / {info['eval_steps']} steps)"
        )
    return "\n".join(lines)


def split_melodies(
    subset: str = "full", split: str = "eval", root: str | os.PathLike | None = None, limit: int = 0
) -> list:
    """The melodies (unsquashed `Melody` objects) of the corpus's training or eval split.

    They come from the same extraction as the data sets (Magenta's settings), so statistics of
    real tunes can be set beside statistics of generated ones.
    """
    from melodylib.data.datasets import is_eval_sequence, melodies_from_note_sequence, split_key
    from melodylib.music.notesequence import read_note_sequences

    if split not in ("training", "eval"):
        raise MelodylibError(f"split must be 'training' or 'eval', got '{split}'")
    path = sequences_file(subset, root)
    if not path.exists():
        raise MelodylibError(
            f"{path} is missing; build the corpus first: melody_rnn build_corpus --subset {subset}"
        )
    melodies = []
    for sequence in read_note_sequences(path):
        if is_eval_sequence(split_key(sequence), EVAL_RATIO, SPLIT_SEED) != (split == "eval"):
            continue
        melodies.extend(melodies_from_note_sequence(sequence))
        if limit and len(melodies) >= limit:
            return melodies[:limit]
    return melodies
