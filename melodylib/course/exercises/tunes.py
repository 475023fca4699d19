"""A known tune that the learner writes as melody events, and the first way an answer differs.

Notebooks 00 ("Twinkle, twinkle") and 09 (a primer from "Ode to Joy") both ask for a short tune,
given as pitches and durations in 16th-note steps. The comparison is the same (note by note: is
it there, its pitch, its start, then its length, then nothing after the last), only the words of
the hints differ, so each notebook describes its tune with a `WrittenTune`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from melodylib.music.events import NO_EVENT, NOTE_OFF

_NUMBER_WORDS = (
    "no",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
)


@dataclass(frozen=True)
class WrittenTune:
    """A tune as pitches and durations (16th-note steps), and what its checker says about it."""

    pitches: tuple[int, ...]
    durations: tuple[int, ...]
    subject: str  # what the answer is called: "the melody has only 3 notes"
    pitch_reminder: str  # after a pitch in a hint: "MIDI pitch 60 (middle C is 60)"
    start_hint: str  # when a note starts on the wrong step
    short_hint: str  # when a note stops too early
    long_hint: str  # when the last note lasts too long; {step} is where it should end
    extra_hint: str  # when notes follow the last one

    def starts(self) -> list[int]:
        """The step each note starts on."""
        return np.cumsum((0,) + self.durations[:-1]).tolist()

    def events(self) -> list[int]:
        """The tune as events: each pitch held with no-events, then a final note-off."""
        events: list[int] = []
        for pitch, duration in zip(self.pitches, self.durations, strict=True):
            events += [pitch] + [NO_EVENT] * (duration - 1)
        return events + [NOTE_OFF]

    def problem(self, spans: list[tuple[int, int, int]]) -> tuple[str, str] | None:
        """The first difference between `spans` (pitch, start, end) and the tune: (problem, hint).

        None when they are the same. The checks go:
        1. every note of the tune is there, with its pitch, on its step;
        2. each note lasts as long as it should (only the last can be too long by then);
        3. nothing comes after the last note.
        """
        from melodylib.course.display import pitch_name

        starts = self.starts()
        # 1. Every note there, with its pitch, on its step.
        for number, (pitch, start) in enumerate(zip(self.pitches, starts, strict=True), start=1):
            if number > len(spans):
                notes = f"{len(spans)} note{'' if len(spans) == 1 else 's'}"
                return (
                    f"{self.subject} has only {notes}; the tune has {len(self.pitches)}.",
                    f"note {number} is {pitch_name(pitch)} ({pitch}) at step {start}.",
                )
            got_pitch, got_start, _ = spans[number - 1]
            if got_pitch != pitch:
                return (
                    f"note {number} is {pitch_name(got_pitch)} ({got_pitch}).",
                    f"note {number} is {pitch_name(pitch)}, MIDI pitch {pitch} "
                    f"{self.pitch_reminder}.",
                )
            if got_start != start:
                return (
                    f"note {number} starts at step {got_start}; it should start at step {start}.",
                    self.start_hint,
                )
        # 2. Each note as long as it should be.
        for number, (start, duration, (_, _, got_end)) in enumerate(
            zip(starts, self.durations, spans, strict=False), start=1
        ):
            length = got_end - start
            if length < duration:
                return (
                    f"note {number} stops after {length} step{'' if length == 1 else 's'}; "
                    f"it should last {duration}.",
                    self.short_hint,
                )
            if length > duration:
                return (
                    f"note {number} lasts {length} steps; it should last {duration}.",
                    self.long_hint.format(step=start + duration),
                )
        # 3. Nothing after the last note.
        if len(spans) > len(self.pitches):
            extra_pitch, extra_start, _ = spans[len(self.pitches)]
            count = len(self.pitches)
            count_text = _NUMBER_WORDS[count] if count < len(_NUMBER_WORDS) else str(count)
            return (
                f"after the {count_text} notes there is another one "
                f"({pitch_name(extra_pitch)} at step {extra_start}).",
                self.extra_hint,
            )
        return None
