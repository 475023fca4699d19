"""Dump the NoteSequence protos written by convert_dir_to_note_sequences as plain JSON.

Run inside the magenta venv:
    /tmp/magenta-venv/bin/python dump_notesequences.py NOTESEQUENCES.tfrecord OUTPUT.json.gz

Tests cannot parse note_seq's protobuf without note_seq, so this gives the same content (every
field the Melody RNN pipeline reads) as JSON. Floats are written with Python's repr, which
round-trips exactly; times are the double values note_seq stored.
"""

import gzip
import json
import sys

import note_seq
import tensorflow.compat.v1 as tf


def sequence_to_dict(sequence):
    """The fields of one NoteSequence that the melody pipeline and the MIDI reader care about."""
    return {
        "id": sequence.id,
        "filename": sequence.filename,
        "collection_name": sequence.collection_name,
        "source_info": {
            "source_type": sequence.source_info.source_type,
            "encoding_type": sequence.source_info.encoding_type,
            "parser": sequence.source_info.parser,
        },
        "ticks_per_quarter": sequence.ticks_per_quarter,
        "total_time": sequence.total_time,
        "tempos": [[tempo.time, tempo.qpm] for tempo in sequence.tempos],
        "time_signatures": [
            [ts.time, ts.numerator, ts.denominator] for ts in sequence.time_signatures
        ],
        "key_signatures": [[ks.time, ks.key, ks.mode] for ks in sequence.key_signatures],
        "note_fields": [
            "pitch",
            "velocity",
            "start_time",
            "end_time",
            "instrument",
            "program",
            "is_drum",
        ],
        "notes": [
            [
                note.pitch,
                note.velocity,
                note.start_time,
                note.end_time,
                note.instrument,
                note.program,
                note.is_drum,
            ]
            for note in sequence.notes
        ],
        "control_change_fields": [
            "time",
            "control_number",
            "control_value",
            "instrument",
            "program",
            "is_drum",
        ],
        "control_changes": [
            [cc.time, cc.control_number, cc.control_value, cc.instrument, cc.program, cc.is_drum]
            for cc in sequence.control_changes
        ],
        "num_pitch_bends": len(sequence.pitch_bends),
        "instrument_infos": [[info.instrument, info.name] for info in sequence.instrument_infos],
    }


def main():
    """Read every record and write the JSON list, in the TFRecord's order."""
    source, output = sys.argv[1:3]
    sequences = [
        sequence_to_dict(note_seq.NoteSequence.FromString(raw))
        for raw in tf.io.tf_record_iterator(source)
    ]
    with gzip.open(output, "wt") as handle:
        json.dump({"format_version": 1, "sequences": sequences}, handle, separators=(",", ":"))
    print(f"{len(sequences)} sequences, {sum(len(s['notes']) for s in sequences)} notes")


if __name__ == "__main__":
    main()
