"""The networks: build_model (stacked LSTMs, with attention for attention_rnn) and the step model."""
