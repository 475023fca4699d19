"""The note_seq / Magenta side of `benchmarks/data_pipeline.py`: run ONLY in a separate environment.

This script imports note_seq 0.0.5 and Magenta 2.1.4, so it must run with the Python of a
separate virtual environment that has them (see benchmarks/README.md, "The note_seq
environment"), never with the project's own venv: importing note_seq changes pretty_midi's
globals (its MAX_TICK) for the whole process, and neither package is a melodylib dependency.

`data_pipeline.py` starts it as a long-lived subprocess and talks to it in JSON lines: one
command per line on stdin, one answer per line on stdout (everything else the libraries print
goes to stderr). Keeping one process alive lets the parent interleave the two sides'
repeats without paying note_seq's and TensorFlow's import for every repeat. Each answer holds
the seconds (wall clock and this process's CPU time) spent in the timed loop only (no imports,
no file listing).

Commands ({"op": ...}):
- "versions": package versions.
- "convert_midi" {"files": [...]}: midi_io.midi_to_note_sequence on each file's bytes, then the id
  fields and SerializeToString, as Magenta's convert_dir_to_note_sequences does, serially.
- "convert_abc" {"file": path}: abc_parser.parse_abc_tunebook on the file, ids, SerializeToString.
- "load" {"files": [...]}: read the MIDI files into NoteSequence protos kept for "pipeline".
- "pipeline" {"config": name, "serialize": bool}: Magenta's melody_rnn_create_dataset chain on
  the loaded protos (magenta-behaviour.md: "Data set pipeline"): split_note_sequence_on_time_changes, quantize_note_sequence
  (dropping sequences with the three time errors), magenta's extract_melodies with the
  melody_rnn settings, Melody.squash and the config's encoder's encode; with "serialize", also
  make_sequence_example(...).SerializeToString() as Magenta's EncoderPipeline and writer do.
- "quit".
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
import warnings

PROTOCOL_OUT = sys.stdout
sys.stdout = sys.stderr  # anything the libraries print must not mix with the answers
warnings.simplefilter("ignore")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import note_seq  # noqa: E402  (after the stdout swap)
from note_seq import abc_parser, encoder_decoder, melody_encoder_decoder, midi_io, sequences_lib  # noqa: E402

MELODY_SETTINGS = dict(
    min_bars=7,
    max_steps_truncate=512,
    min_unique_pitches=5,
    gap_bars=1.0,
    ignore_polyphonic_notes=False,
    filter_drums=True,
)
QUANTIZER_ERRORS = (
    sequences_lib.MultipleTimeSignatureError,
    sequences_lib.MultipleTempoError,
    sequences_lib.BadTimeSignatureError,
)


def _sequence_id(filename: str, collection: str, source_type: str) -> str:
    """The id Magenta's converter gives a sequence (same recipe, written out here)."""
    return f"/id/{source_type}/{collection}/{hashlib.sha1(filename.encode('utf-8')).hexdigest()}"


def _encoder_and_range(config: str):
    """The encoder, note range and transposition key of the four melody_rnn configs (magenta-behaviour.md: "Configs")."""
    if config == "basic_rnn":
        encoder = encoder_decoder.OneHotEventSequenceEncoderDecoder(
            melody_encoder_decoder.MelodyOneHotEncoding(48, 84)
        )
        return encoder, 48, 84, 0
    if config == "mono_rnn":
        encoder = encoder_decoder.OneHotEventSequenceEncoderDecoder(
            melody_encoder_decoder.MelodyOneHotEncoding(0, 128)
        )
        return encoder, 0, 128, None
    if config == "lookback_rnn":
        encoder = encoder_decoder.LookbackEventSequenceEncoderDecoder(
            melody_encoder_decoder.MelodyOneHotEncoding(48, 84)
        )
        return encoder, 48, 84, 0
    if config == "attention_rnn":
        return melody_encoder_decoder.KeyMelodyEncoderDecoder(min_note=48, max_note=84), 48, 84, 0
    raise ValueError(f"unknown config {config}")


class Driver:
    """Holds the loaded NoteSequences between commands."""

    def __init__(self) -> None:
        self.sequences = []
        self._magenta = None

    def magenta(self):
        """Magenta's extract_melodies and make_sequence_example (imported on first use: they load TensorFlow)."""
        if self._magenta is None:
            from magenta.pipelines import melody_pipelines, pipelines_common

            self._magenta = (
                melody_pipelines.extract_melodies,
                pipelines_common.make_sequence_example,
            )
        return self._magenta

    def versions(self, _command):
        from importlib.metadata import version

        return {
            name: version(name)
            for name in ("note-seq", "magenta", "pretty_midi", "tensorflow", "numpy")
        }

    def convert_midi(self, command):
        files = command["files"]
        payloads, errors = 0, 0
        cpu_started = time.process_time()
        started = time.perf_counter()
        for path in files:
            with open(path, "rb") as handle:
                data = handle.read()
            try:
                sequence = midi_io.midi_to_note_sequence(data)
            except midi_io.MIDIConversionError:
                errors += 1
                continue
            sequence.collection_name = "bench"
            sequence.filename = os.path.basename(path)
            sequence.id = _sequence_id(sequence.filename, "bench", "midi")
            payloads += len(sequence.SerializeToString()) > 0
        seconds = time.perf_counter() - started
        return {
            "seconds": seconds,
            "cpu_seconds": time.process_time() - cpu_started,
            "sequences": payloads,
            "errors": errors,
            "files": len(files),
        }

    def convert_abc(self, command):
        path = command["file"]
        cpu_started = time.process_time()
        started = time.perf_counter()
        with open(path) as handle:
            tunes, exceptions = abc_parser.parse_abc_tunebook(handle.read())
        written = 0
        for index, tune in tunes.items():
            tune.collection_name = "bench"
            tune.filename = os.path.basename(path)
            tune.id = _sequence_id(f"{tune.filename}_{index}", "bench", "abc")
            written += len(tune.SerializeToString()) > 0
        seconds = time.perf_counter() - started
        return {
            "seconds": seconds,
            "cpu_seconds": time.process_time() - cpu_started,
            "sequences": written,
            "errors": len(exceptions),
        }

    def load(self, command):
        self.sequences = [midi_io.midi_file_to_note_sequence(path) for path in command["files"]]
        return {
            "sequences": len(self.sequences),
            "notes": sum(len(s.notes) for s in self.sequences),
        }

    def pipeline(self, command):
        extract_melodies, make_sequence_example = self.magenta()
        encoder, min_note, max_note, key = _encoder_and_range(command["config"])
        serialize = bool(command.get("serialize"))
        melodies_out, steps, payload_bytes = 0, 0, 0
        cpu_started = time.process_time()
        started = time.perf_counter()
        for sequence in self.sequences:
            for piece in sequences_lib.split_note_sequence_on_time_changes(sequence):
                try:
                    quantized = sequences_lib.quantize_note_sequence(piece, 4)
                except QUANTIZER_ERRORS:
                    continue
                try:
                    melodies, _ = extract_melodies(quantized, **MELODY_SETTINGS)
                except note_seq.NonIntegerStepsPerBarError:
                    continue
                for melody in melodies:
                    melody.squash(min_note, max_note, key)
                    inputs, labels = encoder.encode(melody)
                    if serialize:
                        payload_bytes += len(
                            make_sequence_example(inputs, labels).SerializeToString()
                        )
                    melodies_out += 1
                    steps += len(labels)
        seconds = time.perf_counter() - started
        return {
            "seconds": seconds,
            "cpu_seconds": time.process_time() - cpu_started,
            "melodies": melodies_out,
            "steps": steps,
            "bytes": payload_bytes,
        }


def main() -> None:
    driver = Driver()
    # Import Magenta now, so that the parent can wait for "ready" before it times anything.
    driver.magenta()
    PROTOCOL_OUT.write(json.dumps({"ready": True}) + "\n")
    PROTOCOL_OUT.flush()
    for line in sys.stdin:
        command = json.loads(line)
        if command["op"] == "quit":
            break
        try:
            answer = getattr(driver, command["op"])(command)
        except Exception as error:  # report, do not die: the parent prints it
            answer = {"error": f"{type(error).__name__}: {error}"}
        PROTOCOL_OUT.write(json.dumps(answer) + "\n")
        PROTOCOL_OUT.flush()


if __name__ == "__main__":
    main()
