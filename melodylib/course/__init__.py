"""The course: its corpus, quick mode, display helpers and the notebooks' exercises."""
