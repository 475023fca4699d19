"""melodylib: Magenta's Melody RNN (basic, mono, lookback and attention) rebuilt on Keras 3.

The names below are the public API the notebooks use. They are imported lazily, on first use,
so that `import melodylib` is quick and TensorFlow is loaded only when a model is needed.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

# TensorFlow's C++ start-up chatter (oneDNN, CPU instructions) is noise for learners; warnings
# and errors still show. Set TF_CPP_MIN_LOG_LEVEL yourself to see everything.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"

# public name -> module that defines it
_PUBLIC_API: dict[str, str] = {
    # music and reading
    "Note": "music",
    "NoteSequence": "music",
    "read_note_sequences": "music",
    "write_note_sequences": "music",
    "write_midi": "music",
    "read_note_sequence": "readers",
    "read_music_file": "readers",
    "convert_directory": "readers",
    # melodies
    "NO_EVENT": "melodies",
    "NOTE_OFF": "melodies",
    "Melody": "melodies",
    "extract_melodies": "melodies",
    "quantize_note_sequence": "quantize",
    "split_on_time_changes": "quantize",
    # encoding and configs
    "get_config": "configs",
    "CONFIG_NAMES": "configs",
    "HParams": "configs",
    # data
    "create_dataset": "datasets",
    "make_dataset": "datasets",
    "melodies_from_note_sequence": "datasets",
    "ExtractionSettings": "datasets",
    # models, training, bundles, generation, evaluation
    "build_model": "models",
    "StepModel": "models",
    "attention_weights": "models",
    "count_parameters": "models",
    "magenta_parameter_count": "models",
    "train": "training",
    "load_trained_model": "training",
    "load_bundle": "bundles",
    "save_bundle": "bundles",
    "MelodyGenerator": "generation",
    "melody_log_likelihood": "generation",
    "parse_primer_melody": "generation",
    "write_melodies": "generation",
    "evaluate_model": "evaluation",
    "melody_statistics": "music_statistics",
    "compare_statistics": "music_statistics",
    "NGramModel": "baselines",
    # seeing and hearing
    "plot_piano_roll": "display",
    "plot_piano_rolls": "display",
    "plot_encoding": "display",
    "plot_probabilities": "display",
    "plot_training_curves": "display",
    "play": "display",
    "synthesize": "display",
    "write_wav": "display",
    "pitch_name": "display",
    # the course corpus
    "build_corpus": "corpus",
    # quick mode
    "is_quick_mode": "quick",
    "quick_or_full": "quick",
    # errors
    "MelodylibError": "errors",
    "UnreadableFileError": "errors",
}


def _register(names: dict[str, str]) -> None:
    _PUBLIC_API.update(names)


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
