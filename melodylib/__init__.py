"""melodylib: Magenta's Melody RNN (basic, mono, lookback and attention) rebuilt on Keras 3.

The names below are the public API the notebooks use. They are imported lazily, on first use,
so that `import melodylib` is quick and TensorFlow is loaded only when a model is needed.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from melodylib import quiet_tensorflow

# TensorFlow's C++ start-up chatter (oneDNN, CPU instructions) is noise for learners; warnings
# and errors still show. Set TF_CPP_MIN_LOG_LEVEL yourself to see everything.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
quiet_tensorflow.install()

from melodylib.version import __version__  # noqa: E402, F401 (public; after the environment default)

# public name -> module that defines it
_PUBLIC_API: dict[str, str] = {
    # music and reading
    "Note": "music.notesequence",
    "NoteSequence": "music.notesequence",
    "read_note_sequences": "music.notesequence",
    "write_note_sequences": "music.notesequence",
    "read_magenta_js_json": "music.notesequence",
    "write_magenta_js_json": "music.notesequence",
    "write_midi": "music.notesequence",
    "read_note_sequence": "music.readers.files",
    "read_music_file": "music.readers.files",
    "convert_directory": "music.readers.convert",
    # melodies
    "NO_EVENT": "music.melodies",
    "NOTE_OFF": "music.melodies",
    "Melody": "music.melodies",
    "extract_melodies": "music.extraction",
    "quantize_note_sequence": "music.quantize",
    "split_on_time_changes": "music.quantize",
    # encoding and configs
    "get_config": "encoding.configs",
    "CONFIG_NAMES": "encoding.configs",
    "HParams": "encoding.configs",
    # data
    "create_dataset": "data.datasets",
    "make_dataset": "data.datasets",
    "melodies_from_note_sequence": "data.datasets",
    "ExtractionSettings": "data.datasets",
    # models, training, bundles, generation, evaluation
    "build_model": "models.melody_rnn",
    "StepModel": "models.step",
    "NumpyStepModel": "models.numpy_step",
    "attention_weights": "models.attention_cell",
    "count_parameters": "models.melody_rnn",
    "magenta_parameter_count": "models.melody_rnn",
    "train": "training.loop",
    "load_trained_model": "bundles.sources",
    "load_model": "bundles.sources",
    "load_bundle": "bundles.reading",
    "save_bundle": "bundles.bundle",
    "export_magenta_js": "bundles.magenta_js",
    "MelodyGenerator": "generation.generator",
    "melody_log_likelihood": "generation.generator",
    "parse_primer_melody": "generation.primers",
    "write_melodies": "generation.generator",
    "evaluate_model": "evaluation.metrics",
    "melody_statistics": "evaluation.music_statistics",
    "compare_statistics": "evaluation.music_statistics",
    "NGramModel": "evaluation.baselines",
    # seeing and hearing
    "plot_piano_roll": "course.display.rolls",
    "plot_piano_rolls": "course.display.rolls",
    "plot_encoding": "course.display.encodings",
    "plot_probabilities": "course.display.encodings",
    "plot_training_curves": "course.display.curves",
    "play": "course.display.audio",
    "synthesize": "course.display.audio",
    "write_wav": "course.display.audio",
    "pitch_name": "music.pitch_names",
    "synthesizer_name": "music.synthesis",
    "render_score": "music.notation",
    "write_musicxml": "music.notation",
    "show_score": "course.display.scores",
    "MelodyPanel": "course.widgets",
    # the course corpus
    "build_corpus": "course.corpus",
    # quick mode
    "is_quick_mode": "course.quick",
    "quick_or_full": "course.quick",
    # errors
    "MelodylibError": "errors",
    "UnreadableFileError": "errors",
}


def __getattr__(name: str) -> Any:
    module_name = _PUBLIC_API.get(name)
    if module_name is None:
        raise AttributeError(f"module 'melodylib' has no attribute '{name}'")
    value = getattr(importlib.import_module(f"melodylib.{module_name}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_PUBLIC_API))


__all__ = sorted(_PUBLIC_API)
