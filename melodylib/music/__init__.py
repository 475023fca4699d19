"""Music in: NoteSequence, the file readers, quantization and melody extraction (events)."""
