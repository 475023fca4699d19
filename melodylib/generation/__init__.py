"""Generation: primers, the model-free beam search, the generator and the compiled sampling loop."""
