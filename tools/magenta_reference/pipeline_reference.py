"""Record, per input file, what note_seq/Magenta 2.1.4's Melody RNN pipeline does with it.

Run inside the magenta venv (see README.md), after convert_dir_to_note_sequences and
melody_rnn_create_dataset have been run by their own entry points:

    TF_USE_LEGACY_KERAS=1 /tmp/magenta-venv/bin/python pipeline_reference.py \
        NOTESEQUENCES.tfrecord DATASET_DIR OUTPUT.json.gz

DATASET_DIR holds one sub-directory per config with Magenta's training_melodies.tfrecord.
The script calls Magenta's own pipeline units and note_seq functions (nothing is
re-implemented): TimeChangeSplitter -> Quantizer -> TranspositionPipeline -> MelodyExtractor,
then Melody.squash and the config's encoder, exactly as melody_rnn_pipeline.get_pipeline
chains them. It checks that its encodings equal, byte for byte and in order, both the
per-file output of Magenta's DAG pipeline and the records that melody_rnn_create_dataset wrote.
"""

import copy
import gzip
import json
import math
import sys

import note_seq
import tensorflow.compat.v1 as tf
from magenta.models.melody_rnn import melody_rnn_model, melody_rnn_pipeline
from magenta.pipelines import (
    melody_pipelines,
    note_sequence_pipelines,
    pipelines_common,
    statistics,
)

CONFIG_NAMES = ["basic_rnn", "mono_rnn", "lookback_rnn", "attention_rnn"]
EXTRACTOR_SETTINGS = dict(
    min_bars=7, max_steps=512, min_unique_pitches=5, gap_bars=1.0, ignore_polyphonic_notes=False
)


def statistics_to_dict(stats_list):
    """Merge a list of Magenta Statistic objects into {name: count or {bucket: count}}."""
    merged = statistics.merge_statistics(stats_list)
    result = {}
    for stat in merged:
        if isinstance(stat, statistics.Counter):
            result[stat.name] = stat.count
        else:
            result[stat.name] = {
                ("-inf" if math.isinf(lower) else str(lower)): count
                for lower, count in sorted(stat.counters.items())
                if count
            }
    return dict(sorted(result.items()))


def add_statistics(totals, file_statistics):
    """Add one file's {name: count or {bucket: count}} into `totals`.

    Summing the per-file dicts, not merging Magenta's Statistic objects again: merge_statistics
    mutates the first object of each name, so a second merge would count some files twice.
    """
    for name, value in file_statistics.items():
        if isinstance(value, dict):
            histogram = totals.setdefault(name, {})
            for bucket, count in value.items():
                histogram[bucket] = histogram.get(bucket, 0) + count
        else:
            totals[name] = totals.get(name, 0) + value


def only_instrument(quantized, instrument):
    """A copy of a quantized NoteSequence keeping only one instrument's notes."""
    filtered = copy.deepcopy(quantized)
    del filtered.notes[:]
    filtered.notes.extend(note for note in quantized.notes if note.instrument == instrument)
    return filtered


def read_records(path):
    """All raw records of a TFRecord file, in order."""
    return list(tf.io.tf_record_iterator(path))


def to_builtin(value):
    """JSON fallback for numpy scalars that Magenta returns (e.g. transpose amounts)."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot store {type(value).__name__} in JSON")


def parse_example(raw):
    """Parse one serialised tf.train.SequenceExample."""
    return tf.train.SequenceExample.FromString(raw)


def describe_sequence(sequence):
    """Source-level facts about a NoteSequence as note_seq's MIDI reader produced it."""
    instruments = {}
    for note in sequence.notes:
        entry = instruments.setdefault(
            note.instrument,
            {
                "instrument": note.instrument,
                "program": note.program,
                "is_drum": note.is_drum,
                "num_notes": 0,
            },
        )
        entry["num_notes"] += 1
    return {
        "filename": sequence.filename,
        "id": sequence.id,
        "collection_name": sequence.collection_name,
        "num_notes": len(sequence.notes),
        "total_time": sequence.total_time,
        "ticks_per_quarter": sequence.ticks_per_quarter,
        "tempos": [[tempo.time, tempo.qpm] for tempo in sequence.tempos],
        "time_signatures": [
            [ts.time, ts.numerator, ts.denominator] for ts in sequence.time_signatures
        ],
        "key_signatures": [[ks.time, ks.key, ks.mode] for ks in sequence.key_signatures],
        "instruments": [instruments[index] for index in sorted(instruments)],
    }


def process_file(sequence, configs):
    """Run Magenta's units on one NoteSequence; return (record dict, encodings per config)."""
    record = describe_sequence(sequence)
    splitter = note_sequence_pipelines.TimeChangeSplitter(name="TimeChangeSplitter_training")
    quantizer = note_sequence_pipelines.Quantizer(steps_per_quarter=4, name="Quantizer_training")
    transposer = note_sequence_pipelines.TranspositionPipeline(
        (0,), name="TranspositionPipeline_training"
    )
    extractor = melody_pipelines.MelodyExtractor(
        name="MelodyExtractor_training", **EXTRACTOR_SETTINGS
    )

    segments, melodies = [], []
    encodings = {name: [] for name in configs}
    for segment_index, segment in enumerate(splitter.transform(sequence)):
        segment_record = {
            "index": segment_index,
            "start_time_offset": segment.subsequence_info.start_time_offset,
            "total_time": segment.total_time,
            "num_notes": len(segment.notes),
            "qpm": segment.tempos[0].qpm if segment.tempos else None,
            "time_signature": (
                [segment.time_signatures[0].numerator, segment.time_signatures[0].denominator]
                if segment.time_signatures
                else None
            ),
        }
        quantized_list = quantizer.transform(segment)
        segment_record["quantizer_stats"] = statistics_to_dict(quantizer.get_stats())
        segments.append(segment_record)
        if not quantized_list:
            segment_record["quantized"] = False
            continue
        segment_record["quantized"] = True
        quantized = transposer.transform(quantized_list[0])[0]
        segment_record["total_quantized_steps"] = quantized.total_quantized_steps
        segment_record["steps_per_bar"] = note_seq.steps_per_bar_in_quantized_sequence(quantized)
        segment_melodies = extractor.transform(quantized)
        segment_record["extractor_stats"] = statistics_to_dict(extractor.get_stats())

        # Attribute each melody to its instrument: extracting one instrument at a time gives that
        # instrument's melodies, and Magenta visits instruments in Python-set order.
        by_instrument = []
        for instrument in set(note.instrument for note in quantized.notes):
            for melody in extractor.transform(only_instrument(quantized, instrument)):
                by_instrument.append((instrument, melody))
        if [m.start_step for _, m in by_instrument] != [m.start_step for m in segment_melodies] or [
            list(m) for _, m in by_instrument
        ] != [list(m) for m in segment_melodies]:
            raise RuntimeError(f"instrument attribution failed for {sequence.filename}")
        segment_record["instrument_visit_order"] = list(
            set(note.instrument for note in quantized.notes)
        )

        for instrument, melody in by_instrument:
            programs = sorted(
                {note.program for note in quantized.notes if note.instrument == instrument}
            )
            melody_record = {
                "index_in_file": len(melodies),
                "segment": segment_index,
                "instrument": instrument,
                "programs": programs,
                "start_step": melody.start_step,
                "end_step": melody.end_step,
                "steps_per_bar": melody.steps_per_bar,
                "steps_per_quarter": melody.steps_per_quarter,
                "num_events": len(melody),
                "events": list(melody),
                "transpose_amount": {},
                "squashed_events": {},
                "labels": {},
            }
            for name, config in configs.items():
                squashed = copy.deepcopy(melody)
                amount = squashed.squash(config.min_note, config.max_note, config.transpose_to_key)
                example = pipelines_common.make_sequence_example(
                    *config.encoder_decoder.encode(squashed)
                )
                encodings[name].append(example.SerializeToString())
                melody_record["transpose_amount"][name] = amount
                melody_record["squashed_events"][name] = list(squashed)
                melody_record["labels"][name] = [
                    feature.int64_list.value[0]
                    for feature in example.feature_lists.feature_list["labels"].feature
                ]
            melodies.append(melody_record)
    record["segments"] = segments
    record["melodies"] = melodies
    return record, encodings


def main():
    """Write the per-file reference JSON and check it against Magenta's own outputs."""
    notesequence_path, dataset_dir, output_path = sys.argv[1:4]
    configs = {name: melody_rnn_model.default_configs[name] for name in CONFIG_NAMES}
    dataset_records = {
        name: read_records(f"{dataset_dir}/{name}/training_melodies.tfrecord")
        for name in CONFIG_NAMES
    }
    files, all_encodings = [], {name: [] for name in CONFIG_NAMES}
    totals = {}
    for raw in read_records(notesequence_path):
        sequence = note_seq.NoteSequence.FromString(raw)
        record, encodings = process_file(sequence, configs)
        for melody in record["melodies"]:
            melody["record_index"] = len(all_encodings["basic_rnn"]) + melody["index_in_file"]
        for name, config in configs.items():
            dag = melody_rnn_pipeline.get_pipeline(config, eval_ratio=0.0)
            outputs = dag.transform(sequence)
            dag_examples = list(outputs["training_melodies"])
            if (
                dag_examples != [parse_example(raw) for raw in encodings[name]]
                or outputs["eval_melodies"]
            ):
                raise RuntimeError(f"{name}: DAG output differs for {sequence.filename}")
            stats = dag.get_stats()
            if name == "basic_rnn":
                record["statistics"] = statistics_to_dict(stats)
                add_statistics(totals, record["statistics"])
            all_encodings[name].extend(encodings[name])
        files.append(record)
    for name in CONFIG_NAMES:
        # Compare parsed messages: the feature_lists map may serialise its keys in either order.
        if [parse_example(raw) for raw in all_encodings[name]] != [
            parse_example(raw) for raw in dataset_records[name]
        ]:
            raise RuntimeError(f"{name}: encodings differ from melody_rnn_create_dataset's records")
    config_facts = {}
    for name, config in configs.items():
        encoder = config.encoder_decoder
        config_facts[name] = {
            "min_note": config.min_note,
            "max_note": config.max_note,
            "transpose_to_key": config.transpose_to_key,
            "input_size": encoder.input_size,
            "num_classes": encoder.num_classes,
            "default_event_label": encoder.default_event_label,
            "num_records": len(dataset_records[name]),
        }
    result = {
        "format_version": 1,
        "produced_by": {
            "magenta": "2.1.4",
            "note_seq": note_seq.__version__ if hasattr(note_seq, "__version__") else "0.0.5",
            "tensorflow": tf.__version__,
        },
        "pipeline": {
            "steps_per_quarter": 4,
            "transposition_range": [0],
            "eval_ratio": 0.0,
            **EXTRACTOR_SETTINGS,
        },
        "configs": config_facts,
        "total_statistics": dict(sorted(totals.items())),
        "files": files,
    }
    with gzip.open(output_path, "wt") as handle:
        json.dump(result, handle, indent=None, separators=(",", ":"), default=to_builtin)
    print(f"{len(files)} files, {len(all_encodings['basic_rnn'])} melodies; all checks passed")


if __name__ == "__main__":
    main()
